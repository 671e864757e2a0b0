#pragma once
// UDP sockets: datagrams to and from any address, or to one connected peer.

#include <span>

#include <corio/net/socket.hpp>

namespace corio::net {

/// One datagram from a multishot receive: its sender, and its bytes in a
/// buffer of the ring (given back when this goes).
struct ReceivedDatagram {
    Address from;            ///< the sender
    RecvBuffer buffer;       ///< the ring buffer holding it (kernel header, address, payload)
    std::size_t offset = 0;  ///< where the payload starts in `buffer`
    std::size_t length = 0;  ///< payload bytes kept in `buffer`
    bool truncated = false;  ///< the datagram was larger than the buffer (MSG_TRUNC)
    /// The datagram's bytes (`length` bytes at `offset` of `buffer`).
    std::span<const std::byte> payload() const noexcept {
        return buffer.data().subspan(offset, length);
    }
};

/// Multishot recvmsg into a BufRing (6.0+): each datagram lands in a buffer
/// laid out as the kernel does it (io_uring_recvmsg_out, the sender's
/// address, the payload). On epoll (or without multishot recvmsg) recvmsg(2)
/// into a pool buffer, laid out the same way.
struct RecvMsgMulti {
    int fd = -1;                      ///< the UDP socket
    BufPool* ring = nullptr;          ///< where datagrams land
    std::shared_ptr<BufPool> hold;    ///< `ring`, kept while the kernel may use it
    msghdr msg = layout();            ///< the layout asked of the kernel (name length only)
    std::uint32_t attempt_flags = 0;  ///< epoll: the buffer attempt() used, as CQE flags
    /// Multishot operation protocol (see corio::MultishotOperation): a
    /// multishot RECVMSG into the ring where the kernel has it
    /// (Caps::multishot_recvmsg and a kernel-selected ring); elsewhere
    /// recvmsg(2) into a pool buffer after readiness; no free buffer (ENOBUFS)
    /// parks the receive; each item is a ReceivedDatagram.
    ///@{
    static constexpr OpKind kind = OpKind::recvmsg;
    static constexpr Interest interest = Interest::read;
    static msghdr layout() noexcept {
        msghdr m{};
        m.msg_namelen = sizeof(sockaddr_storage);
        return m;
    }
    bool multishot(const Caps& c) const noexcept {
        return c.multishot_recvmsg && ring->kernel_selected();
    }
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_recvmsg_multishot(s, fd, const_cast<msghdr*>(&msg), 0);
        s->flags |= IOSQE_BUFFER_SELECT;
        s->buf_group = ring->group();
    }
    int attempt() noexcept { return attempt_on(nullptr); }
    int sim(corio::detail::SimIo& io) noexcept { return attempt_on(&io); }
    corio::detail::ParkingLot* parking(int) noexcept { return &ring->parking(); }
    Result<ReceivedDatagram> finish(int res, std::uint32_t flags) noexcept;
    ///@}
    /// recvmsg(2) into a pool buffer (the simulated kernel's with `sim`).
    int attempt_on(corio::detail::SimIo* sim) noexcept;
};

/// A UDP socket. Each send is one datagram; each receive takes one datagram
/// (truncated to the buffer if it is longer). Operations are awaitable, take
/// cancellation and work with with_timeout and `.timeout(d)`.
class UdpSocket : public Socket {
public:
    /// No socket (is_open() false).
    UdpSocket() noexcept = default;
    /// Takes ownership of a non-blocking UDP descriptor.
    explicit UdpSocket(int fd) noexcept : Socket(fd) {}

    /// A socket bound to `addr` (port 0 picks one). `reuse_port` sets
    /// SO_REUSEPORT. Errors: EADDRINUSE, EACCES, ...
    static Result<UdpSocket> bind(const Address& addr, bool reuse_port = false);
    /// An unbound socket of `family` (AF_INET, AF_INET6); the kernel binds it
    /// on first send.
    static Result<UdpSocket> open(int family = AF_INET);

    /// Sets the default peer (connect(2) on UDP does not wait): send/recv then
    /// talk to it only. Errors: EAFNOSUPPORT, ENETUNREACH, ...
    Result<void> connect(const Address& peer) noexcept;

    /// Sends one datagram to `to`: the bytes sent (all or an error, EMSGSIZE
    /// when too big).
    OpAwaiter<SendTo> send_to(std::span<const std::byte> buf, const Address& to) noexcept {
        return OpAwaiter<SendTo>(SendTo{fd(), buf, to});
    }
    /// Receives one datagram into `buf`: its size and sender.
    OpAwaiter<RecvFrom> recv_from(std::span<std::byte> buf) noexcept {
        return OpAwaiter<RecvFrom>(RecvFrom{fd(), buf});
    }
    /// Sends one datagram to the connected peer. ECONNREFUSED may report an
    /// earlier datagram's ICMP "port unreachable".
    OpAwaiter<Send> send(std::span<const std::byte> buf) noexcept {
        return OpAwaiter<Send>(Send{fd(), buf});
    }
    /// Receives one datagram from the connected peer: its size.
    OpAwaiter<Recv> recv(std::span<std::byte> buf) noexcept {
        return OpAwaiter<Recv>(Recv{fd(), buf, 0, true});
    }
    /// The connected peer (getpeername).
    Result<Address> peer_address() const { return peer_address_of(fd()); }
    /// A multishot receive of datagrams into `ring`: `co_await s.next()` gives
    /// the next ReceivedDatagram. Must not outlive this socket, nor `ring` it.
    MultishotStream<RecvMsgMulti> recv_stream(BufRing& ring, std::size_t queue_limit = 64) {
        return MultishotStream<RecvMsgMulti>(RecvMsgMulti{fd(), &ring.pool(), ring.shared()},
                                             queue_limit);
    }
};

}  // namespace corio::net
