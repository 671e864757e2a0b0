// Built as a user who compiles with -DNDEBUG: the cross-thread checks in
// corio's headers must still catch a Channel shared by two loops, with a
// message, instead of hanging both threads.
#ifndef NDEBUG
#define NDEBUG 1
#endif

#include <csignal>
#include <string>

#include <corio/runtime/channel.hpp>
#include <corio/runtime/runtime.hpp>

#include "death_support.hpp"
#include "support.hpp"

namespace runtime_ndebug_test {

using namespace corio;

TEST_CASE("a Channel used from a second loop aborts with a message under NDEBUG",
          "[multi][channel]") {
    auto end = test::run_in_child(
        [] {
            RuntimeConfig cfg;
            cfg.loops = 2;
            Runtime rt(cfg);
            Channel<int> ch(4);
            // First use on loop 0: the channel belongs to it from now on.
            rt.block_on([](Channel<int> c) -> Task<void> {
                auto r = c.try_recv();
                (void)r;
                co_return;
            }(ch));
            // A receiver on loop 1 (the mistake: SharedChannel is for that).
            rt.spawn_on(1,
                        [](Channel<int> c) -> Task<void> {
                            auto r = co_await c.recv();
                            (void)r;
                        }(ch))
                .get();
        },
        10);
    INFO(end.err);
    CHECK(end.killed_by(SIGABRT));
    CHECK(end.err.find("using a corio::Channel made on another loop") != std::string::npos);
}

TEST_CASE("a JoinHandle used from another loop's thread aborts with a message under NDEBUG",
          "[multi][spawn]") {
    auto end = test::run_in_child(
        [] {
            RuntimeConfig cfg;
            cfg.loops = 2;
            Runtime rt(cfg);
            JoinHandle<void> h = rt.block_on([]() -> Task<JoinHandle<void>> {
                co_return Loop::current().spawn([]() -> Task<void> { co_return; }());
            }());
            rt.spawn_on(1,
                        [](JoinHandle<void>* h) -> Task<void> {
                            h->cancel();
                            co_return;
                        }(&h))
                .get();
        },
        10);
    INFO(end.err);
    CHECK(end.killed_by(SIGABRT));
    CHECK(end.err.find("of a task of another loop") != std::string::npos);
}

}  // namespace runtime_ndebug_test
