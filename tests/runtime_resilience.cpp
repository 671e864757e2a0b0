// Retry with backoff, circuit breaker and bulkhead, in virtual time (a
// ManualClock): fast and the same on every run.
#include <algorithm>
#include <string>
#include <vector>

#include <corio/runtime/resilience.hpp>

#include "clock_support.hpp"

namespace runtime_resilience_test {

using namespace corio;
using corio::test::manual_run;
using corio::test::virtual_run;
using namespace std::chrono_literals;

namespace {

std::error_code refused() {
    return std::make_error_code(std::errc::connection_refused);
}

/// An attempt that fails with `err` while `*calls` < `fail_first`, then gives `*calls`.
Task<Result<int>> flaky(int* calls, int fail_first, std::error_code err) {
    ++*calls;
    if (*calls <= fail_first) co_return err;
    co_return *calls;
}

/// An attempt that takes `d` and then fails with `err` (or is cancelled).
Task<Result<int>> slow_failure(int* calls, Duration d, std::error_code err) {
    ++*calls;
    bool full = co_await sleep_for(d);
    if (!full) co_return std::errc::operation_canceled;
    co_return err;
}

RetryPolicy policy(int attempts, std::uint64_t seed = 7) {
    RetryPolicy p;
    p.max_attempts = attempts;
    p.initial_backoff = 100ms;
    p.max_backoff = 1s;
    p.multiplier = 2.0;
    p.jitter = Jitter::full;
    p.seed = seed;
    return p;
}

}  // namespace

// ---- backoff ------------------------------------------------------------

TEST_CASE("backoff ceilings grow by the multiplier up to the cap", "[resilience][backoff]") {
    Backoff b(policy(10));
    CHECK(b.ceiling(1) == 100ms);
    CHECK(b.ceiling(2) == 200ms);
    CHECK(b.ceiling(3) == 400ms);
    CHECK(b.ceiling(4) == 800ms);
    CHECK(b.ceiling(5) == 1s);
    CHECK(b.ceiling(60) == 1s);
    CHECK(b.ceiling(100000) == 1s);  // no overflow
    RetryPolicy none = policy(10);
    none.jitter = Jitter::none;
    Backoff exact(none);
    std::vector<Duration> got;
    for (int i = 0; i < 6; ++i)
        got.push_back(exact.next());
    CHECK(got == std::vector<Duration>{100ms, 200ms, 400ms, 800ms, 1s, 1s});
    CHECK(exact.count() == 6);
}

TEST_CASE("full jitter stays in [0, ceiling], varies, and repeats from the seed",
          "[resilience][backoff]") {
    auto draws = [](std::uint64_t seed, Jitter j, int n) {
        RetryPolicy p = policy(100, seed);
        p.jitter = j;
        Backoff b(p);
        std::vector<Duration> out;
        for (int i = 0; i < n; ++i)
            out.push_back(b.next());
        return out;
    };
    const auto a = draws(42, Jitter::full, 200);
    const auto again = draws(42, Jitter::full, 200);
    const auto other = draws(43, Jitter::full, 200);
    CHECK(a == again);
    CHECK(a != other);
    Backoff ceil(policy(100));
    Duration sum{};
    for (std::size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i] >= Duration::zero());
        CHECK(a[i] <= ceil.ceiling(int(i) + 1));
        if (i >= 4) sum += a[i];
    }
    // Jittered: not all at the ceiling, and about half of it on average.
    CHECK(std::count(a.begin(), a.end(), 1s) < 10);
    const auto mean = sum / 196;
    CHECK(mean > 350ms);
    CHECK(mean < 650ms);

    const auto eq = draws(5, Jitter::equal, 200);
    for (std::size_t i = 0; i < eq.size(); ++i) {
        CHECK(eq[i] >= ceil.ceiling(int(i) + 1) / 2);
        CHECK(eq[i] <= ceil.ceiling(int(i) + 1));
    }
    // An unset seed draws a fresh one: two generators differ.
    RetryPolicy unseeded = policy(100);
    unseeded.seed.reset();
    Backoff u1(unseeded), u2(unseeded);
    std::vector<Duration> s1, s2;
    for (int i = 0; i < 20; ++i) {
        s1.push_back(u1.next());
        s2.push_back(u2.next());
    }
    CHECK(s1 != s2);
}

// ---- retry --------------------------------------------------------------

TEST_CASE("retry succeeds after transient failures; sleeps follow the seeded backoff",
          "[resilience][retry]") {
    virtual_run([](Loop& loop) -> Task<void> {
        int calls = 0;
        const TimePoint start = loop.now();
        auto r = co_await retry(policy(5, 99), [&] { return flaky(&calls, 3, refused()); });
        REQUIRE(r.result);
        CHECK(*r.result == 4);
        CHECK(r.attempts == 4);
        CHECK(calls == 4);
        CHECK(r.stop == RetryStop::succeeded);
        // The virtual time that passed is exactly the three delays the same
        // seed gives.
        Backoff same(policy(5, 99));
        Duration expect = same.next() + same.next() + same.next();
        CHECK(r.backoff == expect);
        CHECK(loop.now() - start == expect);
        CHECK(loop.timers().empty());
    });
}

TEST_CASE("retry stops at once on an error that is not retryable", "[resilience][retry]") {
    virtual_run([](Loop& loop) -> Task<void> {
        int calls = 0;
        const TimePoint start = loop.now();
        auto denied = std::make_error_code(std::errc::permission_denied);
        auto r = co_await retry(policy(5), [&] { return flaky(&calls, 100, denied); });
        CHECK(r.result.error() == std::errc::permission_denied);
        CHECK(r.attempts == 1);
        CHECK(calls == 1);
        CHECK(r.stop == RetryStop::not_retryable);
        CHECK(loop.now() == start);

        // A custom predicate: only EAGAIN is worth it.
        RetryPolicy p = policy(5);
        p.retryable = [](std::error_code ec) {
            return ec == std::errc::resource_unavailable_try_again;
        };
        calls = 0;
        auto r2 = co_await retry(p, [&] { return flaky(&calls, 100, refused()); });
        CHECK(r2.attempts == 1);
        CHECK(r2.stop == RetryStop::not_retryable);
    });
}

TEST_CASE("retry gives up when the attempts are used up", "[resilience][retry]") {
    virtual_run([](Loop&) -> Task<void> {
        int calls = 0;
        auto r = co_await retry(policy(4), [&] { return flaky(&calls, 100, refused()); });
        CHECK(r.result.error() == std::errc::connection_refused);
        CHECK(r.attempts == 4);
        CHECK(calls == 4);
        CHECK(r.stop == RetryStop::attempts_exhausted);

        RetryPolicy once = policy(0);  // < 1 counts as 1
        calls = 0;
        auto r2 = co_await retry(once, [&] { return flaky(&calls, 100, refused()); });
        CHECK(r2.attempts == 1);
        CHECK(calls == 1);
    });
}

TEST_CASE("is_transient_error: network failures yes, the caller's and local limits no",
          "[resilience][retry]") {
    CHECK(is_transient_error(std::make_error_code(std::errc::connection_refused)));
    CHECK(is_transient_error(std::error_code(ECONNRESET, std::system_category())));
    CHECK(is_transient_error(std::make_error_code(std::errc::timed_out)));
    CHECK(is_transient_error(std::make_error_code(std::errc::host_unreachable)));
    CHECK(is_transient_error(std::make_error_code(std::errc::broken_pipe)));
    CHECK(is_transient_error(make_error_code(Errc::eof)));
    CHECK_FALSE(is_transient_error({}));
    CHECK_FALSE(is_transient_error(std::make_error_code(std::errc::operation_canceled)));
    CHECK_FALSE(is_transient_error(std::make_error_code(std::errc::permission_denied)));
    CHECK_FALSE(is_transient_error(make_error_code(Errc::circuit_open)));
    CHECK_FALSE(is_transient_error(make_error_code(Errc::rejected)));
}

TEST_CASE("retry stops at the deadline, which also bounds each attempt and each sleep",
          "[resilience][retry][deadline]") {
    virtual_run([](Loop& loop) -> Task<void> {
        // Attempts of 300 ms that fail, no jitter: 0-300 fail, sleep 100,
        // 400-700 fail, sleep 200, 900-1000 cut by the deadline.
        int calls = 0;
        const TimePoint start = loop.now();
        RetryPolicy p = policy(100);
        p.jitter = Jitter::none;
        p.deadline = Deadline::after(1s);
        auto r = co_await retry(p, [&] { return slow_failure(&calls, 300ms, refused()); });
        CHECK(r.stop == RetryStop::deadline);
        CHECK(r.result.error() == std::errc::timed_out);
        CHECK(r.attempts == 3);
        CHECK(loop.now() - start == 1s);
        CHECK(loop.timers().empty());

        // A sleep that would reach the deadline is not slept: give up at once.
        calls = 0;
        const TimePoint t1 = loop.now();
        RetryPolicy p2 = policy(100);
        p2.jitter = Jitter::none;
        p2.initial_backoff = 2s;
        p2.max_backoff = 2s;
        p2.deadline = Deadline::after(1s);
        auto r2 = co_await retry(p2, [&] { return slow_failure(&calls, 100ms, refused()); });
        CHECK(r2.stop == RetryStop::deadline);
        CHECK(r2.result.error() == std::errc::connection_refused);  // the last attempt's error
        CHECK(r2.attempts == 1);
        CHECK(loop.now() - t1 == 100ms);

        // One attempt that would hang forever ends at the deadline.
        calls = 0;
        const TimePoint t2 = loop.now();
        RetryPolicy p3 = policy(100).until(Deadline::after(2s));
        auto r3 = co_await retry(p3, [&] { return slow_failure(&calls, 1h, refused()); });
        CHECK(r3.stop == RetryStop::deadline);
        CHECK(r3.result.error() == std::errc::timed_out);
        CHECK(r3.attempts == 1);
        CHECK(loop.now() - t2 == 2s);

        // A deadline already past: no attempt at all.
        calls = 0;
        RetryPolicy p4 = policy(100).until(Deadline(loop.now() - 1s));
        auto r4 = co_await retry(p4, [&] { return flaky(&calls, 0, {}); });
        CHECK(r4.stop == RetryStop::deadline);
        CHECK(r4.attempts == 0);
        CHECK(calls == 0);
        CHECK(r4.result.error() == std::errc::timed_out);
    });
}

TEST_CASE("retry: attempt_timeout bounds each attempt and timed_out is retried",
          "[resilience][retry]") {
    virtual_run([](Loop& loop) -> Task<void> {
        int calls = 0;
        const TimePoint start = loop.now();
        RetryPolicy p = policy(3);
        p.jitter = Jitter::none;
        p.attempt_timeout = 250ms;
        auto r = co_await retry(p, [&] { return slow_failure(&calls, 1h, refused()); });
        CHECK(r.stop == RetryStop::attempts_exhausted);
        CHECK(r.result.error() == std::errc::timed_out);
        CHECK(r.attempts == 3);
        // 3 x 250 ms of attempts, 100 + 200 ms of backoff.
        CHECK(loop.now() - start == 1050ms);
    });
}

TEST_CASE("retry can retry values too (an HTTP 503), and gives the last one",
          "[resilience][retry]") {
    virtual_run([](Loop&) -> Task<void> {
        struct Server {
            std::vector<int> statuses;
            std::size_t next = 0;
        };
        auto get = [](Server* s) -> Task<Result<int>> { co_return s->statuses[s->next++]; };
        auto is_5xx = [](const Result<int>& r) {
            return r ? *r >= 500 : is_transient_error(r.error());
        };
        Server ok{{503, 502, 200}};
        auto r = co_await retry(
            policy(5), [&] { return get(&ok); }, is_5xx);
        REQUIRE(r.result);
        CHECK(*r.result == 200);
        CHECK(r.attempts == 3);
        CHECK(r.stop == RetryStop::succeeded);

        Server down{{503, 503, 503}};
        auto r2 = co_await retry(
            policy(3), [&] { return get(&down); }, is_5xx);
        REQUIRE(r2.result);
        CHECK(*r2.result == 503);
        CHECK(r2.stop == RetryStop::attempts_exhausted);
        CHECK(down.next == 3);
    });
}

TEST_CASE("a cancelled retry stops in its backoff sleep or its attempt, leaving no timer",
          "[resilience][retry][cancel]") {
    manual_run([](Loop& loop) -> Task<void> {
        auto run = [](int* calls, Duration attempt) -> Task<RetryResult<int>> {
            RetryPolicy p = policy(10);
            p.jitter = Jitter::none;
            p.initial_backoff = 10s;
            p.max_backoff = 10s;
            co_return co_await retry(p, [=] { return slow_failure(calls, attempt, refused()); });
        };
        int calls = 0;
        auto h = loop.spawn(run(&calls, 1ms));
        co_await advance(2s);  // first attempt failed, now sleeping 10 s
        CHECK(calls == 1);
        h.cancel();
        auto r = co_await h;
        CHECK(r.stop == RetryStop::cancelled);
        CHECK(r.result.error() == std::errc::operation_canceled);
        CHECK(r.attempts == 1);
        CHECK(loop.timers().empty());

        calls = 0;
        auto h2 = loop.spawn(run(&calls, 1h));
        co_await advance(1s);  // in the first attempt
        h2.cancel();
        auto r2 = co_await h2;
        CHECK(r2.stop == RetryStop::cancelled);
        CHECK(r2.attempts == 1);
        CHECK(loop.timers().empty());
    });
}

// ---- circuit breaker ----------------------------------------------------

namespace {

struct Transitions {
    std::vector<std::string> seen;
};

BreakerOptions breaker_options(Transitions* t) {
    BreakerOptions o;
    o.name = "db";
    o.failure_threshold = 3;
    o.cool_down = 10s;
    o.half_open_trials = 1;
    o.successes_to_close = 1;
    o.on_state_change = [t](const CircuitBreaker& b, BreakerState from, BreakerState to) {
        t->seen.push_back(b.name() + ":" + to_string(from) + "->" + to_string(to));
    };
    return o;
}

Task<Result<int>> answer(int* calls, bool fail) {
    ++*calls;
    if (fail) co_return refused();
    co_return 1;
}

}  // namespace

TEST_CASE("breaker: closed, open, rejecting without calling, half-open, closed, open again",
          "[resilience][breaker]") {
    manual_run([](Loop&) -> Task<void> {
        Transitions t;
        CircuitBreaker b(breaker_options(&t));
        int calls = 0;
        CHECK(b.state() == BreakerState::closed);

        // Two failures, a success (resets the count), three failures: open.
        for (bool fail : {true, true, false, true, true}) {
            (void)co_await b.call([&] { return answer(&calls, fail); });
            CHECK(b.state() == BreakerState::closed);
        }
        auto r = co_await b.call([&] { return answer(&calls, true); });
        CHECK(r.error() == std::errc::connection_refused);
        CHECK(b.state() == BreakerState::open);
        CHECK(calls == 6);

        // Open: rejected at once, the function is not called.
        for (int i = 0; i < 5; ++i) {
            auto rej = co_await b.call([&] { return answer(&calls, false); });
            CHECK(rej.error() == Errc::circuit_open);
        }
        CHECK(calls == 6);
        CHECK(b.stats().rejected == 5);
        co_await advance(9s);
        CHECK(b.state() == BreakerState::open);
        auto v1 = co_await b.call([&] { return answer(&calls, false); });
        CHECK(v1.error() == Errc::circuit_open);

        // After the cool-down: half-open; a successful trial closes it.
        co_await advance(1s);
        CHECK(b.state() == BreakerState::half_open);
        auto trial = co_await b.call([&] { return answer(&calls, false); });
        CHECK(trial);
        CHECK(calls == 7);
        CHECK(b.state() == BreakerState::closed);

        // Three failures open it again; after the cool-down a failed trial
        // re-opens it for a new cool-down.
        for (int i = 0; i < 3; ++i)
            (void)co_await b.call([&] { return answer(&calls, true); });
        CHECK(b.state() == BreakerState::open);
        co_await advance(10s);
        auto bad = co_await b.call([&] { return answer(&calls, true); });
        CHECK(bad.error() == std::errc::connection_refused);
        CHECK(b.state() == BreakerState::open);
        co_await advance(5s);
        CHECK(b.state() == BreakerState::open);  // the cool-down started again
        co_await advance(5s);
        CHECK(b.state() == BreakerState::half_open);

        CHECK(t.seen == std::vector<std::string>{"db:closed->open", "db:open->half_open",
                                                 "db:half_open->closed", "db:closed->open",
                                                 "db:open->half_open", "db:half_open->open",
                                                 "db:open->half_open"});
        CHECK(b.stats().opened == 3);
    });
}

TEST_CASE("breaker: half-open lets a bounded number of trials through at once",
          "[resilience][breaker]") {
    manual_run([](Loop& loop) -> Task<void> {
        BreakerOptions o;
        o.failure_threshold = 1;
        o.cool_down = 1s;
        o.half_open_trials = 2;
        o.successes_to_close = 2;
        CircuitBreaker b(o);
        int calls = 0;
        (void)co_await b.call([&] { return answer(&calls, true); });
        CHECK(b.state() == BreakerState::open);
        co_await advance(1s);

        auto slow_ok = [](CircuitBreaker* br, int* n) -> Task<Result<int>> {
            co_return co_await br->call([n]() -> Task<Result<int>> {
                ++*n;
                co_await sleep_for(100ms);
                co_return 1;
            });
        };
        auto t1 = loop.spawn(slow_ok(&b, &calls));
        auto t2 = loop.spawn(slow_ok(&b, &calls));
        co_await settle();
        CHECK(calls == 3);
        // Both trial slots are taken: a third call is rejected.
        auto third = co_await b.call([&] { return answer(&calls, false); });
        CHECK(third.error() == Errc::circuit_open);
        CHECK(calls == 3);
        co_await advance(100ms);
        auto v2 = co_await t1;
        CHECK(v2);
        auto v3 = co_await t2;
        CHECK(v3);
        CHECK(b.state() == BreakerState::closed);
    });
}

TEST_CASE("breaker: a failure ratio over a window opens it", "[resilience][breaker]") {
    manual_run([](Loop&) -> Task<void> {
        BreakerOptions o;
        o.failure_threshold = 0;  // consecutive rule off
        o.window = 10;
        o.failure_ratio = 0.5;
        CircuitBreaker b(o);
        int calls = 0;
        // Alternating: 4 failures in the first 9 calls (window not full).
        for (int i = 0; i < 9; ++i) {
            (void)co_await b.call([&] { return answer(&calls, i % 2 == 1); });
            CHECK(b.state() == BreakerState::closed);
        }
        // The 10th call fills the window with 5 failures of 10.
        (void)co_await b.call([&] { return answer(&calls, true); });
        CHECK(b.state() == BreakerState::open);

        // Below the ratio it stays closed however long it runs.
        CircuitBreaker b2(o);
        for (int i = 0; i < 100; ++i) {
            (void)co_await b2.call([&] { return answer(&calls, i % 3 == 0); });
        }
        CHECK(b2.state() == BreakerState::closed);
    });
}

TEST_CASE("breaker: a cancelled trial frees its slot and counts as nothing",
          "[resilience][breaker][cancel]") {
    manual_run([](Loop& loop) -> Task<void> {
        BreakerOptions o;
        o.failure_threshold = 1;
        o.cool_down = 1s;
        CircuitBreaker b(o);
        int calls = 0;
        (void)co_await b.call([&] { return answer(&calls, true); });
        co_await advance(1s);
        auto hang = [](CircuitBreaker* br) -> Task<Result<int>> {
            co_return co_await br->call([]() -> Task<Result<int>> {
                bool full = co_await sleep_for(1h);
                if (!full) co_return std::errc::operation_canceled;
                co_return 1;
            });
        };
        auto h = loop.spawn(hang(&b));
        co_await settle();
        CHECK(b.state() == BreakerState::half_open);
        CHECK_FALSE(b.allow());  // the one trial slot is taken
        h.cancel();
        auto r = co_await h;
        CHECK(r.error() == std::errc::operation_canceled);
        CHECK(b.state() == BreakerState::half_open);
        CHECK(b.stats().ignored == 1);
        // The slot is free again: a trial goes through and closes it.
        auto ok = co_await b.call([&] { return answer(&calls, false); });
        CHECK(ok);
        CHECK(b.state() == BreakerState::closed);
        CHECK(loop.timers().empty());
    });
}

TEST_CASE("breaker: manual allow/record, errors that do not count, stale outcomes, trip/reset",
          "[resilience][breaker]") {
    manual_run([](Loop&) -> Task<void> {
        BreakerOptions o;
        o.failure_threshold = 2;
        o.cool_down = 1s;
        CircuitBreaker b(o);
        REQUIRE(b.allow());
        b.record_failure();
        REQUIRE(b.allow());
        b.record(std::make_error_code(std::errc::operation_canceled));  // ignored
        CHECK(b.state() == BreakerState::closed);
        REQUIRE(b.allow());
        b.record(refused());
        CHECK(b.state() == BreakerState::open);
        CHECK_FALSE(b.allow());
        b.reset();
        CHECK(b.state() == BreakerState::closed);
        b.trip();
        CHECK(b.state() == BreakerState::open);
        co_await advance(1s);
        REQUIRE(b.allow());
        CHECK(b.state() == BreakerState::half_open);
        b.record_success();
        CHECK(b.state() == BreakerState::closed);

        // A custom failure rule: 5xx values count, other values do not.
        int calls = 0;
        auto status = [](int* n, int s) -> Task<Result<int>> {
            ++*n;
            co_return s;
        };
        auto is_5xx = [](const Result<int>& r) { return !r || *r >= 500; };
        (void)co_await b.call([&] { return status(&calls, 503); }, is_5xx);
        (void)co_await b.call([&] { return status(&calls, 404); }, is_5xx);  // resets the run
        (void)co_await b.call([&] { return status(&calls, 500); }, is_5xx);
        CHECK(b.state() == BreakerState::closed);
        (void)co_await b.call([&] { return status(&calls, 502); }, is_5xx);
        CHECK(b.state() == BreakerState::open);
    });
}

TEST_CASE("breaker: a call let through before the breaker opened does not count after",
          "[resilience][breaker]") {
    manual_run([](Loop& loop) -> Task<void> {
        BreakerOptions o;
        o.failure_threshold = 1;
        o.cool_down = 1s;
        CircuitBreaker b(o);
        auto slow = [](CircuitBreaker* br) -> Task<Result<int>> {
            co_return co_await br->call([]() -> Task<Result<int>> {
                co_await sleep_for(5s);
                co_return 1;
            });
        };
        int calls = 0;
        auto h = loop.spawn(slow(&b));  // admitted while closed
        co_await settle();
        (void)co_await b.call([&] { return answer(&calls, true); });
        CHECK(b.state() == BreakerState::open);
        co_await advance(1s);
        CHECK(b.state() == BreakerState::half_open);
        REQUIRE(b.allow());  // the trial
        co_await advance(4s);
        auto v4 = co_await h;
        CHECK(v4);  // the old call's success is not the trial's
        CHECK(b.state() == BreakerState::half_open);
        b.record_failure();
        CHECK(b.state() == BreakerState::open);
    });
}

TEST_CASE("CircuitBreakerMap: one breaker per key, named after it", "[resilience][breaker]") {
    manual_run([](Loop&) -> Task<void> {
        std::vector<std::string> opened;
        BreakerOptions o;
        o.failure_threshold = 1;
        o.on_state_change = [&opened](const CircuitBreaker& b, BreakerState, BreakerState to) {
            if (to == BreakerState::open) opened.push_back(b.name());
        };
        CircuitBreakerMap map(o);
        CircuitBreaker& a = map.get("a.example");
        CHECK(&map.get("a.example") == &a);
        CHECK(map.find("b.example") == nullptr);
        CircuitBreaker& b = map.get("b.example");
        CHECK(map.size() == 2);
        CHECK(b.name() == "b.example");
        REQUIRE(b.allow());
        b.record_failure();
        CHECK(a.state() == BreakerState::closed);
        CHECK(opened == std::vector<std::string>{"b.example"});
        int n = 0;
        map.for_each([&n](const std::string&, CircuitBreaker&) { ++n; });
        CHECK(n == 2);
        co_return;
    });
}

// ---- bulkhead -----------------------------------------------------------

namespace {

struct Gauge {
    int running = 0;
    int peak = 0;
    std::vector<int> started;
};

Task<void> guarded(Bulkhead* bh, Gauge* g, int id, Duration work) {
    auto permit = co_await bh->acquire();
    REQUIRE(permit);
    g->started.push_back(id);
    g->peak = std::max(g->peak, ++g->running);
    co_await sleep_for(work);
    --g->running;
}

}  // namespace

TEST_CASE("bulkhead: never more than N in flight; waiters start in arrival order",
          "[resilience][bulkhead]") {
    virtual_run([](Loop& loop) -> Task<void> {
        Bulkhead bh(2);
        Gauge g;
        std::vector<JoinHandle<void>> hs;
        for (int i = 0; i < 8; ++i) {
            hs.push_back(
                loop.spawn(guarded(&bh, &g, i, std::chrono::milliseconds(100 + 37 * (i % 3)))));
            co_await settle();  // arrival order = i, whatever the run queue's order
        }
        CHECK(bh.in_flight() == 2);
        CHECK(bh.waiting() == 6);
        for (auto& h : hs)
            co_await h;
        CHECK(g.peak == 2);
        CHECK(g.started == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
        CHECK(bh.in_flight() == 0);
        CHECK(bh.waiting() == 0);
        CHECK(bh.stats().peak_in_flight == 2);
        CHECK(bh.stats().admitted == 8);
        CHECK(bh.stats().queued == 6);
    });
}

TEST_CASE("bulkhead: a full queue rejects at once", "[resilience][bulkhead]") {
    virtual_run([](Loop& loop) -> Task<void> {
        Bulkhead bh(1, 1);
        Gauge g;
        auto h1 = loop.spawn(guarded(&bh, &g, 1, 1s));
        co_await settle();
        auto h2 = loop.spawn(guarded(&bh, &g, 2, 1s));
        co_await settle();
        const TimePoint t = loop.now();
        auto p = co_await bh.acquire();
        CHECK(p.error() == Errc::rejected);
        CHECK(loop.now() == t);
        CHECK(bh.stats().rejected == 1);
        CHECK_FALSE(bh.try_acquire());
        int calls = 0;
        auto r = co_await bh.call([&] { return answer(&calls, false); });
        CHECK(r.error() == Errc::rejected);
        CHECK(calls == 0);
        co_await h1;
        co_await h2;
        auto r2 = co_await bh.call([&] { return answer(&calls, false); });
        CHECK(r2);
        CHECK(calls == 1);
        CHECK(bh.in_flight() == 0);

        // max_queue 0: whoever cannot start at once is rejected.
        Bulkhead none(1, 0);
        auto held = none.try_acquire();
        REQUIRE(held);
        auto v5 = co_await none.acquire();
        CHECK(v5.error() == Errc::rejected);
        held->release();
        CHECK(none.in_flight() == 0);
        auto v6 = co_await none.acquire();
        CHECK(v6);
    });
}

TEST_CASE("bulkhead: a cancelled or timed-out waiter leaves no state behind",
          "[resilience][bulkhead][cancel]") {
    manual_run([](Loop& loop) -> Task<void> {
        Bulkhead bh(1);
        auto holder = bh.try_acquire();
        REQUIRE(holder);
        std::vector<int> got;
        auto waiter = [](Bulkhead* b, std::vector<int>* out, int id) -> Task<bool> {
            auto p = co_await b->acquire();
            if (!p) {
                CHECK(p.error() == std::errc::operation_canceled);
                co_return false;
            }
            out->push_back(id);
            co_return true;
        };
        auto a = loop.spawn(waiter(&bh, &got, 1));
        co_await settle();
        auto b = loop.spawn(waiter(&bh, &got, 2));
        co_await settle();
        auto c = loop.spawn(waiter(&bh, &got, 3));
        co_await settle();
        CHECK(bh.waiting() == 3);
        b.cancel();
        auto v7 = co_await b;
        CHECK_FALSE(v7);
        CHECK(bh.waiting() == 2);
        CHECK(bh.stats().cancelled == 1);

        holder->release();
        auto v8 = co_await a;
        CHECK(v8);
        auto v9 = co_await c;
        CHECK(v9);
        CHECK(got == std::vector<int>{1, 3});
        CHECK(bh.in_flight() == 0);
        CHECK(bh.waiting() == 0);
    });
}

TEST_CASE("bulkhead: cancellation in every position; permits are never lost",
          "[resilience][bulkhead][cancel]") {
    manual_run([](Loop& loop) -> Task<void> {
        Bulkhead bh(1);
        auto holder = bh.try_acquire();
        REQUIRE(holder);
        std::vector<int> got;
        auto waiter = [](Bulkhead* b, std::vector<int>* out, int id) -> Task<bool> {
            auto p = co_await b->acquire();
            if (!p) co_return false;
            out->push_back(id);
            co_await sleep_for(1s);
            co_return true;
        };
        std::vector<JoinHandle<bool>> hs;
        for (int i = 0; i < 5; ++i) {
            hs.push_back(loop.spawn(waiter(&bh, &got, i)));
            co_await settle();
        }
        CHECK(bh.waiting() == 5);
        hs[0].cancel();  // the head
        hs[4].cancel();  // the tail
        hs[2].cancel();  // the middle
        co_await settle();
        CHECK(bh.waiting() == 2);

        // A waiter with a deadline that passes leaves the queue too.
        auto timed = [](Bulkhead* b) -> Task<std::error_code> {
            auto p = co_await with_timeout(b->acquire(), 2s);
            co_return p.error();
        };
        auto ht = loop.spawn(timed(&bh));
        co_await settle();
        CHECK(bh.waiting() == 3);
        co_await advance(2s);
        auto v10 = co_await ht;
        CHECK(v10 == std::errc::timed_out);
        CHECK(bh.waiting() == 2);

        // Granted then cancelled before it ran: it still gets (and gives back) the permit.
        holder->release();
        hs[1].cancel();
        co_await advance(3s);
        for (auto& h : hs)
            (void)co_await h;
        CHECK(got == std::vector<int>{1, 3});
        CHECK(bh.in_flight() == 0);
        CHECK(bh.waiting() == 0);
        CHECK(bh.stats().cancelled == 4);
        CHECK(loop.timers().empty());
    });
}

TEST_CASE("bulkhead: a waiting frame destroyed at loop shutdown leaves the queue",
          "[resilience][bulkhead][cancel]") {
    Bulkhead bh(1);
    auto holder = bh.try_acquire();
    REQUIRE(holder);
    {
        ManualClock clock;
        LoopOptions o = test::options();
        o.clock = &clock;
        Loop loop(o);
        auto start = [](Loop& l, Bulkhead* b) -> Task<void> {
            auto waiter = [](Bulkhead* bb) -> Task<void> {
                auto p = co_await bb->acquire();
                co_await sleep_for(1h);
            };
            l.spawn(waiter(b)).detach();
            co_await settle();
        };
        loop.block_on(start(loop, &bh));
        CHECK(bh.waiting() == 1);
    }  // the loop cancels the detached task, which leaves the queue
    CHECK(bh.waiting() == 0);
    holder->release();
    CHECK(bh.in_flight() == 0);
}

TEST_CASE("bulkhead: set_limit admits waiters at once when raised", "[resilience][bulkhead]") {
    virtual_run([](Loop& loop) -> Task<void> {
        Bulkhead bh(1);
        Gauge g;
        std::vector<JoinHandle<void>> hs;
        for (int i = 0; i < 4; ++i) {
            hs.push_back(loop.spawn(guarded(&bh, &g, i, 1s)));
            co_await settle();
        }
        CHECK(bh.in_flight() == 1);
        bh.set_limit(3);
        CHECK(bh.in_flight() == 3);
        CHECK(bh.waiting() == 1);
        for (auto& h : hs)
            co_await h;
        CHECK(g.peak == 3);
    });
}

}  // namespace runtime_resilience_test
