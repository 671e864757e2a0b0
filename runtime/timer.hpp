#pragma once
// Timers: sleep_for, sleep_until, with_timeout, with_deadline.
//
// Timers live in the loop's heap (same on both backends) and wake the loop
// through the backend's wait timeout. They use the loop's clock, so a loop on
// a ManualClock runs them in virtual time.

#include <chrono>
#include <coroutine>
#include <system_error>
#include <type_traits>
#include <utility>

#include <corio/runtime/cancel.hpp>
#include <corio/runtime/detail/timer_queue.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/result.hpp>
#include <corio/runtime/task.hpp>

namespace corio {

/// Awaiter of sleep_for/sleep_until. Resumes `true` when the time came, or
/// `false` early when the task was asked to stop.
class [[nodiscard]] SleepAwaiter : private detail::TimerNode {
public:
    /// Sleeps on `l`'s timers until `when` on its clock.
    SleepAwaiter(Loop& l, TimePoint when) noexcept : loop_(&l) { deadline = when; }
    /// Only before it is awaited (with_timeout and when_any take awaitables
    /// by value).
    SleepAwaiter(SleepAwaiter&& o) noexcept : detail::TimerNode(), loop_(o.loop_) {
        deadline = o.deadline;
    }
    SleepAwaiter(const SleepAwaiter&) = delete;
    SleepAwaiter& operator=(const SleepAwaiter&) = delete;
    /// Disarms the timer if it is still armed.
    ~SleepAwaiter() {
        stop_.unlink();
        if (armed()) loop_->timers().remove(*this);
    }

    /// Awaiter protocol: done at once when the time has come already or the
    /// task is cancelled (inline within the loop's inline budget, else on the
    /// next turn: a loop of `sleep_for(0ms)` cannot starve the others);
    /// otherwise arms a timer on the loop and, if the task can be stopped, a
    /// stop callback that ends the sleep early.
    ///@{
    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        StopToken tok = detail::stop_token_of(h);
        cancelled_ = tok.stop_requested();
        if (cancelled_ || deadline <= loop_->now()) return loop_->suspend_over_budget(h);
        waiter_ = h;
        fire = [](detail::TimerNode* n, Loop& l) noexcept {
            auto* self = static_cast<SleepAwaiter*>(n);
            // The time came: a stop request before the waiter runs (a
            // with_timeout of the same length, a cancel in this turn) must
            // not schedule it a second time.
            self->stop_.unlink();
            l.schedule(self->waiter_);
        };
        loop_->timers().push(*this);
        if (tok.stop_possible()) {
            stop_.self = this;
            stop_.fn = [](StopCallbackBase* b) noexcept {
                SleepAwaiter* self = static_cast<Node*>(b)->self;
                self->loop_->timers().remove(*self);
                self->cancelled_ = true;
                self->loop_->schedule(self->waiter_);
            };
            tok.add(stop_);
        }
        return true;
    }
    ///@}
    /// True if the full time passed; false if cancelled.
    bool await_resume() noexcept {
        stop_.unlink();
        return !cancelled_;
    }

private:
    struct Node : StopCallbackBase {
        SleepAwaiter* self = nullptr;
    };
    Loop* loop_;
    std::coroutine_handle<> waiter_{};
    Node stop_;
    bool cancelled_ = false;
};

/// Suspends for `d` (on the loop's clock). `co_await sleep_for(10ms)` gives
/// true, or false if the task was cancelled first.
inline SleepAwaiter sleep_for(Duration d) {
    Loop& l = Loop::current();
    return SleepAwaiter(l, l.now() + d);
}
/// sleep_for(Duration) for any duration type (`sleep_for(10ms)`).
template <class Rep, class Period>
SleepAwaiter sleep_for(std::chrono::duration<Rep, Period> d) {
    return sleep_for(std::chrono::duration_cast<Duration>(d));
}
/// Suspends until `t` (on the loop's clock).
inline SleepAwaiter sleep_until(TimePoint t) { return SleepAwaiter(Loop::current(), t); }

namespace detail {

template <class T>
struct is_result : std::false_type {};
template <class T>
struct is_result<Result<T>> : std::true_type {};

/// What with_timeout gives: the awaited Result as is, any other T as Result<T>.
template <class T>
using timeout_result_t =
    std::conditional_t<is_result<std::remove_cvref_t<T>>::value, std::remove_cvref_t<T>,
                       Result<std::remove_cvref_t<T>>>;

/// Fires once at a deadline and requests stop on a source.
struct DeadlineTimer : TimerNode {
    Loop* loop = nullptr;
    StopSource* source = nullptr;
    bool fired = false;
    DeadlineTimer(Loop& l, TimePoint when, StopSource& s) : loop(&l), source(&s) {
        deadline = when;
        fire = [](TimerNode* n, Loop&) noexcept {
            auto* self = static_cast<DeadlineTimer*>(n);
            self->fired = true;
            self->source->request_stop();
        };
        l.timers().push(*this);
    }
    ~DeadlineTimer() {
        if (armed()) loop->timers().remove(*this);
    }
    DeadlineTimer(const DeadlineTimer&) = delete;
    DeadlineTimer& operator=(const DeadlineTimer&) = delete;
};

template <class A>
Task<timeout_result_t<awaited_t<A>>> with_deadline_impl(A a, TimePoint deadline) {
    using T = awaited_t<A>;
    using R = timeout_result_t<T>;
    StopToken parent = co_await this_task::stop_token();
    LinkedStopSource src(parent);
    DeadlineTimer timer(Loop::current(), deadline, src);
    co_await SetStopToken{src.token()};
    if constexpr (std::is_void_v<T>) {
        co_await std::move(a);
        if (timer.fired) co_return R(std::make_error_code(std::errc::timed_out));
        co_return R();
    } else if constexpr (is_result<std::remove_cvref_t<T>>::value) {
        R r = co_await std::move(a);
        // A result that arrived despite the timeout is kept; an error caused by
        // the timeout's cancellation reads as timed_out.
        if (timer.fired && !r && r.error() == std::errc::operation_canceled) {
            co_return R(std::make_error_code(std::errc::timed_out));
        }
        co_return r;
    } else {
        auto v = co_await std::move(a);
        if (timer.fired) co_return R(std::make_error_code(std::errc::timed_out));
        co_return R(std::move(v));
    }
}

}  // namespace detail

/// Awaits `a` (a Task, an operation, anything awaitable) for at most `d`.
/// When time runs out, `a` is cancelled (through the task's stop token) and,
/// once it has finished, the result is std::errc::timed_out. An awaitable
/// giving Result<T> gives Result<T>; one giving T gives Result<T>.
template <class A, class Rep, class Period>
auto with_timeout(A a, std::chrono::duration<Rep, Period> d) {
    Loop& l = Loop::current();
    return detail::with_deadline_impl<A>(std::move(a),
                                         l.now() + std::chrono::duration_cast<Duration>(d));
}

/// Like with_timeout, with an absolute deadline on the loop's clock.
template <class A>
auto with_deadline(A a, TimePoint deadline) {
    return detail::with_deadline_impl<A>(std::move(a), deadline);
}

}  // namespace corio
