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
#include <corio/runtime/multishot.hpp>
#include <corio/runtime/op.hpp>
#include <corio/runtime/task.hpp>
#include <corio/runtime/timer.hpp>

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
    /// No socket (is_open() false).
    Socket() noexcept = default;
    /// Takes ownership of `fd` (which should be non-blocking, see socket_flags).
    explicit Socket(int fd) noexcept : fd_(fd) {}

    /// socket(2) with socket_flags. Errors: the errno (EMFILE, EAFNOSUPPORT...).
    static Result<Socket> open(int family, int type, int protocol = 0) noexcept;

    /// The descriptor (-1 when closed).
    int fd() const noexcept { return fd_.get(); }
    /// True while the socket owns a descriptor.
    bool is_open() const noexcept { return fd_.valid(); }
    /// is_open().
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
    /// The owned descriptor (with its registered-table slot, for a Stream).
    corio::detail::Fd fd_;
};

/// send_all of at least this many bytes sends without copying
/// (IORING_OP_SEND_ZC) on io_uring kernels that have it; 0 (the default) never
/// does. Zero-copy pays only on a real network device and for large buffers:
/// over loopback the kernel copies anyway and the second completion is pure
/// overhead (bench/micro "tcp send_all loopback": zero-copy costs 1.3-1.5x
/// the CPU of a copy at 4 KiB-1 MiB, bench/results/send-zc.txt). Set it before the
/// loops start.
void set_zero_copy_threshold(std::size_t bytes) noexcept;
/// The threshold set_zero_copy_threshold() set (0: never).
std::size_t zero_copy_threshold() noexcept;
namespace detail {
bool zero_copy_available() noexcept;
}
/// True when a send_all of `n` bytes goes zero-copy: the threshold is set,
/// `n` reaches it, and the current loop runs on io_uring with IORING_OP_SEND_ZC.
inline bool use_zero_copy(std::size_t n) noexcept {
    const std::size_t t = zero_copy_threshold();
    return t != 0 && n >= t && detail::zero_copy_available();
}

/// A connected byte stream (TCP or Unix). Every operation is awaitable,
/// completes when the kernel is done with the buffers it names (which the
/// caller keeps alive until then), takes cancellation from the awaiting task
/// (std::errc::operation_canceled), and works with with_timeout and
/// `.timeout(d)` (std::errc::timed_out). Errors are the kernel's
/// (system_category: ECONNRESET, EPIPE, ...); describe() makes them sentences.
/// One reader and one writer may be active at once.
class Stream : public Socket {
public:
    /// No stream (is_open() false).
    Stream() noexcept = default;
    /// Takes ownership of a connected, non-blocking stream descriptor; on
    /// io_uring it also takes a slot of the loop's registered descriptor
    /// table while one is free (operations then skip the kernel's descriptor
    /// lookup). `fd()` stays the real descriptor either way.
    explicit Stream(int fd) noexcept : Socket(fd) { fd_.register_slot(); }

    /// The registered descriptor table slot used on this thread's loop, or -1.
    int registered_slot() const noexcept { return fd_.slot(); }

    /// Receives some bytes into `buf`: the count, 0 when the peer closed its
    /// side (or `buf` is empty).
    OpAwaiter<Recv> recv(std::span<std::byte> buf) noexcept {
        return OpAwaiter<Recv>(slotted(Recv{fd(), buf}));
    }
    /// Fills all of `buf`. Errc::eof when the stream ends first (the bytes
    /// that came are in `buf`, their count is lost).
    OpAwaiter<RecvAll> read_exact(std::span<std::byte> buf) noexcept {
        return OpAwaiter<RecvAll>(slotted(RecvAll{fd(), buf}));
    }
    /// Receives some bytes into a buffer `ring` picks when data arrives, so a
    /// waiting connection holds no buffer. An empty RecvBuffer means the peer
    /// closed. `ring` must belong to this loop.
    OpAwaiter<RecvSelect> recv_buffer(BufRing& ring) noexcept {
        return OpAwaiter<RecvSelect>(slotted(RecvSelect{fd(), &ring.pool()}));
    }
    /// A multishot receive into `ring`: one request stays armed and each
    /// `co_await rs.next()` gives the next RecvBuffer (empty: the peer
    /// closed). At most `queue_limit` arrivals wait in user space; past that
    /// the kernel keeps the bytes (see runtime/multishot.hpp). The stream
    /// must not outlive this socket, nor `ring` the stream.
    RecvStream recv_stream(BufRing& ring, std::size_t queue_limit = 16) {
        return RecvStream(slotted(RecvMulti{fd(), &ring.pool(), ring.shared()}), queue_limit);
    }

    /// Sends some of `buf` (a short count is normal); never raises SIGPIPE
    /// (a closed peer gives EPIPE or ECONNRESET).
    OpAwaiter<Send> send(std::span<const std::byte> buf) noexcept {
        return OpAwaiter<Send>(slotted(Send{fd(), buf}));
    }
    /// Sends all of `buf`, however many system calls it takes.
    OpAwaiter<SendAll> send_all(std::span<const std::byte> buf) noexcept {
        return OpAwaiter<SendAll>(slotted(SendAll{fd(), buf, 0, use_zero_copy(buf.size())}));
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
        return OpAwaiter<SendMsg>(slotted(SendMsg{fd(), {bufs}}));
    }
    /// Sends every byte of every buffer, in order (gathered writes).
    OpAwaiter<SendMsgAll> send_all(std::span<const std::span<const std::byte>> bufs) noexcept {
        return OpAwaiter<SendMsgAll>(slotted(SendMsgAll{fd(), {bufs}}));
    }
    /// shutdown(2): SHUT_WR sends FIN after queued data (the peer's recv
    /// gives 0) while this side can still read. Completes at once.
    Result<void> shutdown(int how = SHUT_WR) noexcept;
    /// The connected peer's address (getpeername).
    Result<Address> peer_address() const { return peer_address_of(fd()); }

private:
    template <class Op>
    Op slotted(Op op) const noexcept {
        op.slot = fd_.slot();
        return op;
    }
};

/// How a listener (TcpListener::bind, UnixListener::bind) sets its socket up.
struct ListenOptions {
    bool reuse_addr = true;   ///< SO_REUSEADDR (IP): rebind while old connections linger
    bool reuse_port = false;  ///< SO_REUSEPORT (IP): one listener per loop, the kernel spreads
    int backlog = 1024;       ///< listen(2) backlog (the kernel caps it at somaxconn)
    bool v6_only = false;     ///< IPV6_V6ONLY for an IPv6 address
    /// TCP_NODELAY on the listening socket (IP), which accepted connections
    /// inherit (Linux): a reply goes out at once instead of waiting for the
    /// peer's ACK of the previous one (Nagle), with no setsockopt per
    /// connection. False keeps Nagle's coalescing of small writes.
    bool nodelay = true;
};

namespace detail {

/// The accepting half of a listener: owns the listening descriptor and a
/// multishot accept (one request armed on io_uring, readiness and accept4 on
/// epoll). Out of descriptors (EMFILE/ENFILE) it sheds pending connections
/// with a reset and backs off instead of spinning. A listener must not be
/// moved while an accept() on it is pending.
class Acceptor {
public:
    Acceptor() noexcept = default;
    explicit Acceptor(int listen_fd);

    int fd() const noexcept { return lfd_.get(); }
    /// The next connection's descriptor. operation_canceled when the task is
    /// cancelled or the listener closed meanwhile; EBADF once closed.
    Task<Result<int>> accept();
    /// Stops accepting: pending accepts end with operation_canceled,
    /// connections accepted but not taken are closed.
    void close() noexcept;

private:
    corio::detail::Fd lfd_;
    MultishotStream<AcceptMulti> stream_;
    corio::detail::Fd reserve_;  // spare descriptor, given up to shed load on EMFILE
    Duration backoff_{};
    bool logged_exhaustion_ = false;
};

Result<int> bind_listen(const Address& addr, const ListenOptions& opts);
/// Opens a stream socket for `addr`'s family and connects it (Task: not hot).
Task<Result<int>> connect_stream(Address addr, std::chrono::nanoseconds timeout);

}  // namespace detail

}  // namespace corio::net
