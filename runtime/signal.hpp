#pragma once
// Signals as awaitables: `co_await wait_signal({SIGINT, SIGTERM})`.
//
// A signal is taken from a signalfd, so it must be blocked in every thread of
// the process first (otherwise the kernel delivers it the old way, to some
// thread whose mask lets it through). Block the signals before starting any
// thread: Runtime does it for its configured signals; for a single loop,
// block_signals() at the start of main().

#include <signal.h>

#include <initializer_list>

#include <corio/runtime/result.hpp>
#include <corio/runtime/task.hpp>

namespace corio {

/// A set of signal numbers (a sigset_t).
class SignalSet {
public:
    /// The empty set.
    SignalSet() noexcept { ::sigemptyset(&set_); }
    /// The set of the given signals: `SignalSet{SIGINT, SIGTERM}`.
    SignalSet(std::initializer_list<int> sigs) noexcept {  // NOLINT: implicit by design
        ::sigemptyset(&set_);
        for (int s : sigs)
            ::sigaddset(&set_, s);
    }
    /// Adds `sig` to the set.
    void add(int sig) noexcept { ::sigaddset(&set_, sig); }
    /// True if `sig` is in the set.
    bool contains(int sig) const noexcept { return ::sigismember(&set_, sig) == 1; }
    /// The sigset_t, for pthread_sigmask and signalfd.
    const sigset_t& native() const noexcept { return set_; }

private:
    sigset_t set_;
};

/// Blocks `sigs` in the calling thread; threads it starts later inherit the
/// mask. Gives the previous mask.
sigset_t block_signals(const SignalSet& sigs) noexcept;

/// Waits until one of `sigs` is pending for the process and takes it; gives
/// its number. Blocks `sigs` in the calling thread while it waits, and
/// unblocks them when the last wait of this thread for them ends (unless they
/// were blocked before). Other threads must block them too (see above; a
/// Runtime's own threads always do). Errors: the signalfd's (std::errc::operation_canceled
/// if the task is stopped first). Works on both backends: it waits for the
/// signalfd's readiness on the current loop.
Task<Result<int>> wait_signal(SignalSet sigs);

}  // namespace corio
