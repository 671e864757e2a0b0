// http_server: a static file server on corio::http (GET and HEAD over HTTP/1.1).
//
//   http_server --root DIR [--host 127.0.0.1] [--port 0] [--loops 1] [--backend auto]
//               [--cert FILE --key FILE] [--access-log FILE]
//
// Prints `listening HOST:PORT backend=B loops=N` (and `tls=on` when serving
// https with --cert/--key, ALPN http/1.1) when ready and serves until
// SIGINT/SIGTERM; then it stops accepting, closes idle connections, gives
// requests in progress --grace-ms to finish, and exits 0. Everything HTTP is
// the library's: a Router with http::StaticFiles mounted at "/" (site.cpp,
// shared with examples/sim_crawl), an http::Server with the limits and
// timeouts of the flags.
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include <corio/http/router.hpp>
#include <corio/http/server.hpp>
#include <corio/http/static_files.hpp>
#include <corio/net/tcp.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/runtime.hpp>
#include <corio/runtime/signal.hpp>
#include <corio/runtime/task_group.hpp>
#include <corio/version.hpp>
#if CORIO_HAS_TLS
#include <corio/tls/https.hpp>
#endif

#include "cli.hpp"
#include "site.hpp"

using namespace corio;
using namespace std::chrono_literals;

namespace {

struct Config {
    std::string root;
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    unsigned loops = 1;
    bool pin = false;
    bool fixed_files = true;
    http::ServerOptions server;
    http::StaticOptions files;
    std::string cert, key;
    std::string access_log;
};

Task<void> watch_signals(StopSource* stop) {
    SignalSet sigs{SIGINT, SIGTERM};
    auto sig = co_await wait_signal(sigs);
    (void)sig;  // a failed wait also stops the server: it could not be stopped otherwise
    stop->request_stop();
}

Task<void> run_single(http::Server* srv, net::TcpListener l) {
    StopSource stop;
    TaskGroup g;
    g.spawn(watch_signals(&stop));
    co_await srv->run(std::move(l), stop.token());
    g.cancel();
    co_await g.wait();
}

void ready(const net::Address& addr, BackendKind kind, unsigned loops, bool https) {
    std::printf("listening %s backend=%s loops=%u%s\n", addr.to_string().c_str(),
                std::string(to_string(kind)).c_str(), loops, https ? " tls=on" : "");
    std::fflush(stdout);
}

// https: a server context on --cert/--key, the handshake as the server's
// connection wrapper (within the header timeout).
bool setup_tls(const Config& cfg, http::ServerOptions& so) {
#if CORIO_HAS_TLS
    tls::ContextOptions o;
    o.role = tls::Role::server;
    o.cert_file = cfg.cert;
    o.key_file = cfg.key;
    auto ctx = tls::Context::make(o);
    if (!ctx) {
        std::fprintf(stderr, "http_server: --cert %s --key %s: %s\n", cfg.cert.c_str(),
                     cfg.key.c_str(), ctx.error().message().c_str());
        return false;
    }
    so.wrap_connection = tls::https_wrapper(*ctx);
    return true;
#else
    (void)cfg;
    (void)so;
    std::fprintf(stderr, "http_server: --cert: built without the tls part (OpenSSL 3)\n");
    return false;
#endif
}

// --access-log: a line per request, `CLIENT "METHOD TARGET VERSION" STATUS BODY_BYTES TIMEus`.
// Each line is one fprintf, which locks the stream: loops on several threads do not mix lines.
// The file is flushed when the process exits.
bool setup_access_log(const Config& cfg, http::ServerOptions& so) {
    if (cfg.access_log.empty()) return true;
    std::FILE* f = cfg.access_log == "-" ? stderr : std::fopen(cfg.access_log.c_str(), "a");
    if (f == nullptr) {
        std::fprintf(stderr, "http_server: --access-log %s: %s\n", cfg.access_log.c_str(),
                     std::strerror(errno));
        return false;
    }
    so.access_log = [f](const http::AccessEntry& e) {
        std::fprintf(f, "%s \"%.*s %.*s HTTP/1.%d\" %d %llu %lldus%s\n",
                     e.peer ? e.peer->to_string().c_str() : "-", int(e.method.size()),
                     e.method.data(), int(e.target.size()), e.target.data(),
                     e.version == http::Version::http_1_0 ? 0 : 1, e.status,
                     static_cast<unsigned long long>(e.body_bytes),
                     static_cast<long long>(e.duration / 1us), e.complete ? "" : " cut");
    };
    return true;
}

int serve(const Config& cfg, const net::Address& addr, BackendChoice backend) {
    auto router = examples::static_site(cfg.root, cfg.files);
    if (!router) {
        std::fprintf(stderr, "http_server: --root %s: %s\n", cfg.root.c_str(),
                     router.error().message().c_str());
        return 2;
    }
    http::ServerOptions so = cfg.server;
    const bool https = !cfg.cert.empty();
    if ((https && !setup_tls(cfg, so)) || !setup_access_log(cfg, so)) return 2;
    http::Server srv(std::move(*router), so);
    if (cfg.loops != 1) {
        RuntimeConfig rc;
        rc.loops = cfg.loops;
        rc.backend = backend;
        rc.pin = cfg.pin;
        if (!cfg.fixed_files) rc.loop_options.fixed_files = 0;
        rc.shutdown_deadline =
            std::chrono::duration_cast<std::chrono::milliseconds>(cfg.server.grace + 500ms);
        rc.cancel_deadline = 1000ms;
        // The ready line comes before run_until_signal waits: a SIGTERM in
        // between must wait for it instead of killing the process.
        rc.block_signals_on_calling_thread = true;
        Runtime rt(rc);
        auto bound = rt.block_on(srv.serve(rt, addr));
        if (!bound) {
            std::fprintf(stderr, "http_server: %s\n",
                         net::describe("listen", addr, bound.error()).c_str());
            return 1;
        }
        ready(*bound, rt.report(0).kind, rt.loops(), https);
        rt.run_until_signal({SIGINT, SIGTERM});
        return 0;
    }
    // Blocked before any thread starts, so that only the signalfd sees them.
    block_signals({SIGINT, SIGTERM});
    LoopOptions lo;
    lo.backend = backend;
    if (!cfg.fixed_files) lo.fixed_files = 0;
    Loop loop(lo);
    auto l = net::TcpListener::bind(addr);
    if (!l) {
        std::fprintf(stderr, "http_server: %s\n", net::describe("listen", addr, l.error()).c_str());
        return 1;
    }
    ready(l->local_address().value("getsockname"), loop.kind(), 1, https);
    loop.block_on(run_single(&srv, std::move(*l)));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Config cfg;
    cfg.server = examples::server_defaults();
    http::ServerOptions& so = cfg.server;
    BackendChoice backend = BackendChoice::automatic;
    examples::Cli cli(argc, argv, "--root DIR [options]",
                      "Static file server on corio: GET and HEAD, keep-alive and pipelining.\n"
                      "Prints `listening HOST:PORT backend=B loops=N` when ready (` tls=on` added\n"
                      "with --cert); SIGINT/SIGTERM stop it.\n");
    cli.option("root DIR", "directory to serve (required); nothing outside it is reachable",
               cfg.root);
    cli.option("host ADDR", "address to listen on", cfg.host);
    cli.option("port P", "port, 0 picks a free one", cfg.port, 0, 65535);
    cli.option("loops N", "event loops, one per thread; 0 = one per core", cfg.loops, 0, 1024);
    cli.flag("pin", "pin each loop's thread to a CPU", cfg.pin);
    cli.backend(backend);
    cli.option("max-conns N", "open connections at most; more get 503", so.max_connections, 1,
               10'000'000);
    cli.flag("no-multishot",
             "io_uring: one receive per read instead of one multishot\n"
             "receive per connection into the loop's buffer ring",
             so.multishot_receive, false);
    cli.flag("no-fixed-files",
             "io_uring: ordinary descriptors instead of slots of the ring's\n"
             "registered descriptor table",
             cfg.fixed_files, false);
    cli.option("idle-timeout-ms T", "close a keep-alive connection idle this long", so.idle_timeout,
               0, 86'400'000);
    cli.option("header-timeout-ms T",
               "a request must arrive whole within T of its first byte;\n"
               "else 408 and close (default 10000)",
               [&](const std::string& v) {
                   so.header_timeout = so.body_timeout = std::chrono::milliseconds(
                       cli.number<std::uint32_t>("header-timeout-ms", v, 0, 86'400'000));
               });
    cli.option("send-timeout-ms T", "close when a response makes no progress for T",
               so.send_timeout, 0, 86'400'000);
    cli.option("grace-ms T", "on shutdown, time for requests in progress", so.grace, 0, 86'400'000);
    cli.option("max-request-line B", "longer request lines get 414", so.limits.max_request_line, 64,
               1 << 20);
    cli.option("max-header-bytes B", "larger heads get 431", so.limits.max_header_bytes, 64,
               1 << 24);
    cli.option("max-body B", "larger request bodies get 413", so.limits.max_body, 0,
               std::size_t(1) << 32);
    cli.option("cache-max-file B", "files up to B bytes are kept in memory",
               cfg.files.cache_max_file, 0, 1 << 30);
    cli.option("cache-bytes B", "memory for cached files, per loop", cfg.files.cache_bytes, 0,
               std::size_t(1) << 40);
    cli.option("cache-valid-ms T", "re-check a cached file after T; 0 = no cache",
               cfg.files.cache_valid, 0, 86'400'000);
    cli.option("cert FILE", "serve https: PEM certificate chain (with --key; ALPN http/1.1)",
               cfg.cert);
    cli.option("key FILE", "the certificate's PEM private key", cfg.key);
    cli.option("access-log FILE",
               "append a line per request to FILE (- for stderr):\n"
               "`CLIENT \"METHOD TARGET VERSION\" STATUS BODY_BYTES TIMEus`",
               cfg.access_log);
    cli.parse();
    if (cfg.root.empty()) cli.fail("--root DIR is required");
    if (cfg.cert.empty() != cfg.key.empty()) cli.fail("--cert and --key go together");
    if (so.idle_timeout.count() == 0 || so.header_timeout.count() == 0 ||
        so.send_timeout.count() == 0) {
        cli.fail("timeouts must be at least 1 ms");
    }
    auto addr = net::Address::parse(cfg.host + ":" + std::to_string(cfg.port));
    if (!addr) {
        auto v6 = net::Address::parse("[" + cfg.host + "]:" + std::to_string(cfg.port));
        if (!v6) cli.fail("--host: not an IP address: '" + cfg.host + "'");
        addr = v6;
    }
    // splice and sendfile into a closed connection raise SIGPIPE (they take
    // no MSG_NOSIGNAL): the error code is enough.
    ::signal(SIGPIPE, SIG_IGN);
    try {
        return serve(cfg, *addr, backend);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "http_server: %s\n", e.what());
        return 1;
    }
}
