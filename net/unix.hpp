#pragma once
// Unix stream sockets: a listener on a path or an abstract name, a connected
// stream (the same Stream operations as TCP), and socketpair(2).

#include <chrono>
#include <utility>

#include <corio/net/socket.hpp>

namespace corio::net {

/// A connected Unix stream socket.
class UnixStream : public Stream {
public:
    /// No stream (is_open() false).
    UnixStream() noexcept = default;
    /// Takes ownership of a connected, non-blocking AF_UNIX stream descriptor.
    explicit UnixStream(int fd) noexcept : Stream(fd) {}

    /// Connects to a Unix address (Address::unix_path / unix_abstract).
    /// Errors: ENOENT (no such socket), ECONNREFUSED (nobody listening),
    /// EAGAIN (the listener's backlog is full); a `timeout` > 0 bounds it.
    static Task<Result<UnixStream>> connect(Address addr, std::chrono::nanoseconds timeout = {});
};

/// A listening Unix stream socket. bind() does not remove an existing file at
/// the path (EADDRINUSE); the file stays after close (remove it yourself).
class UnixListener {
public:
    /// No listener (is_open() false).
    UnixListener() noexcept = default;

    /// Creates, binds and listens on a Unix address (only `backlog` of the
    /// options applies). Errors: EADDRINUSE, EACCES, ENOENT, ...
    static Result<UnixListener> bind(const Address& addr, ListenOptions opts = {});

    /// The next connection; same behaviour as TcpListener::accept (multishot
    /// on io_uring, EMFILE shedding, cancellation).
    Task<Result<UnixStream>> accept();

    /// The bound address (getsockname).
    Result<Address> local_address() const { return local_address_of(fd()); }
    /// The listening descriptor (-1 when closed).
    int fd() const noexcept { return acc_.fd(); }
    /// True while listening.
    bool is_open() const noexcept { return fd() >= 0; }
    /// Stops listening. A pending accept must be cancelled first.
    void close() noexcept { acc_.close(); }

private:
    explicit UnixListener(int fd) : acc_(fd) {}
    detail::Acceptor acc_;
};

/// Two connected Unix stream sockets (socketpair(2)), for tests and for
/// talking to a child process. Errors: EMFILE, ENFILE.
Result<std::pair<UnixStream, UnixStream>> unix_pair() noexcept;

}  // namespace corio::net
