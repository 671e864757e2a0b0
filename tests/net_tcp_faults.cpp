// TCP failure paths on both backends: resets, refusal, timeouts, cancellation.
#include <array>
#include <vector>

#include "net_support.hpp"

namespace net_tcp_faults_test {

using namespace corio;
using namespace std::chrono_literals;
using test::bytes;

TEST_CASE("reset by peer while reading", "[net][tcp][faults]") {
    test::run([](Loop&) -> Task<void> {
        auto p = co_await test::tcp_pair();
        REQUIRE(p);
        auto& [c, s] = *p;
        auto reader = [](net::TcpStream* c) -> Task<Result<std::size_t>> {
            std::array<std::byte, 64> buf;
            co_return co_await c->recv(buf);
        };
        auto resetter = [](net::TcpStream* s) -> Task<void> {
            co_await sleep_for(20ms);
            REQUIRE(s->set_linger_reset());
            s->close();
        };
        auto [r, _] = co_await when_all(reader(&c), resetter(&s));
        REQUIRE(!r);
        CHECK(r.error() == std::errc::connection_reset);
    });
}

TEST_CASE("reset by peer while writing gives EPIPE/ECONNRESET, no SIGPIPE", "[net][tcp][faults]") {
    test::run([](Loop&) -> Task<void> {
        auto p = co_await test::tcp_pair();
        REQUIRE(p);
        auto& [c, s] = *p;
        auto writer = [](net::TcpStream* c) -> Task<std::error_code> {
            std::vector<std::byte> chunk(1 << 20);
            for (int i = 0; i < 1000; ++i) {
                auto r = co_await c->send_all(chunk);
                if (!r) co_return r.error();
            }
            co_return std::error_code();
        };
        auto resetter = [](net::TcpStream* s) -> Task<void> {
            co_await sleep_for(20ms);
            REQUIRE(s->set_linger_reset());
            s->close();
        };
        auto [ec, _] = co_await when_all(writer(&c), resetter(&s));
        INFO(ec.message());
        CHECK((ec == std::errc::broken_pipe || ec == std::errc::connection_reset));
        // A second write after the reset: still an error value, still alive.
        auto again = co_await c.send(bytes("x"));
        CHECK(!again);
    });
}

TEST_CASE("connection refused reads as a sentence", "[net][tcp][faults]") {
    test::run([](Loop&) -> Task<void> {
        net::Address addr;
        {
            auto l = net::TcpListener::bind(net::Address::loopback_v4(0));
            REQUIRE(l);
            addr = l->local_address().value();
        }  // closed: nobody listens on that port now
        auto s = co_await net::TcpStream::connect(addr);
        REQUIRE(!s);
        CHECK(s.error() == std::errc::connection_refused);
        std::string text = net::describe("connect", addr, s.error());
        CHECK(text == "connect " + addr.to_string() + ": Connection refused");
    });
}

TEST_CASE("a read times out", "[net][tcp][faults]") {
    test::run([](Loop&) -> Task<void> {
        auto p = co_await test::tcp_pair();
        REQUIRE(p);
        std::array<std::byte, 16> buf;
        auto t0 = Clock::now();
        auto r = co_await p->first.recv(buf).timeout(50ms);
        REQUIRE(!r);
        CHECK(r.error() == std::errc::timed_out);
        CHECK(Clock::now() - t0 >= 45ms);
        auto r2 = co_await with_timeout(p->first.recv(buf), 30ms);
        REQUIRE(!r2);
        CHECK(r2.error() == std::errc::timed_out);
        auto r3 = co_await with_timeout(p->first.read_exact(buf), 30ms);
        REQUIRE(!r3);
        CHECK(r3.error() == std::errc::timed_out);
        // The stream still works afterwards.
        auto w = co_await p->second.send_all(bytes("late"));
        REQUIRE(w);
        auto n = co_await p->first.recv(buf);
        REQUIRE(n);
        CHECK(*n == 4);
    });
}

TEST_CASE("cancel a pending accept, then accept again", "[net][tcp][faults]") {
    test::run([](Loop& loop) -> Task<void> {
        auto l = net::TcpListener::bind(net::Address::loopback_v4(0));
        REQUIRE(l);
        auto acc = [](net::TcpListener* l) -> Task<Result<net::TcpStream>> {
            co_return co_await l->accept();
        };
        auto h = loop.spawn(acc(&*l));
        co_await sleep_for(20ms);
        h.cancel();
        auto r = co_await h;
        REQUIRE(!r);
        CHECK(r.error() == std::errc::operation_canceled);
        auto addr = l->local_address().value();
        auto [c, s] = co_await when_all(net::TcpStream::connect(addr), l->accept());
        REQUIRE(c);
        REQUIRE(s);
        // with_timeout on accept too.
        auto t = co_await with_timeout(l->accept(), 20ms);
        REQUIRE(!t);
        CHECK(t.error() == std::errc::timed_out);
    });
}

TEST_CASE("cancel a pending read", "[net][tcp][faults]") {
    test::run([](Loop& loop) -> Task<void> {
        auto p = co_await test::tcp_pair();
        REQUIRE(p);
        auto rd = [](net::TcpStream* s) -> Task<Result<std::size_t>> {
            std::array<std::byte, 16> buf;
            co_return co_await s->recv(buf);
        };
        auto h = loop.spawn(rd(&p->first));
        co_await sleep_for(20ms);
        h.cancel();
        auto r = co_await h;
        REQUIRE(!r);
        CHECK(r.error() == std::errc::operation_canceled);
    });
}

TEST_CASE("cancel and time out a connect that cannot complete", "[net][tcp][faults]") {
    test::run([](Loop& loop) -> Task<void> {
        // A listener that never accepts, with the smallest backlog: once its
        // queue is full the kernel drops further SYNs and connect hangs.
        net::ListenOptions o;
        o.backlog = 0;
        auto l = net::TcpListener::bind(net::Address::loopback_v4(0), o);
        REQUIRE(l);
        auto addr = l->local_address().value();
        std::vector<net::TcpStream> held;
        bool hung = false;
        for (int i = 0; i < 16 && !hung; ++i) {
            auto s = co_await net::TcpStream::connect(addr, 200ms);
            if (s) {
                held.push_back(std::move(*s));
            } else {
                REQUIRE(s.error() == std::errc::timed_out);
                hung = true;
            }
        }
        REQUIRE(hung);
        auto conn = [](net::Address a) -> Task<Result<net::TcpStream>> {
            co_return co_await net::TcpStream::connect(a);
        };
        auto h = loop.spawn(conn(addr));
        co_await sleep_for(30ms);
        h.cancel();
        auto r = co_await h;
        REQUIRE(!r);
        CHECK(r.error() == std::errc::operation_canceled);
        auto w = co_await with_timeout(net::TcpStream::connect(addr), 50ms);
        REQUIRE(!w);
        CHECK(w.error() == std::errc::timed_out);
    });
}

}  // namespace net_tcp_faults_test
