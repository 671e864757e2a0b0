#include <corio/runtime/signal.hpp>

#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>

#include <corio/runtime/detail/fd.hpp>
#include <corio/runtime/ops.hpp>

namespace corio {

sigset_t block_signals(const SignalSet& sigs) noexcept {
    sigset_t old;
    ::pthread_sigmask(SIG_BLOCK, &sigs.native(), &old);
    return old;
}

namespace {

// Per thread and signal: how many waits hold the signal blocked, and whether
// a wait blocked it (then the last wait to end unblocks it again; a signal
// the thread had blocked before stays blocked).
struct SignalHolds {
    int holders[NSIG] = {};
    bool ours[NSIG] = {};
};
thread_local SignalHolds t_holds;

/// Blocks the signals of a wait for as long as it lives.
class ScopedSignalBlock {
public:
    explicit ScopedSignalBlock(const SignalSet& sigs) noexcept : sigs_(sigs) {
        sigset_t old = block_signals(sigs_);
        for (int s = 1; s < NSIG; ++s) {
            if (!sigs_.contains(s)) continue;
            if (t_holds.holders[s]++ == 0 && ::sigismember(&old, s) == 0) t_holds.ours[s] = true;
        }
    }
    ~ScopedSignalBlock() {
        SignalSet release;
        bool any = false;
        for (int s = 1; s < NSIG; ++s) {
            if (!sigs_.contains(s)) continue;
            if (--t_holds.holders[s] == 0 && t_holds.ours[s]) {
                t_holds.ours[s] = false;
                release.add(s);
                any = true;
            }
        }
        if (any) ::pthread_sigmask(SIG_UNBLOCK, &release.native(), nullptr);
    }
    ScopedSignalBlock(const ScopedSignalBlock&) = delete;
    ScopedSignalBlock& operator=(const ScopedSignalBlock&) = delete;

private:
    SignalSet sigs_;
};

}  // namespace

Task<Result<int>> wait_signal(SignalSet sigs) {
    // Without blocking, a signal that arrives would take its default action
    // (terminate) instead of showing up on the descriptor. Blocked only while
    // we wait: afterwards the signal does what it did before (a program that
    // no longer waits for SIGTERM dies of it again).
    ScopedSignalBlock hold(sigs);
    detail::Fd fd(::signalfd(-1, &sigs.native(), SFD_NONBLOCK | SFD_CLOEXEC));
    if (!fd) co_return sys_error(errno);
    for (;;) {
        signalfd_siginfo si{};
        ssize_t n = ::read(fd.get(), &si, sizeof si);
        if (n == static_cast<ssize_t>(sizeof si)) co_return static_cast<int>(si.ssi_signo);
        if (n < 0 && errno != EAGAIN) co_return sys_error(errno);
        // Readiness rather than an io_uring read: a read parked in the kernel
        // would consume the signal even if we were cancelled meanwhile.
        auto r = co_await poll(fd.get(), POLLIN);
        if (!r) co_return r.error();
    }
}

}  // namespace corio
