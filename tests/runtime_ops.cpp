// The operation model on both backends: nop, read/write on pipes and
// eventfds, poll, timeouts and cancellation of pending operations.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <string_view>

#include "support.hpp"

namespace runtime_ops_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

struct Pipe {
    int r = -1, w = -1;
    Pipe() {
        int fds[2];
        REQUIRE(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
        r = fds[0];
        w = fds[1];
    }
    ~Pipe() {
        Loop* l = Loop::current_or_null();
        if (l) {
            l->release_fd(r);
            l->release_fd(w);
        }
        ::close(r);
        ::close(w);
    }
};

std::span<const std::byte> bytes(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

}  // namespace

TEST_CASE("nop completes with success", "[ops]") {
    test::run([](Loop&) -> Task<void> {
        for (int i = 0; i < 1000; ++i) {
            auto r = co_await nop();
            REQUIRE(r);
        }
    });
}

TEST_CASE("pipe write then read round trip", "[ops]") {
    test::run([](Loop&) -> Task<void> {
        Pipe p;
        auto w = co_await write(p.w, bytes("hello"));
        REQUIRE(w);
        CHECK(*w == 5);
        std::array<std::byte, 16> buf{};
        auto r = co_await read(p.r, buf);
        REQUIRE(r);
        REQUIRE(*r == 5);
        CHECK(std::memcmp(buf.data(), "hello", 5) == 0);
    });
}

TEST_CASE("a read waits until a writer writes", "[ops]") {
    test::run([](Loop&) -> Task<void> {
        Pipe p;
        auto reader = [](int fd) -> Task<std::size_t> {
            std::array<std::byte, 16> buf{};
            auto r = co_await read(fd, buf);
            co_return r.value("read");
        };
        auto writer = [](int fd) -> Task<void> {
            co_await sleep_for(20ms);
            auto w = co_await write(fd, bytes("abc"));
            REQUIRE(w);
        };
        auto [n, _] = co_await when_all(reader(p.r), writer(p.w));
        CHECK(n == 3);
    });
}

TEST_CASE("eventfd read and write", "[ops]") {
    test::run([](Loop&) -> Task<void> {
        int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        REQUIRE(efd >= 0);
        std::uint64_t v = 3;
        auto w = co_await write(efd, std::as_bytes(std::span(&v, 1)));
        REQUIRE(w);
        std::uint64_t got = 0;
        auto r = co_await read(efd, std::as_writable_bytes(std::span(&got, 1)));
        REQUIRE(r);
        CHECK(got == 3);
        Loop::current().release_fd(efd);
        ::close(efd);
    });
}

TEST_CASE("poll reports readability", "[ops]") {
    test::run([](Loop&) -> Task<void> {
        Pipe p;
        REQUIRE(::write(p.w, "x", 1) == 1);
        auto r = co_await poll(p.r, POLLIN);
        REQUIRE(r);
        CHECK((*r & POLLIN) != 0);
        auto w = co_await poll(p.w, POLLOUT);
        REQUIRE(w);
        CHECK((*w & POLLOUT) != 0);
    });
}

TEST_CASE("an operation with a timeout gives timed_out", "[ops][timeout]") {
    test::run([](Loop&) -> Task<void> {
        Pipe p;
        std::array<std::byte, 16> buf{};
        auto t0 = Clock::now();
        auto r = co_await read(p.r, buf).timeout(30ms);
        auto waited = Clock::now() - t0;
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::timed_out);
        CHECK(waited >= 25ms);
        CHECK(waited < 2s);
    });
}

TEST_CASE("an operation that completes before its timeout gives its result", "[ops][timeout]") {
    test::run([](Loop&) -> Task<void> {
        Pipe p;
        REQUIRE(::write(p.w, "x", 1) == 1);
        std::array<std::byte, 16> buf{};
        auto r = co_await read(p.r, buf).timeout(5s);
        REQUIRE(r);
        CHECK(*r == 1);
    });
}

TEST_CASE("cancelling a task cancels its pending read", "[ops][cancel]") {
    test::run([](Loop& loop) -> Task<void> {
        Pipe p;
        auto reader = [](int fd) -> Task<std::error_code> {
            std::array<std::byte, 16> buf{};
            auto r = co_await read(fd, buf);
            co_return r.error();
        };
        auto h = loop.spawn(reader(p.r));
        co_await sleep_for(10ms);
        CHECK_FALSE(h.done());
        h.cancel();
        auto ec = co_await h;
        CHECK(ec == std::errc::operation_canceled);
        // The pipe still works afterwards: nothing consumed the cancelled read.
        REQUIRE(::write(p.w, "y", 1) == 1);
        std::array<std::byte, 4> buf{};
        auto r = co_await read(p.r, buf);
        REQUIRE(r);
        CHECK(*r == 1);
    });
}

TEST_CASE("with_timeout cancels a pending read", "[ops][timeout]") {
    test::run([](Loop&) -> Task<void> {
        Pipe p;
        std::array<std::byte, 16> buf{};
        auto r = co_await with_timeout(read(p.r, buf), 20ms);
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::timed_out);
    });
}

TEST_CASE("many cancelled reads leave no use-after-free", "[ops][cancel]") {
    // Under ASan: each cancelled read's buffer lives in a frame that is freed
    // right after the awaiter resumes; a late kernel write would be caught.
    test::run([](Loop& loop) -> Task<void> {
        Pipe p;
        for (int round = 0; round < 20; ++round) {
            std::vector<JoinHandle<void>> hs;
            for (int i = 0; i < 50; ++i) {
                hs.push_back(loop.spawn([](int fd) -> Task<void> {
                    std::array<std::byte, 64> buf{};
                    auto r = co_await read(fd, buf);
                    if (r) {
                        FAIL("read completed with data nobody wrote");
                    }
                }(p.r)));
            }
            co_await yield();
            co_await yield();
            for (auto& h : hs) h.cancel();
            for (auto& h : hs) co_await h;
        }
        CHECK(loop.stats().cancels > 0);
    });
}

}  // namespace runtime_ops_test
