// Name resolution on the blocking pool, both backends.
#include "net_support.hpp"

namespace net_resolve_test {

using namespace corio;

TEST_CASE("resolve localhost", "[net][resolve]") {
    test::run([](Loop&) -> Task<void> {
        auto r = co_await net::resolve("localhost", 8080);
        REQUIRE(r);
        REQUIRE(!r->empty());
        for (auto& a : *r) {
            CHECK(a.port() == 8080);
            CHECK(a.is_loopback());
        }
    });
}

TEST_CASE("resolve numeric addresses and families", "[net][resolve]") {
    test::run([](Loop&) -> Task<void> {
        auto r = co_await net::resolve("127.0.0.1", 80);
        REQUIRE(r);
        REQUIRE(r->size() == 1);
        CHECK((*r)[0].to_string() == "127.0.0.1:80");
        net::ResolveOptions o;
        o.family = AF_INET;
        auto v4 = co_await net::resolve("localhost", 1, o);
        REQUIRE(v4);
        for (auto& a : *v4)
            CHECK(a.is_ipv4());
    });
}

TEST_CASE("resolve failure names the host", "[net][resolve]") {
    test::run([](Loop&) -> Task<void> {
        net::ResolveOptions o;
        o.numeric_only = true;  // no DNS here: a name that is not numeric fails at once
        auto r = co_await net::resolve("not-a-number.invalid", 80, o);
        REQUIRE(!r);
        CHECK(r.error().category() == net::resolve_category());
        std::string text = net::describe("resolve", "not-a-number.invalid:80", r.error());
        CHECK(text.starts_with("resolve not-a-number.invalid:80: "));
        CHECK(text.size() > std::string("resolve not-a-number.invalid:80: ").size());
    });
}

}  // namespace net_resolve_test
