// Address parsing and formatting (no descriptors).
#include <catch2/catch.hpp>

#include <corio/net/address.hpp>

namespace net_address_test {

using corio::net::Address;
namespace net = corio::net;

TEST_CASE("parse and format IPv4", "[net][address]") {
    auto a = Address::parse("127.0.0.1:80");
    REQUIRE(a);
    CHECK(a->is_ipv4());
    CHECK(a->port() == 80);
    CHECK(a->to_string() == "127.0.0.1:80");
    CHECK(a->host() == "127.0.0.1");
    CHECK(a->is_loopback());
    CHECK(fmt::format("{}", *a) == "127.0.0.1:80");
    CHECK(*a == Address::loopback_v4(80));
    CHECK(a->with_port(81).to_string() == "127.0.0.1:81");
}

TEST_CASE("parse and format IPv6", "[net][address]") {
    auto a = Address::parse("[::1]:8080");
    REQUIRE(a);
    CHECK(a->is_ipv6());
    CHECK(a->port() == 8080);
    CHECK(a->to_string() == "[::1]:8080");
    CHECK(*a == Address::loopback_v6(8080));
    auto b = Address::parse("[2001:db8::1]:443");
    REQUIRE(b);
    CHECK(b->to_string() == "[2001:db8::1]:443");
    CHECK(!b->is_loopback());
    auto z = Address::parse("[fe80::1%1]:9");
    REQUIRE(z);
    CHECK(z->to_string().starts_with("[fe80::1%"));
}

TEST_CASE("parse Unix addresses", "[net][address]") {
    auto p = Address::parse("unix:/run/x.sock");
    REQUIRE(p);
    CHECK(p->is_unix());
    CHECK(p->to_string() == "unix:/run/x.sock");
    CHECK(p->port() == 0);
    auto a = Address::parse("unix:@abstract-name");
    REQUIRE(a);
    CHECK(a->to_string() == "unix:@abstract-name");
    CHECK(*a == Address::unix_abstract("abstract-name").value());
    CHECK(!Address::unix_path(std::string(200, 'x')));
}

TEST_CASE("malformed addresses are rejected", "[net][address]") {
    for (const char* s :
         {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "1.2.3:80", "::1:80",
          "[::1]", "[::1]80", "[127.0.0.1]:80", "localhost:80", "unix:", "1.2.3.4:80x"}) {
        INFO(s);
        auto a = Address::parse(s);
        CHECK(!a);
    }
}

TEST_CASE("empty address and describe", "[net][address]") {
    Address e;
    CHECK(e.empty());
    CHECK(e.to_string() == "(unspecified)");
    auto ec = std::make_error_code(std::errc::connection_refused);
    std::error_code sys(ECONNREFUSED, std::system_category());
    CHECK(corio::net::describe("connect", Address::loopback_v4(9), sys) ==
          "connect 127.0.0.1:9: Connection refused");
    CHECK(sys == std::errc::connection_refused);
    (void)ec;
}

TEST_CASE("parse errors say what was wrong", "[net][address]") {
    struct Case {
        const char* text;
        net::AddressErrc why;
    };
    for (Case c : {Case{"x:99999", net::AddressErrc::port_out_of_range},
                   Case{"127.0.0.1:65536", net::AddressErrc::port_out_of_range},
                   Case{"127.0.0.1:8o", net::AddressErrc::bad_port},
                   Case{"127.0.0.1:", net::AddressErrc::bad_port},
                   Case{"127.0.0.1", net::AddressErrc::missing_port},
                   Case{"localhost:80", net::AddressErrc::not_an_ip},
                   Case{"::1:80", net::AddressErrc::ipv6_needs_brackets},
                   Case{"[::1:80", net::AddressErrc::bad_brackets},
                   Case{"[127.0.0.1]:80", net::AddressErrc::not_ipv6},
                   Case{"unix:", net::AddressErrc::empty_unix_path}}) {
        INFO(c.text);
        auto a = net::Address::parse(c.text);
        REQUIRE(!a);
        CHECK(a.error() == c.why);
        CHECK(a.error() == std::errc::invalid_argument);  // still comparable as before
    }
    auto a = net::Address::parse("x:99999");
    REQUIRE(!a);
    CHECK(net::describe_parse("x:99999", a.error()) ==
          "parse address 'x:99999': port out of range (0-65535)");
}

}  // namespace net_address_test
