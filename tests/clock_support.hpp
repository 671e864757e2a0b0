#pragma once
// Helpers for tests that run on a ManualClock.

#include <chrono>

#include <corio/runtime/deadline.hpp>

#include "support.hpp"

namespace corio::test {

/// Runs `body(loop)` on a loop with a ManualClock whose time jumps to the next
/// timer whenever nothing else can run; checks it took little real time.
template <class F>
void virtual_run(F body) {
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
