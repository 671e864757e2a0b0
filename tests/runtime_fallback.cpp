// The fallback for real: a child process installs a seccomp filter that makes
// io_uring_setup fail with EPERM, as Docker's default profile does. `auto`
// must come up on epoll and do I/O; `io_uring` must fail with a clear error.
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <string>

#include "support.hpp"

namespace runtime_fallback_test {

using namespace corio;

namespace {

bool deny_io_uring_setup() {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(std::size(filter)), filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
    return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

// Runs in the child; the exit status says what went wrong.
int child() {
    if (!deny_io_uring_setup()) return 10;
    {
        LoopOptions o;
        o.use_env = false;
        o.backend = BackendChoice::automatic;
        Loop loop(o);
        if (loop.kind() != BackendKind::epoll) return 11;
        if (loop.report().uring_error.find("Operation not permitted") == std::string::npos) {
            return 12;
        }
        auto io = []() -> Task<bool> {
            int p[2];
            if (::pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) co_return false;
            const char msg[] = "ping";
            auto w = co_await write(p[1], std::as_bytes(std::span(msg, 4)));
            std::array<std::byte, 8> buf{};
            auto r = co_await read(p[0], buf);
            Loop::current().release_fd(p[0]);
            Loop::current().release_fd(p[1]);
            ::close(p[0]);
            ::close(p[1]);
            co_return w && r && *r == 4 && std::memcmp(buf.data(), "ping", 4) == 0;
        };
        if (!loop.block_on(io())) return 13;
    }
    try {
        LoopOptions o;
        o.use_env = false;
        o.backend = BackendChoice::io_uring;
        Loop loop(o);
        return 14;  // must not start
    } catch (const BackendError& e) {
        std::string what = e.what();
        if (what.find("io_uring_setup: Operation not permitted") == std::string::npos) return 15;
    }
    return 0;
}

}  // namespace

TEST_CASE("auto falls back to epoll when seccomp denies io_uring_setup", "[backend][fallback]") {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) ::_exit(child());
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    INFO("child exit code (10 seccomp, 11 not epoll, 12 no reason, 13 I/O, 14/15 io_uring)");
    CHECK(WEXITSTATUS(status) == 0);
}

}  // namespace runtime_fallback_test
