// html::extract_links: attribute syntax, entities, comments and raw text, garbage; and what
// Url::resolve() makes of the values (the crawl resolves each one against its page).
#include "../examples/crawler/html.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <corio/http/url.hpp>

namespace examples_crawler_html_test {

using corio::examples::html::decode_entities;
using corio::examples::html::extract_links;
using corio::http::Url;
using Links = std::vector<std::string>;

// The one link of `html`, resolved against http://example.com/dir/page.html as the crawl
// resolves it: its normal form, or "" when Url::resolve() refuses it.
std::string resolved(std::string_view html) {
    const Links links = extract_links(html);
    REQUIRE(links.size() == 1);
    const std::optional<Url> to =
        Url::resolve(*Url::parse("http://example.com/dir/page.html"), links[0]);
    return to ? to->normalized() : "";
}

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
    CHECK(extract_links(R"(<a href="">)") == Links{""});        // the page itself, resolved
    CHECK(extract_links(R"(<a href="   ">)") == Links{"   "});  // so is this
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

TEST_CASE("javascript:, mailto:, data: and fragment-only links lead nowhere new", "[net][html]") {
    // The values come back as written; resolving refuses the other schemes (spaces, tabs and
    // escapes in them included) and drops fragments, so the crawl never fetches them.
    CHECK(extract_links(R"~(<a href="javascript:void(0)">)~") == Links{"javascript:void(0)"});
    for (std::string_view refused :
         {R"~(<a href="javascript:void(0)">)~", R"~(<a href="JavaScript:alert(1)">)~",
          R"(<a href="  javascript:x">)", "<a href=\"java\tscript:x\">",
          R"(<a href="java&#115;cript:x">)", R"(<a href="mailto:a@example.com">)",
          R"(<a href="MAILTO:a@example.com">)", R"(<img src="data:image/png;base64,AAAA">)",
          R"(<a href="ftp://example.com/">)"}) {
        INFO(refused);
        CHECK(resolved(refused).empty());
    }
    CHECK(resolved(R"(<a href="#top">)") == "http://example.com/dir/page.html");
    CHECK(resolved(R"(<a href="#">)") == "http://example.com/dir/page.html");
    CHECK(resolved(R"(<a href="">)") == "http://example.com/dir/page.html");
    CHECK(extract_links(R"(<a href="/page#top">)") == Links{"/page#top"});
    CHECK(resolved(R"(<a href="/page#top">)") == "http://example.com/page");
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

TEST_CASE("surrounding whitespace and embedded newlines are dropped when resolved", "[net][html]") {
    CHECK(extract_links("<a href=\"  /a\n/b\t \">") == Links{"  /a\n/b\t "});
    CHECK(resolved("<a href=\"  /a\n/b\t \">") == "http://example.com/a/b");
    CHECK(resolved("<a href=\"\n\n\">") == "http://example.com/dir/page.html");
    CHECK(resolved("<a href=\" &#10;next.html \">") == "http://example.com/dir/next.html");
}

TEST_CASE("malformed markup does not stop the scan", "[net][html]") {
    CHECK(extract_links("a < b and c > d <a href=/x>") == Links{"/x"});
    CHECK(extract_links("<<a href=/x>") == Links{"/x"});
    CHECK(extract_links("</a href=/end-tag><a href=/x>") == Links{"/x"});
    CHECK(extract_links("<a href=\"/unterminated").size() == 1);
    CHECK(extract_links("<a href='/x'href='/y'>") == Links{"/x", "/y"});
    CHECK(extract_links("<a =href=/x>").empty());
    CHECK(extract_links("<a href=") == Links{""});
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
        std::size_t total = 0;
        for (const std::string& link : extract_links(s)) {
            total += link.size();  // decoded slices of the input: never longer
            // What the scanner used to leave out (a blank, a fragment, '#' or 'j' with the
            // alphabet's letters) leads nowhere new once resolved.
            const auto first = std::find_if(link.begin(), link.end(), [](char c) {
                return static_cast<unsigned char>(c) > 0x20;  // blanks and controls trimmed
            });
            if (first != link.end() && *first != '#') continue;
            const auto to = Url::resolve(*Url::parse("http://example.com/p"), link);
            REQUIRE((!to || to->normalized() == "http://example.com/p"));
        }
        REQUIRE(total <= s.size());
    }
}

}  // namespace examples_crawler_html_test
