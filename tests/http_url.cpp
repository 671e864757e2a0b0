// Url: parsing, normal form, deduplication, origins; RFC 3986 §5.4 reference resolution.
#include <corio/http/url.hpp>

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace http_url_test {

using corio::http::Origin;
using corio::http::remove_dot_segments;
using corio::http::resolve_reference;
using corio::http::Url;

namespace {

std::string norm(std::string_view text) {
    auto u = Url::parse(text);
    REQUIRE(u.has_value());
    return u->normalized();
}

using Example = std::pair<const char*, const char*>;

// RFC 3986 §5.4.1, base "http://a/b/c/d;p?q".
const std::vector<Example> normal_examples = {
    {"g:h", "g:h"},
    {"g", "http://a/b/c/g"},
    {"./g", "http://a/b/c/g"},
    {"g/", "http://a/b/c/g/"},
    {"/g", "http://a/g"},
    {"//g", "http://g"},
    {"?y", "http://a/b/c/d;p?y"},
    {"g?y", "http://a/b/c/g?y"},
    {"#s", "http://a/b/c/d;p?q#s"},
    {"g#s", "http://a/b/c/g#s"},
    {"g?y#s", "http://a/b/c/g?y#s"},
    {";x", "http://a/b/c/;x"},
    {"g;x", "http://a/b/c/g;x"},
    {"g;x?y#s", "http://a/b/c/g;x?y#s"},
    {"", "http://a/b/c/d;p?q"},
    {".", "http://a/b/c/"},
    {"./", "http://a/b/c/"},
    {"..", "http://a/b/"},
    {"../", "http://a/b/"},
    {"../g", "http://a/b/g"},
    {"../..", "http://a/"},
    {"../../", "http://a/"},
    {"../../g", "http://a/g"},
};

// RFC 3986 §5.4.2.
const std::vector<Example> abnormal_examples = {
    {"../../../g", "http://a/g"},
    {"../../../../g", "http://a/g"},
    {"/./g", "http://a/g"},
    {"/../g", "http://a/g"},
    {"g.", "http://a/b/c/g."},
    {".g", "http://a/b/c/.g"},
    {"g..", "http://a/b/c/g.."},
    {"..g", "http://a/b/c/..g"},
    {"./../g", "http://a/b/g"},
    {"./g/.", "http://a/b/c/g/"},
    {"g/./h", "http://a/b/c/g/h"},
    {"g/../h", "http://a/b/c/h"},
    {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
    {"g;x=1/../y", "http://a/b/c/y"},
    {"g?y/./x", "http://a/b/c/g?y/./x"},
    {"g?y/../x", "http://a/b/c/g?y/../x"},
    {"g#s/./x", "http://a/b/c/g#s/./x"},
    {"g#s/../x", "http://a/b/c/g#s/../x"},
    {"http:g", "http:g"},  // strict parsers
};

constexpr const char* rfc_base = "http://a/b/c/d;p?q";

}  // namespace

TEST_CASE("RFC 3986 5.4.1 normal examples", "[net][url]") {
    for (const auto& [ref, expected] : normal_examples) {
        INFO("reference \"" << ref << "\"");
        CHECK(resolve_reference(rfc_base, ref) == expected);
    }
}

TEST_CASE("RFC 3986 5.4.2 abnormal examples", "[net][url]") {
    for (const auto& [ref, expected] : abnormal_examples) {
        INFO("reference \"" << ref << "\"");
        CHECK(resolve_reference(rfc_base, ref) == expected);
    }
}

TEST_CASE("Url::resolve agrees with the RFC examples, in normal form", "[net][url]") {
    auto base = Url::parse(rfc_base);
    REQUIRE(base);
    for (const auto& list : {normal_examples, abnormal_examples}) {
        for (const auto& [ref, expected] : list) {
            INFO("reference \"" << ref << "\"");
            auto got = Url::resolve(*base, ref);
            auto want = Url::parse(expected);
            // "g:h" and "http:g" are not http URLs with a host: both sides fail alike.
            REQUIRE(got.has_value() == want.has_value());
            if (got) CHECK(got->normalized() == want->normalized());
        }
    }
    CHECK(Url::resolve(*base, "//g")->normalized() == "http://g/");
    CHECK(Url::resolve(*base, "g?y#s")->normalized() == "http://a/b/c/g?y");
    CHECK(Url::resolve(*base, "#s")->normalized() == "http://a/b/c/d;p?q");
    CHECK_FALSE(Url::resolve(*base, "g:h").has_value());
    CHECK_FALSE(Url::resolve(*base, "http:g").has_value());
}

TEST_CASE("resolve: network-path, query-only and absolute references", "[net][url]") {
    auto base = Url::parse("https://Example.com:8443/dir/page.html?x=1");
    REQUIRE(base);
    CHECK(Url::resolve(*base, "//cdn.example.net/lib.js")->normalized() ==
          "https://cdn.example.net/lib.js");
    CHECK(Url::resolve(*base, "?y=2")->normalized() ==
          "https://example.com:8443/dir/page.html?y=2");
    CHECK(Url::resolve(*base, "other.html")->normalized() ==
          "https://example.com:8443/dir/other.html");
    CHECK(Url::resolve(*base, "/top")->normalized() == "https://example.com:8443/top");
    CHECK(Url::resolve(*base, "../../../up")->normalized() == "https://example.com:8443/up");
    CHECK(Url::resolve(*base, "HTTP://Other.Example/")->normalized() == "http://other.example/");
    CHECK(Url::resolve(*base, "  sp ace.html \n")->normalized() ==
          "https://example.com:8443/dir/sp%20ace.html");
    CHECK(Url::resolve(*base, "a\n/b\tc")->normalized() == "https://example.com:8443/dir/a/bc");
    CHECK_FALSE(Url::resolve(*base, "mailto:someone@example.com").has_value());
    CHECK_FALSE(Url::resolve(*base, "ftp://example.com/").has_value());
}

TEST_CASE("resolve against a base with an empty path", "[net][url]") {
    CHECK(resolve_reference("http://a", "g") == "http://a/g");
    CHECK(resolve_reference("http://a", "") == "http://a");
    auto base = Url::parse("http://a");
    REQUIRE(base);
    CHECK(Url::resolve(*base, "g")->normalized() == "http://a/g");
}

TEST_CASE("remove_dot_segments", "[net][url]") {
    CHECK(remove_dot_segments("/a/b/c/./../../g") == "/a/g");
    CHECK(remove_dot_segments("mid/content=5/../6") == "mid/6");
    CHECK(remove_dot_segments("/..") == "/");
    CHECK(remove_dot_segments("/.") == "/");
    CHECK(remove_dot_segments("..") == "");
    CHECK(remove_dot_segments("") == "");
    CHECK(remove_dot_segments("/a//../b") == "/a/b");
}

TEST_CASE("Url::parse components", "[net][url]") {
    auto u = Url::parse("HTTP://WWW.Example.COM:8080/Path/To?Query=1#frag");
    REQUIRE(u);
    CHECK(u->scheme() == "http");
    CHECK(u->host() == "www.example.com");
    CHECK(u->host_name() == "www.example.com");
    CHECK(u->port() == 8080);
    CHECK_FALSE(u->has_default_port());
    CHECK(u->path() == "/Path/To");  // paths are case-sensitive
    CHECK(u->query() == "Query=1");
    CHECK(u->target() == "/Path/To?Query=1");
    CHECK(u->authority() == "www.example.com:8080");
    CHECK(u->normalized() == "http://www.example.com:8080/Path/To?Query=1");

    auto s = Url::parse("https://example.com");
    REQUIRE(s);
    CHECK(s->port() == 443);
    CHECK(s->has_default_port());
    CHECK(s->path() == "/");
    CHECK(s->query().empty());
    CHECK(s->target() == "/");
    CHECK(s->authority() == "example.com");
    CHECK(Url::parse("http://example.com")->port() == 80);
}

TEST_CASE("IPv6 literals", "[net][url]") {
    auto u = Url::parse("http://[::1]:8080/x");
    REQUIRE(u);
    CHECK(u->host() == "[::1]");
    CHECK(u->host_name() == "::1");
    CHECK(u->port() == 8080);
    CHECK(u->authority() == "[::1]:8080");
    CHECK(norm("http://[2001:DB8:0:0:0:0:0:1]/") == "http://[2001:db8::1]/");
    CHECK(norm("https://[::FFFF:192.0.2.1]:443") == "https://[::ffff:192.0.2.1]/");
    CHECK_FALSE(Url::parse("http://[::1/").has_value());
    CHECK_FALSE(Url::parse("http://[zz::1]/").has_value());
    CHECK_FALSE(Url::parse("http://[192.0.2.1]/").has_value());
    CHECK_FALSE(Url::parse("http://[fe80::1%25eth0]/").has_value());
    CHECK_FALSE(Url::parse("http://[::1]x/").has_value());
    CHECK_FALSE(Url::parse("http://[]/").has_value());
}

TEST_CASE("invalid URLs", "[net][url]") {
    for (const char* bad : {"",
                            "example.com",
                            "/relative",
                            "ftp://example.com/",
                            "mailto:a@b.c",
                            "http:/example.com",
                            "http:example.com",
                            "http://",
                            "http:///path",
                            "http://:80/",
                            "http://user@example.com/",
                            "http://user:pw@example.com/",
                            "http://example.com:0/",
                            "http://example.com:65536/",
                            "http://example.com:8x/",
                            "http://example.com:-1/",
                            "http://exa mple.com/",
                            "http://exa%zzmple.com/",
                            "http://ex<ample.com/",
                            "http://example.com:99999999999999999999/"}) {
        INFO(bad);
        CHECK_FALSE(Url::parse(bad).has_value());
    }
    CHECK(Url::parse("http://example.com:/")->port() == 80);  // empty port: the default
    CHECK(Url::parse("http://example.com:65535/")->port() == 65535);
}

TEST_CASE("normal form", "[net][url]") {
    SECTION("scheme and host lowercase, path case kept") {
        CHECK(norm("HtTpS://ExAmPlE.CoM/CaSe") == "https://example.com/CaSe");
    }
    SECTION("default port removed, others kept") {
        CHECK(norm("http://example.com:80/") == "http://example.com/");
        CHECK(norm("https://example.com:443/") == "https://example.com/");
        CHECK(norm("http://example.com:443/") == "http://example.com:443/");
        CHECK(norm("http://example.com:0080/") == "http://example.com/");
    }
    SECTION("empty path becomes /") {
        CHECK(norm("http://example.com") == "http://example.com/");
        CHECK(norm("http://example.com?q") == "http://example.com/?q");
    }
    SECTION("percent-encoding in uppercase hex") {
        CHECK(norm("http://example.com/a%2fb%c3%a9?x=%3d") ==
              "http://example.com/a%2Fb%C3%A9?x=%3D");
    }
    SECTION("escapes of unreserved characters are decoded") {
        CHECK(norm("http://example.com/%7Euser/%41%2D%5f%2e") == "http://example.com/~user/A-_.");
        CHECK(norm("http://ex%41mple.com/") == "http://example.com/");
    }
    SECTION("dot segments removed") {
        CHECK(norm("http://example.com/a/./b/../c") == "http://example.com/a/c");
        CHECK(norm("http://example.com/../../x") == "http://example.com/x");
        CHECK(norm("http://example.com/a/%2E%2E/b") == "http://example.com/b");
    }
    SECTION("fragment and empty query dropped") {
        CHECK(norm("http://example.com/p#frag") == "http://example.com/p");
        CHECK(norm("http://example.com/p?#frag") == "http://example.com/p");
        CHECK(norm("http://example.com/p?a=1#frag") == "http://example.com/p?a=1");
    }
    SECTION("characters not allowed in a URI are encoded") {
        CHECK(norm("http://example.com/a b/\"q\"<>^`{|}") ==
              "http://example.com/a%20b/%22q%22%3C%3E%5E%60%7B%7C%7D");
        CHECK(norm("http://example.com/caf\xc3\xa9") == "http://example.com/caf%C3%A9");
        CHECK(norm("http://example.com/100%") == "http://example.com/100%25");
        CHECK(norm("http://example.com/?q=a b&c=/?:@") == "http://example.com/?q=a%20b&c=/?:@");
    }
    SECTION("surrounding whitespace, tabs and newlines are ignored") {
        CHECK(norm("  http://example.com/a\n/b\t \n") == "http://example.com/a/b");
    }
    SECTION("normal form is a fixed point") {
        for (const char* text :
             {"HTTP://A.B:80/%7e/./x/../y?%zz#f", "http://[0::1]:81/a%2f", "https://x.y/a b?c d"}) {
            std::string once = norm(text);
            CHECK(norm(once) == once);
        }
    }
}

TEST_CASE("deduplication by normal form", "[net][url]") {
    std::set<std::string> seen;
    for (const char* text :
         {"http://example.com/", "HTTP://EXAMPLE.COM", "http://example.com:80/",
          "http://example.com/#top", "http://example.com/./", "http://example.com/a/../",
          "http://example.com/%7Euser", "http://example.com/~user", "http://example.com/%7euser",
          "https://example.com/", "http://example.com/?a=1", "http://example.com/?a=1#x"}) {
        seen.insert(norm(text));
    }
    CHECK(seen == std::set<std::string>{"http://example.com/", "http://example.com/~user",
                                        "https://example.com/", "http://example.com/?a=1"});
    CHECK(*Url::parse("http://EXAMPLE.com:80/a") == *Url::parse("http://example.com/a#b"));
    CHECK_FALSE(*Url::parse("http://example.com/a") == *Url::parse("http://example.com/A"));
}

TEST_CASE("origins", "[net][url]") {
    auto a = Url::parse("http://example.com/a");
    auto b = Url::parse("HTTP://example.com:80/b?c");
    auto c = Url::parse("https://example.com/a");
    auto d = Url::parse("http://example.com:8080/a");
    auto e = Url::parse("http://www.example.com/a");
    REQUIRE((a && b && c && d && e));
    CHECK(a->same_origin(*b));
    CHECK(a->origin() == b->origin());
    CHECK_FALSE(a->same_origin(*c));
    CHECK_FALSE(a->same_origin(*d));
    CHECK_FALSE(a->same_origin(*e));
    CHECK(c->origin() == Origin{"https", "example.com", 443});
}

}  // namespace http_url_test
