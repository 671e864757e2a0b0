// http::StaticFiles mounted in a Router on the backend of this run:
// conditional GET (ETag, If-Modified-Since), single byte ranges (206, 416),
// a mount under a prefix, for cached (small) and streamed (large) files.
#include <catch2/catch.hpp>

#include <corio/http/static_files.hpp>

#include "http_support.hpp"
#include "site/harness.hpp"

using namespace corio;
using namespace std::chrono_literals;
using test::LocalServer;

namespace {

struct Files {
    test::site::TempDir dir{"corio-http-static"};
    std::string small = "0123456789abcdef";
    std::string large = std::string(300 * 1024, 'L') + "END";  // above the cache limit
    Files() {
        test::site::write_file(dir / "small.txt", small);
        test::site::write_file(dir / "large.bin", large);
        test::site::write_file(dir / "docs/index.html", "<p>docs</p>");
    }
};

http::Router mounted(const std::string& root) {
    http::Router r;
    r.mount("/static", http::StaticFiles::open(root).value("root"));
    return r;
}

Task<Result<http::ClientResponse>> get(http::Client& c, std::string url,
                                       std::vector<std::pair<std::string, std::string>> h = {},
                                       std::string method = "GET") {
    http::ClientRequest req;
    req.method = std::move(method);
    req.url = std::move(url);
    req.headers = std::move(h);
    co_return co_await c.fetch(std::move(req));
}

using Fields = std::vector<std::pair<std::string, std::string>>;

// Braced lists of string literals inside a coroutine trip g++ 12 ("array used
// as initializer"): fields are made here.
Fields hdr(std::string n, std::string v) {
    return Fields{{std::move(n), std::move(v)}};
}
Fields hdr(std::string n1, std::string v1, std::string n2, std::string v2) {
    return Fields{{std::move(n1), std::move(v1)}, {std::move(n2), std::move(v2)}};
}

}  // namespace

TEST_CASE("static files: mounted under a prefix; conditional GET", "[http][static]") {
    static Files files;
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(mounted(files.dir.path));
        http::ClientOptions co;
        co.max_redirects = 0;
        http::Client c(co);
        for (std::string name :
             {std::string("/static/small.txt"), std::string("/static/large.bin")}) {
            INFO(name);
            const std::string& content = name == "/static/small.txt" ? files.small : files.large;
            auto r = co_await get(c, srv.url(name));
            REQUIRE(r);
            CHECK(r->status == 200);
            CHECK(r->body == content);
            CHECK(r->headers.get("Accept-Ranges").value_or("") == "bytes");
            const std::string etag(r->headers.get("ETag").value_or(""));
            const std::string lm(r->headers.get("Last-Modified").value_or(""));
            REQUIRE(etag.size() > 2);
            REQUIRE_FALSE(lm.empty());

            r = co_await get(c, srv.url(name), hdr("If-None-Match", etag));
            REQUIRE(r);
            CHECK(r->status == 304);
            CHECK(r->body.empty());
            CHECK(r->headers.get("ETag").value_or("") == etag);
            r = co_await get(c, srv.url(name), hdr("If-None-Match", "\"other\", W/" + etag));
            REQUIRE(r);
            CHECK(r->status == 304);
            r = co_await get(c, srv.url(name), hdr("If-None-Match", "\"other\""));
            REQUIRE(r);
            CHECK(r->status == 200);
            r = co_await get(c, srv.url(name), hdr("If-Modified-Since", lm));
            REQUIRE(r);
            CHECK(r->status == 304);
            r = co_await get(c, srv.url(name),
                             hdr("If-Modified-Since", "Thu, 01 Jan 1970 00:00:01 GMT"));
            REQUIRE(r);
            CHECK(r->status == 200);
            // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
            r = co_await get(c, srv.url(name),
                             hdr("If-None-Match", "\"other\"", "If-Modified-Since", lm));
            REQUIRE(r);
            CHECK(r->status == 200);
        }
        // The prefix stays in a redirect to a directory; the index is served.
        auto r = co_await get(c, srv.url("/static/docs?x=1"));
        REQUIRE(r);
        CHECK(r->status == 301);
        CHECK(r->headers.get("Location").value_or("") == "/static/docs/?x=1");
        r = co_await get(c, srv.url("/static/docs/"));
        REQUIRE(r);
        CHECK(r->body == "<p>docs</p>");
        CHECK(r->headers.get("Content-Type").value_or("") == "text/html; charset=utf-8");
        r = co_await get(c, srv.url("/small.txt"));  // not under the mount
        REQUIRE(r);
        CHECK(r->status == 404);
        // (The client removes dot segments; a raw request keeps them.)
        auto raw = co_await test::RawClient::connect(srv.address());
        const bool sent = co_await raw.send("GET /static/../small.txt HTTP/1.1\r\nHost: t\r\n\r\n");
        REQUIRE(sent);
        auto rr = co_await raw.response();
        REQUIRE(rr);
        CHECK(rr->status == 403);
        co_await srv.stop();
    });
}

TEST_CASE("static files: one byte range gives 206, past the end 416", "[http][static]") {
    static Files files;
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(mounted(files.dir.path));
        http::Client c;
        for (std::string name :
             {std::string("/static/small.txt"), std::string("/static/large.bin")}) {
            INFO(name);
            const std::string& content = name == "/static/small.txt" ? files.small : files.large;
            const std::string size = std::to_string(content.size());
            auto r = co_await get(c, srv.url(name), hdr("Range", "bytes=2-5"));
            REQUIRE(r);
            CHECK(r->status == 206);
            CHECK(r->body == content.substr(2, 4));
            CHECK(r->headers.get("Content-Range").value_or("") == "bytes 2-5/" + size);
            r = co_await get(c, srv.url(name), hdr("Range", "bytes=-3"));
            REQUIRE(r);
            CHECK(r->status == 206);
            CHECK(r->body == content.substr(content.size() - 3));
            r = co_await get(c, srv.url(name), hdr("Range", "bytes=10-"));
            REQUIRE(r);
            CHECK(r->status == 206);
            CHECK(r->body == content.substr(10));
            r = co_await get(c, srv.url(name), hdr("Range", "bytes=" + size + "-"));
            REQUIRE(r);
            CHECK(r->status == 416);
            CHECK(r->headers.get("Content-Range").value_or("") == "bytes */" + size);
            // Several ranges, another unit, nonsense, or a stale If-Range: the whole file.
            for (Fields h :
                 {hdr("Range", "bytes=0-1,4-5"), hdr("Range", "lines=1-2"),
                  hdr("Range", "bytes=5-2"), hdr("Range", "bytes=0-1", "If-Range", "\"stale\"")}) {
                r = co_await get(c, srv.url(name), h);
                REQUIRE(r);
                CHECK(r->status == 200);
                CHECK(r->body.size() == content.size());
            }
            // HEAD of a range: the head only.
            r = co_await get(c, srv.url(name), hdr("Range", "bytes=0-1"), std::string("HEAD"));
            REQUIRE(r);
            CHECK(r->body.empty());
        }
        co_await srv.stop();
    });
}
