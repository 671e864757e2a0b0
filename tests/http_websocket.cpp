// WebSocket over http::Server and websocket::connect on the backend of this
// run: messages both ways (text, binary, empty, 1 MiB), the closing handshake
// from either side, pings answered, bytes sent right behind the handshake,
// subprotocols, refused handshakes, protocol violations answered with their
// close code, a peer that vanishes, a session that throws, a receive
// cancelled by a timeout (nothing lost), one task receiving while others
// send, a server shutdown with a session in flight, the idle timeout and
// keepalive pings (the timing-dependent part on the simulation's virtual
// time only), and permessage-deflate
// (negotiated both ways, RFC 7692's bytes on the wire, its limits, the
// client's checks of the server's answer).
#include <catch2/catch.hpp>

#include <corio/http/websocket.hpp>
#include <corio/runtime/sync.hpp>
#include <corio/runtime/timer.hpp>

#include "http_support.hpp"

namespace http_websocket_test {

using namespace corio;
using namespace std::chrono_literals;
namespace ws = corio::http::websocket;
using test::LocalServer;
using test::RawClient;

namespace {

// What the last server session saw end its connection.
std::error_code session_end;
std::uint16_t session_close_code = 0;
int sessions_started = 0;

Task<void> echo_session(ws::WebSocket& s) {
    ++sessions_started;
    for (;;) {
        auto m = co_await s.receive();
        if (!m) {
            session_end = m.error();
            session_close_code = s.close_code();
            co_return;
        }
        auto sent = co_await s.send(m->data, m->type);
        if (!sent) co_return;
    }
}

// Answers one message, then closes with 4000 "done".
Task<void> closing_session(ws::WebSocket& s) {
    auto m = co_await s.receive();
    if (!m) co_return;
    auto sent = co_await s.send("got " + m->data);
    if (!sent) co_return;
    auto closed = co_await s.close(4000, "done");
    session_end = closed ? std::error_code() : closed.error();
}

// Set by the test: lets the /slow handler answer.
corio::Event* release = nullptr;

Task<void> throwing_session(ws::WebSocket& s) {
    auto m = co_await s.receive();
    (void)m;
    throw std::runtime_error("the session failed");
}

http::Router make_router() {
    http::Router r;
    r.get("/echo", [](http::Request& req) -> Task<http::Response> {
        co_return ws::accept(req, echo_session);
    });
    r.get("/closing", [](http::Request& req) -> Task<http::Response> {
        co_return ws::accept(req, closing_session);
    });
    r.get("/throws", [](http::Request& req) -> Task<http::Response> {
        co_return ws::accept(req, throwing_session);
    });
    r.get("/chat", [](http::Request& req) -> Task<http::Response> {
        ws::Options o;
        o.protocols = {"chat.v2", "chat.v1"};
        o.max_message = 1000;
        co_return ws::accept(req, echo_session, o);
    });
    r.get("/slow", [](http::Request& req) -> Task<http::Response> {
        auto waited = co_await release->wait();
        (void)waited;
        co_return ws::accept(req, echo_session);
    });
    r.get("/custom", [](http::Request&) -> Task<http::Response> {
        // Another protocol through Response::upgrade: bytes echoed as they come.
        http::Response resp(101);
        resp.set("Upgrade", "echo-proto");
        resp.set("Connection", "Upgrade");  // allowed on a 101: the server's own
        resp.upgrade = [](http::Stream s, StopToken) -> Task<void> {
            std::array<std::byte, 256> buf;
            for (;;) {
                auto n = co_await s.recv(buf);
                if (!n || *n == 0) co_return;
                auto sent = co_await s.send_all(std::span<const std::byte>(buf.data(), *n));
                if (!sent) co_return;
            }
        };
        co_return resp;
    });
    r.get("/deflate", [](http::Request& req) -> Task<http::Response> {
        ws::Options o;
        o.deflate.enabled = true;
        co_return ws::accept(req, echo_session, o);
    });
    r.get("/deflate-small", [](http::Request& req) -> Task<http::Response> {
        ws::Options o;
        o.deflate.enabled = true;
        o.deflate.window_bits = 10;
        o.deflate.mem_level = 4;
        o.deflate.no_context_takeover = true;
        o.max_message = 400000;
        co_return ws::accept(req, echo_session, o);
    });
    r.get("/keepalive", [](http::Request& req) -> Task<http::Response> {
        ws::Options o;
        o.idle_timeout = 1s;
        o.keepalive = true;
        co_return ws::accept(req, echo_session, o);
    });
    r.get("/plain", [](http::Request&) -> Task<http::Response> {
        co_return http::Response::text(200, "not a websocket\n");
    });
    r.get("/bad101", [](http::Request&) -> Task<http::Response> {
        http::Response resp(101);
        resp.set("Upgrade", "websocket");
        co_return resp;  // no Response::upgrade: a handler bug
    });
    return r;
}

std::string ws_url(const LocalServer& srv, std::string_view path) {
    return "ws://" + srv.address().to_string() + std::string(path);
}

constexpr std::string_view sample_key = "dGhlIHNhbXBsZSBub25jZQ==";

std::string handshake(std::string_view path, std::string_view extra = {}) {
    return "GET " + std::string(path) +
           " HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: " +
           std::string(sample_key) + "\r\nSec-WebSocket-Version: 13\r\n" + std::string(extra) +
           "\r\n";
}

std::string client_frame(ws::Opcode op, std::string_view payload) {
    std::string out;
    ws::append_frame(out, op, true, payload, 0x11223344u);
    return out;
}

struct Frame {
    ws::Reader::Event kind;
    std::string data;
    std::uint16_t code;
};

// The frames a server sent, as a client reads them.
std::vector<Frame> server_frames(std::string_view wire) {
    ws::Reader r(false, 1 << 20);
    std::vector<Frame> out;
    std::size_t at = 0;
    while (at < wire.size()) {
        at += r.feed(wire.substr(at));
        if (r.event() == ws::Reader::Event::none) break;
        const bool message =
            r.event() == ws::Reader::Event::text || r.event() == ws::Reader::Event::binary;
        out.push_back({r.event(), message ? r.take_message() : std::string(r.payload()), r.code()});
        if (r.event() == ws::Reader::Event::error) break;
    }
    return out;
}

// Not an error any session ends with: a check of session_end fails unless one ended.
const std::error_code no_end = std::make_error_code(std::errc::interrupted);

void reset_session_state() {
    session_end = no_end;
    session_close_code = 0;
    sessions_started = 0;
}

}  // namespace

TEST_CASE("websocket: messages both ways, then the client's close", "[http][websocket]") {
    reset_session_state();
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        auto c = co_await ws::connect(ws_url(srv, "/echo"));
        REQUIRE(c);
        const std::string big(1 << 20, 'b');
        auto s1 = co_await c->send("hello");
        auto s2 = co_await c->send(std::as_bytes(std::span(big)));
        auto s3 = co_await c->send("");
        CHECK((s1 && s2 && s3));
        auto m1 = co_await c->receive();
        auto m2 = co_await c->receive();
        auto m3 = co_await c->receive();
        REQUIRE((m1 && m2 && m3));
        CHECK((m1->type == ws::MessageType::text && m1->data == "hello"));
        CHECK((m2->type == ws::MessageType::binary && m2->data == big));
        CHECK((m3->type == ws::MessageType::text && m3->data.empty()));
        CHECK(c->is_open());
        auto closed = co_await c->close(ws::close_code::normal, "bye");
        CHECK(closed);
        CHECK_FALSE(c->is_open());
        CHECK(c->close_code() == ws::close_code::normal);  // the server echoed ours
        auto after = co_await c->receive();
        CHECK(after.error() == ws::Error::closed);
        auto late = co_await c->send("late");
        CHECK(late.error() == ws::Error::closed);
        co_await srv.stop();
    });
    CHECK(session_end == ws::Error::closed);
    CHECK(session_close_code == ws::close_code::normal);
}

TEST_CASE("websocket: the server's close ends the client's receive", "[http][websocket]") {
    reset_session_state();
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        auto c = co_await ws::connect(ws_url(srv, "/closing"));
        REQUIRE(c);
        auto pinged = co_await c->ping("are you there");
        CHECK(pinged);
        auto sent = co_await c->send("x");
        CHECK(sent);
        auto m = co_await c->receive();  // the pong is skipped on the way
        REQUIRE(m);
        CHECK(m->data == "got x");
        auto end = co_await c->receive();
        CHECK(end.error() == ws::Error::closed);
        CHECK(c->close_code() == 4000);
        CHECK(c->close_reason() == "done");
        co_await srv.stop();
    });
    CHECK(session_end == std::error_code());  // the server's close() succeeded
}

TEST_CASE("websocket: pings answered, frames sent behind the handshake read", "[http][websocket]") {
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        auto raw = co_await RawClient::connect(srv.address());
        // The handshake and three frames in one write: the server has them in its
        // input buffer when the handshake is parsed.
        const bool sent =
            co_await raw.send(handshake("/echo") + client_frame(ws::Opcode::ping, "p1") +
                              client_frame(ws::Opcode::text, "early") +
                              client_frame(ws::Opcode::close, std::string("\x03\xe8", 2)));
        CHECK(sent);
        auto head = co_await raw.response();
        REQUIRE(head);
        CHECK(head->status == 101);
        CHECK(head->headers.get("Sec-WebSocket-Accept") ==
              std::optional<std::string_view>("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        CHECK(head->headers.has_token("connection", "upgrade"));
        const std::string rest = co_await raw.until_close();
        auto frames = server_frames(rest);
        REQUIRE(frames.size() == 3);
        CHECK((frames[0].kind == ws::Reader::Event::pong && frames[0].data == "p1"));
        CHECK((frames[1].kind == ws::Reader::Event::text && frames[1].data == "early"));
        CHECK((frames[2].kind == ws::Reader::Event::close && frames[2].code == 1000));
        co_await srv.stop();
    });
}

TEST_CASE("websocket: frames that arrive while the handler decides are kept", "[http][websocket]") {
    test::run([](Loop&) -> Task<void> {
        corio::Event ready;
        release = &ready;
        LocalServer srv(make_router());
        auto raw = co_await RawClient::connect(srv.address());
        bool sent = co_await raw.send(handshake("/slow"));
        CHECK(sent);
        // Sent before the 101: on io_uring the connection's multishot receive may
        // already hold them when the handler answers; they must reach the session.
        sent = co_await raw.send(client_frame(ws::Opcode::text, "while you wait"));
        CHECK(sent);
        co_await sleep_for(5ms);
        ready.set();
        auto head = co_await raw.response();
        REQUIRE(head);
        CHECK(head->status == 101);
        sent = co_await raw.send(client_frame(ws::Opcode::close, ""));
        CHECK(sent);
        const std::string rest = co_await raw.until_close();
        auto frames = server_frames(rest);
        REQUIRE(frames.size() == 2);
        CHECK((frames[0].kind == ws::Reader::Event::text && frames[0].data == "while you wait"));
        CHECK((frames[1].kind == ws::Reader::Event::close && frames[1].data.empty()));
        co_await srv.stop();
        release = nullptr;
    });
}

TEST_CASE("upgrade: another protocol takes the connection over after a 101", "[http][websocket]") {
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        auto raw = co_await RawClient::connect(srv.address());
        // A request answered before it (pipelined), then the upgrade with bytes behind it.
        bool sent = co_await raw.send(
            "GET /plain HTTP/1.1\r\nHost: t\r\n\r\n"
            "GET /custom HTTP/1.1\r\nHost: t\r\nUpgrade: echo-proto\r\n"
            "Connection: Upgrade\r\n\r\nearly ");
        CHECK(sent);
        auto first = co_await raw.response();
        REQUIRE(first);
        CHECK(first->status == 200);
        auto head = co_await raw.response();
        REQUIRE(head);
        CHECK(head->status == 101);
        CHECK(head->headers.count("connection") == 1);
        CHECK(head->headers.has_token("connection", "upgrade"));
        CHECK(head->headers.get("upgrade") == std::optional<std::string_view>("echo-proto"));
        sent = co_await raw.send("late");
        CHECK(sent);
        const bool echoed = co_await raw.wait_for("early late");
        CHECK(echoed);
        raw.stream().close();  // the protocol ends with the stream (it ignores the drain)
        co_await srv.stop();
    });
}

TEST_CASE("websocket: a protocol violation is answered with 1002 and ends the session",
          "[http][websocket]") {
    reset_session_state();
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        auto raw = co_await RawClient::connect(srv.address());
        std::string unmasked;
        ws::append_frame(unmasked, ws::Opcode::text, true, "no mask");
        const bool sent = co_await raw.send(handshake("/echo") + unmasked);
        CHECK(sent);
        auto head = co_await raw.response();
        REQUIRE(head);
        const std::string rest = co_await raw.until_close();
        auto frames = server_frames(rest);
        REQUIRE(frames.size() == 1);
        CHECK((frames[0].kind == ws::Reader::Event::close &&
               frames[0].code == ws::close_code::protocol_error));
        co_await srv.stop();
    });
    CHECK(session_end == std::errc::protocol_error);
}

TEST_CASE("websocket: a message over the limit is answered with 1009", "[http][websocket]") {
    reset_session_state();
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        auto c = co_await ws::connect(ws_url(srv, "/chat"));  // max_message 1000
        REQUIRE(c);
        auto sent = co_await c->send(std::string(1001, 'x'));
        CHECK(sent);
        auto end = co_await c->receive();
        CHECK(end.error() == ws::Error::closed);
        CHECK(c->close_code() == ws::close_code::too_big);
        co_await srv.stop();
    });
    CHECK(session_end == Errc::limit_exceeded);
}

TEST_CASE("websocket: a peer that vanishes: eof, close code 1006", "[http][websocket]") {
    reset_session_state();
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        {
            auto raw = co_await RawClient::connect(srv.address());
            const bool sent = co_await raw.send(handshake("/echo"));
            CHECK(sent);
            auto head = co_await raw.response();
            REQUIRE(head);
        }  // closed without a close frame
        while (session_close_code == 0)
            co_await sleep_for(1ms);
        co_await srv.stop();
    });
    CHECK(session_end == Errc::eof);
    CHECK(session_close_code == ws::close_code::abnormal);
}

TEST_CASE("websocket: refused handshakes", "[http][websocket]") {
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        struct Case {
            std::string request;
            int status;
        };
        const std::string key = "Sec-WebSocket-Key: " + std::string(sample_key) + "\r\n";
        const Case cases[] = {
            {"GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", 400},  // not an upgrade
            {"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n",
             400},  // no key
            {"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n",
             400},
            {"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                 key + "Sec-WebSocket-Version: 8\r\n\r\n",
             426},
            {"GET /echo HTTP/1.0\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                 key + "Sec-WebSocket-Version: 13\r\n\r\n",
             400},
            {handshake("/bad101"), 500},  // a 101 without an upgrade
        };
        for (const Case& k : cases) {
            auto raw = co_await RawClient::connect(srv.address());
            const bool sent = co_await raw.send(k.request);
            CHECK(sent);
            auto r = co_await raw.response();
            REQUIRE(r);
            CHECK(r->status == k.status);
            if (k.status == 426) {
                CHECK(r->headers.get("Sec-WebSocket-Version") ==
                      std::optional<std::string_view>("13"));
                CHECK(r->headers.has_token("upgrade", "websocket"));
            }
        }
        // The client: a server that does not switch, and URLs it cannot use.
        auto plain = co_await ws::connect(ws_url(srv, "/plain"));
        CHECK(plain.error() == std::errc::protocol_error);
        auto missing = co_await ws::connect(ws_url(srv, "/nowhere"));
        CHECK(missing.error() == std::errc::protocol_error);
        auto scheme = co_await ws::connect("http://" + srv.address().to_string() + "/echo");
        CHECK(scheme.error() == std::errc::invalid_argument);
        co_await srv.stop();
    });
}

TEST_CASE("websocket: subprotocols: the client's first that the server speaks",
          "[http][websocket]") {
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        ws::ConnectOptions o;
        o.options.protocols = {"chat.v1", "chat.v2"};
        auto c = co_await ws::connect(ws_url(srv, "/chat"), o);
        REQUIRE(c);
        CHECK(c->protocol() == "chat.v1");
        auto sent = co_await c->send("hi");
        CHECK(sent);
        auto m = co_await c->receive();
        CHECK((m && m->data == "hi"));
        // None in common: no subprotocol, the connection still opens.
        ws::ConnectOptions other;
        other.options.protocols = {"other"};
        auto d = co_await ws::connect(ws_url(srv, "/chat"), other);
        REQUIRE(d);
        CHECK(d->protocol().empty());
        auto c_closed = co_await c->close();
        auto d_closed = co_await d->close();
        CHECK((c_closed && d_closed));
        co_await srv.stop();
    });
}

TEST_CASE("websocket: a session that throws is closed with 1011", "[http][websocket]") {
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        auto c = co_await ws::connect(ws_url(srv, "/throws"));
        REQUIRE(c);
        auto sent = co_await c->send("boom");
        CHECK(sent);
        auto end = co_await c->receive();
        CHECK(end.error() == ws::Error::closed);
        CHECK(c->close_code() == ws::close_code::internal_error);
        co_await srv.stop();
    });
}

TEST_CASE("websocket: a receive cut off by a timeout loses nothing", "[http][websocket]") {
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        auto c = co_await ws::connect(ws_url(srv, "/echo"));
        REQUIRE(c);
        // Nothing comes until we send: the timeout fires, the connection stays open.
        auto nothing = co_await with_timeout(c->receive(), 20ms);
        CHECK(nothing.error() == std::errc::timed_out);
        CHECK(c->is_open());
        auto sent = co_await c->send("after the timeout");
        CHECK(sent);
        auto m = co_await c->receive();
        CHECK((m && m->data == "after the timeout"));
        auto closed = co_await c->close();
        CHECK(closed);
        co_await srv.stop();
    });
}

/// Sends `n` numbered messages.
Task<void> send_numbered(ws::WebSocket* c, int n, int* failures) {
    for (int i = 0; i < n; ++i) {
        auto sent = co_await c->send("m" + std::to_string(i));
        if (!sent) ++*failures;
    }
}

/// Sends pings while the others run.
Task<void> send_pings(ws::WebSocket* c, int n, int* failures) {
    for (int i = 0; i < n; ++i) {
        auto sent = co_await c->ping("ping" + std::to_string(i));
        if (!sent) ++*failures;
    }
}

TEST_CASE("websocket: one task receives while others send", "[http][websocket]") {
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        auto c = co_await ws::connect(ws_url(srv, "/echo"));
        REQUIRE(c);
        constexpr int n = 200;
        int failures = 0;
        TaskGroup senders;
        senders.spawn(send_numbered(&*c, n, &failures));
        senders.spawn(send_pings(&*c, 50, &failures));
        int in_order = 0;
        for (int i = 0; i < n; ++i) {
            auto m = co_await c->receive();
            if (!m) break;
            in_order += m->data == "m" + std::to_string(i);
        }
        co_await senders.wait();
        CHECK(failures == 0);
        CHECK(in_order == n);
        auto closed = co_await c->close();
        CHECK(closed);
        co_await srv.stop();
    });
}

/// One receive into *out; *started is set first, so that when the caller sees it the
/// receive is under way (the task ran until the receive suspended it).
Task<void> receive_end(ws::WebSocket* c, Result<ws::Message>* out, bool* started = nullptr) {
    if (started != nullptr) *started = true;
    *out = co_await c->receive();
}

TEST_CASE("websocket: a server shutdown closes its sessions with 1001", "[http][websocket]") {
    reset_session_state();
    test::run([](Loop&) -> Task<void> {
        http::ServerOptions o;
        o.grace = 30s;  // the session ends at the drain, long before
        LocalServer srv(make_router(), o);
        auto c = co_await ws::connect(ws_url(srv, "/echo"));
        REQUIRE(c);
        auto sent = co_await c->send("one");
        CHECK(sent);
        auto m = co_await c->receive();
        CHECK(m);
        CHECK(srv.server().connections() == 1);
        Result<ws::Message> end = std::errc::interrupted;
        TaskGroup client;
        client.spawn(receive_end(&*c, &end));
        co_await srv.stop();  // drains: the session is cancelled, 1001 goes out
        co_await client.wait();
        CHECK(srv.server().connections() == 0);
        CHECK(end.error() == ws::Error::closed);
        CHECK(c->close_code() == ws::close_code::going_away);
        CHECK_FALSE(c->is_open());
    });
    CHECK(session_end == std::errc::operation_canceled);
}

TEST_CASE("websocket: close() while another task receives; one receive at a time",
          "[http][websocket]") {
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        auto c = co_await ws::connect(ws_url(srv, "/echo"));
        REQUIRE(c);
        Result<ws::Message> end = std::errc::interrupted;
        TaskGroup reader;
        bool started = false;
        reader.spawn(receive_end(&*c, &end, &started));
        while (!started)
            co_await yield();
        auto second = co_await c->receive();
        CHECK(second.error() == std::errc::operation_in_progress);
        auto closed = co_await c->close(4001, "enough");
        CHECK(closed);  // returns once sent: the reader sees the answer
        co_await reader.wait();
        CHECK(end.error() == ws::Error::closed);
        CHECK(c->close_code() == 4001);  // echoed by the server
        auto after = co_await c->receive();
        CHECK(after.error() == ws::Error::closed);
        co_await srv.stop();
    });
}

namespace {

// The raw servers below: what a client sent up to the end of its handshake's head
// (and any bytes behind it); nullopt when the stream ended first.
Task<std::optional<std::string>> read_handshake(net::TcpStream& s) {
    std::string in;
    std::array<std::byte, 4096> buf;
    while (in.find("\r\n\r\n") == std::string::npos) {
        auto n = co_await s.recv(buf);
        if (!n || *n == 0) co_return std::nullopt;
        in.append(reinterpret_cast<const char*>(buf.data()), *n);
    }
    co_return in;
}

// The 101 that accepts the handshake in `request`.
std::string switching(const std::string& request) {
    const std::size_t k = request.find("Sec-WebSocket-Key: ") + 19;
    return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Accept: " +
           ws::accept_key(request.substr(k, request.find("\r\n", k) - k)) + "\r\n\r\n";
}

// One connection accepted on `l` and its handshake answered with a 101: the stream, and
// what the client sent up to then (the request, and any bytes behind it); nullopt when
// either failed.
struct Upgraded {
    net::TcpStream s;
    std::string request;
};
Task<std::optional<Upgraded>> accept_upgrade(net::TcpListener* l) {
    auto s = co_await l->accept();
    if (!s) co_return std::nullopt;
    auto in = co_await read_handshake(*s);
    if (!in) co_return std::nullopt;
    const std::string reply = switching(*in);
    auto sent = co_await s->send_all(std::as_bytes(std::span(reply)));
    if (!sent) co_return std::nullopt;
    std::optional<Upgraded> u(std::in_place);
    u->s = std::move(*s);
    u->request = std::move(*in);
    co_return u;
}

// A WebSocket server by hand: accepts the handshake (`answer`: false, it never
// answers), then reads until the client closes and never sends a close frame.
// Sets *got_eof when the client's end of the stream came.
Task<void> mute_server(net::TcpListener* l, bool answer, bool* got_eof) {
    auto s = co_await l->accept();
    if (!s) co_return;
    auto in = co_await read_handshake(*s);
    if (!in) co_return;
    if (!answer) {
        (void)co_await sleep_for(1h);
        co_return;
    }
    const std::string reply = switching(*in);
    auto sent = co_await s->send_all(std::as_bytes(std::span(reply)));
    if (!sent) co_return;
    std::array<std::byte, 4096> buf;
    for (;;) {
        auto n = co_await s->recv(buf);
        if (!n) co_return;
        if (*n == 0) break;
    }
    *got_eof = true;
}

}  // namespace

TEST_CASE("websocket: a peer that never answers the close, or the handshake", "[http][websocket]") {
    test::run([](Loop&) -> Task<void> {
        auto l = net::TcpListener::bind(net::Address::loopback_v4(0)).value("bind");
        const std::string url = "ws://" + l.local_address().value("addr").to_string() + "/";
        bool got_eof = false;
        TaskGroup g;
        g.spawn(mute_server(&l, true, &got_eof));
        ws::ConnectOptions o;
        o.options.close_timeout = 50ms;
        auto c = co_await ws::connect(url, o);
        REQUIRE(c);
        // Arguments close() and ping() refuse.
        auto bad_code = co_await c->close(ws::close_code::no_status);
        CHECK(bad_code.error() == std::errc::invalid_argument);
        auto long_reason = co_await c->close(1000, std::string(124, 'r'));
        CHECK(long_reason.error() == std::errc::invalid_argument);
        auto long_ping = co_await c->ping(std::string(126, 'p'));
        CHECK(long_ping.error() == std::errc::invalid_argument);
        CHECK(c->is_open());
        // The close is sent; no answer comes; after close_timeout the stream is closed.
        auto closed = co_await c->close();
        CHECK(closed);
        CHECK_FALSE(c->is_open());
        CHECK(c->close_code() == ws::close_code::abnormal);  // the peer said nothing
        co_await g.wait();
        CHECK(got_eof);

        // A server that never answers the handshake: ConnectOptions::timeout.
        g.spawn(mute_server(&l, false, &got_eof));
        ws::ConnectOptions quick;
        quick.timeout = 50ms;
        auto late = co_await ws::connect(url, quick);
        CHECK(late.error() == std::errc::timed_out);
        g.cancel();
        co_await g.wait();
    });
}

namespace {

// The opcode of the next (short, masked) frame a client sends, or -1 at the end.
Task<int> client_frame(net::TcpStream& s) {
    std::string got;
    std::array<std::byte, 256> buf;
    while (got.size() < 2 || got.size() < 6u + (static_cast<unsigned char>(got[1]) & 0x7f)) {
        auto n = co_await s.recv(buf);
        if (!n || *n == 0) co_return -1;
        got.append(reinterpret_cast<const char*>(buf.data()), *n);
    }
    co_return static_cast<unsigned char>(got[0]) & 0x0f;
}

// A WebSocket server by hand that does the closing handshake (first when `first`, else in
// answer to the client's), then waits `hold` before closing the TCP connection. Sets
// *client_ended when the client's end of the stream came within it: a client must wait for
// the server to close first (for its close_timeout at most).
Task<void> closing_server(net::TcpListener* l, bool first, Duration hold, bool* client_ended) {
    auto u = co_await accept_upgrade(l);
    if (!u) co_return;
    net::TcpStream* s = &u->s;
    Result<void> sent;
    const std::string close_frame("\x88\x02\x03\xe8", 4);  // 1000, unmasked
    if (first) {
        sent = co_await s->send_all(std::as_bytes(std::span(close_frame)));
        if (!sent) co_return;
    }
    const int op = co_await client_frame(*s);
    REQUIRE(op == 8);
    if (!first) {
        sent = co_await s->send_all(std::as_bytes(std::span(close_frame)));
        if (!sent) co_return;
    }
    std::array<std::byte, 256> buf;
    auto n = co_await with_timeout(s->recv(buf), hold);
    *client_ended = n && *n == 0;
}

}  // namespace

TEST_CASE("websocket: a client lets the server close the TCP connection first",
          "[http][websocket]") {
    for (bool server_first : {false, true}) {
        INFO("the server closes first " << server_first);
        test::run([server_first](Loop&) -> Task<void> {
            auto l = net::TcpListener::bind(net::Address::loopback_v4(0)).value("bind");
            const std::string url = "ws://" + l.local_address().value("addr").to_string() + "/";
            // A server that closes 200 ms after the handshake: the client waits for it (and
            // not for its own close_timeout).
            bool client_ended = false;
            TaskGroup g;
            g.spawn(closing_server(&l, server_first, 200ms, &client_ended));
            ws::ConnectOptions patient;
            patient.options.close_timeout = 60s;
            auto c = co_await ws::connect(url, patient);
            REQUIRE(c);
            TimePoint t0 = Loop::current().now();
            if (server_first) {
                auto end = co_await c->receive();  // echoes, then waits for the server's end
                CHECK(end.error() == ws::Error::closed);
            } else {
                auto closed = co_await c->close();  // and waits for the server's end
                CHECK(closed);
            }
            CHECK(Loop::current().now() - t0 < 30s);
            CHECK_FALSE(c->is_open());
            CHECK(c->close_code() == ws::close_code::normal);
            co_await g.wait();
            CHECK_FALSE(client_ended);

            // A server that never closes: the client closes after its close_timeout.
            g.spawn(closing_server(&l, server_first, 1h, &client_ended));
            ws::ConnectOptions quick;
            quick.options.close_timeout = 100ms;
            c = co_await ws::connect(url, quick);
            REQUIRE(c);
            t0 = Loop::current().now();
            if (server_first) {
                auto end = co_await c->receive();
                CHECK(end.error() == ws::Error::closed);
            } else {
                auto closed = co_await c->close();
                CHECK(closed);
            }
            CHECK(Loop::current().now() - t0 >= 100ms);
            CHECK_FALSE(c->is_open());
            co_await g.wait();
            CHECK(client_ended);
        });
    }
}

namespace {

// A WebSocket server by hand that ends its side at once (no close frame), then
// reads what the client sends, 64 KiB a millisecond, until the client's end.
Task<void> leaving_server(net::TcpListener* l, std::size_t* got) {
    auto u = co_await accept_upgrade(l);
    if (!u) co_return;
    net::TcpStream* s = &u->s;
    *got = u->request.size() - u->request.find("\r\n\r\n") - 4;
    (void)s->shutdown(SHUT_WR);
    std::array<std::byte, 65536> buf;
    for (;;) {
        co_await sleep_for(1ms);
        auto n = co_await s->recv(buf);
        if (!n || *n == 0) co_return;
        *got += *n;
    }
}

// Sets *started, then sends: when the caller sees *started, the send is under way
// (the task ran until the send suspended it).
Task<void> send_big(ws::WebSocket* c, const std::string* data, bool* started, Result<void>* out) {
    *started = true;
    *out = co_await c->send(*data);
}

}  // namespace

TEST_CASE("websocket: the stream ends under a send in flight: the send completes first",
          "[http][websocket]") {
    test::run(
        [](Loop&) -> Task<void> {
            auto l = net::TcpListener::bind(net::Address::loopback_v4(0)).value("bind");
            const std::string url = "ws://" + l.local_address().value("addr").to_string() + "/";
            std::size_t got = 0;
            TaskGroup g;
            g.spawn(leaving_server(&l, &got));
            auto c = co_await ws::connect(url);
            REQUIRE(c);
            const std::string big(16 << 20, 'q');
            Result<void> sent = std::errc::operation_canceled;
            TaskGroup sender;
            bool started = false;
            sender.spawn(send_big(&*c, &big, &started, &sent));
            while (!started)
                co_await yield();
            // The server's end arrives while the 16 MiB go out slowly: the receive
            // closes the stream only once that send is done.
            auto end = co_await c->receive();
            CHECK(end.error() == Errc::eof);
            CHECK(c->close_code() == ws::close_code::abnormal);
            co_await sender.wait();
            CHECK(sent);
            co_await g.wait();
            CHECK(got == big.size() + 14);  // the frame: a 10-byte header, the mask, the data
        },
        std::chrono::seconds(60));
}

namespace {

// A WebSocket server by hand that pings at once and reads nothing until *go; then it
// reads the client's frames, notes the pong's payload and answers it with "after",
// and reads until the client's end.
Task<void> pinging_server(net::TcpListener* l, const bool* go, std::string* pong) {
    auto s = co_await l->accept();
    if (!s) co_return;
    auto in = co_await read_handshake(*s);
    if (!in) co_return;
    std::string out = switching(*in);
    ws::append_frame(out, ws::Opcode::ping, true, "owed");
    std::array<std::byte, 65536> buf;
    auto sent = co_await s->send_all(std::as_bytes(std::span(out)));
    if (!sent) co_return;
    while (!*go)
        co_await sleep_for(1ms);
    ws::Reader r(true, 64 << 20);
    for (;;) {
        auto n = co_await s->recv(buf);
        if (!n || *n == 0) co_return;
        std::string_view got(reinterpret_cast<const char*>(buf.data()), *n);
        while (!got.empty()) {
            got.remove_prefix(r.feed(got));
            if (r.event() == ws::Reader::Event::error) co_return;
            if (r.event() != ws::Reader::Event::pong) continue;
            *pong = std::string(r.payload());
            std::string after;
            ws::append_frame(after, ws::Opcode::text, true, "after");
            auto answered = co_await s->send_all(std::as_bytes(std::span(after)));
            if (!answered) co_return;
        }
    }
}

}  // namespace

TEST_CASE("websocket: a pong owed by a receive cut off is sent by the next one",
          "[http][websocket]") {
    test::run(
        [](Loop&) -> Task<void> {
            auto l = net::TcpListener::bind(net::Address::loopback_v4(0)).value("bind");
            const std::string url = "ws://" + l.local_address().value("addr").to_string() + "/";
            bool go = false;
            std::string pong;
            TaskGroup g;
            g.spawn(pinging_server(&l, &go, &pong));
            ws::ConnectOptions o;
            o.options.close_timeout = 100ms;
            auto c = co_await ws::connect(url, o);
            REQUIRE(c);
            // 16 MiB to a server that does not read: the send holds the write lock.
            const std::string big(16 << 20, 'q');
            Result<void> sent = std::errc::operation_canceled;
            bool started = false;
            TaskGroup sender;
            sender.spawn(send_big(&*c, &big, &started, &sent));
            while (!started)
                co_await yield();
            // The receive reads the ping; its pong waits behind the send; the timeout
            // cuts it off there.
            auto cut = co_await with_timeout(c->receive(), 20ms);
            CHECK(cut.error() == std::errc::timed_out);
            go = true;
            co_await sender.wait();
            CHECK(sent);
            auto m = co_await c->receive();  // the owed pong goes out first
            CHECK((m && m->data == "after"));
            CHECK(pong == "owed");
            auto closed = co_await c->close();
            CHECK(closed);
            co_await g.wait();
        },
        std::chrono::seconds(60));
}

// ---- permessage-deflate ------------------------------------------------------------

namespace {

ws::DeflateParams deflate_params(bool snct, int smwb, int cmwb) {
    ws::DeflateParams p;
    p.server_no_context_takeover = snct;
    p.server_max_window_bits = smwb;
    p.client_max_window_bits = cmwb;
    return p;
}

// RFC 7692 §7.2.3.1 and §7.2.3.2: "Hello", then "Hello" again with the first's window.
const std::string hello_z("\xf2\x48\xcd\xc9\xc9\x07\x00", 7);
const std::string again_z("\xf2\x00\x11\x00\x00", 5);

// A WebSocket server by hand that answers the handshake with `extensions`, sends
// "Hello" compressed, and keeps what the client sends after its handshake, until
// its end, in *got.
Task<void> extension_server(net::TcpListener* l, std::string extensions, std::string* got) {
    auto s = co_await l->accept();
    if (!s) co_return;
    auto in = co_await read_handshake(*s);
    if (!in) co_return;
    std::string reply = switching(*in);
    reply.insert(reply.size() - 2, "Sec-WebSocket-Extensions: " + extensions + "\r\n");
    reply += "\xc1\x07" + hello_z;
    auto sent = co_await s->send_all(std::as_bytes(std::span(reply)));
    if (!sent) co_return;
    *got = in->substr(in->find("\r\n\r\n") + 4);
    std::array<std::byte, 4096> buf;
    for (;;) {
        auto n = co_await s->recv(buf);
        if (!n || *n == 0) break;
        got->append(reinterpret_cast<const char*>(buf.data()), *n);
    }
}

// A client's frames as sent (short ones, masked): first byte and unmasked payload.
std::vector<std::pair<int, std::string>> client_frames(std::string_view wire) {
    std::vector<std::pair<int, std::string>> out;
    while (wire.size() >= 6) {
        const std::size_t n = static_cast<unsigned char>(wire[1]) & 0x7f;
        if (n >= 126 || wire.size() < 6 + n) break;
        std::string payload(wire.substr(6, n));
        for (std::size_t i = 0; i < n; ++i)
            payload[i] = static_cast<char>(payload[i] ^ wire[2 + i % 4]);
        out.emplace_back(static_cast<unsigned char>(wire[0]), std::move(payload));
        wire.remove_prefix(6 + n);
    }
    return out;
}

}  // namespace

TEST_CASE("websocket: permessage-deflate both ways when both ends enable it", "[http][websocket]") {
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        std::string log;
        for (int i = 0; i < 12000; ++i)
            log += "line " + std::to_string(i % 97) + " of the log\n";
        std::string noise(64 << 10, '\0');
        std::uint32_t x = 2463534242u;
        for (char& ch : noise) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            ch = static_cast<char>(x);
        }
        const std::string empty, hi = "hi";
        struct Case {
            const char* path;
            bool client;
            std::optional<ws::DeflateParams> agreed;
        };
        const Case cases[] = {
            {"/deflate", true, ws::DeflateParams{}},
            {"/deflate-small", true, deflate_params(true, 10, 0)},  // the server's limits
            {"/echo", true, std::nullopt},                          // the server does not
            {"/deflate", false, std::nullopt},                      // the client does not
        };
        for (const Case& k : cases) {
            INFO(k.path << (k.client ? " with" : " without") << " the client's offer");
            ws::ConnectOptions o;
            o.options.deflate.enabled = k.client;
            auto c = co_await ws::connect(ws_url(srv, k.path), o);
            REQUIRE(c);
            CHECK(c->deflate() == k.agreed);
            // Each echoed before the next goes (a peer that does not read would stall a
            // large one); twice, the second time with the windows kept.
            for (int round = 0; round < 2; ++round) {
                for (const std::string* m :
                     {&std::as_const(log), &std::as_const(noise), &empty, &hi}) {
                    const auto type = m == &noise ? ws::MessageType::binary : ws::MessageType::text;
                    auto sent = co_await c->send(*m, type);
                    CHECK(sent);
                    auto back = co_await c->receive();
                    REQUIRE(back);
                    CHECK((back->type == type && back->data == *m));
                }
            }
            auto closed = co_await c->close();
            CHECK(closed);
            CHECK(c->close_code() == ws::close_code::normal);
        }
        co_await srv.stop();
    });
}

TEST_CASE("websocket: permessage-deflate on the wire: RFC 7692's bytes, its limits",
          "[http][websocket]") {
    reset_session_state();
    test::run([](Loop&) -> Task<void> {
        LocalServer srv(make_router());
        const std::string offer =
            "Sec-WebSocket-Extensions: x-unknown, permessage-deflate; client_max_window_bits\r\n";
        {
            // Our compressed "Hello" twice (the window kept), then a close: the echoes
            // are RFC 7692's own bytes.
            auto raw = co_await RawClient::connect(srv.address());
            std::string frames;
            ws::append_frame(frames, ws::Opcode::text, true, hello_z, 0x01020304u, true);
            ws::append_frame(frames, ws::Opcode::text, true, again_z, 0x05060708u, true);
            ws::append_frame(frames, ws::Opcode::close, true, std::string("\x03\xe8", 2),
                             0x0a0b0c0du);
            const bool sent = co_await raw.send(handshake("/deflate", offer) + frames);
            CHECK(sent);
            auto head = co_await raw.response();
            REQUIRE(head);
            CHECK(head->status == 101);
            CHECK(head->headers.get("Sec-WebSocket-Extensions") ==
                  std::optional<std::string_view>("permessage-deflate"));
            const std::string rest = co_await raw.until_close();
            CHECK(rest == "\xc1\x07" + hello_z + "\xc1\x05" + again_z + "\x88\x02\x03\xe8");
        }
        {
            // The client asks the server to compress each message alone: both echoes go
            // out the same (with the window kept, the second would refer to the first).
            auto raw = co_await RawClient::connect(srv.address());
            const std::string message = "Hello Hello Hello Hello Hello";
            const std::string frames = client_frame(ws::Opcode::text, message) +
                                       client_frame(ws::Opcode::text, message) +
                                       client_frame(ws::Opcode::close, std::string("\x03\xe8", 2));
            const bool sent =
                co_await raw.send(handshake("/deflate",
                                            "Sec-WebSocket-Extensions: permessage-deflate; "
                                            "server_no_context_takeover\r\n") +
                                  frames);
            CHECK(sent);
            auto head = co_await raw.response();
            REQUIRE(head);
            CHECK(
                head->headers.get("Sec-WebSocket-Extensions") ==
                std::optional<std::string_view>("permessage-deflate; server_no_context_takeover"));
            const std::string rest = co_await raw.until_close();
            REQUIRE(rest.size() > 2);
            const std::string first =
                rest.substr(0, 2 + (static_cast<unsigned char>(rest[1]) & 0x7f));
            CHECK(static_cast<unsigned char>(first[0]) == 0xc1);
            CHECK(first.size() - 2 < message.size());
            CHECK(rest == first + first + "\x88\x02\x03\xe8");
            ws::Reader r(false, 1 << 20);
            r.enable_deflate();
            CHECK(r.feed(first) == first.size());
            CHECK(r.take_message() == message);
        }
        struct Case {
            std::string payload;  // compressed
            std::uint16_t code;
            std::error_code session_end;
        };
        ws::Deflater d(6, 15, 8, false);
        std::string bomb;  // 1 MiB of one letter: over /deflate-small's limit of 400000
        CHECK(d.compress(std::string(1 << 20, 'a'), bomb));
        const Case cases[] = {
            {bomb, ws::close_code::too_big, Errc::limit_exceeded},
            {"\xff\xff", ws::close_code::invalid_data,
             std::make_error_code(std::errc::illegal_byte_sequence)},
        };
        co_await srv.stop();
        for (const Case& k : cases) {
            LocalServer one(make_router());  // stopped below, once its session has ended
            auto raw = co_await RawClient::connect(one.address());
            std::string frame;
            ws::append_frame(frame, ws::Opcode::binary, true, k.payload, 0x01020304u, true);
            const bool sent = co_await raw.send(handshake("/deflate-small", offer) + frame);
            CHECK(sent);
            auto head = co_await raw.response();
            REQUIRE(head);
            CHECK(head->headers.get("Sec-WebSocket-Extensions") ==
                  std::optional<std::string_view>(
                      "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"));
            auto frames = server_frames(co_await raw.until_close());
            REQUIRE(frames.size() == 1);
            CHECK((frames[0].kind == ws::Reader::Event::close && frames[0].code == k.code));
            raw.stream().close();  // the server's session ends at our end of the stream
            co_await one.stop();
            CHECK(session_end == k.session_end);
        }
    });
}

TEST_CASE("websocket: the client checks the server's permessage-deflate answer",
          "[http][websocket]") {
    test::run([](Loop&) -> Task<void> {
        auto l = net::TcpListener::bind(net::Address::loopback_v4(0)).value("bind");
        const std::string url = "ws://" + l.local_address().value("addr").to_string() + "/";
        enum class Sent { compressed_kept, compressed_alone, plain, nothing };
        struct Case {
            std::string answer;
            bool offer;
            std::optional<ws::DeflateParams> agreed;  // nullopt: the client fails
            Sent sent;                                // how the client's two messages went out
        };
        ws::DeflateParams client_alone;
        client_alone.client_no_context_takeover = true;
        const Case cases[] = {
            {"permessage-deflate; server_no_context_takeover; client_max_window_bits=10", true,
             deflate_params(true, 0, 10), Sent::compressed_kept},
            // The server tells the client to compress each message alone.
            {"permessage-deflate; client_no_context_takeover", true, client_alone,
             Sent::compressed_alone},
            // zlib cannot write a window of 256 bytes: the client sends uncompressed.
            {"permessage-deflate; client_max_window_bits=8", true, deflate_params(false, 0, 8),
             Sent::plain},
            {"permessage-deflate; client_max_window_bits", true, std::nullopt, Sent::nothing},
            {"x-other", true, std::nullopt, Sent::nothing},
            {"permessage-deflate", false, std::nullopt, Sent::nothing},  // not offered
        };
        const std::string message = "Hello Hello Hello Hello Hello";
        for (const Case& k : cases) {
            INFO(k.answer);
            std::string got;
            TaskGroup g;
            g.spawn(extension_server(&l, k.answer, &got));
            {
                ws::ConnectOptions o;
                o.options.deflate.enabled = k.offer;
                auto c = co_await ws::connect(url, o);
                CHECK(static_cast<bool>(c) == k.agreed.has_value());
                if (c) {
                    CHECK(c->deflate() == k.agreed);
                    auto m = co_await c->receive();
                    REQUIRE(m);
                    CHECK(m->data == "Hello");
                    auto s1 = co_await c->send(message);
                    auto s2 = co_await c->send(message);
                    CHECK((s1 && s2));
                } else {
                    CHECK(c.error() == std::errc::protocol_error);
                }
            }  // the client's stream closes here
            co_await g.wait();
            const auto frames = client_frames(got);
            if (k.sent == Sent::nothing) {
                CHECK(frames.empty());
                continue;
            }
            REQUIRE(frames.size() == 2);
            if (k.sent == Sent::plain) {
                CHECK((frames[0].first == 0x81 && frames[0].second == message));
                CHECK((frames[1].first == 0x81 && frames[1].second == message));
                continue;
            }
            CHECK((frames[0].first == 0xc1 && frames[1].first == 0xc1));
            CHECK(frames[0].second.size() < message.size());
            // Alone, the second compresses as the first did; with the window kept, to
            // a reference back to the first.
            if (k.sent == Sent::compressed_alone) {
                CHECK(frames[1].second == frames[0].second);
            } else {
                CHECK(frames[1].second.size() < frames[0].second.size());
            }
        }
    });
}

// ---- the idle timeout and keepalive pings ----------------------------------------------

namespace {

// A WebSocket server by hand that accepts the handshake, sends nothing, and
// keeps what the client sends until the client's end in *got.
Task<void> recording_server(net::TcpListener* l, std::string* got) {
    auto s = co_await l->accept();
    if (!s) co_return;
    auto in = co_await read_handshake(*s);
    if (!in) co_return;
    const std::string reply = switching(*in);
    auto sent = co_await s->send_all(std::as_bytes(std::span(reply)));
    if (!sent) co_return;
    std::array<std::byte, 4096> buf;
    for (;;) {
        auto n = co_await s->recv(buf);
        if (!n || *n == 0) break;
        got->append(reinterpret_cast<const char*>(buf.data()), *n);
    }
}

}  // namespace

TEST_CASE("websocket: idle timeout: a silent peer is pinged, then dropped with 1001",
          "[http][websocket]") {
    test::run([](Loop&) -> Task<void> {
        auto l = net::TcpListener::bind(net::Address::loopback_v4(0)).value("bind");
        const std::string url = "ws://" + l.local_address().value("addr").to_string() + "/";
        for (const bool keepalive : {true, false}) {
            INFO("keepalive " << keepalive);
            std::string got;
            TaskGroup g;
            g.spawn(recording_server(&l, &got));
            {
                ws::ConnectOptions o;
                o.options.idle_timeout = 100ms;
                o.options.keepalive = keepalive;
                auto c = co_await ws::connect(url, o);
                REQUIRE(c);
                // The peer never sends: whatever the machine's speed, the receive ends so.
                auto m = co_await c->receive();
                CHECK(m.error() == ws::Error::idle_timeout);
                CHECK_FALSE(c->is_open());
                CHECK(c->close_code() == ws::close_code::abnormal);
                auto again = co_await c->receive();
                CHECK(again.error() == ws::Error::idle_timeout);
            }
            co_await g.wait();
            ws::Reader r(true, 1 << 20);
            std::vector<ws::Reader::Event> events;
            std::size_t at = 0;
            while (at < got.size()) {
                at += r.feed(std::string_view(got).substr(at));
                if (r.event() == ws::Reader::Event::none) break;
                events.push_back(r.event());
                if (r.event() == ws::Reader::Event::close) {
                    CHECK(r.code() == ws::close_code::going_away);
                }
            }
            using E = ws::Reader::Event;
            CHECK(events ==
                  (keepalive ? std::vector<E>{E::ping, E::close} : std::vector<E>{E::close}));
        }
    });
}

TEST_CASE("websocket: keepalive pings keep a live peer's connection open (virtual time)",
          "[http][websocket]") {
    if (!test::sim_requested()) {
        // How long a pong takes decides the outcome on a real clock: on the
        // simulation's virtual time it is fixed.
        SUCCEED("runs with CORIO_BACKEND=sim");
        return;
    }
    reset_session_state();
    test::run(
        [](Loop&) -> Task<void> {
            LocalServer srv(make_router());
            {
                // Both ends ping at half a second of silence and answer the other's: 30 s
                // pass without a message, and the connection is still there.
                ws::ConnectOptions o;
                o.options.idle_timeout = 1s;
                o.options.keepalive = true;
                auto c = co_await ws::connect(ws_url(srv, "/keepalive"), o);
                REQUIRE(c);
                auto quiet = co_await with_timeout(c->receive(), 30s);
                CHECK(quiet.error() == std::errc::timed_out);  // ours: the connection goes on
                CHECK(c->is_open());
                auto sent = co_await c->send("still here");
                CHECK(sent);
                auto back = co_await c->receive();
                REQUIRE(back);
                CHECK(back->data == "still here");
                auto closed = co_await c->close();
                CHECK(closed);
            }
            {
                // Without keepalive a server that sends nothing ends the client's wait.
                ws::ConnectOptions o;
                o.options.idle_timeout = 1s;
                auto c = co_await ws::connect(ws_url(srv, "/echo"), o);
                REQUIRE(c);
                auto m = co_await c->receive();
                CHECK(m.error() == ws::Error::idle_timeout);
            }
            co_await srv.stop();
        },
        std::chrono::minutes(5));
    CHECK(session_close_code == ws::close_code::going_away);  // the /echo session saw 1001
}

}  // namespace http_websocket_test
