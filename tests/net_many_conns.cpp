// 2,000 concurrent connections on one loop; every descriptor is given back.
#include <array>
#include <vector>

#include "net_support.hpp"

namespace net_many_conns_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

constexpr int conns = 2000;

Task<void> serve(net::TcpStream s, int* served) {
    std::array<std::byte, 64> buf;
    for (;;) {
        auto n = co_await s.recv(buf);
        if (!n || *n == 0) break;
        auto w = co_await s.send_all(std::span(buf).first(*n));
        if (!w) break;
    }
    ++*served;
}

Task<void> acceptor(net::TcpListener* l, TaskGroup* g, int* served) {
    for (int i = 0; i < conns; ++i) {
        auto s = co_await l->accept();
        REQUIRE(s);
        g->spawn(serve(std::move(*s), served));
    }
}

Task<void> client(net::Address addr, int i, int* ok) {
    auto s = co_await net::TcpStream::connect(addr);
    REQUIRE(s);
    std::string msg = "client " + std::to_string(i);
    auto w = co_await s->send_all(test::bytes(msg));
    REQUIRE(w);
    std::vector<std::byte> back(msg.size());
    auto r = co_await s->read_exact(back);
    REQUIRE(r);
    if (test::chars(back) == msg) ++*ok;
}

}  // namespace

TEST_CASE("2,000 concurrent connections on one loop", "[net][tcp][many]") {
    rlim_t lim = test::raise_fd_limit();
    if (lim < 2 * conns + 100) {
        WARN("descriptor limit " << lim << " too low for " << conns << " connections");
        return;
    }
    const int before = test::open_fds();
    test::run(
        [](Loop&) -> Task<void> {
            int served = 0, ok = 0;
            {
                auto l = net::TcpListener::bind(net::Address::loopback_v4(0));
                REQUIRE(l);
                auto addr = l->local_address().value();
                TaskGroup servers;
                TaskGroup clients;
                servers.spawn(acceptor(&*l, &servers, &served));
                for (int i = 0; i < conns; ++i)
                    clients.spawn(client(addr, i, &ok));
                co_await clients.wait();
                co_await servers.wait();
            }
            CHECK(ok == conns);
            CHECK(served == conns);
        },
        60s);
    CHECK(test::open_fds() == before);
}

}  // namespace net_many_conns_test
