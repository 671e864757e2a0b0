// What goes wrong with TLS, each on the backend of this run: certificates
// that fail verification (expired, wrong name, unknown CA, self-signed), no
// common protocol version, a server that stalls mid-handshake, a client that
// sends garbage instead of a ClientHello or leaves mid-handshake, a peer that
// resets mid-record, a handshake cut short. Each one is a clear error value,
// the process stays up, and the descriptors go back to their count.
#include <string>

#include <corio/runtime/deadline.hpp>

#include "clock_support.hpp"
#include "tls_support.hpp"

namespace tls_errors_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

struct BadCert {
    const char* cert;
    const char* name;
    const char* message;
};

Task<void> verify_fails(const test::TlsFiles* f, BadCert k) {
    const int fds = test::open_fds();
    {
        tls::Context cc = test::client_context(*f);
        tls::Context sc = test::server_context(*f, k.cert);
        auto p = co_await test::tls_pair(cc, sc, k.name);
        INFO("cert " << k.cert << " for " << k.name);
        REQUIRE(p.client_error);
        CHECK(tls::is_verify_error(p.client_error));
        CHECK(p.client_error.message() == k.message);
        // The server learns it from the client's alert.
        CHECK(p.server_error);
        // The session is over: later operations say so.
        std::array<std::byte, 8> buf;
        auto r = co_await p.client->recv(buf);
        REQUIRE_FALSE(r);
        CHECK(r.error() == p.client_error);
    }
    CHECK(test::open_fds() == fds);
}

}  // namespace

TEST_CASE("tls: verification failures name their reason as openssl verify does", "[tls]") {
    NEED_TLS_FILES(f);
    const BadCert cases[] = {
        {"expired", "localhost", "certificate verify failed: certificate has expired"},
        {"server", "wrong.example", "certificate verify failed: hostname mismatch"},
        {"server", "127.0.0.2", "certificate verify failed: IP address mismatch"},
        {"other", "localhost", "certificate verify failed: unable to get local issuer certificate"},
        {"self", "localhost", "certificate verify failed: self-signed certificate"},
    };
    for (const BadCert& k : cases) {
        test::run([f, k](Loop&) { return verify_fails(f, k); });
    }
}

namespace {

Task<void> insecure_accepts(const test::TlsFiles* f) {
    tls::ContextOptions o;
    o.verify_peer = false;
    tls::Context cc = test::client_context(*f, o);
    tls::Context sc = test::server_context(*f, "self");
    auto p = co_await test::tls_pair(cc, sc, "anything.example");
    CHECK(!p.client_error);
    CHECK(!p.server_error);
}

}  // namespace

TEST_CASE("tls: verification is on by default and off only when asked", "[tls]") {
    NEED_TLS_FILES(f);
    test::run([f](Loop&) { return insecure_accepts(f); });
    // A verifying client needs a name to check.
    auto c = tls::Stream::client(test::client_context(*f), net::TcpStream(), "");
    REQUIRE_FALSE(c);
    CHECK(c.error() == tls::Errc::bad_option);
}

namespace {

Task<void> no_common_version(const test::TlsFiles* f) {
    tls::ContextOptions co;
    co.max_version = tls::Version::tls1_2;
    tls::ContextOptions so;
    so.min_version = tls::Version::tls1_3;
    const int fds = test::open_fds();
    {
        tls::Context cc = test::client_context(*f, co);
        tls::Context sc = test::server_context(*f, "server", so);
        auto p = co_await test::tls_pair(cc, sc);
        REQUIRE(p.client_error);
        REQUIRE(p.server_error);
        CHECK(p.server_error.message() == "TLS: unsupported protocol");
        CHECK(p.client_error.message() == "TLS: tlsv1 alert protocol version");
    }
    CHECK(test::open_fds() == fds);
}

}  // namespace

TEST_CASE("tls: no common protocol version", "[tls]") {
    NEED_TLS_FILES(f);
    test::run([f](Loop&) { return no_common_version(f); });
}

namespace {

// A TCP server that accepts and then says nothing: the handshake's deadline
// ends it, in virtual time.
Task<void> stalled_server(const test::TlsFiles* f) {
    const int fds = test::open_fds();
    {
        auto tcp = co_await test::tcp_pair();
        REQUIRE(tcp);
        auto c = tls::Stream::client(test::client_context(*f), std::move(tcp->first), "localhost");
        REQUIRE(c);
        Loop& loop = Loop::current();
        const TimePoint t0 = loop.now();
        auto h = co_await c->handshake(Deadline::after(5s));
        REQUIRE_FALSE(h);
        CHECK(h.error() == tls::Errc::handshake_timed_out);
        CHECK(h.error() == std::errc::timed_out);
        CHECK(h.error().message() == "TLS handshake timed out");
        CHECK(loop.now() - t0 == 5s);
        // The silent server did get a ClientHello.
        std::array<std::byte, 512> buf;
        auto n = co_await with_timeout(tcp->second.recv(buf), 1s);
        REQUIRE(n);
        CHECK(*n > 5);
        CHECK(buf[0] == std::byte{0x16});  // handshake record
        // A timed-out handshake cannot be resumed.
        auto again = co_await c->recv(buf);
        REQUIRE_FALSE(again);
        CHECK(again.error() == tls::Errc::handshake_timed_out);
    }
    CHECK(test::open_fds() == fds);
}

}  // namespace

TEST_CASE("tls: a server that stalls mid-handshake times out at the deadline", "[tls]") {
    NEED_TLS_FILES(f);
    test::virtual_run([f](Loop&) { return stalled_server(f); });
}

namespace {

Task<void> garbage_hello(const test::TlsFiles* f, std::string garbage) {
    const int fds = test::open_fds();
    {
        auto tcp = co_await test::tcp_pair();
        REQUIRE(tcp);
        auto s = tls::Stream::server(test::server_context(*f), std::move(tcp->second));
        REQUIRE(s);
        auto ok157 = co_await tcp->first.send_all(garbage);
        REQUIRE(ok157);
        auto h = co_await s->handshake(Deadline::after(5s));
        REQUIRE_FALSE(h);
        INFO(h.error().message());
        CHECK(h.error().category() == tls::openssl_category());
        CHECK(h.error().message().rfind("TLS: ", 0) == 0);
        // The server answered with an alert or just closed; either way the
        // client sees the end without hanging.
        s.value().transport().close();
        std::array<std::byte, 256> buf;
        for (;;) {
            auto n = co_await tcp->first.recv(buf);
            if (!n || *n == 0) break;
        }
    }
    CHECK(test::open_fds() == fds);
}

}  // namespace

TEST_CASE("tls: garbage instead of a ClientHello fails the handshake", "[tls]") {
    NEED_TLS_FILES(f);
    test::run(
        [f](Loop&) { return garbage_hello(f, "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"); });
    std::string noise(300, '\0');
    for (std::size_t i = 0; i < noise.size(); ++i)
        noise[i] = char(i * 37 + 11);
    test::run([f, noise](Loop&) { return garbage_hello(f, noise); });
}

namespace {

Task<void> left_in_handshake(const test::TlsFiles* f) {
    const int fds = test::open_fds();
    {
        auto tcp = co_await test::tcp_pair();
        REQUIRE(tcp);
        auto s = tls::Stream::server(test::server_context(*f), std::move(tcp->second));
        REQUIRE(s);
        tcp->first.close();
        auto h = co_await s->handshake(Deadline::after(5s));
        REQUIRE_FALSE(h);
        CHECK(h.error() == tls::Errc::closed_in_handshake);
        CHECK(h.error().message() == "connection closed during the TLS handshake");
    }
    CHECK(test::open_fds() == fds);
}

}  // namespace

TEST_CASE("tls: a client that leaves mid-handshake", "[tls]") {
    NEED_TLS_FILES(f);
    test::run([f](Loop&) { return left_in_handshake(f); });
}

namespace {

// The server's side sends the head of an application-data record and a few
// bytes of it, then resets the connection.
Task<void> reset_mid_record(const test::TlsFiles* f) {
    const int fds = test::open_fds();
    {
        tls::Context cc = test::client_context(*f);
        tls::Context sc = test::server_context(*f);
        auto p = co_await test::tls_pair(cc, sc);
        REQUIRE(!p.client_error);
        REQUIRE(!p.server_error);
        const unsigned char head[] = {0x17, 0x03, 0x03, 0x01, 0x00, 1, 2, 3, 4, 5, 6, 7, 8};
        net::TcpStream& raw = p.server->transport();
        auto ok225 = co_await raw.send_all(std::as_bytes(std::span(head)));
        REQUIRE(ok225);
        REQUIRE(raw.set_linger_reset());
        raw.close();  // RST
        std::array<std::byte, 64> buf;
        auto r = co_await p.client->recv(buf);
        REQUIRE_FALSE(r);
        INFO(r.error().message());
        CHECK(r.error() == std::errc::connection_reset);
        auto again = co_await p.client->recv(buf);
        REQUIRE_FALSE(again);
    }
    CHECK(test::open_fds() == fds);
}

}  // namespace

TEST_CASE("tls: a peer that resets mid-record", "[tls]") {
    NEED_TLS_FILES(f);
    test::run([f](Loop&) { return reset_mid_record(f); });
}

namespace {

// The client's handshake is cancelled (a when_any it loses): the session is
// broken, the server sees the connection end, nothing leaks.
Task<void> cancelled_handshake(const test::TlsFiles* f) {
    const int fds = test::open_fds();
    {
        auto tcp = co_await test::tcp_pair();
        REQUIRE(tcp);
        auto c = tls::Stream::client(test::client_context(*f), std::move(tcp->first), "localhost");
        REQUIRE(c);
        auto r = co_await with_timeout(c->handshake(), 2s);
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::timed_out);
        std::array<std::byte, 8> buf;
        auto after = co_await c->recv(buf);
        REQUIRE_FALSE(after);
        auto w = co_await c->send_all(std::string_view("x"));
        REQUIRE_FALSE(w);
    }
    CHECK(test::open_fds() == fds);
}

}  // namespace

TEST_CASE("tls: a handshake cut short leaves a broken session, not a hang", "[tls]") {
    NEED_TLS_FILES(f);
    test::virtual_run([f](Loop&) { return cancelled_handshake(f); });
}

}  // namespace tls_errors_test
