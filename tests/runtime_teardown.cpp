// A loop destroyed with work in flight: reads forced onto io-wq workers,
// sockets waiting in recv, an armed multishot accept, a closed multishot
// stream whose request is still in the kernel. Every operation must come back
// (cancelled) before any frame goes; run under ASan, a completion written
// into a freed frame would be reported.
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <vector>

#include <corio/runtime/multishot.hpp>

#include "net_support.hpp"

namespace runtime_teardown_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

// read(2) forced onto an io-wq worker (IOSQE_ASYNC): the worker blocks in the
// pipe's read until cancelled, writing into the frame's buffer if data came.
struct AsyncRead {
    int fd;
    std::span<std::byte> buf;
    static constexpr OpKind kind = OpKind::read;
    static constexpr Interest interest = Interest::read;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_read(s, fd, buf.data(), static_cast<unsigned>(buf.size()), -1);
        s->flags |= IOSQE_ASYNC;
    }
    int attempt() noexcept {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        return n >= 0 ? int(n) : -errno;
    }
    Result<std::size_t> finish(int res) const noexcept {
        if (res < 0) return sys_error(-res);
        return std::size_t(res);
    }
};

struct Counts {
    int started = 0;
    int returned = 0;  // the awaited operation came back before the frame went
};

Task<void> pipe_reader(int fd, Counts* c) {
    std::array<std::byte, 4096> buf{};
    ++c->started;
    auto r = co_await run(AsyncRead{fd, buf});
    ++c->returned;
    (void)r;
}

Task<void> sock_reader(net::TcpStream s, Counts* c) {
    std::array<std::byte, 4096> buf{};
    ++c->started;
    auto r = co_await s.recv(buf);
    ++c->returned;
    (void)r;
}

Task<void> acceptor(net::TcpListener* l, Counts* c) {
    ++c->started;
    auto r = co_await l->accept();
    ++c->returned;
    (void)r;
}

// Ignores cancellation (its stop token is replaced by an empty one), so the
// teardown's per-task cancel never reaches its read.
Task<void> shielded_reader(int fd, Counts* c, bool* freed) {
    co_await detail::SetStopToken{StopToken{}};
    struct Freed {
        bool* f;
        ~Freed() { *f = true; }
    } on_free{freed};
    std::array<std::byte, 64> buf{};
    ++c->started;
    auto r = co_await run(AsyncRead{fd, buf});
    ++c->returned;
    (void)r;
}

}  // namespace

TEST_CASE("teardown is bounded when a task does not unwind: its operation is cancelled anyway",
          "[teardown]") {
    // The first phase (cancel the tasks, wait up to 2 s) cannot end this
    // task; it must not wait forever for it either. The second phase cancels
    // every operation in the kernel and reaps it.
    Counts counts;
    bool freed = false;
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
    {
        Loop loop(test::options());
        loop.spawn(shielded_reader(p[0], &counts, &freed)).detach();
        (void)loop.run_once();
        CHECK(counts.started == 1);
        // ~Loop: the old teardown waited here forever.
    }
    // The read came back (cancelled) before the frame went: the frame was
    // freed, not leaked, and the data written now goes nowhere.
    CHECK(freed);
    const char x[8] = {};
    CHECK(::write(p[1], x, sizeof x) == static_cast<ssize_t>(sizeof x));
    ::close(p[1]);
    ::close(p[0]);
}

TEST_CASE("a loop torn down with operations in flight reaps them before freeing frames",
          "[teardown]") {
    Counts counts;
    std::vector<int> pipe_writers;
    std::vector<int> readers;
    std::vector<net::TcpStream> peers;
    {
        Loop loop(test::options());
        for (int i = 0; i < 8; ++i) {
            int p[2];
            REQUIRE(::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
            readers.push_back(p[0]);
            pipe_writers.push_back(p[1]);
            loop.spawn(pipe_reader(p[0], &counts)).detach();
        }
        auto l = net::TcpListener::bind(net::Address::loopback_v4(0));
        REQUIRE(l);
        auto addr = *l->local_address();
        loop.block_on([](Loop& lp, net::Address a, net::TcpListener* lis, Counts* c,
                         std::vector<net::TcpStream>* out) -> Task<void> {
            for (int i = 0; i < 8; ++i) {
                auto [cl, sv] = co_await when_all(net::TcpStream::connect(a), lis->accept());
                REQUIRE(cl);
                REQUIRE(sv);
                out->push_back(std::move(*cl));
                lp.spawn(sock_reader(std::move(*sv), c)).detach();
            }
            // An armed multishot accept, and a closed stream left to the loop.
            lp.spawn(acceptor(lis, c)).detach();
            auto orphan = poll_stream((*out)[0].fd(), POLLPRI);
            auto h = lp.spawn([](MultishotStream<PollMulti>* s) -> Task<void> {
                auto r = co_await s->next();
                (void)r;
            }(&orphan));
            for (int i = 0; i < 4; ++i)
                co_await yield();
            orphan.close();
            co_await h;
        }(loop, addr, &*l, &counts, &peers));
        CHECK(counts.started == 8 + 8 + 1);
        CHECK(counts.returned == 0);
        // ~Loop: cancels, waits for every completion, then frees frames.
    }
    CHECK(counts.returned == counts.started);
    // Anything the kernel still held would now write into freed memory.
    for (int w : pipe_writers) {
        const char x[64] = {};
        CHECK(::write(w, x, sizeof x) <= static_cast<ssize_t>(sizeof x));
        ::close(w);
    }
    for (auto& p : peers) {
        auto n = ::send(p.fd(), "late", 4, MSG_NOSIGNAL);
        (void)n;
    }
    ::usleep(20000);
    for (int r : readers)
        ::close(r);
}

}  // namespace runtime_teardown_test
