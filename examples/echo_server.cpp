// echo_server: a TCP echo server on one event loop per core.
//
//   echo_server [--host 127.0.0.1] [--port 0] [--loops 1] [--backend auto]
//
// Prints `listening HOST:PORT backend=B loops=N` when ready, echoes every byte
// back until SIGINT/SIGTERM, then stops accepting, gives open connections a
// second to finish and exits 0.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include <corio/net/tcp.hpp>
#include <corio/runtime/log.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/ops.hpp>
#include <corio/runtime/task_group.hpp>
#include <corio/runtime/timer.hpp>
#include <corio/runtime/when_any.hpp>

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
    "  --buf-size BYTES   receive buffer per connection (default 4096)\n"
    "  --help             this text\n"
    "Prints `listening HOST:PORT backend=B loops=N` when ready; SIGINT/SIGTERM stop it.\n";

struct Config {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    unsigned loops = 1;
    BackendChoice backend = BackendChoice::automatic;
    std::size_t buf_size = 4096;
};

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

Task<void> accept_loop(net::TcpListener* l, TaskGroup* conns, std::size_t buf_size) {
    for (;;) {
        auto s = co_await l->accept();
        if (!s) {
            if (s.error() == std::errc::operation_canceled) co_return;
            log_warn("accept: {}", s.error().message());
            continue;
        }
        (void)s->set_nodelay();
        conns->spawn(echo(std::move(*s), buf_size));
    }
}

/// Waits for SIGINT or SIGTERM (blocked in every thread, read from a signalfd).
Task<int> wait_for_signal(int sfd) {
    signalfd_siginfo info{};
    auto r = co_await corio::read(sfd, std::as_writable_bytes(std::span(&info, 1)));
    co_return r ? int(info.ssi_signo) : 0;
}

/// Serves on this thread's loop until `stop` completes, then shuts down.
Task<void> serve(net::TcpListener l, std::size_t buf_size, Task<int> stop) {
    TaskGroup conns;
    TaskGroup acceptor;
    acceptor.spawn(accept_loop(&l, &conns, buf_size));
    co_await std::move(stop);
    acceptor.cancel();  // stop accepting
    co_await acceptor.wait();
    l.close();
    // In-flight connections get a second to finish, then are cancelled.
    auto done = co_await with_timeout(conns.wait(), 1s);
    (void)done;
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

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
    int sfd = ::signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        std::perror("signalfd");
        return 1;
    }

    try {
        LoopOptions lo;
        lo.backend = cfg.backend;
        Loop loop(lo);
        net::ListenOptions opts;
        opts.reuse_port = cfg.loops != 1;
        auto l = net::TcpListener::bind(*addr, opts);
        if (!l) {
            std::fprintf(stderr, "echo_server: %s\n",
                         net::describe("listen", *addr, l.error()).c_str());
            return 1;
        }
        auto local = l->local_address().value("getsockname");
        std::printf("listening %s backend=%s loops=%u\n", local.to_string().c_str(),
                    std::string(to_string(loop.kind())).c_str(), 1u);
        std::fflush(stdout);
        loop.block_on(serve(std::move(*l), cfg.buf_size, wait_for_signal(sfd)));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_server: %s\n", e.what());
        return 1;
    }
    ::close(sfd);
    return 0;
}
