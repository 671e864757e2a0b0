// http::Client against http::Server (and a few raw peers) on the backend of
// this run: pool reuse seen in the loop's statistics, redirects and their
// method rules, deadlines, chunked and length-less bodies, streamed bodies,
// the size cap, the retry and breaker hooks, and the connector hook.
#include <catch2/catch.hpp>

#include <corio/runtime/timer.hpp>

#include "http_support.hpp"

using namespace corio;
using namespace std::chrono_literals;
using test::LocalServer;

namespace {

Task<http::Response> hello(http::Request&) {
    co_return http::Response::text(200, "hello\n");
}

/// Tells what arrived: "METHOD body".
Task<http::Response> show(http::Request& req) {
    auto body = co_await req.read_body_all(1024);
    co_return http::Response::text(200, std::string(req.method()) + " " + body.value_or("?"));
}

Task<http::Response> redirect(http::Request& req) {
    http::Response r(std::atoi(std::string(req.param("code")).c_str()));
    r.set("Location", "/show");
    co_return r;
}

Task<http::Response> loop_redirect(http::Request&) {
    http::Response r(302);
    r.set("Location", "/loop");
    co_return r;
}

Task<http::Response> forever(http::Request&) {
    (void)co_await sleep_for(1h);
    co_return http::Response::text(200, "late\n");
}

Task<http::Response> big(http::Request&) {
    co_return http::Response::text(200, std::string(100000, 'x'));
}

Task<http::Response> chunks(http::Request&) {
    co_return http::Response::stream(200, [](http::BodyWriter& w) -> Task<Result<void>> {
        for (int i = 0; i < 100; ++i) {
            auto r = co_await w.write(std::string(1000, char('a' + i % 26)));
            if (!r) co_return r;
        }
        co_return Result<void>{};
    });
}

int flaky_calls = 0;
Task<http::Response> flaky(http::Request&) {
    ++flaky_calls;
    if (flaky_calls % 3 != 0) co_return http::Response::error(503);
    co_return http::Response::text(200, "at last\n");
}

Task<http::Response> down(http::Request&) {
    co_return http::Response::error(503);
}

http::Router make_router() {
    http::Router r;
    r.get("/hello", hello);
    r.mount("/show", show, "GET,POST,PUT,HEAD");
    r.mount("/r/{code}", redirect, "GET,POST,PUT,HEAD");
    r.get("/loop", loop_redirect);
    r.get("/forever", forever);
    r.get("/big", big);
    r.get("/chunks", chunks);
    r.get("/flaky", flaky);
    r.get("/down", down);
    return r;
}

http::ServerOptions quick_drain() {
    http::ServerOptions o;
    o.grace = 50ms;
    return o;
}

/// A peer that answers one request with `reply` and closes.
Task<void> one_shot(net::TcpListener* l, std::string reply) {
    auto s = co_await l->accept();
    if (!s) co_return;
    std::array<std::byte, 4096> buf;
    auto n = co_await s->recv(buf);
    (void)n;
    (void)co_await s->send_all(std::as_bytes(std::span(reply)));
}

}  // namespace

TEST_CASE("client: keep-alive pool, reuse visible in the loop's statistics", "[http][client]") {
    test::run([](Loop& loop) -> Task<void> {
        LocalServer srv(make_router());
        http::Client client;
        const auto connects_before = loop.stats().submitted[std::size_t(OpKind::connect)];
        constexpr int requests = 20;
        for (int i = 0; i < requests; ++i) {
            auto r = co_await client.get(srv.url("/hello"));
            REQUIRE(r);
            CHECK(r->body == "hello\n");
        }
        const auto connects =
            loop.stats().submitted[std::size_t(OpKind::connect)] - connects_before;
        CHECK(connects < requests);
        CHECK(connects >= 1);
        CHECK(client.stats().connects == 1);
        CHECK(client.stats().reuses == requests - 1);
        CHECK(client.idle_connections() == 1);
        // Several at once: the pool holds at most max_idle_per_origin.
        http::ClientOptions o;
        o.max_idle_per_origin = 2;
        http::Client small(o);
        std::vector<Task<Result<http::ClientResponse>>> many;
        for (int i = 0; i < 5; ++i)
            many.push_back(small.get(srv.url("/hello")));
        auto all = co_await when_all(std::move(many));
        for (auto& r : all) {
            REQUIRE(r);
            CHECK(r->status == 200);
        }
        CHECK(small.stats().connects == 5);
        CHECK(small.idle_connections() == 2);
        co_await srv.stop();
    });
}

TEST_CASE("client: a pooled connection past its idle timeout is not reused", "[http][client]") {
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        http::ClientOptions o;
        o.idle_timeout = 20ms;
        http::Client client(o);
        auto r = co_await client.get(srv.url("/hello"));
        REQUIRE(r);
        (void)co_await sleep_for(60ms);
        r = co_await client.get(srv.url("/hello"));
        REQUIRE(r);
        CHECK(client.stats().connects == 2);
        CHECK(client.stats().reuses == 0);
        co_await srv.stop();
    });
}

TEST_CASE("client: a pooled connection the server closed is replaced", "[http][client]") {
    test::run([](Loop&) -> Task<void> {
        http::ServerOptions so;
        so.idle_timeout = 20ms;
        LocalServer srv(make_router(), so);
        http::Client client;
        auto r = co_await client.get(srv.url("/hello"));
        REQUIRE(r);
        (void)co_await sleep_for(200ms);  // the server closes the idle connection
        r = co_await client.get(srv.url("/hello"));
        REQUIRE(r);
        CHECK(r->body == "hello\n");
        CHECK(client.stats().connects == 2);
        co_await srv.stop();
    });
}

// RFC 9112 §9.6: a client that sends the "close" option MUST NOT send another request on that
// connection; a response with "close", or an HTTP/1.0 one without keep-alive, ends it too.
// The old client pooled a connection whose request had said "Connection: close", and one
// that a 101 answer had switched to another protocol.
TEST_CASE("client: Connection: close either way ends the connection",
          "[http][client][conformance]") {
    test::run([](Loop&) -> Task<void> {
        auto l = net::TcpListener::bind(net::Address::loopback_v4(0)).value("bind");
        const std::string url = "http://" + l.local_address().value("addr").to_string() + "/";
        http::Client client;
        TaskGroup g;
        struct Case {
            const char* request_connection;  // "" for none
            const char* reply;
            std::size_t pooled;
            const char* body = "ok";
        };
        const Case cases[] = {
            {"", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 1},
            {"Close", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0},
            {"te, close", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0},
            {"", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", 0},
            {"", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 0},
            {"", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", 1},
            // After 101 the connection speaks another protocol: never pooled.
            {"", "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n", 0,
             ""},
        };
        for (const Case& c : cases) {
            INFO("Connection: " << c.request_connection << " | " << c.reply);
            client.close_idle();
            g.spawn(one_shot(&l, c.reply));
            http::ClientRequest req;
            req.url = url;
            if (*c.request_connection != '\0')
                req.headers.push_back({"Connection", c.request_connection});
            auto r = co_await client.fetch(std::move(req));
            REQUIRE(r);
            CHECK(r->body == c.body);
            CHECK(client.idle_connections() == c.pooled);
            co_await g.wait();
        }
    });
}

TEST_CASE("client: redirects and their method rules", "[http][client]") {
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        http::Client client;
        struct Case {
            int code;
            std::string method;
            std::string want;
        };
        const std::vector<Case> cases = {
            {301, "GET", "GET data"}, {301, "POST", "GET "},    {302, "POST", "GET "},
            {303, "POST", "GET "},    {303, "PUT", "GET "},     {307, "POST", "POST data"},
            {308, "PUT", "PUT data"}, {301, "PUT", "PUT data"},
        };
        for (const Case& k : cases) {
            INFO(k.code << " " << k.method);
            http::ClientRequest req;
            req.method = k.method;
            req.url = srv.url("/r/" + std::to_string(k.code));
            req.body = "data";
            auto r = co_await client.fetch(req);
            REQUIRE(r);
            CHECK(r->status == 200);
            CHECK(r->body == k.want);
            CHECK(r->redirects == 1);
            CHECK(r->url == srv.url("/show"));
        }
        // HEAD stays HEAD through a 303.
        http::ClientRequest head;
        head.method = "HEAD";
        head.url = srv.url("/r/303");
        auto r = co_await client.fetch(head);
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body.empty());
        // A loop is cut off.
        r = co_await client.get(srv.url("/loop"));
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::too_many_links);
        // max_redirects = 0: the 3xx is the answer.
        http::ClientOptions o;
        o.max_redirects = 0;
        http::Client raw(o);
        r = co_await raw.get(srv.url("/r/302"));
        REQUIRE(r);
        CHECK(r->status == 302);
        CHECK(r->headers.get("Location").value_or("") == "/show");
        co_await srv.stop();
    });
}

TEST_CASE("client: deadlines", "[http][client]") {
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router(), quick_drain());
        http::Client client;
        http::ClientRequest req;
        req.url = srv.url("/forever");
        req.deadline = Deadline::after(100ms);
        auto r = co_await client.fetch(req);
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::timed_out);
        CHECK(client.idle_connections() == 0);  // a cut-off exchange is not pooled
        // The default deadline of the options.
        http::ClientOptions o;
        o.timeout = 50ms;
        http::Client quick(o);
        r = co_await quick.get(srv.url("/forever"));
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::timed_out);
        // And the next request goes through.
        r = co_await client.get(srv.url("/hello"));
        REQUIRE(r);
        CHECK(r->status == 200);
        co_await srv.stop();
    });
}

TEST_CASE("client: chunked, length-less and capped bodies; streamed reading", "[http][client]") {
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        http::Client client;
        auto r = co_await client.get(srv.url("/chunks"));
        REQUIRE(r);
        CHECK(r->body.size() == 100000);
        CHECK(r->body.substr(0, 3) == "aaa");
        CHECK(r->body.substr(99997) == "vvv");

        http::ClientOptions o;
        o.max_body = 1000;
        http::Client capped(o);
        r = co_await capped.get(srv.url("/big"));
        REQUIRE_FALSE(r);
        CHECK(r.error() == Errc::limit_exceeded);

        // Streamed: read in pieces; at the end the connection is pooled.
        http::ClientRequest req;
        req.url = srv.url("/big");
        auto s = co_await client.open(req);
        REQUIRE(s);
        CHECK(s->status() == 200);
        std::size_t total = 0;
        std::array<std::byte, 777> buf;
        for (;;) {
            auto n = co_await s->read(buf);
            REQUIRE(n);
            if (*n == 0) break;
            CHECK(*n <= buf.size());
            total += *n;
        }
        CHECK(total == 100000);
        CHECK(client.idle_connections() == 1);

        // A body delimited by the end of the connection.
        auto l = net::TcpListener::bind(net::Address::loopback_v4(0)).value("bind");
        const auto addr = l.local_address().value("addr");
        TaskGroup g;
        g.spawn(one_shot(&l, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"));
        r = co_await client.get("http://" + addr.to_string() + "/");
        REQUIRE(r);
        CHECK(r->body == "until the end");
        CHECK(r->until_close);
        co_await g.wait();
        // A malformed answer is an error, not a guess.
        g.spawn(
            one_shot(&l, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"));
        r = co_await client.get("http://" + addr.to_string() + "/");
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::bad_message);
        co_await g.wait();
        co_await srv.stop();
    });
}

TEST_CASE("client: retry and circuit breaker hooks", "[http][client]") {
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        http::ClientOptions o;
        RetryPolicy p;
        p.max_attempts = 3;
        p.initial_backoff = 1ms;
        p.max_backoff = 2ms;
        o.retry = p;
        http::Client client(o);
        flaky_calls = 0;
        auto r = co_await client.get(srv.url("/flaky"));
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(flaky_calls == 3);
        CHECK(client.stats().retries == 2);
        // Without the hook a 503 is the answer.
        http::Client plain;
        r = co_await plain.get(srv.url("/flaky"));
        REQUIRE(r);
        CHECK(r->status == 503);

        http::ClientOptions b;
        BreakerOptions bo;
        bo.failure_threshold = 2;
        bo.cool_down = 1h;
        b.breaker = bo;
        http::Client guarded(b);
        for (int i = 0; i < 2; ++i) {
            r = co_await guarded.get(srv.url("/down"));
            REQUIRE(r);
            CHECK(r->status == 503);
        }
        const auto sent = guarded.stats().requests;
        r = co_await guarded.get(srv.url("/down"));
        REQUIRE_FALSE(r);
        CHECK(r.error() == Errc::circuit_open);
        CHECK(guarded.stats().requests == sent);  // failed fast, nothing sent
        co_await srv.stop();
    });
}

namespace {

int connector_calls = 0;

/// A connector for a made-up scheme-less test: counts calls, connects TCP.
Task<Result<http::Stream>> counting_connector(http::Origin o, Deadline d) {
    ++connector_calls;
    co_return co_await http::connect_tcp(std::move(o), d);
}

}  // namespace

TEST_CASE("client: the connector hook opens every connection; https needs one", "[http][client]") {
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        http::ClientOptions o;
        o.connect = counting_connector;
        http::Client client(o);
        connector_calls = 0;
        for (int i = 0; i < 3; ++i) {
            auto r = co_await client.get(srv.url("/hello"));
            REQUIRE(r);
        }
        CHECK(connector_calls == 1);
        http::Client plain;
        auto r = co_await plain.get("https://127.0.0.1:1/");
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::protocol_not_supported);
        r = co_await plain.get("ftp://x/");
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::invalid_argument);
        co_await srv.stop();
    });
}
