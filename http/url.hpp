#pragma once
// http and https URLs: parsing, normalisation (to deduplicate), and reference resolution per
// RFC 3986. Pure: no I/O, no name resolution.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace corio::http {

/// The origin of a URL: scheme, host and port (RFC 6454). Two URLs may share a connection,
/// or a crawler's politeness budget, when their origins are equal.
struct Origin {
    std::string scheme;      ///< "http" or "https"
    std::string host;        ///< lowercase; an IPv6 literal keeps its brackets
    std::uint16_t port = 0;  ///< always set (80 or 443 by default)

    /// Equal when scheme, host and port are.
    friend bool operator==(const Origin&, const Origin&) = default;
};

/// An absolute http or https URL, held in normal form: scheme and host lowercase, IPv6
/// literal in its canonical text form inside brackets, port always known (80 or 443 by
/// default), path starting with '/' with dot segments removed, percent-escapes in uppercase
/// hex with escapes of unreserved characters decoded and characters not allowed in a URI
/// (spaces, non-ASCII, '"', '<', ...) percent-encoded. The fragment is dropped, as is an
/// empty query. Two Urls are equal exactly when their normalized() strings are.
class Url {
public:
    /// Parses an absolute http(s) URL ("http://host[:port][/path][?query][#fragment]").
    /// Leading and trailing whitespace and any tab or newline are ignored. Returns nullopt
    /// for another scheme, a missing or invalid host, user info (`"user@host"`), or a port
    /// outside 1..65535.
    static std::optional<Url> parse(std::string_view text);

    /// Resolves `reference` (as found in an href) against `base` per RFC 3986 §5.2 and parses
    /// the result; nullopt when the result is not a valid http(s) URL (such as "mailto:x").
    static std::optional<Url> resolve(const Url& base, std::string_view reference);

    /// "http" or "https".
    const std::string& scheme() const noexcept { return scheme_; }
    /// The host, lowercase; an IPv6 literal keeps its brackets ("[::1]").
    const std::string& host() const noexcept { return host_; }
    /// The host without IPv6 brackets, as for getaddrinfo().
    std::string_view host_name() const noexcept;
    /// The port (the scheme's default when the URL names none).
    std::uint16_t port() const noexcept { return port_; }
    /// True when port() is the scheme's default (80 for http, 443 for https).
    bool has_default_port() const noexcept;
    /// The path; never empty, always starts with '/'.
    const std::string& path() const noexcept { return path_; }
    /// The query without its '?'; empty when there is none.
    const std::string& query() const noexcept { return query_; }

    /// The request-target for this URL: path, then "?query" when there is a query.
    std::string target() const;
    /// host, then ":port" unless the port is the default: the value of a Host header.
    std::string authority() const;
    /// The URL as one string in normal form ("http://example.com/a?b"); equal strings
    /// mean equal URLs, which makes it the key for deduplication.
    std::string normalized() const;
    /// Scheme, host and port.
    Origin origin() const;
    /// True when origin() == other.origin().
    bool same_origin(const Url& other) const noexcept;

    /// Equal when the normalized forms are.
    friend bool operator==(const Url&, const Url&) = default;

private:
    Url() = default;

    std::string scheme_;
    std::string host_;
    std::string path_;
    std::string query_;
    std::uint16_t port_ = 0;
};

/// RFC 3986 §5.2 reference resolution on strings, for any scheme and without validation:
/// parses both with the regular expression of Appendix B (a scheme must be well-formed to
/// count as one), applies the algorithm of §5.2.2 (strict: "http:g" stays "http:g"),
/// removes dot segments (§5.2.4) and recomposes (§5.3), keeping the reference's fragment.
/// `base` should be an absolute URI.
std::string resolve_reference(std::string_view base, std::string_view reference);

/// RFC 3986 §5.2.4: removes "." and ".." segments from a path.
std::string remove_dot_segments(std::string_view path);

}  // namespace corio::http
