// echo_server: a TCP echo server on one event loop per core.
//
//   echo_server [--host 127.0.0.1] [--port 0] [--loops 1] [--backend auto] [--no-multishot]
//               [--no-fixed-files] [--tls --cert FILE --key FILE]
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
#include <corio/runtime/deadline.hpp>
#include <corio/runtime/runtime.hpp>
#include <corio/version.hpp>
#if CORIO_HAS_TLS
#include <corio/tls/stream.hpp>
#endif

#include "cli.hpp"

using namespace corio;
using namespace std::chrono_literals;

namespace {

struct Config {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    unsigned loops = 1;
    BackendChoice backend = BackendChoice::automatic;
    std::size_t buf_size = 4096;
    bool pin = false;
    bool multishot = true;
    bool fixed_files = true;
    bool use_tls = false;
    std::string cert, key;
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

#if CORIO_HAS_TLS
// The same echo over TLS: the handshake within 10 s, then records both ways.
Task<void> echo_tls(tls::Context ctx, net::TcpStream s, std::size_t buf_size) {
    (void)s.set_nodelay();
    auto t = tls::Stream::server(ctx, std::move(s));
    if (!t) co_return;
    auto h = co_await t->handshake(Deadline::after(10s));
    if (!h) co_return;
    auto buf = std::make_unique<std::byte[]>(buf_size);
    std::span<std::byte> span(buf.get(), buf_size);
    for (;;) {
        auto n = co_await t->recv(span);
        if (!n || *n == 0) co_return;
        auto w = co_await t->send_all(std::span<const std::byte>(span.first(*n)));
        if (!w) co_return;
    }
}
#else
struct NoTls {
    bool valid() const noexcept { return false; }
};
Task<void> echo_tls(NoTls, net::TcpStream, std::size_t) {
    co_return;
}
#endif

}  // namespace

int main(int argc, char** argv) {
    Config cfg;
    examples::Cli cli(argc, argv, "[options]",
                      "TCP echo server on corio: sends every byte it receives back.\n"
                      "Prints `listening HOST:PORT backend=B loops=N` when ready (`tls=on` with\n"
                      "--tls); SIGINT/SIGTERM stop it.\n");
    cli.option("host ADDR", "address to listen on", cfg.host);
    cli.option("port P", "port, 0 picks a free one", cfg.port, 0, 65535);
    cli.option("loops N", "event loops, one per thread; 0 = one per core", cfg.loops, 0, 1024);
    cli.backend(cfg.backend);
    cli.option("buf-size BYTES", "receive buffer size", cfg.buf_size, 1, 1 << 24);
    cli.flag("no-multishot",
             "io_uring: one recv per message into the connection's\n"
             "buffer instead of a multishot receive into a buffer ring",
             cfg.multishot, false);
    cli.flag("no-fixed-files",
             "io_uring: ordinary descriptors in every operation instead of\n"
             "slots of the ring's registered descriptor table",
             cfg.fixed_files, false);
    cli.flag("pin", "pin loop i's thread to CPU i", cfg.pin);
    cli.flag("tls", "echo over TLS (tls::Stream; needs --cert and --key)", cfg.use_tls);
    cli.option("cert FILE", "PEM certificate chain for --tls", cfg.cert);
    cli.option("key FILE", "its PEM private key", cfg.key);
    cli.parse();

    auto addr = net::Address::parse(cfg.host + ":" + std::to_string(cfg.port));
    if (!addr) {
        auto v6 = net::Address::parse("[" + cfg.host + "]:" + std::to_string(cfg.port));
        if (!v6) cli.fail("--host: not an IP address: '" + cfg.host + "'");
        addr = v6;
    }
#if CORIO_HAS_TLS
    tls::Context ctx;
#else
    NoTls ctx;
    if (cfg.use_tls) cli.fail("--tls: corio was built without the tls part (OpenSSL 3)");
#endif
    if (cfg.use_tls) {
        if (cfg.cert.empty() || cfg.key.empty()) cli.fail("--tls needs --cert FILE and --key FILE");
#if CORIO_HAS_TLS
        auto c = tls::Context::server(cfg.cert, cfg.key);
        if (!c) {
            std::fprintf(stderr, "echo_server: --cert %s --key %s: %s\n", cfg.cert.c_str(),
                         cfg.key.c_str(), c.error().message().c_str());
            return 2;
        }
        ctx = std::move(*c);
#endif
    }

    try {
        RuntimeConfig rc;
        rc.loops = cfg.loops;
        rc.backend = cfg.backend;
        rc.pin = cfg.pin;
        if (!cfg.fixed_files) rc.loop_options.fixed_files = 0;
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
            net::serve(rt, *addr, [buf_size, multishot, ctx](net::TcpStream s) -> Task<void> {
                if (ctx.valid()) return echo_tls(ctx, std::move(s), buf_size);
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
        std::printf("listening %s backend=%s loops=%u recv=%s fixed_files=%u%s\n",
                    bound->to_string().c_str(), std::string(to_string(rt.report(0).kind)).c_str(),
                    rt.loops(), uring && multishot && !cfg.use_tls ? "multishot" : "single",
                    rt.report(0).caps.fixed_files, cfg.use_tls ? " tls=on" : "");
        std::fflush(stdout);
        rt.run_until_signal();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_server: %s\n", e.what());
        return 1;
    }
    return 0;
}
