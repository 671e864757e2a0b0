// The blocking pool: calls that would block the loop run on its threads and
// resume their coroutine on the loop; cancelled queued jobs never run.
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "support.hpp"

namespace runtime_blocking_pool_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

std::atomic<int> ran{0};
std::atomic<int> started{0};
std::atomic<bool> gate{false};

// A call that blocks: sleeps `us` (or, for us < 0, until `gate` opens) and
// gives `value`.
struct SlowCall {
    int us;
    int value;
    static constexpr OpKind kind = OpKind::other;
    static constexpr Interest interest = Interest::blocking;
    static constexpr bool uring = false;
    void prep(io_uring_sqe*) const noexcept {}
    int attempt() noexcept {
        started.fetch_add(1);
        if (us < 0) {
            while (!gate.load())
                ::usleep(100);
        } else {
            ::usleep(static_cast<useconds_t>(us));
        }
        ran.fetch_add(1);
        return value;
    }
    Result<int> finish(int res) const noexcept {
        if (res < 0) return sys_error(-res);
        return res;
    }
};

OpAwaiter<SlowCall> slow(int us, int v) { return OpAwaiter<SlowCall>(SlowCall{us, v}); }

}  // namespace

TEST_CASE("blocking calls run off the loop and resume on it", "[pool]") {
    test::run([](Loop& loop) -> Task<void> {
        auto loop_thread = std::this_thread::get_id();
        std::vector<Task<int>> ts;
        for (int i = 0; i < 40; ++i) {
            ts.push_back([](int v, std::thread::id t) -> Task<int> {
                auto r = co_await slow(2000, v);
                REQUIRE(std::this_thread::get_id() == t);  // back on the loop's thread
                co_return r.value("slow");
            }(i, loop_thread));
        }
        // Meanwhile the loop stays responsive.
        auto ticker = [](int* ticks) -> Task<int> {
            for (int i = 0; i < 5; ++i) {
                co_await sleep_for(1ms);
                ++*ticks;
            }
            co_return 0;
        };
        int ticks = 0;
        ts.push_back(ticker(&ticks));
        auto vs = co_await when_all(std::move(ts));
        for (int i = 0; i < 40; ++i) CHECK(vs[std::size_t(i)] == i);
        CHECK(ticks == 5);
        CHECK(loop.stats().submitted[std::size_t(OpKind::other)] == 40);
    });
}

TEST_CASE("cancelled jobs still queued never run", "[pool][cancel]") {
    LoopOptions o = test::options();
    o.blocking_threads = 1;
    Loop loop(o);
    ran = 0;
    started = 0;
    auto body = [](Loop& l) -> Task<void> {
        std::vector<JoinHandle<Result<int>>> hs;
        for (int i = 0; i < 10; ++i) {
            hs.push_back(
                l.spawn([](int v) -> Task<Result<int>> { co_return co_await slow(-1, v); }(i)));
        }
        // Wait until the one thread has taken the first job; nine stay queued
        // (the first holds the thread until the gate opens: no timing).
        for (int i = 0; i < 20000 && started.load() == 0; ++i)
            co_await sleep_for(1ms);
        for (auto& h : hs) h.cancel();
        gate = true;
        int cancelled = 0, done = 0;
        for (auto& h : hs) {
            auto r = co_await h;
            if (r) ++done;
            if (!r && r.error() == std::errc::operation_canceled) ++cancelled;
        }
        CHECK(done + cancelled == 10);
        CHECK(done == 1);
        CHECK(cancelled == 9);
    };
    gate = false;
    loop.block_on(body(loop));
    CHECK(ran.load() == 1);
}

}  // namespace runtime_blocking_pool_test
