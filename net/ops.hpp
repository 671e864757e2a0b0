#pragma once
// Socket operations: one plain struct per system call (see runtime/op.hpp).
//
// Each fills an io_uring SQE and, for the epoll backend, makes one
// non-blocking attempt. Sends always carry MSG_NOSIGNAL: a write to a closed
// peer is an EPIPE result, never a SIGPIPE. The "All" variants (SendAll,
// RecvAll, SendMsgAll) finish only when every byte moved: on io_uring the
// sends ask the kernel to retry short transfers (MSG_WAITALL), and every one
// resubmits the rest if it still stops short; on epoll their attempt loops
// until EAGAIN.
//
// Each also has a `sim` half, the same call against a simulated host's
// kernel (sim::World): the simulation runs these structs unchanged.
//
// Buffers named by an operation belong to the kernel until it completes; the
// awaiter resumes only after that, so a buffer in the awaiting frame is safe.

#include <liburing.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>

#include <corio/net/address.hpp>
#include <corio/runtime/op.hpp>
#include <corio/runtime/sim_io.hpp>

namespace corio::net {

/// Flags every socket corio creates carries: the epoll backend needs
/// non-blocking descriptors, and none should leak into exec'd children.
inline constexpr int socket_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;

/// Most buffers one vectored operation passes to the kernel at a time.
inline constexpr std::size_t max_iov = 16;

/// accept4(2): a new connected descriptor (non-blocking, close-on-exec).
struct Accept {
    int fd;  ///< the listening socket
    /// Operation protocol (see corio::Operation): IORING_OP_ACCEPT; accept4(2)
    /// after readiness on epoll; finish gives the new descriptor (closed by
    /// the awaiter if the operation was cancelled meanwhile).
    ///@{
    static constexpr OpKind kind = OpKind::accept;
    static constexpr Interest interest = Interest::read;
    static constexpr bool returns_fd = true;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_accept(s, fd, nullptr, nullptr, socket_flags);
    }
    int attempt() noexcept {
        int c = ::accept4(fd, nullptr, nullptr, socket_flags);
        return c >= 0 ? c : -errno;
    }
    int sim(corio::detail::SimIo& io) noexcept { return io.accept(fd); }
    Result<int> finish(int res) const noexcept {
        if (res < 0) return sys_error(-res);
        return res;
    }
    ///@}
};

/// Multishot accept (5.19+): one request yields every new connection's
/// descriptor; see MultishotStream. accept4(2) after readiness elsewhere.
struct AcceptMulti {
    int fd = -1;  ///< the listening socket
    /// Multishot operation protocol (see corio::MultishotOperation): a
    /// multishot ACCEPT where the kernel has it (Caps::multishot_accept);
    /// elsewhere accept4(2) after readiness; each item is a new descriptor
    /// (closed if never taken).
    ///@{
    static constexpr OpKind kind = OpKind::accept;
    static constexpr Interest interest = Interest::read;
    static constexpr bool returns_fd = true;
    bool multishot(const Caps& c) const noexcept { return c.multishot_accept; }
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_multishot_accept(s, fd, nullptr, nullptr, socket_flags);
    }
    int attempt() noexcept {
        int c = ::accept4(fd, nullptr, nullptr, socket_flags);
        return c >= 0 ? c : -errno;
    }
    int sim(corio::detail::SimIo& io) noexcept { return io.accept(fd); }
    Result<int> finish(int res, std::uint32_t) const noexcept {
        if (res < 0) return sys_error(-res);
        return res;
    }
    ///@}
};

/// connect(2) on a non-blocking socket: completes when the connection is
/// established or has failed (ECONNREFUSED, ETIMEDOUT, ...).
struct Connect {
    int fd;                ///< the socket, non-blocking
    Address addr;          ///< the peer
    bool started = false;  ///< epoll: connect(2) said EINPROGRESS; now wait for the verdict
    /// Operation protocol (see corio::Operation): IORING_OP_CONNECT; on epoll
    /// connect(2), then writability and SO_ERROR; finish gives success or
    /// the error (ECONNREFUSED, ...).
    ///@{
    static constexpr OpKind kind = OpKind::connect;
    static constexpr Interest interest = Interest::write;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_connect(s, fd, addr.sockaddr_ptr(), addr.size());
    }
    int attempt() noexcept {
        if (!started) {
            if (::connect(fd, addr.sockaddr_ptr(), addr.size()) == 0) return 0;
            int e = errno;
            if (e == EINPROGRESS) {
                started = true;
                return -EAGAIN;
            }
            // A Unix socket whose peer's backlog is full says EAGAIN and has not
            // started: the next attempt calls connect again.
            return -e;
        }
        // In progress: writable means decided; SO_ERROR says how.
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, 0) == 0) return -EAGAIN;
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return -errno;
        return -err;
    }
    int sim(corio::detail::SimIo& io) noexcept {
        if (!started) {
            started = true;
            return io.connect(fd, addr.sockaddr_ptr(), addr.size());
        }
        return io.connect_status(fd);
    }
    Result<void> finish(int res) const noexcept { return void_result(res); }
    ///@}
};

/// recv(2): some bytes (at most buf.size()); 0 means the peer closed.
struct Recv {
    int fd;                    ///< the socket
    std::span<std::byte> buf;  ///< where the bytes go; the kernel's until completion
    int flags = 0;             ///< recv(2) flags (MSG_PEEK, ...)
    bool datagram = false;     ///< a datagram socket (a short datagram leaves the queue unknown)
    /// epoll: a short read of a stream emptied the socket buffer, so the next
    /// recv waits for an edge instead of paying for an EAGAIN. Not after end
    /// of stream (0): that edge never comes again.
    bool drained(int res) const noexcept {
        return !datagram && res > 0 && std::size_t(res) < buf.size() && (flags & MSG_PEEK) == 0;
    }
    int slot = -1;  ///< registered descriptor table slot standing for fd, or -1
    /// Operation protocol (see corio::Operation): IORING_OP_RECV; one
    /// non-blocking recv(2) on epoll; finish gives the count (0: the peer
    /// closed).
    ///@{
    static constexpr OpKind kind = OpKind::recv;
    static constexpr Interest interest = Interest::read;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_recv(s, fd, buf.data(), buf.size(), flags);
    }
    int attempt() noexcept {
        ssize_t n = ::recv(fd, buf.data(), buf.size(), flags | MSG_DONTWAIT);
        return n >= 0 ? int(n) : -errno;
    }
    int sim(corio::detail::SimIo& io) noexcept { return io.recv(fd, buf, flags); }
    Result<std::size_t> finish(int res) const noexcept {
        if (res < 0) return sys_error(-res);
        return std::size_t(res);
    }
    ///@}
};

/// Fills `buf` completely; Errc::eof if the stream ends first.
struct RecvAll {
    int fd;                    ///< the socket
    std::span<std::byte> buf;  ///< filled completely; the kernel's until completion
    std::size_t done = 0;      ///< bytes received so far
    int slot = -1;             ///< registered descriptor table slot standing for fd, or -1
    /// Operation protocol (see corio::Operation): IORING_OP_RECV of the rest,
    /// submitted again after each short receive (`again`); on epoll recv(2)
    /// until full or EAGAIN; finish gives success, Errc::eof if the stream
    /// ended first, or the error.
    ///@{
    static constexpr OpKind kind = OpKind::recv;
    static constexpr Interest interest = Interest::read;
    void prep(io_uring_sqe* s) const noexcept {
        // No MSG_WAITALL: when a reset follows part of the data, io_uring's
        // WAITALL retry reports the partial count and the ECONNRESET it met
        // is consumed with it, so the resubmission would read a clean end of
        // stream (eof) where epoll reports connection_reset. Plain receives,
        // resubmitted by again(), see the error (tests/faults.cpp).
        io_uring_prep_recv(s, fd, buf.data() + done, buf.size() - done, 0);
    }
    int attempt() noexcept {
        while (done < buf.size()) {
            ssize_t n = ::recv(fd, buf.data() + done, buf.size() - done, MSG_DONTWAIT);
            if (n < 0) return -errno;
            if (n == 0) break;
            done += std::size_t(n);
        }
        return int(std::min<std::size_t>(done, 0x7fffffff));
    }
    int sim(corio::detail::SimIo& io) noexcept {
        while (done < buf.size()) {
            int n = io.recv(fd, buf.subspan(done), 0);
            if (n < 0) return n;
            if (n == 0) break;
            done += std::size_t(n);
        }
        return int(std::min<std::size_t>(done, 0x7fffffff));
    }
    bool again(int res) noexcept {
        done += std::size_t(res);
        return done < buf.size();
    }
    Result<void> finish(int res) const noexcept {
        if (res < 0) return sys_error(-res);
        if (done < buf.size()) return Errc::eof;
        return {};
    }
    ///@}
};

/// send(2) with MSG_NOSIGNAL: some bytes (a short write is normal).
struct Send {
    int fd;                          ///< the socket
    std::span<const std::byte> buf;  ///< the bytes; the kernel's until completion
    int flags = 0;                   ///< send(2) flags besides MSG_NOSIGNAL (MSG_MORE, ...)
    int slot = -1;                   ///< registered descriptor table slot standing for fd, or -1
    /// Operation protocol (see corio::Operation): IORING_OP_SEND; one
    /// non-blocking send(2) on epoll; finish gives the count sent.
    ///@{
    static constexpr OpKind kind = OpKind::send;
    static constexpr Interest interest = Interest::write;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_send(s, fd, buf.data(), buf.size(), flags | MSG_NOSIGNAL);
    }
    int attempt() noexcept {
        ssize_t n = ::send(fd, buf.data(), buf.size(), flags | MSG_NOSIGNAL | MSG_DONTWAIT);
        return n >= 0 ? int(n) : -errno;
    }
    int sim(corio::detail::SimIo& io) noexcept { return io.send(fd, buf, flags); }
    Result<std::size_t> finish(int res) const noexcept {
        if (res < 0) return sys_error(-res);
        return std::size_t(res);
    }
    ///@}
};

/// Sends all of `buf` (MSG_NOSIGNAL), however many calls it takes. With
/// `zero_copy` (io_uring, IORING_OP_SEND_ZC, 6.0+) the kernel sends from `buf`
/// itself instead of copying it: each send has two completions, the result
/// and then the notification that the kernel no longer reads the buffer, and
/// the awaiter resumes only after the second.
struct SendAll {
    int fd;                          ///< the socket
    std::span<const std::byte> buf;  ///< the bytes; the kernel's until completion
    std::size_t done = 0;            ///< bytes sent so far
    bool zero_copy = false;          ///< io_uring: IORING_OP_SEND_ZC (see above)
    int slot = -1;                   ///< registered descriptor table slot standing for fd, or -1
    /// Operation protocol (see corio::Operation): IORING_OP_SEND (or SEND_ZC)
    /// of the rest with MSG_WAITALL, submitted again after a short send
    /// (`again`); on epoll send(2) until done or EAGAIN; finish gives
    /// success or the error (EPIPE, ECONNRESET, ...).
    ///@{
    static constexpr OpKind kind = OpKind::send;
    static constexpr Interest interest = Interest::write;
    bool notifies() const noexcept { return zero_copy; }
    void prep(io_uring_sqe* s) const noexcept {
        if (zero_copy) {
            io_uring_prep_send_zc(s, fd, buf.data() + done, buf.size() - done,
                                  MSG_NOSIGNAL | MSG_WAITALL, 0);
            return;
        }
        io_uring_prep_send(s, fd, buf.data() + done, buf.size() - done, MSG_NOSIGNAL | MSG_WAITALL);
    }
    int attempt() noexcept {
        while (done < buf.size()) {
            ssize_t n =
                ::send(fd, buf.data() + done, buf.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0) return -errno;
            done += std::size_t(n);
        }
        return 0;
    }
    int sim(corio::detail::SimIo& io) noexcept {
        while (done < buf.size()) {
            int n = io.send(fd, buf.subspan(done), 0);
            if (n < 0) return n;
            done += std::size_t(n);
        }
        return 0;
    }
    bool again(int res) noexcept {
        done += std::size_t(res);
        return done < buf.size();
    }
    Result<void> finish(int res) const noexcept { return void_result(res); }
    ///@}
};

namespace detail {
/// A position in a list of buffers, and the iovec window the kernel sees.
struct IovCursor {
    IovCursor(std::span<const std::span<const std::byte>> b) noexcept : bufs(b) {}  // NOLINT

    std::span<const std::span<const std::byte>> bufs;
    std::size_t index = 0;       // first buffer not fully sent
    std::size_t offset = 0;      // bytes of it already sent
    mutable iovec iov[max_iov];  // filled by window(); not zeroed up front
    mutable msghdr msg{};

    bool finished() const noexcept { return index >= bufs.size(); }
    void skip_empty() noexcept {
        while (index < bufs.size() && offset >= bufs[index].size()) {
            ++index;
            offset = 0;
        }
    }
    /// Fills iov/msg from the current position; returns msg.
    msghdr* window() const noexcept {
        std::size_t n = 0;
        for (std::size_t i = index; i < bufs.size() && n < max_iov; ++i) {
            std::size_t off = i == index ? offset : 0;
            if (bufs[i].size() == off) continue;
            iov[n].iov_base = const_cast<std::byte*>(bufs[i].data() + off);
            iov[n].iov_len = bufs[i].size() - off;
            ++n;
        }
        msg = msghdr{};
        msg.msg_iov = iov;
        msg.msg_iovlen = n;
        return &msg;
    }
    void advance(std::size_t n) noexcept {
        while (n > 0 && index < bufs.size()) {
            std::size_t left = bufs[index].size() - offset;
            if (n < left) {
                offset += n;
                return;
            }
            n -= left;
            ++index;
            offset = 0;
        }
        skip_empty();
    }
};
}  // namespace detail

/// sendmsg(2) of up to max_iov buffers at once: some bytes.
struct SendMsg {
    int fd;                 ///< the socket
    detail::IovCursor cur;  ///< the buffers (the list and the bytes live until completion)
    int slot = -1;          ///< registered descriptor table slot standing for fd, or -1
    /// Operation protocol (see corio::Operation): IORING_OP_SENDMSG of up to
    /// max_iov buffers; one non-blocking sendmsg(2) on epoll; finish gives
    /// the count sent.
    ///@{
    static constexpr OpKind kind = OpKind::sendmsg;
    static constexpr Interest interest = Interest::write;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_sendmsg(s, fd, cur.window(), MSG_NOSIGNAL);
    }
    int attempt() noexcept {
        ssize_t n = ::sendmsg(fd, cur.window(), MSG_NOSIGNAL | MSG_DONTWAIT);
        return n >= 0 ? int(n) : -errno;
    }
    int sim(corio::detail::SimIo& io) noexcept { return io.sendmsg(fd, cur.window(), 0); }
    Result<std::size_t> finish(int res) const noexcept {
        if (res < 0) return sys_error(-res);
        return std::size_t(res);
    }
    ///@}
};

/// Sends every byte of every buffer, in order (sendmsg with iovecs).
struct SendMsgAll {
    int fd;                 ///< the socket
    detail::IovCursor cur;  ///< the buffers and how far they are sent
    int slot = -1;          ///< registered descriptor table slot standing for fd, or -1
    /// Operation protocol (see corio::Operation): IORING_OP_SENDMSG with
    /// MSG_WAITALL, submitted again from where a short send stopped
    /// (`again`); on epoll sendmsg(2) until done or EAGAIN; finish gives
    /// success or the error.
    ///@{
    static constexpr OpKind kind = OpKind::sendmsg;
    static constexpr Interest interest = Interest::write;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_sendmsg(s, fd, cur.window(), MSG_NOSIGNAL | MSG_WAITALL);
    }
    int attempt() noexcept {
        cur.skip_empty();
        while (!cur.finished()) {
            ssize_t n = ::sendmsg(fd, cur.window(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0) return -errno;
            cur.advance(std::size_t(n));
        }
        return 0;
    }
    int sim(corio::detail::SimIo& io) noexcept {
        cur.skip_empty();
        while (!cur.finished()) {
            int n = io.sendmsg(fd, cur.window(), 0);
            if (n < 0) return n;
            cur.advance(std::size_t(n));
        }
        return 0;
    }
    bool again(int res) noexcept {
        cur.advance(std::size_t(res));
        return !cur.finished();
    }
    Result<void> finish(int res) const noexcept { return void_result(res); }
    ///@}
};

/// A datagram's size and sender.
struct Datagram {
    std::size_t size = 0;       ///< bytes stored in the buffer
    Address from;               ///< the sender
    bool truncated = false;     ///< the datagram was longer than the buffer: its end was dropped
    std::size_t full_size = 0;  ///< the datagram's real length (> size when truncated)
};

/// recvmsg(2) of one datagram with its sender's address.
struct RecvFrom {
    int fd;                    ///< the socket
    std::span<std::byte> buf;  ///< where the datagram goes; the kernel's until completion
    Address from{};            ///< filled with the sender's address
    mutable iovec iov{};       ///< the one iovec of `msg`
    mutable msghdr msg{};      ///< what recvmsg is given (filled by fill())
    /// Operation protocol (see corio::Operation): IORING_OP_RECVMSG with
    /// MSG_TRUNC; one non-blocking recvmsg(2) on epoll; finish gives a
    /// Datagram (size, sender, truncation).
    ///@{
    static constexpr OpKind kind = OpKind::recvmsg;
    static constexpr Interest interest = Interest::read;
    ///@}
    /// Points `msg` at `buf` and `from`; gives `msg`.
    msghdr* fill() const noexcept {
        iov.iov_base = buf.data();
        iov.iov_len = buf.size();
        msg = msghdr{};
        msg.msg_name = const_cast<sockaddr*>(from.sockaddr_ptr());
        msg.msg_namelen = from.capacity();
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        return &msg;
    }
    /// Operation protocol, as above. MSG_TRUNC: the result is the datagram's
    /// real length even when it did not fit, on both backends, so
    /// truncation is never silent.
    ///@{
    void prep(io_uring_sqe* s) const noexcept { io_uring_prep_recvmsg(s, fd, fill(), MSG_TRUNC); }
    int attempt() noexcept {
        ssize_t n = ::recvmsg(fd, fill(), MSG_DONTWAIT | MSG_TRUNC);
        return n >= 0 ? int(n) : -errno;
    }
    int sim(corio::detail::SimIo& io) noexcept { return io.recvmsg(fd, fill(), MSG_TRUNC); }
    Result<Datagram> finish(int res) noexcept {
        if (res < 0) return sys_error(-res);
        from.resize(msg.msg_namelen);
        const std::size_t full = std::size_t(res);
        const std::size_t kept = full < buf.size() ? full : buf.size();
        return Datagram{kept, from, full > buf.size(), full};
    }
    ///@}
};

/// sendmsg(2) of one datagram to `to`.
struct SendTo {
    int fd;                          ///< the socket
    std::span<const std::byte> buf;  ///< the datagram; the kernel's until completion
    Address to;                      ///< the receiver
    mutable iovec iov{};             ///< the one iovec of `msg`
    mutable msghdr msg{};            ///< what sendmsg is given (filled by fill())
    /// Operation protocol (see corio::Operation): IORING_OP_SENDMSG with
    /// MSG_NOSIGNAL; one non-blocking sendmsg(2) on epoll; finish gives the
    /// count sent.
    ///@{
    static constexpr OpKind kind = OpKind::sendmsg;
    static constexpr Interest interest = Interest::write;
    ///@}
    /// Points `msg` at `buf` and `to`; gives `msg`.
    msghdr* fill() const noexcept {
        iov.iov_base = const_cast<std::byte*>(buf.data());
        iov.iov_len = buf.size();
        msg = msghdr{};
        msg.msg_name = const_cast<sockaddr*>(to.sockaddr_ptr());
        msg.msg_namelen = to.size();
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        return &msg;
    }
    /// Operation protocol, as above.
    ///@{
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_sendmsg(s, fd, fill(), MSG_NOSIGNAL);
    }
    int attempt() noexcept {
        ssize_t n = ::sendmsg(fd, fill(), MSG_NOSIGNAL | MSG_DONTWAIT);
        return n >= 0 ? int(n) : -errno;
    }
    int sim(corio::detail::SimIo& io) noexcept { return io.sendmsg(fd, fill(), 0); }
    Result<std::size_t> finish(int res) const noexcept {
        if (res < 0) return sys_error(-res);
        return std::size_t(res);
    }
    ///@}
};

/// sendfile(2) of `left` bytes of `file` from `offset` to the socket `fd`:
/// the kernel reads the file (and, under kernel TLS transmit, encrypts), nothing
/// passes through user space. Waits for writability whenever the socket is
/// full (a POLL_ADD on io_uring, which has no sendfile opcode); progress is
/// kept in `offset`/`left` across waits. A file shorter than asked gives EIO.
struct SendFile {
    int fd;              ///< the socket
    int file;            ///< the file read from
    off_t offset;        ///< where in the file; advanced as bytes go
    std::uint64_t left;  ///< bytes still to send
    /// Operation protocol (see corio::Operation): no io_uring opcode, so a
    /// POLL_ADD then the call; one non-blocking sendfile loop on epoll.
    ///@{
    static constexpr OpKind kind = OpKind::splice;
    static constexpr Interest interest = Interest::write;
    bool uring_enabled() const noexcept { return false; }
    void prep(io_uring_sqe*) const noexcept {}
    int attempt() noexcept {
        while (left > 0) {
            const std::size_t chunk = left < (1u << 30) ? std::size_t(left) : std::size_t(1u << 30);
            ssize_t n = ::sendfile(fd, file, &offset, chunk);
            if (n < 0) return -errno;  // EAGAIN: wait, then go on from offset
            if (n == 0) return -EIO;
            left -= std::uint64_t(n);
        }
        return 0;
    }
    Result<void> finish(int res) const noexcept { return void_result(res); }
    ///@}
};

}  // namespace corio::net
