#pragma once
// Socket addresses: IPv4, IPv6 and Unix (path or abstract), parsed from and
// formatted as text ("127.0.0.1:80", "[::1]:80", "unix:/run/x.sock",
// "unix:@name").

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include <corio/runtime/result.hpp>

namespace corio::net {

/// Why Address::parse (or from_ip) rejected a text. Each compares equal to
/// std::errc::invalid_argument, and its message says what was wrong;
/// describe_parse(text, ec) makes the sentence
/// ("parse address 'x:99999': port out of range").
enum class AddressErrc {
    missing_port = 1,     ///< no ":PORT" at the end
    bad_port,             ///< the port is empty or not a decimal number
    port_out_of_range,    ///< the port is above 65535
    not_an_ip,            ///< the host is not a numeric IPv4/IPv6 address
    ipv6_needs_brackets,  ///< "::1:80": an IPv6 address with a port needs [ ]
    bad_brackets,         ///< "[" without "]:PORT"
    not_ipv6,             ///< an IPv4 address inside [ ]
    bad_zone,             ///< an IPv6 zone ("%eth0") that names no interface
    empty_unix_path,      ///< "unix:" with nothing after it
};

/// The category of AddressErrc.
const std::error_category& address_category() noexcept;
/// An error_code of address_category(); lets AddressErrc convert to std::error_code.
inline std::error_code make_error_code(AddressErrc e) noexcept {
    return {static_cast<int>(e), address_category()};
}

}  // namespace corio::net

/// Marks corio::net::AddressErrc as an error code enum: it converts to std::error_code.
template <>
struct std::is_error_code_enum<corio::net::AddressErrc> : std::true_type {};

namespace corio::net {

/// A socket address held by value (a sockaddr_storage and its length). Cheap
/// to copy, comparable, printable with fmt ("{}") and to_string(). A default
/// Address is empty (family AF_UNSPEC).
class Address {
public:
    /// The empty address (family AF_UNSPEC).
    Address() noexcept;
    /// Copies `len` bytes of a kernel sockaddr (accept, getsockname, getaddrinfo).
    Address(const sockaddr* sa, socklen_t len) noexcept;

    /// Parses `"1.2.3.4:80"`, `"[::1]:80"`, `"[fe80::1%eth0]:80"`, `"unix:/path"` or
    /// `"unix:@abstract"`. Host names are not resolved (see resolve()). Errors:
    /// an AddressErrc saying what was wrong (each equal to
    /// std::errc::invalid_argument); std::errc::filename_too_long for a Unix
    /// path too long. describe_parse(text, ec) makes the sentence.
    static Result<Address> parse(std::string_view text);
    /// Parses a numeric IP (v4 or v6, no brackets) and a port.
    static Result<Address> from_ip(std::string_view ip, std::uint16_t port);
    /// 127.0.0.1:port.
    static Address loopback_v4(std::uint16_t port = 0) noexcept;
    /// `[::1]:port`.
    static Address loopback_v6(std::uint16_t port = 0) noexcept;
    /// 0.0.0.0:port (every IPv4 interface).
    static Address any_v4(std::uint16_t port = 0) noexcept;
    /// `[::]:port` (every IPv6 interface; IPv4 too unless IPV6_V6ONLY).
    static Address any_v6(std::uint16_t port = 0) noexcept;
    /// A Unix socket path (at most 107 bytes). Errors: std::errc::filename_too_long.
    static Result<Address> unix_path(std::string_view path);
    /// A Linux abstract Unix address (no file; `name` without the leading NUL).
    static Result<Address> unix_abstract(std::string_view name);

    /// AF_INET, AF_INET6, AF_UNIX, or AF_UNSPEC when empty.
    int family() const noexcept { return storage_.ss_family; }
    /// True for an IPv4 address.
    bool is_ipv4() const noexcept { return family() == AF_INET; }
    /// True for an IPv6 address.
    bool is_ipv6() const noexcept { return family() == AF_INET6; }
    /// True for a Unix (path or abstract) address.
    bool is_unix() const noexcept { return family() == AF_UNIX; }
    /// True for the empty address.
    bool empty() const noexcept { return family() == AF_UNSPEC; }
    /// True for 127.0.0.0/8 and ::1.
    bool is_loopback() const noexcept;

    /// The port of an IP address (0 for Unix addresses).
    std::uint16_t port() const noexcept;
    /// Sets the port of an IP address (no effect on others).
    void set_port(std::uint16_t port) noexcept;
    /// Same address, another port.
    Address with_port(std::uint16_t port) const noexcept {
        Address a = *this;
        a.set_port(port);
        return a;
    }

    /// The IP without the port ("127.0.0.1", "::1"), or the Unix path.
    std::string host() const;
    /// The text form parse() accepts: `"127.0.0.1:80"`, `"[::1]:80"`,
    /// `"unix:/path"`, `"unix:@name"`; "(unspecified)" when empty.
    std::string to_string() const;

    /// The kernel form, for bind, connect, sendto and the like.
    ///@{
    const sockaddr* sockaddr_ptr() const noexcept {
        return reinterpret_cast<const sockaddr*>(&storage_);
    }
    sockaddr* sockaddr_ptr() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
    ///@}
    /// The length of the kernel form (the socklen_t to pass with sockaddr_ptr()).
    socklen_t size() const noexcept { return len_; }
    /// For calls that fill the address in: capacity in, then resize(len).
    socklen_t capacity() const noexcept { return sizeof(storage_); }
    /// Sets the length after the kernel filled the address in.
    void resize(socklen_t len) noexcept { len_ = len; }

    /// Equal when family, length and bytes are (an IPv4 address never equals
    /// its IPv4-mapped IPv6 form).
    friend bool operator==(const Address& a, const Address& b) noexcept;

private:
    sockaddr_storage storage_;
    socklen_t len_;
};

/// "OP ADDRESS: MESSAGE" ("connect 127.0.0.1:9: Connection refused"): the
/// sentence an example or a log line shows for a failed operation.
std::string describe(std::string_view op, const Address& addr, std::error_code ec);
/// "OP TARGET: MESSAGE" for a target that is not an address yet
/// ("resolve no-such-host.invalid:80: Name or service not known").
std::string describe(std::string_view op, std::string_view target, std::error_code ec);

/// "parse address 'TEXT': MESSAGE" ("parse address 'x:99999': port out of
/// range"): the sentence for an error of Address::parse.
std::string describe_parse(std::string_view text, std::error_code ec);

/// The local address of a socket (getsockname). Errors: the errno.
Result<Address> local_address_of(int fd);
/// The remote address of a connected socket (getpeername). Errors: ENOTCONN...
Result<Address> peer_address_of(int fd);
/// Whether the connected stream socket `fd` has nothing to read and no end
/// or error to report (a non-blocking one-byte MSG_PEEK would block): how a
/// connection pool checks an idle connection before reusing it. A real or a
/// simulated socket alike.
bool idle_and_open(int fd) noexcept;

}  // namespace corio::net

/// Formats an Address with fmt ("{}"): its to_string(), with string format specs.
template <>
struct fmt::formatter<corio::net::Address> : fmt::formatter<std::string_view> {
    /// Writes a.to_string() with the parsed specs.
    template <class Ctx>
    auto format(const corio::net::Address& a, Ctx& ctx) const {
        return fmt::formatter<std::string_view>::format(a.to_string(), ctx);
    }
};
