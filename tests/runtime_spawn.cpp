// spawn, JoinHandle, detached tasks, block_on, stop, 100,000 spawned tasks.
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "clock_support.hpp"

namespace runtime_spawn_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {
int counter = 0;
Task<void> bump() {
    ++counter;
    co_return;
}
Task<int> square(int x) {
    co_await yield();
    co_return x* x;
}
Task<void> fails() {
    co_await yield();
    throw std::runtime_error("detached failure");
}
}  // namespace

TEST_CASE("spawn runs the task at the next turn and the handle gives its value", "[spawn]") {
    test::run([](Loop& loop) -> Task<void> {
        counter = 0;
        auto h = loop.spawn(bump());
        CHECK(counter == 0);  // not started inline
        co_await h;
        CHECK(counter == 1);
        auto h2 = loop.spawn(square(9));
        int v = co_await h2;  // not inside CHECK: g++ 12 may evaluate it twice
        CHECK(v == 81);
    });
}

TEST_CASE("a dropped handle detaches: the task still runs to completion", "[spawn]") {
    test::run([](Loop& loop) -> Task<void> {
        counter = 0;
        loop.spawn(bump()).detach();
        { auto h = loop.spawn(bump()); }
        co_await sleep_for(1ms);
        CHECK(counter == 2);
    });
}

TEST_CASE("an exception escaping a detached task is reported, not swallowed", "[spawn]") {
    test::run([](Loop& loop) -> Task<void> {
        auto before = loop.stats().unhandled_exceptions;
        loop.spawn(fails()).detach();
        co_await sleep_for(1ms);
        CHECK(loop.stats().unhandled_exceptions == before + 1);
    });
}

TEST_CASE("awaiting a handle rethrows the task's exception", "[spawn]") {
    test::run([](Loop& loop) -> Task<void> {
        auto h = loop.spawn(fails());
        bool caught = false;
        try {
            co_await h;
        } catch (const std::runtime_error&) {
            caught = true;
        }
        CHECK(caught);
        CHECK(loop.stats().unhandled_exceptions == 0);
    });
}

namespace {
struct Owned {
    bool* released;
    explicit Owned(bool* r) : released(r) {}
    Owned(Owned&& o) noexcept : released(std::exchange(o.released, nullptr)) {}
    ~Owned() {
        if (released != nullptr) *released = true;
    }
};
Task<int> holds(Owned, bool fail) {
    co_await yield();
    if (fail) throw std::runtime_error("fails while holding");
    co_return 7;
}
}  // namespace

// Whoever joins a task sees everything the task owned released, including
// its parameters (a subscriber, a socket, a lock) - not only once the
// JoinHandle goes away.
TEST_CASE("a joined task's parameters are released before the joiner resumes", "[spawn]") {
    test::run([](Loop& loop) -> Task<void> {
        bool released = false;
        auto h = loop.spawn(holds(Owned(&released), false));
        int v = co_await h;
        CHECK(v == 7);
        CHECK(released);

        bool released2 = false;
        auto h2 = loop.spawn(holds(Owned(&released2), true));
        bool caught = false;
        try {
            co_await h2;
        } catch (const std::runtime_error&) {
            caught = true;
        }
        CHECK(caught);
        CHECK(released2);
    });
}

TEST_CASE("100,000 spawned tasks all run", "[spawn]") {
    Loop loop(test::options());
    counter = 0;
    auto body = [](Loop& l) -> Task<void> {
        std::vector<JoinHandle<int>> hs;
        hs.reserve(100'000);
        for (int i = 0; i < 100'000; ++i)
            hs.push_back(l.spawn(square(i % 100)));
        long sum = 0;
        for (auto& h : hs)
            sum += co_await h;
        long expect = 0;
        for (int i = 0; i < 100'000; ++i)
            expect += long(i % 100) * (i % 100);
        CHECK(sum == expect);
        for (int i = 0; i < 100'000; ++i)
            l.spawn(bump()).detach();
    };
    loop.block_on(body(loop));
    loop.run();  // the detached ones
    CHECK(counter == 100'000);
    CHECK(loop.live_tasks() == 0);
}

TEST_CASE("run() returns when no spawned task is left", "[loop]") {
    Loop loop(test::options());
    counter = 0;
    loop.spawn([]() -> Task<void> {
            co_await sleep_for(5ms);
            ++counter;
        }())
        .detach();
    loop.run();
    CHECK(counter == 1);
}

TEST_CASE("stop() makes run_until_stopped return", "[loop]") {
    Loop loop(test::options());
    loop.spawn([](Loop& l) -> Task<void> {
            co_await sleep_for(2ms);
            l.stop();
        }(loop))
        .detach();
    loop.run_until_stopped();
    SUCCEED();
}

TEST_CASE("block_on inside a running loop is refused", "[loop]") {
    Loop loop(test::options());
    auto body = [](Loop& l) -> Task<bool> {
        try {
            l.block_on(bump());
        } catch (const std::logic_error&) {
            co_return true;
        }
        co_return false;
    };
    CHECK(loop.block_on(body(loop)));
}

TEST_CASE("a task that can never finish is reported as a deadlock", "[loop]") {
    Loop loop(test::options());
    auto never = []() -> Task<void> {
        struct Never {
            bool await_ready() { return false; }
            void await_suspend(std::coroutine_handle<>) {}
            void await_resume() {}
        };
        co_await Never{};
    };
    CHECK_THROWS_AS(loop.block_on(never()), std::logic_error);
}

TEST_CASE("free block_on makes its own loop", "[loop]") {
    CHECK(block_on(square(12), test::options()) == 144);
}

TEST_CASE("destroying a loop cancels and reclaims tasks still waiting", "[loop]") {
    counter = 0;
    {
        Loop loop(test::options());
        for (int i = 0; i < 100; ++i) {
            loop.spawn([]() -> Task<void> {
                    bool full = co_await sleep_for(1h);
                    if (!full) ++counter;  // woken by cancellation
                }())
                .detach();
        }
        loop.spawn([](Loop& l) -> Task<void> {
                co_await yield();
                l.stop();
            }(loop))
            .detach();
        loop.run_until_stopped();
    }
    CHECK(counter == 100);
}

TEST_CASE("corio::block_on inside a running task is refused", "[loop]") {
    Loop loop(test::options());
    auto body = []() -> Task<bool> {
        try {
            (void)block_on(square(3));
        } catch (const std::logic_error& e) {
            co_return std::string(e.what()).find("inside a running task") != std::string::npos;
        }
        co_return false;
    };
    CHECK(loop.block_on(body()));
    // The outer loop is still this thread's loop and still works.
    CHECK(Loop::current_or_null() == &loop);
    CHECK(loop.block_on(square(5)) == 25);
}

namespace {
Task<int> sleeper(Duration d, bool* cancelled) {
    bool full = co_await sleep_for(d);
    if (!full) *cancelled = true;
    co_return 7;
}
}  // namespace

TEST_CASE("with_timeout over a JoinHandle times out at its deadline and cancels the task",
          "[spawn][timeout]") {
    test::virtual_run([](Loop& loop) -> Task<void> {
        bool cancelled = false;
        TimePoint t0 = loop.now();
        auto h = loop.spawn(sleeper(3s, &cancelled));
        auto r = co_await with_timeout(std::move(h), 100ms);
        REQUIRE(!r);
        CHECK(r.error() == std::errc::timed_out);
        CHECK(loop.now() - t0 == 100ms);  // not 3 s: the joined task was stopped
        CHECK(cancelled);
    });
}

TEST_CASE("when_any over a task awaiting a JoinHandle cancels the joined task",
          "[spawn][when_any]") {
    test::virtual_run([](Loop& loop) -> Task<void> {
        bool cancelled = false;
        TimePoint t0 = loop.now();
        auto join = [](JoinHandle<int> h) -> Task<int> { co_return co_await h; };
        auto r = co_await when_any(join(loop.spawn(sleeper(3s, &cancelled))), sleep_for(50ms));
        CHECK(r.index() == 1);
        CHECK(loop.now() - t0 == 50ms);
        CHECK(cancelled);
        REQUIRE(r.loser<0>());
        CHECK(*r.loser<0>() == 7);  // the joined task finished (cancelled) with its value
    });
}

TEST_CASE("a JoinHandle awaited to completion gives the value; stop after that is harmless",
          "[spawn]") {
    test::virtual_run([](Loop& loop) -> Task<void> {
        bool cancelled = false;
        auto r = co_await with_timeout(loop.spawn(sleeper(10ms, &cancelled)), 1s);
        REQUIRE(r);
        CHECK(*r == 7);
        CHECK(!cancelled);
    });
}

}  // namespace runtime_spawn_test
