// http::Client against http::Server (and a few raw peers) on the backend of
// this run: pool reuse seen in the loop's statistics, redirects and their
// method rules, deadlines, chunked and length-less bodies, streamed bodies,
// the size cap, the retry and breaker hooks, the connector hook and the bound
// on connections per origin; against
// scripted peers: the request on the wire, redirects between origins,
// interim and bodiless answers, responses cut short, stale pooled connections;
// names looked up by a net::Resolver against a scripted name server;
// compressed bodies asked for and decoded (gzip, deflate), and their faults.
#include <zlib.h>
#include <catch2/catch.hpp>

#include <cctype>

#include <corio/http/content_coding.hpp>

#include <corio/runtime/sync.hpp>
#include <corio/runtime/timer.hpp>

#include "dns_support.hpp"
#include "http_support.hpp"

namespace http_client_test {

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

int timeout_calls = 0;
/// 408 (the server gave up waiting for the request) every other call, else 200.
Task<http::Response> impatient(http::Request&) {
    if (++timeout_calls % 2 == 1) co_return http::Response::error(408);
    co_return http::Response::text(200, "in time\n");
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
    r.mount("/impatient", impatient, "GET,POST");
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

/// `*out = co_await c->get(url)`, for a request started and awaited apart.
Task<void> get_into(http::Client* c, std::string url, Result<http::ClientResponse>* out) {
    *out = co_await c->get(std::move(url));
}

TEST_CASE("client: max_connections_per_origin: a bounded pool, waiters served in turn",
          "[http][client]") {
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        LocalServer other(make_router());
        http::ClientOptions o;
        o.max_connections_per_origin = 2;
        http::Client client(o);
        // Ten at once: two connections, each used in turn; the eight beyond waited.
        std::vector<Task<Result<http::ClientResponse>>> many;
        for (int i = 0; i < 10; ++i) {
            many.push_back(client.get(srv.url("/hello")));
        }
        auto all = co_await when_all(std::move(many));
        for (auto& r : all) {
            REQUIRE(r);
            CHECK(r->body == "hello\n");
        }
        CHECK(client.stats().connects == 2);
        CHECK(client.stats().reuses == 8);
        CHECK(client.stats().waits == 8);
        CHECK(client.idle_connections() == 2);

        // One connection, held by a stream until its body is read to the end.
        o.max_connections_per_origin = 1;
        http::Client single(o);
        http::ClientRequest req;
        req.url = srv.url("/big");
        auto held = co_await single.open(req);
        REQUIRE(held);
        // A request for it waits, and gives up at its deadline.
        req.url = srv.url("/hello");
        req.deadline = Deadline::after(50ms);
        auto r = co_await single.fetch(req);
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::timed_out);
        CHECK(single.stats().connects == 1);
        // Another origin has a limit of its own.
        r = co_await single.get(other.url("/hello"));
        REQUIRE(r);
        CHECK(single.stats().connects == 2);
        // A waiter gets the connection when the stream ends: reused, not a new one.
        Result<http::ClientResponse> late = std::errc::io_error;
        TaskGroup g;
        g.spawn(get_into(&single, srv.url("/hello"), &late));
        for (int i = 0; i < 10; ++i) {
            co_await yield();
        }
        CHECK_FALSE(late);  // still waiting: the stream holds the connection
        auto body = co_await held->read_all(1 << 20);
        REQUIRE(body);
        CHECK(body->size() == 100000);
        co_await g.wait();
        REQUIRE(late);
        CHECK(late->body == "hello\n");
        CHECK(single.stats().connects == 2);
        CHECK(single.stats().reuses == 1);
        CHECK(single.stats().waits == 2);
        // A stream dropped before its end closes its connection and frees its place.
        req.url = srv.url("/big");
        req.deadline.reset();
        {
            auto dropped = co_await single.open(req);
            REQUIRE(dropped);
        }
        r = co_await single.get(srv.url("/hello"));
        REQUIRE(r);
        CHECK(single.stats().connects == 3);
        CHECK(single.stats().waits == 2);
        co_await other.stop();
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
        auto opened = co_await client.open(req);
        REQUIRE(opened);
        // Moved: the stream reads on; the moved-from one has nothing and reads EBADF.
        std::optional<http::ResponseStream> s(std::move(*opened));
        CHECK(opened->status() == 0);
        CHECK(opened->headers().empty());
        CHECK_FALSE(opened->decoded());
        std::array<std::byte, 777> buf;
        auto none = co_await opened->read(buf);
        CHECK(none.error() == std::errc::bad_file_descriptor);
        CHECK(s->status() == 200);
        std::size_t total = 0;
        for (;;) {
            auto n = co_await s->read(buf);
            REQUIRE(n);
            if (*n == 0) break;
            CHECK(*n <= buf.size());
            total += *n;
        }
        CHECK(total == 100000);
        CHECK(client.idle_connections() == 1);

        // Move assignment: the stream assigned to closes its own connection (never pooled)
        // and reads the other's body; assigning a stream to itself changes nothing.
        {
            auto a = co_await client.open(req);  // on the pooled connection
            auto b = co_await client.open(req);  // on a new one
            REQUIRE(a);
            REQUIRE(b);
            CHECK(client.idle_connections() == 0);
            *b = std::move(*a);
            http::ResponseStream& same = *b;
            *b = std::move(same);
            CHECK(a->status() == 0);
            auto rest = co_await b->read_all(1 << 20);
            REQUIRE(rest);
            CHECK(rest->size() == 100000);
            CHECK(client.idle_connections() == 1);  // a's connection, back after its body
        }

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
        // 408: the server did not act on the request; an idempotent one is sent again
        // (RFC 9110 §15.5.9), whatever retry_server_errors says; a POST is not.
        timeout_calls = 0;
        o.retry_server_errors = false;
        http::Client no_5xx(o);
        r = co_await no_5xx.get(srv.url("/impatient"));
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(timeout_calls == 2);
        CHECK(no_5xx.stats().retries == 1);
        http::ClientRequest post;
        post.method = "POST";
        post.url = srv.url("/impatient");
        post.body = "x";
        r = co_await no_5xx.fetch(post);
        REQUIRE(r);
        CHECK(r->status == 408);
        CHECK(timeout_calls == 3);
        // Without the hook a 408 is the answer.
        r = co_await plain.get(srv.url("/impatient"));
        REQUIRE(r);
        CHECK(r->status == 200);  // the 4th call
        r = co_await plain.get(srv.url("/impatient"));
        REQUIRE(r);
        CHECK(r->status == 408);

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

TEST_CASE("client: names through a net::Resolver (tcp_connector)", "[http][client][dns]") {
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        test_dns::Server dns([](const test_dns::Asked& a) -> std::vector<test_dns::Reply> {
            test_dns::Reply r;
            if (a.name != "app.example.test") {
                r.rcode = 3;
            } else if (a.type == 1) {
                r.records = {{1, test_dns::v4("127.0.0.1")}};
            }
            return {r};  // no AAAA record: IPv4 only
        });
        REQUIRE(dns.start());
        net::DnsConfig cfg;
        cfg.servers = {dns.address()};
        net::Resolver resolver(cfg);
        http::ClientOptions o;
        o.connect = http::tcp_connector(resolver);
        http::Client client(o);
        const std::string port = std::to_string(srv.address().port());
        auto r = co_await client.get("http://app.example.test:" + port + "/hello");
        REQUIRE(r);
        CHECK(r->body == "hello\n");
        CHECK(resolver.stats().queries == 2);  // A and AAAA
        auto again = co_await client.get("http://app.example.test:" + port + "/hello");
        REQUIRE(again);
        CHECK(resolver.stats().queries == 2);  // a pooled connection: no lookup
        auto missing = co_await client.get("http://missing.example.test:" + port + "/hello");
        REQUIRE(!missing);
        CHECK(missing.error() == std::error_code(EAI_NONAME, net::resolve_category()));
        client.close_idle();
        co_await dns.stop();
        co_await srv.stop();
    });
}

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

namespace {

/// A scripted peer for one connection: reads each request (its head, then a
/// Content-Length body) into `*seen` and answers with the next of `replies`;
/// an empty reply means: read the request, then close without an answer.
/// After the last reply it closes, or with `linger` waits for the client to
/// close first.
Task<void> serve(net::TcpListener* l, std::vector<std::string> replies,
                 std::vector<std::string>* seen, bool linger = false) {
    auto s = co_await l->accept();
    if (!s) co_return;
    std::string in;
    std::array<std::byte, 16384> buf;
    auto more = [](net::TcpStream* st, std::array<std::byte, 16384>* b,
                   std::string* to) -> Task<bool> {
        auto n = co_await st->recv(*b);
        if (!n || *n == 0) co_return false;
        to->append(reinterpret_cast<const char*>(b->data()), *n);
        co_return true;
    };
    for (const std::string& reply : replies) {
        std::size_t end = 0;
        for (;;) {
            const std::size_t head = in.find("\r\n\r\n");
            if (head != std::string::npos) {
                end = head + 4;
                const std::size_t cl = in.find("Content-Length: ");
                if (cl != std::string::npos && cl < head) {
                    end += std::stoul(in.substr(cl + 16, in.find('\r', cl) - cl - 16));
                }
                if (in.size() >= end) break;
            }
            const bool got = co_await more(&*s, &buf, &in);
            if (!got) co_return;
        }
        seen->push_back(in.substr(0, end));
        in.erase(0, end);
        if (reply.empty()) co_return;
        auto w = co_await s->send_all(std::as_bytes(std::span(reply)));
        if (!w) co_return;
    }
    while (linger) {
        const bool got = co_await more(&*s, &buf, &in);
        if (!got) break;
    }
}

/// Serves one connection after another, each with its own replies.
Task<void> serve_each(net::TcpListener* l, std::vector<std::vector<std::string>> conns,
                      std::vector<std::string>* seen) {
    for (auto& replies : conns)
        co_await serve(l, std::move(replies), seen);
}

std::string lower(std::string s) {
    for (char& c : s)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool has_field(const std::string& request, std::string_view name) {
    return lower(request).find("\r\n" + lower(std::string(name)) + ":") != std::string::npos;
}

/// A listener on 127.0.0.1:0 and the base URL ("http://127.0.0.1:PORT").
struct Peer {
    net::TcpListener l = net::TcpListener::bind(net::Address::loopback_v4(0)).value("bind");
    std::string base = "http://" + l.local_address().value("addr").to_string();
};

const char* const ok_reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// Connects over TCP whatever the scheme: "https" served in the clear, for
/// tests of what the client does between schemes.
Task<Result<http::Stream>> any_scheme_connector(http::Origin o, Deadline d) {
    o.scheme = "http";
    co_return co_await http::connect_tcp(std::move(o), d);
}

}  // namespace

// RFC 9112 §3.2, §6.2; RFC 9110 §5.5: Host carries the port unless it is the default, a body
// has exactly one framing (the client's), and CR, LF or NUL from the caller never reach the
// wire; a Host of the caller's replaces the URL's. The old client sent the caller's Host,
// Content-Length or Transfer-Encoding next to its own (two Hosts; Transfer-Encoding with
// Content-Length).
TEST_CASE("client: the request on the wire: Host, one framing, no header injection",
          "[http][client][conformance]") {
    test::run([](Loop&) -> Task<void> {
        Peer p;
        const std::string port = p.base.substr(p.base.rfind(':') + 1);
        std::vector<std::string> seen;
        TaskGroup g;
        g.spawn(serve(&p.l, {ok_reply, ok_reply, ok_reply}, &seen));
        http::Client client;
        auto r = co_await client.get(p.base + "/a?b=1");
        REQUIRE(r);
        http::ClientRequest post;
        post.method = "POST";
        post.url = p.base + "/form";
        post.body = "data";
        r = co_await client.fetch(post);
        REQUIRE(r);
        http::ClientRequest vhost;  // a Host of the caller's stands for the URL's
        vhost.url = p.base + "/v";
        vhost.headers = {{"host", "site.example"}};
        r = co_await client.fetch(vhost);
        REQUIRE(r);
        co_await g.wait();
        REQUIRE(seen.size() == 3);
        CHECK(seen[2].find("\r\nHost: site.example\r\n") != std::string::npos);
        CHECK(seen[2].find("127.0.0.1") == std::string::npos);
        CHECK(seen[2].find("host:") == std::string::npos);
        CHECK(seen[0].rfind("GET /a?b=1 HTTP/1.1\r\n", 0) == 0);
        CHECK(seen[0].find("\r\nHost: 127.0.0.1:" + port + "\r\n") != std::string::npos);
        CHECK_FALSE(has_field(seen[0], "content-length"));
        CHECK_FALSE(has_field(seen[0], "transfer-encoding"));
        CHECK(seen[1].find("\r\nContent-Length: 4\r\n") != std::string::npos);
        CHECK_FALSE(has_field(seen[1], "transfer-encoding"));
        CHECK(seen[1].substr(seen[1].size() - 8) == "\r\n\r\ndata");

        // Framing is the client's; fields that would break the head are refused, and so is a
        // second Host.
        // Nothing is sent (the deadline only bounds a client that would wait for an answer).
        const std::vector<std::pair<std::string, std::string>> refused = {
            {"Transfer-Encoding", "chunked"}, {"Content-Length", "4"}, {"content-length", "99"},
            {"X-A", "1\r\nX-Evil: 2"},        {"X-A", "1\nX-Evil: 2"}, {"X-A\r\nX-Evil", "2"},
            {"X-A", std::string("a\0b", 3)},  {"", "empty name"},
        };
        const auto connects = client.stats().connects;
        for (const auto& [name, value] : refused) {
            INFO(name << ": " << value);
            http::ClientRequest req = post;
            req.headers.push_back({name, value});
            req.deadline = Deadline::after(500ms);
            r = co_await client.fetch(req);
            REQUIRE_FALSE(r);
            CHECK(r.error() == std::errc::invalid_argument);
        }
        {
            http::ClientRequest two = vhost;
            two.headers.push_back({"Host", "other.example"});
            r = co_await client.fetch(two);
            REQUIRE_FALSE(r);
            CHECK(r.error() == std::errc::invalid_argument);
        }
        CHECK(client.stats().connects == connects);
        CHECK(client.stats().requests == 3);
    });
}

// RFC 9110 §15.4: a relative Location is resolved against the request URL; when a redirect
// turns the method into GET the content and its header fields go (Content-Encoding,
// Content-Language and Content-Location too: the old client kept them on a bodiless GET).
TEST_CASE("client: redirects: relative Location, a GET without the content's fields",
          "[http][client][conformance]") {
    test::run([](Loop&) -> Task<void> {
        Peer p;
        std::vector<std::string> seen;
        TaskGroup g;
        g.spawn(serve(&p.l,
                      {"HTTP/1.1 303 See Other\r\nLocation: ../b/next?x=1\r\nContent-Length: "
                       "0\r\n\r\n",
                       ok_reply},
                      &seen));
        http::Client client;
        http::ClientRequest req;
        req.method = "POST";
        req.url = p.base + "/a/start";
        req.body = "data";
        req.headers = {{"Content-Type", "text/plain"},     {"Content-Encoding", "gzip"},
                       {"Content-Language", "en"},         {"Content-Location", "/a/x"},
                       {"Authorization", "Bearer secret"}, {"X-Keep", "1"}};
        auto r = co_await client.fetch(req);
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->redirects == 1);
        CHECK(r->url == p.base + "/b/next?x=1");
        co_await g.wait();
        REQUIRE(seen.size() == 2);
        INFO(seen[1]);
        CHECK(seen[1].rfind("GET /b/next?x=1 HTTP/1.1\r\n", 0) == 0);
        CHECK(seen[1].substr(seen[1].size() - 4) == "\r\n\r\n");
        for (const char* gone : {"content-type", "content-encoding", "content-language",
                                 "content-location", "content-length", "transfer-encoding"}) {
            INFO(gone);
            CHECK_FALSE(has_field(seen[1], gone));
        }
        // Same origin: the credentials stay.
        CHECK(has_field(seen[1], "authorization"));
        CHECK(has_field(seen[1], "x-keep"));
    });
}

// RFC 9110 §15.4 and the Fetch standard: credentials the caller set (Authorization,
// Proxy-Authorization, Cookie) never follow a redirect to another origin: another host, port
// or scheme. A downgrade from https to http is followed, as browsers do, without them.
TEST_CASE("client: redirects to another origin drop the caller's credentials",
          "[http][client][security]") {
    test::run([](Loop&) -> Task<void> {
        Peer a;
        Peer b;
        std::vector<std::string> seen_a;
        std::vector<std::string> seen_b;
        TaskGroup g;
        g.spawn(serve(&a.l,
                      {"HTTP/1.1 307 Temporary Redirect\r\nLocation: " + b.base +
                       "/there\r\nContent-Length: 0\r\n\r\n"},
                      &seen_a));
        g.spawn(serve(&b.l, {ok_reply}, &seen_b));
        http::Client client;
        http::ClientRequest req;
        req.method = "POST";
        req.url = a.base + "/here";
        req.body = "data";
        req.headers = {{"Authorization", "Bearer secret"},
                       {"proxy-authorization", "Basic eDp5"},
                       {"COOKIE", "session=1"},
                       {"Host", "site.example"},
                       {"X-Keep", "1"}};
        auto r = co_await client.fetch(req);
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->url == b.base + "/there");
        co_await g.wait();
        REQUIRE(seen_a.size() == 1);
        REQUIRE(seen_b.size() == 1);
        CHECK(has_field(seen_a[0], "authorization"));
        CHECK(seen_a[0].find("\r\nHost: site.example\r\n") != std::string::npos);
        INFO(seen_b[0]);
        CHECK(seen_b[0].rfind("POST /there HTTP/1.1\r\n", 0) == 0);
        CHECK(seen_b[0].substr(seen_b[0].size() - 8) == "\r\n\r\ndata");
        CHECK_FALSE(has_field(seen_b[0], "authorization"));
        CHECK_FALSE(has_field(seen_b[0], "proxy-authorization"));
        CHECK_FALSE(has_field(seen_b[0], "cookie"));
        // The caller's Host named the first origin: the second gets its own.
        CHECK(seen_b[0].find("\r\nHost: " + b.base.substr(7) + "\r\n") != std::string::npos);
        CHECK(has_field(seen_b[0], "x-keep"));

        // https -> http on the same host and port: another origin.
        http::ClientOptions o;
        o.connect = any_scheme_connector;
        http::Client lax(o);
        std::vector<std::string> seen;
        g.spawn(serve_each(
            &a.l,
            {{"HTTP/1.1 302 Found\r\nLocation: " + a.base + "/plain\r\nContent-Length: 0\r\n\r\n"},
             {ok_reply}},
            &seen));
        http::ClientRequest tls;
        tls.url = "https" + a.base.substr(4) + "/secure";
        tls.headers = {{"Authorization", "Bearer secret"}, {"Cookie", "session=1"}};
        r = co_await lax.fetch(tls);
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->url == a.base + "/plain");
        co_await g.wait();
        REQUIRE(seen.size() == 2);
        CHECK(has_field(seen[0], "authorization"));
        CHECK_FALSE(has_field(seen[1], "authorization"));
        CHECK_FALSE(has_field(seen[1], "cookie"));
    });
}

// RFC 9110 §15.4: 300, 304, 305 and 306 are not redirects to follow, and a Location the client
// cannot go to (another scheme) leaves the 3xx as the answer.
TEST_CASE("client: 300, 304, 305, 306 and a Location to another scheme are answers",
          "[http][client][conformance]") {
    test::run([](Loop&) -> Task<void> {
        Peer p;
        std::vector<std::string> seen;
        std::vector<std::string> replies;
        for (int code : {300, 304, 305, 306}) {
            replies.push_back("HTTP/1.1 " + std::to_string(code) + " X\r\nLocation: " + p.base +
                              "/elsewhere\r\nContent-Length: 0\r\n\r\n");
        }
        replies.push_back(
            "HTTP/1.1 302 Found\r\nLocation: ftp://example.com/f\r\n"
            "Content-Length: 0\r\n\r\n");
        TaskGroup g;
        g.spawn(serve(&p.l, replies, &seen));
        http::Client client;
        for (int code : {300, 304, 305, 306, 302}) {
            INFO(code);
            auto r = co_await client.get(p.base + "/start");
            REQUIRE(r);
            CHECK(r->status == code);
            CHECK(r->redirects == 0);
            CHECK(r->url == p.base + "/start");
        }
        co_await g.wait();
        CHECK(seen.size() == 5);
        CHECK(client.stats().redirects == 0);
    });
}

// RFC 9110 §15.2, §6.4.1, RFC 9112 §7.1.2: interim responses are skipped; HEAD, 204 and 304
// answers have no body whatever Content-Length says; trailers of a chunked body are kept. All
// of it on one kept-alive connection.
TEST_CASE("client: interim responses, bodiless answers and trailers", "[http][client]") {
    test::run([](Loop&) -> Task<void> {
        Peer p;
        std::vector<std::string> seen;
        TaskGroup g;
        g.spawn(serve(
            &p.l,
            {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n"
             "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
             "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
             "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
             "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n"
             "0\r\nX-Sum: 5\r\n\r\n"},
            &seen));
        http::Client client;
        auto r = co_await client.get(p.base + "/");
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "ok");
        CHECK_FALSE(r->headers.contains("Link"));
        http::ClientRequest head;
        head.method = "HEAD";
        head.url = p.base + "/";
        r = co_await client.fetch(head);
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body.empty());
        for (int code : {204, 304}) {
            r = co_await client.get(p.base + "/");
            REQUIRE(r);
            CHECK(r->status == code);
            CHECK(r->body.empty());
        }
        r = co_await client.get(p.base + "/");
        REQUIRE(r);
        CHECK(r->body == "abcde");
        CHECK(r->trailers.get("X-Sum").value_or("") == "5");
        CHECK(client.stats().connects == 1);
        CHECK(client.stats().reuses == 4);
        CHECK(client.idle_connections() == 1);
        client.close_idle();
        co_await g.wait();
    });
}

// RFC 9112 §8: a message cut short is incomplete, never a short success; a body delimited by
// the close ends the connection; bytes past the response mean the connection is not reused.
TEST_CASE("client: a response cut short is an error; what ends a connection",
          "[http][client][conformance]") {
    test::run([](Loop&) -> Task<void> {
        Peer p;
        std::vector<std::string> seen;
        TaskGroup g;
        http::Client client;
        const std::vector<std::string> cut = {
            "",
            "HTTP/1.1 200 OK\r\nContent-Le",
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n",
        };
        for (const std::string& reply : cut) {
            INFO(reply);
            g.spawn(one_shot(&p.l, reply));
            auto r = co_await client.get(p.base + "/");
            CHECK_FALSE(r);
            co_await g.wait();
            CHECK(client.idle_connections() == 0);
        }
        // Streamed: the read that meets the close fails.
        g.spawn(one_shot(&p.l, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
        http::ClientRequest req;
        req.url = p.base + "/";
        auto s = co_await client.open(req);
        REQUIRE(s);
        std::array<std::byte, 64> buf;
        std::size_t total = 0;
        std::error_code ec;
        for (;;) {
            auto n = co_await s->read(buf);
            if (!n) {
                ec = n.error();
                break;
            }
            if (*n == 0) break;
            total += *n;
        }
        CHECK(total == 3);
        CHECK(ec == Errc::eof);
        co_await g.wait();

        // A body delimited by the close: complete, and the connection is gone.
        g.spawn(one_shot(&p.l, "HTTP/1.1 200 OK\r\n\r\nall of it"));
        auto r = co_await client.get(p.base + "/");
        REQUIRE(r);
        CHECK(r->body == "all of it");
        CHECK(client.idle_connections() == 0);
        co_await g.wait();

        // More than one response's worth in one go: the answer is the first, the connection
        // is not reused.
        g.spawn(serve(&p.l,
                      {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                       "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfake"},
                      &seen, true));
        r = co_await client.get(p.base + "/");
        REQUIRE(r);
        CHECK(r->body == "ok");
        CHECK(client.idle_connections() == 0);
        co_await g.wait();
    });
}

namespace {

/// Answers one request with `reply`, then, once `go` is released, sends `later` unasked and
/// releases `sent`; keeps the connection until the client closes it.
Task<void> unasked(net::TcpListener* l, std::string reply, std::string later, Semaphore* go,
                   Semaphore* sent) {
    auto s = co_await l->accept();
    if (!s) co_return;
    std::array<std::byte, 4096> buf;
    auto n = co_await s->recv(buf);
    if (!n || *n == 0) co_return;
    (void)co_await s->send_all(std::as_bytes(std::span(reply)));
    (void)co_await go->acquire();
    (void)co_await s->send_all(std::as_bytes(std::span(later)));
    sent->release();
    for (;;) {
        auto m = co_await s->recv(buf);
        if (!m || *m == 0) break;
    }
}

}  // namespace

// RFC 9112 §9.3.1: a request that is not idempotent is never sent again by itself once it went
// out; a pooled connection the server closed (or wrote to unasked) is found before anything is
// sent on it, and then any request goes on a fresh connection. The old client sent a POST on
// a pooled connection the server had closed and failed it; it also took bytes the server sent
// unasked to an idle connection for the answer to the next request.
TEST_CASE("client: stale pooled connections: replayed only when safe", "[http][client]") {
    test::run([](Loop&) -> Task<void> {
        Peer p;
        std::vector<std::string> seen;
        TaskGroup g;
        http::Client client;
        // The server reads the second request and closes: a GET goes again on a new
        // connection...
        g.spawn(serve_each(
            &p.l, {{ok_reply, ""}, {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain"}}, &seen));
        auto r = co_await client.get(p.base + "/1");
        REQUIRE(r);
        r = co_await client.get(p.base + "/2");
        REQUIRE(r);
        CHECK(r->body == "again");
        co_await g.wait();
        CHECK(seen.size() == 3);
        CHECK(client.stats().connects == 2);
        client.close_idle();

        // ... a POST that went out is not sent twice.
        seen.clear();
        g.spawn(serve(&p.l, {ok_reply, ""}, &seen));
        r = co_await client.get(p.base + "/1");
        REQUIRE(r);
        http::ClientRequest post;
        post.method = "POST";
        post.url = p.base + "/form";
        post.body = "data";
        post.deadline = Deadline::after(2s);  // bounds a client that would try again
        r = co_await client.fetch(post);
        CHECK_FALSE(r);
        co_await g.wait();
        CHECK(seen.size() == 2);
        CHECK(client.stats().connects == 3);
        client.close_idle();

        // A pooled connection the server has closed is not used: the POST goes on a new one.
        seen.clear();
        g.spawn(serve(&p.l, {ok_reply}, &seen));
        r = co_await client.get(p.base + "/1");
        REQUIRE(r);
        co_await g.wait();  // closed by the server
        CHECK(client.idle_connections() == 1);
        g.spawn(serve(&p.l, {"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"}, &seen));
        r = co_await client.fetch(post);
        REQUIRE(r);
        CHECK(r->status == 201);
        co_await g.wait();
        CHECK(seen.size() == 2);
        CHECK(client.stats().connects == 5);
        client.close_idle();
    });
}

namespace {

/// A TCP stream that keeps its descriptor to itself, as a TLS stream without kernel TLS does:
/// the client cannot peek at it to see that the server closed it while it was idle.
struct OpaqueStream {
    net::TcpStream tcp;
    auto recv(std::span<std::byte> b) { return tcp.recv(b); }
    auto send_all(std::span<const std::byte> b) { return tcp.send_all(b); }
    Result<void> shutdown(int how) { return tcp.shutdown(how); }
};

Task<Result<http::Stream>> opaque_connector(http::Origin o, Deadline d) {
    (void)d;  // the tests' server answers at once
    auto tcp = co_await net::TcpStream::connect(net::Address::loopback_v4(o.port));
    if (!tcp) co_return tcp.error();
    co_return http::Stream(OpaqueStream{std::move(*tcp)});
}

}  // namespace

// The server closed every pooled connection (an idle timeout), and the client can only find
// out by using one. The old client tried a second pooled connection after the first, found
// it closed as well, and failed the request; it now tries a new connection, and drops the
// origin's other idle connections, which are older than the one that failed.
TEST_CASE("client: stale pooled connections it cannot peek at: the request goes on a new one",
          "[http][client]") {
    test::run([](Loop&) -> Task<void> {
        Peer p;
        std::vector<std::string> seen;
        TaskGroup g;
        http::ClientOptions o;
        o.connect = opaque_connector;
        http::Client client(o);
        g.spawn(serve(&p.l, {ok_reply}, &seen));  // each answers once, then closes
        g.spawn(serve(&p.l, {ok_reply}, &seen));
        g.spawn(serve(&p.l, {ok_reply}, &seen));
        auto three = co_await when_all(client.get(p.base + "/1"), client.get(p.base + "/2"),
                                       client.get(p.base + "/3"));
        auto& [a, b, c] = three;
        REQUIRE(a);
        REQUIRE(b);
        REQUIRE(c);
        co_await g.wait();
        CHECK(client.idle_connections() == 3);
        CHECK(client.stats().connects == 3);
        g.spawn(serve(&p.l, {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh"}, &seen));
        auto r = co_await client.get(p.base + "/4");
        REQUIRE(r);
        CHECK(r->body == "fresh");
        CHECK(client.stats().connects == 4);
        CHECK(client.stats().reuses == 1);  // the one that was found closed
        co_await g.wait();
        CHECK(client.idle_connections() == 1);  // the new one; the stale ones are gone
        client.close_idle();
    });
}

// RFC 9112 §9.3: bytes a server sends to an idle connection answer nothing the client asked.
// The old client took them for the answer to its next request on that connection.
TEST_CASE("client: bytes sent unasked to an idle connection are not the next answer",
          "[http][client]") {
    test::run([](Loop&) -> Task<void> {
        Peer p;
        std::vector<std::string> seen;
        TaskGroup g;
        http::Client client;
        Semaphore go(0);
        Semaphore sent(0);
        g.spawn(unasked(&p.l, ok_reply, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfake", &go,
                        &sent));
        auto r = co_await client.get(p.base + "/1");
        REQUIRE(r);
        CHECK(client.idle_connections() == 1);
        go.release();
        (void)co_await sent.acquire();
        g.spawn(serve(&p.l, {"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal"}, &seen));
        r = co_await client.get(p.base + "/2");
        REQUIRE(r);
        CHECK(r->body == "real");
        CHECK(client.stats().connects == 2);
        client.close_idle();
        co_await g.wait();
    });
}

// The cap on a collected body is ClientOptions::max_body, Errc::limit_exceeded beyond, and the
// connection is closed; a streamed body has no cap of its own. The old client let the response
// parser's 8 MiB limit answer first: bad_message for a large Content-Length, whatever max_body
// or open() said.
TEST_CASE("client: the body cap is max_body; streamed bodies have none", "[http][client]") {
    test::run([](Loop&) -> Task<void> {
        Peer p;
        TaskGroup g;
        std::vector<std::string> seen;
        http::ClientOptions o;
        o.max_body = 1000;
        http::Client capped(o);
        g.spawn(serve(
            &p.l, {"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n" + std::string(20000, 'x')},
            &seen, true));
        auto r = co_await capped.get(p.base + "/");
        REQUIRE_FALSE(r);
        CHECK(r.error() == Errc::limit_exceeded);
        CHECK(capped.idle_connections() == 0);
        co_await g.wait();

        http::Client client;  // max_body 8 MiB
        g.spawn(one_shot(&p.l, "HTTP/1.1 200 OK\r\nContent-Length: 9000000\r\n\r\nxyz"));
        r = co_await client.get(p.base + "/");
        REQUIRE_FALSE(r);
        CHECK(r.error() == Errc::limit_exceeded);
        co_await g.wait();

        g.spawn(one_shot(&p.l, "HTTP/1.1 200 OK\r\nContent-Length: 9000000\r\n\r\nxyz"));
        http::ClientRequest req;
        req.url = p.base + "/";
        auto s = co_await client.open(req);
        REQUIRE(s);
        CHECK(s->status() == 200);
        std::array<std::byte, 64> buf;
        auto n = co_await s->read(buf);
        REQUIRE(n);
        CHECK(*n == 3);
        co_await g.wait();

        o.max_body = std::size_t(16) << 20;
        http::Client roomy(o);
        g.spawn(one_shot(&p.l, "HTTP/1.1 200 OK\r\nContent-Length: 9000000\r\n\r\n" +
                                   std::string(9000000, 'y')));
        r = co_await roomy.get(p.base + "/");
        REQUIRE(r);
        CHECK(r->body.size() == 9000000);
        co_await g.wait();
    });
}

// The deadline covers the body too: a server that stops in the middle of one times out, and
// the connection is closed.
TEST_CASE("client: the deadline bounds the body", "[http][client]") {
    test::run([](Loop&) -> Task<void> {
        Peer p;
        TaskGroup g;
        std::vector<std::string> seen;
        g.spawn(serve(&p.l, {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"}, &seen, true));
        http::Client client;
        http::ClientRequest req;
        req.url = p.base + "/";
        req.deadline = Deadline::after(100ms);
        auto r = co_await client.fetch(req);
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::timed_out);
        CHECK(client.idle_connections() == 0);
        co_await g.wait();  // the client closed it
    });
}

// ---- compressed bodies -------------------------------------------------------------------

namespace {

std::string last_accept;  // the Accept-Encoding of the last request to /coded

std::string coded_sample() {
    std::string s;
    for (int i = 0; i < 400; ++i)
        s += "<li>item " + std::to_string(i % 37) + " of the list</li>\n";
    return s;
}

// `body` in zlib's own format (window_bits 15) or raw DEFLATE (-15), whole.
std::string zlib_deflate(std::string_view body, int window_bits) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&z, uLong(body.size())) + 16, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
    z.avail_in = uInt(body.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = uInt(out.size());
    CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(out.size() - z.avail_out);
    deflateEnd(&z);
    return out;
}

// /coded/{kind}: the sample in the coding `kind` names (or broken so), when the
// request accepts any coding; as it is otherwise.
Task<http::Response> coded(http::Request& req) {
    last_accept = std::string(req.header("accept-encoding").value_or(""));
    const std::string sample = coded_sample();
    if (last_accept.empty()) co_return http::Response::text(200, sample);
    const std::string kind(req.param("kind"));
    std::string body, coding = "gzip";
    if (kind == "gzip" || kind == "x-gzip") {
        body = http::gzip(sample);
        coding = kind == "x-gzip" ? " X-GZIP " : "gzip";
    } else if (kind == "members") {  // two gzip members, one after the other
        body = http::gzip(sample.substr(0, 1000)) + http::gzip(sample.substr(1000));
    } else if (kind == "deflate") {
        body = zlib_deflate(sample, 15);
        coding = "deflate";
    } else if (kind == "rawdeflate") {  // what some servers send as "deflate"
        body = zlib_deflate(sample, -15);
        coding = "deflate";
    } else if (kind == "br") {
        body = "not really brotli";
        coding = "br";
    } else if (kind == "corrupt") {  // a byte of the compressed data changed
        body = http::gzip(sample);
        body[body.size() / 2] = static_cast<char>(body[body.size() / 2] ^ 0x55);
    } else if (kind == "crc") {  // the data intact, the CRC-32 in its trailer not
        body = http::gzip(sample);
        body[body.size() - 8] = static_cast<char>(body[body.size() - 8] ^ 0x01);
    } else if (kind == "twice") {  // two Content-Encoding fields: left as it came
        http::Response r = http::Response::text(200, http::gzip(http::gzip(sample)));
        r.set("Content-Encoding", "gzip").set("Content-Encoding", "gzip");
        co_return r;
    } else if (kind == "redirect") {  // a redirect's body is not the answer: never decoded
        http::Response r = http::Response::text(302, "not gzip at all");
        r.set("Content-Encoding", "gzip").set("Location", "/coded/gzip");
        co_return r;
    } else if (kind == "cut") {
        body = http::gzip(sample);
        body.resize(body.size() - 10);
    } else if (kind == "trailing") {
        body = http::gzip(sample) + "junk";
    } else {  // "bomb": 4 MiB of zeros
        body = http::gzip(std::string(4 << 20, '\0'));
    }
    http::Response r = http::Response::text(200, std::move(body));
    r.set("Content-Encoding", coding);
    co_return r;
}

}  // namespace

TEST_CASE("client: compressed bodies asked for and decoded (gzip, deflate)", "[http][client]") {
    test::run([](Loop&) -> Task<void> {
        http::Router router;
        router.mount("/coded/{kind}", coded, "GET,HEAD");
        LocalServer srv(std::move(router));
        const std::string sample = coded_sample();
        http::ClientOptions o;
        o.max_body = 1 << 20;
        http::Client client(o);
        for (const char* kind : {"gzip", "x-gzip", "members", "deflate", "rawdeflate"}) {
            INFO(kind);
            last_accept.clear();
            auto r = co_await client.get(srv.url("/coded/") + kind);
            REQUIRE(r);
            CHECK(last_accept == "gzip, deflate");
            CHECK(r->decoded);
            CHECK(r->body == sample);
            CHECK_FALSE(r->headers.contains("content-encoding"));
            CHECK_FALSE(r->headers.contains("content-length"));
            CHECK(r->headers.get("content-type") ==
                  std::optional<std::string_view>("text/plain; charset=utf-8"));
        }
        // A coding it does not know: the body as it came, its fields kept.
        auto br = co_await client.get(srv.url("/coded/br"));
        REQUIRE(br);
        CHECK_FALSE(br->decoded);
        CHECK(br->body == "not really brotli");
        CHECK(br->headers.get("content-encoding") == std::optional<std::string_view>("br"));
        // Broken bodies are errors; one that decodes past max_body too.
        for (const char* kind : {"corrupt", "crc", "cut", "trailing"}) {
            INFO(kind);
            auto bad = co_await client.get(srv.url("/coded/") + kind);
            REQUIRE_FALSE(bad);
            CHECK(bad.error() == std::errc::illegal_byte_sequence);
        }
        auto bomb = co_await client.get(srv.url("/coded/bomb"));
        REQUIRE_FALSE(bomb);
        CHECK(bomb.error() == Errc::limit_exceeded);
        // Several codings: the body as it came. A redirect's broken body does not matter.
        auto twice = co_await client.get(srv.url("/coded/twice"));
        REQUIRE(twice);
        CHECK_FALSE(twice->decoded);
        CHECK(twice->body == http::gzip(http::gzip(sample)));
        CHECK(twice->headers.count("content-encoding") == 2);
        auto moved = co_await client.get(srv.url("/coded/redirect"));
        REQUIRE(moved);
        CHECK((moved->redirects == 1 && moved->decoded && moved->body == sample));
        // HEAD asks for no coding: its fields describe the plain body.
        http::ClientRequest head;
        head.method = "HEAD";
        head.url = srv.url("/coded/gzip");
        last_accept = "(unset)";
        auto h = co_await client.fetch(head);
        REQUIRE(h);
        CHECK(last_accept.empty());
        CHECK((h->body.empty() && !h->decoded));
        CHECK_FALSE(h->headers.contains("content-encoding"));
        CHECK(h->headers.get("content-length") ==
              std::optional<std::string_view>(std::to_string(sample.size())));
        // A caller that asks for codings itself gets the body as sent.
        http::ClientRequest own;
        own.url = srv.url("/coded/gzip");
        own.headers = {{"accept-encoding", "gzip"}};
        auto raw = co_await client.fetch(own);
        REQUIRE(raw);
        CHECK(last_accept == "gzip");
        CHECK_FALSE(raw->decoded);
        CHECK(raw->body == http::gzip(sample));
        auto decoded = http::decode_content("gzip", raw->body, 1 << 20);
        REQUIRE(decoded);
        CHECK(*decoded == sample);
        // decompress off: nothing asked for.
        http::ClientOptions plain_opts;
        plain_opts.decompress = false;
        http::Client plain(plain_opts);
        auto p = co_await plain.get(srv.url("/coded/gzip"));
        REQUIRE(p);
        CHECK(last_accept.empty());
        CHECK((p->body == sample && !p->decoded));
        co_await srv.stop();
    });
}

TEST_CASE("content codings: decode_content's cases", "[http][client]") {
    const std::string text(5000, 'q');
    CHECK(http::decode_content("GZIP", http::gzip(text, 1), 5000).value_or("") == text);
    CHECK(http::decode_content("gzip", http::gzip(text), 4999).error() == Errc::limit_exceeded);
    CHECK(http::decode_content("gzip", "", 10).error() == std::errc::illegal_byte_sequence);
    CHECK(http::decode_content("gzip, br", http::gzip(text), 10).error() ==
          std::errc::not_supported);
    CHECK(http::decode_content("compress", "x", 10).error() == std::errc::not_supported);
    auto empty = http::decode_content("deflate", zlib_deflate("", 15), 10);
    CHECK((empty && empty->empty()));
}

namespace {

/// The request's Cookie fields as the body, " | " between them ("-" for none).
Task<http::Response> show_cookies(http::Request& req) {
    std::string all;
    for (const http::Header& h : req.headers()) {
        if (http::iequals(h.name, "cookie")) all += (all.empty() ? "" : " | ") + h.value;
    }
    co_return http::Response::text(200, all.empty() ? "-" : all);
}

http::Router cookie_router() {
    http::Router r;
    r.get("/login", [](http::Request&) -> Task<http::Response> {
        http::Response resp(302);
        resp.set("Location", "/show");
        resp.set("Set-Cookie", "session=abc; Path=/; HttpOnly");
        resp.set("Set-Cookie", "narrow=1; Path=/private");
        co_return resp;
    });
    r.get("/logout", [](http::Request&) -> Task<http::Response> {
        http::Response resp = http::Response::text(200, "bye\n");
        resp.set("Set-Cookie", "session=; Max-Age=0; Path=/");
        co_return resp;
    });
    r.get("/show", show_cookies);
    r.get("/private/show", show_cookies);
    return r;
}

}  // namespace

// ClientOptions::cookies: the Set-Cookie fields of every hop go into the jar (a redirect's
// too), and each request sends what matches its URL; a Cookie field of the caller's is sent
// instead; open() stores and sends as fetch() does; Clients of one loop share a jar; without
// a jar nothing is kept.
TEST_CASE("client: a cookie jar keeps and sends cookies", "[http][client][cookie]") {
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(cookie_router());
        auto jar = std::make_shared<http::CookieJar>();
        http::ClientOptions o;
        o.cookies = jar;
        http::Client client(o);
        auto r = co_await client.get(srv.url("/login"));  // 302 with cookies, then /show
        REQUIRE(r);
        CHECK(r->redirects == 1);
        CHECK(r->body == "session=abc");  // narrow's path is /private
        CHECK(jar->size() == 2);
        r = co_await client.get(srv.url("/private/show"));
        REQUIRE(r);
        CHECK(r->body == "narrow=1; session=abc");
        // The caller's own Cookie field goes instead of the jar's.
        http::ClientRequest mine;
        mine.url = srv.url("/show");
        mine.headers = {{"Cookie", "mine=1"}};
        r = co_await client.fetch(mine);
        REQUIRE(r);
        CHECK(r->body == "mine=1");
        // A Host of the caller's names another site: the jar is left out, both ways.
        http::ClientRequest vhost;
        vhost.url = srv.url("/login");
        vhost.headers = {{"Host", "other.example"}};
        http::ClientOptions vo;
        vo.max_redirects = 0;
        vo.cookies = std::make_shared<http::CookieJar>();
        http::Client vclient(vo);
        r = co_await vclient.fetch(vhost);
        REQUIRE(r);
        CHECK(r->status == 302);
        CHECK(vo.cookies->size() == 0);
        vhost.url = srv.url("/show");
        r = co_await client.fetch(vhost);
        REQUIRE(r);
        CHECK(r->body == "-");
        // Another client on the same jar; open() sends and stores.
        http::Client other(o);
        http::ClientRequest streamed;
        streamed.url = srv.url("/show");
        auto rs = co_await other.open(streamed);
        REQUIRE(rs);
        auto body = co_await rs->read_all(1024);
        REQUIRE(body);
        CHECK(*body == "session=abc");
        streamed.url = srv.url("/logout");
        rs = co_await other.open(streamed);
        REQUIRE(rs);
        CHECK(rs->status() == 200);
        CHECK(jar->size() == 1);  // session removed by Max-Age=0
        (void)co_await rs->read_all(1024);
        r = co_await client.get(srv.url("/show"));
        REQUIRE(r);
        CHECK(r->body == "-");
        // Without a jar: nothing kept, nothing sent.
        http::Client plain;
        r = co_await plain.get(srv.url("/login"));
        REQUIRE(r);
        CHECK(r->body == "-");
        co_await srv.stop();
    });
}

// Secure cookies go over https only, and a redirect to http does not carry them.
TEST_CASE("client: a cookie jar keeps Secure cookies off http", "[http][client][cookie]") {
    test::run([](Loop&) -> Task<void> {
        Peer a;
        TaskGroup g;
        std::vector<std::string> seen;
        const std::string tls_base = "https" + a.base.substr(4);
        // One connection per request (the two schemes are two origins): each answer closes.
        const std::string ok =
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
        g.spawn(serve_each(&a.l,
                           {{"HTTP/1.1 302 Found\r\nLocation: " + a.base +
                             "/plain\r\nSet-Cookie: s=1; Secure; Path=/\r\nSet-Cookie: p=2; "
                             "Path=/\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"},
                            {ok},
                            {ok}},
                           &seen));
        http::ClientOptions o;
        o.connect = any_scheme_connector;  // "https" in the clear, for the test
        o.cookies = std::make_shared<http::CookieJar>();
        http::Client client(o);
        auto r = co_await client.get(tls_base + "/login");
        REQUIRE(r);
        CHECK(r->url == a.base + "/plain");
        r = co_await client.get(tls_base + "/again");
        REQUIRE(r);
        co_await g.wait();
        REQUIRE(seen.size() == 3);
        CHECK_FALSE(has_field(seen[0], "cookie"));
        INFO(seen[1]);
        CHECK(seen[1].find("\r\nCookie: p=2\r\n") != std::string::npos);  // http: not s
        INFO(seen[2]);
        CHECK(seen[2].find("\r\nCookie: s=1; p=2\r\n") != std::string::npos);
    });
}

namespace {

/// Reads the request body as it comes: "<Transfer-Encoding or -> <Content-Length or -> bytes
/// checksum".
Task<http::Response> upload(http::Request& req) {
    std::array<std::byte, 8192> buf;
    std::uint64_t bytes = 0, sum = 0;
    for (;;) {
        auto n = co_await req.read_body(buf);
        if (!n) co_return http::Response::error(400);
        if (*n == 0) break;
        for (std::size_t i = 0; i < *n; ++i)
            sum = sum * 31 + std::uint64_t(buf[i]);
        bytes += *n;
    }
    co_return http::Response::text(
        200, std::string(req.header("Transfer-Encoding").value_or("-")) + " " +
                 std::string(req.header("Content-Length").value_or("-")) + " " +
                 std::to_string(bytes) + " " + std::to_string(sum));
}

/// A producer of `pieces` writes of 16 KiB, byte i of the body being i * 7 % 251; counts its
/// calls.
http::BodyProducer pieces_of(int pieces, int* calls) {
    return [pieces, calls](http::BodyWriter& w) -> Task<Result<void>> {
        ++*calls;
        std::string piece(16384, '\0');
        std::uint64_t at = 0;
        for (int p = 0; p < pieces; ++p) {
            for (char& c : piece)
                c = char(at++ * 7 % 251);
            auto r = co_await w.write(piece);
            if (!r) co_return r;
        }
        co_return Result<void>{};
    };
}

std::string expected_upload(int pieces) {
    std::uint64_t sum = 0;
    for (std::uint64_t at = 0; at < std::uint64_t(pieces) * 16384; ++at) {
        sum = sum * 31 + std::uint64_t(char(at * 7 % 251) & 0xff);
    }
    return std::to_string(std::uint64_t(pieces) * 16384) + " " + std::to_string(sum);
}

}  // namespace

// ClientRequest::body_producer: a body sent as it is produced, chunked or with its length;
// lengths that do not match, a producer's error and a body given twice are errors; it goes
// once (no retries; a 307 is the answer, a 303 is followed as a GET); open() sends one too.
TEST_CASE("client: request bodies produced as they are sent", "[http][client][upload]") {
    test::run([](Loop&) -> Task<void> {
        http::Router router = make_router();
        router.mount("/upload", upload, "POST,PUT");
        router.mount("/unavailable", down, "PUT");
        LocalServer srv(std::move(router));
        http::ClientOptions o;
        o.retry.emplace().max_attempts = 3;
        http::Client client(o);
        int calls = 0;
        http::ClientRequest req;
        req.method = "PUT";
        req.url = srv.url("/upload");
        req.body_producer = pieces_of(64, &calls);  // 1 MiB
        auto r = co_await client.fetch(req);
        REQUIRE(r);
        CHECK(r->body == "chunked - " + expected_upload(64));
        req.body_length = 64 * 16384;
        r = co_await client.fetch(req);
        REQUIRE(r);
        CHECK(r->body == "- 1048576 " + expected_upload(64));
        CHECK(calls == 2);
        // A length the producer does not keep to, either way (within the server's body limit,
        // which would answer 413 at once and close).
        req.body_producer = pieces_of(4, &calls);
        req.body_length = 4 * 16384 + 1;
        r = co_await client.fetch(req);
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::invalid_argument);
        req.body_length = 4 * 16384 - 1;
        r = co_await client.fetch(req);
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::invalid_argument);
        // The producer's error is the request's.
        http::ClientRequest failing = req;
        failing.body_length.reset();
        failing.body_producer = [](http::BodyWriter& w) -> Task<Result<void>> {
            auto r = co_await w.write("some");
            if (!r) co_return r;
            co_return std::errc::io_error;
        };
        r = co_await client.fetch(failing);
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::io_error);
        // A failed write fails every later one, whatever the producer makes of it: a body
        // with a hole in it never looks whole.
        http::ClientRequest ignoring = req;
        ignoring.body_length = 8;
        ignoring.body_producer = [](http::BodyWriter& w) -> Task<Result<void>> {
            (void)co_await w.write("123456789");  // one byte too many: refused, ignored
            (void)co_await w.write("12345678");
            co_return Result<void>{};
        };
        r = co_await client.fetch(ignoring);
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::invalid_argument);
        // Empty writes send nothing (an empty chunk would end the body); an empty body.
        http::ClientRequest empty = req;
        empty.body_producer = [](http::BodyWriter& w) -> Task<Result<void>> {
            co_return co_await w.write("");
        };
        empty.body_length.reset();
        r = co_await client.fetch(empty);
        REQUIRE(r);
        CHECK(r->body == "chunked - 0 0");
        empty.body_length = 0;
        r = co_await client.fetch(empty);
        REQUIRE(r);
        CHECK(r->body == "- 0 0 0");
        // A connection whose body failed is closed, not pooled; the producer's errors do not
        // count against the origin's breaker (one failure would open it).
        http::ClientOptions guarded = o;
        guarded.breaker.emplace().failure_threshold = 1;
        http::Client fresh(guarded);
        r = co_await fresh.get(srv.url("/hello"));
        REQUIRE(r);
        CHECK(fresh.idle_connections() == 1);
        r = co_await fresh.fetch(failing);
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::io_error);
        CHECK(fresh.idle_connections() == 0);
        r = co_await fresh.get(srv.url("/hello"));
        REQUIRE(r);
        CHECK(r->status == 200);
        // The writer's draining() stops at the deadline.
        bool saw_stop = false;
        http::ClientRequest slow = req;
        slow.body_length.reset();
        slow.deadline = Deadline::after(50ms);
        slow.body_producer = [&saw_stop](http::BodyWriter& w) -> Task<Result<void>> {
            (void)co_await sleep_for(1h);  // cut by the deadline
            saw_stop = w.draining().stop_requested();
            co_return std::errc::operation_canceled;
        };
        r = co_await client.fetch(slow);
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::timed_out);
        CHECK(saw_stop);
        // A body twice, or a length without a producer: nothing is sent.
        http::ClientRequest twice = req;
        twice.body = "also";
        r = co_await client.fetch(twice);
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::invalid_argument);
        http::ClientRequest bare;
        bare.url = srv.url("/upload");
        bare.body_length = 4;
        r = co_await client.fetch(bare);
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::invalid_argument);
        // Sent once: a 503 is not retried, a 307 is the answer, a 303 is followed as a GET.
        calls = 0;
        http::ClientRequest once;
        once.method = "PUT";  // idempotent: a 503 to it would be retried, but for its body
        once.body_producer = pieces_of(2, &calls);
        once.url = srv.url("/unavailable");
        r = co_await client.fetch(once);
        REQUIRE(r);
        CHECK(r->status == 503);
        CHECK(calls == 1);
        once.url = srv.url("/r/307");
        r = co_await client.fetch(once);
        REQUIRE(r);
        CHECK(r->status == 307);
        CHECK(r->redirects == 0);
        once.url = srv.url("/r/303");
        r = co_await client.fetch(once);
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "GET ");
        CHECK(calls == 3);  // the 503, the 307, the 303
        // open() sends one too.
        http::ClientRequest streamed;
        streamed.method = "POST";
        streamed.url = srv.url("/upload");
        streamed.body_producer = pieces_of(3, &calls);
        auto rs = co_await client.open(streamed);
        REQUIRE(rs);
        auto body = co_await rs->read_all(1024);
        REQUIRE(body);
        CHECK(*body == "chunked - " + expected_upload(3));
        co_await srv.stop();
    });
}

namespace {

/// Reads `s` up to the end of a request's head: what was read (the head, perhaps more), or ""
/// when the client left first.
Task<std::string> read_head_raw(net::TcpStream* s) {
    std::string in;
    std::array<std::byte, 4096> buf;
    while (in.find("\r\n\r\n") == std::string::npos) {
        auto n = co_await s->recv(buf);
        if (!n || *n == 0) co_return std::string();
        in.append(reinterpret_cast<const char*>(buf.data()), *n);
    }
    co_return in;
}

/// Reads and drops what comes on `s` until the client closes.
Task<void> until_closed(net::TcpStream* s) {
    std::array<std::byte, 4096> buf;
    for (;;) {
        auto m = co_await s->recv(buf);
        if (!m || *m == 0) break;
    }
}

/// Reads a request on `s` into `seen`: the head, and the body its Content-Length announces
/// once `send_first` (if not empty) went out after the head. False when the client left.
Task<bool> read_request(net::TcpStream* s, std::string send_first, std::vector<std::string>* seen) {
    std::string in;
    std::array<std::byte, 16384> buf;
    std::size_t end = std::string::npos;
    bool sent = send_first.empty();
    while (end == std::string::npos || in.size() < end) {
        if (end == std::string::npos && in.find("\r\n\r\n") != std::string::npos) {
            end = in.find("\r\n\r\n") + 4;
            const std::size_t cl = lower(in).find("content-length: ");
            if (cl != std::string::npos && cl < end) end += std::stoul(in.substr(cl + 16));
            if (!sent) {
                (void)co_await s->send_all(std::as_bytes(std::span(send_first)));
                sent = true;
            }
            continue;
        }
        auto n = co_await s->recv(buf);
        if (!n || *n == 0) co_return false;
        in.append(reinterpret_cast<const char*>(buf.data()), *n);
    }
    seen->push_back(in);
    co_return true;
}

/// Reads the head of one request (kept in `seen`), then sends each of `replies` in its own
/// write, `gap` apart; the body is never read. Then waits for the client to close, or, without
/// `wait_close`, closes at once (with the body unread, the kernel resets the connection).
Task<void> serve_head_then(net::TcpListener* l, std::vector<std::string> replies,
                           std::vector<std::string>* seen, Duration gap = Duration::zero(),
                           bool wait_close = true) {
    auto s = co_await l->accept();
    if (!s) co_return;
    std::string head = co_await read_head_raw(&*s);
    if (head.empty()) co_return;
    seen->push_back(std::move(head));
    for (const std::string& reply : replies) {
        if (&reply != &replies.front()) (void)co_await sleep_for(gap);
        (void)co_await s->send_all(std::as_bytes(std::span(reply)));
    }
    if (wait_close) co_await until_closed(&*s);
}

/// Sends 100 Continue after the head of one request, reads its body, answers ok.
Task<void> continue_then_ok(net::TcpListener* l, std::vector<std::string>* seen) {
    auto s = co_await l->accept();
    if (!s) co_return;
    const bool whole = co_await read_request(&*s, "HTTP/1.1 100 Continue\r\n\r\n", seen);
    if (whole) (void)co_await s->send_all(std::as_bytes(std::span(std::string_view(ok_reply))));
    co_await until_closed(&*s);
}

/// Answers a first request (without a body) with ok and keep-alive, then reads the next head
/// on that connection and closes it unanswered; the next connection gets continue_then_ok().
Task<void> drop_second(net::TcpListener* l, std::vector<std::string>* seen) {
    {
        auto s = co_await l->accept();
        if (!s) co_return;
        const bool first = co_await read_request(&*s, "", seen);
        if (!first) co_return;
        (void)co_await s->send_all(std::as_bytes(std::span(std::string_view(ok_reply))));
        std::string head = co_await read_head_raw(&*s);
        if (head.empty()) co_return;
        seen->push_back(std::move(head));
    }  // closed unanswered
    co_await continue_then_ok(l, seen);
}

/// A 417 to the first connection's request, then a whole request read and answered.
Task<void> expectation_failed(net::TcpListener* l, std::vector<std::string>* seen) {
    const std::vector<std::string> refusal = {
        "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n"};
    co_await serve_head_then(l, refusal, seen);
    const std::vector<std::string> replies{ok_reply};
    co_await serve(l, replies, seen);
}

Task<http::Response> refuse_unread(http::Request&) {
    co_return http::Response::text(401, "who are you\n");
}

}  // namespace

// ClientRequest::expect_continue: Expect: 100-continue, the body after 100 Continue (or no
// word in time); a final answer first is the response, the body never produced and the
// connection closed; a 417 sends the request again without Expect.
TEST_CASE("client: Expect: 100-continue waits for the server's word", "[http][client][upload]") {
    test::run([](Loop&) -> Task<void> {
        http::Router router = make_router();
        router.mount("/upload", upload, "POST,PUT");
        router.mount("/auth", refuse_unread, "PUT");
        http::ServerOptions so;
        so.limits.max_body = 256 * 1024;
        LocalServer srv(std::move(router), so);
        http::Client client;
        int calls = 0;
        http::ClientRequest req;
        req.method = "PUT";
        req.url = srv.url("/upload");
        req.expect_continue = 1h;  // only the server's word lets the body go in time
        req.body_producer = pieces_of(4, &calls);
        auto r = co_await client.fetch(req);
        REQUIRE(r);
        CHECK(r->body == "chunked - " + expected_upload(4));
        CHECK(calls == 1);
        CHECK(client.idle_connections() == 1);
        // A body given whole waits the same way.
        http::ClientRequest whole = req;
        whole.body_producer = nullptr;
        whole.body = std::string(70000, 'w');
        r = co_await client.fetch(whole);
        REQUIRE(r);
        CHECK(r->body.starts_with("- 70000 70000 "));
        // A final answer first: the response; the body is not produced, and the connection,
        // whose server still waits for it, is closed.
        req.body_length = 1024 * 1024;  // over the server's limit: 413 before any body
        r = co_await client.fetch(req);
        REQUIRE(r);
        CHECK(r->status == 413);
        CHECK(calls == 1);
        CHECK(client.idle_connections() == 0);
        req.body_length.reset();
        req.url = srv.url("/auth");
        r = co_await client.fetch(req);
        REQUIRE(r);
        CHECK(r->status == 401);
        CHECK(r->body == "who are you\n");
        CHECK(calls == 1);
        CHECK(client.idle_connections() == 0);
        co_await srv.stop();

        // 417: sent again at once without Expect, on a new connection, the body produced once.
        Peer p;
        std::vector<std::string> seen;
        TaskGroup g;
        g.spawn(expectation_failed(&p.l, &seen));
        req.url = p.base + "/x";
        req.body_length = 4 * 16384;
        r = co_await client.fetch(req);
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(calls == 2);
        co_await g.wait();
        REQUIRE(seen.size() == 2);
        CHECK(has_field(seen[0], "expect"));
        CHECK_FALSE(has_field(seen[1], "expect"));
        CHECK(seen[1].size() > 4 * 16384);  // the head and the whole body

        // A server that ignores Expect: after the wait, the body goes anyway.
        seen.clear();
        g.spawn(serve(&p.l, {ok_reply}, &seen));
        req.expect_continue = 20ms;
        r = co_await client.fetch(req);
        REQUIRE(r);
        CHECK(r->body == "ok");
        CHECK(calls == 3);
        co_await g.wait();
        REQUIRE(seen.size() == 1);
        CHECK(has_field(seen[0], "expect"));
        CHECK(seen[0].size() > 4 * 16384);

        // A caller's own Expect field with no wait goes as it is, and the body right after.
        seen.clear();
        g.spawn(serve(&p.l, {ok_reply}, &seen));
        http::ClientRequest own;
        own.method = "POST";
        own.url = p.base + "/y";
        own.body = "data";
        own.headers = {{"Expect", "100-continue"}};
        r = co_await client.fetch(own);
        REQUIRE(r);
        co_await g.wait();
        REQUIRE(seen.size() == 1);
        CHECK(seen[0].ends_with("\r\n\r\ndata"));
        CHECK(lower(seen[0]).find("expect: 100-continue\r\n") != std::string::npos);
    });
}

// What the body waits for: 100 Continue and nothing else (a 103 does not let it go; a final
// answer that came with the 100 wins); an early answer closes even a keep-alive connection;
// no Expect without content; a stale pooled connection is replaced before the body begins.
TEST_CASE("client: Expect: 100-continue: only 100 lets the body go", "[http][client][upload]") {
    test::run([](Loop&) -> Task<void> {
        Peer p;
        std::vector<std::string> seen;
        TaskGroup g;
        http::Client client;
        int calls = 0;
        http::ClientRequest req;
        req.method = "PUT";
        req.url = p.base + "/x";
        req.expect_continue = 1h;
        req.body_producer = pieces_of(2, &calls);
        req.body_length = 2 * 16384;
        // The 100, then the body: Expect went, and the body after the head.
        g.spawn(continue_then_ok(&p.l, &seen));
        auto r = co_await client.fetch(req);
        REQUIRE(r);
        CHECK(r->body == "ok");
        CHECK(calls == 1);
        client.close_idle();  // the peer waits for the close
        co_await g.wait();
        REQUIRE(seen.size() == 1);
        CHECK(has_field(seen[0], "expect"));
        CHECK(seen[0].size() > 2 * 16384);
        // 103 Early Hints, then a final 401 with keep-alive: the body is not produced, and the
        // connection, which the server keeps, is closed all the same.
        seen.clear();
        const std::vector<std::string> hints_then_401 = {
            "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n",
            "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"};
        // (Apart, so that the 103 is read alone: the simulation always does, and a client that
        // took any 1xx for the word would produce the body then.)
        g.spawn(serve_head_then(&p.l, hints_then_401, &seen, 50ms));
        r = co_await client.fetch(req);
        REQUIRE(r);
        CHECK(r->status == 401);
        CHECK(calls == 1);
        CHECK(client.idle_connections() == 0);
        co_await g.wait();
        // A final answer in the same read as the 100 wins: the body is not produced.
        seen.clear();
        const std::vector<std::string> continue_and_413 = {
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 413 Content Too Large\r\n"
            "Content-Length: 0\r\n\r\n"};
        g.spawn(serve_head_then(&p.l, continue_and_413, &seen));
        r = co_await client.fetch(req);
        REQUIRE(r);
        CHECK(r->status == 413);
        CHECK(calls == 1);
        co_await g.wait();
        // No content, no Expect (RFC 9110 §10.1.1): a producer of nothing with length 0.
        seen.clear();
        g.spawn(serve(&p.l, std::vector<std::string>{ok_reply}, &seen));
        http::ClientRequest none = req;
        none.body_length = 0;
        none.body_producer = [](http::BodyWriter&) -> Task<Result<void>> {
            co_return Result<void>{};
        };
        r = co_await client.fetch(none);
        REQUIRE(r);
        co_await g.wait();
        REQUIRE(seen.size() == 1);
        CHECK_FALSE(has_field(seen[0], "expect"));
        // A pooled connection the server closed on seeing the head: before the body began, so
        // the request goes again on a new connection, its body produced once.
        seen.clear();
        calls = 0;
        g.spawn(drop_second(&p.l, &seen));
        r = co_await client.get(p.base + "/first");
        REQUIRE(r);
        CHECK(client.idle_connections() == 1);
        r = co_await client.fetch(req);
        REQUIRE(r);
        CHECK(r->body == "ok");
        CHECK(calls == 1);
        client.close_idle();
        co_await g.wait();
        REQUIRE(seen.size() == 3);  // the GET, the PUT's head dropped, the PUT whole
        CHECK(has_field(seen[1], "expect"));
        CHECK(seen[2].size() > 2 * 16384);
    });
}

// RFC 9112 §9.5: a server that answers before the body is in and closes (a 413 for a body
// too large) is heard: its answer is the response, not the failed send's error; a produced
// body and a whole one, with no Expect.
TEST_CASE("client: an answer sent before the server closed is the response",
          "[http][client][upload]") {
    test::run([](Loop&) -> Task<void> {
        Peer p;
        TaskGroup g;
        http::Client client;
        const std::vector<std::string> too_large = {
            "HTTP/1.1 413 Content Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\n"
            "too large"};
        std::vector<std::string> seen;
        int calls = 0;
        for (int round = 0; round < 4; ++round) {
            INFO("round " << round);
            http::ClientRequest req;
            req.method = "PUT";
            req.url = p.base + "/x";
            if (round % 2 == 0) {
                req.body_producer = pieces_of(512, &calls);  // 8 MiB: more than the buffers
                req.body_length = 512 * 16384;
            } else {
                req.body = std::string(8 << 20, 'b');
            }
            g.spawn(serve_head_then(&p.l, too_large, &seen, Duration::zero(), false));
            auto r = co_await client.fetch(req);
            INFO((r ? std::string("ok") : r.error().message()));
            REQUIRE(r);
            CHECK(r->status == 413);
            CHECK(r->body == "too large");
            co_await g.wait();
        }
        CHECK(client.idle_connections() == 0);
    });
}

}  // namespace http_client_test
