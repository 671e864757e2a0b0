#include <corio/runtime/blocking_pool.hpp>

#include <signal.h>

#include <corio/runtime/loop.hpp>

namespace corio::detail {

BlockingPool::~BlockingPool() {
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
        t.join();
}

void BlockingPool::submit(OpState& st) {
    std::unique_lock lk(mu_);
    queue_.push(st);
    ++outstanding_;
    if (idle_ == 0 && threads_.size() < max_threads_) {
        // Pool threads take no asynchronous signal: a SIGTERM meant for a
        // signalfd (or for the default action, on the main thread) must not
        // land on a helper thread that happens to leave it unblocked.
        sigset_t all;
        sigset_t old;
        ::sigfillset(&all);
        // Faults stay deliverable (a sanitizer's report, a core dump).
        for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS})
            ::sigdelset(&all, s);
        ::pthread_sigmask(SIG_SETMASK, &all, &old);
        threads_.emplace_back([this] { worker(); });
        ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    } else {
        lk.unlock();
        cv_.notify_one();
    }
}

bool BlockingPool::try_remove(OpState& st) {
    std::lock_guard lk(mu_);
    if (!queue_.contains(st)) return false;
    queue_.erase(st);
    --outstanding_;
    return true;
}

std::size_t BlockingPool::outstanding() const {
    std::lock_guard lk(mu_);
    return outstanding_;
}

void BlockingPool::worker() {
    std::unique_lock lk(mu_);
    for (;;) {
        while (queue_.empty() && !stopping_) {
            ++idle_;
            cv_.wait(lk);
            --idle_;
        }
        OpState* s = queue_.pop();
        if (s == nullptr) return;  // stopping, queue drained
        lk.unlock();
        s->res = s->retry(s);
        s->loop->post_remote(*s);
        lk.lock();
        --outstanding_;
    }
}

}  // namespace corio::detail
