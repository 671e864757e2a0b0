// WebSocket sessions through http::Server::serve on a two-loop Runtime: every
// session answers on its loop, and the runtime's graceful shutdown closes
// each one with 1001 (going away) before the loops stop. Catch2 is not
// thread-safe: the client thread only records; the test's thread asserts.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <corio/http/router.hpp>
#include <corio/http/server.hpp>
#include <corio/http/websocket.hpp>
#include <corio/runtime/runtime.hpp>
#include <corio/runtime/task_group.hpp>

#include "multi_support.hpp"
#include "support.hpp"

namespace http_websocket_multi_test {

using namespace corio;
using namespace std::chrono_literals;
namespace ws = corio::http::websocket;

namespace {

std::atomic<int> sessions_on[2];

Task<void> echo(ws::WebSocket& s) {
    sessions_on[Runtime::current_index() % 2].fetch_add(1, std::memory_order_relaxed);
    for (;;) {
        auto m = co_await s.receive();
        if (!m) co_return;
        auto sent = co_await s.send(m->data, m->type);
        if (!sent) co_return;
    }
}

struct ClientResult {
    int connected = 0;
    int echoed = 0;
    int going_away = 0;  // ended with the server's 1001
};

// Opens `n` connections, makes one exchange on each, asks the runtime to shut
// down, then reads each connection to its end.
Task<void> clients(std::string url, int n, Runtime* rt, ClientResult* out) {
    std::vector<ws::WebSocket> conns;
    for (int i = 0; i < n; ++i) {
        auto c = co_await ws::connect(url);
        if (!c) continue;
        ++out->connected;
        const std::string text = "hello " + std::to_string(i);
        auto sent = co_await c->send(text);
        auto m = co_await c->receive();
        if (sent && m && m->data == text) ++out->echoed;
        conns.push_back(std::move(*c));
    }
    rt->request_shutdown();
    for (ws::WebSocket& c : conns) {
        auto end = co_await c.receive();  // answers the server's close
        if (!end && end.error() == ws::Error::closed &&
            c.close_code() == ws::close_code::going_away) {
            ++out->going_away;
        }
    }
}

}  // namespace

TEST_CASE("websocket sessions on two loops end with 1001 at the runtime's shutdown",
          "[multi][http][websocket]") {
    sessions_on[0] = 0;
    sessions_on[1] = 0;
    constexpr int n = 16;
    ClientResult result;
    std::thread client;
    {
        RuntimeConfig cfg = test::runtime_config(2);
        cfg.shutdown_deadline = 10s;  // the sessions close long before
        Runtime rt(cfg);
        http::Router r;
        r.get("/ws",
              [](http::Request& req) -> Task<http::Response> { co_return ws::accept(req, echo); });
        http::Server srv(r);
        auto addr = rt.block_on(srv.serve(rt, net::Address::loopback_v4(0)));
        REQUIRE(addr);
        const std::string url = "ws://" + addr->to_string() + "/ws";
        client = std::thread([url, &rt, &result] {
            Loop loop;
            loop.block_on(clients(url, n, &rt, &result));
        });
        rt.run_until_signal();  // returns after the graceful shutdown
        CHECK(srv.connections() == 0);
    }
    client.join();
    CHECK(result.connected == n);
    CHECK(result.echoed == n);
    CHECK(result.going_away == n);
    CHECK(sessions_on[0] + sessions_on[1] == n);
    INFO("loop 0: " << sessions_on[0] << ", loop 1: " << sessions_on[1]);
    CHECK(sessions_on[0] > 0);  // SO_REUSEPORT spread them (the client ports' hash)
    CHECK(sessions_on[1] > 0);
}

}  // namespace http_websocket_multi_test
