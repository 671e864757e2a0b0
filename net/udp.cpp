#include <corio/net/udp.hpp>

namespace corio::net {

Result<UdpSocket> UdpSocket::bind(const Address& addr, bool reuse_port) {
    auto s = Socket::open(addr.family(), SOCK_DGRAM);
    if (!s) return s.error();
    if (reuse_port) {
        if (auto r = s->set_option(SOL_SOCKET, SO_REUSEPORT, 1); !r) return r.error();
    }
    if (::bind(s->fd(), addr.sockaddr_ptr(), addr.size()) != 0) return sys_error(errno);
    return UdpSocket(s->release());
}

Result<UdpSocket> UdpSocket::open(int family) {
    auto s = Socket::open(family, SOCK_DGRAM);
    if (!s) return s.error();
    return UdpSocket(s->release());
}

Result<void> UdpSocket::connect(const Address& peer) noexcept {
    if (::connect(fd(), peer.sockaddr_ptr(), peer.size()) != 0) return sys_error(errno);
    return {};
}

}  // namespace corio::net
