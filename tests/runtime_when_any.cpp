// when_any: the first to finish wins, the others are cancelled and awaited.
#include <stdexcept>
#include <vector>

#include "support.hpp"

namespace runtime_when_any_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {
Task<int> after(std::chrono::milliseconds d, int v, int* cancelled = nullptr) {
    bool full = co_await sleep_for(d);
    if (!full && cancelled) ++*cancelled;
    co_return v;
}
Task<void> nothing_after(std::chrono::milliseconds d) { co_await sleep_for(d); }
}  // namespace

TEST_CASE("when_any gives the first to finish and its index", "[when_any]") {
    test::run([](Loop&) -> Task<void> {
        int cancelled = 0;
        auto r = co_await when_any(after(1h, 1, &cancelled), after(5ms, 2, &cancelled),
                                   nothing_after(1h));
        CHECK(r.index() == 1);
        CHECK(std::get<1>(r) == 2);
        CHECK(cancelled == 1);  // the losers were cancelled and awaited before we resumed
    });
}

TEST_CASE("when_any over a range", "[when_any]") {
    test::run([](Loop&) -> Task<void> {
        int cancelled = 0;
        std::vector<Task<int>> ts;
        for (int i = 0; i < 10; ++i) ts.push_back(after(i == 7 ? 3ms : 1h, i * 10, &cancelled));
        auto r = co_await when_any(std::move(ts));
        CHECK(r.index == 7);
        CHECK(r.value == 70);
        CHECK(cancelled == 9);
    });
}

TEST_CASE("a winner's exception is rethrown", "[when_any]") {
    test::run([](Loop&) -> Task<void> {
        auto boom = []() -> Task<int> {
            co_await sleep_for(1ms);
            throw std::runtime_error("winner threw");
        };
        bool caught = false;
        try {
            co_await when_any(boom(), after(1h, 1));
        } catch (const std::runtime_error&) {
            caught = true;
        }
        CHECK(caught);
    });
}

TEST_CASE("when_any races an operation against a timer", "[when_any]") {
    test::run([](Loop&) -> Task<void> {
        auto r = co_await when_any(nothing_after(1h), after(2ms, 5));
        CHECK(r.index() == 1);
    });
}

}  // namespace runtime_when_any_test
