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

Task<Result<int>> wait_signal(SignalSet sigs) {
    // Without blocking, a signal that arrives would take its default action
    // (terminate) instead of showing up on the descriptor.
    block_signals(sigs);
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
