// ResponseParser (framing for a client, EOF-delimited bodies, HEAD/1xx/204/304), and the
// serialisation helpers: heads, requests, status reasons, percent decoding, MIME types.
#include <corio/http/codec.hpp>

#include <catch2/catch.hpp>
#include <ctime>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace http_response_test {

using namespace corio::http;
using namespace std::string_literals;

namespace {

// Parses `text` in one feed and byte by byte (then finish_eof() on both when `eof`), checks
// that both agree, and returns the first.
ResponseParser parse(std::string_view text, bool eof = false, bool head = false,
                     ResponseParser::Limits limits = {}) {
    ResponseParser whole(limits);
    whole.set_head_request(head);
    std::size_t used = whole.feed(text);
    ResponseParser bytes(limits);
    bytes.set_head_request(head);
    std::size_t used_bytes = 0;
    for (char c : text) {
        if (bytes.state() != ParseState::need_more) break;
        used_bytes += bytes.feed(std::string_view(&c, 1));
    }
    if (eof) {
        whole.finish_eof();
        bytes.finish_eof();
    }
    REQUIRE(whole.state() == bytes.state());
    CHECK(whole.error_reason() == bytes.error_reason());
    if (whole.state() == ParseState::done) {
        CHECK(used == used_bytes);
        CHECK(whole.response().status == bytes.response().status);
        CHECK(whole.response().reason == bytes.response().reason);
        CHECK(whole.response().body == bytes.response().body);
        CHECK(whole.response().headers.size() == bytes.response().headers.size());
    }
    return whole;
}

bool is_error(std::string_view text, bool eof = false) {
    return parse(text, eof).state() == ParseState::error;
}

}  // namespace

TEST_CASE("response with Content-Length", "[net][http][response]") {
    ResponseParser p =
        parse("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello");
    REQUIRE(p.state() == ParseState::done);
    const ParsedResponse& r = p.response();
    CHECK(r.version == Version::http_1_1);
    CHECK(r.status == 200);
    CHECK(r.reason == "OK");
    CHECK(r.headers.get("content-type") == "text/html");
    CHECK(r.body == "hello");
    CHECK_FALSE(r.until_close);
    CHECK(r.keep_alive());
}

TEST_CASE("response status line variants", "[net][http][response]") {
    ResponseParser multi = parse("HTTP/1.1 404 Not Found Here\r\nContent-Length: 0\r\n\r\n");
    REQUIRE(multi.state() == ParseState::done);
    CHECK(multi.response().status == 404);
    CHECK(multi.response().reason == "Not Found Here");
    ResponseParser empty = parse("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n");
    REQUIRE(empty.state() == ParseState::done);
    CHECK(empty.response().reason.empty());
    ResponseParser none = parse("HTTP/1.0 200\r\nContent-Length: 0\r\n\r\n");
    REQUIRE(none.state() == ParseState::done);
    CHECK(none.response().version == Version::http_1_0);
    CHECK(none.response().reason.empty());

    CHECK(is_error("HTTP/1.1 20 OK\r\n\r\n"));
    CHECK(is_error("HTTP/1.1 2000 OK\r\n\r\n"));
    CHECK(is_error("HTTP/1.1 099 Low\r\n\r\n"));
    CHECK(is_error("HTTP/1.1  200 OK\r\n\r\n"));
    CHECK(is_error("HTTP/2 200 OK\r\n\r\n"));
    CHECK(is_error("HTTP/2.0 200 OK\r\n\r\n"));
    CHECK(is_error("http/1.1 200 OK\r\n\r\n"));
    CHECK(is_error("ICY 200 OK\r\n\r\n"));
    CHECK(is_error("HTTP/1.1 200 O\x01K\r\n\r\n"));
}

TEST_CASE("chunked response with trailers", "[net][http][response]") {
    ResponseParser p = parse(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nExpires: never\r\n\r\n");
    REQUIRE(p.state() == ParseState::done);
    CHECK(p.response().body == "abc0123456789abcdef");
    CHECK(p.response().trailers.get("expires") == "never");
    CHECK(p.response().keep_alive());
}

TEST_CASE("body delimited by close needs finish_eof", "[net][http][response]") {
    std::string text = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome body";
    ResponseParser p;
    CHECK(p.feed(text) == text.size());
    CHECK(p.state() == ParseState::need_more);
    CHECK(p.headers_complete());
    CHECK(p.feed(" and more") == 9);
    CHECK(p.finish_eof() == ParseState::done);
    CHECK(p.response().body == "some body and more");
    CHECK(p.response().until_close);
    CHECK_FALSE(p.response().keep_alive());

    ResponseParser both = parse(text, true);
    REQUIRE(both.state() == ParseState::done);
    CHECK(both.response().body == "some body");
}

TEST_CASE("a final coding other than chunked runs until close", "[net][http][response]") {
    ResponseParser p = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxyz", true);
    REQUIRE(p.state() == ParseState::done);
    CHECK(p.response().body == "xyz");
    CHECK(p.response().until_close);
    CHECK_FALSE(p.response().keep_alive());
}

TEST_CASE("finish_eof before the response is complete is an error", "[net][http][response]") {
    CHECK(is_error("", true));
    CHECK(is_error("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", true));
    CHECK(is_error("HTTP/1.1 200 OK\r\nContent-Le", true));
    CHECK(is_error("HTTP/1.1 200", true));
    CHECK(is_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", true));
    ResponseParser p;
    CHECK(p.finish_eof() == ParseState::error);
    CHECK(p.error_reason() == "connection closed before a response");
}

TEST_CASE("finish_eof after a complete response changes nothing", "[net][http][response]") {
    ResponseParser p = parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", true);
    CHECK(p.state() == ParseState::done);
    CHECK(p.response().body == "x");
}

TEST_CASE("no body for HEAD, 1xx, 204 and 304", "[net][http][response]") {
    SECTION("HEAD: Content-Length describes the GET body") {
        ResponseParser p =
            parse("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", false, /*head=*/true);
        REQUIRE(p.state() == ParseState::done);
        CHECK(p.response().body.empty());
        CHECK(p.response().keep_alive());
        ResponseParser chunked =
            parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, true);
        CHECK(chunked.state() == ParseState::done);
        ResponseParser neither = parse("HTTP/1.1 200 OK\r\n\r\n", false, true);
        CHECK(neither.state() == ParseState::done);
        CHECK_FALSE(neither.response().until_close);
    }
    SECTION("204") {
        ResponseParser p = parse("HTTP/1.1 204 No Content\r\n\r\n");
        REQUIRE(p.state() == ParseState::done);
        CHECK(p.response().status == 204);
    }
    SECTION("304 with Content-Length") {
        std::string text = "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n";
        ResponseParser p;
        CHECK(p.feed(text + "HTTP/1.1") == text.size());
        REQUIRE(p.state() == ParseState::done);
        CHECK(p.response().body.empty());
    }
    SECTION("101 Switching Protocols ends the parse") {
        std::string text =
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\n\r\n";
        ResponseParser p;
        CHECK(p.feed(text + "\x81\x05hello") == text.size());
        REQUIRE(p.state() == ParseState::done);
        CHECK(p.response().status == 101);
    }
    SECTION("interim 100 and 103 are skipped") {
        ResponseParser p = parse(
            "HTTP/1.1 100 Continue\r\n\r\n"
            "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        REQUIRE(p.state() == ParseState::done);
        CHECK(p.response().status == 200);
        CHECK(p.response().body == "ok");
        CHECK(p.response().headers.size() == 1);
        CHECK_FALSE(p.response().headers.contains("link"));
    }
}

TEST_CASE("response keep-alive rules", "[net][http][response]") {
    auto keep = [](std::string_view text) {
        ResponseParser p = parse(text);
        REQUIRE(p.state() == ParseState::done);
        return p.response().keep_alive();
    };
    CHECK(keep("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    CHECK_FALSE(keep("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"));
    CHECK_FALSE(keep("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
    CHECK(keep("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"));
}

TEST_CASE("response framing is as strict as requests'", "[net][http][response]") {
    CHECK(is_error("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"));
    CHECK(is_error("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"));
    CHECK(is_error("HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd"));
    CHECK(is_error("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\nabc"));
    CHECK(is_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"));
    CHECK(is_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"));
    CHECK(is_error("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"));
    CHECK(is_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=\r\nabc\r\n"));
    CHECK_FALSE(is_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n"));
    CHECK(is_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nq\r\nabc\r\n"));
    CHECK(is_error("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n"));
    CHECK(is_error("HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n"));
    CHECK(is_error("HTTP/1.1 200 OK\r\nX : a\r\nContent-Length: 0\r\n\r\n"));
    CHECK(is_error("HTTP/1.1 200 OK\r\nX: \x01\r\nContent-Length: 0\r\n\r\n"));
}

// RFC 9112 §6.3 item 5: a list of equal Content-Length values is that value.
TEST_CASE("response Content-Length list of equal values is that value",
          "[net][http][response][conformance]") {
    for (std::string text : {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
                             "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc"}) {
        INFO(text);
        ResponseParser p = parse(text);
        REQUIRE(p.state() == ParseState::done);
        CHECK(p.response().body == "abc");
        CHECK(p.response().keep_alive());
    }
}

// RFC 9112 §5.2: a user agent MUST replace each obs-fold in a response with SP before it
// interprets the value (a server may reject them in requests, and ours does). The old parser
// failed such responses.
TEST_CASE("obs-fold in a response is replaced by a space", "[net][http][response][conformance]") {
    ResponseParser p = parse(
        "HTTP/1.1 200 OK\r\nX-A: one\r\n two \r\n\tthree\r\nX-B:\r\n b\r\n"
        "Content-Length: 2\r\n\r\nok");
    REQUIRE(p.state() == ParseState::done);
    CHECK(p.response().headers.size() == 3);
    CHECK(p.response().headers.get("x-a") == "one two three");
    CHECK(p.response().headers.get("x-b") == "b");
    CHECK(p.response().body == "ok");
    ResponseParser t =
        parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: a\r\n  b\r\n\r\n");
    REQUIRE(t.state() == ParseState::done);
    CHECK(t.response().trailers.get("t") == "a b");
    // Still errors: a fold with nothing before it, one that holds a control character, and
    // folded framing fields (already interpreted when the fold arrives).
    CHECK(is_error("HTTP/1.1 200 OK\r\n X: a\r\nContent-Length: 0\r\n\r\n"));
    CHECK(is_error("HTTP/1.1 200 OK\r\nX: a\r\n b\x01\r\nContent-Length: 0\r\n\r\n"));
    CHECK(is_error("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n 0\r\n\r\nabcdefghij"));
    CHECK(is_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip,\r\n chunked\r\n\r\n0\r\n\r\n"));
    CHECK(is_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n T: a\r\n\r\n"));
}

TEST_CASE("response body limit", "[net][http][response]") {
    ResponseParser::Limits lim;
    lim.max_body = 4;
    auto state = [&](std::string_view text, bool eof) {
        return parse(text, eof, false, lim).state();
    };
    CHECK(state("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd", false) == ParseState::done);
    CHECK(state("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde", false) == ParseState::error);
    CHECK(state("HTTP/1.1 200 OK\r\n\r\nabcd", true) == ParseState::done);
    CHECK(state("HTTP/1.1 200 OK\r\n\r\nabcde", true) == ParseState::error);
    CHECK(state("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n3\r\nabc\r\n",
                false) == ParseState::error);
    CHECK(ResponseParser().limits().max_body == 8 * 1024 * 1024);
}

TEST_CASE("pipelined responses and reset", "[net][http][response]") {
    std::string text =
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
        "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"  // answer to HEAD
        "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\n";
    ResponseParser p;
    std::string_view rest = text;
    rest.remove_prefix(p.feed(rest));
    REQUIRE(p.state() == ParseState::done);
    CHECK(p.response().body == "a");
    p.reset(/*head=*/true);
    rest.remove_prefix(p.feed(rest));
    REQUIRE(p.state() == ParseState::done);
    CHECK(p.response().body.empty());
    ParsedResponse taken = p.take_response();
    CHECK(taken.headers.get("content-length") == "9");
    p.reset();
    rest.remove_prefix(p.feed(rest));
    REQUIRE(p.state() == ParseState::done);
    CHECK(p.response().status == 404);
    CHECK(p.response().body == "b");
    CHECK(rest.empty());
}

TEST_CASE("response errors are final", "[net][http][response]") {
    ResponseParser p;
    p.feed("HTTP/9.9 200 OK\r\n");
    REQUIRE(p.state() == ParseState::error);
    p.reset();
    CHECK(p.state() == ParseState::error);
    CHECK(p.feed("HTTP/1.1 200 OK\r\n\r\n") == 0);
    CHECK(p.finish_eof() == ParseState::error);
}

// ---- serialisation ----

TEST_CASE("format_response_head", "[net][http][format]") {
    std::string out = "prefix|";
    format_response_head(out, 200, "OK", {{"Content-Type", "text/html"}, {"X-A", "b"}}, 12, true);
    CHECK(out ==
          "prefix|HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-A: b\r\n"
          "Content-Length: 12\r\n\r\n");

    out.clear();
    format_response_head(out, 404, "", {}, 0, false);
    CHECK(out == "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");

    out.clear();
    format_response_head(out, 200, "OK", {}, 3, true, Version::http_1_0);
    CHECK(out == "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n");

    out.clear();
    format_response_head(out, 204, "", {}, 0, true);
    CHECK(out == "HTTP/1.1 204 No Content\r\n\r\n");

    out.clear();
    format_response_head(out, 200, "OK", {{"Transfer-Encoding", "chunked"}}, std::nullopt, true);
    CHECK(out == "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");

    std::vector<HeaderView> hs{{"A", "1"}};
    out.clear();
    format_response_head(out, 500, "Oops", hs, 0, true);
    CHECK(out == "HTTP/1.1 500 Oops\r\nA: 1\r\nContent-Length: 0\r\n\r\n");
}

TEST_CASE("format_response_head refuses header injection", "[net][http][format]") {
    std::string out = "keep";
    CHECK_THROWS_AS(format_response_head(out, 200, "OK", {{"X", "a\r\nSet-Cookie: x"}}, 0, true),
                    std::invalid_argument);
    CHECK_THROWS_AS(format_response_head(out, 200, "OK", {{"X\r\nY", "a"}}, 0, true),
                    std::invalid_argument);
    CHECK_THROWS_AS(format_response_head(out, 200, "OK", {{"", "a"}}, 0, true),
                    std::invalid_argument);
    CHECK_THROWS_AS(format_response_head(out, 200, "OK\r\n", {}, 0, true), std::invalid_argument);
    CHECK_THROWS_AS(format_response_head(out, 42, "OK", {}, 0, true), std::invalid_argument);
    CHECK(out == "keep");
}

TEST_CASE("format_request and round trip through the parser", "[net][http][format]") {
    std::string out;
    format_request(out, "GET", "/a?b=c", "example.com:8080",
                   {{"User-Agent", "corio"}, {"Accept", "*/*"}});
    CHECK(out ==
          "GET /a?b=c HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: corio\r\n"
          "Accept: */*\r\n\r\n");
    RequestParser p;
    CHECK(p.feed(out) == out.size());
    REQUIRE(p.state() == ParseState::done);
    CHECK(p.request().target == "/a?b=c");
    CHECK(p.request().headers.get("host") == "example.com:8080");

    std::string bad;
    CHECK_THROWS_AS(format_request(bad, "GET", "/a b", "h"), std::invalid_argument);
    CHECK_THROWS_AS(format_request(bad, "G T", "/", "h"), std::invalid_argument);
    CHECK_THROWS_AS(format_request(bad, "GET", "/", "h\r\nX: y"), std::invalid_argument);
    CHECK_THROWS_AS(format_request(bad, "GET", "", "h"), std::invalid_argument);
    CHECK(bad.empty());
}

TEST_CASE("status_reason", "[net][http][format]") {
    CHECK(status_reason(200) == "OK");
    CHECK(status_reason(404) == "Not Found");
    CHECK(status_reason(413) == "Content Too Large");
    CHECK(status_reason(431) == "Request Header Fields Too Large");
    CHECK(status_reason(505) == "HTTP Version Not Supported");
    CHECK(status_reason(799) == "Unknown");
}

TEST_CASE("percent_decode", "[net][http][format]") {
    CHECK(percent_decode("") == "");
    CHECK(percent_decode("/a%20b") == "/a b");
    CHECK(percent_decode("%2f%2F") == "//");
    CHECK(percent_decode("a+b") == "a+b");
    CHECK(percent_decode("%00") == std::string(1, '\0'));
    CHECK(percent_decode("%e2%82%ac") == "\xe2\x82\xac");
    CHECK_FALSE(percent_decode("%").has_value());
    CHECK_FALSE(percent_decode("%2").has_value());
    CHECK_FALSE(percent_decode("a%zz").has_value());
    CHECK_FALSE(percent_decode("%g0").has_value());
    CHECK_FALSE(percent_decode("abc%4").has_value());
}

TEST_CASE("media_type", "[net][http][format]") {
    CHECK(media_type("text/html") == "text/html");
    CHECK(media_type("Text/HTML; charset=utf-8") == "Text/HTML");
    CHECK(media_type(" \tapplication/xhtml+xml \t;q=1") == "application/xhtml+xml");
    CHECK(media_type(";charset=utf-8").empty());
    CHECK(media_type("").empty());
}

TEST_CASE("mime_type_for", "[net][http][format]") {
    CHECK(mime_type_for("/index.html") == "text/html; charset=utf-8");
    CHECK(mime_type_for("INDEX.HTM") == "text/html; charset=utf-8");
    CHECK(mime_type_for("a/style.css") == "text/css; charset=utf-8");
    CHECK(mime_type_for("app.js") == "text/javascript; charset=utf-8");
    CHECK(mime_type_for("data.json") == "application/json");
    CHECK(mime_type_for("p.png") == "image/png");
    CHECK(mime_type_for("p.JPG") == "image/jpeg");
    CHECK(mime_type_for("p.jpeg") == "image/jpeg");
    CHECK(mime_type_for("p.gif") == "image/gif");
    CHECK(mime_type_for("p.svg") == "image/svg+xml");
    CHECK(mime_type_for("readme.txt") == "text/plain; charset=utf-8");
    CHECK(mime_type_for("favicon.ico") == "image/x-icon");
    CHECK(mime_type_for("m.wasm") == "application/wasm");
    CHECK(mime_type_for("doc.pdf") == "application/pdf");
    CHECK(mime_type_for("archive.tar.gz") == "application/octet-stream");
    CHECK(mime_type_for("Makefile") == "application/octet-stream");
    CHECK(mime_type_for("dir.html/file") == "application/octet-stream");
    CHECK(mime_type_for("") == "application/octet-stream");
    CHECK(mime_type_for("trailing.") == "application/octet-stream");
}

// RFC 9110 §5.6.7: senders write IMF-fixdate; recipients read all three formats. Written
// without strftime/strptime, whose day and month names follow the program's locale.
TEST_CASE("HTTP-dates: IMF-fixdate out, three formats in", "[http][date]") {
    CHECK(format_http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(format_http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
    CHECK(format_http_date(951782400) == "Tue, 29 Feb 2000 00:00:00 GMT");
    CHECK(format_http_date(4102444799) == "Thu, 31 Dec 2099 23:59:59 GMT");
    char raw[http_date_size + 1];
    raw[http_date_size] = 'x';
    CHECK(format_http_date(784111777, raw) == http_date_size);
    CHECK(raw[http_date_size] == 'x');  // writes no NUL

    CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
    CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
    CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == 784111777);
    CHECK(parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT") == 951782400);
    for (std::string_view bad :
         {"", "Sun, 06 Nov 1994 08:49:37 UTC", "sun, 06 Nov 1994 08:49:37 GMT",
          "Sun, 06 nov 1994 08:49:37 GMT", "Sun, 31 Nov 1994 08:49:37 GMT",
          "Mon, 29 Feb 1999 00:00:00 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
          "Sun, 6 Nov 1994 08:49:37 GMT", "Sun,  06 Nov 1994 08:49:37 GMT",
          "Sunday, 06-Nov-1994 08:49:37 GMT", "Sun Nov 06 08:49:37 1994 GMT"}) {
        INFO(bad);
        CHECK_FALSE(parse_http_date(bad));
    }
    // Every second formatted reads back as itself (a stride that visits each field's range).
    for (std::time_t t = 0; t < std::time_t(4102444800); t += 86400 * 7 + 3671) {
        char b[http_date_size];
        const std::string_view s(b, format_http_date(t, b));
        REQUIRE(parse_http_date(s) == t);
    }
}

}  // namespace http_response_test
