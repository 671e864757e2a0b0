#include <corio/net/address.hpp>

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <corio/runtime/sim_io.hpp>

namespace corio::net {

namespace {

class AddressCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "corio.address"; }
    std::string message(int ev) const override {
        switch (static_cast<AddressErrc>(ev)) {
            case AddressErrc::missing_port:
                return "missing port (expected HOST:PORT)";
            case AddressErrc::bad_port:
                return "port is not a number";
            case AddressErrc::port_out_of_range:
                return "port out of range (0-65535)";
            case AddressErrc::not_an_ip:
                return "not a numeric IP address (host names need resolve())";
            case AddressErrc::ipv6_needs_brackets:
                return "an IPv6 address with a port needs brackets ([::1]:80)";
            case AddressErrc::bad_brackets:
                return "'[' without a closing ']:PORT'";
            case AddressErrc::not_ipv6:
                return "not an IPv6 address inside [ ]";
            case AddressErrc::bad_zone:
                return "unknown IPv6 zone (interface)";
            case AddressErrc::empty_unix_path:
                return "empty Unix socket path";
        }
        return "malformed address";
    }
    std::error_condition default_error_condition(int) const noexcept override {
        // Every parse error is an invalid argument to code that checks errc.
        return std::make_error_condition(std::errc::invalid_argument);
    }
};

Result<std::uint16_t> parse_port(std::string_view s) {
    if (s.empty()) return make_error_code(AddressErrc::bad_port);
    for (char c : s) {
        if (c < '0' || c > '9') return make_error_code(AddressErrc::bad_port);
    }
    if (s.size() > 5) return make_error_code(AddressErrc::port_out_of_range);
    unsigned v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    if (v > 65535) return make_error_code(AddressErrc::port_out_of_range);
    return static_cast<std::uint16_t>(v);
}

}  // namespace

const std::error_category& address_category() noexcept {
    static const AddressCategory category;
    return category;
}

std::string describe_parse(std::string_view text, std::error_code ec) {
    return fmt::format("parse address '{}': {}", text, ec.message());
}

Address::Address() noexcept : storage_{}, len_(0) {
    storage_.ss_family = AF_UNSPEC;
}

Address::Address(const sockaddr* sa, socklen_t len) noexcept : storage_{}, len_(0) {
    if (sa == nullptr || len == 0) {
        storage_.ss_family = AF_UNSPEC;
        return;
    }
    if (len > sizeof(storage_)) len = sizeof(storage_);
    std::memcpy(&storage_, sa, len);
    len_ = len;
}

Result<Address> Address::from_ip(std::string_view ip, std::uint16_t port) {
    char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    if (ip.empty() || ip.size() >= sizeof(buf)) return make_error_code(AddressErrc::not_an_ip);
    std::memcpy(buf, ip.data(), ip.size());
    buf[ip.size()] = '\0';
    Address a;
    sockaddr_in in4{};
    if (::inet_pton(AF_INET, buf, &in4.sin_addr) == 1) {
        in4.sin_family = AF_INET;
        in4.sin_port = htons(port);
        return Address(reinterpret_cast<sockaddr*>(&in4), sizeof in4);
    }
    sockaddr_in6 in6{};
    // A zone ("fe80::1%eth0") names the interface of a link-local address.
    if (char* pct = std::strchr(buf, '%')) {
        *pct = '\0';
        unsigned idx = ::if_nametoindex(pct + 1);
        if (idx == 0) {
            unsigned v = 0;
            auto [p, ec] = std::from_chars(pct + 1, pct + std::strlen(pct + 1) + 1, v);
            if (ec != std::errc() || *p != '\0') return make_error_code(AddressErrc::bad_zone);
            idx = v;
        }
        in6.sin6_scope_id = idx;
    }
    if (::inet_pton(AF_INET6, buf, &in6.sin6_addr) == 1) {
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons(port);
        return Address(reinterpret_cast<sockaddr*>(&in6), sizeof in6);
    }
    return make_error_code(AddressErrc::not_an_ip);
}

Result<Address> Address::parse(std::string_view text) {
    if (text.starts_with("unix:")) {
        std::string_view rest = text.substr(5);
        if (rest.starts_with('@')) return unix_abstract(rest.substr(1));
        if (rest.empty()) return make_error_code(AddressErrc::empty_unix_path);
        return unix_path(rest);
    }
    if (text.starts_with('[')) {
        auto close = text.find(']');
        if (close == std::string_view::npos) return make_error_code(AddressErrc::bad_brackets);
        if (close + 1 >= text.size() || text[close + 1] != ':')
            return make_error_code(AddressErrc::missing_port);
        auto port = parse_port(text.substr(close + 2));
        if (!port) return port.error();
        auto a = from_ip(text.substr(1, close - 1), *port);
        if (!a) return a.error();
        if (!a->is_ipv6()) return make_error_code(AddressErrc::not_ipv6);
        return a;
    }
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return make_error_code(AddressErrc::missing_port);
    std::string_view host = text.substr(0, colon);
    // A bare IPv6 address with a port is ambiguous: brackets are required.
    if (host.find(':') != std::string_view::npos)
        return make_error_code(AddressErrc::ipv6_needs_brackets);
    auto port = parse_port(text.substr(colon + 1));
    if (!port) return port.error();
    return from_ip(host, *port);
}

Address Address::loopback_v4(std::uint16_t port) noexcept {
    sockaddr_in in4{};
    in4.sin_family = AF_INET;
    in4.sin_port = htons(port);
    in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return Address(reinterpret_cast<sockaddr*>(&in4), sizeof in4);
}

Address Address::loopback_v6(std::uint16_t port) noexcept {
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    in6.sin6_addr = in6addr_loopback;
    return Address(reinterpret_cast<sockaddr*>(&in6), sizeof in6);
}

Address Address::any_v4(std::uint16_t port) noexcept {
    sockaddr_in in4{};
    in4.sin_family = AF_INET;
    in4.sin_port = htons(port);
    in4.sin_addr.s_addr = htonl(INADDR_ANY);
    return Address(reinterpret_cast<sockaddr*>(&in4), sizeof in4);
}

Address Address::any_v6(std::uint16_t port) noexcept {
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    in6.sin6_addr = in6addr_any;
    return Address(reinterpret_cast<sockaddr*>(&in6), sizeof in6);
}

Result<Address> Address::unix_path(std::string_view path) {
    sockaddr_un un{};
    if (path.empty()) return std::errc::invalid_argument;
    if (path.size() >= sizeof(un.sun_path)) return std::errc::filename_too_long;
    if (path.find('\0') != std::string_view::npos) return std::errc::invalid_argument;
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, path.data(), path.size());
    return Address(reinterpret_cast<sockaddr*>(&un),
                   static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1));
}

Result<Address> Address::unix_abstract(std::string_view name) {
    sockaddr_un un{};
    if (name.size() + 1 > sizeof(un.sun_path)) return std::errc::filename_too_long;
    un.sun_family = AF_UNIX;
    // Abstract names start with a NUL and are exactly as long as the length says.
    un.sun_path[0] = '\0';
    std::memcpy(un.sun_path + 1, name.data(), name.size());
    return Address(reinterpret_cast<sockaddr*>(&un),
                   static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size()));
}

bool Address::is_loopback() const noexcept {
    if (is_ipv4()) {
        auto* in4 = reinterpret_cast<const sockaddr_in*>(&storage_);
        return (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
    }
    if (is_ipv6()) {
        auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

std::uint16_t Address::port() const noexcept {
    if (is_ipv4()) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    if (is_ipv6()) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    return 0;
}

void Address::set_port(std::uint16_t port) noexcept {
    if (is_ipv4()) reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
    if (is_ipv6()) reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
}

std::string Address::host() const {
    char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    if (is_ipv4()) {
        auto* in4 = reinterpret_cast<const sockaddr_in*>(&storage_);
        ::inet_ntop(AF_INET, &in4->sin_addr, buf, sizeof buf);
        return buf;
    }
    if (is_ipv6()) {
        auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
        ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
        std::string s = buf;
        if (in6->sin6_scope_id != 0) {
            char name[IF_NAMESIZE];
            if (::if_indextoname(in6->sin6_scope_id, name) != nullptr) {
                s += '%';
                s += name;
            } else {
                s += fmt::format("%{}", in6->sin6_scope_id);
            }
        }
        return s;
    }
    if (is_unix()) {
        auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
        std::size_t n =
            len_ > offsetof(sockaddr_un, sun_path) ? len_ - offsetof(sockaddr_un, sun_path) : 0;
        if (n == 0) return {};  // unnamed (socketpair, unbound client)
        if (un->sun_path[0] == '\0') return "@" + std::string(un->sun_path + 1, n - 1);
        return std::string(un->sun_path, ::strnlen(un->sun_path, n));
    }
    return {};
}

std::string Address::to_string() const {
    if (is_ipv4()) return fmt::format("{}:{}", host(), port());
    if (is_ipv6()) return fmt::format("[{}]:{}", host(), port());
    if (is_unix()) {
        std::string h = host();
        return h.empty() ? std::string("unix:(unnamed)") : "unix:" + h;
    }
    return "(unspecified)";
}

bool operator==(const Address& a, const Address& b) noexcept {
    return a.len_ == b.len_ && std::memcmp(&a.storage_, &b.storage_, a.len_) == 0;
}

std::string describe(std::string_view op, const Address& addr, std::error_code ec) {
    return fmt::format("{} {}: {}", op, addr.to_string(), ec.message());
}

std::string describe(std::string_view op, std::string_view target, std::error_code ec) {
    return fmt::format("{} {}: {}", op, target, ec.message());
}

Result<Address> local_address_of(int fd) {
    Address a;
    socklen_t len = a.capacity();
    if (auto* sim = corio::detail::current_sim()) {
        if (int r = sim->getsockname(fd, a.sockaddr_ptr(), &len); r < 0) return sys_error(-r);
    } else if (::getsockname(fd, a.sockaddr_ptr(), &len) != 0) {
        return sys_error(errno);
    }
    a.resize(len);
    return a;
}

Result<Address> peer_address_of(int fd) {
    Address a;
    socklen_t len = a.capacity();
    if (auto* sim = corio::detail::current_sim()) {
        if (int r = sim->getpeername(fd, a.sockaddr_ptr(), &len); r < 0) return sys_error(-r);
    } else if (::getpeername(fd, a.sockaddr_ptr(), &len) != 0) {
        return sys_error(errno);
    }
    a.resize(len);
    return a;
}

bool idle_and_open(int fd) noexcept {
    std::byte c{};
    if (auto* sim = corio::detail::current_sim()) {
        return sim->recv(fd, std::span(&c, 1), MSG_PEEK | MSG_DONTWAIT) == -EAGAIN;
    }
    const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace corio::net
