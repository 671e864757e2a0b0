// Semaphore, Mutex and Event on one loop: FIFO hand-off, limits, cancellation.
#include <vector>

#include <corio/runtime/sync.hpp>

#include "support.hpp"

namespace runtime_sync_test {

using namespace corio;
using namespace std::chrono_literals;

TEST_CASE("a semaphore never lets more than N in, and wakes waiters in order", "[sync]") {
    test::run([](Loop& loop) -> Task<void> {
        Semaphore sem(2);
        int inside = 0, peak = 0;
        std::vector<int> order;
        std::vector<int> arrived;  // the order workers asked (CORIO_SHUFFLE varies it)
        auto worker = [](Semaphore* s, int id, int* inside, int* peak, std::vector<int>* order,
                         std::vector<int>* arrived) -> Task<void> {
            arrived->push_back(id);
            {
                auto r_ = co_await s->acquire();
                REQUIRE(r_);
            }
            order->push_back(id);
            *peak = std::max(*peak, ++*inside);
            co_await sleep_for(1ms);
            --*inside;
            s->release();
        };
        std::vector<JoinHandle<void>> ws;
        for (int i = 0; i < 10; ++i)
            ws.push_back(loop.spawn(worker(&sem, i, &inside, &peak, &order, &arrived)));
        for (auto& w : ws)
            co_await w;
        CHECK(peak == 2);
        CHECK(order == arrived);  // FIFO: permits go out in the order they were asked for
        CHECK(order.size() == 10);
        CHECK(sem.available() == 2);
    }, std::chrono::seconds(10), [] {
        // Permits are granted FIFO; with CORIO_SHUFFLE two waiters granted in
        // the same turn would resume in either order, so this test runs unshuffled.
        LoopOptions o;
        o.use_env = false;
        o.backend = backend_from_env().value_or(BackendChoice::automatic);
        return o;
    }());
}

TEST_CASE("try_acquire does not overtake waiters; release hands permits over", "[sync]") {
    test::run([](Loop& loop) -> Task<void> {
        Semaphore sem(0);
        CHECK_FALSE(sem.try_acquire());
        auto waiter = [](Semaphore* s) -> Task<void> {
            auto r = co_await s->acquire();
            REQUIRE(r);
        };
        auto w = loop.spawn(waiter(&sem));
        co_await test::yield_turns();
        CHECK(sem.waiting() == 1);
        sem.release(2);  // one to the waiter, one to the pool
        CHECK(sem.available() == 1);
        co_await w;
        CHECK(sem.try_acquire());
        CHECK_FALSE(sem.try_acquire());
    });
}

TEST_CASE("a cancelled acquire takes no permit and leaves the queue", "[sync][cancel]") {
    test::run([](Loop& loop) -> Task<void> {
        Semaphore sem(0);
        auto waiter = [](Semaphore* s) -> Task<std::error_code> {
            auto r = co_await s->acquire();
            co_return r.error();
        };
        auto a = loop.spawn(waiter(&sem));
        auto b = loop.spawn(waiter(&sem));
        co_await test::yield_turns();
        CHECK(sem.waiting() == 2);
        a.cancel();
        {
            auto r_ = co_await a;
            CHECK(r_ == std::errc::operation_canceled);
        }
        CHECK(sem.waiting() == 1);
        sem.release();
        {
            auto r_ = co_await b;
            CHECK(r_ == std::error_code());
        }
        CHECK(sem.available() == 0);
        CHECK(sem.waiting() == 0);
    });
}

TEST_CASE("a mutex keeps a critical section across suspensions, FIFO", "[sync]") {
    test::run([](Loop& loop) -> Task<void> {
        Mutex m;
        int in_section = 0;
        std::vector<int> order;
        auto worker = [](Mutex* m, int id, int* in_section, std::vector<int>* order) -> Task<void> {
            for (int k = 0; k < 3; ++k) {
                auto g = co_await m->lock();
                REQUIRE(g);
                REQUIRE(++*in_section == 1);
                order->push_back(id);
                co_await yield();
                co_await sleep_for(100us);
                --*in_section;
            }
        };
        std::vector<JoinHandle<void>> ws;
        for (int i = 0; i < 4; ++i)
            ws.push_back(loop.spawn(worker(&m, i, &in_section, &order)));
        for (auto& w : ws)
            co_await w;
        CHECK(order.size() == 12);
        CHECK_FALSE(m.locked());
        CHECK(m.try_lock());
        {
            Mutex::Guard g(m, std::adopt_lock);
            CHECK(m.locked());
        }
        CHECK_FALSE(m.locked());
    });
}

TEST_CASE("a cancelled lock leaves the mutex to the next waiter", "[sync][cancel]") {
    test::run([](Loop& loop) -> Task<void> {
        Mutex m;
        auto held = co_await m.lock();
        REQUIRE(held);
        auto locker = [](Mutex* m) -> Task<bool> {
            auto g = co_await m->lock();
            co_return g.has_value();
        };
        auto a = loop.spawn(locker(&m));
        auto b = loop.spawn(locker(&m));
        co_await test::yield_turns();
        a.cancel();
        {
            auto r_ = co_await a;
            CHECK_FALSE(r_);
        }
        held->unlock();
        {
            auto r_ = co_await b;
            CHECK(r_);
        }
        CHECK_FALSE(m.locked());
    });
}

TEST_CASE("an event wakes every waiter; set lets later waits pass; reset", "[sync]") {
    test::run([](Loop& loop) -> Task<void> {
        Event ev;
        int woke = 0;
        auto waiter = [](Event* e, int* woke) -> Task<void> {
            {
                auto r_ = co_await e->wait();
                REQUIRE(r_);
            }
            ++*woke;
        };
        std::vector<JoinHandle<void>> ws;
        for (int i = 0; i < 5; ++i)
            ws.push_back(loop.spawn(waiter(&ev, &woke)));
        co_await test::yield_turns();
        CHECK(woke == 0);
        ev.set();
        for (auto& w : ws)
            co_await w;
        CHECK(woke == 5);
        {
            auto r_ = co_await ev.wait();
            REQUIRE(r_);  // already set
        }
        ev.reset();
        CHECK_FALSE(ev.is_set());
        auto cancellable = [](Event* e) -> Task<std::error_code> {
            auto r = co_await e->wait();
            co_return r.error();
        };
        auto w = loop.spawn(cancellable(&ev));
        co_await test::yield_turns();
        w.cancel();
        {
            auto r_ = co_await w;
            CHECK(r_ == std::errc::operation_canceled);
        }
        ev.set();
        CHECK(woke == 5);
    });
}

}  // namespace runtime_sync_test
