// Channel<T> and SharedChannel<T> on one loop: order, backpressure, close,
// cancellation of waiting senders and receivers, try_*, rendezvous, unbounded.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <corio/runtime/channel.hpp>
#include <corio/runtime/runtime.hpp>
#include <corio/runtime/sync.hpp>

#include "support.hpp"

namespace runtime_channel_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

template <class Ch>
Task<void> produce(Ch ch, int from, int to, std::vector<int>* sent) {
    for (int i = from; i < to; ++i) {
        auto r = co_await ch.send(i);
        REQUIRE(r);
        if (sent != nullptr) sent->push_back(i);
    }
}

}  // namespace

TEMPLATE_TEST_CASE("values arrive in order; try_send/try_recv", "[channel]", Channel<int>,
                   SharedChannel<int>) {
    test::run([](Loop&) -> Task<void> {
        TestType ch(4);
        CHECK(ch.capacity() == 4);
        for (int i = 0; i < 4; ++i)
            REQUIRE(ch.try_send(i));
        int extra = 99;
        auto full = ch.try_send(extra);
        REQUIRE_FALSE(full);
        CHECK(full.error() == std::errc::resource_unavailable_try_again);
        CHECK(ch.size() == 4);
        for (int i = 0; i < 4; ++i) {
            auto v = co_await ch.recv();
            REQUIRE(v);
            CHECK(*v == i);
        }
        auto empty = ch.try_recv();
        REQUIRE_FALSE(empty);
        CHECK(empty.error() == std::errc::resource_unavailable_try_again);
    });
}

TEMPLATE_TEST_CASE("a full channel suspends the sender (backpressure)", "[channel]", Channel<int>,
                   SharedChannel<int>) {
    test::run([](Loop& loop) -> Task<void> {
        TestType ch(2);
        std::vector<int> sent;
        auto p = loop.spawn(produce(ch, 0, 10, &sent));
        co_await test::yield_turns();
        CHECK(sent.size() == 2);  // two buffered, the third send waits
        CHECK(ch.size() == 2);
        for (int i = 0; i < 10; ++i) {
            auto v = co_await ch.recv();
            REQUIRE(v);
            CHECK(*v == i);
            CHECK(ch.size() <= 2);
        }
        co_await p;
        CHECK(sent.size() == 10);
    });
}

TEMPLATE_TEST_CASE("close: buffered values drain, then channel_closed", "[channel]", Channel<int>,
                   SharedChannel<int>) {
    test::run([](Loop&) -> Task<void> {
        TestType ch(4);
        {
            auto r_ = co_await ch.send(1);
            REQUIRE(r_);
        }
        {
            auto r_ = co_await ch.send(2);
            REQUIRE(r_);
        }
        ch.close();
        CHECK(ch.closed());
        auto s = co_await ch.send(3);
        REQUIRE_FALSE(s);
        CHECK(s.error() == Errc::channel_closed);
        {
            auto r_ = co_await ch.recv();
            CHECK(*r_ == 1);
        }
        {
            auto r_ = co_await ch.recv();
            CHECK(*r_ == 2);
        }
        auto end = co_await ch.recv();
        REQUIRE_FALSE(end);
        CHECK(end.error() == Errc::channel_closed);
        CHECK(ch.try_recv().error() == Errc::channel_closed);
    });
}

TEMPLATE_TEST_CASE("close wakes waiting receivers and senders", "[channel]", Channel<std::string>,
                   SharedChannel<std::string>) {
    test::run([](Loop& loop) -> Task<void> {
        TestType empty(1);
        auto receiver = [](TestType c) -> Task<std::error_code> {
            auto v = co_await c.recv();
            co_return v.error();
        };
        auto r1 = loop.spawn(receiver(empty));
        auto r2 = loop.spawn(receiver(empty));
        co_await test::yield_turns();
        empty.close();
        {
            auto r_ = co_await r1;
            CHECK(r_ == Errc::channel_closed);
        }
        {
            auto r_ = co_await r2;
            CHECK(r_ == Errc::channel_closed);
        }

        TestType full(1);
        REQUIRE(full.try_send(std::string("kept")));
        auto sender = [](TestType c) -> Task<std::string> {
            std::string v = "mine";
            auto r = co_await c.send(std::move(v));
            CHECK(r.error() == Errc::channel_closed);
            co_return v;  // not taken: still the sender's
        };
        auto s = loop.spawn(sender(full));
        co_await test::yield_turns();
        full.close();
        {
            auto r_ = co_await s;
            CHECK(r_ == "mine");
        }
        {
            auto r_ = co_await full.recv();
            CHECK(*r_ == "kept");
        }
    });
}

TEMPLATE_TEST_CASE("a cancelled receiver consumes nothing", "[channel][cancel]", Channel<int>,
                   SharedChannel<int>) {
    test::run([](Loop& loop) -> Task<void> {
        TestType ch(1);
        auto receiver = [](TestType c) -> Task<std::error_code> {
            auto v = co_await c.recv();
            co_return v.error();
        };
        auto r = loop.spawn(receiver(ch));
        co_await test::yield_turns();
        r.cancel();
        {
            auto r_ = co_await r;
            CHECK(r_ == std::errc::operation_canceled);
        }
        {
            auto r_ = co_await ch.send(7);
            REQUIRE(r_);
        }
        auto v = ch.try_recv();
        REQUIRE(v);
        CHECK(*v == 7);

        // A receiver handed a value before its cancellation keeps the value.
        auto r2 = loop.spawn([](TestType c) -> Task<int> {
            auto v = co_await c.recv();
            co_return v ? *v : -1;
        }(ch));
        co_await test::yield_turns();
        REQUIRE(ch.try_send(8));  // hands 8 to the waiting receiver
        r2.cancel();              // before it runs again
        {
            auto r_ = co_await r2;
            CHECK(r_ == 8);
        }
    });
}

TEMPLATE_TEST_CASE("a cancelled sender keeps its value and leaves none behind", "[channel][cancel]",
                   Channel<std::unique_ptr<int>>, SharedChannel<std::unique_ptr<int>>) {
    test::run([](Loop& loop) -> Task<void> {
        TestType ch(1);
        REQUIRE(ch.try_send(std::make_unique<int>(1)));
        auto sender = [](TestType c) -> Task<int> {
            auto p = std::make_unique<int>(2);
            auto r = co_await c.send(std::move(p));
            CHECK(r.error() == std::errc::operation_canceled);
            co_return p ? *p : -1;
        };
        auto s = loop.spawn(sender(ch));
        co_await test::yield_turns();
        s.cancel();
        {
            auto r_ = co_await s;
            CHECK(r_ == 2);
        }
        CHECK(ch.size() == 1);
        {
            auto r_ = co_await ch.recv();
            CHECK(**r_ == 1);
        }
        CHECK(ch.try_recv().error() == std::errc::resource_unavailable_try_again);
    });
}

TEMPLATE_TEST_CASE("capacity 0 is a rendezvous", "[channel]", Channel<int>, SharedChannel<int>) {
    test::run([](Loop& loop) -> Task<void> {
        TestType ch(0);
        int v = 5;
        CHECK(ch.try_send(v).error() == std::errc::resource_unavailable_try_again);
        std::vector<int> sent;
        auto p = loop.spawn(produce(ch, 0, 3, &sent));
        co_await test::yield_turns();
        CHECK(sent.empty());  // nobody received yet
        for (int i = 0; i < 3; ++i) {
            auto r_ = co_await ch.recv();
            CHECK(*r_ == i);
        }
        co_await p;
        CHECK(sent.size() == 3);
    });
}

TEST_CASE("an unbounded channel never makes the sender wait", "[channel]") {
    test::run([](Loop&) -> Task<void> {
        Channel<int> ch(unbounded);
        int failed = 0;
        for (int i = 0; i < 100000; ++i)
            failed += ch.try_send(i) ? 0 : 1;
        CHECK(failed == 0);
        CHECK(ch.size() == 100000);
        for (int i = 0; i < 100000; ++i) {
            auto r = ch.try_recv();
            failed += r && *r == i ? 0 : 1;
        }
        CHECK(failed == 0);
        co_return;
    });
}

TEMPLATE_TEST_CASE("many producers and consumers: nothing lost, order kept per producer",
                   "[channel]", Channel<int>, SharedChannel<int>) {
    test::run([](Loop& loop) -> Task<void> {
        constexpr int producers = 8, per = 5000, consumers = 4;
        TestType ch(16);
        std::vector<JoinHandle<void>> ps;
        for (int p = 0; p < producers; ++p) {
            ps.push_back(loop.spawn(produce(ch, p * per, (p + 1) * per, nullptr)));
        }
        // Values are taken in FIFO order, but consumers run interleaved: the
        // order per producer holds within each consumer.
        int received = 0, disorder = 0;
        auto consumer = [](TestType c, int* received, int* disorder) -> Task<void> {
            std::vector<int> last(producers, -1);
            for (;;) {
                auto v = co_await c.recv();
                if (!v) co_return;
                int p = *v / per;
                if (*v <= last[p]) ++*disorder;
                last[p] = *v;
                ++*received;
            }
        };
        std::vector<JoinHandle<void>> cs;
        for (int c = 0; c < consumers; ++c) {
            cs.push_back(loop.spawn(consumer(ch, &received, &disorder)));
        }
        for (auto& p : ps)
            co_await p;
        ch.close();
        for (auto& c : cs)
            co_await c;
        CHECK(received == producers * per);
        CHECK(disorder == 0);
    });
}

TEST_CASE("waiting receivers are served in arrival order", "[channel]") {
    test::run([](Loop& loop) -> Task<void> {
        Channel<int> ch(1);
        std::vector<int> order;
        std::vector<int> arrived;  // the order receivers started waiting (CORIO_SHUFFLE varies it)
        auto receiver = [](Channel<int> c, int id, std::vector<int>* order,
                           std::vector<int>* arrived) -> Task<void> {
            arrived->push_back(id);
            auto v = co_await c.recv();
            REQUIRE(v);
            order->push_back(id * 100 + *v);
        };
        std::vector<JoinHandle<void>> rs;
        for (int i = 0; i < 4; ++i) {
            rs.push_back(loop.spawn(receiver(ch, i, &order, &arrived)));
            co_await test::yield_turns(1);
        }
        for (int i = 0; i < 4; ++i) {
            auto r_ = co_await ch.send(i);
            REQUIRE(r_);
        }
        for (auto& r : rs)
            co_await r;
        REQUIRE(arrived.size() == 4);
        std::vector<int> expect;
        for (int k = 0; k < 4; ++k)
            expect.push_back(arrived[std::size_t(k)] * 100 + k);
        std::sort(order.begin(), order.end(), [](int a, int b) { return a % 100 < b % 100; });
        CHECK(order == expect);
    });
}

TEST_CASE("a receive waiting alone on a channel is reported as a deadlock", "[channel]") {
    Loop loop(test::options());
    Channel<int> ch(1);
    auto body = [](Channel<int> c) -> Task<void> { (void)co_await c.recv(); };
    CHECK_THROWS_AS(loop.block_on(body(ch)), std::logic_error);
}

namespace {
int live_counted = 0;
struct Counted {
    bool owns = true;
    Counted() { ++live_counted; }
    Counted(const Counted&) { ++live_counted; }
    Counted(Counted&& o) noexcept : owns(std::exchange(o.owns, false)) {}
    ~Counted() {
        if (owns) --live_counted;
    }
};
// An aggregate owning heap memory: what g++ 12 frees twice when it is made as
// a temporary inside a co_await expression (docs/concepts.md).
struct Msg {
    int id;
    std::string text;
    Counted counted;
};
}  // namespace

TEST_CASE("send(args...) builds an aggregate message inside the channel: nothing freed twice",
          "[channel]") {
    live_counted = 0;
    test::run([](Loop&) -> Task<void> {
        Channel<Msg> ch(2);
        const std::string base(64, 'x');  // longer than SSO: a double free shows under ASan
        for (int i = 0; i < 1000; ++i) {
            std::string text = base + std::to_string(i);
            auto s = co_await ch.send(i, text, Counted{});
            REQUIRE(s);
            auto m = co_await ch.recv();
            REQUIRE(m);
            CHECK(m->id == i);
            CHECK(m->text == text);
        }
        // A send that fails destroys the value it built, once.
        ch.close();
        auto s = co_await ch.send(-1, base, Counted{});
        CHECK(s.error() == Errc::channel_closed);
    });
    CHECK(live_counted == 0);
}

TEST_CASE("send(arg) converts a single argument into the value inside the channel", "[channel]") {
    test::run([](Loop&) -> Task<void> {
        Channel<std::string> ch(1);
        auto s = co_await ch.send("built in place");
        REQUIRE(s);
        auto v = co_await ch.recv();
        REQUIRE(v);
        CHECK(*v == "built in place");
    });
}

}  // namespace runtime_channel_test
