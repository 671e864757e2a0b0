// SharedChannel between loops on different threads: ping-pong of 1,000,000
// messages with no loss and no reordering, many senders, backpressure,
// cancellation and close across loops.
//
// CORIO_TEST_MESSAGES sets the ping-pong count (default 1,000,000; the TSan
// run in CI uses fewer, as TSan slows every lock tenfold).
#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include <corio/runtime/channel.hpp>
#include <corio/runtime/runtime.hpp>
#include <corio/runtime/sync.hpp>

#include "multi_support.hpp"
#include "support.hpp"

namespace runtime_multi_channel_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

struct Msg {
    std::uint32_t sender;
    std::uint64_t seq;
};

}  // namespace

TEST_CASE("ping-pong across loops: every message back, in order", "[multi][channel]") {
    const std::uint64_t n = test::message_count(1'000'000);
    Runtime rt(test::runtime_config(2));
    SharedChannel<std::uint64_t> ping(256), pong(256);
    // Loop 1 echoes every ping back as a pong until ping is closed.
    auto echo = rt.spawn_on(1,
                            [](SharedChannel<std::uint64_t> in,
                               SharedChannel<std::uint64_t> out) -> Task<std::uint64_t> {
                                std::uint64_t count = 0;
                                for (;;) {
                                    auto v = co_await in.recv();
                                    if (!v) break;
                                    if (!co_await out.send(*v)) break;
                                    ++count;
                                }
                                out.close();
                                co_return count;
                            }(ping, pong));
    // Loop 0 sends 0..n-1 and, concurrently, checks the pongs.
    auto result = rt.block_on([](SharedChannel<std::uint64_t> in, SharedChannel<std::uint64_t> out,
                                 std::uint64_t n) -> Task<std::uint64_t> {
        auto sender = [](SharedChannel<std::uint64_t> out, std::uint64_t n) -> Task<void> {
            for (std::uint64_t i = 0; i < n; ++i) {
                if (!co_await out.send(i)) co_return;
            }
            out.close();
        };
        auto checker = [](SharedChannel<std::uint64_t> in) -> Task<std::uint64_t> {
            std::uint64_t expect = 0;
            for (;;) {
                auto v = co_await in.recv();
                if (!v) co_return expect;
                if (*v != expect) co_return ~std::uint64_t(0);  // lost or reordered
                ++expect;
            }
        };
        auto [ignored, got] = co_await when_all(sender(out, n), checker(in));
        (void)ignored;
        co_return got;
    }(pong, ping, n));
    CHECK(result == n);
    CHECK(echo.get() == n);
    LoopStats s0 = rt.stats(0);
    // Batched wake-ups: far fewer wake-ups than messages.
    INFO("remote items received by loop 0: " << s0.remote_received << " for " << n << " pongs");
    CHECK(s0.remote_received < n);
}

TEST_CASE("many senders on every loop into one channel: per-sender order", "[multi][channel]") {
    constexpr unsigned loops = 4;
    const std::uint64_t per = std::max<std::uint64_t>(test::message_count(1'000'000) / 40, 1000);
    Runtime rt(test::runtime_config(loops));
    SharedChannel<Msg> ch(64);
    std::atomic<unsigned> senders_left{loops * 2};
    auto sender = [](SharedChannel<Msg> ch, std::uint32_t id, std::uint64_t per,
                     std::atomic<unsigned>* left) -> Task<void> {
        for (std::uint64_t i = 0; i < per; ++i) {
            if (!co_await ch.send(Msg{id, i})) co_return;
        }
        if (left->fetch_sub(1) == 1) ch.close();
    };
    std::vector<RemoteHandle<void>> hs;
    for (unsigned l = 0; l < loops; ++l) {
        for (unsigned k = 0; k < 2; ++k) {
            hs.push_back(rt.spawn_on(l, sender(ch, l * 2 + k, per, &senders_left)));
        }
    }
    // Two receivers on different loops: each sees every sender's values in order.
    auto receiver = [](SharedChannel<Msg> ch) -> Task<std::uint64_t> {
        std::vector<std::int64_t> last(loops * 2, -1);
        std::uint64_t got = 0;
        for (;;) {
            auto m = co_await ch.recv();
            if (!m) co_return got;
            if (std::int64_t(m->seq) <= last[m->sender]) co_return ~std::uint64_t(0);
            last[m->sender] = std::int64_t(m->seq);
            ++got;
        }
    };
    auto r1 = rt.spawn_on(1, receiver(ch));
    auto r3 = rt.spawn_on(3, receiver(ch));
    std::uint64_t a = r1.get(), b = r3.get();
    CHECK(a != ~std::uint64_t(0));
    CHECK(b != ~std::uint64_t(0));
    CHECK(a + b == per * loops * 2);
    for (auto& h : hs)
        h.get();
}

TEST_CASE("backpressure across loops", "[multi][channel]") {
    Runtime rt(test::runtime_config(2));
    SharedChannel<int> ch(1);
    std::atomic<int> sent{0};
    auto p = rt.spawn_on(1, [](SharedChannel<int> c, std::atomic<int>* sent) -> Task<void> {
        for (int i = 0; i < 5; ++i) {
            if (!co_await c.send(i)) co_return;
            sent->fetch_add(1);
        }
    }(ch, &sent));
    std::this_thread::sleep_for(50ms);
    CHECK(sent.load() == 1);  // one buffered, the second waits
    auto got = rt.block_on([](SharedChannel<int> c) -> Task<std::vector<int>> {
        std::vector<int> v;
        for (int i = 0; i < 5; ++i)
            v.push_back(*co_await c.recv());
        co_return v;
    }(ch));
    CHECK(got == std::vector<int>{0, 1, 2, 3, 4});
    p.get();
    CHECK(sent.load() == 5);
}

TEST_CASE("cancel and close across loops lose nothing", "[multi][channel][cancel]") {
    Runtime rt(test::runtime_config(3));
    SharedChannel<int> ch(4);
    // A receiver waiting on loop 1 is cancelled from this thread.
    auto r = rt.spawn_on(1, [](SharedChannel<int> c) -> Task<std::error_code> {
        auto v = co_await c.recv();
        co_return v.error();
    }(ch));
    std::this_thread::sleep_for(20ms);
    r.cancel();
    CHECK(r.get() == std::errc::operation_canceled);
    REQUIRE(ch.try_send(1));
    CHECK(*ch.try_recv() == 1);
    // Receivers waiting on loops 1 and 2 are woken by a close on loop 0.
    auto waiter = [](SharedChannel<int> c) -> Task<std::error_code> {
        auto v = co_await c.recv();
        co_return v.error();
    };
    auto w1 = rt.spawn_on(1, waiter(ch));
    auto w2 = rt.spawn_on(2, waiter(ch));
    std::this_thread::sleep_for(20ms);
    rt.block_on([](SharedChannel<int> c) -> Task<void> {
        c.close();
        co_return;
    }(ch));
    CHECK(w1.get() == Errc::channel_closed);
    CHECK(w2.get() == Errc::channel_closed);
}

}  // namespace runtime_multi_channel_test
