// Fuzz target for http::CookieJar and parse_cookie_date (http/cookie_jar.hpp). Each input
// line is a Set-Cookie value received for one of a few URLs (the line's first byte picks it;
// some bytes move the clock). Checks after each line: the jar's bounds hold, what it holds
// is well formed (a name, no control character, a path from '/', a host-only cookie on its
// host), no Secure cookie is set or changed from http, the Cookie field for every URL holds no
// control character and only cookies held, and a cookie date is within 1601-9999. Violations call
// abort().
#include <corio/http/cookie_jar.hpp>

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace corio::http;
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
    CookieJarLimits limits;
    limits.max_per_domain = 4;
    limits.max_total = 8;
    limits.max_name_value = 64;
    CookieJar jar(limits, [&now] { return now; });
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
        std::vector<StoredCookie> secure_before;
        for (const StoredCookie& c : jar.cookies()) {
            if (c.secure) secure_before.push_back(c);
        }
        (void)jar.set(url, line);
        require(jar.size() <= limits.max_total, "more cookies than max_total");
        std::map<std::string, std::size_t> per_domain;
        for (const StoredCookie& c : jar.cookies()) {
            require(++per_domain[c.domain] <= limits.max_per_domain, "over max_per_domain");
            require(!c.name.empty() && clean(c.name) && clean(c.value), "a malformed cookie");
            require(c.name.size() + c.value.size() <= limits.max_name_value, "a cookie too large");
            require(c.path.starts_with('/'), "a path not from '/'");
            require(!c.expires || *c.expires > now, "an expired cookie held");
            // From http, no Secure cookie is added or changed (eviction may remove one).
            if (c.secure && url.scheme() == "http") {
                bool kept = false;
                for (const StoredCookie& o : secure_before) {
                    kept = kept || (o.name == c.name && o.value == c.value &&
                                    o.domain == c.domain && o.path == c.path);
                }
                require(kept, "a Secure cookie set or changed from http");
            }
            bool on_a_host = false;
            for (const Url& u : urls)
                on_a_host = on_a_host || u.host() == c.domain;
            require(!c.host_only || on_a_host, "a host-only cookie on no host");
        }
        for (const Url& u : urls) {
            const std::string field = jar.header_for(u);
            require(clean(field), "a control character in the Cookie field");
            std::size_t most = 0;
            for (const StoredCookie& c : jar.cookies())
                most += c.name.size() + c.value.size() + 3;
            require(field.size() <= most, "the Cookie field holds more than the jar");
        }
    }
    return 0;
}
