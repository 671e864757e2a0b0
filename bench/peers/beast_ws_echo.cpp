// beast_ws_echo.cpp - a Boost.Beast WebSocket echo server on one thread with
// C++20 coroutines (Asio's epoll reactor): the peer corio's WebSocket
// benchmark (bench/ws/run.sh) is compared with.
//
// The standard Beast pattern: accept the TCP connection, async_accept the
// WebSocket handshake, then async_read a whole message into a flat_buffer and
// async_write it back with the same type, until the peer closes. No
// permessage-deflate (Beast's default) unless --deflate (then zlib level 6,
// memLevel 8, window 15: corio's defaults), TCP_NODELAY on (as corio's server).
#include <sys/resource.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;

namespace {

constexpr const char* prog = "peer_beast_ws_echo";
constexpr auto nothrow_awaitable = asio::as_tuple(asio::use_awaitable);
bool deflate = false;

asio::awaitable<void> session(tcp::socket sock) {
    sock.set_option(tcp::no_delay(true));
    websocket::stream<tcp::socket> ws(std::move(sock));
    if (deflate) {
        websocket::permessage_deflate pmd;
        pmd.server_enable = true;
        pmd.compLevel = 6;
        pmd.memLevel = 8;
        ws.set_option(pmd);
    }
    auto [aec] = co_await ws.async_accept(nothrow_awaitable);
    if (aec) co_return;
    beast::flat_buffer buf;
    for (;;) {
        auto [rec, n] = co_await ws.async_read(buf, nothrow_awaitable);
        if (rec) co_return;  // closed by the peer, reset, or a protocol error
        ws.text(ws.got_text());
        auto [wec, w] = co_await ws.async_write(buf.data(), nothrow_awaitable);
        if (wec) co_return;
        buf.consume(buf.size());
    }
}

asio::awaitable<void> listen(tcp::acceptor acceptor) {
    auto ex = co_await asio::this_coro::executor;
    for (;;) {
        auto [ec, sock] = co_await acceptor.async_accept(nothrow_awaitable);
        if (ec) {
            if (ec == asio::error::operation_aborted) co_return;
            std::fprintf(stderr, "%s: accept: %s\n", prog, ec.message().c_str());
            asio::steady_timer t(ex, std::chrono::milliseconds(10));
            co_await t.async_wait(nothrow_awaitable);
            continue;
        }
        asio::co_spawn(ex, session(std::move(sock)), asio::detached);
    }
}

}  // namespace

int main(int argc, char** argv) {
    unsigned short port = 0;
    for (int i = 1; i < argc; i++) {
        const std::string_view a = argv[i];
        if (a == "--help" || a == "-h") {
            std::printf(
                "usage: %s [--port PORT] [--deflate]\n"
                "Single-threaded Boost.Beast WebSocket echo server on 127.0.0.1 (a benchmark "
                "baseline).\nPrints 'listening 127.0.0.1:PORT backend=beast loops=1' when ready; "
                "exits 0 on SIGINT/SIGTERM.\n",
                prog);
            return 0;
        }
        if (a == "--port" && i + 1 < argc) {
            port = static_cast<unsigned short>(std::strtoul(argv[++i], nullptr, 10));
            continue;
        }
        if (a == "--deflate") {
            deflate = true;
            continue;
        }
        std::fprintf(stderr, "%s: unknown option '%s' (try --help)\n", prog, argv[i]);
        return 2;
    }
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    try {
        asio::io_context ctx(1);
        asio::signal_set signals(ctx, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code&, int) { ctx.stop(); });
        tcp::acceptor acceptor(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
        std::printf("listening 127.0.0.1:%u backend=beast loops=1\n",
                    unsigned(acceptor.local_endpoint().port()));
        std::fflush(stdout);
        asio::co_spawn(ctx, listen(std::move(acceptor)), asio::detached);
        ctx.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", prog, e.what());
        return 1;
    }
    return 0;
}
