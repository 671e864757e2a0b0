// The multishot driver: items in order, re-arming when the kernel ends a
// request, the bounded queue, stop() and close(), on both backends.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <vector>

#include <corio/runtime/multishot.hpp>

#include "support.hpp"

namespace runtime_multishot_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

struct Pipe {
    int r = -1, w = -1;
    Pipe() {
        int p[2];
        REQUIRE(::pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
        r = p[0];
        w = p[1];
    }
    ~Pipe() {
        if (Loop* l = Loop::current_or_null()) {
            l->release_fd(r);
            l->release_fd(w);
        }
        ::close(r);
        ::close(w);
    }
    void put(char c) const { REQUIRE(::write(w, &c, 1) == 1); }
};

// A "multishot" op whose request is single-shot: every completion lacks
// IORING_CQE_F_MORE, exactly as when the kernel ends a real multishot request
// (ENOBUFS, CQ overflow). The stream must re-arm after each item by itself.
struct ReadEach {
    int fd = -1;
    std::array<char, 1>* cell = nullptr;
    static constexpr OpKind kind = OpKind::read;
    static constexpr Interest interest = Interest::read;
    bool multishot(const Caps&) const noexcept { return true; }
    void prep(io_uring_sqe* s) const noexcept { io_uring_prep_read(s, fd, cell->data(), 1, -1); }
    int attempt() noexcept {
        ssize_t n = ::read(fd, cell->data(), 1);
        return n < 0 ? -errno : (n == 1 ? static_cast<unsigned char>((*cell)[0]) : -EPIPE);
    }
    Result<int> finish(int res, std::uint32_t) const noexcept {
        if (res < 0) return sys_error(-res);
        // io_uring reports the byte count: the byte itself is in the slot.
        return res == 1 && Loop::current().kind() == BackendKind::io_uring
                   ? static_cast<int>(static_cast<unsigned char>((*cell)[0]))
                   : res;
    }
};

}  // namespace

TEST_CASE("poll stream: one item per readiness, in order", "[multishot]") {
    test::run([](Loop&) -> Task<void> {
        Pipe p;
        auto s = poll_stream(p.r, POLLIN);
        for (int i = 0; i < 100; ++i) {
            p.put(static_cast<char>('a' + i % 26));
            auto ev = co_await s.next();
            REQUIRE(ev);
            CHECK((*ev & POLLIN) != 0);
            char c = 0;
            REQUIRE(::read(p.r, &c, 1) == 1);
            CHECK(c == 'a' + i % 26);
        }
    });
}

TEST_CASE("a stream the kernel ends after each item re-arms and loses nothing", "[multishot]") {
    test::run([](Loop&) -> Task<void> {
        Pipe p;
        std::array<char, 1> slot{};
        MultishotStream<ReadEach> s(ReadEach{p.r, &slot});
        std::string got;
        for (int i = 0; i < 500; ++i) {
            p.put(static_cast<char>('A' + i % 26));
            auto v = co_await s.next();
            REQUIRE(v);
            got += static_cast<char>(*v);
        }
        std::string want;
        for (int i = 0; i < 500; ++i)
            want += static_cast<char>('A' + i % 26);
        CHECK(got == want);
    });
}

TEST_CASE("items that arrive while nobody waits are queued, in order", "[multishot]") {
    test::run([](Loop& loop) -> Task<void> {
        Pipe p;
        auto s = poll_stream(p.r, POLLIN, 4);
        // A waiter arms the stream, then leaves (cancelled): the request stays.
        {
            auto h = loop.spawn([](MultishotStream<PollMulti>* st) -> Task<Result<unsigned>> {
                co_return co_await st->next();
            }(&s));
            co_await yield();
            h.cancel();
            auto r = co_await h;
            REQUIRE(!r);
            CHECK(r.error() == std::errc::operation_canceled);
        }
        p.put('x');
        auto ev = co_await s.next();
        REQUIRE(ev);
        CHECK((*ev & POLLIN) != 0);
    });
}

TEST_CASE("stop() resumes after the final completion; next() then says cancelled", "[multishot]") {
    test::run([](Loop&) -> Task<void> {
        Pipe p;
        auto s = poll_stream(p.r, POLLIN);
        p.put('x');
        auto ev = co_await s.next();
        REQUIRE(ev);
        co_await s.stop();
        CHECK(!s.armed());
        auto after = co_await s.next();
        REQUIRE(!after);
        CHECK(after.error() == std::errc::operation_canceled);
    });
}

TEST_CASE("close() wakes every waiter with operation_canceled", "[multishot]") {
    test::run([](Loop& loop) -> Task<void> {
        Pipe p;
        auto s = poll_stream(p.r, POLLIN);
        auto waiter = [](MultishotStream<PollMulti>* st) -> Task<Result<unsigned>> {
            co_return co_await st->next();
        };
        auto a = loop.spawn(waiter(&s));
        auto b = loop.spawn(waiter(&s));
        co_await yield();
        co_await yield();
        s.close();
        auto ra = co_await a;
        auto rb = co_await b;
        REQUIRE(!ra);
        REQUIRE(!rb);
        CHECK(ra.error() == std::errc::operation_canceled);
        CHECK(rb.error() == std::errc::operation_canceled);
        auto closed = co_await s.next();
        REQUIRE(!closed);
        CHECK(closed.error() == std::errc::bad_file_descriptor);
        // The closed stream's request is gone from the kernel (or epoll) by
        // the time a few turns have passed: nothing is left in flight.
        for (int i = 0; i < 3; ++i)
            (void)co_await nop();
    });
}

TEST_CASE("a descriptor closed under a waiting operation ends it as cancelled",
          "[multishot][close]") {
    // Backends agree: epoll completes the waiter when the descriptor is
    // released; io_uring cancels the kernel's request by descriptor.
    test::run([](Loop& loop) -> Task<void> {
        int p[2];
        REQUIRE(::pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
        auto reader = [](int fd) -> Task<Result<std::size_t>> {
            std::array<std::byte, 16> buf{};
            co_return co_await read(fd, buf);
        };
        auto h = loop.spawn(reader(p[0]));
        co_await yield();
        co_await yield();
        CHECK(!h.done());
        loop.release_fd(p[0]);
        loop.close_fd(p[0]);
        auto r = co_await h;
        REQUIRE(!r);
        CHECK(r.error() == std::errc::operation_canceled);
        ::close(p[1]);
    });
}

}  // namespace runtime_multishot_test
