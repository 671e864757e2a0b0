// TaskGroup: children run concurrently, wait() joins them all, errors cancel.
#include <stdexcept>

#include "support.hpp"

namespace runtime_task_group_test {

using namespace corio;
using namespace std::chrono_literals;

TEST_CASE("a task group waits for every child", "[task_group]") {
    test::run([](Loop&) -> Task<void> {
        int done = 0;
        TaskGroup g;
        for (int i = 0; i < 100; ++i) {
            g.spawn([](int* d, int ms) -> Task<void> {
                co_await sleep_for(std::chrono::milliseconds(ms));
                ++*d;
            }(&done, i % 7));
        }
        CHECK(g.size() == 100);
        co_await g.wait();
        CHECK(done == 100);
        CHECK(g.size() == 0);
    });
}

TEST_CASE("a failing child cancels its siblings and wait() rethrows", "[task_group]") {
    test::run([](Loop&) -> Task<void> {
        int cancelled = 0;
        TaskGroup g;
        for (int i = 0; i < 5; ++i) {
            g.spawn([](int* c) -> Task<void> {
                if (!co_await sleep_for(1h)) ++*c;
            }(&cancelled));
        }
        g.spawn([]() -> Task<void> {
            co_await sleep_for(2ms);
            throw std::runtime_error("child");
        }());
        bool caught = false;
        try {
            co_await g.wait();
        } catch (const std::runtime_error&) {
            caught = true;
        }
        CHECK(caught);
        CHECK(cancelled == 5);
    });
}

TEST_CASE("cancelling the waiter cancels the group's children", "[task_group][cancel]") {
    test::run([](Loop& loop) -> Task<void> {
        auto h = loop.spawn([]() -> Task<int> {
            int cancelled = 0;
            TaskGroup g;
            for (int i = 0; i < 3; ++i) {
                g.spawn([](int* c) -> Task<void> {
                    if (!co_await sleep_for(1h)) ++*c;
                }(&cancelled));
            }
            co_await g.wait();
            co_return cancelled;
        }());
        co_await sleep_for(2ms);
        h.cancel();
        int cancelled = co_await h;
        CHECK(cancelled == 3);
    });
}

TEST_CASE("an empty group's wait() returns at once", "[task_group]") {
    test::run([](Loop&) -> Task<void> {
        TaskGroup g;
        co_await g.wait();
    });
}

}  // namespace runtime_task_group_test
