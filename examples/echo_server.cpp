// echo_server: a TCP echo server on one event loop per core.
//
//   echo_server [--host 127.0.0.1] [--port 0] [--loops 1] [--backend auto] [--no-multishot]
//
// Prints `listening HOST:PORT backend=B loops=N` when ready, echoes every byte
// back until SIGINT/SIGTERM, then stops accepting, gives open connections a
// second to finish and exits 0. Each loop has its own SO_REUSEPORT listener
// (net::serve), so the kernel spreads connections with no lock in user space.
#include <cstdio>
#include <memory>

#include <corio/net/buf_ring.hpp>
#include <corio/net/server.hpp>
#include <corio/net/tcp.hpp>
#include <corio/runtime/runtime.hpp>

#include "cli.hpp"

using namespace corio;
using namespace std::chrono_literals;

namespace {

const char* const usage =
    "usage: echo_server [options]\n"
    "  TCP echo server on corio: sends every byte it receives back.\n"
    "  --host ADDR        address to listen on (default 127.0.0.1)\n"
    "  --port P           port, 0 picks a free one (default 0)\n"
    "  --loops N          event loops, one per thread; 0 = one per core (default 1)\n"
    "  --backend B        auto, io_uring or epoll (default auto; CORIO_BACKEND overrides auto)\n"
    "  --buf-size BYTES   receive buffer size (default 4096)\n"
    "  --no-multishot     io_uring: one recv per message into the connection's\n"
    "                     buffer instead of a multishot receive into a buffer ring\n"
    "  --pin              pin loop i's thread to CPU i\n"
    "  --help             this text\n"
    "Prints `listening HOST:PORT backend=B loops=N` when ready; SIGINT/SIGTERM stop it.\n";

struct Config {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    unsigned loops = 1;
    BackendChoice backend = BackendChoice::automatic;
    std::size_t buf_size = 4096;
    bool pin = false;
    bool multishot = true;
};

// The loop's buffer ring, shared by its connections: a multishot receive names
// no buffer until bytes arrive, so an idle connection holds none. The last
// connection of a loop to end frees it.
std::shared_ptr<net::BufRing> loop_ring(std::size_t buf_size) {
    thread_local std::weak_ptr<net::BufRing> current;
    auto r = current.lock();
    if (!r) {
        r = std::make_shared<net::BufRing>(Loop::current(), 1024, buf_size);
        current = r;
    }
    return r;
}

Task<void> echo_multishot(net::TcpStream s, std::shared_ptr<net::BufRing> ring) {
    auto rs = s.recv_stream(*ring);
    for (;;) {
        auto b = co_await rs.next();
        if (!b || b->empty()) co_return;
        auto w = co_await s.send_all(b->data());
        if (!w) co_return;
    }
}

Task<void> echo(net::TcpStream s, std::size_t buf_size) {
    // One buffer per connection, allocated once: steady state allocates nothing.
    auto buf = std::make_unique<std::byte[]>(buf_size);
    std::span<std::byte> span(buf.get(), buf_size);
    for (;;) {
        auto n = co_await s.recv(span);
        if (!n || *n == 0) co_return;  // reset, cancelled or closed: all end the connection
        auto w = co_await s.send_all(span.first(*n));
        if (!w) co_return;
    }
}

}  // namespace

int main(int argc, char** argv) {
    Config cfg;
    examples::Cli cli(argc, argv, usage);
    cli.parse(
        [&](const std::string& flag, auto value) {
            if (flag == "host") {
                cfg.host = value();
            } else if (flag == "port") {
                cfg.port = cli.number<std::uint16_t>(flag, value(), 0, 65535);
            } else if (flag == "loops") {
                cfg.loops = cli.number<unsigned>(flag, value(), 0, 1024);
            } else if (flag == "backend") {
                cfg.backend = cli.backend(value());
            } else if (flag == "pin") {
                cfg.pin = true;
            } else if (flag == "no-multishot") {
                cfg.multishot = false;
            } else if (flag == "buf-size") {
                cfg.buf_size = cli.number<std::size_t>(flag, value(), 1, 1 << 24);
            } else {
                return false;
            }
            return true;
        },
        [](const std::string&) { return false; });

    auto addr = net::Address::parse(cfg.host + ":" + std::to_string(cfg.port));
    if (!addr) {
        auto v6 = net::Address::parse("[" + cfg.host + "]:" + std::to_string(cfg.port));
        if (!v6) cli.fail("--host: not an IP address: '" + cfg.host + "'");
        addr = v6;
    }

    try {
        RuntimeConfig rc;
        rc.loops = cfg.loops;
        rc.backend = cfg.backend;
        rc.pin = cfg.pin;
        // On SIGINT/SIGTERM: stop accepting, give connections a second, then
        // cancel what is left.
        rc.shutdown_deadline = 1s;
        rc.cancel_deadline = 1s;
        // It announces readiness before run_until_signal waits: a SIGTERM
        // sent right after the ready line must still mean a graceful exit.
        rc.block_signals_on_calling_thread = true;
        Runtime rt(rc);
        const std::size_t buf_size = cfg.buf_size;
        const bool multishot = cfg.multishot;
        auto bound = rt.block_on(
            net::serve(rt, *addr, [buf_size, multishot](net::TcpStream s) -> Task<void> {
                if (multishot && Loop::current().kind() == BackendKind::io_uring) {
                    return echo_multishot(std::move(s), loop_ring(buf_size));
                }
                return echo(std::move(s), buf_size);
            }));
        if (!bound) {
            std::fprintf(stderr, "echo_server: %s\n",
                         net::describe("listen", *addr, bound.error()).c_str());
            return 1;
        }
        const bool uring = rt.report(0).kind == BackendKind::io_uring;
        std::printf("listening %s backend=%s loops=%u recv=%s\n", bound->to_string().c_str(),
                    std::string(to_string(rt.report(0).kind)).c_str(), rt.loops(),
                    uring && multishot ? "multishot" : "single");
        std::fflush(stdout);
        rt.run_until_signal();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_server: %s\n", e.what());
        return 1;
    }
    return 0;
}
