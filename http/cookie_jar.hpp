#pragma once
// A client's cookie store (RFC 6265 §5.2-5.4, with RFC 6265bis's Secure and
// prefix rules): the Set-Cookie fields of responses go in, the Cookie field of
// the next request to a matching URL comes out. http::Client does both on
// every hop when ClientOptions::cookies holds a jar.
//
//   auto jar = std::make_shared<http::CookieJar>();
//   http::ClientOptions o;
//   o.cookies = jar;
//   http::Client client(o);
//   co_await client.fetch(login);           // Set-Cookie: session=...; Path=/
//   co_await client.get(url + "/account");  // Cookie: session=...
//
// A jar belongs to one loop, as a Client does (no locks); several Clients of
// that loop may share it.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <corio/http/codec.hpp>
#include <corio/http/cookie.hpp>
#include <corio/http/url.hpp>

namespace corio::http {

/// The wall-clock time cookies expire by, to the second.
using CookieTime = std::chrono::sys_seconds;

/// Parses a date as RFC 6265 §5.1.1 reads a cookie's Expires attribute: any of
/// the formats servers use ("Sun, 06 Nov 1994 08:49:37 GMT", "Sunday,
/// 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", ...); nullopt when a
/// part is missing or out of range. Two-digit years 70-99 are 19xx, 00-69
/// 20xx; years before 1601 are refused.
std::optional<CookieTime> parse_cookie_date(std::string_view s) noexcept;

/// A cookie the jar holds (RFC 6265 §5.3's record).
struct StoredCookie {
    std::string name;   ///< its name
    std::string value;  ///< its value, as the server sent it
    /// The host it was set by (host_only) or the Domain attribute's value,
    /// lowercase, without a leading '.'.
    std::string domain{};
    std::string path{};  ///< the Path attribute, or the default path of the URL that set it
    /// When it expires; unset: a session cookie (until clear_session()).
    std::optional<CookieTime> expires{};
    CookieTime created{};      ///< when it was first stored (kept when replaced)
    CookieTime last_access{};  ///< when it was last stored or sent
    bool host_only = true;     ///< sent to `domain` only, not to its subdomains
    bool secure = false;       ///< sent over https only
    bool http_only = false;    ///< HttpOnly (kept; a client has no scripts to hide it from)
    SameSite same_site = SameSite::unset;  ///< SameSite, kept (see CookieJar)
};

/// How a CookieJar behaves.
struct CookieJarOptions {
    /// Cookies kept per domain (per site, with `site`); beyond, one of the
    /// domain goes: the least recently used of those not Secure, else the
    /// least recently used (RFC 6265 §6.1 asks for at least 50; RFC 6265bis
    /// §5.7's order).
    std::size_t max_per_domain = 50;
    /// Cookies kept in all; beyond, the least recently used not Secure goes,
    /// else the least recently used (at least 3000).
    std::size_t max_total = 3000;
    /// A Set-Cookie whose name and value together are longer is ignored (RFC
    /// 6265bis: 4096); an attribute value longer than 1024 bytes is ignored.
    std::size_t max_name_value = 4096;
    /// Expires and Max-Age further away are taken as this far (RFC 6265bis:
    /// 400 days).
    std::chrono::seconds max_lifetime = std::chrono::hours(24 * 400);
    /// The time cookies expire by; null: the system clock.
    std::function<CookieTime()> clock{};
    /// True for a public suffix ("com", "co.uk", "github.io"): a Domain
    /// attribute naming one is refused, unless it names the host itself
    /// (then the cookie is host-only), as browsers do with the Public Suffix
    /// List. Null: only single labels and IP addresses are refused.
    /// PublicSuffixList::checker() gives one.
    std::function<bool(std::string_view domain)> public_suffix{};
    /// The site a cookie's domain belongs to, for max_per_domain: the cookies
    /// of one site count together, so "a.example.com" and "b.example.com"
    /// share example.com's limit and a site with many subdomains cannot push
    /// other sites' cookies out. An empty answer: the domain on its own.
    /// Null: every exact domain on its own. PublicSuffixList::site_of() gives
    /// one (the registrable domain).
    std::function<std::string(std::string_view domain)> site{};
};

/// Why CookieJar::set() ignored a Set-Cookie field.
enum class CookieRefusal : std::uint8_t {
    none,       ///< stored (or, expired, removed the one it replaces)
    malformed,  ///< no '=' in its name-value pair, an empty name, a control character
    too_large,  ///< name and value longer than CookieJarOptions::max_name_value
    domain,     ///< a Domain the URL's host is not in, a single label, or an IP address's
    secure,     ///< Secure from an http URL, or replacing a Secure cookie from one
    prefix,     ///< a __Secure- or __Host- name without what its prefix requires
};

/// A client's cookies, by RFC 6265 §5.3 (storage) and §5.4 (the Cookie field),
/// with RFC 6265bis's rules that browsers follow: a Secure cookie can be set
/// from https only, an http response cannot replace or shadow a Secure one,
/// and the __Secure- and __Host- name prefixes are enforced.
///
/// A Domain attribute naming a single label ("com") or an IP address other
/// than the host's own is refused; one of more labels ("co.uk") is refused
/// when CookieJarOptions::public_suffix says so (a PublicSuffixList, loaded
/// from the system's copy, answers as browsers do). Limits count cookies by
/// their exact domain, or by site with CookieJarOptions::site; by exact
/// domain, a site with many subdomains can push other sites' cookies out of
/// a full jar (Secure ones last). SameSite is kept and not acted on: a Client's requests are all
/// its own (same-site) navigations. Expiry follows the jar's clock (system time by default).
class CookieJar {
public:
    /// An empty jar with `opts`.
    explicit CookieJar(CookieJarOptions opts = {});

    /// Stores every Set-Cookie field of `response` received for `url`.
    /// Returns how many were not refused (CookieRefusal::none).
    std::size_t store(const Url& url, const Headers& response);
    /// Stores one Set-Cookie field value received for `url` (§5.2 parsing,
    /// §5.3 storage): replaces a cookie of the same name, domain, host-only
    /// flag and path (keeping its creation time); an expiry in the past
    /// removes it instead.
    /// Expires and Max-Age are capped at CookieJarOptions::max_lifetime; a
    /// Path is compared in Url's normal form (escapes as Url::path() has them).
    CookieRefusal set(const Url& url, std::string_view set_cookie);
    /// The Cookie field value for a request to `url` ("a=1; b=2": longer paths
    /// first, then older cookies first); empty when no cookie matches. Marks
    /// the cookies sent as used, and drops the expired ones.
    std::string header_for(const Url& url);

    /// The cookies held (not expired), in the order they were created.
    std::vector<StoredCookie> cookies() const;
    /// Number of cookies held, expired ones not yet dropped included.
    std::size_t size() const noexcept { return cookies_.size(); }
    /// Removes every cookie.
    void clear() noexcept { cookies_.clear(); }
    /// Removes the session cookies (those without Expires or Max-Age), as a
    /// browser does when it is closed.
    void clear_session();
    /// Removes the cookies that have expired.
    void remove_expired();

    /// The cookies held (not expired) as a Netscape cookie file, the format
    /// curl (`-b`/`-c`) and wget read and write: a header comment, then a line
    /// per cookie of seven tab-separated fields (domain, with a leading '.'
    /// for a Domain cookie; TRUE/FALSE for subdomains; path; TRUE/FALSE for
    /// Secure; the expiry in Unix seconds, 0 for a session cookie; name;
    /// value), "#HttpOnly_" before the domain of an HttpOnly one. SameSite and
    /// the creation times are not kept. Left out: a cookie whose name or value
    /// holds a tab (the format's separator; RFC 6265bis allows it) and one
    /// expiring before 1970 (a clock of the caller's can make one). Python's
    /// MozillaCookieJar reads the 0 of a session cookie as expired unless told
    /// to ignore expiry.
    std::string to_cookie_file() const;
    /// What add_cookie_file() did.
    struct FileLoad {
        /// Cookie lines taken (stored, replacing one, or pushed out by the limits).
        std::size_t added = 0;
        std::size_t skipped = 0;  ///< lines neither comments nor cookies, and expired cookies
    };
    /// Adds the cookies of a Netscape cookie file (as to_cookie_file() writes
    /// it, or curl, wget or Python's MozillaCookieJar do), replacing those of
    /// the same name, domain, host-only flag and path, within the jar's
    /// limits. A file is trusted input: its cookies are taken as written,
    /// without set()'s Domain, Secure and prefix rules; an expiry is capped at
    /// max_lifetime, and an empty one is a session cookie. Comment and blank
    /// lines are passed over; a line without seven fields (six: an empty
    /// value), with a field out of form (an empty name, a control character, a
    /// path not from '/', an expiry not a number) or already expired is
    /// skipped and counted.
    FileLoad add_cookie_file(std::string_view text);

private:
    CookieTime now() const;
    std::chrono::seconds lifetime() const;
    void put(StoredCookie c);
    void evict(const std::string& domain);

    CookieJarOptions opts_;
    std::vector<StoredCookie> cookies_;  // in creation order
};

}  // namespace corio::http
