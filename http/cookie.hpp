#pragma once
// Cookies (RFC 6265): the pairs of a request's Cookie field, and Set-Cookie
// values for a response.
//
//   const auto session = http::cookie(req.headers(), "session");  // from Cookie
//
//   http::SetCookie c;
//   c.name = "session";
//   c.value = token;
//   c.max_age = std::chrono::hours(24);  // Path=/, HttpOnly, SameSite=Lax by default
//   resp.set("Set-Cookie", http::format_set_cookie(c));

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <corio/http/codec.hpp>

namespace corio::http {

/// One name=value pair of a Cookie field, as sent.
struct CookiePair {
    std::string_view name;   ///< the cookie's name
    std::string_view value;  ///< its value, without surrounding double quotes
};

/// The pairs of every Cookie field in `headers`, in order (RFC 6265 §5.4:
/// separated by ';', surrounding spaces dropped, a value in double quotes
/// unquoted). A piece without '=' or with an empty name is skipped. The views
/// point into `headers`.
std::vector<CookiePair> parse_cookies(const Headers& headers);

/// The value of the first cookie named `name` (compared exactly) in the
/// Cookie fields of `headers`, or nullopt; a view into `headers`.
std::optional<std::string_view> cookie(const Headers& headers, std::string_view name);

/// The SameSite attribute of a Set-Cookie.
enum class SameSite : std::uint8_t {
    unset,   ///< not sent (browsers treat it as lax)
    lax,     ///< sent with top-level navigations from other sites
    strict,  ///< sent only with requests from the same site
    none,    ///< sent with cross-site requests too (needs `secure`)
};

/// A cookie for a Set-Cookie field (RFC 6265 §4.1); the defaults suit a
/// session cookie.
struct SetCookie {
    std::string name;   ///< a token
    std::string value;  ///< cookie-octets: no control character, space, '"', ',', ';' or '\'
    /// Max-Age: how long the cookie lives; zero or less removes it; unset: until the
    /// browser closes (a session cookie).
    std::optional<std::chrono::seconds> max_age;
    std::string path = "/";              ///< Path; empty: not sent
    std::string domain;                  ///< Domain; empty: the host that set it only
    bool secure = false;                 ///< Secure: sent over https only
    bool http_only = true;               ///< HttpOnly: not readable by scripts
    SameSite same_site = SameSite::lax;  ///< SameSite
};

/// The value of a Set-Cookie field for `c`: "name=value" and its attributes
/// ("; Max-Age=N; Path=/; Domain=d; Secure; HttpOnly; SameSite=Lax").
/// Throws std::invalid_argument for a name that is not a token, a value with
/// a character outside cookie-octets, a path or domain with a control
/// character or ';', and SameSite=None without `secure` (browsers drop such
/// a cookie).
std::string format_set_cookie(const SetCookie& c);

}  // namespace corio::http
