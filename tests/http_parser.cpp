// RequestParser: framing, strictness (PITFALLS.md "HTTP servers that get smuggled through"),
// limits, keep-alive and pipelining. Every message is parsed twice, in one piece and one byte
// at a time, and the two must agree.
#include <corio/http/codec.hpp>

#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace http_parser_test {

using namespace corio::http;
using namespace std::string_literals;

namespace {

void check_same(const RequestParser& a, const RequestParser& b) {
    REQUIRE(a.state() == b.state());
    CHECK(a.error_status() == b.error_status());
    CHECK(a.error_reason() == b.error_reason());
    if (a.state() != ParseState::done) return;
    const ParsedRequest& x = a.request();
    const ParsedRequest& y = b.request();
    CHECK(x.method == y.method);
    CHECK(x.target == y.target);
    CHECK(x.version == y.version);
    CHECK(x.body == y.body);
    REQUIRE(x.headers.size() == y.headers.size());
    for (std::size_t i = 0; i < x.headers.size(); ++i) {
        CHECK(x.headers[i].name == y.headers[i].name);
        CHECK(x.headers[i].value == y.headers[i].value);
    }
    CHECK(x.trailers.size() == y.trailers.size());
}

// Parses `text` in one feed and byte by byte, checks that both agree, returns the first.
RequestParser parse(std::string_view text, RequestParser::Limits limits = {}) {
    RequestParser whole(limits);
    std::size_t used = whole.feed(text);
    RequestParser bytes(limits);
    std::size_t used_bytes = 0;
    for (char c : text) {
        if (bytes.state() != ParseState::need_more) break;
        used_bytes += bytes.feed(std::string_view(&c, 1));
    }
    check_same(whole, bytes);
    if (whole.state() == ParseState::done) CHECK(used == used_bytes);
    return whole;
}

// The error status for `text` (0 when it parses or needs more).
int status_of(std::string_view text, RequestParser::Limits limits = {}) {
    RequestParser p = parse(text, limits);
    return p.state() == ParseState::error ? p.error_status() : 0;
}

// True when `text` parses into a complete request.
bool ok(std::string_view text, RequestParser::Limits limits = {}) {
    return parse(text, limits).state() == ParseState::done;
}

// A complete request: "GET / HTTP/1.1", Host, the given extra lines, blank line, body.
std::string get_with(std::string_view extra, std::string_view body = "") {
    return "POST / HTTP/1.1\r\nHost: example.com\r\n"s + std::string(extra) + "\r\n" +
           std::string(body);
}

}  // namespace

TEST_CASE("simple GET request", "[net][http]") {
    std::string text =
        "GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\n"
        "User-Agent: test/1.0\r\nAccept:*/*\r\nX-Empty:\r\n\r\n";
    RequestParser p = parse(text);
    REQUIRE(p.state() == ParseState::done);
    CHECK(p.error_status() == 0);
    CHECK(p.error_reason().empty());
    const ParsedRequest& r = p.request();
    CHECK(r.method == "GET");
    CHECK(r.target == "/index.html?x=1");
    CHECK(r.version == Version::http_1_1);
    REQUIRE(r.headers.size() == 4);
    CHECK(r.headers[0].name == "Host");
    CHECK(r.headers.get("host") == "example.com");
    CHECK(r.headers.get("USER-AGENT") == "test/1.0");
    CHECK(r.headers.get("accept") == "*/*");
    CHECK(r.headers.get("x-empty") == "");
    CHECK_FALSE(r.headers.get("cookie").has_value());
    CHECK(r.body.empty());
    CHECK(r.keep_alive());
}

TEST_CASE("feed reports bytes consumed and stops at the end of the request", "[net][http]") {
    std::string text = "GET / HTTP/1.1\r\nHost: a\r\n\r\nEXTRA";
    RequestParser p;
    CHECK(p.feed(text) == text.size() - 5);
    CHECK(p.state() == ParseState::done);
    CHECK(p.feed("more") == 0);
}

TEST_CASE("header values lose surrounding whitespace, keep inner whitespace", "[net][http]") {
    RequestParser p = parse(get_with("X-A: \t a b\t \r\nContent-Length: 0\r\n"));
    REQUIRE(p.state() == ParseState::done);
    CHECK(p.request().headers.get("x-a") == "a b");
}

TEST_CASE("obs-text in a header value is allowed", "[net][http]") {
    RequestParser p = parse(get_with("X-A: caf\xc3\xa9\r\n"));
    CHECK(p.state() == ParseState::done);
}

TEST_CASE("Content-Length body", "[net][http]") {
    RequestParser p = parse(get_with("Content-Length: 11\r\n", "hello world"));
    REQUIRE(p.state() == ParseState::done);
    CHECK(p.request().body == "hello world");
    CHECK(p.request().method == "POST");

    RequestParser partial;
    std::string text = get_with("Content-Length: 11\r\n", "hello");
    CHECK(partial.feed(text) == text.size());
    CHECK(partial.state() == ParseState::need_more);
    CHECK(partial.headers_complete());
    CHECK(partial.feed(" world!") == 6);
    CHECK(partial.state() == ParseState::done);
    CHECK(partial.request().body == "hello world");
}

TEST_CASE("Content-Length: 0 and leading zeros", "[net][http]") {
    RequestParser zero = parse(get_with("Content-Length: 0\r\n"));
    REQUIRE(zero.state() == ParseState::done);
    CHECK(zero.request().body.empty());
    RequestParser lead = parse(get_with("Content-Length: 003\r\n", "abc"));
    REQUIRE(lead.state() == ParseState::done);
    CHECK(lead.request().body == "abc");
}

TEST_CASE("chunked body with trailers", "[net][http]") {
    std::string text = get_with("Transfer-Encoding: chunked\r\n",
                                "5\r\nhello\r\n"
                                "00006\r\n world\r\n"
                                "A\r\n0123456789\r\n"
                                "a\r\nabcdefghij\r\n"
                                "0\r\nX-Checksum: 42\r\nX-More: yes\r\n\r\n");
    RequestParser p = parse(text);
    REQUIRE(p.state() == ParseState::done);
    CHECK(p.request().body == "hello world0123456789abcdefghij");
    CHECK(p.request().trailers.size() == 2);
    CHECK(p.request().trailers.get("x-checksum") == "42");
    CHECK_FALSE(p.request().headers.contains("x-checksum"));
    CHECK(p.request().headers.has_token("transfer-encoding", "chunked"));
}

TEST_CASE("chunked body without trailers, and an empty one", "[net][http]") {
    RequestParser p = parse(get_with("Transfer-Encoding: chunked\r\n", "3\r\nabc\r\n0\r\n\r\n"));
    REQUIRE(p.state() == ParseState::done);
    CHECK(p.request().body == "abc");
    RequestParser e = parse(get_with("Transfer-Encoding: Chunked\r\n", "0\r\n\r\n"));
    REQUIRE(e.state() == ParseState::done);
    CHECK(e.request().body.empty());
}

TEST_CASE("known codings before chunked are accepted and left to the application", "[net][http]") {
    RequestParser p =
        parse(get_with("Transfer-Encoding: gzip, chunked\r\n", "2\r\nzz\r\n0\r\n\r\n"));
    REQUIRE(p.state() == ParseState::done);
    CHECK(p.request().body == "zz");
    CHECK(p.request().headers.get("transfer-encoding") == "gzip, chunked");
    RequestParser two =
        parse(get_with("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"));
    CHECK(two.state() == ParseState::done);
}

TEST_CASE("one byte at a time gives the same result", "[net][http]") {
    std::string text = get_with("Transfer-Encoding: chunked\r\nX-A: b\r\n",
                                "4\r\nWiki\r\n5\r\npedia\r\n0\r\nT: v\r\n\r\n");
    RequestParser whole;
    REQUIRE(whole.feed(text) == text.size());
    RequestParser bytes;
    for (char c : text) {
        REQUIRE(bytes.feed(std::string_view(&c, 1)) == 1);
    }
    REQUIRE(bytes.state() == ParseState::done);
    CHECK(bytes.request().body == "Wikipedia");
    CHECK(bytes.request().body == whole.request().body);
    CHECK(bytes.request().trailers.get("t") == "v");

    // And in every two-piece split.
    for (std::size_t cut = 0; cut <= text.size(); ++cut) {
        RequestParser p;
        std::size_t used = p.feed(std::string_view(text).substr(0, cut));
        used += p.feed(std::string_view(text).substr(cut));
        REQUIRE(used == text.size());
        REQUIRE(p.state() == ParseState::done);
        REQUIRE(p.request().body == "Wikipedia");
    }
}

TEST_CASE("pipelining: three requests in one buffer", "[net][http]") {
    std::string text =
        "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
        "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
        "PUT /three HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        "2\r\nxy\r\n0\r\n\r\n";
    auto run = [&](std::size_t step) {
        RequestParser p;
        std::vector<ParsedRequest> got;
        std::string pending;
        std::size_t pos = 0;
        while (pos < text.size() || !pending.empty()) {
            if (pending.empty()) {
                std::size_t n = std::min(step, text.size() - pos);
                pending.assign(text, pos, n);
                pos += n;
            }
            std::size_t used = p.feed(pending);
            pending.erase(0, used);
            REQUIRE(p.state() != ParseState::error);
            if (p.state() == ParseState::done) {
                got.push_back(p.request());
                p.reset();
            }
        }
        REQUIRE(got.size() == 3);
        CHECK(got[0].method == "GET");
        CHECK(got[0].target == "/one");
        CHECK(got[0].body.empty());
        CHECK(got[1].method == "POST");
        CHECK(got[1].target == "/two");
        CHECK(got[1].body == "abc");
        CHECK(got[1].headers.get("content-length") == "3");
        CHECK(got[2].method == "PUT");
        CHECK(got[2].target == "/three");
        CHECK(got[2].body == "xy");
        CHECK(got[2].headers.size() == 2);
    };
    SECTION("whole buffer") {
        run(text.size());
    }
    SECTION("one byte at a time") {
        run(1);
    }
    SECTION("seven bytes at a time") {
        run(7);
    }
}

TEST_CASE("take_request moves the request out; reset reuses the parser", "[net][http]") {
    RequestParser p;
    std::string a = "GET /a HTTP/1.1\r\nHost: x\r\nX-Long: " + std::string(100, 'v') + "\r\n\r\n";
    p.feed(a);
    REQUIRE(p.state() == ParseState::done);
    ParsedRequest r = p.take_request();
    CHECK(r.target == "/a");
    CHECK(r.headers.size() == 2);
    CHECK(r.headers.get("x-long") == std::string(100, 'v'));
    p.reset();
    CHECK(p.state() == ParseState::need_more);
    CHECK(p.request().headers.empty());
    p.feed("GET /b HTTP/1.0\r\n\r\n");
    REQUIRE(p.state() == ParseState::done);
    CHECK(p.request().target == "/b");
    CHECK(p.request().version == Version::http_1_0);
    CHECK(p.request().headers.empty());
}

TEST_CASE("empty lines before the request line are ignored", "[net][http]") {
    RequestParser p = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(p.state() == ParseState::done);
    CHECK(p.request().target == "/");
}

TEST_CASE("other request-target forms and methods", "[net][http]") {
    CHECK(parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").state() == ParseState::done);
    CHECK(parse("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n").state() ==
          ParseState::done);
    RequestParser abs = parse("GET http://a.example/x?y HTTP/1.1\r\nHost: a.example\r\n\r\n");
    REQUIRE(abs.state() == ParseState::done);
    CHECK(abs.request().target == "http://a.example/x?y");
    CHECK(parse("M-SEARCH * HTTP/1.1\r\nHost: a\r\n\r\n").state() == ParseState::done);
}

// RFC 9112 §3.2: a request-target is in origin form, absolute form (RFC 9110 §4.2: an http(s)
// URI with an empty host MUST be rejected), the asterisk form, or, for CONNECT and only
// there, the authority form "host:port" (RFC 9110 §9.3.6: the port is required). Anything
// else is an invalid request line: 400. The old parser took any visible characters.
TEST_CASE("request-target forms: authority form for CONNECT only", "[http][conformance]") {
    SECTION("accepted") {
        for (std::string line :
             {"CONNECT a.example:443", "CONNECT 127.0.0.1:8080", "CONNECT [::1]:443",
              "CONNECT xn--bcher-kva.example:80", "GET http://a.example",
              "GET HTTPS://a.example:1/", "GET http://u@a.example/x?y", "GET urn:isbn:0451450523",
              "GET /", "GET /a:b", "OPTIONS *"}) {
            INFO(line);
            CHECK(ok(line + " HTTP/1.1\r\nHost: a.example\r\n\r\n"));
        }
    }
    SECTION("rejected") {
        for (std::string line :
             {"CONNECT /", "CONNECT *", "CONNECT http://a.example/", "CONNECT a.example",
              "CONNECT a.example:", "CONNECT a.example:x", "CONNECT :443",
              "CONNECT u@a.example:443", "CONNECT a.example:443/x", "CONNECT [::1:443",
              "GET a.example", "GET 127.0.0.1:80", "GET [::1]:80", "GET ?x", "GET http:///x",
              "GET http:", "GET https://?q", "GET -a:b"}) {
            INFO(line);
            RequestParser p = parse(line + " HTTP/1.1\r\nHost: a.example\r\n\r\n");
            CHECK(p.state() == ParseState::error);
            CHECK(p.error_status() == 400);
            CHECK(p.error_reason() == "invalid request target");
        }
    }
}

TEST_CASE("keep-alive rules", "[net][http]") {
    auto keep = [](std::string_view text) {
        RequestParser p = parse(text);
        REQUIRE(p.state() == ParseState::done);
        return p.request().keep_alive();
    };
    SECTION("HTTP/1.1 is persistent by default") {
        CHECK(keep("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    }
    SECTION("HTTP/1.1 with Connection: close") {
        CHECK_FALSE(keep("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
        CHECK_FALSE(keep("GET / HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n\r\n"));
        CHECK_FALSE(keep("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade, close\r\n\r\n"));
        CHECK_FALSE(
            keep("GET / HTTP/1.1\r\nHost: a\r\nConnection: te\r\nConnection: close\r\n\r\n"));
    }
    SECTION("tokens are whole list elements") {
        CHECK(keep("GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n"));
        CHECK(keep("GET / HTTP/1.1\r\nHost: a\r\nX-Connection: close\r\n\r\n"));
    }
    SECTION("HTTP/1.0 closes by default") {
        CHECK_FALSE(keep("GET / HTTP/1.0\r\n\r\n"));
    }
    SECTION("HTTP/1.0 with Connection: keep-alive") {
        CHECK(keep("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        CHECK(keep("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
        CHECK_FALSE(keep("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"));
    }
}

TEST_CASE("HTTP/1.0 needs no Host", "[net][http]") {
    CHECK(ok("GET / HTTP/1.0\r\n\r\n"));
    CHECK(parse("GET / HTTP/1.0\r\n\r\n").state() == ParseState::done);
}

// ---- strictness: each rule ----

TEST_CASE("reject Content-Length together with Transfer-Encoding", "[net][http][strict]") {
    CHECK(status_of(get_with("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n")) ==
          400);
    CHECK(status_of(get_with("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "0\r\n\r\n")) ==
          400);
}

// RFC 9112 §6.3 item 5: a Content-Length that parses as a list of valid, equal values (in one
// field line or in repeated ones, RFC 9110 §5.3) is processed with that value; any other
// list is invalid framing. The old parser answered every list 400.
TEST_CASE("a Content-Length list of equal values is that value", "[http][conformance]") {
    for (std::string extra :
         {"Content-Length: 3\r\nContent-Length: 3\r\n",
          "Content-Length: 3\r\ncontent-length: 003\r\n", "Content-Length: 3, 3\r\n",
          "Content-Length: 3,3,3\r\n", "Content-Length: 3 ,\t3\r\nContent-Length: 3\r\n"}) {
        INFO(extra);
        RequestParser p = parse(get_with(extra, "abcGET"));
        REQUIRE(p.state() == ParseState::done);
        CHECK(p.request().body == "abc");
    }
}

TEST_CASE("reject a Content-Length list of different or invalid values", "[net][http][strict]") {
    CHECK(status_of(get_with("Content-Length: 3\r\ncontent-length: 4\r\n", "abcd")) == 400);
    CHECK(status_of(get_with("Content-Length: 4\r\ncontent-length: 3\r\n", "abcd")) == 400);
    CHECK(status_of(get_with("Content-Length: 3, 4\r\n", "abcd")) == 400);
    CHECK(status_of(get_with("Content-Length: 3, 3, 4\r\n", "abcd")) == 400);
    CHECK(status_of(get_with("Content-Length: 3, x\r\n", "abc")) == 400);
    CHECK(status_of(get_with("Content-Length: 3, -3\r\n", "abc")) == 400);
    CHECK(status_of(get_with("Content-Length: 3 3\r\n", "abc")) == 400);
    CHECK(status_of(get_with("Content-Length: ,\r\n", "abc")) == 400);
    CHECK(status_of(get_with("Content-Length: 3\r\nContent-Length:\r\n", "abc")) == 400);
    // With Transfer-Encoding, a list is still one of the two framings: rejected.
    CHECK(status_of(get_with("Content-Length: 3, 3\r\nTransfer-Encoding: chunked\r\n",
                             "0\r\n\r\n")) == 400);
}

TEST_CASE("reject non-numeric Content-Length", "[net][http][strict]") {
    for (std::string v : {"abc", "-1", "+3", "0x3", "3 3", "3a", "", "1e3", "3.0"}) {
        INFO("Content-Length: " << v);
        CHECK(status_of(get_with("Content-Length: " + v + "\r\n", "abc")) == 400);
    }
}

TEST_CASE("a huge Content-Length is too large, not an overflow", "[net][http][strict]") {
    CHECK(status_of(get_with("Content-Length: 99999999999999999999999999\r\n")) == 413);
    CHECK(status_of(get_with("Content-Length: 18446744073709551616\r\n")) == 413);
}

TEST_CASE("reject Transfer-Encoding whose last coding is not chunked", "[net][http][strict]") {
    CHECK(status_of(get_with("Transfer-Encoding: gzip\r\n", "abc")) == 400);
    CHECK(status_of(get_with("Transfer-Encoding: chunked, gzip\r\n", "0\r\n\r\n")) == 400);
    CHECK(status_of(get_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n",
                             "0\r\n\r\n")) == 400);
}

TEST_CASE("reject chunked applied twice", "[net][http][strict]") {
    CHECK(status_of(get_with("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n")) == 400);
    CHECK(status_of(get_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                             "0\r\n\r\n")) == 400);
}

TEST_CASE("unknown transfer coding is 501", "[net][http][strict]") {
    CHECK(status_of(get_with("Transfer-Encoding: foo\r\n", "abc")) == 501);
    CHECK(status_of(get_with("Transfer-Encoding: foo, chunked\r\n", "0\r\n\r\n")) == 501);
    CHECK(status_of(get_with("Transfer-Encoding: identity\r\n", "abc")) == 501);
}

TEST_CASE("reject malformed Transfer-Encoding values", "[net][http][strict]") {
    CHECK(status_of(get_with("Transfer-Encoding:\r\n", "0\r\n\r\n")) == 400);
    CHECK(status_of(get_with("Transfer-Encoding: ,chunked\r\n", "0\r\n\r\n")) == 400);
    CHECK(status_of(get_with("Transfer-Encoding: chunked;x=1\r\n", "0\r\n\r\n")) == 400);
    CHECK(status_of(get_with("Transfer-Encoding: \"chunked\"\r\n", "0\r\n\r\n")) == 400);
}

TEST_CASE("reject Transfer-Encoding in HTTP/1.0", "[net][http][strict]") {
    CHECK(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 400);
}

TEST_CASE("reject bad chunk sizes", "[net][http][strict]") {
    auto chunked = [](std::string_view body) {
        return status_of(get_with("Transfer-Encoding: chunked\r\n", body));
    };
    CHECK(chunked("zz\r\nabc\r\n0\r\n\r\n") == 400);
    CHECK(chunked("\r\nabc\r\n0\r\n\r\n") == 400);
    CHECK(chunked("-1\r\nabc\r\n0\r\n\r\n") == 400);
    CHECK(chunked("0x3\r\nabc\r\n0\r\n\r\n") == 400);
    CHECK(chunked(" 3\r\nabc\r\n0\r\n\r\n") == 400);
    CHECK(chunked("3 \r\nabc\r\n0\r\n\r\n") == 400);
    CHECK(chunked("+3\r\nabc\r\n0\r\n\r\n") == 400);
    CHECK(chunked("3\r\nabcd\r\n0\r\n\r\n") == 400);           // data longer than its size
    CHECK(chunked("3\r\nabc0\r\n\r\n") == 400);                // no CRLF after the data
    CHECK(chunked(std::string(70, '0') + "\r\n\r\n") == 400);  // size line too long
}

TEST_CASE("a chunk size that overflows is too large", "[net][http][strict]") {
    CHECK(status_of(get_with("Transfer-Encoding: chunked\r\n",
                             "fffffffffffffffffff\r\nabc\r\n0\r\n\r\n")) == 413);
}

// RFC 9112 §7.1.1: a chunk may carry extensions; a recipient ignores the ones it does not
// understand. The old parser answered these 400.
TEST_CASE("well-formed chunk extensions are accepted and dropped", "[http][conformance]") {
    const std::vector<std::string> bodies = {
        "5;name=value\r\nhello\r\n0\r\n\r\n",
        "5;flag\r\nhello\r\n0\r\n\r\n",
        "5;name=\"quoted value\"\r\nhello\r\n0\r\n\r\n",
        "5;q=\"a \\\"b\\\" ;c\"\r\nhello\r\n0\r\n\r\n",
        "5 ; a = b ;c\r\nhello\r\n0;last\r\n\r\n",
        "3;x=1\r\nhel\r\n2;y\r\nlo\r\n0\r\nT: v\r\n\r\n",
    };
    for (const std::string& body : bodies) {
        INFO(body);
        RequestParser p = parse(get_with("Transfer-Encoding: chunked\r\n", body));
        REQUIRE(p.state() == ParseState::done);
        CHECK(p.request().body == "hello");
        // Byte by byte gives the same result.
        RequestParser q;
        std::string text = get_with("Transfer-Encoding: chunked\r\n", body);
        for (char ch : text)
            q.feed(std::string_view(&ch, 1));
        REQUIRE(q.state() == ParseState::done);
        CHECK(q.request().body == "hello");
    }
}

TEST_CASE("reject malformed chunk extensions", "[net][http][strict]") {
    auto chunked = [](std::string_view body) {
        return status_of(get_with("Transfer-Encoding: chunked\r\n", body));
    };
    CHECK(chunked("3;\r\nabc\r\n0\r\n\r\n") == 400);             // no name
    CHECK(chunked("3;=v\r\nabc\r\n0\r\n\r\n") == 400);           // no name
    CHECK(chunked("3;a=\r\nabc\r\n0\r\n\r\n") == 400);           // no value
    CHECK(chunked("3;a=\"open\r\nabc\r\n0\r\n\r\n") == 400);     // unterminated quote
    CHECK(chunked("3;a=b c\r\nabc\r\n0\r\n\r\n") == 400);        // junk after a value
    CHECK(chunked("3;a\x01\r\nabc\r\n0\r\n\r\n") == 400);        // control character
    CHECK(chunked("3;a=\"x\x01\"\r\nabc\r\n0\r\n\r\n") == 400);  // control in quotes
    CHECK(chunked("3 x\r\nabc\r\n0\r\n\r\n") == 400);            // not an extension
    CHECK(chunked("3;a\rb\r\nabc\r\n0\r\n\r\n") == 400);         // bare CR
    CHECK(chunked("3;" + std::string(5000, 'a') + "\r\nabc\r\n0\r\n\r\n") == 400);  // too long
}

TEST_CASE("streamed body: pieces instead of a collected body", "[http]") {
    const std::string text =
        get_with("Transfer-Encoding: chunked\r\n", "3;x\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n") +
        "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
    for (std::size_t step : {std::size_t(1), std::size_t(3), text.size()}) {
        INFO("step " << step);
        RequestParser p;
        p.set_stream_body(true);
        std::string got;
        std::size_t pos = 0;
        while (p.state() == ParseState::need_more && pos < text.size()) {
            std::size_t n = p.feed(std::string_view(text).substr(pos, step));
            got += p.body_piece();
            pos += n;
        }
        REQUIRE(p.state() == ParseState::done);
        CHECK(got == "abcdefg");
        CHECK(p.request().body.empty());
        CHECK(p.body_bytes() == 7);
        p.reset();
        pos += p.feed(std::string_view(text).substr(pos));
        REQUIRE(p.state() == ParseState::done);
        CHECK(p.request().target == "/next");
        CHECK(pos == text.size());
    }
    // The size limit holds for streamed bodies too.
    RequestParser::Limits lim;
    lim.max_body = 5;
    RequestParser p(lim);
    p.set_stream_body(true);
    const std::string big = get_with("Transfer-Encoding: chunked\r\n", "3\r\nabc\r\n3\r\n");
    for (std::size_t pos = 0; pos < big.size() && p.state() == ParseState::need_more;)
        pos += p.feed(std::string_view(big).substr(pos));
    CHECK(p.state() == ParseState::error);
    CHECK(p.error_status() == 413);
}

TEST_CASE("reject bare LF line endings", "[net][http][strict]") {
    SECTION("request line") {
        CHECK(status_of("GET / HTTP/1.1\nHost: a\r\n\r\n") == 400);
    }
    SECTION("header line") {
        CHECK(status_of("GET / HTTP/1.1\r\nHost: a\n\r\n") == 400);
    }
    SECTION("end of head") {
        CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\n\n") == 400);
    }
    SECTION("chunk size") {
        CHECK(status_of(get_with("Transfer-Encoding: chunked\r\n", "3\nabc\r\n0\r\n\r\n")) == 400);
    }
    SECTION("after chunk data") {
        CHECK(status_of(get_with("Transfer-Encoding: chunked\r\n", "3\r\nabc\n0\r\n\r\n")) == 400);
    }
    SECTION("trailer") {
        CHECK(status_of(get_with("Transfer-Encoding: chunked\r\n", "0\r\nT: v\n\r\n")) == 400);
    }
    SECTION("empty line before the request line") {
        CHECK(status_of("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
    }
}

TEST_CASE("reject bare CR", "[net][http][strict]") {
    SECTION("request line") {
        CHECK(status_of("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
    }
    SECTION("header value") {
        CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n") == 400);
    }
    SECTION("line ending CR CR LF") {
        CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n") == 400);
    }
    SECTION("CR alone as a line end") {
        CHECK(status_of("GET / HTTP/1.1\rHost: a\r\n\r\n") == 400);
    }
    SECTION("reason") {
        RequestParser p = parse("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n");
        CHECK(p.error_reason() == "bare CR");
    }
}

TEST_CASE("reject obs-fold", "[net][http][strict]") {
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n") == 400);
    // A first header line starting with whitespace, too.
    CHECK(status_of("GET / HTTP/1.1\r\n Host: a\r\n\r\n") == 400);
}

TEST_CASE("reject whitespace before the colon", "[net][http][strict]") {
    CHECK(status_of("GET / HTTP/1.1\r\nHost : a\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n") == 400);
    CHECK(status_of(get_with("Content-Length : 3\r\n", "abc")) == 400);
    CHECK(status_of(get_with("Transfer-Encoding : chunked\r\n", "0\r\n\r\n")) == 400);
}

TEST_CASE("reject control characters in header names and values", "[net][http][strict]") {
    SECTION("in names") {
        CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX\x01Y: v\r\n\r\n") == 400);
        CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX\x7fY: v\r\n\r\n") == 400);
        CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\n"s + "X"s + '\0' + "Y: v\r\n\r\n") == 400);
    }
    SECTION("in values") {
        CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\n"s + "X: a" + '\0' + "b\r\n\r\n") == 400);
        CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\x1b[0mb\r\n\r\n") == 400);
        CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n") == 400);
        CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\x0b\r\n\r\n") == 400);
    }
    SECTION("in trailers") {
        CHECK(status_of(get_with("Transfer-Encoding: chunked\r\n", "0\r\nT: a\x01\r\n\r\n")) ==
              400);
    }
    SECTION("a tab inside a value is fine") {
        CHECK(ok("GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\r\n\r\n"));
    }
}

TEST_CASE("every octet at every position of a long value or target", "[net][http][strict]") {
    // Long enough for the word-at-a-time checks, with the odd octet in each position.
    for (int c = 0; c < 256; ++c) {
        bool value_ok = c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f);
        bool target_ok = c >= 0x21 && c <= 0x7e;
        for (std::size_t pos = 0; pos < 21; ++pos) {
            std::string v(21, 'v');
            v[pos] = char(c);
            INFO("octet " << c << " at " << pos);
            std::string head = "GET / HTTP/1.1\r\nHost: a\r\nX: " + v + "\r\n\r\n";
            if (c == '\r') {
                CHECK(status_of(head) == 400);
            } else if (c != '\n') {
                CHECK(ok(head) == value_ok);
            }
            if (c == ' ' || c == '\r' || c == '\n') continue;
            std::string target = "GET /" + v + " HTTP/1.1\r\nHost: a\r\n\r\n";
            CHECK(ok(target) == target_ok);
        }
    }
}

TEST_CASE("reject invalid token characters in method and header names", "[net][http][strict]") {
    SECTION("method") {
        CHECK(status_of("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
        CHECK(status_of("GET@ / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
        CHECK(status_of(" / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
        CHECK(status_of("G\xc3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
    }
    SECTION("header names") {
        for (std::string name :
             {"X(Y", "X/Y", "X@Y", "X\"Y", "X{Y", "X;Y", "X=Y", "X[Y", "X\xc3\xa9"}) {
            INFO(name);
            CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\n" + name + ": v\r\n\r\n") == 400);
        }
        CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n") == 400);
        CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n") == 400);
        CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX Y: v\r\n\r\n") == 400);
    }
    SECTION("all token characters are accepted") {
        CHECK(ok("GET / HTTP/1.1\r\nHost: a\r\n!#$%&'*+-.^_`|~09AZaz: v\r\n\r\n"));
    }
}

TEST_CASE("reject malformed request lines", "[net][http][strict]") {
    CHECK(status_of("GET  / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
    CHECK(status_of("GET /  HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1 \r\nHost: a\r\n\r\n") == 400);
    CHECK(status_of("GET /\r\nHost: a\r\n\r\n") == 400);
    CHECK(status_of("GET\r\nHost: a\r\n\r\n") == 400);
    CHECK(status_of("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
    CHECK(status_of("GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
    CHECK(status_of("GET / http/1.1\r\nHost: a\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.10\r\nHost: a\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/11\r\nHost: a\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1\r\nHost: a\r\n\r\n") == 400);
}

TEST_CASE("HTTP/1.1 requires exactly one valid Host", "[net][http][strict]") {
    CHECK(status_of("GET / HTTP/1.1\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n") == 400);
    CHECK(ok("GET / HTTP/1.1\r\nHost: a:8080\r\n\r\n"));
    CHECK(ok("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"));
    CHECK(ok("GET / HTTP/1.1\r\nHost:\r\n\r\n"));  // empty Host is allowed
    RequestParser p = parse("GET / HTTP/1.1\r\n\r\n");
    CHECK(p.error_reason() == "missing Host");
}

TEST_CASE("unsupported HTTP version is 505", "[net][http][strict]") {
    CHECK(status_of("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == 505);
    CHECK(status_of("GET / HTTP/0.9\r\nHost: a\r\n\r\n") == 505);
    CHECK(status_of("GET / HTTP/1.2\r\nHost: a\r\n\r\n") == 505);
    CHECK(status_of("GET / HTTP/3.1\r\nHost: a\r\n\r\n") == 505);
}

// ---- limits ----

TEST_CASE("request line limit: 414", "[net][http][limits]") {
    RequestParser::Limits lim;
    std::string prefix = "GET /";
    std::string suffix = " HTTP/1.1\r\n";
    auto line_of = [&](std::size_t total) {
        return prefix + std::string(total - prefix.size() - suffix.size(), 'a') + suffix;
    };
    CHECK(ok(line_of(lim.max_request_line) + "Host: a\r\n\r\n"));
    CHECK(status_of(line_of(lim.max_request_line + 1) + "Host: a\r\n\r\n") == 414);
    // Without any line end, the parser gives up as soon as the limit is passed.
    RequestParser p;
    std::string endless = "GET /" + std::string(lim.max_request_line, 'a');
    CHECK(p.feed(endless) < endless.size());
    CHECK(p.state() == ParseState::error);
    CHECK(p.error_status() == 414);
}

TEST_CASE("header section limit: 431", "[net][http][limits]") {
    RequestParser::Limits lim;
    lim.max_header_bytes = 100;
    std::string head = "GET / HTTP/1.1\r\nHost: a\r\n";  // Host line: 9 bytes
    // 9 + 89 + final CRLF 2 == 100.
    std::string fits = head + "X: " + std::string(84, 'v') + "\r\n\r\n";
    CHECK(ok(fits, lim));
    std::string over = head + "X: " + std::string(85, 'v') + "\r\n\r\n";
    CHECK(status_of(over, lim) == 431);
    CHECK(status_of(head + "X: " + std::string(1000, 'v'), lim) == 431);
    // The default is 16 KiB.
    CHECK(status_of(head + "X: " + std::string(16 * 1024, 'v') + "\r\n\r\n") == 431);
}

TEST_CASE("header count limit: 431", "[net][http][limits]") {
    auto with_fields = [](int n) {
        std::string s = "GET / HTTP/1.1\r\nHost: a\r\n";
        for (int i = 1; i < n; ++i) {
            s += "X-" + std::to_string(i) + ": v\r\n";
        }
        return s + "\r\n";
    };
    CHECK(ok(with_fields(100)));
    CHECK(status_of(with_fields(101)) == 431);
    RequestParser::Limits lim;
    lim.max_header_count = 3;
    CHECK(ok(with_fields(3), lim));
    CHECK(status_of(with_fields(4), lim) == 431);
}

TEST_CASE("trailers count towards the header limits", "[net][http][limits]") {
    RequestParser::Limits lim;
    lim.max_header_count = 3;
    std::string two = get_with("Transfer-Encoding: chunked\r\n", "0\r\nA: 1\r\n\r\n");
    CHECK(ok(two, lim));
    std::string three = get_with("Transfer-Encoding: chunked\r\n", "0\r\nA: 1\r\nB: 2\r\n\r\n");
    CHECK(status_of(three, lim) == 431);
}

TEST_CASE("body limit: 413", "[net][http][limits]") {
    RequestParser::Limits lim;
    lim.max_body = 10;
    SECTION("Content-Length") {
        CHECK(ok(get_with("Content-Length: 10\r\n", std::string(10, 'b')), lim));
        CHECK(status_of(get_with("Content-Length: 11\r\n"), lim) == 413);
    }
    SECTION("chunked, one chunk") {
        CHECK(status_of(get_with("Transfer-Encoding: chunked\r\n", "b\r\n"), lim) == 413);
    }
    SECTION("chunked, the sum of chunks") {
        std::string five = "5\r\n" + std::string(5, 'b') + "\r\n";
        CHECK(ok(get_with("Transfer-Encoding: chunked\r\n", five + five + "0\r\n\r\n"), lim));
        CHECK(status_of(get_with("Transfer-Encoding: chunked\r\n", five + five + "1\r\nb\r\n"),
                        lim) == 413);
    }
    SECTION("the default is 1 MiB") {
        CHECK(parse(get_with("Content-Length: 1048576\r\n")).state() == ParseState::need_more);
        CHECK(status_of(get_with("Content-Length: 1048577\r\n")) == 413);
    }
}

// ---- errors are final ----

TEST_CASE("after an error the parser never parses on", "[net][http][strict]") {
    RequestParser p;
    p.feed("GET / HTTP/1.1\r\nHost : a\r\n\r\n");
    REQUIRE(p.state() == ParseState::error);
    CHECK(p.error_status() == 400);
    CHECK_FALSE(p.error_reason().empty());
    CHECK(p.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n") == 0);
    CHECK(p.state() == ParseState::error);
    p.reset();
    CHECK(p.state() == ParseState::error);
    CHECK(p.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n") == 0);
    CHECK(p.error_status() == 400);
    CHECK_FALSE(p.headers_complete());
}

TEST_CASE("a smuggling attempt is one error, not two requests", "[net][http][strict]") {
    // The classic CL.TE desync: a lenient parser reads "GET /admin" as a second request.
    std::string text =
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 13\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n\r\n";
    RequestParser p;
    p.feed(text);
    CHECK(p.state() == ParseState::error);
    CHECK(p.error_status() == 400);
}

TEST_CASE("headers_complete before the body arrives", "[net][http]") {
    RequestParser p;
    p.feed("POST /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n");
    CHECK_FALSE(p.headers_complete());
    p.feed("\r\n");
    CHECK(p.headers_complete());
    CHECK(p.state() == ParseState::need_more);
    CHECK(p.request().headers.get("expect") == "100-continue");
    p.feed("data");
    CHECK(p.state() == ParseState::done);
}

TEST_CASE("Headers helpers", "[net][http]") {
    Headers h;
    h.add("Accept", "a");
    h.add("accept", "b");
    h.add("Connection", "Upgrade,  Keep-Alive ,x");
    CHECK(h.size() == 3);
    CHECK(h.get("ACCEPT") == "a");
    CHECK(h.count("accept") == 2);
    CHECK(h.contains("connection"));
    CHECK(h.has_token("connection", "keep-alive"));
    CHECK(h.has_token("connection", "X"));
    CHECK_FALSE(h.has_token("connection", "close"));
    Headers copy = h;
    h.clear();
    CHECK(h.empty());
    CHECK(copy.size() == 3);
    h.add("A", "1");
    CHECK(h.size() == 1);
    CHECK(h.get("a") == "1");
    CHECK_FALSE(h.contains("accept"));
    Headers moved = std::move(copy);
    CHECK(moved.size() == 3);
    CHECK(copy.size() == 0);  // NOLINT: moved-from is empty by contract
    CHECK(iequals("Content-Length", "content-LENGTH"));
    CHECK_FALSE(iequals("a", "ab"));
}

}  // namespace http_parser_test
