// BufferedReader on both backends.
#include <array>

#include "net_support.hpp"

namespace net_buffered_test {

using namespace corio;
using namespace std::chrono_literals;
using test::bytes;
using test::chars;

TEST_CASE("read_line splits lines and strips line ends", "[net][buffered]") {
    test::run([](Loop&) -> Task<void> {
        auto p = net::unix_pair();
        REQUIRE(p);
        auto& [a, b] = *p;
        auto w = co_await a.send_all(bytes("first\r\nsecond\nthird"));
        REQUIRE(w);
        net::BufferedReader r(b, 16);
        auto l1 = co_await r.read_line(64);
        REQUIRE(l1);
        CHECK(*l1 == "first");
        auto l2 = co_await r.read_line(64);
        REQUIRE(l2);
        CHECK(*l2 == "second");
        auto writer = [](net::UnixStream* a) -> Task<void> {
            co_await sleep_for(10ms);
            auto w = co_await a->send_all(bytes(" line, longer than the buffer\n"));
            REQUIRE(w);
            a->close();
        };
        auto reader = [](net::BufferedReader* r) -> Task<std::string> {
            auto l = co_await r->read_line(128);
            REQUIRE(l);
            co_return std::string(*l);
        };
        auto [_, l3] = co_await when_all(writer(&a), reader(&r));
        CHECK(l3 == "third line, longer than the buffer");
        auto l4 = co_await r.read_line(64);
        REQUIRE(!l4);
        CHECK(l4.error() == Errc::eof);
    });
}

TEST_CASE("read_until enforces its limit", "[net][buffered]") {
    test::run([](Loop&) -> Task<void> {
        auto p = net::unix_pair();
        REQUIRE(p);
        auto& [a, b] = *p;
        auto w = co_await a.send_all(bytes("0123456789abcdef;tail;"));
        REQUIRE(w);
        net::BufferedReader r(b);
        auto x = co_await r.read_until(';', 8);
        REQUIRE(!x);
        CHECK(x.error() == Errc::limit_exceeded);
        auto y = co_await r.read_until(';', 64);  // the bytes stayed buffered
        REQUIRE(y);
        CHECK(*y == "0123456789abcdef;");
        auto z = co_await r.read_until(';', 5);  // exactly at the limit
        REQUIRE(z);
        CHECK(*z == "tail;");
    });
}

TEST_CASE("read_exact and read_some mix buffered and fresh bytes", "[net][buffered]") {
    test::run([](Loop&) -> Task<void> {
        auto p = co_await test::tcp_pair();
        REQUIRE(p);
        auto& [c, s] = *p;
        auto w = co_await c.send_all(bytes("HEAD\nbody-bytes-0123456789"));
        REQUIRE(w);
        net::BufferedReader r(s);
        auto h = co_await r.read_line(16);
        REQUIRE(h);
        CHECK(*h == "HEAD");
        std::array<std::byte, 4> four;
        auto s1 = co_await r.read_some(four);  // the rest of what was buffered, up to 4
        REQUIRE(s1);
        REQUIRE(*s1 > 0);
        CHECK(chars(std::span(four).first(*s1)) == std::string_view("body").substr(0, *s1));
        std::string rest(21 - *s1, '\0');
        auto e = co_await r.read_exact(std::as_writable_bytes(std::span(rest)));
        REQUIRE(e);
        CHECK(rest == std::string_view("body-bytes-0123456789").substr(*s1));
        c.close();
        std::array<std::byte, 4> more;
        auto eof = co_await r.read_exact(more);
        REQUIRE(!eof);
        CHECK(eof.error() == Errc::eof);
    });
}

}  // namespace net_buffered_test
