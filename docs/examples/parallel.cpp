// Parallel and interleaved: when_all runs tasks concurrently on one loop and
// continues when all are done (three 20 ms steps take about 20 ms); spawn
// starts a task that runs interleaved with its starter; a Runtime runs one
// loop per thread for work that needs more than one core.
#include <atomic>
#include <chrono>
#include <cstdio>

#include <corio/runtime/loop.hpp>
#include <corio/runtime/runtime.hpp>
#include <corio/runtime/task.hpp>
#include <corio/runtime/timer.hpp>
#include <corio/runtime/when_all.hpp>

using namespace corio;
using namespace std::chrono_literals;

Task<int> lookup(int key) {
    co_await sleep_for(20ms);
    co_return key * 10;
}

Task<int> fan_out() {
    // In any order, at the same time; the results come back in argument order.
    auto [a, b, c] = co_await when_all(lookup(1), lookup(2), lookup(3));
    co_return a + b + c;
}

Task<int> interleaved() {
    // spawn: starts now and runs whenever this task waits; the handle gives
    // its result later.
    JoinHandle<int> background = spawn(lookup(4));
    int mine = co_await lookup(5);  // both sleeps overlap
    co_return mine + co_await background;
}

int main() {
    auto t0 = Clock::now();
    int sum = block_on(fan_out());
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    std::printf("when_all: %d after %lld ms (3 steps of 20 ms at once)\n", sum,
                static_cast<long long>(ms));

    int both = block_on(interleaved());
    std::printf("spawn: %d\n", both);

    // Many loops: one per thread; each runs its own tasks, in parallel.
    RuntimeConfig cfg;
    cfg.loops = 2;
    Runtime rt(cfg);
    std::atomic<int> ran{0};
    rt.run_on_all_blocking([&ran](unsigned loop) -> Task<void> {
        co_await sleep_for(10ms);
        ran.fetch_add(static_cast<int>(loop) + 1);
    });
    std::printf("runtime: %u loops ran (sum of 1-based indexes %d)\n", rt.loops(), ran.load());
    return sum == 60 && both == 90 && ran.load() == 3 ? 0 : 1;
}
