#pragma once
// TCP: a listener and a connected stream.
//
//   auto l = net::TcpListener::bind(net::Address::loopback_v4(0)).value("bind");
//   for (;;) {
//       auto s = co_await l.accept();
//       if (!s) break;
//       spawn(serve(std::move(*s)));
//   }
//
//   auto s = co_await net::TcpStream::connect(addr, 2s);
//   if (!s) log_warn("{}", net::describe("connect", addr, s.error()));

#include <chrono>

#include <corio/net/socket.hpp>

namespace corio::net {

/// A connected TCP socket: a Stream plus TCP options.
class TcpStream : public Stream {
public:
    /// No stream (is_open() false).
    TcpStream() noexcept = default;
    /// Takes ownership of a connected, non-blocking TCP descriptor.
    explicit TcpStream(int fd) noexcept : Stream(fd) {}

    /// Connects to `addr`; completes when connected or failed
    /// (ECONNREFUSED, ENETUNREACH, ...). A `timeout` > 0 bounds it
    /// (std::errc::timed_out); with_timeout and task cancellation work too.
    static Task<Result<TcpStream>> connect(Address addr, std::chrono::nanoseconds timeout = {});

    /// TCP_NODELAY: send small segments at once (no Nagle delay).
    Result<void> set_nodelay(bool on = true) noexcept;
    /// SO_KEEPALIVE, and when `idle` > 0 the idle time before the first
    /// probe (TCP_KEEPIDLE, whole seconds).
    Result<void> set_keepalive(bool on = true, std::chrono::seconds idle = {}) noexcept;
    /// SO_LINGER with a zero timeout: close() then resets the connection (RST)
    /// instead of a graceful FIN. For tests and for shedding load.
    Result<void> set_linger_reset() noexcept;
};

/// A listening TCP socket.
class TcpListener {
public:
    /// No listener (is_open() false).
    TcpListener() noexcept = default;

    /// Creates, binds and listens on `addr` (port 0 picks a free port; see
    /// local_address()). Errors: EADDRINUSE, EACCES, ... from the kernel.
    static Result<TcpListener> bind(const Address& addr, ListenOptions opts = {});

    /// The next connection. On io_uring a multishot accept (5.19+) keeps one
    /// request armed and queues what it accepts; elsewhere one accept per
    /// call. When the process is out of descriptors (EMFILE/ENFILE) the
    /// listener frees its reserve descriptor, accepts and resets the pending
    /// connections (so clients fail fast instead of hanging in the backlog),
    /// logs once, sleeps a little (growing up to 100 ms) and tries again: it
    /// never spins and serves again once descriptors are free. Cancellation:
    /// std::errc::operation_canceled.
    Task<Result<TcpStream>> accept();

    /// The bound address (with the port the kernel picked).
    Result<Address> local_address() const { return local_address_of(fd()); }
    /// The listening descriptor (-1 when closed).
    int fd() const noexcept { return acc_.fd(); }
    /// True while listening.
    bool is_open() const noexcept { return fd() >= 0; }
    /// Stops listening. A pending accept must be cancelled first.
    void close() noexcept { acc_.close(); }

private:
    explicit TcpListener(int fd) : acc_(fd) {}
    detail::Acceptor acc_;
};

}  // namespace corio::net
