// Broadcast<T>: one publisher, many subscribers with their own bounded
// buffers; a lagging subscriber is told how much it missed while the others
// receive everything; close, cancellation, unsubscribe; across loops and from
// a plain thread (TSan-clean: CI runs the multi suite under TSan).
//
// CORIO_TEST_MESSAGES scales the cross-loop stream (default 200,000).
#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include <corio/runtime/broadcast.hpp>
#include <corio/runtime/channel.hpp>
#include <corio/runtime/runtime.hpp>

#include "multi_support.hpp"
#include "support.hpp"

namespace runtime_broadcast_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

/// What a subscriber saw: every value in order, the lag reports, the end.
struct Seen {
    std::vector<int> values;
    std::vector<std::uint64_t> lags;
    std::error_code end;
};

Task<Seen> drain(Subscriber<int> sub) {
    Seen s;
    for (;;) {
        auto v = co_await sub.recv();
        if (v) {
            s.values.push_back(*v);
        } else if (v.error() == Errc::lagged) {
            s.lags.push_back(sub.missed());
        } else {
            s.end = v.error();
            co_return s;
        }
    }
}

std::vector<int> range(int from, int to) {
    std::vector<int> v;
    for (int i = from; i < to; ++i)
        v.push_back(i);
    return v;
}

}  // namespace

TEST_CASE("broadcast: a slow subscriber lags and is told how much; the others get everything",
          "[broadcast]") {
    test::run([](Loop& loop) -> Task<void> {
        Broadcast<int> bc(4);
        auto fast = loop.spawn(drain(bc.subscribe()));
        auto slow_sub = bc.subscribe();
        CHECK(bc.subscribers() == 2);
        for (int i = 0; i < 10; ++i) {
            CHECK(bc.send(i) == 2);  // never waits
            co_await yield();        // the fast one keeps up
        }
        // The slow one never received: it kept the last 4 and lost 6.
        CHECK(slow_sub.size() == 4);
        CHECK(slow_sub.total_missed() == 6);
        auto lag = co_await slow_sub.recv();
        REQUIRE_FALSE(lag);
        CHECK(lag.error() == Errc::lagged);
        CHECK(slow_sub.missed() == 6);
        std::vector<int> rest;
        for (int i = 0; i < 4; ++i) {
            auto v = co_await slow_sub.recv();
            REQUIRE(v);
            rest.push_back(*v);
        }
        CHECK(rest == range(6, 10));
        CHECK(slow_sub.received() == 4);

        bc.close();
        Seen f = co_await fast;
        CHECK(f.values == range(0, 10));
        CHECK(f.lags.empty());
        CHECK(f.end == Errc::channel_closed);
        auto end = co_await slow_sub.recv();
        CHECK(end.error() == Errc::channel_closed);
    });
}

TEST_CASE("broadcast: lag reports come once per gap, in stream order", "[broadcast]") {
    test::run([](Loop&) -> Task<void> {
        Broadcast<int> bc(3);
        auto sub = bc.subscribe();
        for (int i = 0; i < 5; ++i)
            bc.send(i);  // 0,1 lost; 2,3,4 kept
        auto a = sub.try_recv();
        CHECK(a.error() == Errc::lagged);
        CHECK(sub.missed() == 2);
        auto b = sub.try_recv();
        REQUIRE(b);
        CHECK(*b == 2);
        for (int i = 5; i < 9; ++i)
            bc.send(i);  // 3,4,5 lost, 6,7,8 kept
        auto c = sub.try_recv();
        CHECK(c.error() == Errc::lagged);
        CHECK(sub.missed() == 3);
        CHECK(sub.total_missed() == 5);
        std::vector<int> got;
        for (;;) {
            auto v = sub.try_recv();
            if (!v) {
                CHECK(v.error() == std::errc::resource_unavailable_try_again);
                break;
            }
            got.push_back(*v);
        }
        CHECK(got == range(6, 9));
        co_return;
    });
}

TEST_CASE("broadcast: subscribers see only what is sent after they subscribe; close ends all",
          "[broadcast]") {
    test::run([](Loop& loop) -> Task<void> {
        Broadcast<int> bc(16);
        CHECK(bc.send(1) == 0);  // nobody listens: dropped
        auto a = bc.subscribe();
        bc.send(2);
        auto b = bc.subscribe();
        bc.send(3);
        auto ha = loop.spawn(drain(std::move(a)));
        auto hb = loop.spawn(drain(std::move(b)));
        co_await yield();
        bc.close();
        bc.close();  // idempotent
        CHECK(bc.send(4) == 0);
        Seen sa = co_await ha;
        Seen sb = co_await hb;
        CHECK(sa.values == std::vector<int>{2, 3});
        CHECK(sb.values == std::vector<int>{3});
        CHECK(sa.end == Errc::channel_closed);
        auto late = bc.subscribe();
        auto r = co_await late.recv();
        CHECK(r.error() == Errc::channel_closed);

        // Destroying the publisher closes too; subscribers drain first.
        auto bc2 = std::make_unique<Broadcast<int>>(4);
        auto c = bc2->subscribe();
        bc2->send(7);
        bc2.reset();
        auto v = co_await c.recv();
        REQUIRE(v);
        CHECK(*v == 7);
        auto e = co_await c.recv();
        CHECK(e.error() == Errc::channel_closed);
    });
}

TEST_CASE("broadcast: a cancelled receive leaves no waiter behind; dropping unsubscribes",
          "[broadcast][cancel]") {
    test::run([](Loop& loop) -> Task<void> {
        Broadcast<int> bc(4);
        auto sub = bc.subscribe();
        auto waiter = [](Subscriber<int>* s) -> Task<std::error_code> {
            auto v = co_await s->recv();
            co_return v.error();
        };
        auto h = loop.spawn(waiter(&sub));
        co_await yield();
        h.cancel();
        auto ec = co_await h;
        CHECK(ec == std::errc::operation_canceled);
        // Nothing consumed, nobody woken by the next send; the next receive works.
        CHECK(bc.send(5) == 1);
        auto v = co_await sub.recv();
        REQUIRE(v);
        CHECK(*v == 5);

        // A receive under a timeout: timed_out, then the subscriber works on.
        auto t = co_await with_timeout(sub.recv(), 5ms);
        CHECK(t.error() == std::errc::timed_out);
        bc.send(6);
        auto w = co_await sub.recv();
        REQUIRE(w);
        CHECK(*w == 6);

        {
            auto other = bc.subscribe();
            CHECK(bc.subscribers() == 2);
        }
        CHECK(bc.subscribers() == 1);
        Subscriber<int> moved = std::move(sub);
        CHECK(bc.subscribers() == 1);
        CHECK(moved);
        CHECK_FALSE(sub);  // NOLINT: testing the moved-from state
    });
}

TEST_CASE("broadcast across loops: the fast subscriber gets everything, the slow one lags",
          "[multi][broadcast]") {
    constexpr int n = 1000;
    constexpr std::size_t cap = 16;
    Runtime rt(test::runtime_config(3));
    Broadcast<int> bc(cap);
    // The fast subscriber acknowledges each message, so the publisher never
    // outruns it; the slow one waits for a gate, and only then reads.
    SharedChannel<int> acks(1), gate(1);
    auto fast = rt.spawn_on(1, [](Subscriber<int> s, SharedChannel<int> ack) -> Task<Seen> {
        Seen seen;
        for (;;) {
            auto v = co_await s.recv();
            if (!v) {
                seen.end = v.error();
                co_return seen;
            }
            seen.values.push_back(*v);
            (void)co_await ack.send(*v);
        }
    }(bc.subscribe(), acks));
    auto slow = rt.spawn_on(2, [](Subscriber<int> s, SharedChannel<int> g) -> Task<Seen> {
        (void)co_await g.recv();
        co_return co_await drain(std::move(s));
    }(bc.subscribe(), gate));
    bool acked_all = rt.block_on([](Broadcast<int>* b, SharedChannel<int> ack) -> Task<bool> {
        for (int i = 0; i < n; ++i) {
            if (b->send(i) != 2) co_return false;
            auto a = co_await ack.recv();
            if (!a || *a != i) co_return false;
        }
        b->close();
        co_return true;
    }(&bc, acks));
    CHECK(acked_all);
    REQUIRE(gate.try_send(1));
    Seen f = fast.get();
    Seen s = slow.get();
    CHECK(f.values == range(0, n));
    CHECK(f.end == Errc::channel_closed);
    CHECK(s.lags == std::vector<std::uint64_t>{n - cap});
    CHECK(s.values == range(n - int(cap), n));
    CHECK(s.end == Errc::channel_closed);
}

TEST_CASE("broadcast across loops under load: nothing reordered, every loss counted",
          "[multi][broadcast]") {
    const auto n = static_cast<int>(test::message_count(200'000));
    Runtime rt(test::runtime_config(3));
    Broadcast<int> bc(256);
    struct Tally {
        std::uint64_t received = 0;
        std::uint64_t missed = 0;
        bool ordered = true;
        bool gaps_match = true;
    };
    // Each subscriber checks that values only go up, and that every gap in
    // them is exactly what the lag report before it said.
    auto consumer = [](Subscriber<int> s, bool slow) -> Task<Tally> {
        Tally t;
        int last = -1;
        std::uint64_t pending_gap = 0;
        for (std::uint64_t k = 0;; ++k) {
            auto v = co_await s.recv();
            if (v) {
                if (*v <= last) t.ordered = false;
                if (std::uint64_t(*v - last - 1) != pending_gap) t.gaps_match = false;
                pending_gap = 0;
                last = *v;
                ++t.received;
                if (slow && k % 64 == 0) std::this_thread::sleep_for(50us);
            } else if (v.error() == Errc::lagged) {
                const std::uint64_t m = s.missed();
                pending_gap += m;  // two reports in a row: one gap
                t.missed += m;
            } else {
                co_return t;
            }
        }
    };
    auto a = rt.spawn_on(1, consumer(bc.subscribe(), false));
    auto b = rt.spawn_on(2, consumer(bc.subscribe(), true));
    // The publisher is a plain thread: wake-ups go through post_remote.
    std::thread publisher([&bc, n] {
        for (int i = 0; i < n; ++i) {
            bc.send(i);
            if (i % 1024 == 0) std::this_thread::yield();
        }
        bc.close();
    });
    publisher.join();
    Tally ta = a.get();
    Tally tb = b.get();
    for (const Tally* t : {&ta, &tb}) {
        CHECK(t->ordered);
        CHECK(t->gaps_match);
        CHECK(t->received + t->missed == std::uint64_t(n));
    }
    INFO("slow subscriber missed " << tb.missed << " of " << n);
    CHECK(tb.received > 0);
}

TEST_CASE("broadcast across loops: a receive waiting on another loop is cancelled cleanly",
          "[multi][broadcast][cancel]") {
    Runtime rt(test::runtime_config(2));
    Broadcast<int> bc(4);
    auto h = rt.spawn_on(1, [](Subscriber<int> s) -> Task<std::error_code> {
        auto v = co_await s.recv();
        co_return v.error();
    }(bc.subscribe()));
    std::this_thread::sleep_for(20ms);
    h.cancel();
    CHECK(h.get() == std::errc::operation_canceled);
    // The task ended: its subscriber (a parameter) is gone. spawn_on used to
    // publish the result before destroying the task's frame, so under a
    // shuffled run queue this saw the subscriber still counted.
    CHECK(bc.subscribers() == 0);
    CHECK(bc.send(1) == 0);
}

}  // namespace runtime_broadcast_test
