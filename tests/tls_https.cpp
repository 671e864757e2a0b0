// https through corio::http, on the backend of this run: http::Client with
// tls::https_connector against http::Server with tls::https_wrapper (keep-
// alive over one TLS connection, a large body, http:// still plain), a server
// certificate the client rejects, and a length-less body cut without
// close_notify (truncation) or ended with it (complete); a WebSocket over
// TLS (wss://); ALPN "http/1.1" on both sides whatever the contexts list.
#include <string>

#include <corio/http/router.hpp>
#include <corio/http/websocket.hpp>
#include <corio/tls/https.hpp>

#include "http_support.hpp"
#include "tls_support.hpp"

namespace tls_https_test {

using namespace corio;
using namespace std::chrono_literals;
using test::LocalServer;

namespace {

Task<http::Response> hello(http::Request&) {
    co_return http::Response::text(200, "hello over tls\n");
}

Task<http::Response> big(http::Request&) {
    co_return http::Response::text(200, std::string(300000, 'z'));
}

// The client's address as the server saw it (taken before the TLS wrap).
Task<http::Response> peer(http::Request& req) {
    const auto p = req.peer();
    co_return http::Response::text(200, p ? p->to_string() : "none");
}

http::Router make_router() {
    http::Router r;
    r.get("/hello", hello);
    r.get("/big", big);
    r.get("/peer", peer);
    return r;
}

std::string https_url(const LocalServer& srv, std::string_view path) {
    return "https://" + srv.address().to_string() + std::string(path);
}

Task<void> client_and_server(const test::TlsFiles* f) {
    const int fds = test::open_fds();
    {
        http::ServerOptions so;
        so.wrap_connection = tls::https_wrapper(test::server_context(*f));
        LocalServer srv(make_router(), so);
        http::ClientOptions co;
        co.connect = tls::https_connector(test::client_context(*f));
        http::Client client(co);
        for (int i = 0; i < 5; ++i) {
            auto r = co_await client.get(https_url(srv, "/hello"));
            INFO((r ? std::string("ok") : r.error().message()));
            REQUIRE(r);
            CHECK(r->status == 200);
            CHECK(r->body == "hello over tls\n");
        }
        auto b = co_await client.get(https_url(srv, "/big"));
        REQUIRE(b);
        CHECK(b->body == std::string(300000, 'z'));
        auto who = co_await client.get(https_url(srv, "/peer"));
        REQUIRE(who);
        CHECK(who->body.starts_with("127.0.0.1:"));  // a TLS stream shows no socket of its own
        CHECK(client.stats().connects == 1);         // keep-alive over one TLS connection
        CHECK(client.stats().reuses == 6);

        // The same client speaks plain http to a plain server.
        LocalServer plain(make_router());
        auto p = co_await client.get(plain.url("/hello"));
        REQUIRE(p);
        CHECK(p->body == "hello over tls\n");

        // A client that does not trust the server's CA gets the reason.
        http::ClientOptions strict;
        strict.connect = tls::https_connector(tls::Context::client(f->cert("self")).value("ctx"));
        http::Client other(strict);
        auto bad = co_await other.get(https_url(srv, "/hello"));
        REQUIRE_FALSE(bad);
        CHECK(tls::is_verify_error(bad.error()));
        CHECK(bad.error().message() ==
              "certificate verify failed: unable to get local issuer certificate");
        client.close_idle();
        co_await plain.stop();
        co_await srv.stop();
    }
    CHECK(test::open_fds() == fds);
}

}  // namespace

TEST_CASE("https: http::Client and http::Server over TLS", "[tls][http]") {
    NEED_TLS_FILES(f);
    test::run([f](Loop&) { return client_and_server(f); }, 20s);
}

namespace {

// Accepts one connection on `l` and runs the server's side of the handshake.
Task<tls::Stream> accept_tls(tls::Context ctx, net::TcpListener* l) {
    auto tcp = co_await l->accept();
    REQUIRE(tcp);
    auto s = tls::Stream::server(ctx, std::move(*tcp));
    REQUIRE(s);
    auto h = co_await s->handshake(Deadline::after(5s));
    REQUIRE(h);
    co_return std::move(*s);
}

// A TLS server that answers one request with a body delimited by the end of
// the connection, then ends it with or without close_notify.
Task<void> lengthless_server(tls::Context ctx, net::TcpListener* l, bool notify) {
    tls::Stream s = co_await accept_tls(std::move(ctx), l);
    std::array<std::byte, 2048> buf;
    auto n = co_await s.recv(buf);  // the request (small: one read)
    REQUIRE(n);
    auto w = co_await s.send_all(
        std::string_view("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nthe body ends "));
    REQUIRE(w);
    auto w2 = co_await s.send_all(std::string_view("with the connection"));
    REQUIRE(w2);
    if (notify) {
        auto c = co_await s.close_notify();
        REQUIRE(c);
    } else {
        REQUIRE(s.transport().shutdown(SHUT_WR));  // FIN, no close_notify
    }
    // Wait for the client to go, so that the FIN is all it sees.
    auto end = co_await with_timeout(s.transport().recv(buf), 5s);
    (void)end;
}

Task<void> lengthless(const test::TlsFiles* f, bool notify) {
    auto l = net::TcpListener::bind(net::Address::loopback_v4(0));
    REQUIRE(l);
    const auto addr = l->local_address().value("local_address");
    http::ClientOptions co;
    co.connect = tls::https_connector(test::client_context(*f));
    co.retry.reset();
    http::Client client(co);
    tls::Context sctx = test::server_context(*f);
    auto [r, done] = co_await when_all(client.get("https://" + addr.to_string() + "/"),
                                       lengthless_server(sctx, &*l, notify));
    (void)done;
    if (notify) {
        REQUIRE(r);
        CHECK(r->body == "the body ends with the connection");
    } else {
        REQUIRE_FALSE(r);
        CHECK(r.error() == tls::Errc::truncated);
        CHECK(r.error().message() == "TLS connection closed without close_notify (truncated)");
    }
}

}  // namespace

TEST_CASE("https: a body that ends with the connection needs close_notify", "[tls][http]") {
    NEED_TLS_FILES(f);
    test::run([f](Loop&) { return lengthless(f, true); });
    test::run([f](Loop&) { return lengthless(f, false); });
}

namespace {

Task<void> wss_echo(http::websocket::WebSocket& ws) {
    for (;;) {
        auto m = co_await ws.receive();
        if (!m) co_return;
        auto sent = co_await ws.send(m->data, m->type);
        if (!sent) co_return;
    }
}

Task<void> wss(const test::TlsFiles* f) {
    namespace ws = http::websocket;
    const int fds = test::open_fds();
    {
        http::Router r;
        r.get("/ws", [](http::Request& req) -> Task<http::Response> {
            co_return ws::accept(req, wss_echo);
        });
        http::ServerOptions so;
        so.wrap_connection = tls::https_wrapper(test::server_context(*f));
        LocalServer srv(std::move(r), so);
        ws::ConnectOptions o;
        o.connect = tls::https_connector(test::client_context(*f));
        auto c = co_await ws::connect("wss://" + srv.address().to_string() + "/ws", o);
        INFO((c ? std::string("ok") : c.error().message()));
        REQUIRE(c);
        const std::string big(200000, 'w');
        auto sent = co_await c->send(big);
        CHECK(sent);
        auto m = co_await c->receive();
        CHECK((m && m->data == big));
        auto closed = co_await c->close();
        CHECK(closed);
        CHECK(c->close_code() == ws::close_code::normal);
        // Without a TLS connector, wss:// is refused before any connection.
        auto plain = co_await ws::connect("wss://" + srv.address().to_string() + "/ws");
        CHECK(plain.error() == std::errc::protocol_not_supported);
        co_await srv.stop();
    }
    CHECK(test::open_fds() == fds);
}

}  // namespace

TEST_CASE("https: a WebSocket over TLS (wss://)", "[tls][http][websocket]") {
    NEED_TLS_FILES(f);
    test::run([f](Loop&) { return wss(f); }, 20s);
}

namespace {

// A TLS server on a context that prefers h2: records what ALPN chose for one
// connection and answers its request.
Task<void> alpn_server(tls::Context ctx, net::TcpListener* l, std::string* chosen) {
    tls::Stream s = co_await accept_tls(std::move(ctx), l);
    *chosen = std::string(s.alpn());
    std::array<std::byte, 2048> buf;
    auto n = co_await s.recv(buf);  // the request (small: one read)
    REQUIRE(n);
    auto w = co_await s.send_all(
        std::string_view("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"));
    REQUIRE(w);
    (void)co_await s.close_notify();
}

Task<void> alpn_http11(const test::TlsFiles* f) {
    const tls::ContextOptions h2_first{.alpn = {"h2", "http/1.1"}};
    // The connector offers http/1.1 alone, even from a context that names h2 only: a server
    // preferring h2 cannot choose it (before, the context's "h2" went out and was chosen).
    {
        auto l = net::TcpListener::bind(net::Address::loopback_v4(0));
        REQUIRE(l);
        http::ClientOptions co;
        co.connect = tls::https_connector(test::client_context(*f, {.alpn = {"h2"}}));
        http::Client client(co);
        std::string chosen = "none";
        const std::string url = "https://" + l->local_address().value("addr").to_string() + "/";
        auto [r, done] = co_await when_all(
            client.get(url),
            alpn_server(test::server_context(*f, "server", h2_first), &*l, &chosen));
        (void)done;
        REQUIRE(r);
        CHECK(r->body == "ok");
        CHECK(chosen == "http/1.1");
    }
    // The wrapper accepts http/1.1 alone: a client offering h2 first gets http/1.1 from a
    // server context that prefers h2.
    {
        http::ServerOptions so;
        so.wrap_connection = tls::https_wrapper(test::server_context(*f, "server", h2_first));
        LocalServer srv(make_router(), so);
        auto tcp = co_await net::TcpStream::connect(srv.address());
        REQUIRE(tcp);
        auto c =
            tls::Stream::client(test::client_context(*f, h2_first), std::move(*tcp), "localhost");
        REQUIRE(c);
        auto h = co_await c->handshake(Deadline::after(5s));
        REQUIRE(h);
        CHECK(c->alpn() == "http/1.1");
        auto w = co_await c->send_all(
            std::string_view("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        REQUIRE(w);
        std::string answer;
        std::array<std::byte, 4096> buf;
        for (;;) {
            auto n = co_await c->recv(buf);
            if (!n || *n == 0) break;
            answer.append(reinterpret_cast<const char*>(buf.data()), *n);
        }
        CHECK(answer.starts_with("HTTP/1.1 200 "));
        CHECK(answer.ends_with("hello over tls\n"));
        co_await srv.stop();
    }
    // A connection's own list replaces the context's on a plain stream too; an empty name
    // is refused.
    {
        auto pair = co_await test::tcp_pair();
        REQUIRE(pair);
        static constexpr std::string_view h2[] = {"h2"}, bad[] = {""};
        auto c = tls::Stream::client(test::client_context(*f, h2_first), std::move(pair->first),
                                     "localhost", {}, h2);
        auto s = tls::Stream::server(test::server_context(*f, "server", h2_first),
                                     std::move(pair->second), h2);
        REQUIRE(c);
        REQUIRE(s);
        auto [hc, hs] = co_await when_all(c->handshake(), s->handshake());
        REQUIRE(hc);
        REQUIRE(hs);
        CHECK(c->alpn() == "h2");
        CHECK(s->alpn() == "h2");
        auto refused =
            tls::Stream::client(test::client_context(*f), net::TcpStream(), "localhost", {}, bad);
        REQUIRE_FALSE(refused);
        CHECK(refused.error() == tls::Errc::bad_option);
    }
}

}  // namespace

TEST_CASE("https: ALPN http/1.1 alone on both sides, whatever the contexts list", "[tls][http]") {
    NEED_TLS_FILES(f);
    test::run([f](Loop&) { return alpn_http11(f); }, 20s);
}

}  // namespace tls_https_test
