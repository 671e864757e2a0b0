#pragma once
// The loop's clock: the real steady clock, or a manual one for tests.

#include <chrono>

#include <corio/runtime/detail/timer_queue.hpp>

namespace corio {

/// A clock that moves only when told to. A Loop made with
/// LoopOptions::clock = &manual uses it for timers, sleep_for, with_timeout
/// and everything built on them, so time-based behaviour is tested in
/// microseconds of real time and deterministically. Due timers fire at the
/// loop's next turn after advance().
class ManualClock {
public:
    /// A clock at an arbitrary fixed start (one hour after the epoch of TimePoint).
    ManualClock() noexcept = default;
    /// A clock at `start`.
    explicit ManualClock(TimePoint start) noexcept : now_(start) {}
    /// The clock's time.
    TimePoint now() const noexcept { return now_; }
    /// Moves the time forward by `d` at once (corio::advance() moves it step by
    /// step, firing the timers on the way).
    void advance(Duration d) noexcept { now_ += d; }
    /// Moves the time forward to `t`; a `t` in the past is ignored (time never
    /// goes back).
    void set(TimePoint t) noexcept {
        if (t > now_) now_ = t;
    }

private:
    TimePoint now_{std::chrono::hours(1)};
};

}  // namespace corio
