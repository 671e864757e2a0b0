#pragma once
// What TCP and Unix sockets share: an owned descriptor (Socket), the
// operations of a connected byte stream (Stream), and the accepting half of a
// listener (detail::Acceptor).

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <ranges>
#include <span>
#include <type_traits>

#include <corio/net/address.hpp>
#include <corio/net/buf_ring.hpp>
#include <corio/net/ops.hpp>
#include <corio/runtime/detail/fd.hpp>
#include <corio/runtime/op.hpp>
#include <corio/runtime/task.hpp>

namespace corio::net {

/// Text to send: a contiguous range of characters with a size, such as
/// std::string, std::string_view or std::vector<char>. Not a character array
/// (a string literal would send its terminating NUL): pass a string_view.
template <class R>
concept CharRange = std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
                    !std::is_array_v<std::remove_cvref_t<R>> &&
                    (std::is_same_v<std::ranges::range_value_t<R>, char> ||
                     std::is_same_v<std::ranges::range_value_t<R>, unsigned char> ||
                     std::is_same_v<std::ranges::range_value_t<R>, signed char> ||
                     std::is_same_v<std::ranges::range_value_t<R>, char8_t>);

/// The bytes of a CharRange.
template <CharRange R>
std::span<const std::byte> as_send_bytes(const R& r) noexcept {
    return std::as_bytes(std::span(std::ranges::data(r), std::ranges::size(r)));
}

/// Owns one socket descriptor; closes it when destroyed (after forgetting its
/// epoll registration). Move-only.
class Socket {
public:
    Socket() noexcept = default;
    /// Takes ownership of `fd` (which should be non-blocking, see socket_flags).
    explicit Socket(int fd) noexcept : fd_(fd) {}

    /// socket(2) with socket_flags. Errors: the errno (EMFILE, EAFNOSUPPORT...).
    static Result<Socket> open(int family, int type, int protocol = 0) noexcept;

    int fd() const noexcept { return fd_.get(); }
    bool is_open() const noexcept { return fd_.valid(); }
    explicit operator bool() const noexcept { return is_open(); }
    /// Closes now. Operations must not be pending on it (complete or cancel them).
    void close() noexcept { fd_.reset(); }
    /// Gives up ownership of the descriptor without closing it.
    int release() noexcept { return fd_.release(); }

    /// The address the socket is bound to (getsockname).
    Result<Address> local_address() const { return local_address_of(fd()); }
    /// setsockopt(2) with an int value.
    Result<void> set_option(int level, int name, int value) noexcept;
    /// getsockopt(2) of an int value.
    Result<int> get_option(int level, int name) const noexcept;

protected:
    corio::detail::Fd fd_;
};

/// A connected byte stream (TCP or Unix). Every operation is awaitable,
/// completes when the kernel is done with the buffers it names (which the
/// caller keeps alive until then), takes cancellation from the awaiting task
/// (std::errc::operation_canceled), and works with with_timeout and
/// `.timeout(d)` (std::errc::timed_out). Errors are the kernel's
/// (system_category: ECONNRESET, EPIPE, ...); describe() makes them sentences.
/// One reader and one writer may be active at once.
class Stream : public Socket {
public:
    using Socket::Socket;

    /// Receives some bytes into `buf`: the count, 0 when the peer closed its
    /// side (or `buf` is empty).
    OpAwaiter<Recv> recv(std::span<std::byte> buf) noexcept {
        return OpAwaiter<Recv>(Recv{fd(), buf});
    }
    /// Fills all of `buf`. Errc::eof when the stream ends first (the bytes
    /// that came are in `buf`, their count is lost).
    OpAwaiter<RecvAll> read_exact(std::span<std::byte> buf) noexcept {
        return OpAwaiter<RecvAll>(RecvAll{fd(), buf});
    }
    /// Receives some bytes into a buffer `ring` picks when data arrives, so a
    /// waiting connection holds no buffer. An empty RecvBuffer means the peer
    /// closed. `ring` must belong to this loop.
    RecvBufferAwaiter recv_buffer(BufRing& ring) noexcept { return {ring, fd()}; }

    /// Sends some of `buf` (a short count is normal); never raises SIGPIPE
    /// (a closed peer gives EPIPE or ECONNRESET).
    OpAwaiter<Send> send(std::span<const std::byte> buf) noexcept {
        return OpAwaiter<Send>(Send{fd(), buf});
    }
    /// Sends all of `buf`, however many system calls it takes.
    OpAwaiter<SendAll> send_all(std::span<const std::byte> buf) noexcept {
        return OpAwaiter<SendAll>(SendAll{fd(), buf});
    }
    /// send() of text: `co_await s.send(std::string_view("ping"))`. The text
    /// must live until the completion (a temporary in the co_await
    /// expression does).
    template <CharRange R>
    OpAwaiter<Send> send(const R& text) noexcept {
        return send(as_send_bytes(text));
    }
    /// send_all() of text: `co_await s.send_all(reply)` for a std::string,
    /// std::string_view, std::vector<char>, ...
    template <CharRange R>
    OpAwaiter<SendAll> send_all(const R& text) noexcept {
        return send_all(as_send_bytes(text));
    }
    /// Sends some of the buffers, in order, in one sendmsg(2) (up to max_iov
    /// buffers). The list and the buffers must outlive the completion.
    OpAwaiter<SendMsg> sendv(std::span<const std::span<const std::byte>> bufs) noexcept {
        return OpAwaiter<SendMsg>(SendMsg{fd(), {bufs}});
    }
    /// Sends every byte of every buffer, in order (gathered writes).
    OpAwaiter<SendMsgAll> send_all(std::span<const std::span<const std::byte>> bufs) noexcept {
        return OpAwaiter<SendMsgAll>(SendMsgAll{fd(), {bufs}});
    }
    /// shutdown(2): SHUT_WR sends FIN after queued data (the peer's recv
    /// gives 0) while this side can still read. Completes at once.
    Result<void> shutdown(int how = SHUT_WR) noexcept;
    /// The connected peer's address (getpeername).
    Result<Address> peer_address() const { return peer_address_of(fd()); }
};

/// How a listener (TcpListener::bind, UnixListener::bind) sets its socket up.
struct ListenOptions {
    bool reuse_addr = true;   ///< SO_REUSEADDR (IP): rebind while old connections linger
    bool reuse_port = false;  ///< SO_REUSEPORT (IP): one listener per loop, the kernel spreads
    int backlog = 1024;       ///< listen(2) backlog (the kernel caps it at somaxconn)
    bool v6_only = false;     ///< IPV6_V6ONLY for an IPv6 address
};

namespace detail {

struct AcceptState;

/// The accepting half of a listener: owns the listening descriptor and a
/// reserve descriptor, and on io_uring a multishot accept feeding a small queue.
class Acceptor {
public:
    Acceptor() noexcept = default;
    explicit Acceptor(int listen_fd);
    Acceptor(Acceptor&& o) noexcept;
    Acceptor& operator=(Acceptor&& o) noexcept;
    Acceptor(const Acceptor&) = delete;
    Acceptor& operator=(const Acceptor&) = delete;
    ~Acceptor();

    int fd() const noexcept;
    /// The next connection's descriptor. Sheds load on EMFILE/ENFILE (see
    /// TcpListener::accept) and retries transient errors.
    Task<Result<int>> accept();
    void close() noexcept;

private:
    AcceptState* st_ = nullptr;
};

/// Sets SO_REUSEADDR/SO_REUSEPORT, binds and listens; returns the descriptor.
Result<int> bind_listen(const Address& addr, const ListenOptions& opts);
/// Opens a stream socket for `addr`'s family and connects it (Task: not hot).
Task<Result<int>> connect_stream(Address addr, std::chrono::nanoseconds timeout);

}  // namespace detail

}  // namespace corio::net
