// ws_echo: corio's WebSocket echo server for the WebSocket benchmark
// (bench/ws/run.sh): http::Server on one loop, every path a WebSocket route
// whose session sends each message back with its type.
//
//   build/bench/ws/ws_echo [--port PORT] [--backend io_uring|epoll] [--deflate]
//
// --deflate: accepts permessage-deflate (zlib level 6, memLevel 8, window 15).
//
// Prints `listening 127.0.0.1:PORT backend=B loops=1` when ready; exits 0 on
// SIGINT/SIGTERM.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <corio/corio.hpp>

using namespace corio;
namespace ws = corio::http::websocket;

namespace {

Task<void> echo(ws::WebSocket& s) {
    for (;;) {
        auto m = co_await s.receive();
        if (!m) co_return;
        auto sent = co_await s.send(m->data, m->type);
        if (!sent) co_return;
    }
}

ws::Options options;

Task<http::Response> upgrade(http::Request& req) {
    co_return ws::accept(req, echo, options);
}

Task<void> watch_signals(StopSource* stop) {
    SignalSet sigs{SIGINT, SIGTERM};
    auto sig = co_await wait_signal(sigs);
    (void)sig;  // a failed wait stops the server too
    stop->request_stop();
}

// Serves until SIGINT or SIGTERM.
Task<void> serve(http::Server* srv, net::TcpListener l) {
    StopSource stop;
    TaskGroup g;
    g.spawn(watch_signals(&stop));
    co_await srv->run(std::move(l), stop.token());
    g.cancel();
    co_await g.wait();
}

}  // namespace

int main(int argc, char** argv) {
    std::uint16_t port = 0;
    LoopOptions lo;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--help" || a == "-h") {
            std::printf("usage: ws_echo [--port PORT] [--backend io_uring|epoll] [--deflate]\n");
            return 0;
        }
        if (a == "--port" && i + 1 < argc) {
            port = static_cast<std::uint16_t>(std::strtoul(argv[++i], nullptr, 10));
        } else if (a == "--deflate") {
            options.deflate.enabled = true;
        } else if (a == "--backend" && i + 1 < argc) {
            const std::string_view b = argv[++i];
            lo.backend = b == "epoll" ? BackendChoice::epoll : BackendChoice::io_uring;
        } else {
            std::fprintf(stderr, "ws_echo: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    block_signals({SIGINT, SIGTERM});
    try {
        Loop loop(lo);
        http::Router r;
        r.fallback(upgrade);
        http::Server srv(r);
        auto l = net::TcpListener::bind(net::Address::loopback_v4(port)).value("bind");
        std::printf("listening %s backend=%s loops=1\n",
                    l.local_address().value("address").to_string().c_str(),
                    std::string(to_string(loop.kind())).c_str());
        std::fflush(stdout);
        loop.block_on(serve(&srv, std::move(l)));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ws_echo: %s\n", e.what());
        return 1;
    }
    return 0;
}
