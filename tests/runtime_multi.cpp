// Runtime: loops on threads, spawn_on from every loop to every loop,
// run_on_all, block_on, remote results, exceptions and cancellation across
// loops, signals, and the debug check against moving a task across threads.
// Catch2 is not thread-safe: tasks on other loops only count; the test's
// thread asserts.
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <corio/net/server.hpp>
#include <corio/runtime/channel.hpp>
#include <corio/runtime/runtime.hpp>
#include <corio/runtime/sync.hpp>

#include "multi_support.hpp"
#include "support.hpp"

namespace runtime_multi_test {

using namespace corio;
using namespace std::chrono_literals;

TEST_CASE("block_on, run_on_all and current_index", "[multi]") {
    Runtime rt(test::runtime_config(3));
    REQUIRE(rt.loops() == 3);
    CHECK(rt.block_on([]() -> Task<unsigned> { co_return Runtime::current_index(); }()) == 0);
    std::atomic<unsigned> mask{0};
    rt.run_on_all_blocking([&mask](unsigned i) -> Task<void> {
        return [](std::atomic<unsigned>* m, unsigned i) -> Task<void> {
            if (Runtime::current_index() == i) m->fetch_or(1u << i);
            co_return;
        }(&mask, i);
    });
    CHECK(mask.load() == 0b111);
    for (unsigned i = 0; i < rt.loops(); ++i) {
        INFO("loop " << i << ": " << rt.report(i).describe());
        CHECK(rt.report(i).kind == test::backend());
    }
}

namespace {

std::vector<int> affinity_of_this_thread() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (::pthread_getaffinity_np(::pthread_self(), sizeof set, &set) != 0) return cpus;
    for (int c = 0; c < CPU_SETSIZE; ++c) {
        if (CPU_ISSET(c, &set)) cpus.push_back(c);
    }
    return cpus;
}

}  // namespace

// Regression: loop 0 pinned the calling thread first, the loop threads
// inherited that one CPU, and every loop ended up on CPU 0 (a 1.00x
// "scaling" from 1 to 2 loops).
TEST_CASE("pinning puts loop i on the i-th allowed CPU and restores the caller", "[multi]") {
    const std::vector<int> before = affinity_of_this_thread();
    REQUIRE(!before.empty());
    const unsigned n = before.size() >= 2 ? 2 : 1;
    std::vector<std::vector<int>> seen(n);
    for (int round = 0; round < 2; ++round) {  // a second Runtime on the same thread too
        RuntimeConfig c = test::runtime_config(n);
        c.pin = true;
        Runtime rt(c);
        rt.run_on_all_blocking([&seen](unsigned i) -> Task<void> {
            return [](std::vector<int>* out) -> Task<void> {
                *out = affinity_of_this_thread();
                co_return;
            }(&seen[i]);
        });
        for (unsigned i = 0; i < n; ++i) {
            INFO("round " << round << " loop " << i);
            REQUIRE(seen[i].size() == 1);
            CHECK(seen[i][0] == before[i]);
        }
    }
    CHECK(affinity_of_this_thread() == before);
}

// The result of a remote task is published after its frame is destroyed:
// get() sees its parameters released (the cause of a flaky "subscriber still
// counted" in the cross-loop Broadcast test).
TEST_CASE("spawn_on: the task's parameters are released before its result is taken", "[multi]") {
    struct Owned {
        std::atomic<bool>* released;
        explicit Owned(std::atomic<bool>* r) : released(r) {}
        Owned(Owned&& o) noexcept : released(std::exchange(o.released, nullptr)) {}
        ~Owned() {
            if (released == nullptr) return;
            std::this_thread::sleep_for(1ms);  // widens the window the bug needed
            released->store(true);
        }
    };
    Runtime rt(test::runtime_config(2));
    for (int i = 0; i < 20; ++i) {
        std::atomic<bool> released{false};
        auto h = rt.spawn_on(1, [](Owned, int i) -> Task<int> {
            co_await yield();
            if (i % 2 == 1) throw std::runtime_error("odd");
            co_return i;
        }(Owned(&released), i));
        if (i % 2 == 0) {
            CHECK(h.get() == i);
        } else {
            CHECK_THROWS_AS(h.get(), std::runtime_error);
        }
        CHECK(released.load());
    }
}

TEST_CASE("spawn_on from every loop to every loop", "[multi]") {
    constexpr unsigned n = 4;
    constexpr int rounds = 50;
    Runtime rt(test::runtime_config(n));
    std::atomic<int> wrong{0}, done{0};
    auto from = [](Runtime* rt, std::atomic<int>* wrong, std::atomic<int>* done) -> Task<void> {
        unsigned me = Runtime::current_index();
        for (int r = 0; r < rounds; ++r) {
            std::vector<RemoteHandle<unsigned>> hs;
            for (unsigned j = 0; j < rt->loops(); ++j) {
                hs.push_back(rt->spawn_on(j, []() -> Task<unsigned> {
                    co_await yield();
                    co_return Runtime::current_index();
                }()));
            }
            for (unsigned j = 0; j < rt->loops(); ++j) {
                unsigned where = co_await hs[j];
                if (where != j) wrong->fetch_add(1);
                done->fetch_add(1);
            }
            if (Runtime::current_index() != me) wrong->fetch_add(1);  // resumed at home
        }
    };
    rt.run_on_all_blocking([&](unsigned) { return from(&rt, &wrong, &done); });
    CHECK(wrong.load() == 0);
    CHECK(done.load() == int(n * n * rounds));
}

TEST_CASE("remote results, exceptions and get() from a plain thread", "[multi]") {
    Runtime rt(test::runtime_config(2));
    auto h = rt.spawn_on(1, []() -> Task<int> { co_return 42; }());
    int v = 0;
    std::thread t([&] { v = h.get(); });  // a thread without a loop blocks
    t.join();
    CHECK(v == 42);
    auto bad = rt.spawn_on(1, []() -> Task<int> {
        co_await yield();
        throw std::runtime_error("boom");
    }());
    CHECK_THROWS_WITH(bad.get(), "boom");
    // Awaited from loop 0 (block_on runs it on this thread).
    auto r = rt.block_on([](Runtime* rt) -> Task<std::string> {
        co_return co_await rt->spawn_on(1, []() -> Task<std::string> { co_return "far"; }());
    }(&rt));
    CHECK(r == "far");
}

TEST_CASE("cancelling a remote task, and cancelling its awaiter", "[multi][cancel]") {
    Runtime rt(test::runtime_config(2));
    auto sleeper = []() -> Task<bool> { co_return co_await sleep_for(1h); };
    auto h = rt.spawn_on(1, sleeper());
    std::this_thread::sleep_for(10ms);
    CHECK_FALSE(h.done());
    h.cancel();
    CHECK_FALSE(h.get());  // sleep_for gives false when cancelled
    // Stopping the awaiter on loop 0 stops the task on loop 1.
    auto outer = [](Runtime* rt, Task<bool> inner) -> Task<bool> {
        co_return co_await rt->spawn_on(1, std::move(inner));
    };
    auto r = rt.block_on([](Task<bool> t) -> Task<bool> {
        auto res = co_await with_timeout(std::move(t), 20ms);
        co_return res.has_value();
    }(outer(&rt, sleeper())));
    CHECK_FALSE(r);
}

TEST_CASE("loop stats are reachable, MSG_RING carries wake-ups between io_uring loops", "[multi]") {
    Runtime rt(test::runtime_config(2));
    SharedChannel<int> ch(1);
    auto h = rt.spawn_on(1, [](SharedChannel<int> c) -> Task<int> {
        int sum = 0;
        for (int i = 0; i < 100; ++i)
            sum += *co_await c.recv();
        co_return sum;
    }(ch));
    rt.block_on([](SharedChannel<int> c) -> Task<void> {
        for (int i = 0; i < 100; ++i)
            (void)co_await c.send(i);
    }(ch));
    CHECK(h.get() == 4950);
    LoopStats s0 = rt.stats(0), s1 = rt.stats(1);
    CHECK(s1.remote_received > 0);
    if (rt.report(0).kind == BackendKind::io_uring && rt.report(0).caps.msg_ring) {
        CHECK(s0.msg_ring_sent > 0);
        CHECK(s1.msg_ring_received > 0);
    } else {
        CHECK(s0.msg_ring_sent == 0);
    }
}

TEST_CASE("wait_signal takes a signal from a signalfd", "[multi][signal]") {
    RuntimeConfig c = test::runtime_config(2);
    c.block_signals = {SIGUSR1};
    // Waited on loop 1, not on this thread: this thread must block it too.
    c.block_signals_on_calling_thread = true;
    Runtime rt(c);
    auto h = rt.spawn_on(1, wait_signal({SIGUSR1}));
    std::this_thread::sleep_for(20ms);
    ::kill(::getpid(), SIGUSR1);
    auto r = h.get();
    REQUIRE(r);
    CHECK(*r == SIGUSR1);
}

TEST_CASE("run_until_signal shuts down on SIGTERM or on request", "[multi][signal]") {
    {
        Runtime rt(test::runtime_config(2));
        std::thread killer([] {
            // A thread of our own: it must block the signal too, or the
            // kernel may hand SIGTERM to it (default action: exit).
            block_signals({SIGTERM});
            std::this_thread::sleep_for(50ms);
            ::kill(::getpid(), SIGTERM);
        });
        CHECK(rt.run_until_signal() == SIGTERM);
        killer.join();
        CHECK(rt.shutting_down());
    }
    {
        Runtime rt(test::runtime_config(2));
        auto h = rt.spawn_on(1, [](Runtime* rt) -> Task<void> {
            co_await sleep_for(20ms);
            rt->request_shutdown();
        }(&rt));
        h.detach();
        CHECK(rt.run_until_signal() == 0);
    }
}

namespace {

// A blocking client (this thread runs no loop): sends `msg`, reads the echo.
std::string echo_once(std::uint16_t port, const std::string& msg) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string out;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
        ::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) == ssize_t(msg.size())) {
        char buf[256];
        while (out.size() < msg.size()) {
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            out.append(buf, std::size_t(n));
        }
    }
    ::close(fd);
    return out;
}

}  // namespace

TEST_CASE("serve: a SO_REUSEPORT listener per loop, stopped by the shutdown", "[multi][server]") {
    RuntimeConfig c = test::runtime_config(2);
    c.use_calling_thread = false;  // this thread is the (blocking) client
    std::atomic<int> per_loop[2] = {};
    std::uint16_t port = 0;
    {
        Runtime rt(c);
        auto handler = [&per_loop](net::TcpStream s) -> Task<void> {
            return [](net::TcpStream s, std::atomic<int>* per_loop) -> Task<void> {
                per_loop[Runtime::current_index()].fetch_add(1);
                std::array<std::byte, 256> buf;
                for (;;) {
                    auto n = co_await s.recv(buf);
                    if (!n || *n == 0) co_return;
                    auto w = co_await s.send_all(std::span(buf).first(*n));
                    if (!w) co_return;
                }
            }(std::move(s), per_loop);
        };
        auto addr = rt.block_on(net::serve(rt, net::Address::loopback_v4(0), handler));
        REQUIRE(addr);
        port = addr->port();
        REQUIRE(port != 0);
        int ok = 0;
        for (int i = 0; i < 64; ++i)
            ok += echo_once(port, "ping " + std::to_string(i)) == "ping " + std::to_string(i);
        CHECK(ok == 64);
        INFO("loop 0 served " << per_loop[0] << ", loop 1 served " << per_loop[1]);
        CHECK(per_loop[0] + per_loop[1] == 64);
        CHECK(per_loop[0] > 0);  // the kernel spread them (hash of the client port)
        CHECK(per_loop[1] > 0);
    }
    // After the shutdown nothing listens there any more.
    CHECK(echo_once(port, "late").empty());
}

#ifndef NDEBUG
TEST_CASE("awaiting a JoinHandle of another loop aborts with a clear message", "[multi][debug]") {
    int err[2];
    REQUIRE(::pipe(err) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::signal(SIGABRT, SIG_DFL);  // not Catch's handler: die as the check means to
        ::dup2(err[1], 2);
        int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, 1);
        set_log_level(LogLevel::warn);
        Loop a;
        JoinHandle<void> h = a.spawn([]() -> Task<void> { co_await sleep_for(1h); }());
        std::thread t([&h] {
            Loop b;
            b.block_on([](JoinHandle<void>* h) -> Task<void> { co_await *h; }(&h));
        });
        t.join();
        std::_Exit(0);  // not reached
    }
    ::close(err[1]);
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = ::read(err[0], buf, sizeof buf)) > 0)
        out.append(buf, std::size_t(n));
    ::close(err[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    INFO(out);
    CHECK(WIFSIGNALED(status));
    CHECK(out.find("JoinHandle") != std::string::npos);
    CHECK(out.find("does not run its loop") != std::string::npos);
}
#endif

namespace {
Task<void> bump(std::atomic<int>* n) {
    n->fetch_add(1);
    co_return;
}
}  // namespace

TEST_CASE("loops on many threads read a bad CORIO_BACKEND without a data race", "[multi]") {
    // Every loop reads the environment and warns once about a bad value; the
    // "warned" flag was a plain static bool written by each loop thread (a
    // data race TSan reports). The loops fall back to `auto`.
    const char* old = std::getenv("CORIO_BACKEND");
    std::string saved = old != nullptr ? old : "";
    ::setenv("CORIO_BACKEND", "no-such-backend", 1);
    {
        Runtime rt(test::runtime_config(2));
        std::atomic<int> ran{0};
        std::atomic<int>* n = &ran;
        rt.run_on_all_blocking([n] { return bump(n); });
        CHECK(ran.load() == 2);
    }
    if (old != nullptr) {
        ::setenv("CORIO_BACKEND", saved.c_str(), 1);
    } else {
        ::unsetenv("CORIO_BACKEND");
    }
}

}  // namespace runtime_multi_test
