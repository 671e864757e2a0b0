// http_server: a static file server on corio (GET and HEAD over HTTP/1.1).
//
//   http_server --root DIR [--host 127.0.0.1] [--port 0] [--loops 1] [--backend auto]
//
// Prints `listening HOST:PORT backend=B loops=N` when ready and serves until
// SIGINT/SIGTERM; then it stops accepting, closes idle connections, gives
// requests in progress --grace-ms to finish, and exits 0.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <corio/net/tcp.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/runtime.hpp>
#include <corio/runtime/signal.hpp>
#include <corio/runtime/task_group.hpp>
#include <corio/runtime/timer.hpp>

#include "cli.hpp"
#include "server.hpp"

using namespace corio;
using namespace std::chrono_literals;
namespace http = corio::examples::http;

namespace {

const char* const usage =
    "usage: http_server --root DIR [options]\n"
    "  Static file server on corio: GET and HEAD, keep-alive and pipelining.\n"
    "  --root DIR              directory to serve (required); nothing outside it is reachable\n"
    "  --host ADDR             address to listen on (default 127.0.0.1)\n"
    "  --port P                port, 0 picks a free one (default 0)\n"
    "  --loops N               event loops, one per thread; 0 = one per core (default 1)\n"
    "  --pin                   pin each loop's thread to a CPU\n"
    "  --backend B             auto, io_uring or epoll (default auto; CORIO_BACKEND overrides "
    "auto)\n"
    "  --max-conns N           open connections at most; more get 503 (default 10000)\n"
    "  --idle-timeout-ms T     close a keep-alive connection idle this long (default 60000)\n"
    "  --header-timeout-ms T   a request must arrive whole within T of its first byte;\n"
    "                          else 408 and close (default 10000)\n"
    "  --send-timeout-ms T     close when a response makes no progress for T (default 60000)\n"
    "  --grace-ms T            on shutdown, time for requests in progress (default 2000)\n"
    "  --max-request-line B    longer request lines get 414 (default 8192)\n"
    "  --max-header-bytes B    larger heads get 431 (default 16384)\n"
    "  --max-body B            larger request bodies get 413 (default 65536)\n"
    "  --cache-max-file B      files up to B bytes are kept in memory (default 262144)\n"
    "  --cache-bytes B         memory for cached files, per loop (default 67108864)\n"
    "  --cache-valid-ms T      re-check a cached file after T; 0 = no cache (default 1000)\n"
    "  --help                  this text\n"
    "Prints `listening HOST:PORT backend=B loops=N` when ready; SIGINT/SIGTERM stop it.\n";

std::chrono::milliseconds ms(examples::Cli& cli, const std::string& flag, const std::string& v) {
    return std::chrono::milliseconds(cli.number<std::uint32_t>(flag, v, 0, 86'400'000));
}

// ---- one loop ----------------------------------------------------------------

Task<void> watch_signals(StopSource* stop) {
    SignalSet sigs{SIGINT, SIGTERM};
    auto sig = co_await wait_signal(sigs);
    (void)sig;  // a failed wait also stops the server: it could not be stopped otherwise
    stop->request_stop();
}

Task<void> run_single(http::Shared* sh, net::TcpListener l) {
    StopSource stop;
    TaskGroup g;
    g.spawn(watch_signals(&stop));
    co_await http::serve(sh, std::move(l), stop.token());
    g.cancel();
    co_await g.wait();
}

// ---- many loops ----------------------------------------------------------------

struct Boot {
    std::atomic<unsigned> bound{0};
    std::atomic<unsigned> failed{0};
    std::mutex mu;
    std::string error;
};

Task<void> loop_main(http::Shared* sh, net::Address addr, Boot* boot) {
    net::ListenOptions opts;
    opts.reuse_port = true;
    auto l = net::TcpListener::bind(addr, opts);
    if (!l) {
        {
            std::lock_guard lk(boot->mu);
            if (boot->error.empty()) boot->error = net::describe("listen", addr, l.error());
        }
        boot->failed.fetch_add(1);
        co_return;
    }
    boot->bound.fetch_add(1);
    co_await http::serve(sh, std::move(*l), Runtime::current()->shutdown_token());
}

Task<void> wait_boot(Boot* boot, unsigned n) {
    while (boot->bound.load() + boot->failed.load() < n)
        co_await sleep_for(1ms);
}

/// With several loops and port 0, every loop must bind the same port: hold
/// one with a bound (not listening) SO_REUSEPORT socket until they have.
int reserve_port(net::Address& addr) {
    int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (::bind(fd, addr.sockaddr_ptr(), addr.size()) != 0) {
        ::close(fd);
        return -1;
    }
    auto local = net::local_address_of(fd);
    if (!local) {
        ::close(fd);
        return -1;
    }
    addr = *local;
    return fd;
}

int run_many(http::Shared* sh, net::Address addr, BackendChoice backend) {
    RuntimeConfig rc;
    rc.loops = sh->cfg.loops;
    rc.backend = backend;
    rc.pin = sh->cfg.pin;
    rc.shutdown_deadline = sh->cfg.grace + 500ms;
    rc.cancel_deadline = 1000ms;
    Runtime rt(rc);
    const unsigned n = rt.loops();
    int placeholder = -1;
    if (addr.port() == 0) {
        placeholder = reserve_port(addr);
        if (placeholder < 0) {
            std::fprintf(stderr, "http_server: %s\n",
                         net::describe("bind", addr, sys_error(errno)).c_str());
            return 1;
        }
    }
    Boot boot;
    std::vector<RemoteHandle<void>> loops;
    for (unsigned i = 0; i < n; ++i)
        loops.push_back(rt.spawn_on(i, loop_main(sh, addr, &boot)));
    rt.block_on(wait_boot(&boot, n));
    if (placeholder >= 0) ::close(placeholder);
    if (boot.failed.load() != 0) {
        std::fprintf(stderr, "http_server: %s\n", boot.error.c_str());
        return 1;
    }
    std::printf("listening %s backend=%s loops=%u\n", addr.to_string().c_str(),
                std::string(to_string(rt.report(0).kind)).c_str(), n);
    std::fflush(stdout);
    rt.run_until_signal({SIGINT, SIGTERM});
    loops.clear();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    http::Shared sh;
    http::Config& cfg = sh.cfg;
    BackendChoice backend = BackendChoice::automatic;
    examples::Cli cli(argc, argv, usage);
    cli.parse(
        [&](const std::string& flag, auto value) {
            if (flag == "root") {
                cfg.root = value();
            } else if (flag == "host") {
                cfg.host = value();
            } else if (flag == "port") {
                cfg.port = cli.number<std::uint16_t>(flag, value(), 0, 65535);
            } else if (flag == "loops") {
                cfg.loops = cli.number<unsigned>(flag, value(), 0, 1024);
            } else if (flag == "pin") {
                cfg.pin = true;
            } else if (flag == "backend") {
                backend = cli.backend(value());
            } else if (flag == "max-conns") {
                cfg.max_conns = cli.number<std::size_t>(flag, value(), 1, 10'000'000);
            } else if (flag == "idle-timeout-ms") {
                cfg.idle_timeout = ms(cli, flag, value());
            } else if (flag == "header-timeout-ms") {
                cfg.header_timeout = ms(cli, flag, value());
            } else if (flag == "send-timeout-ms") {
                cfg.send_timeout = ms(cli, flag, value());
            } else if (flag == "grace-ms") {
                cfg.grace = ms(cli, flag, value());
            } else if (flag == "max-request-line") {
                cfg.max_request_line = cli.number<std::size_t>(flag, value(), 64, 1 << 20);
            } else if (flag == "max-header-bytes") {
                cfg.max_header_bytes = cli.number<std::size_t>(flag, value(), 64, 1 << 24);
            } else if (flag == "max-body") {
                cfg.max_body = cli.number<std::size_t>(flag, value(), 0, std::size_t(1) << 32);
            } else if (flag == "cache-max-file") {
                cfg.cache_max_file = cli.number<std::size_t>(flag, value(), 0, 1 << 30);
            } else if (flag == "cache-bytes") {
                cfg.cache_bytes = cli.number<std::size_t>(flag, value(), 0, std::size_t(1) << 40);
            } else if (flag == "cache-valid-ms") {
                cfg.cache_valid = ms(cli, flag, value());
            } else {
                return false;
            }
            return true;
        },
        [](const std::string&) { return false; });
    if (cfg.root.empty()) cli.fail("--root DIR is required");
    if (cfg.idle_timeout.count() == 0 || cfg.header_timeout.count() == 0 ||
        cfg.send_timeout.count() == 0) {
        cli.fail("timeouts must be at least 1 ms");
    }

    auto addr = net::Address::parse(cfg.host + ":" + std::to_string(cfg.port));
    if (!addr) {
        auto v6 = net::Address::parse("[" + cfg.host + "]:" + std::to_string(cfg.port));
        if (!v6) cli.fail("--host: not an IP address: '" + cfg.host + "'");
        addr = v6;
    }
    sh.root_fd = ::open(cfg.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (sh.root_fd < 0) cli.fail("--root " + cfg.root + ": " + std::strerror(errno));

    // splice and sendfile into a closed connection raise SIGPIPE (they take
    // no MSG_NOSIGNAL): the error code is enough.
    ::signal(SIGPIPE, SIG_IGN);

    try {
        if (cfg.loops != 1) return run_many(&sh, *addr, backend);
        // Blocked before any thread starts, so that only the signalfd sees them.
        block_signals({SIGINT, SIGTERM});
        LoopOptions lo;
        lo.backend = backend;
        Loop loop(lo);
        auto l = net::TcpListener::bind(*addr);
        if (!l) {
            std::fprintf(stderr, "http_server: %s\n",
                         net::describe("listen", *addr, l.error()).c_str());
            return 1;
        }
        auto local = l->local_address().value("getsockname");
        std::printf("listening %s backend=%s loops=1\n", local.to_string().c_str(),
                    std::string(to_string(loop.kind())).c_str());
        std::fflush(stdout);
        loop.block_on(run_single(&sh, std::move(*l)));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "http_server: %s\n", e.what());
        return 1;
    }
    return 0;
}
