// UDP on both backends.
#include <array>

#include "net_support.hpp"

namespace net_udp_test {

using namespace corio;
using namespace std::chrono_literals;
using test::bytes;
using test::chars;

TEST_CASE("UDP send_to / recv_from", "[net][udp]") {
    test::run([](Loop&) -> Task<void> {
        auto a = net::UdpSocket::bind(net::Address::loopback_v4(0));
        auto b = net::UdpSocket::bind(net::Address::loopback_v4(0));
        REQUIRE(a);
        REQUIRE(b);
        auto aa = a->local_address().value();
        auto ba = b->local_address().value();
        auto s = co_await a->send_to(bytes("hello"), ba);
        REQUIRE(s);
        CHECK(*s == 5);
        std::array<std::byte, 64> buf;
        auto d = co_await b->recv_from(buf);
        REQUIRE(d);
        CHECK(d->size == 5);
        CHECK(d->from == aa);
        CHECK(chars(std::span(buf).first(d->size)) == "hello");
    });
}

TEST_CASE("UDP connected send / recv, and a receive that waits", "[net][udp]") {
    test::run([](Loop&) -> Task<void> {
        auto a = net::UdpSocket::bind(net::Address::loopback_v4(0));
        auto b = net::UdpSocket::bind(net::Address::loopback_v4(0));
        REQUIRE(a);
        REQUIRE(b);
        REQUIRE(a->connect(b->local_address().value()));
        REQUIRE(b->connect(a->local_address().value()));
        auto waiter = [](net::UdpSocket* b) -> Task<std::string> {
            std::array<std::byte, 64> buf;
            auto n = co_await b->recv(buf);
            REQUIRE(n);
            auto m = co_await b->recv(buf);  // a second datagram, not merged
            REQUIRE(m);
            co_return std::string(chars(std::span(buf).first(*m)));
        };
        auto sender = [](net::UdpSocket* a) -> Task<void> {
            co_await sleep_for(10ms);
            auto r1 = co_await a->send(bytes("one"));
            REQUIRE(r1);
            auto r2 = co_await a->send(bytes("two"));
            REQUIRE(r2);
        };
        auto [got, _] = co_await when_all(waiter(&*b), sender(&*a));
        CHECK(got == "two");
        std::array<std::byte, 8> buf;
        auto t = co_await b->recv(buf).timeout(20ms);
        REQUIRE(!t);
        CHECK(t.error() == std::errc::timed_out);
    });
}

TEST_CASE("UDP over IPv6 loopback", "[net][udp][ipv6]") {
    test::run([](Loop&) -> Task<void> {
        auto a = net::UdpSocket::bind(net::Address::loopback_v6(0));
        if (!a) {
            WARN("no IPv6 loopback: " << a.error().message());
            co_return;
        }
        auto b = net::UdpSocket::bind(net::Address::loopback_v6(0));
        REQUIRE(b);
        auto s = co_await a->send_to(bytes("v6"), b->local_address().value());
        REQUIRE(s);
        std::array<std::byte, 8> buf;
        auto d = co_await b->recv_from(buf);
        REQUIRE(d);
        CHECK(d->from.is_ipv6());
        CHECK(d->from == a->local_address().value());
    });
}

TEST_CASE("UDP bind: a taken port is refused unless both sockets reuse it", "[net][udp]") {
    test::run([](Loop&) -> Task<void> {
        auto a = net::UdpSocket::bind(net::Address::loopback_v4(0));
        REQUIRE(a);
        const auto taken = a->local_address().value();
        auto b = net::UdpSocket::bind(taken);
        REQUIRE_FALSE(b);
        CHECK(b.error() == std::errc::address_in_use);
        // Both with SO_REUSEPORT: they share the port.
        auto c = net::UdpSocket::bind(net::Address::loopback_v4(0), true);
        REQUIRE(c);
        auto d = net::UdpSocket::bind(c->local_address().value(), true);
        REQUIRE(d);
        CHECK(d->local_address().value() == c->local_address().value());
        // A connect to an address of the other family is refused, not sent.
        auto e = net::UdpSocket::open(AF_INET);
        REQUIRE(e);
        auto r = e->connect(net::Address::loopback_v6(taken.port()));
        CHECK_FALSE(r);
        co_return;
    });
}

TEST_CASE("a datagram longer than the buffer is reported as truncated", "[net][udp]") {
    test::run([](Loop&) -> Task<void> {
        auto a = net::UdpSocket::bind(net::Address::loopback_v4(0));
        auto b = net::UdpSocket::bind(net::Address::loopback_v4(0));
        REQUIRE(a);
        REQUIRE(b);
        auto ba = b->local_address().value();
        // One that does not fit, then one that does: both on the queue before
        // the first receive (one may complete at once, one after a wait).
        auto s = co_await a->send_to(bytes("twelve bytes"), ba);
        REQUIRE(s);
        auto s2 = co_await a->send_to(bytes("fits"), ba);
        REQUIRE(s2);
        std::array<std::byte, 6> buf;
        auto d = co_await b->recv_from(buf);
        REQUIRE(d);
        CHECK(d->truncated);
        CHECK(d->size == 6);
        CHECK(d->full_size == 12);
        CHECK(chars(std::span(buf).first(d->size)) == "twelve");
        auto d2 = co_await b->recv_from(buf);
        REQUIRE(d2);
        CHECK(!d2->truncated);
        CHECK(d2->size == 4);
        CHECK(d2->full_size == 4);
        // And a receive that waits for a datagram that does not fit.
        auto late = [](net::UdpSocket* a, net::Address to) -> Task<void> {
            co_await yield();
            auto r = co_await a->send_to(bytes("far too long for it"), to);
            REQUIRE(r);
        };
        auto waiting = [](net::UdpSocket* b,
                          std::span<std::byte> buf) -> Task<Result<net::Datagram>> {
            co_return co_await b->recv_from(buf);
        };
        auto both = co_await when_all(waiting(&*b, buf), late(&*a, ba));
        auto& d3 = std::get<0>(both);
        REQUIRE(d3);
        CHECK(d3->truncated);
        CHECK(d3->size == 6);
        CHECK(d3->full_size == 19);
    });
}

}  // namespace net_udp_test
