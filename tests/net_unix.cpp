// Unix stream sockets on both backends: path, abstract, socketpair.
#include <unistd.h>

#include <array>

#include "net_support.hpp"

using namespace corio;
using namespace std::chrono_literals;
using test::bytes;
using test::chars;

namespace {
Task<void> unix_echo_once(net::Address addr) {
    auto l = net::UnixListener::bind(addr);
    REQUIRE(l);
    CHECK(l->local_address().value() == addr);
    auto client = [](net::Address a) -> Task<std::string> {
        auto s = co_await net::UnixStream::connect(a);
        REQUIRE(s);
        auto w = co_await s->send_all(bytes("over unix"));
        REQUIRE(w);
        std::array<std::byte, 9> buf;
        auto r = co_await s->read_exact(buf);
        REQUIRE(r);
        co_return std::string(chars(buf));
    };
    auto server = [](net::UnixListener* l) -> Task<void> {
        auto s = co_await l->accept();
        REQUIRE(s);
        std::array<std::byte, 9> buf;
        auto r = co_await s->read_exact(buf);
        REQUIRE(r);
        auto w = co_await s->send_all(buf);
        REQUIRE(w);
    };
    auto [got, _] = co_await when_all(client(addr), server(&*l));
    CHECK(got == "over unix");
}
}  // namespace

TEST_CASE("Unix socket on a path", "[net][unix]") {
    test::run([](Loop&) -> Task<void> {
        std::string path = "/tmp/corio-test-" + std::to_string(::getpid()) + ".sock";
        ::unlink(path.c_str());
        auto addr = net::Address::unix_path(path).value();
        CHECK(addr.to_string() == "unix:" + path);
        co_await unix_echo_once(addr);
        ::unlink(path.c_str());
    });
}

TEST_CASE("Unix socket on an abstract name", "[net][unix]") {
    test::run([](Loop&) -> Task<void> {
        auto addr = net::Address::unix_abstract("corio-test-" + std::to_string(::getpid())).value();
        CHECK(addr.to_string().starts_with("unix:@corio-test-"));
        co_await unix_echo_once(addr);
    });
}

TEST_CASE("unix_pair, shutdown and refused connects", "[net][unix]") {
    test::run([](Loop&) -> Task<void> {
        auto p = net::unix_pair();
        REQUIRE(p);
        auto& [a, b] = *p;
        auto w = co_await a.send_all(bytes("pair"));
        REQUIRE(w);
        REQUIRE(a.shutdown(SHUT_WR));
        std::array<std::byte, 8> buf;
        auto n = co_await b.recv(buf);
        REQUIRE(n);
        CHECK(chars(std::span(buf).first(*n)) == "pair");
        auto z = co_await b.recv(buf);
        REQUIRE(z);
        CHECK(*z == 0);
        auto none = net::Address::unix_abstract("corio-nobody-listens").value();
        auto c = co_await net::UnixStream::connect(none);
        REQUIRE(!c);
        CHECK(c.error() == std::errc::connection_refused);
    });
}
