// Cookies: the pairs of Cookie fields (RFC 6265 §5.4: ';' separated, spaces
// dropped, quoted values, pieces without a name skipped, several fields),
// cookie() by name, and Set-Cookie values with their attributes and the
// values refused.
#include <catch2/catch.hpp>

#include <corio/http/cookie.hpp>

namespace http_cookie_test {

using namespace corio;
using Pairs = std::vector<std::string>;

namespace {

Pairs pairs(const http::Headers& h) {
    Pairs out;
    for (const http::CookiePair& p : http::parse_cookies(h))
        out.push_back(std::string(p.name) + "=" + std::string(p.value));
    return out;
}

}  // namespace

TEST_CASE("cookies: the pairs of Cookie fields", "[http][cookie]") {
    http::Headers h;
    h.add("Host", "example.com");
    h.add("Cookie", " a=1;b=\"two\" ; no-equals; =nameless;c=; d = 4 ;");
    h.add("cookie", "e=x=y");
    CHECK(pairs(h) == Pairs{"a=1", "b=two", "c=", "d=4", "e=x=y"});
    CHECK(http::cookie(h, "b") == "two");
    CHECK(http::cookie(h, "e") == "x=y");
    CHECK(http::cookie(h, "c") == "");
    CHECK_FALSE(http::cookie(h, "A"));  // names are compared exactly
    CHECK_FALSE(http::cookie(http::Headers{}, "a"));
    http::Headers twice;
    twice.add("Cookie", "id=first; id=second");
    CHECK(http::cookie(twice, "id") == "first");
}

TEST_CASE("cookies: Set-Cookie values", "[http][cookie]") {
    http::SetCookie c;
    c.name = "session";
    c.value = "abc123";
    CHECK(http::format_set_cookie(c) == "session=abc123; Path=/; HttpOnly; SameSite=Lax");
    c.max_age = std::chrono::hours(24);
    c.domain = "example.com";
    c.secure = true;
    c.same_site = http::SameSite::strict;
    CHECK(http::format_set_cookie(c) ==
          "session=abc123; Max-Age=86400; Path=/; Domain=example.com; Secure; HttpOnly; "
          "SameSite=Strict");
    http::SetCookie gone;
    gone.name = "old";
    gone.max_age = std::chrono::seconds(-5);  // removes it
    gone.path.clear();
    gone.http_only = false;
    gone.same_site = http::SameSite::unset;
    CHECK(http::format_set_cookie(gone) == "old=; Max-Age=0");
    http::SetCookie cross;
    cross.name = "x";
    cross.same_site = http::SameSite::none;
    CHECK_THROWS_AS(http::format_set_cookie(cross), std::invalid_argument);
    cross.secure = true;
    CHECK(http::format_set_cookie(cross) == "x=; Path=/; Secure; HttpOnly; SameSite=None");
}

TEST_CASE("cookies: what a Set-Cookie cannot hold is refused", "[http][cookie]") {
    for (const char* name : {"", "a b", "a;b", "a=b", "\x01"}) {
        http::SetCookie c;
        c.name = name;
        CHECK_THROWS_AS(http::format_set_cookie(c), std::invalid_argument);
    }
    for (const char* value : {"a b", "a;b", "a,b", "\"q\"", "a\\b", "\x7f", "\xc3\xa9"}) {
        http::SetCookie c;
        c.name = "n";
        c.value = value;
        CHECK_THROWS_AS(http::format_set_cookie(c), std::invalid_argument);
    }
    http::SetCookie p;
    p.name = "n";
    p.path = "/a;Secure";
    CHECK_THROWS_AS(http::format_set_cookie(p), std::invalid_argument);
    p.path = "/";
    p.domain = "evil\r\nX: y";
    CHECK_THROWS_AS(http::format_set_cookie(p), std::invalid_argument);
}

}  // namespace http_cookie_test
