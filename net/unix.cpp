#include <corio/net/unix.hpp>

#include <sys/socket.h>

namespace corio::net {

Task<Result<UnixStream>> UnixStream::connect(Address addr, std::chrono::nanoseconds timeout) {
    if (!addr.is_unix()) co_return std::errc::address_family_not_supported;
    auto fd = co_await detail::connect_stream(addr, timeout);
    if (!fd) co_return fd.error();
    co_return UnixStream(*fd);
}

Result<UnixListener> UnixListener::bind(const Address& addr, ListenOptions opts) {
    if (!addr.is_unix()) return std::errc::address_family_not_supported;
    auto fd = detail::bind_listen(addr, opts);
    if (!fd) return fd.error();
    return UnixListener(*fd);
}

Task<Result<UnixStream>> UnixListener::accept() {
    auto fd = co_await acc_.accept();
    if (!fd) co_return fd.error();
    co_return UnixStream(*fd);
}

Result<std::pair<UnixStream, UnixStream>> unix_pair() noexcept {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | socket_flags, 0, fds) != 0) return sys_error(errno);
    return std::pair<UnixStream, UnixStream>(UnixStream(fds[0]), UnixStream(fds[1]));
}

}  // namespace corio::net
