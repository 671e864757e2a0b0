#pragma once
// Test helpers: a loop per test built from CORIO_BACKEND (meson registers
// every I/O test once per backend), with a time cap so nothing hangs.

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <corio/runtime/loop.hpp>
#include <corio/runtime/op.hpp>
#include <corio/runtime/ops.hpp>
#include <corio/runtime/task_group.hpp>
#include <corio/runtime/timer.hpp>
#include <corio/runtime/when_all.hpp>
#include <corio/runtime/when_any.hpp>
#include <corio/sim/world.hpp>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CORIO_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CORIO_TEST_SANITIZED 1
#endif
#endif
#ifndef CORIO_TEST_SANITIZED
#define CORIO_TEST_SANITIZED 0
#endif

namespace corio::test {

/// True in an ASan or TSan build, where code runs 10-30x slower: a test whose
/// size only adds repetitions of the same path (bytes of a transfer, runs of a
/// program) does fewer of them there. What it checks stays the same.
inline constexpr bool sanitized = CORIO_TEST_SANITIZED != 0;

/// Options for the loop of a test: the backend from CORIO_BACKEND.
inline LoopOptions options() {
    LoopOptions o;
    return o;
}

/// CORIO_BACKEND=sim (meson's "sim" registrations): run() puts the test's
/// body on a host of a sim::World instead (virtual time, simulated network;
/// CORIO_SIM_SEED picks the seed).
inline bool sim_requested() {
    const char* b = std::getenv("CORIO_BACKEND");
    return b != nullptr && std::string_view(b) == "sim";
}

/// A loop that is replaced by a new one at the same address, as the
/// temporary loop of each corio::block_on call usually is: for objects that
/// outlive their loop and meet the next one.
class ReplacedLoop {
public:
    ReplacedLoop() { loop_.emplace(options()); }
    Loop* operator->() noexcept { return &*loop_; }
    Loop& operator*() noexcept { return *loop_; }
    /// Destroys the loop and makes the next one in its place.
    void replace() {
        const Loop* at = &*loop_;
        loop_.reset();
        loop_.emplace(options());
        REQUIRE(&*loop_ == at);  // the same address, a new ring
    }
    /// Destroys the loop (for objects that must outlive it).
    void end() noexcept { loop_.reset(); }

private:
    std::optional<Loop> loop_;
};

/// Runs `body(loop)` on a fresh loop, failing the test if it takes longer
/// than `cap` (the task is cancelled, then the loop is torn down).
template <class F>
void run(F body, std::chrono::milliseconds cap = std::chrono::seconds(10),
         LoopOptions opts = options()) {
    auto guarded = [](Loop& l, F& b, std::chrono::milliseconds c) -> Task<bool> {
        auto r = co_await with_timeout(b(l), c);
        co_return r.has_value();
    };
    if (sim_requested()) {
        sim::World w;
        sim::Host& h = w.add_host("test");
        bool finished = w.block_on(h, guarded(h.loop(), body, cap));
        INFO("sim " << w.summary());
        REQUIRE(finished);
        return;
    }
    Loop loop(opts);
    bool finished = loop.block_on(guarded(loop, body, cap));
    INFO("backend " << to_string(loop.kind()));
    REQUIRE(finished);
}

/// Gives the other coroutines `turns` turns of the loop (corio::settle() waits until nothing
/// is left to run; some tests want a fixed number of turns instead).
inline Task<void> yield_turns(int turns = 5) {
    for (int i = 0; i < turns; ++i) {
        co_await yield();
    }
}

/// The backend the test runs on.
inline BackendKind backend() {
    Loop l(options());
    return l.kind();
}

}  // namespace corio::test
