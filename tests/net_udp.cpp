// UDP on both backends.
#include <array>

#include "net_support.hpp"

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
