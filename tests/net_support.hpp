#pragma once
// Helpers for the net tests: connected pairs, byte views, descriptor counts.

#include <dirent.h>
#include <sys/resource.h>

#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

#include <corio/net/buf_ring.hpp>
#include <corio/net/buffered.hpp>
#include <corio/net/resolve.hpp>
#include <corio/net/tcp.hpp>
#include <corio/net/udp.hpp>
#include <corio/net/unix.hpp>

#include "support.hpp"

namespace corio::test {

inline std::span<const std::byte> bytes(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}
inline std::string_view chars(std::span<const std::byte> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

/// A connected TCP pair over loopback: {client, server side}.
inline Task<Result<std::pair<net::TcpStream, net::TcpStream>>> tcp_pair(
    net::Address where = net::Address::loopback_v4(0)) {
    auto l = net::TcpListener::bind(where);
    if (!l) co_return l.error();
    auto addr = l->local_address();
    if (!addr) co_return addr.error();
    auto [c, s] = co_await when_all(net::TcpStream::connect(*addr), l->accept());
    if (!c) co_return c.error();
    if (!s) co_return s.error();
    co_return std::pair(std::move(*c), std::move(*s));
}

/// Open descriptors of this process (entries of /proc/self/fd, minus the
/// directory's own).
inline int open_fds() {
    DIR* d = ::opendir("/proc/self/fd");
    if (d == nullptr) return -1;
    int n = 0;
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
    return n - 1;
}

/// Raises the soft descriptor limit to the hard one; gives the new soft limit.
inline rlim_t raise_fd_limit() {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur;
}

/// The byte at offset `i` of the test pattern (not periodic at any power of two).
inline std::byte pattern_at(std::uint64_t i) {
    return static_cast<std::byte>((i ^ (i >> 8) ^ (i >> 17) ^ (i * 7 >> 3)) & 0xff);
}

}  // namespace corio::test
