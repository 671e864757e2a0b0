// Testing time-based code without waiting: a loop on a ManualClock runs
// timers, sleep_for, with_timeout, retry backoff and breaker cool-downs in
// virtual time. auto_advance jumps the clock to the next timer whenever
// nothing else can run; advance(d) moves it by hand.
#include <chrono>
#include <cstdio>

#include <corio/runtime/clock.hpp>
#include <corio/runtime/deadline.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/resilience.hpp>

using namespace corio;
using namespace std::chrono_literals;

Task<Result<int>> always_refused() {
    co_return std::errc::connection_refused;
}

Task<bool> check(Loop& loop) {
    // An hour of sleep, instantly.
    const TimePoint t0 = loop.now();
    co_await sleep_for(1h);
    bool slept = loop.now() - t0 == 1h;

    // Retry's backoff in virtual time: with Jitter::none the delays are exact.
    RetryPolicy p;
    p.max_attempts = 4;
    p.initial_backoff = 1s;
    p.max_backoff = 1min;
    p.jitter = Jitter::none;
    const TimePoint t1 = loop.now();
    auto r = co_await retry(p, [] { return always_refused(); });
    bool backoff = r.attempts == 4 && loop.now() - t1 == 1s + 2s + 4s;
    co_return slept&& backoff;
}

int main() {
    ManualClock clock;
    LoopOptions opts;
    opts.clock = &clock;
    Loop loop(opts);
    auto real = Clock::now();
    bool ok = loop.block_on(auto_advance(check(loop)));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - real).count();
    std::printf("virtual time: %s, %lld ms of real time\n", ok ? "as expected" : "WRONG",
                static_cast<long long>(ms));
    return ok ? 0 : 1;
}
