// Provided buffers (io_uring buffer rings; a pool on epoll): data, end of
// stream, running dry, cancellation, and the bytes an idle connection holds.
#include <malloc.h>

#include <array>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net_support.hpp"

namespace net_buf_ring_test {

using namespace corio;
using namespace std::chrono_literals;
using test::bytes;
using test::chars;

namespace {

/// Sends `msg` from `c`, receives it on `s` through `ring` and checks the
/// bytes; gives the received buffer back to the caller, still held.
Task<net::RecvBuffer> pass_through(net::TcpStream& c, net::TcpStream& s, net::BufRing& ring,
                                   const std::string& msg) {
    auto w = co_await c.send_all(bytes(msg));
    REQUIRE(w);
    auto b = co_await s.recv_buffer(ring);
    REQUIRE(b);
    CHECK(chars(b->data()) == msg);
    co_return std::move(*b);
}

Task<void> basic(bool use_kernel) {
    Loop& loop = Loop::current();
    net::BufRing ring(loop, 8, 4096, use_kernel);
    CHECK(ring.kernel_selected() ==
          (use_kernel && loop.kind() == BackendKind::io_uring && loop.caps().buf_ring));
    auto p = co_await test::tcp_pair();
    REQUIRE(p);
    auto& [c, s] = *p;
    for (int i = 0; i < 50; ++i) {
        const std::string msg = "buffer " + std::to_string(i);
        net::RecvBuffer b = co_await pass_through(c, s, ring, msg);
        CHECK(ring.available() == ring.count() - 1);
    }
    CHECK(ring.available() == ring.count());
    c.close();
    auto e = co_await s.recv_buffer(ring);
    REQUIRE(e);
    CHECK(e->empty());
    CHECK(ring.available() == ring.count());
}

Task<void> dry(bool use_kernel) {
    Loop& loop = Loop::current();
    net::BufRing ring(loop, 2, 64, use_kernel);
    auto p = net::unix_pair();
    REQUIRE(p);
    auto& [a, b] = *p;
    auto w1 = co_await a.send_all(bytes("one"));
    REQUIRE(w1);
    auto b1 = co_await b.recv_buffer(ring);
    REQUIRE(b1);
    auto w2 = co_await a.send_all(bytes("two"));
    REQUIRE(w2);
    auto b2 = co_await b.recv_buffer(ring);
    REQUIRE(b2);
    CHECK(ring.available() == 0);
    auto w3 = co_await a.send_all(bytes("three"));
    REQUIRE(w3);
    // No buffer left: the receive waits until one comes back.
    auto third = [](net::UnixStream* s, net::BufRing* r) -> Task<std::string> {
        auto x = co_await s->recv_buffer(*r);
        REQUIRE(x);
        co_return std::string(chars(x->data()));
    };
    auto h = loop.spawn(third(&b, &ring));
    co_await sleep_for(20ms);
    CHECK(!h.done());
    CHECK(chars(b1->data()) == "one");
    b1->reset();
    auto got = co_await h;
    CHECK(got == "three");
    CHECK(chars(b2->data()) == "two");
    b2->reset();
    CHECK(ring.available() == 2);

    // Cancelling a receive that waits for data, and one that waits for a buffer.
    auto hold = [](net::UnixStream* s, net::BufRing* r) -> Task<Result<net::RecvBuffer>> {
        co_return co_await s->recv_buffer(*r);
    };
    auto h2 = loop.spawn(hold(&b, &ring));
    co_await sleep_for(10ms);
    h2.cancel();
    auto r2 = co_await h2;
    REQUIRE(!r2);
    CHECK(r2.error() == std::errc::operation_canceled);
    auto t = co_await with_timeout(b.recv_buffer(ring), 20ms);
    REQUIRE(!t);
    CHECK(t.error() == std::errc::timed_out);
    CHECK(ring.available() == 2);
}

}  // namespace

TEST_CASE("recv_buffer delivers data and end of stream", "[net][buf_ring]") {
    test::run([](Loop&) -> Task<void> { co_await basic(true); });
    test::run([](Loop&) -> Task<void> { co_await basic(false); });
}

TEST_CASE("recv_buffer waits for a buffer when the ring is dry; cancels", "[net][buf_ring]") {
    test::run([](Loop&) -> Task<void> { co_await dry(true); });
    test::run([](Loop&) -> Task<void> { co_await dry(false); });
}

namespace {

constexpr int idle_conns = 1000;

Task<void> idle_ring(net::UnixStream s, net::BufRing* ring, int* done) {
    auto b = co_await s.recv_buffer(*ring);
    if (b && !b->empty()) {
        auto w = co_await s.send_all(b->data());
        (void)w;
    }
    ++*done;
}

Task<void> idle_plain(net::UnixStream s, int* done) {
    std::array<std::byte, 16384> buf;  // what a recv into a fixed buffer pins
    auto n = co_await s.recv(buf);
    if (n && *n > 0) {
        auto w = co_await s.send_all(std::span(buf).first(*n));
        (void)w;
    }
    ++*done;
}

// Heap bytes held per waiting connection, then wakes them all and checks the
// echo. `ring` null: plain recv into a 16 KiB buffer in the frame.
Task<double> measure(net::BufRing* ring) {
    std::vector<net::UnixStream> peers;
    std::vector<net::UnixStream> servers;
    peers.reserve(idle_conns);
    servers.reserve(idle_conns);
    for (int i = 0; i < idle_conns; ++i) {
        auto p = net::unix_pair();
        REQUIRE(p);
        peers.push_back(std::move(p->first));
        servers.push_back(std::move(p->second));
    }
    int done = 0;
    TaskGroup g;
    co_await yield();
    const auto before = ::mallinfo2().uordblks;
    for (auto& s : servers) {
        if (ring != nullptr) {
            g.spawn(idle_ring(std::move(s), ring, &done));
        } else {
            g.spawn(idle_plain(std::move(s), &done));
        }
    }
    co_await sleep_for(20ms);  // every server now waits in its receive
    const auto after = ::mallinfo2().uordblks;
    if (ring != nullptr) CHECK(ring->available() == ring->count());  // none held
    for (auto& p : peers) {
        auto w = co_await p.send_all(bytes("wake"));
        REQUIRE(w);
    }
    for (auto& p : peers) {
        std::array<std::byte, 4> back;
        auto r = co_await p.read_exact(back);
        REQUIRE(r);
    }
    co_await g.wait();
    CHECK(done == idle_conns);
    co_return double(after - before) / idle_conns;
}

}  // namespace

TEST_CASE("idle connections hold no receive buffer", "[net][buf_ring][idle]") {
    test::raise_fd_limit();
    test::run(
        [](Loop& loop) -> Task<void> {
            net::BufRing ring(loop, 256, 16384);
            double with_ring = co_await measure(&ring);
            double plain = co_await measure(nullptr);
            std::printf(
                "idle connection (%s, %s): recv_buffer holds %.0f heap bytes "
                "(0 receive-buffer bytes); recv into a 16 KiB buffer holds %.0f\n",
                std::string(to_string(loop.kind())).c_str(),
                ring.kernel_selected() ? "kernel buffer ring" : "buffer pool", with_ring, plain);
#if !defined(__SANITIZE_ADDRESS__)
            // (Under AddressSanitizer mallinfo2 does not see the heap.)
            CHECK(with_ring < 1024);
            CHECK(plain > 16384);
#endif
            CHECK(ring.available() == ring.count());
        },
        60s);
}

// A ring that outlives its loop (a loop of a block_on call, a Loop on the
// heap) is destroyed without touching that loop, and leaves the next one
// alone. Under ASan a ring that still called into its dead loop fails here.
TEST_CASE("a buffer ring that outlives its loop leaves the loop alone", "[net][buf_ring]") {
    if (test::sim_requested()) return;  // real loops only
    auto loop = std::make_unique<Loop>(test::options());
    auto old_ring = std::make_unique<net::BufRing>(*loop, 8, 4096);
    loop.reset();
    loop = std::make_unique<Loop>(test::options());
    auto r = loop->block_on(with_timeout(
        [](std::unique_ptr<net::BufRing>* old) -> Task<void> {
            net::BufRing ring(Loop::current(), 8, 4096);
            old->reset();  // the old loop's ring, destroyed on this loop
            auto p = co_await test::tcp_pair();
            REQUIRE(p);
            auto& [c, s] = *p;
            for (int i = 0; i < 3; ++i) {
                const std::string msg = "after " + std::to_string(i);
                (void)co_await pass_through(c, s, ring, msg);
            }
        }(&old_ring),
        10s));
    CHECK(r.has_value());
}

}  // namespace net_buf_ring_test
