// when_all: values, order independence, first error cancels the rest.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "alloc_support.hpp"
#include "support.hpp"

namespace runtime_when_all_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {
Task<int> after(std::chrono::milliseconds d, int v) {
    co_await sleep_for(d);
    co_return v;
}
Task<void> nothing() {
    co_return;
}
Task<std::string> word() {
    co_return std::string("w");
}
Task<int> fail_after(std::chrono::milliseconds d) {
    co_await sleep_for(d);
    throw std::runtime_error("child failed");
}
}  // namespace

TEST_CASE("when_all gives every value in argument order", "[when_all]") {
    test::run([](Loop&) -> Task<void> {
        auto [a, b, c, d] = co_await when_all(after(6ms, 1), after(1ms, 2), nothing(), word());
        CHECK(a == 1);
        CHECK(b == 2);
        (void)c;
        CHECK(d == "w");
    });
}

TEST_CASE("when_all runs children concurrently", "[when_all]") {
    test::run([](Loop&) -> Task<void> {
        auto t0 = Clock::now();
        std::vector<Task<int>> ts;
        for (int i = 0; i < 50; ++i)
            ts.push_back(after(30ms, i));
        auto vs = co_await when_all(std::move(ts));
        auto took = Clock::now() - t0;
        REQUIRE(vs.size() == 50);
        for (int i = 0; i < 50; ++i)
            CHECK(vs[std::size_t(i)] == i);
        CHECK(took < 30ms * 10);  // not 50 x 30 ms in sequence
    });
}

TEST_CASE("when_all over an empty range and of synchronous children", "[when_all]") {
    test::run([](Loop&) -> Task<void> {
        auto vs = co_await when_all(std::vector<Task<int>>{});
        CHECK(vs.empty());
        std::vector<Task<void>> vt;
        for (int i = 0; i < 1000; ++i)
            vt.push_back(nothing());
        co_await when_all(std::move(vt));
    });
}

TEST_CASE("the first error cancels the rest and is rethrown after all finished", "[when_all]") {
    test::run([](Loop&) -> Task<void> {
        int cancelled = 0;
        auto sleeper = [](int* c) -> Task<int> {
            bool full = co_await sleep_for(1h);
            if (!full) ++*c;
            co_return 0;
        };
        auto t0 = Clock::now();
        bool caught = false;
        try {
            co_await when_all(sleeper(&cancelled), fail_after(5ms), sleeper(&cancelled));
        } catch (const std::runtime_error& e) {
            caught = std::string(e.what()) == "child failed";
        }
        CHECK(caught);
        CHECK(cancelled == 2);  // both siblings saw the cancellation before we resumed
        CHECK(Clock::now() - t0 < 5s);
    });
}

TEST_CASE("cancelling the caller cancels every child", "[when_all][cancel]") {
    test::run([](Loop& loop) -> Task<void> {
        auto h = loop.spawn([]() -> Task<int> {
            auto [a, b] = co_await when_all(after(1h, 1), after(1h, 2));
            co_return a + b;
        }());
        co_await sleep_for(2ms);
        h.cancel();
        int sum = co_await h;  // sleeps return early; the values still arrive
        CHECK(sum == 3);
    });
}

TEST_CASE("fixed-arity when_all and when_any allocate nothing per call", "[when_all][alloc]") {
    if (!CORIO_COUNT_NEW) {
        WARN("operator new is not counted under AddressSanitizer");
        return;
    }
    test::run([](Loop&) -> Task<void> {
        auto value = [](int v) -> Task<int> { co_return v; };
        std::uint64_t news = 0;
        int sum = 0;
        for (int round = 0; round < 2; ++round) {  // round 0 warms the frame cache
            const std::uint64_t before = test::news();
            for (int i = 0; i < 1000; ++i) {
                auto [a, b, c] = co_await when_all(value(i), value(1), yield());
                auto r = co_await when_any(value(2), value(3), sleep_for(1h));
                sum += a + b + std::get<0>(r);
                (void)c;
            }
            news = test::news() - before;
        }
        CHECK(news == 0);
        CHECK(sum == 2 * (999 * 1000 / 2 + 1000 + 2000));
    });
}

TEST_CASE("when_all accepts any awaitable, not only tasks", "[when_all]") {
    test::run([](Loop& loop) -> Task<void> {
        TimePoint t0 = loop.now();
        auto [a, b, c] = co_await when_all(after(1ms, 4), sleep_for(2ms), yield());
        CHECK(a == 4);
        CHECK(b == true);  // sleep_for's value: the full time passed
        (void)c;
        CHECK(loop.now() - t0 >= 2ms);
    });
}

}  // namespace runtime_when_all_test
