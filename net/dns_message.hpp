#pragma once
// DNS messages (RFC 1035) as net::Resolver uses them: a query for one name and
// type, and what a stub resolver takes from a response (its code, the
// truncation bit, the addresses of the name or of its CNAME chain). Pure code,
// no I/O: tested and fuzzed on its own.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace corio::net::dns {

/// The record types a stub resolver asks for.
enum class Type : std::uint16_t {
    a = 1,      ///< an IPv4 address
    cname = 5,  ///< the canonical name of an alias
    aaaa = 28,  ///< an IPv6 address
};

/// Response codes (RCODE) a resolver tells apart.
enum class Rcode : std::uint8_t {
    noerror = 0,   ///< an answer (possibly with no record of the type)
    formerr = 1,   ///< the server could not read the query
    servfail = 2,  ///< the server failed (try another)
    nxdomain = 3,  ///< the name does not exist
    notimp = 4,    ///< the server does not do this kind of query
    refused = 5,   ///< the server will not answer (try another)
};

/// The longest name in text form (RFC 1035 §2.3.4: 255 bytes on the wire).
inline constexpr std::size_t max_name = 253;

/// True when `name` can be asked: labels of 1 to 63 bytes separated by dots
/// (an optional final dot), at most 253 bytes, printable ASCII without space;
/// the root (".") and empty names are not.
bool valid_name(std::string_view name) noexcept;

/// `name` as names are compared and kept: ASCII lower case, without a final dot.
std::string canonical_name(std::string_view name);

/// The UDP payload size a query with EDNS0 advertises (RFC 9715's advice:
/// no IP fragmentation).
inline constexpr std::uint16_t edns_payload = 1232;

/// The query (one question, class IN, recursion desired) for `name` and
/// `type` with `id`; `edns` adds an EDNS0 OPT record offering answers of up to
/// edns_payload bytes over UDP (without it a server sends at most 512).
/// `name` must be valid_name(); the final dot is optional.
std::string encode_query(std::uint16_t id, std::string_view name, Type type, bool edns = false);

/// One address of a response: `size` (4 or 16) bytes of `bytes`.
struct IpAddress {
    std::array<std::uint8_t, 16> bytes{};  ///< the address in network order (first `size`)
    std::uint8_t size = 0;                 ///< 4 (IPv4) or 16 (IPv6)
};

/// What parse_response() took from a response.
struct Response {
    Rcode rcode = Rcode::noerror;  ///< the server's code (other codes as their number)
    bool truncated = false;        ///< TC: the answer did not fit; ask again over TCP
    /// The addresses of the asked type owned by the name or by the last name
    /// of its CNAME chain, in the server's order.
    std::vector<IpAddress> addresses;
    /// The name the addresses belong to (the asked one, or where its CNAME
    /// chain ended), lower case, without the final dot.
    std::string canonical;
    /// The lowest TTL of the chain's and the addresses' records, in seconds
    /// (0 when there are none).
    std::uint32_t ttl = 0;
    /// The authority section had an SOA record: a negative answer (NXDOMAIN,
    /// or no address of the type) may be kept for `negative_ttl` seconds, the
    /// lower of the SOA's TTL and its MINIMUM (RFC 2308 §5). Without one it
    /// must not be kept.
    bool soa = false;
    std::uint32_t negative_ttl = 0;  ///< see `soa`
};

/// How parse_response() judged a message.
enum class Parse : std::uint8_t {
    ok,         ///< a response to the query; `out` is filled
    foreign,    ///< not a response to this query (another id or question): ignore it
    malformed,  ///< the response to this query, but not a readable one
};

/// Reads `msg` as the response to the query encode_query(id, name, type)
/// made. Names compare without regard to ASCII case. Compression pointers
/// must point backwards (a loop is malformed), at most 64 in a name, names
/// stay within 255 bytes,
/// and no read goes past the message, whatever its bytes.
Parse parse_response(std::span<const std::uint8_t> msg, std::uint16_t id, std::string_view name,
                     Type type, Response& out);

}  // namespace corio::net::dns
