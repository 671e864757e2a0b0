// Virtual time: settle, advance, auto_advance on a ManualClock; Deadline and
// with_deadline(awaitable, Deadline); sleep_for / with_timeout in virtual time.
#include <vector>

#include <corio/runtime/deadline.hpp>

#include "clock_support.hpp"

namespace runtime_clock_test {

using namespace corio;
using corio::test::manual_run;
using corio::test::virtual_run;
using namespace std::chrono_literals;

namespace {

}  // namespace

TEST_CASE("Deadline: after, remaining, expired, never, earliest", "[clock][deadline]") {
    manual_run([](Loop& loop) -> Task<void> {
        TimePoint start = loop.now();
        Deadline d = Deadline::after(2s);
        CHECK(d.when() == start + 2s);
        CHECK(d.remaining() == 2s);
        CHECK_FALSE(d.expired());
        CHECK_FALSE(d.is_never());

        Deadline never;
        CHECK(never.is_never());
        CHECK(never == Deadline::never());
        CHECK(never.remaining() == Duration::max());
        CHECK_FALSE(never.expired());
        CHECK(Deadline::after(Duration::max()).is_never());

        CHECK(d.earliest(never) == d);
        CHECK(never.earliest(d) == d);
        CHECK(d.earliest_after(1s).when() == start + 1s);
        CHECK(d.earliest_after(3s) == d);
        CHECK(d < never);

        co_await advance(1500ms);
        CHECK(d.remaining() == 500ms);
        co_await advance(500ms);
        CHECK(d.expired());
        CHECK(d.remaining() == Duration::zero());
        co_await advance(1s);
        CHECK(d.remaining() == Duration::zero());
    });
}

TEST_CASE("advance fires timers at their own virtual times", "[clock]") {
    manual_run([](Loop& loop) -> Task<void> {
        const TimePoint start = loop.now();
        std::vector<Duration> woke;
        auto chain = [](Loop& l, TimePoint s, std::vector<Duration>* out) -> Task<void> {
            for (int i = 0; i < 3; ++i) {
                co_await sleep_for(1s);
                out->push_back(l.now() - s);
            }
        };
        auto h = loop.spawn(chain(loop, start, &woke));
        co_await advance(500ms);
        CHECK(woke.empty());
        // One advance past all three: each sleep starts when the previous one
        // woke, at its own time, not at the end of the advance.
        co_await advance(5s);
        CHECK(woke == std::vector<Duration>{1s, 2s, 3s});
        CHECK(loop.now() - start == 5500ms);
        CHECK(h.done());
        co_await h;
    });
}

TEST_CASE("settle runs everything that is ready now, and nothing that is not", "[clock]") {
    manual_run([](Loop& loop) -> Task<void> {
        int steps = 0;
        auto worker = [](int* n) -> Task<void> {
            for (int i = 0; i < 10; ++i) {
                ++*n;
                co_await yield();
            }
            co_await sleep_for(1s);
            ++*n;
        };
        auto h = loop.spawn(worker(&steps));
        co_await settle();
        CHECK(steps == 10);
        co_await advance(1s);
        CHECK(steps == 11);
        co_await h;
    });
}

TEST_CASE("advance needs a manual clock", "[clock]") {
    Loop loop(test::options());
    auto body = []() -> Task<void> { co_await advance(1s); };
    CHECK_THROWS_AS(loop.block_on(body()), std::logic_error);
}

TEST_CASE("auto_advance: an hour of sleeping takes no real time", "[clock]") {
    virtual_run([](Loop& loop) -> Task<void> {
        const TimePoint start = loop.now();
        auto v1 = co_await sleep_for(1h);
        CHECK(v1);
        CHECK(loop.now() - start == 1h);
        // Concurrent sleepers wake in order, each at its time.
        std::vector<int> order;
        auto sleeper = [](std::vector<int>* o, int id, Duration d) -> Task<void> {
            co_await sleep_for(d);
            o->push_back(id);
        };
        co_await when_all(sleeper(&order, 3, 30min), sleeper(&order, 1, 10min),
                          sleeper(&order, 2, 20min));
        CHECK(order == std::vector<int>{1, 2, 3});
        CHECK(loop.now() - start == 1h + 30min);
    });
}

TEST_CASE("auto_advance gives the task's value and rethrows its exception", "[clock]") {
    ManualClock clock;
    LoopOptions o = test::options();
    o.clock = &clock;
    Loop loop(o);
    auto value = []() -> Task<int> {
        co_await sleep_for(5s);
        co_return 42;
    };
    CHECK(loop.block_on(auto_advance(value())) == 42);
    auto thrower = []() -> Task<int> {
        co_await sleep_for(5s);
        throw std::runtime_error("boom");
    };
    CHECK_THROWS_AS(loop.block_on(auto_advance(thrower())), std::runtime_error);
}

TEST_CASE("with_timeout and sleep_for work in virtual time", "[clock]") {
    virtual_run([](Loop& loop) -> Task<void> {
        const TimePoint start = loop.now();
        auto slow = []() -> Task<int> {
            co_await sleep_for(10s);
            co_return 1;
        };
        auto r = co_await with_timeout(slow(), 3s);
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::timed_out);
        CHECK(loop.now() - start == 3s);
        auto r2 = co_await with_timeout(slow(), 30s);
        REQUIRE(r2);
        CHECK(*r2 == 1);
        CHECK(loop.now() - start == 13s);
        CHECK(loop.timers().empty());
    });
}

TEST_CASE("a chain of three calls under a 2 s deadline ends at 2 s, not 6 s", "[clock][deadline]") {
    virtual_run([](Loop& loop) -> Task<void> {
        // Each call takes 2 s; each is bounded by what is left of the deadline.
        auto call = []() -> Task<Result<int>> {
            bool full = co_await sleep_for(2s);
            if (!full) co_return std::errc::operation_canceled;
            co_return 1;
        };
        auto chain = [](decltype(call) c, Deadline d) -> Task<Result<int>> {
            int sum = 0;
            for (int i = 0; i < 3; ++i) {
                auto r = co_await with_deadline(c(), d);
                if (!r) co_return r.error();
                sum += *r;
            }
            co_return sum;
        };
        const TimePoint start = loop.now();
        auto r = co_await chain(call, Deadline::after(2s));
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::timed_out);
        CHECK(loop.now() - start == 2s);

        // Enough time: all three run.
        const TimePoint t1 = loop.now();
        auto r2 = co_await chain(call, Deadline::after(7s));
        REQUIRE(r2);
        CHECK(*r2 == 3);
        CHECK(loop.now() - t1 == 6s);

        // A deadline already past: the first step times out at once.
        const TimePoint t2 = loop.now();
        auto r3 = co_await chain(call, Deadline(loop.now() - 1s));
        CHECK(r3.error() == std::errc::timed_out);
        CHECK(loop.now() == t2);

        // Never: plain awaiting.
        auto r4 = co_await with_deadline(call(), Deadline::never());
        CHECK(r4);
        CHECK(loop.timers().empty());
    });
}

TEST_CASE("a cancelled task under a deadline leaves no timer behind", "[clock][deadline][cancel]") {
    manual_run([](Loop& loop) -> Task<void> {
        auto waiter = [](Deadline d) -> Task<Result<bool>> {
            co_return co_await with_deadline(sleep_for(1h), d);
        };
        auto h = loop.spawn(waiter(Deadline::after(10s)));
        co_await settle();
        CHECK(loop.timers().size() == 2);  // the sleep and the deadline
        h.cancel();
        auto r = co_await h;
        REQUIRE(r);
        CHECK_FALSE(*r);  // the sleep ended early
        CHECK(loop.timers().empty());
    });
}

}  // namespace runtime_clock_test
