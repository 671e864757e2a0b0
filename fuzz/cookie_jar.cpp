// Fuzz target for http::CookieJar and parse_cookie_date (http/cookie_jar.hpp). Each input
// line is a Set-Cookie value received for one of a few URLs (the line's first byte picks it;
// some bytes move the clock). Checks after each line: the jar's bounds hold; what it holds is
// well formed (a name, no control character, a path from '/', a host-only cookie on its
// host, no expired one once remove_expired() ran); from http, no Secure cookie is added,
// changed or removed, and no plain cookie set shadows one; the Cookie field for the line's
// URL is what an independent matcher (RFC 6265 §5.4) makes of the cookies held; a cookie date
// is within 1601-9999. At the end, a cookie file written and read back gives the same
// cookies, and the input read as a cookie file stays within the limits. Violations call
// abort().
#include <corio/http/cookie_jar.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace corio::http;

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

bool clean(std::string_view s) {
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    }
    return true;
}

// The oracle's own matching (RFC 6265 §5.1.3, §5.1.4); the hosts below that are addresses
// are the two literals.
bool domain_ok(std::string_view host, std::string_view domain) {
    if (host == domain) return true;
    const bool address = host == "10.0.0.1" || host.starts_with('[');
    return !address && host.size() > domain.size() && host.ends_with(domain) &&
           host[host.size() - domain.size() - 1] == '.';
}

bool path_ok(std::string_view path, std::string_view cp) {
    return path == cp || (path.starts_with(cp) && (cp.ends_with('/') || path[cp.size()] == '/'));
}

std::string expected_field(const std::vector<StoredCookie>& held, const Url& u) {
    std::vector<const StoredCookie*> sent;
    for (const StoredCookie& c : held) {
        const bool host = c.host_only ? u.host() == c.domain : domain_ok(u.host(), c.domain);
        if (host && path_ok(u.path(), c.path) && (!c.secure || u.scheme() == "https")) {
            sent.push_back(&c);
        }
    }
    std::stable_sort(sent.begin(), sent.end(), [](const StoredCookie* a, const StoredCookie* b) {
        return a->path.size() > b->path.size();
    });
    std::string out;
    for (const StoredCookie* c : sent)
        out += (out.empty() ? "" : "; ") + c->name + "=" + c->value;
    return out;
}

bool same(const StoredCookie& a, const StoredCookie& b) {
    return a.name == b.name && a.value == b.value && a.domain == b.domain && a.path == b.path &&
           a.host_only == b.host_only && a.secure == b.secure;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace std::chrono;
    static const std::vector<Url> urls = [] {
        std::vector<Url> u;
        for (const char* s : {"http://example.com/", "https://www.example.com/a/b",
                              "http://a.b.example.com/a", "https://10.0.0.1/x/", "http://[::1]/",
                              "https://localhost/", "http://co.uk/p", "https://x.co.uk/"}) {
            u.push_back(*Url::parse(s));
        }
        return u;
    }();
    CookieTime now = sys_days(year(2026) / December / 5);
    CookieJarOptions o;
    o.max_per_domain = 4;
    o.max_total = 8;
    o.max_name_value = 64;
    o.max_lifetime = seconds(1000);  // expiry within an input's clock steps
    o.clock = [&now] { return now; };
    CookieJar jar(o);
    std::string_view in(reinterpret_cast<const char*>(data), size);
    while (!in.empty()) {
        const std::size_t nl = std::min(in.find('\n'), in.size());
        std::string_view line = in.substr(0, nl);
        in.remove_prefix(std::min(in.size(), nl + 1));
        if (line.empty()) continue;
        const auto pick = static_cast<unsigned char>(line[0]);
        line.remove_prefix(1);
        if (pick >= 0xf0) now += seconds(pick - 0xef);  // 1..16 seconds later
        const Url& url = urls[pick % urls.size()];
        if (const auto when = parse_cookie_date(line)) {
            require(*when >= sys_days(year(1601) / January / 1) &&
                        *when < sys_days(year(10000) / January / 1),
                    "a cookie date out of range");
        }
        const std::vector<StoredCookie> before = jar.cookies();
        (void)jar.set(url, line);
        jar.remove_expired();
        const std::vector<StoredCookie> after = jar.cookies();
        require(jar.size() == after.size(), "an expired cookie held after remove_expired()");
        require(after.size() <= o.max_total, "more cookies than max_total");
        std::map<std::string, std::size_t> per_domain;
        for (const StoredCookie& c : after) {
            require(++per_domain[c.domain] <= o.max_per_domain, "over max_per_domain");
            require(!c.name.empty() && clean(c.name) && clean(c.value), "a malformed cookie");
            require(c.name.size() + c.value.size() <= o.max_name_value, "a cookie too large");
            require(c.path.starts_with('/'), "a path not from '/'");
            require(!c.expires || *c.expires <= now + o.max_lifetime, "past max_lifetime");
            bool on_a_host = false;
            for (const Url& u : urls)
                on_a_host = on_a_host || u.host() == c.domain;
            require(!c.host_only || on_a_host, "a host-only cookie on no host");
        }
        if (url.scheme() == "http") {
            // Secure cookies: none added, changed or removed (eviction takes plain ones first).
            std::vector<StoredCookie> secure_before, secure_after;
            for (const StoredCookie& c : before) {
                if (c.secure) secure_before.push_back(c);
            }
            for (const StoredCookie& c : after) {
                if (c.secure) secure_after.push_back(c);
            }
            require(std::equal(secure_before.begin(), secure_before.end(), secure_after.begin(),
                               secure_after.end(), same),
                    "a Secure cookie added, changed or removed from http");
            // A plain cookie this line set does not shadow a Secure one.
            for (const StoredCookie& c : after) {
                const bool held = std::any_of(before.begin(), before.end(),
                                              [&c](const StoredCookie& b) { return same(b, c); });
                if (held) continue;
                for (const StoredCookie& s : secure_after) {
                    require(!(s.name == c.name &&
                              (domain_ok(c.domain, s.domain) || domain_ok(s.domain, c.domain)) &&
                              path_ok(c.path, s.path)),
                            "an http cookie shadows a Secure one");
                }
            }
        }
        const std::string field = jar.header_for(url);
        require(clean(field), "a control character in the Cookie field");
        require(field == expected_field(after, url), "the Cookie field is not RFC 6265 §5.4's");
    }
    // A cookie file written and read back holds the same cookies (but those with a tab, which
    // the format cannot carry); the input read as a cookie file is taken or skipped, line by
    // line, within the limits.
    CookieJar copy(o);
    const auto load = copy.add_cookie_file(jar.to_cookie_file());
    std::vector<StoredCookie> want;
    for (const StoredCookie& c : jar.cookies()) {
        if ((c.name + c.value).find('\t') == std::string::npos) want.push_back(c);
    }
    const std::vector<StoredCookie> got = copy.cookies();
    require(load.skipped == 0 && load.added == want.size(), "a cookie file line not read back");
    require(std::equal(want.begin(), want.end(), got.begin(), got.end(),
                       [](const StoredCookie& a, const StoredCookie& b) {
                           return same(a, b) && a.http_only == b.http_only &&
                                  a.expires == b.expires;
                       }),
            "a cookie file read back differs");
    CookieJar raw(o);
    const auto r = raw.add_cookie_file(std::string_view(reinterpret_cast<const char*>(data), size));
    require(raw.size() <= o.max_total && raw.size() <= r.added, "a cookie file past the limits");
    return 0;
}
