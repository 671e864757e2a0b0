// tls::Stream between a corio client and a corio server over loopback TCP,
// on the backend of this run: data both ways, ALPN, TLS 1.2 and 1.3,
// close_notify and truncation, session resumption, a megabyte each way at
// once, cancellation of a receive, and the buffers an idle connection holds.
#include <string>
#include <vector>

#include <corio/runtime/deadline.hpp>

#include "clock_support.hpp"
#include "tls_support.hpp"

namespace tls_stream_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

Task<Result<std::string>> read_n(tls::Stream* s, std::size_t n) {
    std::string got;
    std::array<std::byte, 4096> buf;
    while (got.size() < n) {
        auto r = co_await s->recv(buf);
        if (!r) co_return r.error();
        if (*r == 0) break;
        got.append(test::chars(std::span(buf).first(*r)));
    }
    co_return got;
}

Task<void> talk(const test::TlsFiles* f, tls::Version max) {
    const int fds = test::open_fds();
    {
        tls::ContextOptions co;
        co.max_version = max;
        tls::Context cc = test::client_context(*f, co);
        tls::Context sc = test::server_context(*f);
        auto p = co_await test::tls_pair(cc, sc);
        INFO("client: " << p.client_error.message() << "; server: " << p.server_error.message());
        REQUIRE(!p.client_error);
        REQUIRE(!p.server_error);
        tls::Stream& c = *p.client;
        tls::Stream& s = *p.server;
        CHECK(c.handshake_done());
        CHECK(c.alpn() == "http/1.1");
        CHECK(s.alpn() == "http/1.1");
        CHECK(c.protocol() == (max == tls::Version::tls1_3 ? "TLSv1.3" : "TLSv1.2"));
        CHECK(s.protocol() == c.protocol());
        // Kernel TLS transmit only for TLS 1.3, and only where the kernel has the ULP.
        INFO(c.ktls_status());
        CHECK(c.ktls() == (tls::kernel_tls_available() && max == tls::Version::tls1_3));
        CHECK_FALSE(c.cipher().empty());

        auto ok48 = co_await c.send_all(std::string_view("ping from the client"));
        REQUIRE(ok48);
        auto got = co_await read_n(&s, 20);
        REQUIRE(got);
        CHECK(*got == "ping from the client");
        const std::string a = "pong ", b = "from the server";
        const std::array<std::span<const std::byte>, 2> parts = {test::bytes(a), test::bytes(b)};
        auto ok54 = co_await s.send_all(std::span<const std::span<const std::byte>>(parts));
        REQUIRE(ok54);
        got = co_await read_n(&c, a.size() + b.size());
        REQUIRE(got);
        CHECK(*got == "pong from the server");

        // close_notify: the peer reads 0, not an error.
        auto ok60 = co_await s.close_notify();
        REQUIRE(ok60);
        std::array<std::byte, 16> buf;
        auto end = co_await c.recv(buf);
        REQUIRE(end);
        CHECK(*end == 0);
    }
    CHECK(test::open_fds() == fds);
}

}  // namespace

TEST_CASE("tls: corio client and server, TLS 1.3 and 1.2, close_notify gives 0", "[tls]") {
    NEED_TLS_FILES(f);
    test::run([f](Loop&) { return talk(f, tls::Version::tls1_3); });
    test::run([f](Loop&) { return talk(f, tls::Version::tls1_2); });
}

namespace {

Task<void> truncation(const test::TlsFiles* f) {
    tls::Context cc = test::client_context(*f);
    tls::Context sc = test::server_context(*f);
    auto p = co_await test::tls_pair(cc, sc);
    REQUIRE(!p.client_error);
    REQUIRE(!p.server_error);
    auto ok83 = co_await p.server->send_all(std::string_view("partial body"));
    REQUIRE(ok83);
    // The server's socket ends with a plain FIN: no close_notify.
    REQUIRE(p.server->transport().shutdown(SHUT_WR));
    auto got = co_await read_n(&*p.client, 100);
    REQUIRE_FALSE(got);
    CHECK(got.error() == tls::Errc::truncated);
    CHECK(got.error() == std::errc::connection_aborted);  // for code that knows only errc
    CHECK(got.error().message() == "TLS connection closed without close_notify (truncated)");
    // And it stays that way.
    std::array<std::byte, 8> buf;
    auto again = co_await p.client->recv(buf);
    REQUIRE_FALSE(again);
    CHECK(again.error() == tls::Errc::truncated);
}

}  // namespace

TEST_CASE("tls: EOF without close_notify is reported as truncation", "[tls]") {
    NEED_TLS_FILES(f);
    test::run([f](Loop&) { return truncation(f); });
}

namespace {

Task<void> resumption(const test::TlsFiles* f) {
    tls::Context cctx = test::client_context(*f);
    tls::Context sctx = test::server_context(*f);
    for (int round = 0; round < 3; ++round) {
        auto p = co_await test::tls_pair(cctx, sctx);
        REQUIRE(!p.client_error);
        REQUIRE(!p.server_error);
        CHECK(p.client->resumed() == (round > 0));
        CHECK(p.server->resumed() == (round > 0));
        // TLS 1.3 tickets arrive after the handshake: the client reads them
        // with the first data.
        auto ok118 = co_await p.server->send_all(std::string_view("x"));
        REQUIRE(ok118);
        auto got = co_await read_n(&*p.client, 1);
        REQUIRE(got);
        CHECK(*got == "x");
    }
    CHECK(cctx.cached_client_sessions() == 1);
}

}  // namespace

TEST_CASE("tls: sessions are resumed per server", "[tls]") {
    NEED_TLS_FILES(f);
    test::run([f](Loop&) { return resumption(f); });
}

namespace {

Task<Result<void>> pump(tls::Stream* s, std::size_t n) {
    std::vector<std::byte> chunk(16411);
    std::size_t off = 0;
    while (off < n) {
        const std::size_t k = std::min(chunk.size(), n - off);
        for (std::size_t i = 0; i < k; ++i)
            chunk[i] = test::pattern_at(off + i);
        auto r = co_await s->send_all(std::span<const std::byte>(chunk.data(), k));
        if (!r) co_return r.error();
        off += k;
    }
    co_return Result<void>{};
}

Task<Result<std::size_t>> drain(tls::Stream* s, std::size_t n) {
    std::vector<std::byte> buf(7001);
    std::size_t got = 0;
    while (got < n) {
        auto r = co_await s->recv(buf);
        if (!r) co_return r.error();
        if (*r == 0) break;
        for (std::size_t i = 0; i < *r; ++i) {
            if (buf[i] != test::pattern_at(got + i)) co_return std::errc::bad_message;
        }
        got += *r;
    }
    co_return got;
}

Task<void> both_ways(const test::TlsFiles* f) {
    tls::Context cc = test::client_context(*f);
    tls::Context sc = test::server_context(*f);
    auto p = co_await test::tls_pair(cc, sc);
    REQUIRE(!p.client_error);
    REQUIRE(!p.server_error);
    constexpr std::size_t n = 1 << 20;
    // One reader and one writer on each stream at once.
    auto [w1, w2, r1, r2] = co_await when_all(pump(&*p.client, n), pump(&*p.server, n),
                                              drain(&*p.client, n), drain(&*p.server, n));
    REQUIRE(w1);
    REQUIRE(w2);
    REQUIRE(r1);
    REQUIRE(r2);
    CHECK(*r1 == n);
    CHECK(*r2 == n);
}

}  // namespace

TEST_CASE("tls: a megabyte each way at once arrives intact", "[tls]") {
    NEED_TLS_FILES(f);
    test::run([f](Loop&) { return both_ways(f); }, 30s);
}

namespace {

Task<void> cancelled_recv(const test::TlsFiles* f) {
    tls::Context cc = test::client_context(*f);
    tls::Context sc = test::server_context(*f);
    auto p = co_await test::tls_pair(cc, sc);
    REQUIRE(!p.client_error);
    REQUIRE(!p.server_error);
    std::array<std::byte, 64> buf;
    // Nothing comes: the receive times out (virtual time), losing nothing.
    auto r = co_await with_timeout(p.client->recv(buf), 5s);
    REQUIRE_FALSE(r);
    CHECK(r.error() == std::errc::timed_out);
    auto ok198 = co_await p.server->send_all(std::string_view("after the timeout"));
    REQUIRE(ok198);
    auto got = co_await read_n(&*p.client, 17);
    REQUIRE(got);
    CHECK(*got == "after the timeout");
}

}  // namespace

TEST_CASE("tls: a cancelled receive leaves the stream usable", "[tls]") {
    NEED_TLS_FILES(f);
    test::virtual_run([f](Loop&) { return cancelled_recv(f); });
}

namespace {

Task<void> idle_buffers(const test::TlsFiles* f, bool release) {
    tls::ContextOptions o;
    o.release_buffers = release;
    tls::ContextOptions so;
    so.release_buffers = release;
    tls::Context cc = test::client_context(*f, o);
    tls::Context sc = test::server_context(*f, "server", so);
    auto p = co_await test::tls_pair(cc, sc);
    REQUIRE(!p.client_error);
    REQUIRE(!p.server_error);
    auto ok221 = co_await p.client->send_all(std::string_view("hello"));
    REQUIRE(ok221);
    auto got = co_await read_n(&*p.server, 5);
    REQUIRE(got);
    if (release) {
        CHECK(p.client->buffer_bytes() == 0);
        CHECK(p.server->buffer_bytes() == 0);
    } else {
        CHECK(p.server->buffer_bytes() > 16384);
    }
}

}  // namespace

TEST_CASE("tls: an idle connection holds no ciphertext buffers", "[tls][memory]") {
    NEED_TLS_FILES(f);
    test::run([f](Loop&) { return idle_buffers(f, true); });
    test::run([f](Loop&) { return idle_buffers(f, false); });
}

}  // namespace tls_stream_test
