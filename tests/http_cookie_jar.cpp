// CookieJar (RFC 6265 §5.1-5.4, RFC 6265bis's Secure and prefix rules) on a
// manual clock: cookie dates, host-only and Domain cookies, default paths and
// path matching, expiry (Max-Age over Expires, removal, session cookies), the
// Secure rules, __Secure- and __Host-, replacement, the Cookie field's order,
// limits and eviction, and what is refused.
#include <catch2/catch.hpp>

#include <corio/http/cookie_jar.hpp>

namespace http_cookie_jar_test {

using namespace corio;
using namespace std::chrono;
using http::CookieRefusal;

namespace {

http::Url url(std::string_view s) {
    auto u = http::Url::parse(s);
    REQUIRE(u);
    return *u;
}

http::CookieTime at(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
    return sys_days(year(y) / month(mo) / day(d)) + hours(h) + minutes(mi) + seconds(s);
}

/// A jar on a clock the test moves.
struct Jar {
    http::CookieTime now = at(2026, 12, 5, 12);
    http::CookieJar jar;
    explicit Jar(http::CookieJarOptions o = {}) : jar(with_clock(std::move(o), &now)) {}
    static http::CookieJarOptions with_clock(http::CookieJarOptions o, http::CookieTime* t) {
        o.clock = [t] { return *t; };
        return o;
    }
    CookieRefusal set(std::string_view u, std::string_view line) { return jar.set(url(u), line); }
    std::string get(std::string_view u) { return jar.header_for(url(u)); }
};

/// The names of the cookies held, in creation order.
std::string names(const http::CookieJar& jar) {
    std::string out;
    for (const auto& c : jar.cookies())
        out += (out.empty() ? "" : " ") + c.name;
    return out;
}

}  // namespace

TEST_CASE("cookie jar: cookie dates as RFC 6265 §5.1.1 reads them", "[http][cookie]") {
    const auto want = at(1994, 11, 6, 8, 49, 37);
    CHECK(http::parse_cookie_date("Sun, 06 Nov 1994 08:49:37 GMT") == want);
    CHECK(http::parse_cookie_date("Sunday, 06-Nov-94 08:49:37 GMT") == want);
    CHECK(http::parse_cookie_date("Sun Nov  6 08:49:37 1994") == want);
    CHECK(http::parse_cookie_date("6 nov 1994 8:49:37") == want);
    CHECK(http::parse_cookie_date("Thu, 01-Jan-2037 00:00:00 GMT") == at(2037, 1, 1));
    CHECK(http::parse_cookie_date("Wed, 09 Jun 21 10:18:14 GMT") == at(2021, 6, 9, 10, 18, 14));
    CHECK(http::parse_cookie_date("Fri, 31 Dec 9999 23:59:59 GMT") == at(9999, 12, 31, 23, 59, 59));
    CHECK(http::parse_cookie_date("Tue, 29 Feb 2028 00:00:00 GMT") == at(2028, 2, 29));
    CHECK(http::parse_cookie_date("September 1 2030 12:00:00xyz") == at(2030, 9, 1, 12));
    CHECK_FALSE(http::parse_cookie_date(""));
    CHECK_FALSE(http::parse_cookie_date("Sun, 06 Nov 1994"));            // no time
    CHECK_FALSE(http::parse_cookie_date("Sun, 06 1994 08:49:37 GMT"));   // no month
    CHECK_FALSE(http::parse_cookie_date("Sun, 32 Nov 1994 08:49:37"));   // day 32
    CHECK_FALSE(http::parse_cookie_date("Sun, 30 Feb 1994 08:49:37"));   // no such date
    CHECK_FALSE(http::parse_cookie_date("Sun, 06 Nov 1600 08:49:37"));   // before 1601
    CHECK_FALSE(http::parse_cookie_date("Sun, 06 Nov 1994 24:00:00"));   // hour 24
    CHECK_FALSE(http::parse_cookie_date("Sun, 06 Nov 1994 08:60:00"));   // minute 60
    CHECK_FALSE(http::parse_cookie_date("Sun, 06 Nov 1994 08:49:377"));  // three digits
    CHECK_FALSE(http::parse_cookie_date("Sun, 06 Nov 19945 08:49:37"));  // five-digit year
    CHECK_FALSE(http::parse_cookie_date(std::string(5000, '9')));
}

TEST_CASE("cookie jar: host-only cookies, default paths, path matching", "[http][cookie]") {
    Jar j;
    CHECK(j.set("http://example.com/docs/a/page.html", "a=1") == CookieRefusal::none);
    CHECK(j.set("http://example.com/docs/a/page.html", " b = two words ; Path=/") ==
          CookieRefusal::none);
    CHECK(j.set("http://example.com/top", "c=3") == CookieRefusal::none);  // default path "/"
    CHECK(j.set("http://example.com/x", "d=4; Path=relative") == CookieRefusal::none);  // "/"
    REQUIRE(j.jar.size() == 4);
    const auto all = j.jar.cookies();
    CHECK(all[0].path == "/docs/a");
    CHECK(all[0].domain == "example.com");
    CHECK(all[0].host_only);
    CHECK_FALSE(all[0].expires);
    CHECK(all[1].value == "two words");
    CHECK(all[2].path == "/");
    CHECK(all[3].path == "/");
    // Longer paths first, then older first.
    CHECK(j.get("http://example.com/docs/a") == "a=1; b=two words; c=3; d=4");
    CHECK(j.get("http://example.com/docs/a/b/c") == "a=1; b=two words; c=3; d=4");
    CHECK(j.get("http://example.com/docs/ab") == "b=two words; c=3; d=4");
    CHECK(j.get("http://example.com/docs") == "b=two words; c=3; d=4");
    // Host-only: not for subdomains, other hosts or ports' hosts by another name.
    CHECK(j.get("http://www.example.com/docs/a") == "");
    CHECK(j.get("http://example.org/") == "");
    CHECK(j.get("http://EXAMPLE.com:8080/") == "b=two words; c=3; d=4");  // ports do not matter
    CHECK(j.get("https://example.com/") == "b=two words; c=3; d=4");
    // A Path ending in '/' matches what is under it.
    CHECK(j.set("http://example.com/", "e=5; Path=/api/") == CookieRefusal::none);
    CHECK(j.get("http://example.com/api/v1") == "e=5; b=two words; c=3; d=4");
    CHECK(j.get("http://example.com/api") == "b=two words; c=3; d=4");
}

TEST_CASE("cookie jar: Domain cookies and the domains refused", "[http][cookie]") {
    Jar j;
    CHECK(j.set("http://www.example.com/", "a=1; Domain=example.com") == CookieRefusal::none);
    CHECK(j.set("http://www.example.com/", "b=2; Domain=.EXAMPLE.com") == CookieRefusal::none);
    CHECK(j.set("http://www.example.com/", "c=3; Domain=www.example.com") == CookieRefusal::none);
    CHECK(j.set("http://www.example.com/", "d=4; Domain=") == CookieRefusal::none);   // ignored
    CHECK(j.set("http://www.example.com/", "e=5; Domain=.") == CookieRefusal::none);  // no Domain
    const auto all = j.jar.cookies();
    REQUIRE(all.size() == 5);
    CHECK(all[1].domain == "example.com");
    CHECK_FALSE(all[1].host_only);
    CHECK_FALSE(all[2].host_only);  // a Domain naming the host: its subdomains too
    CHECK(all[3].host_only);
    CHECK(all[4].host_only);
    CHECK(j.get("http://example.com/") == "a=1; b=2");
    CHECK(j.get("http://a.b.example.com/") == "a=1; b=2");
    CHECK(j.get("http://x.www.example.com/") == "a=1; b=2; c=3");
    CHECK(j.get("http://www.example.com/") == "a=1; b=2; c=3; d=4; e=5");
    CHECK(j.get("http://badexample.com/") == "");
    // Another site, a subdomain of the host, a single label, an IP address.
    CHECK(j.set("http://www.example.com/", "x=1; Domain=example.org") == CookieRefusal::domain);
    CHECK(j.set("http://www.example.com/", "x=1; Domain=a.www.example.com") ==
          CookieRefusal::domain);
    CHECK(j.set("http://www.example.com/", "x=1; Domain=com") == CookieRefusal::domain);
    CHECK(j.set("http://localhost/", "x=1; Domain=localhost") == CookieRefusal::none);
    CHECK(j.set("http://10.0.0.1/", "y=1; Domain=0.0.1") == CookieRefusal::domain);
    CHECK(j.set("http://10.0.0.1/", "y=1; Domain=10.0.0.1") == CookieRefusal::none);
    CHECK(j.set("http://10.0.0.1/", "z=1; Domain=1.10.0.0.1") == CookieRefusal::domain);
    CHECK(j.get("http://10.0.0.1/") == "y=1");
    CHECK(j.get("http://[::1]/") == "");
    CHECK(j.set("http://[::1]:8080/", "v6=1") == CookieRefusal::none);
    CHECK(j.get("http://[::1]/") == "v6=1");
}

TEST_CASE("cookie jar: expiry: Max-Age over Expires, removal, session cookies", "[http][cookie]") {
    Jar j;
    const std::string u = "http://example.com/";
    CHECK(j.set(u, "a=1; Max-Age=60") == CookieRefusal::none);
    CHECK(j.set(u, "b=2; Expires=Sat, 05 Dec 2026 12:02:00 GMT") == CookieRefusal::none);
    CHECK(j.set(u, "c=3; Max-Age=3600; Expires=Sat, 05 Dec 2026 12:00:30 GMT") ==
          CookieRefusal::none);
    CHECK(j.set(u, "d=4; Expires=garbage") == CookieRefusal::none);  // a session cookie
    CHECK(j.set(u, "e=5; Max-Age=1x") == CookieRefusal::none);       // ignored: session
    CHECK(j.set(u, "f=6; Max-Age=99999999999999999999") == CookieRefusal::none);
    CHECK(j.get(u) == "a=1; b=2; c=3; d=4; e=5; f=6");
    j.now += seconds(59);
    CHECK(j.get(u) == "a=1; b=2; c=3; d=4; e=5; f=6");
    j.now += seconds(1);  // a's minute is up; c's Expires (12:00:30) does not count
    CHECK(j.get(u) == "b=2; c=3; d=4; e=5; f=6");
    j.now += minutes(1);
    CHECK(j.get(u) == "c=3; d=4; e=5; f=6");
    CHECK(j.jar.size() == 4);  // header_for drops the expired
    // Max-Age=0, a negative one, or an Expires in the past remove a cookie.
    CHECK(j.set(u, "c=gone; Max-Age=0") == CookieRefusal::none);
    CHECK(j.set(u, "d=gone; Max-Age=-5") == CookieRefusal::none);
    CHECK(j.set(u, "e=gone; Expires=Thu, 01 Jan 1970 00:00:00 GMT") == CookieRefusal::none);
    CHECK(j.get(u) == "f=6");
    CHECK(j.set(u, "new=1; Max-Age=0") == CookieRefusal::none);  // nothing stored
    CHECK(j.jar.size() == 1);
    // f's Max-Age is capped at 400 days (RFC 6265bis), from when it was set.
    REQUIRE(j.jar.cookies().size() == 1);
    CHECK(*j.jar.cookies()[0].expires == at(2026, 12, 5, 12) + days(400));
    // clear_session() keeps the persistent ones.
    CHECK(j.set(u, "s=1") == CookieRefusal::none);
    CHECK(j.get(u) == "f=6; s=1");
    j.jar.clear_session();
    CHECK(j.get(u) == "f=6");
    j.jar.clear();
    CHECK(j.jar.size() == 0);
}

TEST_CASE("cookie jar: Secure cookies (RFC 6265bis)", "[http][cookie][security]") {
    Jar j;
    CHECK(j.set("https://example.com/", "s=1; Secure; HttpOnly; SameSite=Strict") ==
          CookieRefusal::none);
    const auto all = j.jar.cookies();
    REQUIRE(all.size() == 1);
    CHECK(all[0].secure);
    CHECK(all[0].http_only);
    CHECK(all[0].same_site == http::SameSite::strict);
    CHECK(j.get("https://example.com/") == "s=1");
    CHECK(j.get("http://example.com/") == "");  // never in the clear
    // Secure from http is refused; so is an http cookie of the same name that would
    // shadow it, also from a subdomain or on a narrower path.
    CHECK(j.set("http://example.com/", "t=1; Secure") == CookieRefusal::secure);
    CHECK(j.set("http://example.com/", "s=evil") == CookieRefusal::secure);
    CHECK(j.set("http://example.com/", "s=evil; Path=/deeper") == CookieRefusal::secure);
    CHECK(j.set("http://www.example.com/", "s=evil") == CookieRefusal::secure);
    CHECK(j.set("http://other.com/", "s=fine") == CookieRefusal::none);
    CHECK(j.get("https://example.com/deeper") == "s=1");
    // From https, the secure cookie is replaced as any other.
    CHECK(j.set("https://example.com/", "s=2; Secure") == CookieRefusal::none);
    CHECK(j.get("https://example.com/") == "s=2");
}

TEST_CASE("cookie jar: __Secure- and __Host- prefixes", "[http][cookie][security]") {
    Jar j;
    CHECK(j.set("https://example.com/", "__Secure-a=1") == CookieRefusal::prefix);
    CHECK(j.set("https://example.com/", "__Secure-a=1; Secure") == CookieRefusal::none);
    CHECK(j.set("https://example.com/", "__secure-b=1; Secure; Domain=example.com") ==
          CookieRefusal::none);
    CHECK(j.set("https://example.com/", "__Host-c=1; Secure") == CookieRefusal::prefix);
    CHECK(j.set("https://example.com/", "__Host-c=1; Secure; Path=/x") == CookieRefusal::prefix);
    CHECK(j.set("https://example.com/", "__Host-c=1; Secure; Path=/; Domain=example.com") ==
          CookieRefusal::prefix);
    CHECK(j.set("https://example.com/", "__Host-c=1; Path=/") == CookieRefusal::prefix);
    CHECK(j.set("https://example.com/", "__HOST-c=1; Secure; Path=/") == CookieRefusal::none);
    CHECK(j.get("https://example.com/") == "__Secure-a=1; __secure-b=1; __HOST-c=1");
}

TEST_CASE("cookie jar: replacement keeps the creation time and the order", "[http][cookie]") {
    Jar j;
    const std::string u = "http://example.com/";
    CHECK(j.set(u, "a=1") == CookieRefusal::none);
    j.now += seconds(1);
    CHECK(j.set(u, "b=1") == CookieRefusal::none);
    j.now += seconds(1);
    CHECK(j.set(u, "a=2; HttpOnly") == CookieRefusal::none);
    CHECK(j.get(u) == "a=2; b=1");
    const auto all = j.jar.cookies();
    REQUIRE(all.size() == 2);
    CHECK(all[0].created == at(2026, 12, 5, 12));
    CHECK(all[0].last_access == j.now);
    CHECK(all[0].http_only);
    // Another path or a Domain cookie of the same name is another cookie.
    CHECK(j.set(u, "a=3; Path=/p") == CookieRefusal::none);
    CHECK(j.set(u, "a=4; Domain=example.com") == CookieRefusal::none);
    CHECK(j.get("http://example.com/p") == "a=3; a=2; b=1; a=4");
}

TEST_CASE("cookie jar: limits: per domain and in all, least recently used first",
          "[http][cookie]") {
    http::CookieJarOptions l;
    l.max_per_domain = 3;
    l.max_total = 5;
    l.max_name_value = 16;
    Jar j(l);
    const auto tick = [&j] { j.now += seconds(1); };
    for (int i = 0; i < 3; ++i) {
        CHECK(j.set("http://a.com/", "c" + std::to_string(i) + "=x") == CookieRefusal::none);
        tick();
    }
    CHECK(j.set("http://a.com/", "c0=y") == CookieRefusal::none);  // c0 used last now
    tick();
    CHECK(j.set("http://a.com/", "c3=x") == CookieRefusal::none);  // c1 goes
    CHECK(names(j.jar) == "c0 c2 c3");
    tick();
    CHECK(j.get("http://a.com/") == "c0=y; c2=x; c3=x");  // all used now: the oldest goes
    tick();
    CHECK(j.set("http://a.com/", "c4=x") == CookieRefusal::none);
    CHECK(names(j.jar) == "c2 c3 c4");
    // In all: b.com's and c.com's push out the least recently used of any domain.
    tick();
    CHECK(j.set("http://b.com/", "b=1") == CookieRefusal::none);
    CHECK(j.set("http://b.com/", "b2=1") == CookieRefusal::none);
    tick();
    CHECK(j.set("http://c.com/", "c=1") == CookieRefusal::none);
    CHECK(names(j.jar) == "c3 c4 b b2 c");
    // An expired cookie goes before any live one.
    CHECK(j.set("http://d.com/", "d=1; Max-Age=1") == CookieRefusal::none);  // c3 goes
    CHECK(names(j.jar) == "c4 b b2 c d");
    j.now += seconds(5);
    CHECK(j.set("http://e.com/", "e=1") == CookieRefusal::none);  // d (expired) goes
    CHECK(j.jar.size() == 5);
    CHECK(names(j.jar) == "c4 b b2 c e");
    // Name and value over 16 bytes.
    CHECK(j.set("http://a.com/", "n=" + std::string(16, 'v')) == CookieRefusal::too_large);
    CHECK(j.set("http://a.com/", "n=" + std::string(15, 'v')) == CookieRefusal::none);
}

TEST_CASE("cookie jar: lifetimes are capped, Paths compared in normal form", "[http][cookie]") {
    http::CookieJarOptions o;
    o.max_lifetime = days(30);
    Jar j(o);
    const std::string u = "http://example.com/";
    CHECK(j.set(u, "a=1; Expires=Fri, 31 Dec 9999 23:59:59 GMT") == CookieRefusal::none);
    CHECK(j.set(u, "b=1; Max-Age=31536000") == CookieRefusal::none);
    CHECK(j.set(u, "c=1; Max-Age=86400") == CookieRefusal::none);
    const auto all = j.jar.cookies();
    REQUIRE(all.size() == 3);
    CHECK(*all[0].expires == j.now + days(30));
    CHECK(*all[1].expires == j.now + days(30));
    CHECK(*all[2].expires == j.now + days(1));
    j.now += days(30);
    CHECK(j.get(u) == "");
    // A Path with escapes matches the URL it names: Url decodes %7E, uppercases %2f.
    CHECK(j.set(u, "p=1; Path=/%7euser") == CookieRefusal::none);
    CHECK(j.set(u, "q=1; Path=/a%2fb/./c") == CookieRefusal::none);
    CHECK(j.get("http://example.com/~user/x") == "p=1");
    CHECK(j.get("http://example.com/a%2Fb/c") == "q=1");
    CHECK(j.jar.cookies()[1].path == "/a%2Fb/c");
    // A Path with a query is no path: the default one.
    CHECK(j.set("http://example.com/d/e", "r=1; Path=/x?y") == CookieRefusal::none);
    CHECK(j.jar.cookies()[2].path == "/d");
}

TEST_CASE("cookie jar: a public suffix hook refuses Domain cookies on a suffix",
          "[http][cookie][security]") {
    http::CookieJarOptions o;
    o.public_suffix = [](std::string_view d) { return d == "co.uk" || d == "github.io"; };
    Jar j(o);
    CHECK(j.set("http://a.co.uk/", "x=1; Domain=co.uk") == CookieRefusal::domain);
    CHECK(j.set("http://me.github.io/", "x=1; Domain=github.io") == CookieRefusal::domain);
    CHECK(j.set("http://me.github.io/", "x=1; Domain=me.github.io") == CookieRefusal::none);
    CHECK(j.set("http://co.uk/", "y=1; Domain=co.uk") == CookieRefusal::none);  // host-only
    CHECK(j.jar.cookies()[1].host_only);
    CHECK(j.get("http://b.co.uk/") == "");
    CHECK(j.get("http://co.uk/") == "y=1");
    Jar plain;  // without the hook, two labels are taken
    CHECK(plain.set("http://a.co.uk/", "x=1; Domain=co.uk") == CookieRefusal::none);
}

// RFC 6265bis §5.7: an http response that sets many cookies pushes out the others before
// a Secure one, so it cannot evict a Secure session and then set its own in its place.
TEST_CASE("cookie jar: eviction takes Secure cookies last", "[http][cookie][security]") {
    http::CookieJarOptions o;
    o.max_per_domain = 4;
    o.max_total = 6;
    Jar j(o);
    CHECK(j.set("https://example.com/", "session=good; Secure") == CookieRefusal::none);
    j.now += seconds(1);
    for (int i = 0; i < 10; ++i) {
        CHECK(j.set("http://example.com/", "f" + std::to_string(i) + "=1") == CookieRefusal::none);
        j.now += seconds(1);
    }
    CHECK(names(j.jar) == "session f7 f8 f9");
    CHECK(j.set("http://example.com/", "session=evil") == CookieRefusal::secure);
    CHECK(j.get("https://example.com/") == "session=good; f7=1; f8=1; f9=1");
    // The total bound alike: other domains' cookies push out the plain ones first.
    for (int i = 0; i < 4; ++i) {
        CHECK(j.set("http://o" + std::to_string(i) + ".com/", "o=1") == CookieRefusal::none);
        j.now += seconds(1);
    }
    CHECK(names(j.jar) == "session f9 o o o o");
    // With only Secure cookies left to take, the least recently used Secure one goes.
    Jar s(o);
    for (int i = 0; i < 5; ++i) {
        CHECK(s.set("https://example.com/", "s" + std::to_string(i) + "=1; Secure") ==
              CookieRefusal::none);
        s.now += seconds(1);
    }
    CHECK(names(s.jar) == "s1 s2 s3 s4");
    // An expired Secure cookie no longer stops an http one of its name.
    CHECK(s.set("https://example.com/", "s1=1; Secure; Max-Age=1") == CookieRefusal::none);
    s.now += seconds(1);
    CHECK(s.set("http://example.com/", "s1=plain") == CookieRefusal::none);
    CHECK(s.get("http://example.com/") == "s1=plain");
}

TEST_CASE("cookie jar: Netscape cookie files, written and read back", "[http][cookie]") {
    Jar j;
    CHECK(j.set("https://www.example.com/a/b", "s=1; Secure; HttpOnly; Max-Age=3600") ==
          CookieRefusal::none);
    CHECK(j.set("http://www.example.com/", "d=two words; Domain=example.com; Path=/p") ==
          CookieRefusal::none);
    CHECK(j.set("http://www.example.com/", "session=") == CookieRefusal::none);
    CHECK(j.set("http://www.example.com/", "tab=a\tb") == CookieRefusal::none);
    const std::string file = j.jar.to_cookie_file();
    const std::string expires = std::to_string((j.now + hours(1)).time_since_epoch().count());
    CHECK(file ==
          "# Netscape HTTP Cookie File\n# Written by corio's http::CookieJar.\n\n"
          "#HttpOnly_www.example.com\tFALSE\t/a\tTRUE\t" +
              expires +
              "\ts\t1\n"
              ".example.com\tTRUE\t/p\tFALSE\t0\td\ttwo words\n"
              "www.example.com\tFALSE\t/\tFALSE\t0\tsession\t\n");  // not "tab"
    Jar k;
    k.now = j.now + minutes(1);
    const auto load = k.jar.add_cookie_file(file);
    CHECK(load.added == 3);
    CHECK(load.skipped == 0);
    const auto a = j.jar.cookies(), b = k.jar.cookies();
    REQUIRE(b.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        INFO(i);
        CHECK(b[i].name == a[i].name);
        CHECK(b[i].value == a[i].value);
        CHECK(b[i].domain == a[i].domain);
        CHECK(b[i].path == a[i].path);
        CHECK(b[i].host_only == a[i].host_only);
        CHECK(b[i].secure == a[i].secure);
        CHECK(b[i].http_only == a[i].http_only);
        CHECK(b[i].expires == a[i].expires);
    }
    CHECK(k.get("https://www.example.com/a") == "s=1; session=");
    CHECK(k.get("http://x.example.com/p/q") == "d=two words");
}

TEST_CASE("cookie jar: cookie files as curl writes them, and lines skipped", "[http][cookie]") {
    Jar j;
    const std::string later = std::to_string((j.now + days(1)).time_since_epoch().count());
    const std::string earlier = std::to_string((j.now - days(1)).time_since_epoch().count());
    const auto load = j.jar.add_cookie_file(
        "# Netscape HTTP Cookie File\r\n"
        "# https://curl.se/docs/http-cookies.html\r\n"
        "\r\n"
        ".Example.COM\tTRUE\t/\tFALSE\t" +
        later +
        "\tid\t42\r\n"
        "#HttpOnly_example.com\tFALSE\t/\tTRUE\t0\th\tv\r\n"
        "example.com\tFALSE\t/\tFALSE\t0\tempty\t\r\n"  // an empty value, trailing tab
        "example.com\tFALSE\t/\tFALSE\t0\tnotab\r\n"    // six fields: an empty value
        "example.com\tFALSE\t/\tFALSE\t" +
        earlier +
        "\told\tx\r\n"  // expired
        "example.com\tFALSE\t/\tFALSE\t0\t\tnoname\r\n"
        "example.com\tMAYBE\t/\tFALSE\t0\tn\tv\r\n"
        "example.com\tFALSE\tnoslash\tFALSE\t0\tn\tv\r\n"
        "example.com\tFALSE\t/\tFALSE\tsoon\tn\tv\r\n"
        "example.com\tFALSE\t/\tFALSE\t99999999999999\tn\tv\r\n"  // capped at 400 days
        "example.com\tFALSE\t/\tFALSE\t0\tn\tv\textra\r\n"
        "example.com\tFALSE\t/\tFALSE\r\n"
        ".\tTRUE\t/\tFALSE\t0\tn\tv\r\n"
        "example.com\tFALSE\t/\tFALSE\t0\tn\tv\x01\n"
        "#HttpOnly_.Example.com\tTRUE\t/\tFALSE\t\tpy\tsession\n"  // Python: empty expiry
        "last\tFALSE\t/\tFALSE\t0\tno\tnewline");
    CHECK(load.added == 7);
    CHECK(load.skipped == 9);
    CHECK(names(j.jar) == "id h empty notab n py no");
    const auto all = j.jar.cookies();
    CHECK(all[0].domain == "example.com");
    CHECK_FALSE(all[0].host_only);
    CHECK(all[0].expires == j.now + days(1));
    CHECK(all[1].http_only);
    CHECK(all[1].secure);
    CHECK(all[2].value.empty());
    CHECK(all[3].value.empty());
    CHECK(all[4].expires == j.now + days(400));
    CHECK(all[5].http_only);
    CHECK_FALSE(all[5].host_only);
    CHECK(all[5].domain == "example.com");
    CHECK_FALSE(all[5].expires);
    CHECK(j.get("https://example.com/") == "id=42; h=v; empty=; notab=; n=v; py=session");
    // Limits hold for what a file brings.
    http::CookieJarOptions small;
    small.max_per_domain = 2;
    Jar k(small);
    CHECK(k.jar
              .add_cookie_file("a.com\tFALSE\t/\tFALSE\t0\tx\t1\n"
                               "a.com\tFALSE\t/\tFALSE\t0\ty\t1\n"
                               "a.com\tFALSE\t/\tFALSE\t0\tz\t1\n")
              .added == 3);
    CHECK(names(k.jar) == "y z");
}

TEST_CASE("cookie jar: what is malformed, and what is ignored", "[http][cookie]") {
    Jar j;
    const std::string u = "http://example.com/";
    CHECK(j.set(u, "") == CookieRefusal::malformed);
    CHECK(j.set(u, "no-equals") == CookieRefusal::malformed);
    CHECK(j.set(u, "no-equals; a=1") == CookieRefusal::malformed);
    CHECK(j.set(u, "=value") == CookieRefusal::malformed);
    CHECK(j.set(u, "  =value") == CookieRefusal::malformed);
    CHECK(j.set(u, std::string("a=x\x01y")) == CookieRefusal::malformed);
    CHECK(j.set(u, std::string("a\x7f=1")) == CookieRefusal::malformed);
    CHECK(j.jar.size() == 0);
    // Unknown attributes, empty pieces, an attribute value over 1024 bytes: ignored.
    CHECK(j.set("http://example.com/a/b",
                "a=\"quoted\";;; Foo=bar; Path=/" + std::string(2000, 'p')) == CookieRefusal::none);
    CHECK(j.set(u, "b=; Path=/") == CookieRefusal::none);
    REQUIRE(j.jar.cookies().size() == 2);
    CHECK(j.jar.cookies()[0].path == "/a");  // the long Path was ignored: the default path
    CHECK(j.get("http://example.com/a/") == "a=\"quoted\"; b=");
}

}  // namespace http_cookie_jar_test
