// Server-sent events: the parser against the HTML standard's rules (line
// ends, any split of the input, a byte order mark, comments, the space after
// the colon, id and retry, what is dispatched and what is not, limits),
// format_event() read back by the parser, and a stream over a connection on
// the backend of this run: http::sse::response() to http::sse::open() and
// Reader, Last-Event-ID on a reconnect, a refused answer, and through
// http::compress().
#include <catch2/catch.hpp>

#include <corio/http/compress.hpp>
#include <corio/http/sse.hpp>
#include <corio/runtime/task_group.hpp>

#include "http_support.hpp"

namespace http_sse_test {

using namespace corio;
using namespace std::chrono_literals;
using http::sse::Event;
using http::sse::Parser;
using test::LocalServer;

namespace {

// The events of `stream` fed in pieces of `piece` bytes.
std::vector<Event> parse(std::string_view stream, std::size_t piece = 1 << 20,
                         Parser::Limits limits = {}) {
    Parser p(limits);
    std::vector<Event> out;
    for (std::size_t at = 0; at < stream.size(); at += piece) {
        REQUIRE(p.feed(stream.substr(at, piece), out));
    }
    return out;
}

// "type|data|id" per event, to compare whole lists at once.
std::vector<std::string> brief(const std::vector<Event>& events) {
    std::vector<std::string> out;
    for (const Event& e : events)
        out.push_back(e.type + "|" + e.data + "|" + e.id.value_or("-"));
    return out;
}

using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("sse parser: the standard's examples and rules", "[http][sse]") {
    // Several data lines make one data, joined by '\n'; the last event is not dispatched
    // until its blank line.
    CHECK(brief(parse("data: YHOO\ndata: +2\ndata: 10\n\n")) == Strings{"message|YHOO\n+2\n10|"});
    // A comment, then two events: the id persists to the next one.
    CHECK(brief(parse(": test stream\n\ndata: first event\nid: 1\n\n"
                      "data:second event\nid\n\ndata:  third event\n\n")) ==
          Strings{"message|first event|1", "message|second event|", "message| third event|"});
    // A field name alone is that field with an empty value; two empty data lines.
    CHECK(brief(parse("data\n\ndata\ndata\n\ndata:\n")) == Strings{"message||", "message|\n|"});
    // The event type, and its reset after each event.
    CHECK(brief(parse("event: add\ndata: 73857293\n\ndata: next\n\n")) ==
          Strings{"add|73857293|", "message|next|"});
    // An event with no data is not dispatched, and its type does not carry over.
    CHECK(brief(parse("event: lonely\n\ndata: x\n\n")) == Strings{"message|x|"});
    // CR, LF and CR LF all end lines, mixed.
    CHECK(brief(parse("data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r")) ==
          Strings{"message|a\nb\nc|", "message|d|"});
    // Unknown fields, a colon in the value, an id with NUL (ignored), retry.
    std::string in = "foo: bar\nid: 7\ndata: a:b\nretry: 2500\n\nid: x";
    in += '\0';
    in += "y\nretry: 12s\ndata: c\n\n";
    Parser p;
    std::vector<Event> out;
    REQUIRE(p.feed(in, out));
    REQUIRE(out.size() == 2);
    CHECK(out[0].data == "a:b");
    CHECK(out[0].id == "7");
    CHECK(out[0].retry == 2500ms);
    CHECK(out[1].id == "7");  // "x\0y" was ignored
    CHECK_FALSE(out[1].retry);
    CHECK(p.last_event_id() == "7");
    CHECK(p.retry() == 2500ms);
    // A huge retry is the longest time there is, not a wrapped one.
    REQUIRE(p.feed("retry: 99999999999999999999999\n", out));
    CHECK(p.retry() == std::chrono::milliseconds::max());
}

TEST_CASE("sse parser: an id counts only once its event's blank line came", "[http][sse]") {
    Parser p;
    std::vector<Event> out;
    REQUIRE(p.feed("data: x\nid: 5\n", out));  // cut off here: event 5 never came
    CHECK(out.empty());
    CHECK(p.last_event_id().empty());
    REQUIRE(p.feed("\n", out));
    REQUIRE(out.size() == 1);
    CHECK(out[0].id == "5");
    CHECK(p.last_event_id() == "5");
    REQUIRE(p.feed("id: 6\n\n", out));  // no data: nothing dispatched, but the id counts
    CHECK(out.size() == 1);
    CHECK(p.last_event_id() == "6");
    REQUIRE(p.feed("data: y\n\n", out));
    REQUIRE(out.size() == 2);
    CHECK(out[1].id == "6");
}

TEST_CASE("sse parser: any split of the input gives the same events", "[http][sse]") {
    const std::string stream =
        "\xEF\xBB\xBF"
        "event: one\r\ndata: first\r\ndata: line\r\nid: 1\r\n\r\n"
        ": comment\rdata: second\r\rdata: third\nid: 3\n\n"
        "data: cut off at the end";
    const Strings want{"one|first\nline|1", "message|second|1", "message|third|3"};
    for (std::size_t piece = 1; piece <= stream.size(); ++piece) {
        INFO("piece " << piece);
        CHECK(brief(parse(stream, piece)) == want);
    }
    // The mark is skipped once; a second one belongs to the field name (an unknown field).
    CHECK(brief(parse("\xEF\xBB\xBF\xEF\xBB\xBF"
                      "data: x\n\ndata: y\n\n")) == Strings{"message|y|"});
    // Bytes that only begin like a mark are content.
    CHECK(brief(parse("\xEF\xBB\n"
                      "data: z\n\n"
                      "\xEF\xBB\xBF"
                      "data: w\n\n",
                      1)) == Strings{"message|z|"});
}

TEST_CASE("sse parser: limits", "[http][sse]") {
    Parser::Limits small;
    small.max_line = 16;
    small.max_data = 20;
    Parser p(small);
    std::vector<Event> out;
    CHECK(p.feed("data: 0123456789\n\n", out));  // 16 bytes: at the limit
    CHECK(out.size() == 1);
    CHECK(p.feed("data: 0123456789\ndata: 012345678\n\n", out));  // data of 20 bytes: the limit
    REQUIRE(out.size() == 2);
    CHECK(out[1].data.size() == 20);
    auto r = p.feed("data: 01234567890", out);  // 17 bytes, no line end yet
    CHECK(r.error() == Errc::limit_exceeded);
    CHECK(p.feed("\n\n", out).error() == Errc::limit_exceeded);  // stays failed
    Parser q(small);
    out.clear();
    r = q.feed("data: aaaaaaaa\ndata: bbbbbbbb\ndata: ccc\n\n",
               out);  // data 8 + 1 + 8 + 1 + 3 > 20
    CHECK(r.error() == Errc::limit_exceeded);
    CHECK(out.empty());
}

TEST_CASE("sse: format_event is read back as it was written", "[http][sse]") {
    std::vector<Event> events(6);
    events[0].data = "plain";
    events[1].type = "update";
    events[1].data = "two\nlines";
    events[1].id = "41";
    events[2].data = "crlf\r\nand cr\rends";
    events[2].retry = 1500ms;
    events[3].data = "";  // an empty data line still makes an event
    events[4].id = "";    // an empty id resets the last event ID
    events[4].data = " leading space and trailing \n";
    events[5].type = "json";
    events[5].data = R"({"a": [1, 2], "b": "c:d"})";
    std::string wire;
    for (const Event& e : events)
        REQUIRE(http::sse::format_event(e, wire));
    http::sse::format_comment("keep\r\nalive", wire);
    CHECK(wire.find(": keep  alive\n") != std::string::npos);
    const auto got = parse(wire, 3);
    REQUIRE(got.size() == events.size());
    const Strings want{"message|plain|",
                       "update|two\nlines|41",
                       "message|crlf\nand cr\nends|41",
                       "message||41",
                       "message| leading space and trailing \n|",
                       "json|" + events[5].data + "|"};
    CHECK(brief(got) == want);
    CHECK(got[2].retry == 1500ms);

    std::string untouched = "x";
    Event bad;
    bad.type = "a\nb";
    CHECK(http::sse::format_event(bad, untouched).error() == std::errc::invalid_argument);
    bad.type = "";
    bad.id = "1\r";
    CHECK(http::sse::format_event(bad, untouched).error() == std::errc::invalid_argument);
    for (std::string id : {std::string("1\0", 2), std::string("a\x01"), std::string("del\x7f"),
                           std::string(" lead"), std::string("trail\t")}) {
        INFO(id);
        bad.id = id;
        CHECK(http::sse::format_event(bad, untouched).error() == std::errc::invalid_argument);
    }
    bad.id.reset();
    bad.retry = -1ms;
    CHECK(http::sse::format_event(bad, untouched).error() == std::errc::invalid_argument);
    CHECK(untouched == "x");
}

namespace {

// A route streaming `count` events from the request's Last-Event-ID + 1 on, with a
// comment first; after the first event it waits for `go` (when given).
http::Handler counter(int count, corio::Event* go) {
    return [count, go](http::Request& req) -> Task<http::Response> {
        int from = 1;
        if (auto last = req.header("Last-Event-ID")) from = std::stoi(std::string(*last)) + 1;
        co_return http::sse::response(
            [count, go, from](http::sse::Writer& w) -> Task<Result<void>> {
                auto ok = co_await w.comment("hello");
                if (!ok) co_return ok;
                for (int i = from; i < from + count; ++i) {
                    if (i == from + 1 && go != nullptr) (void)co_await go->wait();
                    const std::string id = std::to_string(i);
                    ok = co_await w.send("event " + id, "count", id);
                    if (!ok) co_return ok;
                }
                co_return Result<void>{};
            });
    };
}

}  // namespace

TEST_CASE("sse: a stream from a route to a client, and a resumed one", "[http][sse]") {
    test::run([](Loop&) -> Task<void> {
        http::Router router;
        router.get("/count", counter(3, nullptr));
        router.get("/plain", [](http::Request&) -> Task<http::Response> {
            co_return http::Response::text(200, "not events");
        });
        LocalServer srv(router);
        http::Client client;

        auto s = co_await http::sse::open(client, srv.url("/count"));
        REQUIRE(s);
        CHECK(s->headers().get("Cache-Control").value_or("") == "no-cache");
        http::sse::Reader events(*s);
        Strings got;
        for (;;) {
            auto e = co_await events.next();
            REQUIRE(e);
            if (!*e) break;
            got.push_back((*e)->type + "|" + (*e)->data + "|" + (*e)->id.value_or("-"));
        }
        CHECK(got == Strings{"count|event 1|1", "count|event 2|2", "count|event 3|3"});
        CHECK(events.last_event_id() == "3");
        auto after = co_await events.next();  // stays at the end
        REQUIRE(after);
        CHECK_FALSE(*after);

        // Resumed after id 3: the server sees Last-Event-ID and goes on from 4.
        s = co_await http::sse::open(client, srv.url("/count"), events.last_event_id());
        REQUIRE(s);
        http::sse::Reader more(*s);
        auto e = co_await more.next();
        REQUIRE(e);
        REQUIRE(*e);
        CHECK((*e)->data == "event 4");
        CHECK((*e)->id == "4");

        // Not an event stream: refused.
        auto plain = co_await http::sse::open(client, srv.url("/plain"));
        CHECK(plain.error() == std::errc::protocol_error);
        auto missing = co_await http::sse::open(client, srv.url("/nothing"));
        CHECK(missing.error() == std::errc::protocol_error);
        co_await srv.stop();
    });
}

TEST_CASE("sse: each event reaches the client at once, also through compress()", "[http][sse]") {
    for (bool compressed : {false, true}) {
        INFO("compressed " << compressed);
        test::run([compressed](Loop&) -> Task<void> {
            corio::Event go;  // the server's second event waits for the client's first
            http::Router router;
            router.get("/count", counter(2, &go));
            LocalServer srv(compressed ? http::compress(router) : http::Handler(router));
            http::Client client;
            auto s = co_await http::sse::open(client, srv.url("/count"));
            REQUIRE(s);
            CHECK(s->decoded() == compressed);
            http::sse::Reader events(*s);
            auto first = co_await events.next();  // without a flush this waits until the cap
            REQUIRE(first);
            REQUIRE(*first);
            CHECK((*first)->data == "event 1");
            go.set();
            auto second = co_await events.next();
            REQUIRE(second);
            REQUIRE(*second);
            CHECK((*second)->data == "event 2");
            auto end = co_await events.next();
            REQUIRE(end);
            CHECK_FALSE(*end);
            co_await srv.stop();
        });
    }
}

TEST_CASE("sse: a reader's limits, ids of events not yet given, a media type's case",
          "[http][sse]") {
    test::run([](Loop&) -> Task<void> {
        http::Router router;
        router.get("/raw", [](http::Request&) -> Task<http::Response> {
            auto resp = http::Response::stream(200, [](http::BodyWriter& w) -> Task<Result<void>> {
                auto ok = co_await w.write("id: 1\ndata: a\n\nid: 2\ndata: b\n\n");
                if (!ok) co_return ok;
                co_return co_await w.write("data: " + std::string(100, 'x') + "\n\n");
            });
            resp.set("Content-Type", "Text/Event-Stream; charset=utf-8");
            co_return resp;
        });
        router.get("/count", counter(1, nullptr));
        LocalServer srv(router);
        http::Client client;
        auto s = co_await http::sse::open(client, srv.url("/raw"));
        REQUIRE(s);
        Parser::Limits small;
        small.max_line = 32;
        http::sse::Reader events(*s, small);
        auto e = co_await events.next();
        REQUIRE(e);
        REQUIRE(*e);
        CHECK((*e)->data == "a");
        CHECK(events.last_event_id() == "1");  // event 2 is parsed, not given: resume from 1
        e = co_await events.next();
        REQUIRE(e);
        REQUIRE(*e);
        CHECK((*e)->data == "b");
        CHECK(events.last_event_id() == "2");
        e = co_await events.next();  // a line of 106 bytes
        CHECK(e.error() == Errc::limit_exceeded);
        e = co_await events.next();  // and so on
        CHECK(e.error() == Errc::limit_exceeded);

        // An id that could not be a field value is not sent: the server starts from 1.
        s = co_await http::sse::open(client, srv.url("/count"), std::string("x\x01y"));
        REQUIRE(s);
        http::sse::Reader from_start(*s);
        e = co_await from_start.next();
        REQUIRE(e);
        REQUIRE(*e);
        CHECK((*e)->id == "1");
        e = co_await from_start.next();
        REQUIRE(e);
        CHECK_FALSE(*e);
        e = co_await from_start.next();  // the end, again
        REQUIRE(e);
        CHECK_FALSE(*e);
        co_await srv.stop();
    });
}

TEST_CASE("sse: a writer refuses a bad field and sends nothing", "[http][sse]") {
    test::run([](Loop&) -> Task<void> {
        std::string body;
        http::BodyWriter sink([&body](std::string_view piece) -> Task<Result<void>> {
            body.append(piece);
            co_return Result<void>{};
        });
        http::sse::Writer w(sink);
        auto bad = co_await w.send("data", "two\nlines");
        CHECK(bad.error() == std::errc::invalid_argument);
        CHECK(body.empty());
        auto ok = co_await w.send("a\nb", "", std::string_view("7"));
        CHECK(ok);
        CHECK(body == "id: 7\ndata: a\ndata: b\n\n");
    });
}

namespace {

// A route that sends two events per connection: one without an id, then one with the next
// number after the request's Last-Event-ID; the first connection also sets a reconnection
// time of 1 ms. Records each request's Last-Event-ID ("-": none).
http::Handler pairs(Strings* seen) {
    return [seen](http::Request& req) -> Task<http::Response> {
        const auto last = req.header("Last-Event-ID");
        seen->push_back(last ? std::string(*last) : "-");
        const int next = last ? std::stoi(std::string(*last)) + 1 : 1;
        const bool first = !last;
        co_return http::sse::response([next, first](http::sse::Writer& w) -> Task<Result<void>> {
            Event plain;
            plain.data = "a" + std::to_string(next);
            if (first) plain.retry = 1ms;
            auto ok = co_await w.send(plain);
            if (!ok) co_return ok;
            const std::string id = std::to_string(next);
            co_return co_await w.send("b" + id, {}, id);
        });
    };
}

}  // namespace

TEST_CASE("sse: an EventSource reconnects with Last-Event-ID and goes on", "[http][sse]") {
    test::run([](Loop&) -> Task<void> {
        Strings seen;
        http::Router router;
        router.get("/pairs", pairs(&seen));
        LocalServer srv(router);
        http::Client client;
        {
            http::sse::EventSource source(client, srv.url("/pairs"));
            CHECK_FALSE(source.connected());
            CHECK(source.retry() == 3000ms);
            Strings got;
            for (int i = 0; i < 6; ++i) {
                auto e = co_await source.next();
                REQUIRE(e);
                got.push_back(e->data + "|" + e->id.value_or("-"));
            }
            // An event without an id carries the last one, across connections too.
            CHECK(got == Strings{"a1|", "b1|1", "a2|1", "b2|2", "a3|2", "b3|3"});
            CHECK(seen == Strings{"-", "1", "2"});
            CHECK(source.connections() == 3);
            CHECK(source.retry() == 1ms);  // the stream's, kept on later connections
            CHECK(source.last_event_id() == "3");
        }
        // Going on from an ID read before.
        http::sse::SourceOptions from7;
        from7.last_event_id = "7";
        http::sse::EventSource resumed(client, srv.url("/pairs"), from7);
        auto e = co_await resumed.next();
        REQUIRE(e);
        CHECK(e->data == "a8");
        CHECK(e->id == "7");
        CHECK(seen.back() == "7");
        co_await srv.stop();
    });
}

TEST_CASE("sse: an EventSource stops at an answer that is not a stream, or past a limit",
          "[http][sse]") {
    test::run([](Loop&) -> Task<void> {
        http::Router router;
        router.get("/gone",
                   [](http::Request&) -> Task<http::Response> { co_return http::Response(204); });
        router.get("/long", [](http::Request&) -> Task<http::Response> {
            co_return http::sse::response([](http::sse::Writer& w) -> Task<Result<void>> {
                auto ok = co_await w.send("short");
                if (!ok) co_return ok;
                co_return co_await w.send(std::string(100, 'x'));
            });
        });
        LocalServer srv(router);
        http::Client client;
        {
            http::sse::EventSource gone(client, srv.url("/gone"));
            for (int i = 0; i < 2; ++i) {  // and it stays stopped
                auto e = co_await gone.next();
                CHECK(e.error() == std::errc::protocol_error);
            }
            CHECK(gone.connections() == 0);

            http::sse::SourceOptions small;
            small.limits.max_line = 32;
            small.retry = 1ms;
            http::sse::EventSource long_lines(client, srv.url("/long"), small);
            auto e = co_await long_lines.next();
            REQUIRE(e);
            CHECK(e->data == "short");
            for (int i = 0; i < 2; ++i) {  // no reconnect: the line would come again
                e = co_await long_lines.next();
                CHECK(e.error() == Errc::limit_exceeded);
            }
            CHECK(long_lines.connections() == 1);
        }
        co_await srv.stop();
    });
}

TEST_CASE("sse: an EventSource gives up after max_failures attempts that fail to connect",
          "[http][sse]") {
    test::run([](Loop&) -> Task<void> {
        net::Address addr;
        {
            auto l = net::TcpListener::bind(net::Address::loopback_v4(0));
            REQUIRE(l);
            addr = l->local_address().value();
        }  // closed: nobody listens on that port now
        http::Client client;
        http::sse::SourceOptions opts;
        opts.retry = 1ms;  // the waits start from 100 ms: the floor
        opts.max_failures = 3;
        http::sse::EventSource source(client, "http://" + addr.to_string() + "/", opts);
        const TimePoint t0 = Loop::current().now();
        auto e = co_await source.next();
        CHECK(e.error() == std::errc::connection_refused);
        CHECK(Loop::current().now() - t0 >= 300ms);  // two waits: 100 and 200 ms, plus jitter
        CHECK(source.connections() == 0);
        e = co_await source.next();  // stays stopped, at once
        CHECK(e.error() == std::errc::connection_refused);
    });
}

TEST_CASE("sse: a cancelled EventSource::next() keeps the stream; the next call goes on",
          "[http][sse]") {
    test::run([](Loop& loop) -> Task<void> {
        corio::Event go;  // the server's second event of each connection waits for it
        http::Router router;
        router.get("/count", counter(2, &go));
        LocalServer srv(router);
        http::Client client;
        {
            http::sse::SourceOptions opts;
            opts.retry = 1ms;
            http::sse::EventSource source(client, srv.url("/count"), opts);
            auto e = co_await source.next();
            REQUIRE(e);
            CHECK(e->data == "event 1");
            auto waiting = loop.spawn(source.next());  // reads, the server waits for `go`
            co_await test::yield_turns();
            waiting.cancel();
            auto cancelled = co_await waiting;
            CHECK(cancelled.error() == std::errc::operation_canceled);
            CHECK(source.connected());
            go.set();
            e = co_await source.next();
            REQUIRE(e);
            CHECK(e->data == "event 2");
            e = co_await source.next();  // a new connection, from Last-Event-ID 2
            REQUIRE(e);
            CHECK(e->data == "event 3");
            CHECK(source.connections() == 2);
        }
        co_await srv.stop();
    });
}

TEST_CASE("sse: a draining server ends its event streams cleanly, also through compress()",
          "[http][sse]") {
    for (bool compressed : {false, true}) {
        INFO("compressed " << compressed);
        test::run([compressed](Loop& loop) -> Task<void> {
            corio::Event never;
            std::error_code producer_saw, goodbye;
            http::Router router;
            router.get(
                "/feed", [&never, &producer_saw, &goodbye](http::Request&) -> Task<http::Response> {
                    co_return http::sse::response([&never, &producer_saw, &goodbye](
                                                      http::sse::Writer& w) -> Task<Result<void>> {
                        auto ok = co_await w.send("first");
                        if (!ok) co_return ok;
                        auto woke = co_await never.wait();  // until the server drains
                        if (!woke) producer_saw = woke.error();
                        auto last = co_await w.send("goodbye");  // refused: nothing goes out
                        if (!last) goodbye = last.error();
                        co_return last;
                    });
                });
            http::ServerOptions so;
            so.grace = 1h;  // the stream ends because of the drain, not after the grace
            LocalServer srv(compressed ? http::compress(router) : http::Handler(router), so);
            http::Client client;
            auto s = co_await http::sse::open(client, srv.url("/feed"));
            REQUIRE(s);
            CHECK(s->decoded() == compressed);
            http::sse::Reader events(*s);
            auto e = co_await events.next();
            REQUIRE(e);
            REQUIRE(*e);
            CHECK((*e)->data == "first");
            auto stopping = loop.spawn(srv.stop());
            e = co_await events.next();
            REQUIRE(e);       // not an error: the stream ended as a stream does
            CHECK_FALSE(*e);  // so a client reconnects at once
            co_await stopping;
            CHECK(producer_saw == std::errc::operation_canceled);
            CHECK(goodbye == std::errc::operation_canceled);
        });
    }
}

TEST_CASE("sse: an EventSource follows redirects, backs off after streams without events",
          "[http][sse]") {
    test::run([](Loop& loop) -> Task<void> {
        int requests = 0;
        http::Router router;
        router.get("/moved", [](http::Request&) -> Task<http::Response> {
            http::Response r(307);
            r.set("Location", "/feed");
            co_return r;
        });
        router.get("/loop", [](http::Request&) -> Task<http::Response> {
            http::Response r(302);
            r.set("Location", "/loop");
            co_return r;
        });
        router.get("/other", [](http::Request&) -> Task<http::Response> {
            http::Response r(301);
            r.set("Location", "mailto:x@example.com");
            co_return r;
        });
        // The first two streams end before any event; the third sends one, with a
        // reconnection time beyond what a client takes.
        router.get("/feed", [&requests](http::Request&) -> Task<http::Response> {
            const bool give = ++requests >= 3;
            co_return http::sse::response([give](http::sse::Writer& w) -> Task<Result<void>> {
                if (!give) co_return Result<void>{};
                Event e;
                e.data = "at last";
                e.retry = std::chrono::milliseconds(99'999'999'999'999);
                co_return co_await w.send(e);
            });
        });
        LocalServer srv(router);
        http::Client client;
        {
            http::sse::SourceOptions opts;
            opts.retry = 1ms;
            http::sse::EventSource source(client, srv.url("/moved"), opts);
            const TimePoint t0 = loop.now();
            auto e = co_await source.next();
            REQUIRE(e);
            CHECK(e->data == "at last");
            CHECK(requests == 3);
            CHECK(source.connections() == 3);
            // Streams that gave no event back off as failed attempts: 100 ms, then 200 ms.
            CHECK(loop.now() - t0 >= 300ms);
            CHECK(source.retry() == std::chrono::hours(24));  // taken at most a day

            http::sse::EventSource looping(client, srv.url("/loop"));
            e = co_await looping.next();
            CHECK(e.error() == std::errc::too_many_links);
            http::sse::EventSource elsewhere(client, srv.url("/other"));
            e = co_await elsewhere.next();
            CHECK(e.error() == std::errc::protocol_error);
        }
        co_await srv.stop();
    });
}

namespace {

// Comments until *done, from a task beside the producer's; *beats = -1 when one fails.
Task<void> heartbeat(http::sse::Writer* w, const bool* done, int* beats) {
    while (!*done) {
        auto ok = co_await w->comment("beat");
        if (!ok) {
            *beats = -1;
            co_return;
        }
        ++*beats;
        co_await yield();
    }
}

// 40 events of 64 KiB (each fills the socket now and then, so a send waits) while a heartbeat
// task sends comments on the same Writer.
Task<Result<void>> events_and_heartbeat(http::sse::Writer& w, int* beats) {
    bool done = false;
    TaskGroup g;
    g.spawn(heartbeat(&w, &done, beats));
    while (*beats == 0)  // the heartbeat is under way before the first event
        co_await yield();
    if (*beats < 0) co_return std::errc::io_error;
    Result<void> r;
    for (int i = 0; i < 40 && r; ++i)
        r = co_await w.send(std::string(64 * 1024, char('a' + i % 26)), {}, std::to_string(i));
    done = true;
    co_await g.wait();
    co_return r;
}

}  // namespace

TEST_CASE("sse: a heartbeat task and the events share a Writer; each goes out whole",
          "[http][sse]") {
    test::run([](Loop&) -> Task<void> {
        int beats = 0;
        http::Router router;
        router.get("/busy", [&beats](http::Request&) -> Task<http::Response> {
            co_return http::sse::response(
                [&beats](http::sse::Writer& w) { return events_and_heartbeat(w, &beats); });
        });
        LocalServer srv(router);
        http::Client client;
        auto s = co_await http::sse::open(client, srv.url("/busy"));
        REQUIRE(s);
        http::sse::Parser::Limits big;
        big.max_line = big.max_data = 1 << 20;
        http::sse::Reader events(*s, big);
        for (int i = 0; i < 40; ++i) {
            auto e = co_await events.next();
            REQUIRE(e);
            REQUIRE(*e);
            CHECK((*e)->id == std::to_string(i));
            CHECK((*e)->data == std::string(64 * 1024, char('a' + i % 26)));
        }
        auto end = co_await events.next();
        REQUIRE(end);
        CHECK_FALSE(*end);
        CHECK(beats > 0);
        co_await srv.stop();
    });
}

TEST_CASE("sse: a heartbeat keeps a quiet stream talking", "[http][sse]") {
    test::run([](Loop&) -> Task<void> {
        std::uint64_t beats_seen = 0;
        http::Router router;
        router.get("/quiet", [&beats_seen](http::Request&) -> Task<http::Response> {
            co_return http::sse::response(
                [&beats_seen](http::sse::Writer& w) -> Task<Result<void>> {
                    auto ok = co_await w.send("first");
                    if (!ok) co_return ok;
                    while (w.heartbeats() < 3) {  // quiet until three heartbeats went out
                        const bool slept = co_await sleep_for(1ms);
                        if (!slept) co_return std::errc::operation_canceled;
                    }
                    beats_seen = w.heartbeats();
                    co_return co_await w.send("second");
                },
                2ms);
        });
        router.get("/plain", [](http::Request&) -> Task<http::Response> {
            co_return http::sse::response([](http::sse::Writer& w) -> Task<Result<void>> {
                co_return co_await w.send("only");
            });
        });
        LocalServer srv(router);
        http::Client client;
        http::ClientRequest req;
        req.url = srv.url("/quiet");
        auto s = co_await client.open(req);
        REQUIRE(s);
        auto raw = co_await s->read_all(1 << 20);
        REQUIRE(raw);
        CHECK(beats_seen >= 3);
        // The comments came between the two events, and the events parse as sent.
        const std::size_t first = raw->find("data: first\n\n");
        const std::size_t second = raw->find("data: second\n\n");
        REQUIRE(first != std::string::npos);
        REQUIRE(second != std::string::npos);
        std::size_t comments = 0;
        for (std::size_t at = first; (at = raw->find("\n: \n", at)) < second; ++at)
            ++comments;
        CHECK(comments >= 3);
        CHECK(brief(parse(*raw)) == Strings{"message|first|", "message|second|"});
        // Without a heartbeat: no comment.
        req.url = srv.url("/plain");
        s = co_await client.open(req);
        REQUIRE(s);
        raw = co_await s->read_all(1 << 20);
        REQUIRE(raw);
        CHECK(*raw == "data: only\n\n");
        co_await srv.stop();
    });
}

}  // namespace http_sse_test
