// The zero-allocation property of the server: a keep-alive GET of a cached
// small file (StaticFiles behind a Router) allocates nothing per request in
// steady state, with precompressed files off and on (a file without .gz, and
// the .gz of one). Client and server share this loop; the client sends fixed
// bytes and reads the response by its known length, so every operator new
// counted is the server's; with an access log too. And a deflate stream reused after an allocation
// failed mid-write starts from no pending input.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>

#include <corio/http/content_coding.hpp>
#include <corio/http/server.hpp>
#include <corio/http/static_files.hpp>

#include "alloc_support.hpp"
#include "http_support.hpp"
#include "site/harness.hpp"

namespace http_alloc_test {

using namespace corio;

namespace {
test::site::TempDir* g_dir = nullptr;
bool g_precompressed = false;
std::string_view g_req;
std::string_view g_field;  // in the response's head: the variant asked for was sent
bool g_access_log = false;  // with an access log that counts the 200s
std::uint64_t g_logged_ok = 0;

void count_ok(const http::AccessEntry& e) {
    g_logged_ok += e.status == 200 && e.body_bytes == 2048 && e.peer.has_value();
}

// Serves g_dir (precompressed when g_precompressed) and counts operator new over
// 5,000 keep-alive requests of g_req after a warm-up.
void check_no_allocation() {
    test::run(
        [](Loop&) -> Task<void> {
            http::StaticOptions so;
            so.precompressed = g_precompressed;
            http::Router router;
            router.mount("/", http::StaticFiles::open(g_dir->path, so).value("root"));
            http::ServerOptions opts;
            if (g_access_log) opts.access_log = count_ok;
            g_logged_ok = 0;
            test::LocalServer srv(router, opts);
            auto s = (co_await net::TcpStream::connect(srv.address())).value("connect");
            (void)s.set_nodelay();
            // The first response tells the length (the Date field is fixed-width).
            auto w = co_await s.send_all(std::as_bytes(std::span(g_req)));
            REQUIRE(w);
            std::string first;
            std::array<std::byte, 8192> buf;
            std::size_t len = 0;
            while (len == 0 || first.size() < len) {
                auto n = co_await s.recv(buf);
                REQUIRE(n);
                REQUIRE(*n > 0);
                first.append(reinterpret_cast<const char*>(buf.data()), *n);
                const std::size_t head = first.find("\r\n\r\n");
                const std::size_t cl = first.find("Content-Length: ");
                if (len == 0 && head != std::string::npos && cl < head) {
                    len = head + 4 + std::stoul(first.substr(cl + 16));
                }
            }
            REQUIRE(first.size() == len);
            REQUIRE(first.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
            REQUIRE(first.find(g_field) < first.find("\r\n\r\n"));
            bool ok = true;
            auto one = [](net::TcpStream* st, std::span<std::byte> into) -> Task<bool> {
                auto sw = co_await st->send_all(std::as_bytes(std::span(g_req)));
                auto sr = co_await st->read_exact(into);
                co_return sw.has_value() && sr.has_value();
            };
            const auto span = std::span(buf).first(len);
            for (int i = 0; i < 200; ++i) {  // warm up: first-use allocations happen here
                const bool r = co_await one(&s, span);
                ok = ok && r;
            }
            const std::uint64_t before = test::news();
            constexpr int requests = 5000;
            for (int i = 0; i < requests; ++i) {
                const bool r = co_await one(&s, span);
                ok = ok && r;
            }
            const std::uint64_t news = test::news() - before;
            REQUIRE(ok);
            CHECK(std::string_view(reinterpret_cast<const char*>(buf.data()), 15) ==
                  "HTTP/1.1 200 OK");
            INFO("operator new calls over " << requests << " requests: " << news);
            CHECK(news == 0);
            if (g_access_log) CHECK(g_logged_ok == 1 + 200 + requests);
            s.close();
            co_await srv.stop();
        },
        std::chrono::seconds(60));
}

}  // namespace

TEST_CASE("keep-alive GET of a cached small file allocates nothing per request", "[http][alloc]") {
    if (!CORIO_COUNT_NEW) {
        WARN("operator new is not counted under AddressSanitizer");
        return;
    }
    test::site::TempDir dir("corio-http-alloc");
    test::site::write_file(dir / "index.html", std::string(2048, 'x'));
    test::site::write_file(dir / "page.html", std::string(2048, 'y'));
    test::site::write_file(dir / "page.html.gz", http::gzip(std::string(2048, 'y')));
    g_dir = &dir;
    SECTION("plain") {
        g_precompressed = false;
        g_req = "GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n";
        g_field = "ETag: ";
        check_no_allocation();
    }
    SECTION("plain, with an access log") {
        g_precompressed = false;
        g_access_log = true;
        g_req = "GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n";
        g_field = "ETag: ";
        check_no_allocation();
        g_access_log = false;
    }
    SECTION("precompressed on, a file without .gz, to a client that takes gzip") {
        g_precompressed = true;
        g_req = "GET /index.html HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n";
        g_field = "Vary: Accept-Encoding\r\n";
        check_no_allocation();
    }
    SECTION("precompressed on, its .gz") {
        g_precompressed = true;
        g_req = "GET /page.html HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n";
        g_field = "Content-Encoding: gzip\r\n";
        check_no_allocation();
    }
}

TEST_CASE("gzip: a deflate stream given back after a throw mid-write starts clean",
          "[http][alloc]") {
    if (!CORIO_COUNT_NEW) {
        WARN("operator new cannot be made to fail under AddressSanitizer");
        return;
    }
    // On a thread of its own: its pool of deflate streams starts empty, so `again` takes the
    // stream `failed` gave back.
    std::string decoded, error;
    std::thread t([&] {
        const std::string first(100000, 'a');
        try {
            http::GzipEncoder failed(6);
            std::string out;
            test::fail_next_new_of(4096);  // the output buffer's growth, before any deflate
            failed.write(first, out);
            error = "the write did not throw";
        } catch (const std::bad_alloc&) {
        }
        test::fail_next_new_of(SIZE_MAX);
        http::GzipEncoder again(6);
        std::string out;
        again.finish("hello", out);
        auto plain = http::decode_content("gzip", out, 1 << 20);
        if (plain) decoded = *plain;
    });
    t.join();
    CHECK(error.empty());
    CHECK(decoded == "hello");  // not the old input's bytes after it
}

}  // namespace http_alloc_test
