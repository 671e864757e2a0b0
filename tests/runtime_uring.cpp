// Ring pressure: a tiny SQ and CQ under heavy load lose nothing; a cancel
// request still gets an SQE when the SQ is full.
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <vector>

#include "support.hpp"

using namespace corio;
using namespace std::chrono_literals;

namespace {
LoopOptions tiny() {
    LoopOptions o = test::options();
    o.sq_entries = 4;
    o.cq_entries = 4;
    return o;
}
}  // namespace

TEST_CASE("a tiny SQ and CQ under heavy load lose no completion", "[uring]") {
    Loop loop(tiny());
    auto body = [](Loop& l) -> Task<long> {
        std::vector<Task<long>> ts;
        for (int i = 0; i < 2000; ++i) {
            ts.push_back([]() -> Task<long> {
                long ok = 0;
                for (int j = 0; j < 20; ++j) {
                    auto r = co_await nop();
                    if (r) ++ok;
                }
                co_return ok;
            }());
        }
        auto vs = co_await when_all(std::move(ts));
        long sum = 0;
        for (long v : vs) sum += v;
        (void)l;
        co_return sum;
    };
    CHECK(loop.block_on(body(loop)) == 2000L * 20);
    if (loop.kind() == BackendKind::io_uring) {
        CHECK(loop.stats().sq_full > 0);
        CHECK(loop.stats().cq_overflows > 0);  // the overflow path really ran
    }
}

TEST_CASE("pipe traffic through a tiny ring with many waiters", "[uring]") {
    Loop loop(tiny());
    auto body = [](Loop&) -> Task<void> {
        constexpr int n = 200;
        std::vector<std::array<int, 2>> pipes(n);
        for (auto& p : pipes) REQUIRE(::pipe2(p.data(), O_NONBLOCK | O_CLOEXEC) == 0);
        std::vector<Task<int>> readers;
        for (auto& p : pipes) {
            readers.push_back([](int fd) -> Task<int> {
                int got = 0;
                std::array<std::byte, 8> buf{};
                while (got < 10) {
                    auto r = co_await read(fd, buf);
                    if (!r || *r == 0) break;
                    got += int(*r);
                }
                co_return got;
            }(p[0]));
        }
        auto writer = [](std::vector<std::array<int, 2>>* ps) -> Task<int> {
            for (int k = 0; k < 10; ++k) {
                for (auto& p : *ps) {
                    std::byte b{1};
                    auto w = co_await write(p[1], std::span(&b, 1));
                    REQUIRE(w);
                }
                co_await yield();
            }
            co_return 0;
        };
        readers.push_back(writer(&pipes));
        auto vs = co_await when_all(std::move(readers));
        for (int i = 0; i < n; ++i) CHECK(vs[std::size_t(i)] == 10);
        for (auto& p : pipes) {
            Loop::current().release_fd(p[0]);
            Loop::current().release_fd(p[1]);
            ::close(p[0]);
            ::close(p[1]);
        }
    };
    loop.block_on(body(loop));
}

TEST_CASE("cancelling many waiters through a full SQ drops no cancel", "[uring][cancel]") {
    Loop loop(tiny());
    auto body = [](Loop& l) -> Task<void> {
        int p[2];
        REQUIRE(::pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
        std::vector<JoinHandle<std::error_code>> hs;
        for (int i = 0; i < 300; ++i) {
            hs.push_back(l.spawn([](int fd) -> Task<std::error_code> {
                std::array<std::byte, 8> buf{};
                auto r = co_await read(fd, buf);
                co_return r.error();
            }(p[0])));
        }
        co_await sleep_for(5ms);
        for (auto& h : hs) h.cancel();  // 300 cancel SQEs through a 4-entry SQ
        int cancelled = 0;
        for (auto& h : hs) cancelled += (co_await h) == std::errc::operation_canceled;
        CHECK(cancelled == 300);
        l.release_fd(p[0]);
        l.release_fd(p[1]);
        ::close(p[0]);
        ::close(p[1]);
    };
    loop.block_on(body(loop));
}
