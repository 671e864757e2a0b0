#include <corio/net/tcp.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include <corio/runtime/log.hpp>
#include <corio/runtime/sim_io.hpp>
#include <corio/runtime/timer.hpp>

namespace corio::net {

// ---- Socket / Stream ----

namespace {
std::atomic<std::size_t> g_zero_copy_threshold{0};
}

void set_zero_copy_threshold(std::size_t bytes) noexcept {
    g_zero_copy_threshold.store(bytes, std::memory_order_relaxed);
}
std::size_t zero_copy_threshold() noexcept {
    return g_zero_copy_threshold.load(std::memory_order_relaxed);
}
bool detail::zero_copy_available() noexcept {
    Loop& l = Loop::current();
    return l.kind() == BackendKind::io_uring && l.caps().send_zc;
}

// On a simulated host (sim::World) these calls go to its simulated kernel.

Result<Socket> Socket::open(int family, int type, int protocol) noexcept {
    if (auto* sim = corio::detail::current_sim()) {
        int fd = sim->socket(family, type);
        if (fd < 0) return sys_error(-fd);
        return Socket(fd);
    }
    int fd = ::socket(family, type | socket_flags, protocol);
    if (fd < 0) return sys_error(errno);
    return Socket(fd);
}

Result<void> Socket::set_option(int level, int name, int value) noexcept {
    if (auto* sim = corio::detail::current_sim()) {
        int r = sim->setsockopt(fd(), level, name, &value, sizeof value);
        if (r < 0) return sys_error(-r);
        return {};
    }
    if (::setsockopt(fd(), level, name, &value, sizeof value) != 0) return sys_error(errno);
    return {};
}

Result<int> Socket::get_option(int level, int name) const noexcept {
    int v = 0;
    socklen_t len = sizeof v;
    if (auto* sim = corio::detail::current_sim()) {
        int r = sim->getsockopt(fd(), level, name, &v);
        if (r < 0) return sys_error(-r);
        return v;
    }
    if (::getsockopt(fd(), level, name, &v, &len) != 0) return sys_error(errno);
    return v;
}

Result<void> Stream::shutdown(int how) noexcept {
    if (auto* sim = corio::detail::current_sim()) {
        int r = sim->shutdown(fd(), how);
        if (r < 0) return sys_error(-r);
        return {};
    }
    if (::shutdown(fd(), how) != 0) return sys_error(errno);
    return {};
}

namespace detail {

// ---- listening ----

Result<int> bind_listen(const Address& addr, const ListenOptions& opts) {
    auto s = Socket::open(addr.family(), SOCK_STREAM);
    if (!s) return s.error();
    if (addr.is_ipv4() || addr.is_ipv6()) {
        if (opts.reuse_addr) {
            if (auto r = s->set_option(SOL_SOCKET, SO_REUSEADDR, 1); !r) return r.error();
        }
        if (opts.reuse_port) {
            if (auto r = s->set_option(SOL_SOCKET, SO_REUSEPORT, 1); !r) return r.error();
        }
        if (opts.nodelay) {
            if (auto r = s->set_option(IPPROTO_TCP, TCP_NODELAY, 1); !r) return r.error();
        }
        if (addr.is_ipv6()) {
            if (auto r = s->set_option(IPPROTO_IPV6, IPV6_V6ONLY, opts.v6_only ? 1 : 0); !r) {
                return r.error();
            }
        }
    }
    if (auto* sim = corio::detail::current_sim()) {
        if (int r = sim->bind(s->fd(), addr.sockaddr_ptr(), addr.size()); r < 0) {
            return sys_error(-r);
        }
        if (int r = sim->listen(s->fd(), opts.backlog); r < 0) return sys_error(-r);
        return s->release();
    }
    if (::bind(s->fd(), addr.sockaddr_ptr(), addr.size()) != 0) return sys_error(errno);
    if (::listen(s->fd(), opts.backlog) != 0) return sys_error(errno);
    return s->release();
}

Task<Result<int>> connect_stream(Address addr, std::chrono::nanoseconds timeout) {
    auto s = Socket::open(addr.family(), SOCK_STREAM);
    if (!s) co_return s.error();
    Result<void> r = timeout.count() > 0
                         ? co_await OpAwaiter<Connect>(Connect{s->fd(), addr}).timeout(timeout)
                         : co_await OpAwaiter<Connect>(Connect{s->fd(), addr});
    if (!r) co_return r.error();  // `s` closes the socket
    co_return s->release();
}

// ---- accepting ----

namespace {

bool is_transient_accept_error(int e) {
    // accept(2): "treat these as EAGAIN" (the connection died before we took
    // it, or the network below went away for a moment).
    switch (e) {
        case EAGAIN:
        case ECONNABORTED:
        case EINTR:
        case EPROTO:
        case ENETDOWN:
        case ENOPROTOOPT:
        case EHOSTDOWN:
        case ENONET:
        case EHOSTUNREACH:
        case EOPNOTSUPP:
        case ENETUNREACH:
        case EPERM:
            return true;
        default:
            return false;
    }
}

int open_reserve() noexcept {
    // A simulated host never runs out of descriptors: no reserve (and no
    // real file opened).
    if (corio::detail::current_sim() != nullptr) return -1;
    return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

}  // namespace

Acceptor::Acceptor(int listen_fd) : lfd_(listen_fd), reserve_(open_reserve()) {}

void Acceptor::close() noexcept {
    // The stream first: its waiters resume and its request is cancelled
    // before the descriptor it names goes.
    stream_.close();
    lfd_.reset();
    reserve_.reset();
}

Task<Result<int>> Acceptor::accept() {
    // `this` is re-read after every suspension: close() may run meanwhile,
    // and then every member says so (no state is held across an await).
    for (;;) {
        if (!lfd_) co_return sys_error(EBADF);
        if (!stream_.is_open()) stream_ = MultishotStream<AcceptMulti>(AcceptMulti{lfd_.get()});
        Result<int> r = co_await stream_.next();
        if (r) {
            backoff_ = Duration{};
            co_return r;
        }
        std::error_code ec = r.error();
        int e = &ec.category() == &std::system_category() ? ec.value() : 0;
        if (e == ECANCELED || e == EBADF || !lfd_) co_return r;
        if (is_transient_accept_error(e)) continue;
        if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM) co_return r;

        // Out of descriptors (or kernel memory). Left alone, the pending
        // connections hang in the backlog and every accept fails at once:
        // give up the reserve descriptor, take and reset what is pending, get
        // the reserve back, then wait a little before trying again.
        if (!logged_exhaustion_) {
            logged_exhaustion_ = true;
            auto a = local_address_of(lfd_.get());
            log_warn(
                "{}; resetting pending connections and backing off until descriptors "
                "are free",
                describe("accept", a ? *a : Address(), ec));
        }
        if (e == EMFILE || e == ENFILE) {
            reserve_.reset();
            for (int i = 0; i < 1024; ++i) {
                int c = ::accept4(lfd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
                if (c < 0) break;
                linger lg{1, 0};  // RST: the client learns at once
                ::setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                ::close(c);
            }
            reserve_.reset(open_reserve());
        }
        using namespace std::chrono_literals;
        backoff_ = backoff_ == Duration{} ? Duration(5ms) : std::min<Duration>(backoff_ * 2, 100ms);
        if (!co_await sleep_for(backoff_)) co_return sys_error(ECANCELED);
    }
}

}  // namespace detail

// ---- TCP ----

Task<Result<TcpStream>> TcpStream::connect(Address addr, std::chrono::nanoseconds timeout) {
    auto fd = co_await detail::connect_stream(addr, timeout);
    if (!fd) co_return fd.error();
    co_return TcpStream(*fd);
}

Result<void> TcpStream::set_nodelay(bool on) noexcept {
    return set_option(IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}

Result<void> TcpStream::set_keepalive(bool on, std::chrono::seconds idle) noexcept {
    if (auto r = set_option(SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0); !r) return r;
    if (on && idle.count() > 0) {
        return set_option(IPPROTO_TCP, TCP_KEEPIDLE, static_cast<int>(idle.count()));
    }
    return {};
}

Result<void> TcpStream::set_linger_reset() noexcept {
    linger lg{1, 0};
    if (auto* sim = corio::detail::current_sim()) {
        int r = sim->setsockopt(fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        if (r < 0) return sys_error(-r);
        return {};
    }
    if (::setsockopt(fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0) return sys_error(errno);
    return {};
}

Result<TcpListener> TcpListener::bind(const Address& addr, ListenOptions opts) {
    if (!addr.is_ipv4() && !addr.is_ipv6()) return std::errc::address_family_not_supported;
    auto fd = detail::bind_listen(addr, opts);
    if (!fd) return fd.error();
    return TcpListener(*fd);
}

Task<Result<TcpStream>> TcpListener::accept() {
    auto fd = co_await acc_.accept();
    if (!fd) co_return fd.error();
    co_return TcpStream(*fd);
}

}  // namespace corio::net
