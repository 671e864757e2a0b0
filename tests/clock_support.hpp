#pragma once
// Helpers for tests that run on a ManualClock.

#include <chrono>

#include <corio/runtime/deadline.hpp>

#include "support.hpp"

namespace corio::test {

/// Runs `body(loop)` on a loop with a ManualClock whose time jumps to the next
/// timer whenever nothing else can run; checks it took little real time.
/// With CORIO_BACKEND=sim, on a simulated host (whose time does the same).
template <class F>
void virtual_run(F body) {
    if (sim_requested()) {
        // A simulated host's clock is virtual already: the world jumps it to
        // the next timer whenever nothing can run.
        auto t0 = Clock::now();
        run(body, std::chrono::hours(1));
        CHECK(Clock::now() - t0 < std::chrono::seconds(5));
        return;
    }
    ManualClock clock;
    LoopOptions o = options();
    o.clock = &clock;
    Loop loop(o);
    auto t0 = Clock::now();
    loop.block_on(auto_advance(body(loop)));
    CHECK(Clock::now() - t0 < std::chrono::seconds(5));
}

/// Same, but the body moves time itself (advance).
template <class F>
void manual_run(F body) {
    ManualClock clock;
    LoopOptions o = options();
    o.clock = &clock;
    Loop loop(o);
    loop.block_on(body(loop));
}

}  // namespace corio::test
