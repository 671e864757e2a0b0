#include <corio/http/cookie_jar.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <limits>

#include <corio/http/ascii.hpp>

namespace corio::http {

namespace {

using ascii::is_digit;
using namespace std::chrono;

// RFC 6265 §5.1.1 delimiter: %x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E.
bool date_delimiter(char ch) noexcept {
    const auto c = static_cast<unsigned char>(ch);
    return c == 0x09 || (c >= 0x20 && c <= 0x2f) || (c >= 0x3b && c <= 0x40) ||
           (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e);
}

// Reads 1..max digits at t[i...]; false when there are none or more than max.
bool digits(std::string_view t, std::size_t& i, std::size_t min, std::size_t max, int& value) {
    const std::size_t start = i;
    value = 0;
    while (i < t.size() && is_digit(t[i]) && i - start <= max)
        value = value * 10 + (t[i++] - '0');
    return i - start >= min && i - start <= max;
}

// A token's rest after its digits: nothing, or a non-digit and then anything.
bool rest_ok(std::string_view t, std::size_t i) noexcept {
    return i == t.size() || !is_digit(t[i]);
}

bool time_token(std::string_view t, int& h, int& m, int& s) {
    std::size_t i = 0;
    if (!digits(t, i, 1, 2, h) || i >= t.size() || t[i++] != ':') return false;
    if (!digits(t, i, 1, 2, m) || i >= t.size() || t[i++] != ':') return false;
    return digits(t, i, 1, 2, s) && rest_ok(t, i);
}

bool number_token(std::string_view t, std::size_t min, std::size_t max, int& v) {
    std::size_t i = 0;
    return digits(t, i, min, max, v) && rest_ok(t, i);
}

int month_token(std::string_view t) noexcept {
    static constexpr std::array<std::string_view, 12> names = {
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
    if (t.size() < 3) return 0;
    for (std::size_t k = 0; k < names.size(); ++k) {
        if (iequals(t.substr(0, 3), names[k])) return int(k) + 1;
    }
    return 0;
}

// An IP literal: "[...]" (Url keeps IPv6 in brackets) or dotted IPv4. No allocation: it runs
// for every Domain cookie of every request (header_for).
bool is_ip(std::string_view host) noexcept {
    if (host.starts_with('[')) return true;
    if (host.empty() || host.size() > 15) return false;  // "255.255.255.255"
    char buf[16];
    std::memcpy(buf, host.data(), host.size());
    buf[host.size()] = '\0';
    in_addr a{};
    return ::inet_pton(AF_INET, buf, &a) == 1;
}

// §5.1.3: `host` is `domain` or a name under it (never for an IP address).
bool domain_match(std::string_view host, std::string_view domain) {
    if (host == domain) return true;
    return host.size() > domain.size() && host.ends_with(domain) &&
           host[host.size() - domain.size() - 1] == '.' && !is_ip(host);
}

// §5.1.4: `path` is `cookie_path` or under it.
bool path_match(std::string_view path, std::string_view cookie_path) noexcept {
    if (!path.starts_with(cookie_path)) return false;
    return path.size() == cookie_path.size() || cookie_path.ends_with('/') ||
           path[cookie_path.size()] == '/';
}

// §5.1.4: the directory of the URL's path.
std::string default_path(const std::string& path) {
    const std::size_t last = path.rfind('/');
    if (!path.starts_with('/') || last == 0 || last == std::string::npos) return "/";
    return path.substr(0, last);
}

// A cookie's name or value may hold no control character but HTAB (RFC 6265bis §5.6).
bool has_control(std::string_view s) noexcept {
    return std::any_of(s.begin(), s.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return (c < 0x20 && c != 0x09) || c == 0x7f;
    });
}

constexpr CookieTime earliest = CookieTime(seconds(std::numeric_limits<std::int32_t>::min()));

}  // namespace

std::optional<CookieTime> parse_cookie_date(std::string_view s) noexcept {
    using std::chrono::day, std::chrono::month, std::chrono::year;
    bool have_time = false, have_day = false, have_month = false, have_year = false;
    int h = 0, mi = 0, se = 0, d = 0, mo = 0, y = 0;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && date_delimiter(s[i]))
            ++i;
        const std::size_t start = i;
        while (i < s.size() && !date_delimiter(s[i]))
            ++i;
        const std::string_view t = s.substr(start, i - start);
        if (t.empty()) break;
        int a = 0, b = 0, c = 0;
        if (!have_time && time_token(t, a, b, c)) {
            have_time = true;
            h = a, mi = b, se = c;
        } else if (!have_day && number_token(t, 1, 2, a)) {
            have_day = true;
            d = a;
        } else if (!have_month && (a = month_token(t)) != 0) {
            have_month = true;
            mo = a;
        } else if (!have_year && number_token(t, 2, 4, a)) {
            have_year = true;
            y = a;
        }
    }
    if (y >= 70 && y <= 99) y += 1900;
    if (y >= 0 && y <= 69) y += 2000;
    if (!have_time || !have_day || !have_month || !have_year || d < 1 || d > 31 || y < 1601 ||
        h > 23 || mi > 59 || se > 59) {
        return std::nullopt;
    }
    const year_month_day date{year(y), month(unsigned(mo)), day(unsigned(d))};
    if (!date.ok()) return std::nullopt;  // "If no such date exists": 30 February
    return sys_days(date) + hours(h) + minutes(mi) + seconds(se);
}

CookieJar::CookieJar(CookieJarOptions opts) : opts_(std::move(opts)) {}

// max_lifetime, at most 10,000 years whatever the options say: no time made with it overflows.
std::chrono::seconds CookieJar::lifetime() const {
    return std::min(opts_.max_lifetime, seconds(std::int64_t(10000) * 366 * 86400));
}

CookieTime CookieJar::now() const {
    return opts_.clock ? opts_.clock() : floor<seconds>(system_clock::now());
}

std::size_t CookieJar::store(const Url& url, const Headers& response) {
    std::size_t n = 0;
    for (const Header& h : response) {
        if (iequals(h.name, "set-cookie") && set(url, h.value) == CookieRefusal::none) ++n;
    }
    return n;
}

CookieRefusal CookieJar::set(const Url& url, std::string_view line) {
    // §5.2: the name-value pair up to the first ';', then attributes.
    const std::size_t semi = std::min(line.find(';'), line.size());
    const std::string_view pair = line.substr(0, semi);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) return CookieRefusal::malformed;
    StoredCookie c{std::string(ascii::trim_ows(pair.substr(0, eq))),
                   std::string(ascii::trim_ows(pair.substr(eq + 1)))};
    if (c.name.empty() || has_control(c.name) || has_control(c.value)) {
        return CookieRefusal::malformed;
    }
    if (c.name.size() + c.value.size() > opts_.max_name_value) return CookieRefusal::too_large;
    const CookieTime t = now();
    const seconds lifetime = this->lifetime();
    std::optional<CookieTime> expires, max_age;
    std::optional<std::string> domain;
    bool path_given = false;
    std::string_view attrs = line.substr(semi);
    while (!attrs.empty()) {
        attrs.remove_prefix(1);  // the ';'
        const std::size_t end = std::min(attrs.find(';'), attrs.size());
        const std::string_view av = attrs.substr(0, end);
        attrs.remove_prefix(end);
        const std::size_t aeq = std::min(av.find('='), av.size());
        const std::string_view name = ascii::trim_ows(av.substr(0, aeq));
        const std::string_view value = ascii::trim_ows(av.substr(std::min(av.size(), aeq + 1)));
        if (value.size() > 1024) continue;  // RFC 6265bis: an attribute too long is ignored
        if (iequals(name, "expires")) {
            if (auto when = parse_cookie_date(value)) expires = *when;
        } else if (iequals(name, "max-age")) {
            const bool negative = value.starts_with('-');
            const std::string_view num = value.substr(negative ? 1 : 0);
            if (num.empty() || !std::all_of(num.begin(), num.end(), is_digit)) continue;
            if (negative || num.find_first_not_of('0') == std::string_view::npos) {
                max_age = earliest;
            } else {
                // Capped at max_lifetime below; 12 digits and more are over any cap.
                max_age = t + (num.size() > 11 ? lifetime : seconds(std::stoll(std::string(num))));
            }
        } else if (iequals(name, "domain")) {
            if (value.empty()) continue;
            std::string d(value.starts_with('.') ? value.substr(1) : value);
            std::transform(d.begin(), d.end(), d.begin(), ascii::to_lower);
            domain = std::move(d);
        } else if (iequals(name, "path")) {
            // In Url's normal form, as the paths it is compared with (%7e is '~').
            const auto u =
                value.starts_with('/') ? Url::parse("http://h" + std::string(value)) : std::nullopt;
            path_given = u && u->query().empty();
            c.path = path_given ? u->path() : std::string();
        } else if (iequals(name, "secure")) {
            c.secure = true;
        } else if (iequals(name, "httponly")) {
            c.http_only = true;
        } else if (iequals(name, "samesite")) {
            c.same_site = iequals(value, "strict") ? SameSite::strict
                          : iequals(value, "lax")  ? SameSite::lax
                          : iequals(value, "none") ? SameSite::none
                                                   : SameSite::unset;
        }
    }
    // §5.3: expiry (Max-Age over Expires, at most max_lifetime away), domain, path, the
    // secure rules.
    c.expires = max_age ? max_age : expires;
    if (c.expires && *c.expires > t + lifetime) c.expires = t + lifetime;
    const std::string& host = url.host();
    const bool suffix =
        domain && !domain->empty() && opts_.public_suffix && opts_.public_suffix(*domain);
    if (suffix && *domain == host) domain.reset();  // §5.3 step 5: host-only then
    if (domain && !domain->empty() && *domain != host) {
        const bool single_label = domain->find('.') == std::string::npos;
        if (suffix || single_label || is_ip(*domain) || !domain_match(host, *domain)) {
            return CookieRefusal::domain;
        }
        c.host_only = false;
        c.domain = std::move(*domain);
    } else {
        c.domain = host;
        c.host_only = !domain || domain->empty();  // "Domain=." is no Domain
    }
    if (c.path.empty()) c.path = default_path(url.path());
    const bool https = url.scheme() == "https";
    if (c.secure && !https) return CookieRefusal::secure;
    if (ascii::istarts_with(c.name, "__Secure-") && !c.secure) return CookieRefusal::prefix;
    if (ascii::istarts_with(c.name, "__Host-") &&
        (!c.secure || !c.host_only || !path_given || c.path != "/")) {
        return CookieRefusal::prefix;
    }
    // RFC 6265bis §5.6 step 16: from http, no cookie that would shadow a Secure one.
    if (!https) {
        for (const StoredCookie& old : cookies_) {
            if (old.secure && (!old.expires || *old.expires > t) && old.name == c.name &&
                (domain_match(c.domain, old.domain) || domain_match(old.domain, c.domain)) &&
                path_match(c.path, old.path)) {
                return CookieRefusal::secure;
            }
        }
    }
    c.created = c.last_access = t;
    put(std::move(c));
    return CookieRefusal::none;
}

// Stores `c` (created and last used now), replacing the cookie of its name, domain, host-only
// flag and path and keeping that one's creation time; an expired `c` removes that cookie.
void CookieJar::put(StoredCookie c) {
    const auto same = std::find_if(cookies_.begin(), cookies_.end(), [&c](const StoredCookie& o) {
        return o.name == c.name && o.domain == c.domain && o.host_only == c.host_only &&
               o.path == c.path;
    });
    const bool expired = c.expires && *c.expires <= c.created;
    if (same != cookies_.end()) {
        if (expired) {
            cookies_.erase(same);
        } else {
            c.created = same->created;
            *same = std::move(c);
        }
        return;
    }
    if (expired) return;  // nothing to remove: nothing stored
    const std::string d = c.domain;
    cookies_.push_back(std::move(c));
    evict(d);
}

void CookieJar::evict(const std::string& domain) {
    // One site's cookies count together when the options say what a site is.
    const auto site_of = [this](const std::string& d) {
        std::string s = opts_.site ? opts_.site(d) : std::string();
        return s.empty() ? d : s;
    };
    const std::string site = site_of(domain);
    const auto in_domain = [&](const StoredCookie& c) { return site_of(c.domain) == site; };
    const auto count = [this](const auto& pred) {
        return std::size_t(std::count_if(cookies_.begin(), cookies_.end(), pred));
    };
    // RFC 6265bis §5.7: the expired first, then the least recently used of those not Secure,
    // then the least recently used; so an http response that sets many cookies cannot push
    // a Secure one out and then shadow it.
    const auto remove_lru = [this](const auto& pred) {
        auto victim = cookies_.end();
        for (int pass = 0; pass < 2 && victim == cookies_.end(); ++pass) {
            for (auto it = cookies_.begin(); it != cookies_.end(); ++it) {
                if (!pred(*it) || (pass == 0 && it->secure)) continue;
                if (victim == cookies_.end() || it->last_access < victim->last_access) victim = it;
            }
        }
        cookies_.erase(victim);
    };
    if (count(in_domain) > opts_.max_per_domain || cookies_.size() > opts_.max_total) {
        remove_expired();
    }
    while (count(in_domain) > opts_.max_per_domain)
        remove_lru(in_domain);
    while (cookies_.size() > opts_.max_total)
        remove_lru([](const StoredCookie&) { return true; });
}

std::string CookieJar::header_for(const Url& url) {
    remove_expired();
    const std::string& host = url.host();
    const bool https = url.scheme() == "https";
    std::vector<StoredCookie*> sent;
    for (StoredCookie& c : cookies_) {
        const bool host_ok = c.host_only ? host == c.domain : domain_match(host, c.domain);
        if (host_ok && path_match(url.path(), c.path) && (!c.secure || https)) sent.push_back(&c);
    }
    // §5.4 step 2: longer paths first, then earlier creation (cookies_ is in creation order).
    std::stable_sort(sent.begin(), sent.end(), [](const StoredCookie* a, const StoredCookie* b) {
        return a->path.size() > b->path.size();
    });
    std::string out;
    const CookieTime t = sent.empty() ? CookieTime() : now();
    for (StoredCookie* c : sent) {
        if (!out.empty()) out += "; ";
        out += c->name;
        out += '=';
        out += c->value;
        c->last_access = t;
    }
    return out;
}

std::vector<StoredCookie> CookieJar::cookies() const {
    const CookieTime t = now();
    std::vector<StoredCookie> out;
    for (const StoredCookie& c : cookies_) {
        if (!c.expires || *c.expires > t) out.push_back(c);
    }
    return out;
}

void CookieJar::clear_session() {
    std::erase_if(cookies_, [](const StoredCookie& c) { return !c.expires; });
}

void CookieJar::remove_expired() {
    const CookieTime t = now();
    std::erase_if(cookies_, [t](const StoredCookie& c) { return c.expires && *c.expires <= t; });
}

std::string CookieJar::to_cookie_file() const {
    std::string out = "# Netscape HTTP Cookie File\n# Written by corio's http::CookieJar.\n\n";
    for (const StoredCookie& c : cookies()) {
        // Left out (see the header): a tab in the name or value, an expiry before 1970.
        if (c.name.find('\t') != std::string::npos || c.value.find('\t') != std::string::npos) {
            continue;
        }
        if (c.expires && c.expires->time_since_epoch().count() <= 0) continue;
        if (c.http_only) out += "#HttpOnly_";
        out += c.host_only ? "" : ".";
        out += c.domain;
        out += c.host_only ? "\tFALSE\t" : "\tTRUE\t";
        out += c.path;
        out += c.secure ? "\tTRUE\t" : "\tFALSE\t";
        out += std::to_string(c.expires ? c.expires->time_since_epoch().count() : 0);
        out += '\t';
        out += c.name;
        out += '\t';
        out += c.value;
        out += '\n';
    }
    return out;
}

CookieJar::FileLoad CookieJar::add_cookie_file(std::string_view text) {
    FileLoad r;
    const CookieTime t = now();
    while (!text.empty()) {
        const std::size_t nl = std::min(text.find('\n'), text.size());
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(std::min(text.size(), nl + 1));
        if (line.ends_with('\r')) line.remove_suffix(1);
        StoredCookie c{{}, {}};
        if (line.starts_with("#HttpOnly_")) {
            c.http_only = true;
            line.remove_prefix(10);
        } else if (line.starts_with('#') || ascii::trim_ows(line).empty()) {
            continue;
        }
        std::array<std::string_view, 7> f;
        std::size_t n = 0;
        for (; n < f.size() && !line.empty(); ++n) {
            const std::size_t tab = std::min(line.find('\t'), line.size());
            f[n] = line.substr(0, tab);
            line.remove_prefix(std::min(line.size(), tab + 1));
        }
        std::uint64_t expiry = 0;  // 0 or empty (Python's MozillaCookieJar): a session cookie
        const auto [end, ec] = std::from_chars(f[4].data(), f[4].data() + f[4].size(), expiry);
        const bool expiry_ok =
            f[4].empty() || (ec == std::errc{} && end == f[4].data() + f[4].size());
        const bool ok = (n == 7 || n == 6) && line.empty() && f[0] != "." && !f[0].empty() &&
                        (f[1] == "TRUE" || f[1] == "FALSE") && f[2].starts_with('/') &&
                        (f[3] == "TRUE" || f[3] == "FALSE") && expiry_ok && !f[5].empty() &&
                        !has_control(f[0]) && !has_control(f[2]) && !has_control(f[5]) &&
                        !has_control(f[6]) && f[5].size() + f[6].size() <= opts_.max_name_value;
        // Capped at max_lifetime, as set() does (and so no time made from it overflows).
        const std::int64_t cap = (t + lifetime()).time_since_epoch().count();
        if (cap > 0 && expiry > std::uint64_t(cap)) expiry = std::uint64_t(cap);
        if (!ok || (expiry != 0 && CookieTime(seconds(expiry)) <= t)) {
            ++r.skipped;
            continue;
        }
        c.host_only = f[1] == "FALSE";
        // A Domain cookie's leading '.' is the format's; a host-only one keeps its name as is.
        c.domain = std::string(!c.host_only && f[0].starts_with('.') ? f[0].substr(1) : f[0]);
        for (std::size_t k = 0; k < c.domain.size(); ++k) {
            if (c.domain[k] == '%')
                k += 2;  // an escape's hex stays as Url has it (uppercase)
            else
                c.domain[k] = ascii::to_lower(c.domain[k]);
        }
        c.path = std::string(f[2]);
        c.secure = f[3] == "TRUE";
        if (expiry != 0) c.expires = CookieTime(seconds(expiry));
        c.name = std::string(f[5]);
        c.value = std::string(f[6]);
        c.created = c.last_access = t;
        put(std::move(c));
        ++r.added;
    }
    return r;
}

}  // namespace corio::http
