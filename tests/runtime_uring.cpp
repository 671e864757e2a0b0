// Ring pressure: a tiny SQ and CQ under heavy load lose nothing; a cancel
// request still gets an SQE when the SQ is full.
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstddef>
#include <string>

#include <array>
#include <vector>

#include "support.hpp"

namespace runtime_uring_test {

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
        for (long v : vs)
            sum += v;
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
        for (auto& p : pipes)
            REQUIRE(::pipe2(p.data(), O_NONBLOCK | O_CLOEXEC) == 0);
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
        for (int i = 0; i < n; ++i)
            CHECK(vs[std::size_t(i)] == 10);
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
        for (auto& h : hs)
            h.cancel();  // 300 cancel SQEs through a 4-entry SQ
        int cancelled = 0;
        for (auto& h : hs)
            cancelled += (co_await h) == std::errc::operation_canceled;
        CHECK(cancelled == 300);
        l.release_fd(p[0]);
        l.release_fd(p[1]);
        ::close(p[0]);
        ::close(p[1]);
    };
    loop.block_on(body(loop));
}

namespace {

// Makes every later io_uring_enter fail with EINVAL, as a broken ring would.
bool deny_io_uring_enter() {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EINVAL & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(std::size(filter)), filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
    return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

}  // namespace

TEST_CASE("a submit that can never succeed ends with a message, not a spin", "[uring]") {
    // The old get_sqe retried a failing submit forever at 100% CPU.
    if (test::backend() != BackendKind::io_uring) return;
    int err[2];
    REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(err[1], 2);
        LoopOptions o;
        o.backend = BackendChoice::io_uring;
        o.sq_entries = 4;
        Loop loop(o);
        if (!deny_io_uring_enter()) ::_exit(10);
        auto fill = [](Loop& l) -> Task<void> {
            // More SQEs than the SQ holds, prepared in one turn.
            auto one = []() -> Task<void> { (void)co_await nop(); };
            std::vector<JoinHandle<void>> hs;
            for (int i = 0; i < 16; ++i)
                hs.push_back(l.spawn(one()));
            for (auto& h : hs)
                co_await h;
        };
        try {
            loop.block_on(fill(loop));
        } catch (...) {
        }
        ::_exit(0);
    }
    ::close(err[1]);
    // Bounded: a child that spins is killed after 20 s and the test fails.
    int status = 0;
    bool exited = false;
    for (int i = 0; i < 2000 && !exited; ++i) {
        exited = ::waitpid(pid, &status, WNOHANG) == pid;
        if (!exited) ::usleep(10000);
    }
    if (!exited) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
    }
    std::string text;
    char buf[512];
    ssize_t n;
    while ((n = ::read(err[0], buf, sizeof buf)) > 0)
        text.append(buf, std::size_t(n));
    ::close(err[0]);
    INFO("child stderr: " << text);
    REQUIRE(exited);
    CHECK(WIFSIGNALED(status));
    CHECK(text.find("io_uring submit") != std::string::npos);
}

}  // namespace runtime_uring_test
