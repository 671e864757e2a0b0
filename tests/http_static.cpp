// http::StaticFiles mounted in a Router on the backend of this run:
// conditional requests (RFC 9110 §13: ETag, dates in the three formats, 304,
// 412 and their order), single byte ranges (206, 416, If-Range), HEAD, an
// empty file, a mount under a prefix, for cached (small) and streamed (large)
// files; precompressed .gz files for clients that take gzip.
#include <fcntl.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <ctime>
#include <stdexcept>

#include <corio/http/content_coding.hpp>
#include <corio/http/static_files.hpp>

#include "http_support.hpp"
#include "site/harness.hpp"

namespace http_static_test {

using namespace corio;
using namespace std::chrono_literals;
using test::LocalServer;

namespace {

// Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example date).
constexpr std::time_t old_mtime = 784111777;

struct Files {
    test::site::TempDir dir{"corio-http-static"};
    std::string small = "0123456789abcdef";
    std::string large = std::string(300 * 1024, 'L') + "END";  // above the cache limit
    Files() {
        test::site::write_file(dir / "small.txt", small);
        test::site::write_file(dir / "large.bin", large);
        test::site::write_file(dir / "docs/index.html", "<p>docs</p>");
        test::site::write_file(dir / "empty.txt", "");
        // The same contents with an old, known modification time.
        test::site::write_file(dir / "old/small.txt", small);
        test::site::write_file(dir / "old/large.bin", large);
        const struct timespec ts[2] = {{old_mtime, 0}, {old_mtime, 0}};
        for (const char* name : {"old/small.txt", "old/large.bin"}) {
            if (::utimensat(AT_FDCWD, (dir / name).c_str(), ts, 0) != 0) {
                throw std::runtime_error("utimensat");
            }
        }
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

// A response field, "(none)" when it is absent.
std::string field(const Result<http::ClientResponse>& r, std::string_view name) {
    return std::string(r->headers.get(name).value_or("(none)"));
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

TEST_CASE("static files: If-None-Match takes a list, several fields and *", "[http][static]") {
    static Files files;
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(mounted(files.dir.path));
        http::Client c;
        for (std::string name :
             {std::string("/static/small.txt"), std::string("/static/large.bin")}) {
            INFO(name);
            auto r = co_await get(c, srv.url(name));
            REQUIRE(r);
            const std::string etag = field(r, "ETag");
            const std::string lm = field(r, "Last-Modified");
            r = co_await get(c, srv.url(name), hdr("If-None-Match", "*"));
            REQUIRE(r);
            CHECK(r->status == 304);
            // A 304 names the validators and has no body, nor the body's length.
            CHECK(field(r, "ETag") == etag);
            CHECK(field(r, "Last-Modified") == lm);
            CHECK_FALSE(r->headers.contains("Content-Length"));
            CHECK(r->body.empty());
            // Two field lines make one list (RFC 9110 §5.3).
            r = co_await get(c, srv.url(name),
                             hdr("If-None-Match", "\"other\"", "If-None-Match", etag));
            REQUIRE(r);
            CHECK(r->status == 304);
            // An invalid date in If-Modified-Since is ignored.
            r = co_await get(c, srv.url(name), hdr("If-Modified-Since", "yesterday"));
            REQUIRE(r);
            CHECK(r->status == 200);
        }
        co_await srv.stop();
    });
}

TEST_CASE("static files: If-Match and If-Unmodified-Since fail with 412, in RFC 9110 order",
          "[http][static]") {
    static Files files;
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(mounted(files.dir.path));
        http::Client c;
        for (std::string name :
             {std::string("/static/old/small.txt"), std::string("/static/old/large.bin")}) {
            INFO(name);
            auto r = co_await get(c, srv.url(name));
            REQUIRE(r);
            const std::string etag = field(r, "ETag");
            const std::string lm = field(r, "Last-Modified");
            const std::string before = "Sun, 06 Nov 1994 08:49:36 GMT";
            struct Case {
                Fields h;
                int status;
            };
            const std::vector<Case> cases = {
                {hdr("If-Match", etag), 200},
                {hdr("If-Match", "*"), 200},
                {hdr("If-Match", "\"other\", " + etag), 200},
                {hdr("If-Match", "\"other\"", "If-Match", etag), 200},
                {hdr("If-Match", "\"other\""), 412},
                {hdr("If-Match", "W/" + etag), 412},  // strong comparison
                {hdr("If-Unmodified-Since", lm), 200},
                {hdr("If-Unmodified-Since", "Sunday, 06-Nov-94 08:49:37 GMT"), 200},
                {hdr("If-Unmodified-Since", before), 412},
                {hdr("If-Unmodified-Since", "Sun Nov  6 08:49:36 1994"), 412},
                {hdr("If-Unmodified-Since", "not a date"), 200},
                // If-Unmodified-Since is ignored when If-Match is present.
                {hdr("If-Match", etag, "If-Unmodified-Since", before), 200},
                // 412 comes before 304 (RFC 9110 §13.2.2, steps 1-3).
                {hdr("If-Match", "\"other\"", "If-None-Match", etag), 412},
                {hdr("If-Unmodified-Since", before, "If-Modified-Since", lm), 412},
                {hdr("If-Match", etag, "If-None-Match", etag), 304},
                {hdr("If-Unmodified-Since", lm, "If-Modified-Since", lm), 304},
                // ... and before a range.
                {hdr("If-Match", "\"other\"", "Range", "bytes=0-1"), 412},
                {hdr("If-Match", etag, "Range", "bytes=0-1"), 206},
            };
            for (const Case& k : cases) {
                INFO(k.h.front().first << ": " << k.h.front().second << " / " << k.h.back().first
                                       << ": " << k.h.back().second);
                r = co_await get(c, srv.url(name), k.h);
                REQUIRE(r);
                CHECK(r->status == k.status);
                r = co_await get(c, srv.url(name), k.h, std::string("HEAD"));
                REQUIRE(r);
                // HEAD: the same status (a HEAD has no range: 200), no body.
                CHECK(r->status == (k.status == 206 ? 200 : k.status));
                CHECK(r->body.empty());
            }
        }
        co_await srv.stop();
    });
}

TEST_CASE("static files: HTTP-dates in the three formats; Last-Modified is an IMF-fixdate",
          "[http][static]") {
    static Files files;
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(mounted(files.dir.path));
        http::Client c;
        for (std::string name :
             {std::string("/static/old/small.txt"), std::string("/static/old/large.bin")}) {
            INFO(name);
            auto r = co_await get(c, srv.url(name));
            REQUIRE(r);
            CHECK(field(r, "Last-Modified") == "Sun, 06 Nov 1994 08:49:37 GMT");
            struct Case {
                std::string date;
                int status;
            };
            const std::vector<Case> cases = {
                {"Sun, 06 Nov 1994 08:49:37 GMT", 304},   // IMF-fixdate
                {"Sunday, 06-Nov-94 08:49:37 GMT", 304},  // rfc850-date
                {"Sun Nov  6 08:49:37 1994", 304},        // asctime-date
                {"Sun, 06 Nov 1994 08:49:36 GMT", 200},  {"Sunday, 06-Nov-94 08:49:36 GMT", 200},
                {"Sun Nov  6 08:49:36 1994", 200},       {"Mon, 07 Nov 1994 00:00:00 GMT", 304},
                {"Sun, 06 Nov 1994 08:49:37 UTC", 200},  // not a date: ignored
                {"Sun, 31 Nov 1994 08:49:37 GMT", 200},  // no such day
                {"Sun, 06 Nov 1994 24:49:37 GMT", 200},  {"Sun, 6 Nov 1994 08:49:37 GMT", 200},
                {"Sun Nov 06 08:49:37 1994 GMT", 200},
            };
            for (const Case& k : cases) {
                INFO(k.date);
                r = co_await get(c, srv.url(name), hdr("If-Modified-Since", k.date));
                REQUIRE(r);
                CHECK(r->status == k.status);
            }
        }
        co_await srv.stop();
    });
}

TEST_CASE("static files: If-Range with an ETag or a date", "[http][static]") {
    static Files files;
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(mounted(files.dir.path));
        http::Client c;
        for (std::string name :
             {std::string("/static/old/small.txt"), std::string("/static/old/large.bin")}) {
            INFO(name);
            const std::string& content =
                name == "/static/old/small.txt" ? files.small : files.large;
            auto r = co_await get(c, srv.url(name));
            REQUIRE(r);
            const std::string etag = field(r, "ETag");
            const std::string lm = field(r, "Last-Modified");
            for (const std::string& v : {etag, lm}) {
                INFO("If-Range: " << v);
                r = co_await get(c, srv.url(name), hdr("Range", "bytes=1-2", "If-Range", v));
                REQUIRE(r);
                CHECK(r->status == 206);
                CHECK(r->body == content.substr(1, 2));
                CHECK(field(r, "Content-Length") == "2");
            }
            // A weak tag, another date, another format of the same date: the whole file.
            for (const std::string& v : {"W/" + etag, std::string("Sun, 06 Nov 1994 08:49:38 GMT"),
                                         std::string("Sunday, 06-Nov-94 08:49:37 GMT")}) {
                INFO("If-Range: " << v);
                r = co_await get(c, srv.url(name), hdr("Range", "bytes=1-2", "If-Range", v));
                REQUIRE(r);
                CHECK(r->status == 200);
                CHECK(r->body == content);
                CHECK_FALSE(r->headers.contains("Content-Range"));
            }
        }
        co_await srv.stop();
    });
}

TEST_CASE("static files: HEAD answers the GET's head; Range is for GET only", "[http][static]") {
    static Files files;
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(mounted(files.dir.path));
        http::Client c;
        for (std::string name : {std::string("/static/small.txt"), std::string("/static/large.bin"),
                                 std::string("/static/empty.txt")}) {
            INFO(name);
            auto g = co_await get(c, srv.url(name));
            REQUIRE(g);
            auto h = co_await get(c, srv.url(name), {}, std::string("HEAD"));
            REQUIRE(h);
            CHECK(h->status == 200);
            CHECK(h->body.empty());
            for (std::string_view f :
                 {"Content-Length", "Content-Type", "ETag", "Last-Modified", "Accept-Ranges"}) {
                INFO(f);
                CHECK(field(h, f) == field(g, f));
            }
            // RFC 9110 §14.2: range handling is defined for GET only.
            h = co_await get(c, srv.url(name), hdr("Range", "bytes=0-1"), std::string("HEAD"));
            REQUIRE(h);
            CHECK(h->status == 200);
            CHECK(field(h, "Content-Length") == field(g, "Content-Length"));
            CHECK_FALSE(h->headers.contains("Content-Range"));
            h = co_await get(c, srv.url(name), hdr("If-None-Match", field(g, "ETag")),
                             std::string("HEAD"));
            REQUIRE(h);
            CHECK(h->status == 304);
            CHECK(field(h, "ETag") == field(g, "ETag"));
        }
        co_await srv.stop();
    });
}

TEST_CASE("static files: an empty file; every range of it is unsatisfiable", "[http][static]") {
    static Files files;
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(mounted(files.dir.path));
        http::Client c;
        auto r = co_await get(c, srv.url("/static/empty.txt"));
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body.empty());
        CHECK(field(r, "Content-Length") == "0");
        for (std::string range :
             {std::string("bytes=0-"), std::string("bytes=0-0"), std::string("bytes=-1")}) {
            INFO(range);
            r = co_await get(c, srv.url("/static/empty.txt"), hdr("Range", range));
            REQUIRE(r);
            CHECK(r->status == 416);
            CHECK(field(r, "Content-Range") == "bytes */0");
        }
        // Invalid syntax: ignored.
        r = co_await get(c, srv.url("/static/empty.txt"), hdr("Range", "bytes=x-"));
        REQUIRE(r);
        CHECK(r->status == 200);
        co_await srv.stop();
    });
}

TEST_CASE("static files: the mount point without its slash redirects", "[http][static]") {
    static Files files;
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(mounted(files.dir / "docs"));
        http::ClientOptions co;
        co.max_redirects = 0;
        http::Client c(co);
        auto r = co_await get(c, srv.url("/static?x=1"));
        REQUIRE(r);
        CHECK(r->status == 301);
        CHECK(field(r, "Location") == "/static/?x=1");
        r = co_await get(c, srv.url("/static"));
        REQUIRE(r);
        CHECK(r->status == 301);
        CHECK(field(r, "Location") == "/static/");
        r = co_await get(c, srv.url("/static/"));
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "<p>docs</p>");
        co_await srv.stop();
    });
}

namespace {

// A site with .gz files beside some: small (cached) and large (from the file).
struct GzFiles {
    test::site::TempDir dir{"corio-http-static-gz"};
    std::string page = std::string(2000, 'p') + "<p>end</p>";
    std::string noise;  // 300 KiB that does not compress: its .gz is past the cache limit
    GzFiles() {
        std::uint32_t x = 88172645u;
        noise.resize(300 * 1024);
        for (char& c : noise) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            c = static_cast<char>(x);
        }
        test::site::write_file(dir / "page.html", page);
        test::site::write_file(dir / "page.html.gz", http::gzip(page));
        test::site::write_file(dir / "noise.bin", noise);
        test::site::write_file(dir / "noise.bin.gz", http::gzip(noise));
        test::site::write_file(dir / "plain.txt", "no gz beside me");
        test::site::write_file(dir / "orphan.txt.gz", http::gzip("its plain file is gone"));
    }
};

http::Router precompressed_site(const std::string& root) {
    http::StaticOptions o;
    o.precompressed = true;
    http::Router r;
    r.mount("/s", http::StaticFiles::open(root, o).value("root"));
    return r;
}

}  // namespace

TEST_CASE("static files: precompressed .gz files for clients that take gzip", "[http][static]") {
    static GzFiles files;
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(precompressed_site(files.dir.path));
        http::Client c;                            // asks for gzip and decodes
        for (int round = 0; round < 2; ++round) {  // the second from the cache
            for (std::string name : {std::string("/s/page.html"), std::string("/s/noise.bin")}) {
                INFO(name << " round " << round);
                const std::string& content = name == "/s/page.html" ? files.page : files.noise;
                auto r = co_await get(c, srv.url(name));
                REQUIRE(r);
                CHECK(r->status == 200);
                CHECK(r->decoded);
                CHECK(r->body == content);
                CHECK(field(r, "Vary") == "Accept-Encoding");
                CHECK(field(r, "Content-Type") == (name == "/s/page.html"
                                                       ? "text/html; charset=utf-8"
                                                       : "application/octet-stream"));
                // The .gz has validators of its own: a 304 for it carries Vary too.
                const std::string etag = field(r, "ETag");
                auto again = co_await get(c, srv.url(name), hdr("If-None-Match", etag));
                REQUIRE(again);
                CHECK(again->status == 304);
                CHECK(field(again, "Vary") == "Accept-Encoding");
                // The plain form to a client that does not ask: another ETag.
                auto plain = co_await get(c, srv.url(name), hdr("Accept-Encoding", "identity"));
                REQUIRE(plain);
                CHECK((plain->status == 200 && plain->body == content && !plain->decoded));
                CHECK(field(plain, "Content-Encoding") == "(none)");
                CHECK(field(plain, "Vary") == "Accept-Encoding");
                CHECK(field(plain, "ETag") != etag);
            }
            // No .gz beside it: the file as it is, every time.
            auto r = co_await get(c, srv.url("/s/plain.txt"));
            REQUIRE(r);
            CHECK((r->body == "no gz beside me" && !r->decoded));
            CHECK(field(r, "Vary") == "Accept-Encoding");
        }
        // A .gz asked for by its own name is a file like any other, whatever was cached
        // for the name without .gz; so is a .gz that is not there.
        auto direct = co_await get(c, srv.url("/s/page.html.gz"));
        REQUIRE(direct);
        CHECK((direct->status == 200 && !direct->decoded));
        CHECK(direct->body == http::gzip(files.page));
        CHECK(field(direct, "Content-Encoding") == "(none)");
        auto missing = co_await get(c, srv.url("/s/plain.txt.gz"));
        REQUIRE(missing);
        CHECK(missing->status == 404);
        // A .gz without its plain file is not served in its place.
        auto orphan = co_await get(c, srv.url("/s/orphan.txt"));
        REQUIRE(orphan);
        CHECK(orphan->status == 404);
        // The variant's tag is marked, so that it differs from the plain file's.
        auto tagged = co_await get(c, srv.url("/s/page.html"));
        REQUIRE(tagged);
        CHECK(field(tagged, "ETag").ends_with("-gz\""));
        // Accept-Encoding as the RFC reads it (the client leaves such bodies as sent).
        struct Case {
            const char* accept;
            bool gzip;
        };
        const Case cases[] = {
            {"gzip", true},
            {"GZIP;Q=0.5", true},
            {"x-gzip", true},
            {"br, *", true},
            {"deflate", false},
            {"gzip;q=0", false},
            {"*, gzip;q=0.00", false},
            {"*;q=0", false},
            {"gzip ; q=0.001", true},
        };
        const std::string gz = http::gzip(files.page);
        for (const Case& k : cases) {
            INFO(k.accept);
            auto r = co_await get(c, srv.url("/s/page.html"), hdr("Accept-Encoding", k.accept));
            REQUIRE(r);
            CHECK(r->body == (k.gzip ? gz : files.page));
            CHECK(field(r, "Content-Encoding") == (k.gzip ? "gzip" : "(none)"));
        }
        // A range, and HEAD: a range is of the plain file; HEAD tells what GET would send.
        auto part = co_await get(c, srv.url("/s/page.html"),
                                 hdr("Range", "bytes=0-9", "Accept-Encoding", "gzip"));
        REQUIRE(part);
        CHECK((part->status == 206 && part->body == files.page.substr(0, 10)));
        auto head =
            co_await get(c, srv.url("/s/noise.bin"), hdr("Accept-Encoding", "gzip"), "HEAD");
        REQUIRE(head);
        CHECK((head->status == 200 && head->body.empty()));
        CHECK(field(head, "Content-Encoding") == "gzip");
        CHECK(field(head, "Content-Length") == std::to_string(http::gzip(files.noise).size()));
        co_await srv.stop();
    });
}

}  // namespace http_static_test
