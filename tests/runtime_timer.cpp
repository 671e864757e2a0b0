// Timers: ordering, bounded lateness, cancellation, with_timeout, many timers.
#include <algorithm>
#include <vector>

#include "support.hpp"

namespace runtime_timer_test {

using namespace corio;
using namespace std::chrono_literals;

TEST_CASE("sleep_for waits at least the duration, and not much longer", "[timer]") {
    test::run([](Loop&) -> Task<void> {
        for (auto d : {1ms, 5ms, 20ms}) {
            auto t0 = Clock::now();
            bool full = co_await sleep_for(d);
            auto took = Clock::now() - t0;
            CHECK(full);
            CHECK(took >= d);
            CHECK(took < d + 500ms);  // a loaded shared machine, not a speed test
        }
    });
}

TEST_CASE("timers fire in deadline order, equal deadlines in arming order", "[timer]") {
    test::run(
        [](Loop& loop) -> Task<void> {
            std::vector<int> order;
            auto sleeper = [](std::vector<int>* out, int id, TimePoint when) -> Task<void> {
                co_await sleep_until(when);
                out->push_back(id);
            };
            TimePoint base = loop.now() + 20ms;
            std::vector<Task<void>> ts;
            ts.push_back(sleeper(&order, 3, base + 6ms));
            ts.push_back(sleeper(&order, 1, base + 2ms));
            ts.push_back(sleeper(&order, 2, base + 4ms));
            ts.push_back(sleeper(&order, 10, base + 8ms));
            ts.push_back(sleeper(&order, 11, base + 8ms));
            ts.push_back(sleeper(&order, 12, base + 8ms));
            co_await when_all(std::move(ts));
            CHECK(order == std::vector<int>{1, 2, 3, 10, 11, 12});
        },
        10s,
        [] {
            auto o = test::options();
            o.shuffle_seed.reset();
            o.use_env = false;  // arming order matters here: no shuffled start
            o.backend = backend_from_env().value_or(BackendChoice::automatic);
            return o;
        }());
}

TEST_CASE("a cancelled sleep resumes early with false", "[timer][cancel]") {
    test::run([](Loop& loop) -> Task<void> {
        const auto baseline = loop.timers().size();  // test::run's own cap
        auto h = loop.spawn([]() -> Task<bool> { co_return co_await sleep_for(1h); }());
        co_await sleep_for(2ms);
        h.cancel();
        bool full = co_await h;
        CHECK_FALSE(full);
        CHECK(loop.timers().size() == baseline);
    });
}

TEST_CASE("sleep_for(0) and a cancelled sleep in a loop let other tasks run", "[timer]") {
    // Both are over at once; awaited in a loop they must still yield to the
    // loop once its inline budget is spent, or the other task never runs.
    test::run([](Loop& loop) -> Task<void> {
        bool flag = false;
        auto setter = loop.spawn([](bool* f) -> Task<void> {
            *f = true;
            co_return;
        }(&flag));
        long spins = 0;
        while (!flag) {
            bool full = co_await sleep_for(0ms);
            CHECK(full);
            ++spins;
        }
        co_await setter;
        CHECK(spins > 0);

        // A cancelled task that spawns another and then waits for it by
        // polling with sleeps it ignores (each one over at once).
        bool other_ran = false;
        auto stubborn = [](bool* other) -> Task<long> {
            (void)co_await sleep_for(1h);  // cancelled before it started: false at once
            Loop::current()
                .spawn([](bool* o) -> Task<void> {
                    *o = true;
                    co_return;
                }(other))
                .detach();
            long n = 0;
            while (!*other) {
                (void)co_await sleep_for(1h);
                ++n;
            }
            co_return n;
        };
        auto h = loop.spawn(stubborn(&other_ran));
        h.cancel();
        const long n = co_await h;
        CHECK(n > 0);
    });
}

TEST_CASE("with_timeout gives timed_out when the work is too slow", "[timer]") {
    test::run([](Loop& loop) -> Task<void> {
        const auto baseline = loop.timers().size();
        auto slow = []() -> Task<int> {
            co_await sleep_for(1h);
            co_return 1;
        };
        auto r = co_await with_timeout(slow(), 10ms);
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::timed_out);
        auto fast = []() -> Task<int> { co_return 7; };
        auto r2 = co_await with_timeout(fast(), 1s);
        REQUIRE(r2);
        CHECK(*r2 == 7);
        CHECK(loop.timers().size() == baseline);
    });
}

TEST_CASE("a chain under one deadline ends by the deadline", "[timer]") {
    test::run([](Loop& loop) -> Task<void> {
        auto step = []() -> Task<bool> { co_return co_await sleep_for(50ms); };
        auto chain = [](decltype(step) s) -> Task<int> {
            int done = 0;
            for (int i = 0; i < 3; ++i) {
                if (!co_await s()) break;
                ++done;
            }
            co_return done;
        };
        auto t0 = Clock::now();
        auto r = co_await with_deadline(chain(step), loop.now() + 75ms);
        auto took = Clock::now() - t0;
        CHECK_FALSE(r);
        CHECK(took < 140ms + 300ms);
        CHECK(took >= 75ms);
    });
}

TEST_CASE("ten thousand timers", "[timer]") {
    test::run([](Loop& loop) -> Task<void> {
        const auto baseline = loop.timers().size();
        int fired = 0;
        std::vector<Task<void>> ts;
        for (int i = 0; i < 10'000; ++i) {
            ts.push_back([](int* f, int ms) -> Task<void> {
                co_await sleep_for(std::chrono::milliseconds(ms));
                ++*f;
            }(&fired, i % 50));
        }
        co_await when_all(std::move(ts));
        CHECK(fired == 10'000);
        CHECK(loop.timers().size() == baseline);
    });
}

TEST_CASE("a manual clock moves only when advanced", "[timer][clock]") {
    ManualClock clock;
    LoopOptions o = test::options();
    o.clock = &clock;
    Loop loop(o);
    auto body = [](ManualClock& c) -> Task<void> {
        int woke = 0;
        auto sleeper = [](int* w) -> Task<void> {
            co_await sleep_for(10s);
            ++*w;
        };
        auto driver = [](ManualClock& c2, int* w) -> Task<void> {
            co_await yield();
            CHECK(*w == 0);
            c2.advance(9s);
            co_await yield();
            co_await yield();
            CHECK(*w == 0);
            c2.advance(1s);
            co_await yield();
            co_await yield();
            CHECK(*w == 1);
        };
        co_await when_all(sleeper(&woke), driver(c, &woke));
    };
    auto t0 = Clock::now();
    loop.block_on(body(clock));
    CHECK(Clock::now() - t0 < 5s);
}

TEST_CASE("turn_now: one reading per turn, never ahead of now, new after a wait", "[timer]") {
    test::run([](Loop& loop) -> Task<void> {
        if (loop.kind() == BackendKind::sim) co_return;  // virtual time: turn_now() is now()
        const TimePoint t1 = loop.turn_now();
        CHECK(t1 <= loop.now());
        // The clock moves on within the turn; turn_now stays.
        while (loop.now() == t1) {
        }
        CHECK(loop.turn_now() == t1);
        // A sleep ends in a later turn, after a wait: a new reading, at
        // least the sleep's length later.
        co_await sleep_for(1ms);
        const TimePoint t2 = loop.turn_now();
        CHECK(t2 >= t1 + 1ms);
        CHECK(t2 <= loop.now());
    });
}

}  // namespace runtime_timer_test
