#pragma once
// Death tests without a framework: run a function in a forked child with its
// stderr captured, and report how the child ended. Fork before any loop or
// thread exists in the parent (a forked child has only the forking thread).

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace corio::test {

struct ChildEnd {
    bool exited = false;  ///< the child called exit/_exit (status in `code`)
    int code = -1;        ///< exit status, or the signal that ended it
    std::string err;      ///< everything it wrote to stderr

    bool killed_by(int sig) const { return !exited && code == sig; }
};

/// Runs `fn()` in a child process; the child exits 0 when fn returns. A child
/// still running after `cap_seconds` is killed by SIGALRM (a hang, reported as
/// such instead of hanging the test).
template <class F>
ChildEnd run_in_child(F fn, unsigned cap_seconds = 20) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) std::abort();
    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) std::abort();
    if (pid == 0) {
        // Catch's fatal-signal handlers would report the child's death as a
        // test failure of its own: the child dies the default way instead.
        for (int sig : {SIGABRT, SIGSEGV, SIGILL, SIGFPE, SIGBUS, SIGINT, SIGTERM}) {
            std::signal(sig, SIG_DFL);
        }
        int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (devnull >= 0) ::dup2(devnull, STDOUT_FILENO);
        ::dup2(pipefd[1], STDERR_FILENO);
        ::close(pipefd[0]);
        ::alarm(cap_seconds);
        fn();
        std::fflush(nullptr);
        ::_exit(0);
    }
    ::close(pipefd[1]);
    ChildEnd end;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(pipefd[0], buf, sizeof buf);
        if (n > 0) {
            end.err.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
            break;
        }
    }
    ::close(pipefd[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) {
        end.exited = true;
        end.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        end.code = WTERMSIG(status);
    }
    return end;
}

}  // namespace corio::test
