// TCP on both backends: echo, a 256 MiB transfer, half-close, read_exact,
// vectored sends, options, addresses, IPv6, and no allocation per message.
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include <netinet/tcp.h>

#include "alloc_support.hpp"
#include "net_support.hpp"

namespace net_tcp_test {

using namespace corio;
using namespace std::chrono_literals;
using test::bytes;
using test::chars;

namespace {

Task<void> echo_server(net::TcpStream s) {
    std::array<std::byte, 4096> buf;
    for (;;) {
        auto n = co_await s.recv(buf);
        if (!n || *n == 0) co_return;
        if (!co_await s.send_all(std::span(buf).first(*n))) co_return;
    }
}

}  // namespace

TEST_CASE("echo round trips through a listener", "[net][tcp]") {
    test::run([](Loop& loop) -> Task<void> {
        auto l = net::TcpListener::bind(net::Address::loopback_v4(0));
        REQUIRE(l);
        auto addr = l->local_address().value("local_address");
        CHECK(addr.port() != 0);
        auto server = [](net::TcpListener* l) -> Task<void> {
            for (int i = 0; i < 3; ++i) {
                auto s = co_await l->accept();
                REQUIRE(s);
                spawn(echo_server(std::move(*s))).detach();
            }
        };
        auto sh = loop.spawn(server(&*l));
        (void)0;
        for (int c = 0; c < 3; ++c) {
            auto s = co_await net::TcpStream::connect(addr);
            REQUIRE(s);
            REQUIRE(s->set_nodelay());
            for (int i = 0; i < 100; ++i) {
                std::string msg = "message " + std::to_string(i);
                {
                    auto r_ = co_await s->send_all(bytes(msg));
                    REQUIRE(r_);
                }
                std::vector<std::byte> back(msg.size());
                {
                    auto r_ = co_await s->read_exact(back);
                    REQUIRE(r_);
                }
                CHECK(chars(back) == msg);
            }
        }
        co_await sh;
    });
}

TEST_CASE("accepted connections have TCP_NODELAY from the listener unless it is off",
          "[net][tcp]") {
    test::run([](Loop&) -> Task<void> {
        for (bool nodelay : {true, false}) {
            net::ListenOptions o;
            o.nodelay = nodelay;
            auto l = net::TcpListener::bind(net::Address::loopback_v4(0), o);
            REQUIRE(l);
            auto addr = l->local_address();
            REQUIRE(addr);
            auto [c, s] = co_await when_all(net::TcpStream::connect(*addr), l->accept());
            REQUIRE(c);
            REQUIRE(s);
            auto v = s->get_option(IPPROTO_TCP, TCP_NODELAY);
            REQUIRE(v);
            CHECK((*v != 0) == nodelay);
        }
    });
}

TEST_CASE("256 MiB transfer arrives byte for byte", "[net][tcp]") {
    test::run(
        [](Loop&) -> Task<void> {
            auto p = co_await test::tcp_pair();
            REQUIRE(p);
            // 32 MiB under a sanitizer: still 128 times what a socket buffers.
            constexpr std::uint64_t total = test::sanitized ? 32ull << 20 : 256ull << 20;
            auto sender = [](net::TcpStream s) -> Task<void> {
                std::vector<std::byte> chunk(256 << 10);
                for (std::uint64_t off = 0; off < total; off += chunk.size()) {
                    for (std::size_t i = 0; i < chunk.size(); ++i) {
                        chunk[i] = test::pattern_at(off + i);
                    }
                    auto r = co_await s.send_all(chunk);
                    REQUIRE(r);
                }
                REQUIRE(s.shutdown(SHUT_WR));
            };
            auto receiver = [](net::TcpStream s) -> Task<std::uint64_t> {
                std::vector<std::byte> buf(64 << 10);
                std::uint64_t got = 0, bad = 0;
                for (;;) {
                    auto n = co_await s.recv(buf);
                    REQUIRE(n);
                    if (*n == 0) break;
                    for (std::size_t i = 0; i < *n; ++i) {
                        if (buf[i] != test::pattern_at(got + i)) ++bad;
                    }
                    got += *n;
                }
                CHECK(bad == 0);
                co_return got;
            };
            auto [_, got] =
                co_await when_all(sender(std::move(p->first)), receiver(std::move(p->second)));
            CHECK(got == total);
        },
        120s);
}

TEST_CASE("half-close: the peer reads to the end, then still answers", "[net][tcp]") {
    test::run([](Loop&) -> Task<void> {
        auto p = co_await test::tcp_pair();
        REQUIRE(p);
        auto& [c, s] = *p;
        {
            auto r_ = co_await c.send_all(bytes("request"));
            REQUIRE(r_);
        }
        REQUIRE(c.shutdown(SHUT_WR));
        std::array<std::byte, 64> buf;
        std::string got;
        for (;;) {
            auto n = co_await s.recv(buf);
            REQUIRE(n);
            if (*n == 0) break;
            got += chars(std::span(buf).first(*n));
        }
        CHECK(got == "request");
        {
            auto r_ = co_await s.send_all(bytes("reply"));
            REQUIRE(r_);
        }
        s.close();
        std::array<std::byte, 5> r;
        {
            auto r_ = co_await c.read_exact(r);
            REQUIRE(r_);
        }
        CHECK(chars(r) == "reply");
        auto n = co_await c.recv(buf);
        REQUIRE(n);
        CHECK(*n == 0);
    });
}

TEST_CASE("read_exact reports eof when the stream ends early", "[net][tcp]") {
    test::run([](Loop&) -> Task<void> {
        auto p = co_await test::tcp_pair();
        REQUIRE(p);
        {
            auto r_ = co_await p->first.send_all(bytes("abc"));
            REQUIRE(r_);
        }
        p->first.close();
        std::array<std::byte, 8> buf;
        auto r = co_await p->second.read_exact(buf);
        REQUIRE(!r);
        CHECK(r.error() == Errc::eof);
    });
}

TEST_CASE("vectored sends keep order across many buffers", "[net][tcp]") {
    test::run([](Loop&) -> Task<void> {
        auto p = co_await test::tcp_pair();
        REQUIRE(p);
        auto& [c, s] = *p;
        std::vector<std::string> parts;
        std::string expect;
        for (int i = 0; i < 40; ++i) {
            parts.push_back(std::string(std::size_t(i % 7), 'x') + std::to_string(i) + ";");
            expect += parts.back();
        }
        std::vector<std::span<const std::byte>> spans;
        for (auto& x : parts)
            spans.push_back(bytes(x));
        {
            auto r_ = co_await c.send_all(std::span<const std::span<const std::byte>>(spans));
            REQUIRE(r_);
        }
        std::array<std::span<const std::byte>, 3> hb;
        hb[0] = bytes("head|");
        hb[1] = bytes("");
        hb[2] = bytes("body");
        {
            auto r_ = co_await c.send_all(std::span<const std::span<const std::byte>>(hb));
            REQUIRE(r_);
        }
        auto some = co_await c.sendv(std::span<const std::span<const std::byte>>(spans).first(3));
        REQUIRE(some);
        CHECK(*some == parts[0].size() + parts[1].size() + parts[2].size());
        expect += "head|body" + parts[0] + parts[1] + parts[2];
        std::vector<std::byte> got(expect.size());
        {
            auto r_ = co_await s.read_exact(got);
            REQUIRE(r_);
        }
        CHECK(chars(got) == expect);
    });
}

TEST_CASE("big send_all with a big vectored tail", "[net][tcp]") {
    test::run([](Loop&) -> Task<void> {
        auto p = co_await test::tcp_pair();
        REQUIRE(p);
        // More than the socket buffers hold: short writes must be resumed.
        std::vector<std::byte> a(3 << 20), b(5 << 20);
        for (std::size_t i = 0; i < a.size(); ++i)
            a[i] = test::pattern_at(i);
        for (std::size_t i = 0; i < b.size(); ++i)
            b[i] = test::pattern_at(a.size() + i);
        auto sender = [](net::TcpStream* s, std::vector<std::byte>* a,
                         std::vector<std::byte>* b) -> Task<void> {
            std::array<std::span<const std::byte>, 2> v;
            v[0] = *a;
            v[1] = *b;
            {
                auto r_ = co_await s->send_all(std::span<const std::span<const std::byte>>(v));
                REQUIRE(r_);
            }
        };
        auto receiver = [](net::TcpStream* s, std::size_t n) -> Task<bool> {
            std::vector<std::byte> got(n);
            auto r = co_await s->read_exact(got);
            REQUIRE(r);
            for (std::size_t i = 0; i < n; ++i) {
                if (got[i] != test::pattern_at(i)) co_return false;
            }
            co_return true;
        };
        auto [_, ok] =
            co_await when_all(sender(&p->first, &a, &b), receiver(&p->second, a.size() + b.size()));
        CHECK(ok);
    });
}

TEST_CASE("options and addresses", "[net][tcp]") {
    test::run([](Loop&) -> Task<void> {
        auto p = co_await test::tcp_pair();
        REQUIRE(p);
        auto& [c, s] = *p;
        REQUIRE(c.set_nodelay(true));
        CHECK(c.get_option(IPPROTO_TCP, TCP_NODELAY).value() != 0);
        REQUIRE(c.set_keepalive(true, 30s));
        CHECK(c.get_option(SOL_SOCKET, SO_KEEPALIVE).value() != 0);
        CHECK(c.get_option(IPPROTO_TCP, TCP_KEEPIDLE).value() == 30);
        auto cl = c.local_address().value();
        auto cp = c.peer_address().value();
        auto sl = s.local_address().value();
        auto sp = s.peer_address().value();
        CHECK(cl == sp);
        CHECK(cp == sl);
        CHECK(cl.is_loopback());
        CHECK(cp.to_string().starts_with("127.0.0.1:"));
    });
}

TEST_CASE("IPv6 loopback", "[net][tcp][ipv6]") {
    test::run([](Loop&) -> Task<void> {
        auto l = net::TcpListener::bind(net::Address::loopback_v6(0));
        if (!l) {
            WARN("no IPv6 loopback here: " << l.error().message());
            co_return;
        }
        auto addr = l->local_address().value();
        CHECK(addr.is_ipv6());
        CHECK(addr.to_string().starts_with("[::1]:"));
        auto [c, s] = co_await when_all(net::TcpStream::connect(addr), l->accept());
        REQUIRE(c);
        REQUIRE(s);
        {
            auto r_ = co_await c->send_all(bytes("six"));
            REQUIRE(r_);
        }
        std::array<std::byte, 3> buf;
        {
            auto r_ = co_await s->read_exact(buf);
            REQUIRE(r_);
        }
        CHECK(chars(buf) == "six");
    });
}

TEST_CASE("steady state echo allocates nothing per message", "[net][tcp][alloc]") {
    if (!CORIO_COUNT_NEW) {
        WARN("operator new is not counted under AddressSanitizer");
        return;
    }
    test::run([](Loop& loop) -> Task<void> {
        auto p = co_await test::tcp_pair();
        REQUIRE(p);
        REQUIRE(p->first.set_nodelay());
        REQUIRE(p->second.set_nodelay());
        auto server = loop.spawn(echo_server(std::move(p->second)));
        net::TcpStream& c = p->first;
        std::array<std::byte, 64> msg{};
        std::array<std::byte, 64> back{};
        bool ok = true;
        for (int i = 0; i < 100; ++i) {  // warm up: first-use allocations happen here
            auto w = co_await c.send_all(msg);
            auto r = co_await c.read_exact(back);
            if (!w || !r) ok = false;
        }
        const std::uint64_t before = test::news();
        for (int i = 0; i < 10'000; ++i) {
            msg[0] = static_cast<std::byte>(i);
            auto w = co_await c.send_all(msg);
            auto r = co_await c.read_exact(back);
            if (!w || !r) ok = false;
            ok = ok && back[0] == msg[0];
        }
        const std::uint64_t news = test::news() - before;
        REQUIRE(ok);
        INFO("operator new calls over 10,000 echoed messages: " << news);
        CHECK(news == 0);
        c.close();
        co_await server;
    });
}

TEST_CASE("send and send_all take text: string, string_view, vector<char>", "[net][tcp]") {
    test::run([](Loop&) -> Task<void> {
        auto p = co_await test::tcp_pair();
        REQUIRE(p);
        auto& [a, b] = *p;
        const std::string s = "string,";
        auto r1 = co_await a.send_all(s);
        REQUIRE(r1);
        auto r2 = co_await a.send_all(std::string_view("view,"));
        REQUIRE(r2);
        const std::vector<char> v{'v', 'e', 'c', ','};
        auto r3 = co_await a.send_all(v);
        REQUIRE(r3);
        auto r4 = co_await a.send(std::string("temp"));  // lives until the completion
        REQUIRE(r4);
        CHECK(*r4 == 4);
        std::array<std::byte, 20> buf;
        auto n = co_await b.read_exact(buf);
        REQUIRE(n);
        CHECK(chars(buf) == "string,view,vec,temp");
    });
}

}  // namespace net_tcp_test
