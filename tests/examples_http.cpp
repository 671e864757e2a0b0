// examples/http_server on the backend of this run (CORIO_BACKEND): files and
// their types, HEAD, keep-alive and pipelining, every error status, path
// traversal (plain, encoded, symlinks), the header and idle timeouts, the
// connection limit, large files (splice/sendfile), several loops, SIGTERM.
//
// The server runs as a child process, found at BUILD/examples/http_server/;
// clients are plain blocking sockets sending raw bytes. When the example was
// not built the tests WARN and return.
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "site/harness.hpp"
#include "support.hpp"

namespace examples_http_test {

namespace {

using namespace corio::test::site;
namespace http = corio::http;

std::string make_bytes(std::size_t n, std::uint64_t seed) {
    std::string s(n, '\0');
    std::uint64_t x = seed * 0x9E3779B97F4A7C15ull | 1;
    for (char& c : s) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        c = char((x * 0x2545F4914F6CDD1Dull) >> 56);
    }
    return s;
}

/// The served tree, and a secret outside it that must never come back.
struct Site {
    TempDir dir{"corio-http"};
    std::string root = dir / "root";
    std::string big = make_bytes(3 * 1024 * 1024 + 17, 1);  // streamed (above the cache limit)
    std::string mid = make_bytes(100 * 1024, 2);            // cached, sent by reference
    Site() {
        write_file(root + "/index.html", "<h1>home</h1>\n");
        write_file(root + "/a.txt", "alpha\n");
        write_file(root + "/style.css", "body{}\n");
        write_file(root + "/sub/index.html", "sub index\n");
        write_file(root + "/sub/page.html", "sub page\n");
        std::filesystem::create_directories(root + "/empty_dir");
        write_file(root + "/big.bin", big);
        write_file(root + "/mid.bin", mid);
        write_file(dir / "outside/secret.txt", "TOPSECRET\n");
        std::filesystem::create_symlink("../outside/secret.txt", root + "/evil");
        std::filesystem::create_symlink(dir / "outside/secret.txt", root + "/evil_abs");
        std::filesystem::create_symlink("../outside", root + "/outdir");
        std::filesystem::create_symlink("a.txt", root + "/inlink.txt");
        ::mkfifo((root + "/fifo").c_str(), 0644);
    }
};

struct Server {
    std::unique_ptr<Child> child;
    int port = 0;
    explicit Server(const std::string& bin, const std::string& root,
                    std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"--root", root, "--port", "0", "--backend", backend_name()};
        args.insert(args.end(), extra.begin(), extra.end());
        child = std::make_unique<Child>(bin, args, 120);
        auto line = child->read_line(10s);
        INFO("ready line: " << line.value_or("(none)"));
        REQUIRE(line);
        port = port_of_ready_line(*line);
        REQUIRE(port > 0);
    }
};

std::string server_binary() {
    return example_binary("http_server", "http_server");
}

// NEED_EXAMPLE(bin, finder, path): `bin` is the example's path; the test
// WARNs and returns when the example was not built.
#define NEED_EXAMPLE(bin, finder, path)    \
    const std::string bin = finder();      \
    if (bin.empty()) {                     \
        WARN(path " not built: skipping"); \
        return;                            \
    }
#define NEED_SERVER(bin) NEED_EXAMPLE(bin, server_binary, "examples/http_server/http_server")

std::string get(std::string_view target, std::string_view extra = {}) {
    return "GET " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra) + "\r\n";
}

/// One request on a fresh connection; the response (or nullopt).
std::optional<http::ParsedResponse> ask(int port, const std::string& raw, bool head = false) {
    Client c(port);
    REQUIRE(c.connected());
    REQUIRE(c.send(raw));
    return c.response(head);
}

}  // namespace

TEST_CASE("http_server: files, types, directories, redirects", "[examples][http]") {
    NEED_SERVER(bin);
    Site site;
    Server srv(bin, site.root);
    Client c(srv.port);
    REQUIRE(c.connected());

    REQUIRE(c.send(get("/")));
    auto r = c.response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "<h1>home</h1>\n");
    CHECK(r->headers.get("Content-Type").value_or("") == "text/html; charset=utf-8");
    CHECK(r->headers.get("Content-Length").value_or("") == "14");
    CHECK(r->headers.contains("Date"));
    CHECK(r->headers.contains("Last-Modified"));
    CHECK(r->keep_alive());

    // Same connection: keep-alive.
    REQUIRE(c.send(get("/style.css")));
    r = c.response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->headers.get("Content-Type").value_or("") == "text/css; charset=utf-8");

    REQUIRE(c.send(get("/a.txt?x=1")));
    r = c.response();
    REQUIRE(r);
    CHECK(r->body == "alpha\n");

    REQUIRE(c.send(get("/sub")));
    r = c.response();
    REQUIRE(r);
    CHECK(r->status == 301);
    CHECK(r->headers.get("Location").value_or("") == "/sub/");

    REQUIRE(c.send(get("/sub?q=1")));
    r = c.response();
    REQUIRE(r);
    CHECK(r->headers.get("Location").value_or("") == "/sub/?q=1");

    REQUIRE(c.send(get("/sub/")));
    r = c.response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "sub index\n");

    REQUIRE(c.send(get("/sub/./page.html")));
    r = c.response();
    REQUIRE(r);
    CHECK(r->body == "sub page\n");

    REQUIRE(c.send(get("/inlink.txt")));  // a symlink inside the root is fine
    r = c.response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "alpha\n");

    REQUIRE(c.send(get("/empty_dir/")));  // no index, no listing
    r = c.response();
    REQUIRE(r);
    CHECK(r->status == 403);

    REQUIRE(c.send(get("/fifo")));  // not a regular file (and opening it must not block)
    r = c.response();
    REQUIRE(r);
    CHECK(r->status == 403);

    REQUIRE(c.send(get("/nope.html")));
    r = c.response();
    REQUIRE(r);
    CHECK(r->status == 404);
    CHECK(r->keep_alive());

    REQUIRE(c.send(get("/a.txt/")));
    r = c.response();
    REQUIRE(r);
    CHECK(r->status == 404);

    // Absolute-form target.
    REQUIRE(c.send(get("http://t/a.txt")));
    r = c.response();
    REQUIRE(r);
    CHECK(r->body == "alpha\n");

    // Conditional GET.
    REQUIRE(c.send(get("/a.txt")));
    r = c.response();
    REQUIRE(r);
    std::string lm(r->headers.get("Last-Modified").value_or(""));
    REQUIRE_FALSE(lm.empty());
    REQUIRE(c.send(get("/a.txt", "If-Modified-Since: " + lm + "\r\n")));
    r = c.response();
    REQUIRE(r);
    CHECK(r->status == 304);
    CHECK(r->body.empty());

    CHECK(srv.child->stop() == 0);
}

TEST_CASE("http_server: HEAD sends the head only", "[examples][http]") {
    NEED_SERVER(bin);
    Site site;
    Server srv(bin, site.root);
    Client c(srv.port);
    REQUIRE(c.connected());
    for (std::string path : {"/a.txt", "/mid.bin", "/big.bin", "/nope"}) {
        INFO(path);
        REQUIRE(c.send("HEAD " + path + " HTTP/1.1\r\nHost: t\r\n\r\n"));
        auto r = c.response(true);
        REQUIRE(r);
        CHECK(r->body.empty());
        if (path == "/a.txt") CHECK(r->headers.get("Content-Length").value_or("") == "6");
        if (path == "/mid.bin") {
            CHECK(r->headers.get("Content-Length").value_or("") == std::to_string(site.mid.size()));
        }
        if (path == "/big.bin") {
            CHECK(r->headers.get("Content-Length").value_or("") == std::to_string(site.big.size()));
        }
        if (path == "/nope") CHECK(r->status == 404);
    }
    // Had a HEAD sent body bytes, this response would not parse as one.
    REQUIRE(c.send(get("/a.txt")));
    auto r = c.response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "alpha\n");
    CHECK(srv.child->stop() == 0);
}

TEST_CASE("http_server: pipelined requests are answered in order", "[examples][http]") {
    NEED_SERVER(bin);
    Site site;
    Server srv(bin, site.root);
    Client c(srv.port);
    REQUIRE(c.connected());
    // Three in one write, a HEAD and a miss among them; then a large one.
    REQUIRE(c.send(get("/a.txt") + "HEAD /sub/page.html HTTP/1.1\r\nHost: t\r\n\r\n" +
                   get("/missing") + get("/mid.bin") + get("/style.css")));
    auto r1 = c.response();
    auto r2 = c.response(true);
    auto r3 = c.response();
    auto r4 = c.response();
    auto r5 = c.response();
    REQUIRE(r1);
    REQUIRE(r2);
    REQUIRE(r3);
    REQUIRE(r4);
    REQUIRE(r5);
    CHECK(r1->body == "alpha\n");
    CHECK(r2->status == 200);
    CHECK(r2->headers.get("Content-Length").value_or("") == "9");
    CHECK(r3->status == 404);
    CHECK(r4->body == site.mid);
    CHECK(r5->body == "body{}\n");

    // Many at once, byte by byte for the first few.
    std::string many;
    for (int i = 0; i < 50; ++i)
        many += get(i % 2 == 0 ? "/a.txt" : "/sub/page.html");
    for (std::size_t i = 0; i < 40; ++i)
        REQUIRE(c.send(many.substr(i, 1)));
    REQUIRE(c.send(many.substr(40)));
    for (int i = 0; i < 50; ++i) {
        auto r = c.response();
        REQUIRE(r);
        CHECK(r->body == (i % 2 == 0 ? "alpha\n" : "sub page\n"));
    }
    CHECK(srv.child->stop() == 0);
}

TEST_CASE("http_server: --no-multishot and --no-fixed-files serve the same answers",
          "[examples][http]") {
    NEED_SERVER(bin);
    Site site;
    const std::vector<std::vector<std::string>> variants = {
        {"--no-multishot"}, {"--no-fixed-files"}, {"--no-multishot", "--no-fixed-files"}};
    for (const auto& flags : variants) {
        INFO("flags: " << flags.front() << (flags.size() > 1 ? " " + flags.back() : ""));
        Server srv(bin, site.root, flags);
        Client c(srv.port);
        REQUIRE(c.connected());
        REQUIRE(c.send(get("/a.txt") + get("/missing") + get("/mid.bin")));
        const std::pair<int, std::string> want[] = {{200, "alpha\n"}, {404, ""}, {200, site.mid}};
        for (const auto& [status, body] : want) {
            auto r = c.response();
            REQUIRE(r);
            CHECK(r->status == status);
            if (status == 200) CHECK(r->body == body);
        }
        CHECK(srv.child->stop() == 0);
    }
}

TEST_CASE("http_server: large files arrive byte for byte", "[examples][http]") {
    NEED_SERVER(bin);
    Site site;
    Server srv(bin, site.root);
    for (int round = 0; round < 2; ++round) {
        Client c(srv.port);
        REQUIRE(c.connected());
        REQUIRE(c.send(get("/big.bin") + get("/a.txt") + get("/big.bin")));
        auto r = c.response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->headers.get("Content-Type").value_or("") == "application/octet-stream");
        CHECK(r->body.size() == site.big.size());
        CHECK(r->body == site.big);
        r = c.response();
        REQUIRE(r);
        CHECK(r->body == "alpha\n");
        r = c.response();
        REQUIRE(r);
        CHECK(r->body == site.big);
    }
    // A client that reads nothing does not stop the others.
    Client lazy(srv.port);
    REQUIRE(lazy.send(get("/big.bin")));
    auto r = ask(srv.port, get("/a.txt"));
    REQUIRE(r);
    CHECK(r->body == "alpha\n");
    CHECK(srv.child->stop() == 0);
}

TEST_CASE("http_server: no path leaves the root", "[examples][http]") {
    NEED_SERVER(bin);
    Site site;
    Server srv(bin, site.root);
    const std::vector<std::string> attempts = {
        "/../outside/secret.txt",
        "/../../../../../../etc/passwd",
        "/sub/../../outside/secret.txt",
        "/%2e%2e/outside/secret.txt",
        "/%2E%2E/%2e%2E/etc/passwd",
        "/.%2e/outside/secret.txt",
        "/..%2foutside%2fsecret.txt",
        "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/sub%2f..%2f..%2foutside/secret.txt",
        "/evil",
        "/evil_abs",
        "/outdir/secret.txt",
        "/outdir/",
        "/a.txt%00.html",
        "/%00",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "http://t/../outside/secret.txt",
        "/\\..\\outside\\secret.txt",
        "/%",
        "/%zz",
        "*",
        "outside/secret.txt",
    };
    for (const std::string& target : attempts) {
        INFO("target " << target);
        Client c(srv.port);
        REQUIRE(c.connected());
        REQUIRE(c.send(get(target)));
        std::string seen;
        auto r = c.response();
        if (r) {
            CHECK(r->status != 200);
            CHECK(r->status >= 400);
            CHECK(r->body.find("TOPSECRET") == std::string::npos);
            CHECK(r->body.find("root:") == std::string::npos);
        }
    }
    // Specific answers.
    CHECK(ask(srv.port, get("/../outside/secret.txt"))->status == 403);
    CHECK(ask(srv.port, get("/%2e%2e/outside/secret.txt"))->status == 403);
    CHECK(ask(srv.port, get("/..%2foutside%2fsecret.txt"))->status == 403);
    CHECK(ask(srv.port, get("/evil"))->status == 403);
    CHECK(ask(srv.port, get("/outdir/secret.txt"))->status == 403);
    CHECK(ask(srv.port, get("/%00"))->status == 400);
    CHECK(ask(srv.port, get("/%zz"))->status == 400);
    // And the server still serves.
    auto r = ask(srv.port, get("/a.txt"));
    REQUIRE(r);
    CHECK(r->body == "alpha\n");
    CHECK(srv.child->stop() == 0);
}

TEST_CASE("http_server: every error status, and it keeps serving", "[examples][http]") {
    NEED_SERVER(bin);
    Site site;
    Server srv(bin, site.root,
               {"--max-body", "1000", "--max-request-line", "512", "--max-header-bytes", "2048"});
    struct Case {
        std::string name;
        std::string raw;
        int status;
        bool closes;
    };
    const std::vector<Case> cases = {
        {"missing Host", "GET / HTTP/1.1\r\n\r\n", 400, true},
        {"bare LF", "GET / HTTP/1.1\nHost: t\n\n", 400, true},
        {"space before colon", "GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400, true},
        {"obs-fold", "GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n", 400, true},
        {"garbage", "\x01\x02\x03 junk\r\n\r\n", 400, true},
        {"CL and TE",
         "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
         400, true},
        {"two CL", "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
         400, true},
        {"POST", "POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 405, false},
        {"DELETE", "DELETE /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", 405, false},
        {"unknown method", "BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n", 501, false},
        {"unknown coding",
         "GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: x-custom, chunked\r\n\r\n", 501, true},
        {"body too large", "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n", 413, true},
        {"target too long", "GET /" + std::string(600, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n", 414,
         true},
        {"head too large",
         "GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(3000, 'b') + "\r\n\r\n", 431, true},
        {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505, true},
        {"HTTP/3.1", "GET / HTTP/3.1\r\nHost: t\r\n\r\n", 505, true},
        {"not found", "GET /no HTTP/1.1\r\nHost: t\r\n\r\n", 404, false},
        {"forbidden", "GET /../x HTTP/1.1\r\nHost: t\r\n\r\n", 403, false},
    };
    for (const Case& k : cases) {
        INFO(k.name);
        Client c(srv.port);
        REQUIRE(c.connected());
        REQUIRE(c.send(k.raw));
        auto r = c.response();
        REQUIRE(r);
        CHECK(r->status == k.status);
        if (k.status == 405) CHECK(r->headers.get("Allow").value_or("") == "GET, HEAD");
        if (k.closes) {
            CHECK_FALSE(r->keep_alive());
            CHECK(c.closed_within(3s));
        } else {
            // The connection goes on.
            REQUIRE(c.send(get("/a.txt")));
            auto next = c.response();
            REQUIRE(next);
            CHECK(next->body == "alpha\n");
        }
        // The server serves others meanwhile and after.
        auto ok = ask(srv.port, get("/a.txt"));
        REQUIRE(ok);
        CHECK(ok->status == 200);
    }
    // A malformed request after a good one on the same connection: the good
    // one is answered, then 400 and close.
    Client c(srv.port);
    REQUIRE(c.send(get("/a.txt") + "GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n"));
    auto r = c.response();
    REQUIRE(r);
    CHECK(r->body == "alpha\n");
    r = c.response();
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(c.closed_within(3s));
    // HTTP/1.0: closes unless asked to keep alive.
    Client old(srv.port);
    REQUIRE(old.send("GET /a.txt HTTP/1.0\r\n\r\n"));
    r = old.response();
    REQUIRE(r);
    CHECK(r->body == "alpha\n");
    CHECK(old.closed_within(3s));
    Client old_ka(srv.port);
    REQUIRE(old_ka.send("GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    r = old_ka.response();
    REQUIRE(r);
    CHECK(r->headers.has_token("Connection", "keep-alive"));
    REQUIRE(old_ka.send("GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    r = old_ka.response();
    REQUIRE(r);
    CHECK(r->body == "alpha\n");
    // Connection: close is honoured.
    Client cl(srv.port);
    REQUIRE(cl.send(get("/a.txt", "Connection: close\r\n")));
    r = cl.response();
    REQUIRE(r);
    CHECK_FALSE(r->keep_alive());
    CHECK(cl.closed_within(3s));
    CHECK(srv.child->stop() == 0);
}

TEST_CASE("http_server: slow and idle clients are cut off", "[examples][http]") {
    NEED_SERVER(bin);
    Site site;
    Server srv(bin, site.root, {"--header-timeout-ms", "400", "--idle-timeout-ms", "600"});

    // Slowloris: a byte every 100 ms never completes a head within 400 ms.
    {
        Client c(srv.port);
        REQUIRE(c.connected());
        const std::string req = get("/a.txt", "X-Slow: " + std::string(100, 's') + "\r\n");
        auto t0 = std::chrono::steady_clock::now();
        std::size_t i = 0;
        bool cut = false;
        std::string seen;
        for (; i < req.size(); ++i) {
            if (!c.send(req.substr(i, 1))) {
                cut = true;
                break;
            }
            if (c.closed_within(100ms, &seen)) {
                cut = true;
                break;
            }
        }
        auto took = std::chrono::steady_clock::now() - t0;
        CHECK(cut);
        CHECK(i < req.size());
        CHECK(took < 3s);
        if (!seen.empty()) CHECK(seen.rfind("HTTP/1.1 408", 0) == 0);
    }
    // A head that stops halfway is cut off too.
    {
        Client c(srv.port);
        REQUIRE(c.send("GET /a.txt HTTP/1.1\r\nHo"));
        auto t0 = std::chrono::steady_clock::now();
        std::string seen;
        CHECK(c.closed_within(3s, &seen));
        CHECK(std::chrono::steady_clock::now() - t0 >= 250ms);
        CHECK(seen.rfind("HTTP/1.1 408", 0) == 0);
    }
    // Idle: connected, nothing sent.
    {
        Client c(srv.port);
        auto t0 = std::chrono::steady_clock::now();
        CHECK(c.closed_within(3s));
        CHECK(std::chrono::steady_clock::now() - t0 >= 400ms);
    }
    // Idle after a request (keep-alive), and a client that keeps asking stays.
    {
        Client c(srv.port);
        for (int i = 0; i < 6; ++i) {
            REQUIRE(c.send(get("/a.txt")));
            auto r = c.response();
            REQUIRE(r);
            CHECK(r->body == "alpha\n");
            std::this_thread::sleep_for(200ms);  // 1.2 s in all, each gap under the idle limit
        }
        auto t0 = std::chrono::steady_clock::now();
        CHECK(c.closed_within(3s));
        CHECK(std::chrono::steady_clock::now() - t0 >= 250ms);
    }
    auto r = ask(srv.port, get("/a.txt"));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(srv.child->stop() == 0);
}

TEST_CASE("http_server: connection limit", "[examples][http]") {
    NEED_SERVER(bin);
    Site site;
    Server srv(bin, site.root, {"--max-conns", "2"});
    Client a(srv.port), b(srv.port);
    REQUIRE(a.send(get("/a.txt")));
    REQUIRE(b.send(get("/a.txt")));
    REQUIRE(a.response());
    REQUIRE(b.response());
    Client c(srv.port);
    REQUIRE(c.connected());
    auto r = c.response();
    REQUIRE(r);
    CHECK(r->status == 503);
    CHECK(c.closed_within(3s));
    // Room again once one leaves.
    ::shutdown(a.fd(), SHUT_RDWR);
    bool served = false;
    for (int i = 0; i < 50 && !served; ++i) {
        Client d(srv.port);
        REQUIRE(d.send(get("/a.txt")));
        auto rd = d.response();
        served = rd && rd->status == 200;
        if (!served) std::this_thread::sleep_for(20ms);
    }
    CHECK(served);
    CHECK(srv.child->stop() == 0);
}

TEST_CASE("http_server: SIGTERM with clients connected exits 0 promptly", "[examples][http]") {
    NEED_SERVER(bin);
    Site site;
    for (std::string loops : {"1", "2"}) {
        INFO("loops " << loops);
        Server srv(bin, site.root, {"--loops", loops});
        std::vector<std::unique_ptr<Client>> idle;
        for (int i = 0; i < 8; ++i) {
            idle.push_back(std::make_unique<Client>(srv.port));
            REQUIRE(idle.back()->send(get(i % 2 ? "/a.txt" : "/mid.bin")));
            REQUIRE(idle.back()->response());
        }
        Client half(srv.port);
        REQUIRE(half.send("GET /a.txt HTTP/1.1\r\n"));  // in the middle of a request
        std::this_thread::sleep_for(100ms);
        auto t0 = std::chrono::steady_clock::now();
        CHECK(srv.child->stop(SIGTERM, 5s) == 0);
        CHECK(std::chrono::steady_clock::now() - t0 < 4s);
        for (auto& c : idle)
            CHECK(c->closed_within(1s));
    }
    Server srv(bin, site.root);
    CHECK(srv.child->stop(SIGINT, 5s) == 0);
}

TEST_CASE("http_server: --access-log writes a line per request", "[examples][http]") {
    NEED_SERVER(bin);
    Site site;
    for (std::string loops : {"1", "2"}) {
        INFO("loops " << loops);
        const std::string log = site.dir / ("access-" + loops + ".log");
        Server srv(bin, site.root, {"--loops", loops, "--access-log", log});
        Client c(srv.port);
        REQUIRE(c.connected());
        REQUIRE(c.send(get("/a.txt")));
        REQUIRE(c.response());
        REQUIRE(c.send("HEAD /a.txt HTTP/1.1\r\nHost: t\r\n\r\n"));
        REQUIRE(c.response(true));
        REQUIRE(c.send(get("/nope")));
        REQUIRE(c.response());
        CHECK(srv.child->stop() == 0);  // the log is flushed at exit
        std::ifstream in(log);
        std::vector<std::string> lines;
        for (std::string line; std::getline(in, line);)
            lines.push_back(line);
        REQUIRE(lines.size() == 3);
        const std::string client = "127.0.0.1:";
        CHECK(lines[0].starts_with(client));
        CHECK(lines[0].find(" \"GET /a.txt HTTP/1.1\" 200 6 ") != std::string::npos);
        CHECK(lines[1].find(" \"HEAD /a.txt HTTP/1.1\" 200 0 ") != std::string::npos);
        CHECK(lines[2].find(" \"GET /nope HTTP/1.1\" 404 ") != std::string::npos);
        for (const std::string& line : lines)
            CHECK(line.ends_with("us"));
    }
    // A log that cannot be opened: a clear message and exit status 2.
    Child bad(bin, {"--root", site.root, "--access-log", site.dir / "no/such/dir/log"}, 120, true);
    CHECK(bad.read_all().empty());
    CHECK(bad.wait() == 2);
}

// The two conformance bugs of issue 17, as a client sees them; both failed on
// the server before it moved onto corio::http.
TEST_CASE("http_server: chunk extensions are accepted (RFC 9112 §7.1.1)",
          "[examples][http][conformance]") {
    NEED_SERVER(bin);
    Site site;
    Server srv(bin, site.root);
    Client c(srv.port);
    REQUIRE(c.connected());
    for (std::string chunks :
         {"5;name=value\r\nhello\r\n0\r\n\r\n", "6;flag\r\nhello!\r\n0\r\n\r\n",
          "5;q=\"quoted value\"\r\nhello\r\n0;x=y\r\n\r\n"}) {
        INFO(chunks);
        REQUIRE(c.send(get("/a.txt", "Transfer-Encoding: chunked\r\n") + chunks));
        auto r = c.response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "alpha\n");
    }
    CHECK(srv.child->stop() == 0);
}

TEST_CASE("http_server: an error answer to HEAD has no body (RFC 9110 §9.3.2)",
          "[examples][http][conformance]") {
    NEED_SERVER(bin);
    Site site;
    Server srv(bin, site.root, {"--max-body", "1000"});
    for (std::string raw : {"HEAD /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n",
                            "HEAD /a.txt HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n",
                            "HEAD /%zz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                            "HEAD /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"}) {
        INFO(raw);
        Client c(srv.port);
        REQUIRE(c.send(raw));
        std::string all;
        CHECK(c.closed_within(3s, &all));
        const std::size_t end = all.find("\r\n\r\n");
        REQUIRE(end != std::string::npos);
        CHECK(all.size() == end + 4);  // nothing after the head
    }
    CHECK(srv.child->stop() == 0);
}

// ---- examples/http_load: the load generator of scripts/http_bench.sh ---------

namespace {

std::string load_binary() {
    return example_binary(".", "http_load");
}

/// http_load's one line of results as numbers by key; empty when it printed none.
std::map<std::string, double> load_results(const std::string& out) {
    std::map<std::string, double> r;
    std::istringstream words(out);
    std::string w;
    while (words >> w) {
        if (auto eq = w.find('='); eq != std::string::npos) {
            r[w.substr(0, eq)] = std::strtod(w.c_str() + eq + 1, nullptr);
        }
    }
    return r;
}

/// A listener that answers every connection's first request with `reply` and then
/// either closes it or (`hold`) keeps it open without a word more, until destroyed.
struct FakeServer {
    int lfd = -1;
    int port = 0;
    std::atomic<bool> stop{false};
    std::vector<int> held;
    std::thread th;
    FakeServer(std::string reply, bool hold) {
        lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (lfd < 0 || ::bind(lfd, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
            ::listen(lfd, 16) != 0 ||
            ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
            throw std::runtime_error("FakeServer: cannot listen");
        }
        port = ntohs(a.sin_port);
        th = std::thread([this, reply = std::move(reply), hold] {
            while (!stop) {
                pollfd p{lfd, POLLIN, 0};
                if (::poll(&p, 1, 50) <= 0) continue;
                int c = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
                if (c < 0) continue;
                char buf[4096];
                pollfd q{c, POLLIN, 0};
                if (::poll(&q, 1, 5000) > 0 && ::recv(c, buf, sizeof buf, 0) > 0) {
                    (void)!::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
                }
                if (hold) {
                    held.push_back(c);
                } else {
                    ::close(c);
                }
            }
        });
    }
    ~FakeServer() {
        stop = true;
        th.join();
        for (int c : held)
            ::close(c);
        ::close(lfd);
    }
};

#define NEED_LOAD(bin) NEED_EXAMPLE(bin, load_binary, "examples/http_load")

}  // namespace

TEST_CASE("http_load: counts every answer of http_server, body bytes and statuses",
          "[examples][http][http_load]") {
    NEED_SERVER(server_bin);
    NEED_LOAD(load_bin);
    Site site;
    Server srv(server_bin, site.root);
    const std::string base = "http://127.0.0.1:" + std::to_string(srv.port);
    for (auto [path, ok] : {std::pair{"/a.txt", true}, std::pair{"/nope.txt", false}}) {
        INFO(path);
        Child load(load_bin, {base + path, "--conns", "4", "--pipeline", "3", "--duration", "0.3",
                              "--backend", backend_name()});
        const std::string out = load.read_all();
        INFO("http_load printed: " << out);
        CHECK(load.wait() == 0);
        auto r = load_results(out);
        REQUIRE(r.count("requests") == 1);
        CHECK(r["requests"] > 0);
        CHECK(r["errors"] == 0);
        CHECK(r["non2xx"] == (ok ? 0 : r["requests"]));
        if (ok) CHECK(r["body_bytes"] == r["requests"] * 6);  // "alpha\n"
    }
    CHECK(srv.child->stop() == 0);
}

TEST_CASE("http_load: a malformed or missing answer is an error, exit status 1",
          "[examples][http][http_load]") {
    NEED_LOAD(load_bin);
    auto run = [&](int port) {
        Child load(load_bin,
                   {"http://127.0.0.1:" + std::to_string(port) + "/", "--conns", "2", "--duration",
                    "0.1", "--timeout", "0.3", "--backend", backend_name()},
                   120, true);
        const std::string out = load.read_all();
        INFO("http_load printed: " << out);
        CHECK(load.wait() == 1);
        auto r = load_results(out);
        CHECK(r["errors"] >= 1);
        CHECK(r["requests"] == 0);
    };
    SECTION("a Content-Length that is not a number") {
        FakeServer fake("HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", false);
        run(fake.port);
    }
    SECTION("a body cut short by the close") {
        FakeServer fake("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", false);
        run(fake.port);
    }
    SECTION("no answer at all (the --timeout ends the wait)") {
        FakeServer fake("", true);
        run(fake.port);
    }
}

TEST_CASE("http_load: --help exits 0; a bad flag, URL or value exits 2",
          "[examples][http][http_load]") {
    NEED_LOAD(load_bin);
    {
        Child help(load_bin, {"--help"});
        CHECK(help.read_all().rfind("usage: http_load", 0) == 0);
        CHECK(help.wait() == 0);
    }
    for (std::vector<std::string> bad : {std::vector<std::string>{},
                                         {"http://127.0.0.1:1/", "--no-such-flag"},
                                         {"https://127.0.0.1:1/"},
                                         {"not a url"},
                                         {"http://127.0.0.1:1/", "--conns", "0"},
                                         {"http://127.0.0.1:1/", "--duration", "-1"},
                                         {"http://127.0.0.1:1/", "--backend", "kqueue"}}) {
        Child c(load_bin, bad, 120, true);
        CHECK(c.read_all().empty());
        CHECK(c.wait() == 2);
    }
}

}  // namespace examples_http_test
