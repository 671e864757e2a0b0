// The fault suite (issue 10), part 3: a flood of 10,000 connect/close cycles
// against an echo server in the same process, after which descriptors and
// memory are back at their baseline; and descriptor exhaustion in a child
// process: clients that come while the server is out of descriptors fail
// fast instead of hanging, and the server serves again once descriptors are
// free.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <string>
#include <vector>

#include "faults_support.hpp"

namespace faults_flood_test {

using namespace corio;
using namespace std::chrono_literals;
using test::bytes;

namespace {

struct FloodStats {
    int live = 0;     // server connections open
    int handled = 0;  // server connections finished
    int echoed = 0;   // client round trips that came back right
    int failed = 0;   // client connections that went wrong
};

Task<void> flood_echo(net::TcpStream s, FloodStats* st) {
    ++st->live;
    std::array<std::byte, 256> buf{};
    for (;;) {
        auto n = co_await s.recv(buf);
        if (!n || *n == 0) break;
        if (!co_await s.send_all(std::span(buf).first(*n))) break;
    }
    --st->live;
    ++st->handled;
}

Task<void> flood_acceptor(net::TcpListener* l, TaskGroup* g, FloodStats* st) {
    for (;;) {
        auto s = co_await l->accept();
        if (!s) co_return;  // cancelled: the test is over
        g->spawn(flood_echo(std::move(*s), st));
    }
}

// Connections first .. first+n-1, one after another, each ended another way:
// a round trip then close, a round trip then reset, close without a word, or
// a half-close waiting for the server to close.
Task<void> flood_worker(net::Address addr, int first, int n, FloodStats* st) {
    for (int i = first; i < first + n; ++i) {
        auto s = co_await net::TcpStream::connect(addr, 5s);
        if (!s) {
            ++st->failed;
            continue;
        }
        const int how = i % 4;
        if (how <= 1) {
            std::string msg = "flood " + std::to_string(i);
            std::array<std::byte, 32> back{};
            auto w = co_await s->send_all(bytes(msg));
            auto r = w ? co_await s->read_exact(std::span(back).first(msg.size()))
                       : Result<void>(w.error());
            if (r && test::chars(std::span(back).first(msg.size())) == msg) {
                ++st->echoed;
            } else {
                ++st->failed;
            }
            if (how == 1 && !s->set_linger_reset()) ++st->failed;
        } else if (how == 3) {
            if (!s->shutdown(SHUT_WR)) ++st->failed;
            std::array<std::byte, 8> buf{};
            auto r = co_await s->recv(buf).timeout(5s);
            if (!r || *r != 0) ++st->failed;  // the server's close: end of stream
        }
        s->close();
    }
}

Task<void> flood(net::Address addr, int total, int conc, FloodStats* st) {
    TaskGroup g;
    for (int w = 0; w < conc; ++w)
        g.spawn(flood_worker(addr, w * (total / conc), total / conc, st));
    co_await g.wait();
}

}  // namespace

TEST_CASE("a flood of 10,000 connect/close cycles: descriptors and memory back to baseline",
          "[faults][flood]") {
    const int fds0 = test::open_fds();
    test::run(
        [](Loop& loop) -> Task<void> {
            constexpr int total = 10000, conc = 100;
            FloodStats st;
            int fds1 = 0, fds2 = 0;
            std::uint64_t rss1 = 0, rss2 = 0;
            Duration took{};
            {
                auto l = net::TcpListener::bind(net::Address::loopback_v4(0));
                REQUIRE(l);
                auto addr = l->local_address().value();
                TaskGroup conns;
                auto acc = loop.spawn(flood_acceptor(&*l, &conns, &st));
                // Warm up: caches, free lists and the epoll table reach their
                // steady size.
                co_await flood(addr, 1000, conc, &st);
                bool quiet = co_await test::eventually([&] { return st.live == 0; }, 5s);
                fds1 = test::open_fds();
                rss1 = test::rss_bytes();
                const auto t0 = Clock::now();
                co_await flood(addr, total, conc, &st);
                took = Clock::now() - t0;
                quiet = quiet && co_await test::eventually([&] { return st.live == 0; }, 5s);
                fds2 = test::open_fds();
                rss2 = test::rss_bytes();
                acc.cancel();
                co_await acc;
                co_await conns.wait();
                CHECK(quiet);
            }
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
            INFO(total << " connections in " << ms << " ms; descriptors " << fds1 << " -> " << fds2
                       << "; RSS " << rss1 / 1024 << " -> " << rss2 / 1024 << " KiB");
            CHECK(st.failed == 0);
            CHECK(st.handled == total + 1000);
            CHECK(st.echoed == (total + 1000) / 2);
            CHECK(fds2 == fds1);
            if (!test::sanitized) {  // there freed memory sits in a quarantine
                // Frames and buffers are reused, not leaked: 10,000 connections
                // leaking even 1 KiB each would show as 10 MiB.
                CHECK(rss2 <= rss1 + 4 * test::mib);
            }
            test::report("flood: ", total, " connect/close cycles (100 at a time) in ", ms,
                         " ms; descriptors ", fds1, " -> ", fds2, ", RSS ", rss1 / 1024, " -> ",
                         rss2 / 1024, " KiB");
        },
        60s);
    CHECK(test::open_fds() == fds0);
}

// ---- descriptor exhaustion ---------------------------------------------------

namespace {

// Exit codes of the server child.
enum : int { child_ok = 0, child_no_listener = 10, child_loop_error = 11 };

Task<void> hold_echo(net::TcpStream s) {
    std::array<std::byte, 64> buf{};
    for (;;) {
        auto n = co_await s.recv(buf);
        if (!n || *n == 0) co_return;
        if (!co_await s.send_all(std::span(buf).first(*n))) co_return;
    }
}

Task<void> child_acceptor(net::TcpListener* l, TaskGroup* g) {
    for (;;) {
        auto s = co_await l->accept();
        if (!s) co_return;
        g->spawn(hold_echo(std::move(*s)));
    }
}

// The server: tells the parent its port on `report_fd`, echoes on every
// connection it can accept (holding its descriptor while the peer does),
// and ends when the parent closes `quit_fd`.
Task<int> child_server(int report_fd, int quit_fd) {
    auto l = net::TcpListener::bind(net::Address::loopback_v4(0));
    if (!l) co_return child_no_listener;
    const std::uint16_t port = l->local_address().value().port();
    if (::write(report_fd, &port, sizeof port) != sizeof port) co_return child_no_listener;
    TaskGroup conns;
    auto acc = Loop::current().spawn(child_acceptor(&*l, &conns));
    std::array<std::byte, 1> b{};
    auto r = co_await read(quit_fd, b);  // 0: the parent is done
    (void)r;
    acc.cancel();
    co_await acc;
    conns.cancel();
    co_await conns.wait();
    co_return child_ok;
}

// One client: connects, sends "ping", waits up to 3 s for the echo. Gives
// whether it was served, and how long it took to learn either way.
struct Probe {
    bool served = false;
    bool hung = false;
    Duration took{};
};

Task<void> probe(net::Address addr, Probe* p) {
    const auto t0 = Clock::now();
    auto body = [](net::Address addr) -> Task<Result<bool>> {
        auto s = co_await net::TcpStream::connect(addr);
        if (!s) co_return s.error();
        auto w = co_await s->send_all(bytes("ping"));
        if (!w) co_return w.error();
        std::array<std::byte, 4> buf{};
        auto r = co_await s->read_exact(buf);
        if (!r) co_return r.error();
        co_return test::chars(buf) == "ping";
    };
    auto r = co_await with_timeout(body(addr), 3s);
    p->took = Clock::now() - t0;
    p->hung = !r && r.error() == std::errc::timed_out;
    p->served = r && *r;
}

Task<std::vector<Probe>> probes(net::Address addr, int n) {
    std::vector<Probe> ps(static_cast<std::size_t>(n));
    TaskGroup g;
    for (auto& p : ps)
        g.spawn(probe(addr, &p));
    co_await g.wait();
    co_return ps;
}

Task<void> parent_side(net::Address addr, int quit_w, std::vector<Probe>* during,
                       std::vector<Probe>* after, int* hogs_made) {
    // Hog the server: 120 connections, far more than its 40 spare descriptors.
    std::vector<net::TcpStream> hogs;
    for (int i = 0; i < 120; ++i) {
        auto s = co_await net::TcpStream::connect(addr, 2s);
        if (s) hogs.push_back(std::move(*s));
    }
    *hogs_made = int(hogs.size());
    co_await sleep_for(200ms);  // the server accepts what it can, then runs out
    *during = co_await probes(addr, 20);
    // Release: the server sees its connections end and closes them.
    hogs.clear();
    co_await sleep_for(300ms);  // past the listener's backoff (at most 100 ms)
    *after = co_await probes(addr, 20);
    ::close(quit_w);
}

bool wait_child(pid_t pid, int* status, std::chrono::milliseconds limit) {
    const auto end = Clock::now() + limit;
    while (Clock::now() < end) {
        if (::waitpid(pid, status, WNOHANG) == pid) return true;
        ::usleep(5000);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, status, 0);
    return false;
}

}  // namespace

TEST_CASE("descriptor exhaustion: clients fail fast, then are served again", "[faults][emfile]") {
    int report[2], quit[2];
    REQUIRE(::pipe2(report, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(quit, O_CLOEXEC | O_NONBLOCK) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(report[0]);
        ::close(quit[1]);
        // 40 descriptors beyond what the child has now (the loop takes a few).
        const rlim_t lim = rlim_t(test::open_fds() + 40);
        rlimit rl{lim, lim};
        ::setrlimit(RLIMIT_NOFILE, &rl);
        int code = child_loop_error;
        try {
            Loop loop(test::options());
            code = loop.block_on(child_server(report[1], quit[0]));
        } catch (...) {
            code = child_loop_error;
        }
        ::_exit(code);
    }
    ::close(report[1]);
    ::close(quit[0]);
    // Whatever fails below, the child does not outlive the test.
    struct Reaper {
        pid_t pid;
        bool reaped = false;
        ~Reaper() {
            if (!reaped) {
                ::kill(pid, SIGKILL);
                ::waitpid(pid, nullptr, 0);
            }
        }
    } reaper{pid};
    std::uint16_t port = 0;
    pollfd pfd{report[0], POLLIN, 0};
    const bool reported = ::poll(&pfd, 1, 5000) == 1 && ::read(report[0], &port, sizeof port) == 2;
    ::close(report[0]);
    if (!reported) {
        ::close(quit[1]);
        int status = 0;
        reaper.reaped = true;
        wait_child(pid, &status, 5s);
        FAIL("the server child did not start (exit status " << status << ")");
    }
    std::vector<Probe> during, after;
    int hogs = 0;
    int quit_w = quit[1];
    // Not a coroutine lambda: it only makes the task, so it may capture.
    test::run(
        [&](Loop&) {
            return parent_side(net::Address::loopback_v4(port), quit_w, &during, &after, &hogs);
        },
        30s);
    int status = 0;
    reaper.reaped = true;
    const bool exited = wait_child(pid, &status, 5s);
    CHECK(exited);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == child_ok);
    CHECK(hogs > 40);

    // While exhausted: nobody is served, and nobody waits long to learn it.
    int served = 0, hung = 0;
    Duration worst{};
    for (auto& p : during) {
        served += p.served ? 1 : 0;
        hung += p.hung ? 1 : 0;
        worst = std::max(worst, p.took);
    }
    INFO("during exhaustion: "
         << served << " served, " << hung << " hung, slowest answer "
         << std::chrono::duration_cast<std::chrono::milliseconds>(worst).count() << " ms");
    CHECK(served == 0);
    CHECK(hung == 0);
    CHECK(worst < 1s);
    // After release: everybody is served.
    int served_after = 0;
    for (auto& p : after)
        served_after += p.served ? 1 : 0;
    CHECK(served_after == int(after.size()));
    test::report("descriptor exhaustion: ", hogs, " connections against ~40 spare descriptors; ",
                 during.size(), " clients during exhaustion: ", served, " served, ", hung,
                 " hung, slowest failure ", test::ms(worst), " ms; after release ", served_after,
                 "/", after.size(), " served");
}

}  // namespace faults_flood_test
