#pragma once
// Deadlines and virtual time.
//
// A Deadline is an absolute point on the loop's clock, passed by value down a
// chain of calls; every step awaited under it (with_deadline(step, deadline))
// gets only what is left, so three calls under a 2 s deadline end by 2 s, not
// after 6 s.
//
// The virtual-time helpers (settle, advance, auto_advance) drive a loop that
// runs on a ManualClock (LoopOptions::clock): tests of time-based behaviour
// then take microseconds of real time and give the same answer every run.

#include <algorithm>
#include <chrono>
#include <compare>
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <corio/runtime/clock.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/task.hpp>
#include <corio/runtime/timer.hpp>
#include <corio/runtime/when_all.hpp>

namespace corio {

/// An absolute point in time on the loop's clock (the ManualClock in tests),
/// or "never". Cheap to copy: pass it by value down a chain of calls and bound
/// each step with `with_deadline(step(), deadline)`.
class Deadline {
public:
    /// A deadline that never passes.
    constexpr Deadline() noexcept = default;
    /// The deadline `t` (implicit, so `loop.now() + 2s` can be passed as one).
    constexpr Deadline(TimePoint t) noexcept : when_(t) {}  // NOLINT: implicit by design

    /// A deadline that never passes.
    static constexpr Deadline never() noexcept { return {}; }
    /// `d` from now on the current loop's clock.
    static Deadline after(Duration d) { return after(Loop::current(), d); }
    /// `d` from now on `loop`'s clock. A negative `d` is a deadline already past.
    static Deadline after(const Loop& loop, Duration d) noexcept {
        TimePoint now = loop.now();
        if (d >= TimePoint::max() - now) return never();
        return Deadline(now + d);
    }
    /// after(Duration) for any duration type (`Deadline::after(2s)`).
    template <class Rep, class Period>
    static Deadline after(std::chrono::duration<Rep, Period> d) {
        return after(std::chrono::duration_cast<Duration>(d));
    }

    /// The point in time; TimePoint::max() for never.
    constexpr TimePoint when() const noexcept { return when_; }
    /// True for a deadline that never passes.
    constexpr bool is_never() const noexcept { return when_ == TimePoint::max(); }

    /// Time left on the current loop's clock: zero once passed, Duration::max()
    /// for never.
    Duration remaining() const { return remaining(Loop::current()); }
    /// Time left on `loop`'s clock.
    Duration remaining(const Loop& loop) const noexcept {
        if (is_never()) return Duration::max();
        return std::max(Duration::zero(), when_ - loop.now());
    }
    /// True once the current loop's clock has reached the deadline.
    bool expired() const { return expired(Loop::current()); }
    /// True once `loop`'s clock has reached the deadline.
    bool expired(const Loop& loop) const noexcept { return !is_never() && loop.now() >= when_; }

    /// The earlier of the two (a step may have a tighter limit of its own).
    constexpr Deadline earliest(Deadline o) const noexcept { return when_ <= o.when_ ? *this : o; }
    /// The earlier of this deadline and `d` from now (a per-step timeout).
    Deadline earliest_after(Duration d) const { return earliest(after(d)); }

    /// Deadlines compare by time; never is the latest.
    ///@{
    friend constexpr bool operator==(Deadline a, Deadline b) noexcept = default;
    friend constexpr auto operator<=>(Deadline a, Deadline b) noexcept = default;
    ///@}

private:
    TimePoint when_ = TimePoint::max();
};

/// Awaits `a` until `deadline` at the latest (see with_timeout): when time
/// runs out `a` is cancelled and, once it has finished, the result is
/// std::errc::timed_out. An awaitable giving Result<T> gives Result<T>, one
/// giving T gives Result<T>. A deadline already past still runs `a` until its
/// first suspension, then cancels it. With Deadline::never() only the caller's
/// cancellation ends it.
template <class A>
auto with_deadline(A a, Deadline deadline) {
    return with_deadline(std::move(a), deadline.when());
}

// ---- virtual time -------------------------------------------------------

namespace detail {

/// Which loop batches consisted only of settling coroutines (settle() and
/// auto_advance's clock driver), so that several of them at once still see
/// the loop go idle. A batch is named by LoopStats::tasks_run, which
/// run_ready() raises by the batch's size before running it: constant within
/// a batch, larger for every later one.
struct SettleBook {
    const Loop* loop = nullptr;
    std::uint64_t batch = 0;       // the batch being counted
    std::uint64_t seen = 0;        // settlers resumed in it so far
    std::uint64_t idle_batch = 0;  // the latest batch made only of settlers
    unsigned active = 0;           // settlers alive on this thread
};
inline thread_local SettleBook settle_book;

/// Registers a settler for its lifetime; the book starts afresh whenever no
/// settler is alive (so a later loop, even at the same address, starts clean).
struct SettlerScope {
    explicit SettlerScope(const Loop& l) noexcept {
        SettleBook& b = settle_book;
        if (b.active == 0 || b.loop != &l) b = SettleBook{&l, 0, 0, 0, 0};
        ++b.active;
    }
    SettlerScope(const SettlerScope&) = delete;
    SettlerScope& operator=(const SettlerScope&) = delete;
    ~SettlerScope() {
        if (settle_book.active > 0 && --settle_book.active == 0) settle_book = SettleBook{};
    }
};

/// Counts the caller, a settler just resumed in the batch `now` (which
/// started after `before`); records the batch as idle when every coroutine
/// it ran so far was a settler.
inline SettleBook& note_settler(std::uint64_t before, std::uint64_t now) noexcept {
    SettleBook& b = settle_book;
    if (b.batch != now) {
        b.batch = now;
        b.seen = 0;
    }
    if (++b.seen == now - before) b.idle_batch = now;
    return b;
}

}  // namespace detail

/// Lets the current loop run every coroutine that is ready and every timer
/// that is due, until it has seen a whole turn run nothing but coroutines
/// that are settling too: "everything that can happen now has happened".
/// Completions of I/O still in flight are not waited for. Meant for tests on
/// a ManualClock, but harmless elsewhere.
inline Task<void> settle() {
    Loop& l = Loop::current();
    detail::SettlerScope scope(l);
    const std::uint64_t called = l.stats().tasks_run;
    for (;;) {
        const std::uint64_t before = l.stats().tasks_run;
        co_await yield();
        const std::uint64_t now = l.stats().tasks_run;
        if (detail::note_settler(before, now).idle_batch > called) co_return;
    }
}

namespace detail {
inline ManualClock& manual_clock_of(const Loop& l) {
    ManualClock* c = l.options().clock;
    if (c == nullptr) {
        throw std::logic_error("corio: virtual time needs a loop made with LoopOptions::clock");
    }
    return *c;
}
}  // namespace detail

/// Moves the current loop's ManualClock forward by `d`, stopping at every
/// timer deadline on the way and settling there, so timers fire at their own
/// virtual times (a sleep armed by a timer that fired on the way fires on the
/// way too, if it is due before the end). Throws std::logic_error if the loop
/// has no ManualClock.
inline Task<void> advance(Duration d) {
    Loop& l = Loop::current();
    ManualClock& clock = detail::manual_clock_of(l);
    const TimePoint target = clock.now() + d;
    co_await settle();
    while (!l.timers().empty() && l.timers().next_deadline() <= target) {
        clock.set(l.timers().next_deadline());
        co_await settle();
    }
    clock.set(target);
    co_await settle();
}
/// advance(d) with the clock named (it must be the current loop's clock).
inline Task<void> advance(ManualClock& clock, Duration d) {
    if (&detail::manual_clock_of(Loop::current()) != &clock) {
        throw std::logic_error("corio: advance() of a clock the current loop does not use");
    }
    return advance(d);
}
/// advance(Duration) for any duration type (`co_await advance(5s)`).
template <class Rep, class Period>
Task<void> advance(std::chrono::duration<Rep, Period> d) {
    return advance(std::chrono::duration_cast<Duration>(d));
}
/// advance(ManualClock&, Duration) for any duration type.
template <class Rep, class Period>
Task<void> advance(ManualClock& clock, std::chrono::duration<Rep, Period> d) {
    return advance(clock, std::chrono::duration_cast<Duration>(d));
}

namespace detail {

template <class T>
Task<T> note_done(Task<T> t, bool* done) {
    struct Mark {
        bool* d;
        ~Mark() { *d = true; }
    } mark{done};
    if constexpr (std::is_void_v<T>) {
        co_await std::move(t);
    } else {
        co_return co_await std::move(t);
    }
}

inline Task<void> drive_clock(bool* done) {
    Loop& l = Loop::current();
    ManualClock& clock = manual_clock_of(l);
    StopToken tok = co_await this_task::stop_token();
    SettlerScope scope(l);
    for (;;) {
        const std::uint64_t before = l.stats().tasks_run;
        co_await yield();
        const std::uint64_t now = l.stats().tasks_run;
        note_settler(before, now);  // others settling see us as idle
        if (*done || tok.stop_requested()) co_return;
        // Only a turn that ran nobody but us is idle for the driver: a task
        // in settle() still has work to do once it returns.
        if (now - before != 1) continue;
        if (l.timers().empty()) co_return;
        clock.set(l.timers().next_deadline());
    }
}

}  // namespace detail

/// Runs `t` on the current loop (which must use a ManualClock), jumping the
/// clock to the next timer's deadline whenever nothing else can run, like a
/// program that sleeps between events but takes no real time. For code that
/// waits only for timers and for other tasks of this loop: while `t` waits
/// for I/O the clock would jump anyway. Stops moving the clock when no timer
/// is left (the loop then reports a deadlock if nothing else can wake it).
/// Gives `t`'s value or rethrows its exception.
template <class T>
Task<T> auto_advance(Task<T> t) {
    (void)detail::manual_clock_of(Loop::current());
    bool done = false;
    auto both =
        co_await when_all(detail::note_done(std::move(t), &done), detail::drive_clock(&done));
    if constexpr (!std::is_void_v<T>) co_return std::move(std::get<0>(both));
}

}  // namespace corio
