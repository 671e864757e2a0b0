// html::extract_links: attribute syntax, filtering, entities, comments and raw text, garbage.
#include "../examples/crawler/html.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace examples_crawler_html_test {

using corio::examples::html::decode_entities;
using corio::examples::html::extract_links;
using Links = std::vector<std::string>;

TEST_CASE("href and src in all quoting styles", "[net][html]") {
    CHECK(extract_links(R"(<a href="/double">x</a>)") == Links{"/double"});
    CHECK(extract_links(R"(<a href='/single'>x</a>)") == Links{"/single"});
    CHECK(extract_links(R"(<a href=/unquoted>x</a>)") == Links{"/unquoted"});
    CHECK(extract_links(R"(<a href=/unquoted/>)") == Links{"/unquoted/"});
    CHECK(extract_links(R"(<img src = "pic.png" alt="x">)") == Links{"pic.png"});
    CHECK(extract_links(R"(<a href="it's">)") == Links{"it's"});
    CHECK(extract_links(R"(<a href='say "hi"'>)") == Links{"say \"hi\""});
    CHECK(extract_links("<a\nhref\n=\n\"/nl\"\n>") == Links{"/nl"});
}

TEST_CASE("document order across tags", "[net][html]") {
    std::string page = R"(<!DOCTYPE html>
<html><head>
  <link rel="stylesheet" href="/style.css">
  <script src="/app.js"></script>
</head><body>
  <a href="page2.html">next</a>
  <IMG SRC="/img/logo.png">
  <iframe src="https://other.example/embed"></iframe>
  <a class="x" href="../up" title="t">up</a>
</body></html>)";
    CHECK(extract_links(page) == Links{"/style.css", "/app.js", "page2.html", "/img/logo.png",
                                       "https://other.example/embed", "../up"});
}

TEST_CASE("tag and attribute names in any case", "[net][html]") {
    CHECK(extract_links(R"(<A HREF="/a"><Img SrC='/b'><a hReF=/c>)") == Links{"/a", "/b", "/c"});
}

TEST_CASE("other attributes are ignored", "[net][html]") {
    CHECK(extract_links(R"(<a data-href="/no" xhref="/no" hrefx="/no" href="/yes">)") ==
          Links{"/yes"});
    CHECK(extract_links(R"(<a title="href=/no" href="/yes">)") == Links{"/yes"});
    CHECK(extract_links(R"(<a href>)").empty());
    CHECK(extract_links(R"(<a href="">)").empty());
    CHECK(extract_links(R"(<a href="   ">)").empty());
}

TEST_CASE("comments are skipped", "[net][html]") {
    CHECK(extract_links(R"(<!-- <a href="/hidden"> --><a href="/shown">)") == Links{"/shown"});
    CHECK(extract_links(R"(<!--><a href="/after-empty-comment">)") ==
          Links{"/after-empty-comment"});
    CHECK(extract_links(R"(<!-- unterminated <a href="/no">)").empty());
    CHECK(extract_links(R"(<!DOCTYPE html><?xml x?><a href="/y">)") == Links{"/y"});
}

TEST_CASE("script and style contents are not markup", "[net][html]") {
    CHECK(extract_links(R"(<script>var s = '<a href="/in-js">';</script><a href="/real">)") ==
          Links{"/real"});
    CHECK(extract_links(R"(<SCRIPT src="/x.js">document.write("<img src=/no>")</ScRiPt>)") ==
          Links{"/x.js"});
    CHECK(extract_links(R"(<style>a { background: url("<a href=/no>") }</style><a href=/yes>)") ==
          Links{"/yes"});
    CHECK(extract_links(R"(<script><a href="/never-closed">)").empty());
    CHECK(extract_links(R"(<textarea><a href="/no"></textarea><a href="/yes">)") == Links{"/yes"});
}

TEST_CASE("javascript:, mailto:, data: and fragment-only links are left out", "[net][html]") {
    CHECK(extract_links(R"~(<a href="javascript:void(0)">)~").empty());
    CHECK(extract_links(R"~(<a href="JavaScript:alert(1)">)~").empty());
    CHECK(extract_links(R"(<a href="  javascript:x">)").empty());
    CHECK(extract_links("<a href=\"java\tscript:x\">").empty());
    CHECK(extract_links(R"(<a href="java&#115;cript:x">)").empty());
    CHECK(extract_links(R"(<a href="mailto:a@example.com">)").empty());
    CHECK(extract_links(R"(<a href="MAILTO:a@example.com">)").empty());
    CHECK(extract_links(R"(<img src="data:image/png;base64,AAAA">)").empty());
    CHECK(extract_links(R"(<a href="#top">)").empty());
    CHECK(extract_links(R"(<a href="#">)").empty());
    CHECK(extract_links(R"(<a href="/page#top">)") == Links{"/page#top"});
    CHECK(extract_links(R"(<a href="ftp://example.com/">)") == Links{"ftp://example.com/"});
}

TEST_CASE("entities are decoded", "[net][html]") {
    CHECK(extract_links(R"(<a href="/q?a=1&amp;b=2">)") == Links{"/q?a=1&b=2"});
    CHECK(extract_links(R"(<a href="/q?a=1&AMP;b=2">)") == Links{"/q?a=1&b=2"});
    CHECK(extract_links(R"(<a href="/&lt;&gt;&quot;&apos;">)") == Links{"/<>\"'"});
    CHECK(extract_links(R"(<a href="/&#47;&#x2F;&#X2f;">)") == Links{"////"});
    CHECK(extract_links(R"(<a href="/q?a=1&b=2&copy=3">)") == Links{"/q?a=1&b=2&copy=3"});
    CHECK(decode_entities("&#233;") == "\xc3\xa9");
    CHECK(decode_entities("&#x1F600;") == "\xf0\x9f\x98\x80");
    CHECK(decode_entities("&#0;") == "\xef\xbf\xbd");
    CHECK(decode_entities("&#xD800;") == "\xef\xbf\xbd");
    CHECK(decode_entities("&#99999999999;") == "\xef\xbf\xbd");
    CHECK(decode_entities("&nbsp;") == "\xc2\xa0");
    CHECK(decode_entities("&#;&#x;&amp&unknown;&") == "&#;&#x;&amp&unknown;&");
    CHECK(decode_entities("a&amp;&amp;b") == "a&&b");
}

TEST_CASE("surrounding whitespace and embedded newlines are removed", "[net][html]") {
    CHECK(extract_links("<a href=\"  /a\n/b\t \">") == Links{"/a/b"});
    CHECK(extract_links("<a href=\"\n\n\">").empty());
}

TEST_CASE("malformed markup does not stop the scan", "[net][html]") {
    CHECK(extract_links("a < b and c > d <a href=/x>") == Links{"/x"});
    CHECK(extract_links("<<a href=/x>") == Links{"/x"});
    CHECK(extract_links("</a href=/end-tag><a href=/x>") == Links{"/x"});
    CHECK(extract_links("<a href=\"/unterminated").size() == 1);
    CHECK(extract_links("<a href='/x'href='/y'>") == Links{"/x", "/y"});
    CHECK(extract_links("<a =href=/x>").empty());
    CHECK(extract_links("<a href=").empty());
    CHECK(extract_links("<a href").empty());
    CHECK(extract_links("<").empty());
    CHECK(extract_links("").empty());
    CHECK(extract_links("<a").empty());
}

TEST_CASE("random garbage is handled", "[net][html]") {
    std::uint32_t state = 12345;
    auto next = [&] {
        state = state * 1103515245u + 12345u;
        return state >> 16;
    };
    const std::string alphabet = "<>=\"'/ !-aAhHrReEfFsScC&#;x\n";
    for (int round = 0; round < 2000; ++round) {
        std::string s;
        std::size_t len = next() % 200;
        for (std::size_t i = 0; i < len; ++i) {
            s.push_back(next() % 4 == 0 ? char(next() & 0xff) : alphabet[next() % alphabet.size()]);
        }
        for (const std::string& link : extract_links(s)) {
            REQUIRE_FALSE(link.empty());
            REQUIRE(link[0] != '#');
        }
    }
}

}  // namespace examples_crawler_html_test
