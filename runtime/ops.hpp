#pragma once
// Basic operations on descriptors: nop, read/write on streams (pipes,
// eventfds, sockets, terminals), poll, close.
//
// On the epoll backend Read and Write expect a non-blocking descriptor
// (O_NONBLOCK), as every descriptor corio creates is; a blocking one would
// stall the loop there.

#include <liburing.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <span>

#include <corio/runtime/multishot.hpp>
#include <corio/runtime/op.hpp>

namespace corio {

/// Does nothing; completes with 0. Measures a round trip through the loop.
struct Nop {
    /// Operation protocol (see corio::Operation): IORING_OP_NOP; nothing to
    /// call on epoll; finish gives success.
    ///@{
    static constexpr OpKind kind = OpKind::nop;
    static constexpr Interest interest = Interest::none;
    void prep(io_uring_sqe* s) const noexcept { io_uring_prep_nop(s); }
    int attempt() noexcept { return 0; }
    int sim(detail::SimIo&) noexcept { return 0; }
    Result<void> finish(int res) const noexcept { return void_result(res); }
    ///@}
};

/// read(2) from a stream descriptor at its current position.
struct Read {
    int fd;                    ///< the descriptor (non-blocking on epoll)
    std::span<std::byte> buf;  ///< where the bytes go; the kernel's until completion
    /// Operation protocol (see corio::Operation): IORING_OP_READ at the file
    /// position; one read(2) after readiness on epoll; finish gives the
    /// count (0: end of file or stream).
    ///@{
    static constexpr OpKind kind = OpKind::read;
    static constexpr Interest interest = Interest::read;
    void prep(io_uring_sqe* s) const noexcept {
        // Offset -1: the file position, as read(2) does (5.6+).
        io_uring_prep_read(s, fd, buf.data(), static_cast<unsigned>(buf.size()), -1);
    }
    int attempt() noexcept {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        return n >= 0 ? int(n) : -errno;
    }
    Result<std::size_t> finish(int res) const noexcept {
        if (res < 0) return sys_error(-res);
        return std::size_t(res);
    }
    ///@}
};

/// write(2) to a stream descriptor; may write fewer bytes than given.
struct Write {
    int fd;                          ///< the descriptor (non-blocking on epoll)
    std::span<const std::byte> buf;  ///< the bytes; the kernel's until completion
    /// Operation protocol (see corio::Operation): IORING_OP_WRITE at the file
    /// position; one write(2) after writability on epoll; finish gives the
    /// count written.
    ///@{
    static constexpr OpKind kind = OpKind::write;
    static constexpr Interest interest = Interest::write;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_write(s, fd, buf.data(), static_cast<unsigned>(buf.size()), -1);
    }
    int attempt() noexcept {
        ssize_t n = ::write(fd, buf.data(), buf.size());
        return n >= 0 ? int(n) : -errno;
    }
    Result<std::size_t> finish(int res) const noexcept {
        if (res < 0) return sys_error(-res);
        return std::size_t(res);
    }
    ///@}
};

/// Waits until `fd` has any of `events` (POLLIN, POLLOUT); gives the events.
struct Poll {
    int fd;                    ///< the descriptor watched
    unsigned events = POLLIN;  ///< poll(2) events to wait for
    /// Operation protocol (see corio::Operation): IORING_OP_POLL_ADD; on epoll
    /// a zero-timeout poll(2) after readiness (writability when `events` has
    /// only POLLOUT); finish gives the events that are set.
    ///@{
    static constexpr OpKind kind = OpKind::poll;
    static constexpr Interest interest = Interest::read;
    Interest dynamic_interest() const noexcept {
        return (events & POLLIN) == 0 && (events & POLLOUT) != 0 ? Interest::write : Interest::read;
    }
    void prep(io_uring_sqe* s) const noexcept { io_uring_prep_poll_add(s, fd, events); }
    int attempt() noexcept {
        pollfd p{fd, static_cast<short>(events), 0};
        int n = ::poll(&p, 1, 0);
        if (n < 0) return -errno;
        return n == 0 ? -EAGAIN : p.revents;
    }
    int sim(detail::SimIo& io) noexcept { return io.poll(fd, events); }
    Result<unsigned> finish(int res) const noexcept {
        if (res < 0) return sys_error(-res);
        return unsigned(res);
    }
    ///@}
};

/// Multishot poll (5.13+): one request yields the events (POLLIN, ...) each
/// time `fd` becomes ready; see MultishotStream. On epoll (or without
/// multishot poll) poll(2) after readiness, so an item there also means "ready
/// now": read what is there before awaiting the next item.
struct PollMulti {
    int fd = -1;               ///< the descriptor watched
    unsigned events = POLLIN;  ///< poll(2) events to wait for
    /// Multishot operation protocol (see corio::MultishotOperation): a
    /// multishot POLL_ADD where the kernel has it (Caps::multishot_poll);
    /// elsewhere a zero-timeout poll(2) after readiness; each item is the
    /// events that are set.
    ///@{
    static constexpr OpKind kind = OpKind::poll;
    static constexpr Interest interest = Interest::read;
    Interest dynamic_interest() const noexcept {
        return (events & POLLIN) == 0 && (events & POLLOUT) != 0 ? Interest::write : Interest::read;
    }
    bool multishot(const Caps& c) const noexcept { return c.multishot_poll; }
    void prep(io_uring_sqe* s) const noexcept { io_uring_prep_poll_multishot(s, fd, events); }
    int attempt() noexcept {
        pollfd p{fd, static_cast<short>(events), 0};
        int n = ::poll(&p, 1, 0);
        if (n < 0) return -errno;
        return n == 0 ? -EAGAIN : p.revents;
    }
    int sim(detail::SimIo& io) noexcept { return io.poll(fd, events); }
    Result<unsigned> finish(int res, std::uint32_t) const noexcept {
        if (res < 0) return sys_error(-res);
        return unsigned(res);
    }
    ///@}
};

/// close(2). Forgets the epoll registration first.
struct Close {
    int fd;  ///< the descriptor closed
    /// Operation protocol (see corio::Operation): IORING_OP_CLOSE where the
    /// kernel has it; close(2) inline elsewhere; finish gives its error, if any.
    ///@{
    static constexpr OpKind kind = OpKind::close;
    static constexpr Interest interest = Interest::none;
    static constexpr unsigned uring_opcode = IORING_OP_CLOSE;
    void prep(io_uring_sqe* s) const noexcept { io_uring_prep_close(s, fd); }
    int attempt() noexcept { return ::close(fd) == 0 ? 0 : -errno; }
    int sim(detail::SimIo& io) noexcept { return io.close(fd); }
    Result<void> finish(int res) const noexcept { return void_result(res); }
    ///@}
};

/// Does nothing on the current loop; completes with success (a round trip
/// through the backend on io_uring).
inline OpAwaiter<Nop> nop() noexcept {
    return OpAwaiter<Nop>(Nop{});
}
/// Reads some bytes of `fd` into `buf`: the count, 0 at the end. `buf` is the
/// kernel's until completion.
inline OpAwaiter<Read> read(int fd, std::span<std::byte> buf) noexcept {
    return OpAwaiter<Read>(Read{fd, buf});
}
/// Writes some of `buf` to `fd` (a short count is normal): the count.
inline OpAwaiter<Write> write(int fd, std::span<const std::byte> buf) noexcept {
    return OpAwaiter<Write>(Write{fd, buf});
}
/// Waits until `fd` has one of `events` (POLLIN, POLLOUT, ...): the events set.
inline OpAwaiter<Poll> poll(int fd, unsigned events) noexcept {
    return OpAwaiter<Poll>(Poll{fd, events});
}
/// A stream of readiness events on `fd` (multishot poll on io_uring).
inline MultishotStream<PollMulti> poll_stream(int fd, unsigned events,
                                              std::size_t queue_limit = 64) {
    return MultishotStream<PollMulti>(PollMulti{fd, events}, queue_limit);
}
/// Closes `fd` asynchronously (on epoll: inline); operations still waiting on
/// it end with std::errc::operation_canceled first.
inline OpAwaiter<Close> close(int fd) noexcept {
    Loop::current().release_fd(fd);
    return OpAwaiter<Close>(Close{fd});
}

}  // namespace corio
