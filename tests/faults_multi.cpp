// The fault suite (issue 10), multi-loop part: a Runtime shut down with about
// 1,000 operations in flight on every loop (socket receives, accepts, pipe
// reads, sleeps). Every one is cancelled, every thread is joined, and every
// descriptor (sockets, pipes, rings, eventfds) is closed afterwards. Runs in
// the "multi" suite, so CI also runs it under TSan; under ASan/LSan a frame
// or state left behind would be reported as a leak.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <corio/runtime/runtime.hpp>

#include "faults_support.hpp"

namespace faults_multi_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

struct Counters {
    std::atomic<int> started{0};
    std::atomic<int> cancelled{0};
    std::atomic<int> odd{0};
    std::atomic<int> loops_ready{0};
};

void ended(Counters* c, bool cancelled) {
    (cancelled ? c->cancelled : c->odd).fetch_add(1);
}

template <class T>
bool is_canceled(const Result<T>& r) {
    return !r && r.error() == std::errc::operation_canceled;
}

Task<void> sock_reader(net::TcpStream s, Counters* c) {
    c->started.fetch_add(1);
    std::array<std::byte, 64> buf{};
    ended(c, is_canceled(co_await s.recv(buf)));
}

Task<void> acceptor(std::shared_ptr<net::TcpListener> l, Counters* c) {
    c->started.fetch_add(1);
    ended(c, is_canceled(co_await l->accept()));
}

struct Pipe {
    int fds[2] = {-1, -1};
    Pipe() { (void)::pipe2(fds, O_NONBLOCK | O_CLOEXEC); }
    ~Pipe() {
        for (int fd : fds) {
            if (fd < 0) continue;
            if (Loop* l = Loop::current_or_null()) l->release_fd(fd);
            ::close(fd);
        }
    }
};

Task<void> pipe_reader(std::shared_ptr<Pipe> p, Counters* c) {
    c->started.fetch_add(1);
    std::array<std::byte, 8> buf{};
    ended(c, is_canceled(co_await read(p->fds[0], buf)));
}

Task<void> sleeper(Counters* c) {
    c->started.fetch_add(1);
    ended(c, !co_await sleep_for(1h));
}

constexpr int pairs_per_loop = 150;  // 300 socket receives
constexpr int accepts_per_loop = 200;
constexpr int pipe_reads_per_loop = 200;
constexpr int sleeps_per_loop = 300;
constexpr int per_loop =
    2 * pairs_per_loop + accepts_per_loop + pipe_reads_per_loop + sleeps_per_loop;

// Fills the current loop with waiting operations, all on its own descriptors.
Task<void> load_loop(Counters* c) {
    Loop& loop = Loop::current();
    auto l = std::make_shared<net::TcpListener>();
    {
        auto b = net::TcpListener::bind(net::Address::loopback_v4(0));
        if (!b) co_return;
        *l = std::move(*b);
    }
    for (int i = 0; i < pairs_per_loop; ++i) {
        auto p = co_await test::tcp_pair();
        if (!p) co_return;
        loop.spawn(sock_reader(std::move(p->first), c)).detach();
        loop.spawn(sock_reader(std::move(p->second), c)).detach();
    }
    for (int i = 0; i < accepts_per_loop; ++i)
        loop.spawn(acceptor(l, c)).detach();
    auto pipe = std::make_shared<Pipe>();
    for (int i = 0; i < pipe_reads_per_loop; ++i)
        loop.spawn(pipe_reader(pipe, c)).detach();
    for (int i = 0; i < sleeps_per_loop; ++i)
        loop.spawn(sleeper(c)).detach();
    c->loops_ready.fetch_add(1);
}

}  // namespace

TEST_CASE("shutdown with ~1,000 socket, accept, pipe and timer waits on every loop",
          "[multi][faults][shutdown]") {
    constexpr unsigned loops = 4;
    const rlim_t lim = test::raise_fd_limit();
    if (lim < loops * (4 * pairs_per_loop + 100)) {
        WARN("descriptor limit " << lim << " too low");
        return;
    }
    const int fds0 = test::open_fds();
    Counters c;
    const int expected = int(loops) * per_loop;
    auto took = Duration{};
    {
        RuntimeConfig cfg;
        cfg.loops = loops;
        cfg.shutdown_deadline = 50ms;
        cfg.cancel_deadline = 5s;
        Runtime rt(cfg);
        rt.run_on_all_blocking([&c](unsigned) { return load_loop(&c); });
        REQUIRE(c.loops_ready.load() == int(loops));
        for (int i = 0; i < 1000 && c.started.load() < expected; ++i)
            std::this_thread::sleep_for(5ms);
        REQUIRE(c.started.load() == expected);
        std::this_thread::sleep_for(20ms);  // every operation reaches the kernel / epoll
        const auto t0 = Clock::now();
        rt.shutdown();  // joins every thread
        took = Clock::now() - t0;
        CHECK(c.cancelled.load() == expected);
        CHECK(c.odd.load() == 0);
    }
    INFO("shutdown took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                          << " ms");
    CHECK(took < 3s);
    // Sockets, listeners, pipes, rings and eventfds: all closed.
    CHECK(test::open_fds() == fds0);
    test::report("shutdown: ", loops, " loops x ", per_loop, " waiting operations, ",
                 c.cancelled.load(), " cancelled, threads joined in ", test::ms(took), " ms");
}

}  // namespace faults_multi_test
