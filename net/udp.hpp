#pragma once
// UDP sockets: datagrams to and from any address, or to one connected peer.

#include <span>

#include <corio/net/socket.hpp>

namespace corio::net {

/// A UDP socket. Each send is one datagram; each receive takes one datagram
/// (truncated to the buffer if it is longer). Operations are awaitable, take
/// cancellation and work with with_timeout and `.timeout(d)`.
class UdpSocket : public Socket {
public:
    UdpSocket() noexcept = default;
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
};

}  // namespace corio::net
