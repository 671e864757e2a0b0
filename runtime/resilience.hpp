#pragma once
// Resilience: retry with backoff, circuit breaker, bulkhead.
//
// Small tools for code that waits on another machine, each composable with
// co_await and each running on the loop's clock (so tests drive them on a
// ManualClock, see deadline.hpp):
//
//   Bulkhead limit(16);                                   // at most 16 pages at once
//   CircuitBreakerMap breakers(BreakerOptions{});         // one breaker per host
//   RetryPolicy policy{.max_attempts = 4};
//
//   Task<Result<Page>> fetch(Url url, Deadline deadline) {
//       auto permit = co_await with_deadline(limit.acquire(), deadline);
//       if (!permit) co_return permit.error();            // timed_out, rejected, canceled
//       CircuitBreaker& breaker = breakers.get(url.host);
//       auto r = co_await retry(policy.until(deadline),
//                               [&] { return breaker.call([&] { return get(url); }); });
//       co_return std::move(r.result);
//   }
//
// All of them belong to one loop (no locks): use them from the loop they were
// first used on, and keep them alive while calls through them are pending.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <corio/runtime/cancel.hpp>
#include <corio/runtime/deadline.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/result.hpp>
#include <corio/runtime/task.hpp>
#include <corio/runtime/timer.hpp>

namespace corio {

namespace detail {
/// The Result type an attempt function gives: `fn()` returns an awaitable
/// (typically Task<Result<T>>) whose co_await gives it.
template <class F>
using call_result_t = std::remove_cvref_t<awaited_t<std::invoke_result_t<F&>>>;

template <class F>
concept ResultCallable = requires {
    typename std::invoke_result_t<F&>;
}
&&is_result<call_result_t<F>>::value;

/// A fresh random number: on a simulated host from the world's seed (a run replays),
/// else from a per-thread generator seeded by std::random_device, again in a forked child.
std::uint64_t random_seed() noexcept;
}  // namespace detail

// ---- errors -------------------------------------------------------------

/// True for errors a later attempt may not meet: a connection refused,
/// reset, aborted or timed out, an unreachable or down network or host, a
/// broken pipe, EAGAIN, EINTR, no buffer space, an address not available
/// (ephemeral ports used up), and corio::Errc::eof (the peer closed in the
/// middle of an answer). False for everything else, in particular
/// operation_canceled (the caller gave up), Errc::circuit_open (a breaker
/// says "not now") and Errc::rejected (a local limit).
bool is_transient_error(std::error_code ec) noexcept;

/// The default of BreakerOptions::is_failure: every error counts against the
/// dependency except operation_canceled (the caller gave up), Errc::rejected
/// (a local limit) and Errc::circuit_open (a nested breaker).
bool counts_as_failure(std::error_code ec) noexcept;

// ---- backoff and retry --------------------------------------------------

/// How a backoff delay is randomised below its ceiling
/// `min(max_backoff, initial_backoff * multiplier^(n-1))` before retry n.
enum class Jitter : std::uint8_t {
    none,   ///< exactly the ceiling
    full,   ///< uniform in [0, ceiling] ("full jitter": spreads a herd of clients best)
    equal,  ///< ceiling/2 plus uniform in [0, ceiling/2]
};

/// What retry() does. Plain data: make one per kind of call and copy it
/// (until() gives a copy with a deadline).
struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry; values < 1 count as 1).
    int max_attempts = 3;
    /// Ceiling of the delay before the first retry.
    Duration initial_backoff = std::chrono::milliseconds(100);
    /// No delay is longer than this.
    Duration max_backoff = std::chrono::seconds(10);
    /// Growth of the ceiling from one retry to the next.
    double multiplier = 2.0;
    /// Randomisation of each delay below its ceiling.
    Jitter jitter = Jitter::full;
    /// Seed of the jitter generator (std::mt19937_64): the same seed gives the
    /// same delays. Unset: a fresh random seed per retry() call, so that many
    /// clients do not retry in step.
    std::optional<std::uint64_t> seed{};
    /// Bounds each attempt (std::errc::timed_out, which is retryable by
    /// default); zero = no per-attempt limit.
    Duration attempt_timeout = Duration::zero();
    /// Bounds everything: no attempt runs past it, no backoff sleeps past it.
    Deadline deadline{};
    /// Which errors are worth another attempt (see is_transient_error). Used
    /// by the two-argument retry(); null = none.
    bool (*retryable)(std::error_code) = &is_transient_error;

    /// A copy of this policy with `d` as its deadline.
    RetryPolicy until(Deadline d) const {
        RetryPolicy p = *this;
        p.deadline = d;
        return p;
    }
};

/// The sequence of backoff delays a RetryPolicy gives, reproducible from a
/// seed. retry() uses one; tests and custom loops may use it directly.
class Backoff {
public:
    /// Seeded from `p.seed`, or randomly when it is unset.
    explicit Backoff(const RetryPolicy& p) : Backoff(p, p.seed ? *p.seed : detail::random_seed()) {}
    /// Seeded from `seed` whatever `p.seed` says.
    Backoff(const RetryPolicy& p, std::uint64_t seed) noexcept
        : initial_(p.initial_backoff),
          max_(p.max_backoff),
          multiplier_(p.multiplier),
          jitter_(p.jitter),
          rng_(seed) {}

    /// The ceiling of the delay before retry `n` (1 = the first retry):
    /// `min(max_backoff, initial_backoff * multiplier^(n-1))`, never negative.
    Duration ceiling(int n) const noexcept;
    /// The delay before the next retry (the first call gives retry 1's).
    Duration next() noexcept;
    /// How many delays next() has given.
    int count() const noexcept { return n_; }

private:
    Duration initial_;
    Duration max_;
    double multiplier_;
    Jitter jitter_;
    std::mt19937_64 rng_;
    int n_ = 0;
};

/// Why retry() stopped.
enum class RetryStop : std::uint8_t {
    succeeded,           ///< the last attempt succeeded (should_retry said no to a value)
    not_retryable,       ///< the last attempt failed with an error not worth retrying
    attempts_exhausted,  ///< max_attempts ran, the last one failed
    deadline,            ///< the deadline passed, or would pass before the next attempt
    cancelled,           ///< the calling task was asked to stop
};
/// Names a RetryStop ("deadline", ...).
const char* to_string(RetryStop s) noexcept;

/// What retry() gives: the last attempt's result, how many attempts ran and
/// why it stopped.
template <class T>
struct RetryResult {
    /// The last attempt's result; timed_out when the deadline passed before
    /// any attempt, operation_canceled when the caller was cancelled.
    Result<T> result;
    /// Attempts started (0 if the deadline had passed or the task was
    /// cancelled before the first).
    int attempts = 0;
    /// Why it stopped.
    RetryStop stop = RetryStop::succeeded;
    /// Total time spent in backoff sleeps.
    Duration backoff = Duration::zero();
};

/// Calls `fn()` and awaits what it returns (an awaitable giving Result<T>,
/// typically a Task<Result<T>>) once per attempt, until an attempt gives a
/// result `should_retry(result)` says no to, `policy.max_attempts` have run,
/// the deadline passes, or the calling task is cancelled. Between attempts it
/// sleeps the next Backoff delay on the loop's clock; it gives up at once,
/// without sleeping, when that sleep would reach the deadline. Each attempt is
/// bounded by the deadline and `policy.attempt_timeout` (it is cancelled and
/// gives std::errc::timed_out). `should_retry` may also retry values (an HTTP
/// 503 response); the last value is then the result when attempts run out.
/// `fn` is kept in retry's frame, so a lambda's captures live as long as
/// every attempt.
template <class F, class ShouldRetry>
requires detail::ResultCallable<F> && std::is_invocable_r_v < bool, ShouldRetry&,
    const detail::call_result_t<F>
& > Task<RetryResult<typename detail::call_result_t<F>::value_type>> retry(
        RetryPolicy policy, F fn, ShouldRetry should_retry) {
    using R = detail::call_result_t<F>;
    using Out = RetryResult<typename R::value_type>;
    Loop& loop = Loop::current();
    const StopToken tok = co_await this_task::stop_token();
    const int max_attempts = policy.max_attempts < 1 ? 1 : policy.max_attempts;
    Backoff backoff(policy);
    Duration slept = Duration::zero();
    int attempts = 0;
    for (;;) {
        if (tok.stop_requested()) {
            co_return Out{R(std::errc::operation_canceled), attempts, RetryStop::cancelled, slept};
        }
        if (policy.deadline.expired(loop)) {
            co_return Out{R(std::errc::timed_out), attempts, RetryStop::deadline, slept};
        }
        ++attempts;
        Deadline bound = policy.deadline;
        if (policy.attempt_timeout > Duration::zero()) {
            bound = bound.earliest(Deadline::after(loop, policy.attempt_timeout));
        }
        std::optional<R> r;
        if (bound.is_never()) {
            r.emplace(co_await fn());
        } else {
            r.emplace(co_await with_deadline(fn(), bound.when()));
        }
        if (!r->has_value() && tok.stop_requested()) {
            co_return Out{std::move(*r), attempts, RetryStop::cancelled, slept};
        }
        if (!should_retry(std::as_const(*r))) {
            RetryStop why = r->has_value() ? RetryStop::succeeded : RetryStop::not_retryable;
            co_return Out{std::move(*r), attempts, why, slept};
        }
        if (policy.deadline.expired(loop)) {
            co_return Out{std::move(*r), attempts, RetryStop::deadline, slept};
        }
        if (attempts >= max_attempts) {
            co_return Out{std::move(*r), attempts, RetryStop::attempts_exhausted, slept};
        }
        const Duration delay = backoff.next();
        if (!policy.deadline.is_never() && delay >= policy.deadline.remaining(loop)) {
            co_return Out{std::move(*r), attempts, RetryStop::deadline, slept};
        }
        // Not `if (!co_await ...)`: g++ 12.2 skips the whole body of a
        // coroutine whose first co_await sits in an if condition; the
        // separate statement is safe wherever this code moves.
        const bool slept_fully = co_await sleep_for(delay);
        if (!slept_fully) {
            co_return Out{R(std::errc::operation_canceled), attempts, RetryStop::cancelled, slept};
        }
        slept += delay;
    }
}

/// retry() that retries the errors `policy.retryable` accepts (by default
/// is_transient_error: refused, reset, timed out, ...) and never a value.
template <class F>
requires detail::ResultCallable<F> Task<RetryResult<typename detail::call_result_t<F>::value_type>>
retry(RetryPolicy policy, F fn) {
    using R = detail::call_result_t<F>;
    bool (*pred)(std::error_code) = policy.retryable;
    return retry(std::move(policy), std::move(fn), [pred](const R& r) {
        return !r.has_value() && pred != nullptr && pred(r.error());
    });
}

// ---- circuit breaker ----------------------------------------------------

/// The states of a CircuitBreaker.
enum class BreakerState : std::uint8_t {
    closed,     ///< calls go through; failures are counted
    open,       ///< calls are rejected at once with Errc::circuit_open
    half_open,  ///< after the cool-down: a bounded number of trial calls go through
};
/// Names a BreakerState ("closed", "open", "half_open").
const char* to_string(BreakerState s) noexcept;

class CircuitBreaker;

/// How a CircuitBreaker decides. At least one opening rule should be on.
struct BreakerOptions {
    /// Names the breaker in logs and listeners (a host, a service).
    std::string name{};
    /// Consecutive failures that open a closed breaker; 0 turns the rule off.
    int failure_threshold = 5;
    /// Size of the ratio window (the last `window` calls); 0 turns the rule off.
    int window = 0;
    /// A closed breaker opens when, over a full window, failures / window
    /// reaches this ratio.
    double failure_ratio = 0.5;
    /// Time an open breaker rejects calls before it lets trials through.
    Duration cool_down = std::chrono::seconds(30);
    /// Trial calls a half-open breaker lets through at once.
    int half_open_trials = 1;
    /// Successful trials that close a half-open breaker (one failed trial
    /// opens it again, for a new cool-down).
    int successes_to_close = 1;
    /// Which errors count against the dependency (the others count as a
    /// success, except operation_canceled which counts as nothing).
    bool (*is_failure)(std::error_code) = &counts_as_failure;
    /// Called on every state change, for logs and metrics (cold path: only on
    /// transitions). It must not destroy the breaker.
    std::function<void(const CircuitBreaker&, BreakerState from, BreakerState to)>
        on_state_change{};
};

/// Counters a CircuitBreaker keeps.
struct BreakerStats {
    std::uint64_t admitted = 0;   ///< calls let through (allow() true)
    std::uint64_t rejected = 0;   ///< calls refused (allow() false)
    std::uint64_t successes = 0;  ///< outcomes recorded as success
    std::uint64_t failures = 0;   ///< outcomes recorded as failure
    std::uint64_t ignored = 0;    ///< outcomes recorded as neither (cancelled calls)
    std::uint64_t opened = 0;     ///< transitions to open
};

/// Stops calling a dependency that keeps failing, so that callers fail fast
/// instead of piling up waiting on it, and lets it recover in peace.
///
/// Closed: calls go through; after `failure_threshold` consecutive failures
/// (or a failure ratio over a full window) it opens. Open: calls are rejected
/// at once with Errc::circuit_open, without calling. After `cool_down` the
/// first call finds it half-open: up to `half_open_trials` trial calls go
/// through at once (others are rejected); `successes_to_close` successful
/// trials close it, a failed trial opens it again. A cancelled call frees its
/// trial slot and counts as nothing.
///
/// Time is the current loop's clock. One loop only (no locks); not movable
/// (calls in flight point to it); it must outlive them.
class CircuitBreaker {
public:
    /// A closed breaker deciding by `opts`.
    explicit CircuitBreaker(BreakerOptions opts = {});
    CircuitBreaker(const CircuitBreaker&) = delete;
    CircuitBreaker& operator=(const CircuitBreaker&) = delete;

    /// The state now. An open breaker whose cool-down has passed becomes
    /// half-open here (telling the listener), as it would at the next call.
    BreakerState state();
    /// The name given in the options (the key in a CircuitBreakerMap).
    const std::string& name() const noexcept { return opts_.name; }
    /// The options it was made with.
    const BreakerOptions& options() const noexcept { return opts_; }
    /// Its counters.
    const BreakerStats& stats() const noexcept { return stats_; }
    /// When an open breaker will let trials through (meaningless otherwise).
    TimePoint open_until() const noexcept { return opened_at_ + opts_.cool_down; }

    /// Manual use: true if a call may go ahead now (in half-open it takes a
    /// trial slot). Report its outcome with record_success(),
    /// record_failure() or record_ignored(), exactly once.
    bool allow();
    /// The call allow() let through succeeded.
    void record_success() { settle(generation_, Outcome::success); }
    /// The call allow() let through failed.
    void record_failure() { settle(generation_, Outcome::failure); }
    /// The call allow() let through ended without a verdict (cancelled).
    void record_ignored() { settle(generation_, Outcome::ignored); }
    /// Records an error per options().is_failure (operation_canceled: ignored).
    void record(std::error_code ec) { settle(generation_, classify(ec)); }

    /// Opens the breaker now (an operator's switch, or a signal from elsewhere).
    void trip();
    /// Closes the breaker now and forgets the failures counted.
    void reset();

    /// Calls `fn()` (returning an awaitable that gives Result<T>) if the
    /// breaker allows it and records the outcome per options().is_failure;
    /// gives Errc::circuit_open at once, without calling, if it does not.
    /// An exception from `fn` counts as a failure and propagates.
    template <class F>
    requires detail::ResultCallable<F> Task<detail::call_result_t<F>> call(F fn) {
        using R = detail::call_result_t<F>;
        return call(std::move(fn), [this](const R& r) {
            return !r.has_value() && opts_.is_failure != nullptr && opts_.is_failure(r.error());
        });
    }

    /// call() where `is_failure(result)` decides what counts as a failure
    /// (an HTTP 5xx response value, say). Any other result counts as a
    /// success, except an operation_canceled error, which counts as nothing.
    template <class F, class IsFailure>
    requires detail::ResultCallable<F> && std::is_invocable_r_v < bool, IsFailure&,
        const detail::call_result_t<F>
    & > Task<detail::call_result_t<F>> call(F fn, IsFailure is_failure) {
        using R = detail::call_result_t<F>;
        std::optional<std::uint64_t> gen = admit();
        if (!gen) co_return R(Errc::circuit_open);
        // Settles as "ignored" if the frame is destroyed mid-call, so that a
        // trial slot is never lost.
        Pending pending(*this, *gen);
        std::optional<R> r;
        try {
            r.emplace(co_await fn());
        } catch (...) {
            pending.settle(Outcome::failure);
            throw;
        }
        if (is_failure(std::as_const(*r))) {
            pending.settle(Outcome::failure);
        } else if (!r->has_value() && r->error() == std::errc::operation_canceled) {
            pending.settle(Outcome::ignored);
        } else {
            pending.settle(Outcome::success);
        }
        co_return std::move(*r);
    }

private:
    enum class Outcome : std::uint8_t { success, failure, ignored };
    struct Pending {
        CircuitBreaker* b;
        std::uint64_t gen;
        bool done = false;
        Pending(CircuitBreaker& br, std::uint64_t g) noexcept : b(&br), gen(g) {}
        Pending(const Pending&) = delete;
        Pending& operator=(const Pending&) = delete;
        ~Pending() {
            if (!done) b->settle(gen, Outcome::ignored);
        }
        void settle(Outcome o) {
            done = true;
            b->settle(gen, o);
        }
    };

    Outcome classify(std::error_code ec) const noexcept;
    /// Lets a call through: the generation its outcome belongs to, or nothing.
    std::optional<std::uint64_t> admit();
    /// Records an outcome; outcomes of an older generation (a call let
    /// through before the last state change) are dropped.
    void settle(std::uint64_t gen, Outcome o);
    void move_to(BreakerState to);
    void clear_counts() noexcept;

    BreakerOptions opts_;
    BreakerStats stats_;
    BreakerState state_ = BreakerState::closed;
    std::uint64_t generation_ = 1;
    TimePoint opened_at_{};
    int consecutive_failures_ = 0;
    int trials_in_flight_ = 0;
    int trial_successes_ = 0;
    // Ratio window: the last `window` outcomes in a ring (1 = failure).
    std::vector<std::uint8_t> ring_;
    std::size_t ring_pos_ = 0;
    std::size_t ring_count_ = 0;
    std::size_t ring_failures_ = 0;
};

/// Circuit breakers by key (one per host, say), made on first use with
/// shared options whose `name` becomes the key. References stay valid while
/// the map lives.
class CircuitBreakerMap {
public:
    /// Breakers made here take `defaults` (with `name` set to their key).
    explicit CircuitBreakerMap(BreakerOptions defaults = {}) : defaults_(std::move(defaults)) {}
    /// The breaker for `key`, made now if there is none.
    CircuitBreaker& get(std::string_view key);
    /// The breaker for `key`, or null.
    CircuitBreaker* find(std::string_view key) noexcept;
    /// Breakers made so far.
    std::size_t size() const noexcept { return breakers_.size(); }
    /// Calls `f(const std::string& key, CircuitBreaker&)` for each breaker.
    template <class Fn>
    void for_each(Fn f) {
        for (auto& [k, b] : breakers_)
            f(k, b);
    }

private:
    BreakerOptions defaults_;
    std::map<std::string, CircuitBreaker, std::less<>> breakers_;
};

// ---- bulkhead -----------------------------------------------------------

class Bulkhead;

/// The right to be one of a Bulkhead's calls in flight; given back when
/// destroyed (or by release()). Move-only.
class [[nodiscard]] BulkheadPermit {
public:
    /// Holds nothing.
    BulkheadPermit() noexcept = default;
    /// Takes over `o`'s permit; `o` holds nothing.
    BulkheadPermit(BulkheadPermit&& o) noexcept : b_(std::exchange(o.b_, nullptr)) {}
    /// Gives back the permit held (if any) and takes over `o`'s.
    BulkheadPermit& operator=(BulkheadPermit&& o) noexcept {
        if (this != &o) {
            release();
            b_ = std::exchange(o.b_, nullptr);
        }
        return *this;
    }
    BulkheadPermit(const BulkheadPermit&) = delete;
    BulkheadPermit& operator=(const BulkheadPermit&) = delete;
    /// release().
    ~BulkheadPermit() { release(); }
    /// Gives the permit back now (the next waiter, if any, gets it).
    inline void release() noexcept;
    /// True while it holds a permit.
    explicit operator bool() const noexcept { return b_ != nullptr; }

private:
    friend class Bulkhead;
    explicit BulkheadPermit(Bulkhead* b) noexcept : b_(b) {}
    Bulkhead* b_ = nullptr;
};

/// Counters a Bulkhead keeps.
struct BulkheadStats {
    std::uint64_t admitted = 0;      ///< permits given
    std::uint64_t queued = 0;        ///< callers that had to wait
    std::uint64_t rejected = 0;      ///< callers turned away (queue full)
    std::uint64_t cancelled = 0;     ///< waiters cancelled while queued
    std::size_t peak_in_flight = 0;  ///< the most permits held at once
    std::size_t peak_waiting = 0;    ///< the longest the queue has been
};

/// A concurrency limit: at most `limit()` calls in flight; the others wait
/// in FIFO order (each freed permit goes straight to the longest waiter, so
/// a newcomer never overtakes), or are rejected with Errc::rejected when
/// `max_queue` are already waiting. A waiter that is cancelled leaves the
/// queue at once (operation_canceled) and takes nothing with it. One loop
/// only (no locks); it must outlive its waiters and permits.
class Bulkhead {
public:
    /// No bound on the queue.
    static constexpr std::size_t unbounded = static_cast<std::size_t>(-1);

    /// At most `max_concurrent` (at least 1) in flight, at most `max_queue`
    /// waiting (0: reject whoever cannot start at once).
    explicit Bulkhead(std::size_t max_concurrent, std::size_t max_queue = unbounded) noexcept
        : limit_(max_concurrent == 0 ? 1 : max_concurrent), max_queue_(max_queue) {}
    Bulkhead(const Bulkhead&) = delete;
    Bulkhead& operator=(const Bulkhead&) = delete;
    /// Terminates with a message if permits are out or tasks wait: they point here.
    ~Bulkhead();

    /// Awaiter of acquire(). Movable until awaited (with_deadline moves it).
    class [[nodiscard]] AcquireAwaiter {
    public:
        /// Waits on `b` (see Bulkhead::acquire()).
        explicit AcquireAwaiter(Bulkhead& b) noexcept : b_(&b) {}
        /// Only before it is awaited.
        AcquireAwaiter(AcquireAwaiter&& o) noexcept : b_(o.b_) {}
        AcquireAwaiter(const AcquireAwaiter&) = delete;
        AcquireAwaiter& operator=(const AcquireAwaiter&) = delete;
        /// Leaves the queue if still in it; gives back a permit granted but
        /// never taken.
        ~AcquireAwaiter() {
            stop_.unlink();
            if (state_ == State::queued) b_->unlink(*this);
            if (state_ == State::granted) b_->release();  // never resumed to take it
        }

        /// Awaiter protocol: the decision is made in await_suspend, where
        /// the task's stop token is known.
        bool await_ready() const noexcept { return false; }
        /// Takes a free permit, rejects, or queues the task (false: resume at once).
        template <class P>
        bool await_suspend(std::coroutine_handle<P> h) {
            return suspend(h, detail::stop_token_of(h));
        }
        /// The permit; Errc::rejected when the queue was full;
        /// operation_canceled when the task was asked to stop.
        Result<BulkheadPermit> await_resume() noexcept {
            stop_.unlink();
            switch (state_) {
                case State::granted:
                    state_ = State::taken;
                    return BulkheadPermit(b_);
                case State::rejected:
                    return Errc::rejected;
                default:
                    return std::errc::operation_canceled;
            }
        }

    private:
        friend class Bulkhead;
        enum class State : std::uint8_t { idle, queued, granted, taken, rejected, cancelled };
        struct StopNode : StopCallbackBase {
            AcquireAwaiter* self = nullptr;
        };
        bool suspend(std::coroutine_handle<> h, StopToken tok);

        Bulkhead* b_;
        AcquireAwaiter* prev_ = nullptr;  // the Bulkhead's wait queue
        AcquireAwaiter* next_ = nullptr;
        std::coroutine_handle<> waiter_{};
        Loop* loop_ = nullptr;
        StopNode stop_;
        State state_ = State::idle;
    };

    /// `co_await b.acquire()` gives a BulkheadPermit as soon as fewer than
    /// limit() hold one and nobody waits before us; Errc::rejected at once
    /// when the queue is full; operation_canceled if the task is asked to
    /// stop first. Works with with_deadline/with_timeout (timed_out).
    AcquireAwaiter acquire() noexcept { return AcquireAwaiter(*this); }
    /// A permit now, or nothing (never waits, never queues).
    std::optional<BulkheadPermit> try_acquire() noexcept;

    /// Runs `fn()` (returning an awaitable that gives Result<T>) holding a
    /// permit; gives Errc::rejected or operation_canceled without calling it
    /// when no permit came.
    template <class F>
    requires detail::ResultCallable<F> Task<detail::call_result_t<F>> call(F fn) {
        using R = detail::call_result_t<F>;
        Result<BulkheadPermit> permit = co_await acquire();
        if (!permit) co_return R(permit.error());
        co_return co_await fn();
    }

    /// Permits held now.
    std::size_t in_flight() const noexcept { return in_flight_; }
    /// Tasks waiting for a permit.
    std::size_t waiting() const noexcept { return waiting_; }
    /// The most permits held at once.
    std::size_t limit() const noexcept { return limit_; }
    /// The most tasks that may wait.
    std::size_t max_queue() const noexcept { return max_queue_; }
    /// Its counters.
    const BulkheadStats& stats() const noexcept { return stats_; }
    /// Changes the limit (at least 1); a larger one admits waiters at once,
    /// a smaller one takes effect as permits come back.
    void set_limit(std::size_t n);

private:
    friend class BulkheadPermit;
    void release() noexcept;
    void grant_waiters() noexcept;
    void unlink(AcquireAwaiter& w) noexcept;
    void take() noexcept {
        ++in_flight_;
        ++stats_.admitted;
        if (in_flight_ > stats_.peak_in_flight) stats_.peak_in_flight = in_flight_;
    }

    std::size_t limit_;
    std::size_t max_queue_;
    std::size_t in_flight_ = 0;
    std::size_t waiting_ = 0;
    AcquireAwaiter* head_ = nullptr;
    AcquireAwaiter* tail_ = nullptr;
    BulkheadStats stats_;
};

inline void BulkheadPermit::release() noexcept {
    if (Bulkhead* b = std::exchange(b_, nullptr)) b->release();
}

}  // namespace corio
