// Loop statistics count what the loop did.
#include "support.hpp"

namespace runtime_stats_test {

using namespace corio;

TEST_CASE("stats count operations, completions, turns and system calls", "[stats]") {
    Loop loop(test::options());
    auto body = []() -> Task<void> {
        for (int i = 0; i < 100; ++i) {
            auto r = co_await nop();
            REQUIRE(r);
        }
    };
    loop.block_on(body());
    const LoopStats& s = loop.stats();
    if (loop.kind() == BackendKind::io_uring) {
        CHECK(s.submitted[std::size_t(OpKind::nop)] == 100);
        CHECK(s.completed >= 100);
        CHECK(s.syscalls >= 1);
        CHECK(s.syscalls <= 110);  // one enter per turn, not several per op
        CHECK(s.completions_per_reap() >= 1.0);
    } else {
        CHECK(s.inline_done >= 98);  // a nop never waits on epoll (the budget yields once)
    }
    CHECK(s.tasks_run >= 1);
    CHECK(s.spawned == 1);
}

TEST_CASE("batched submissions: many ops per system call", "[stats]") {
    Loop loop(test::options());
    auto body = []() -> Task<void> {
        std::vector<Task<void>> ts;
        for (int i = 0; i < 64; ++i) {
            ts.push_back([]() -> Task<void> {
                for (int j = 0; j < 50; ++j) {
                    auto r = co_await nop();
                    REQUIRE(r);
                }
            }());
        }
        co_await when_all(std::move(ts));
    };
    loop.block_on(body());
    const LoopStats& s = loop.stats();
    if (loop.kind() == BackendKind::io_uring) {
        CHECK(s.submitted[std::size_t(OpKind::nop)] == 64 * 50);
        // 64 coroutines each submit one nop per turn: one enter carries ~64.
        CHECK(s.syscalls < 64 * 50 / 16);
        CHECK(s.completions_per_reap() > 16);
    }
}

}  // namespace runtime_stats_test
