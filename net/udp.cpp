#include <corio/net/udp.hpp>

#include <algorithm>
#include <cstring>

#include <corio/runtime/sim_io.hpp>

namespace corio::net {

Result<UdpSocket> UdpSocket::bind(const Address& addr, bool reuse_port) {
    auto s = Socket::open(addr.family(), SOCK_DGRAM);
    if (!s) return s.error();
    if (reuse_port) {
        if (auto r = s->set_option(SOL_SOCKET, SO_REUSEPORT, 1); !r) return r.error();
    }
    if (auto* sim = corio::detail::current_sim()) {
        if (int r = sim->bind(s->fd(), addr.sockaddr_ptr(), addr.size()); r < 0) {
            return sys_error(-r);
        }
    } else if (::bind(s->fd(), addr.sockaddr_ptr(), addr.size()) != 0) {
        return sys_error(errno);
    }
    return UdpSocket(s->release());
}

Result<UdpSocket> UdpSocket::open(int family) {
    auto s = Socket::open(family, SOCK_DGRAM);
    if (!s) return s.error();
    return UdpSocket(s->release());
}

Result<void> UdpSocket::connect(const Address& peer) noexcept {
    if (auto* sim = corio::detail::current_sim()) {
        int r = sim->connect(fd(), peer.sockaddr_ptr(), peer.size());
        if (r < 0) return sys_error(-r);
        return {};
    }
    if (::connect(fd(), peer.sockaddr_ptr(), peer.size()) != 0) return sys_error(errno);
    return {};
}

int RecvMsgMulti::attempt_on(corio::detail::SimIo* sim) noexcept {
    int id = ring->take();
    if (id < 0) {
        std::byte c{};
        if (sim != nullptr) {
            const int n = sim->recv(fd, std::span(&c, 1), MSG_PEEK);
            if (n < 0) return n;
        } else if (::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) < 0) {
            return -errno;
        }
        return -ENOBUFS;  // a datagram waits (even an empty one): park for a buffer
    }
    auto bid = static_cast<std::uint16_t>(id);
    // The kernel's multishot layout: header, name (msg_namelen bytes), payload.
    std::byte* base = ring->buffer(bid);
    const std::size_t head = sizeof(io_uring_recvmsg_out) + msg.msg_namelen;
    if (ring->buffer_size() <= head) {
        ring->untake(bid);
        return -EINVAL;
    }
    iovec iov{base + head, ring->buffer_size() - head};
    msghdr m{};
    m.msg_name = base + sizeof(io_uring_recvmsg_out);
    m.msg_namelen = msg.msg_namelen;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    ssize_t n = 0;
    if (sim != nullptr) {
        n = sim->recvmsg(fd, &m, MSG_TRUNC);
    } else {
        n = ::recvmsg(fd, &m, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) n = -errno;
    }
    if (n < 0) {
        ring->untake(bid);
        return static_cast<int>(n);
    }
    io_uring_recvmsg_out out{};
    out.namelen = m.msg_namelen;
    out.payloadlen = static_cast<unsigned>(n);  // the datagram's size (MSG_TRUNC)
    out.flags = static_cast<unsigned>(m.msg_flags);
    std::memcpy(base, &out, sizeof out);
    const std::size_t stored = std::min<std::size_t>(std::size_t(n), iov.iov_len);
    attempt_flags = IORING_CQE_F_BUFFER | (std::uint32_t(bid) << IORING_CQE_BUFFER_SHIFT);
    return static_cast<int>(head + stored);
}

Result<ReceivedDatagram> RecvMsgMulti::finish(int res, std::uint32_t flags) noexcept {
    auto b = ring->to_buffer(res, flags);
    if (!b) return b.error();
    ReceivedDatagram d;
    if (b->empty()) return d;
    auto* out = io_uring_recvmsg_validate(b->data().data(), static_cast<int>(b->size()), &msg);
    if (out == nullptr) return sys_error(EIO);
    const socklen_t namelen = std::min<socklen_t>(out->namelen, msg.msg_namelen);
    d.from = Address(static_cast<const sockaddr*>(io_uring_recvmsg_name(out)), namelen);
    auto* payload = static_cast<std::byte*>(io_uring_recvmsg_payload(out, &msg));
    d.offset = static_cast<std::size_t>(payload - b->data().data());
    d.length = io_uring_recvmsg_payload_length(out, static_cast<int>(b->size()), &msg);
    d.truncated = (out->flags & MSG_TRUNC) != 0;
    d.buffer = std::move(*b);
    return d;
}

}  // namespace corio::net
