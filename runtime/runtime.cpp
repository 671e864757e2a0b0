#include <corio/runtime/runtime.hpp>

#include <pthread.h>
#include <sched.h>

#include <cstdlib>
#include <cstring>
#include <string_view>

#include <corio/runtime/log.hpp>
#include <corio/runtime/timer.hpp>
#include <corio/runtime/when_any.hpp>

namespace corio {
namespace {

thread_local Runtime* t_runtime = nullptr;
thread_local unsigned t_index = 0;

std::vector<int> allowed_cpus() {
    std::vector<int> cpus;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0) {
        for (int c = 0; c < CPU_SETSIZE; ++c) {
            if (CPU_ISSET(c, &set)) cpus.push_back(c);
        }
    }
    if (cpus.empty()) {
        unsigned n = std::thread::hardware_concurrency();
        for (unsigned c = 0; c < (n == 0 ? 1 : n); ++c)
            cpus.push_back(static_cast<int>(c));
    }
    return cpus;
}

// Pins the calling thread to cpus[i % size]. The list is read once, before
// any thread is pinned: a thread inherits its creator's affinity, so a list
// read after pinning loop 0 would hold only loop 0's CPU.
void pin_self(const std::vector<int>& cpus, unsigned i) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpus[i % cpus.size()], &set);
    if (int e = ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set); e != 0) {
        log_warn("pin loop {} to cpu {}: {}", i, cpus[i % cpus.size()], std::strerror(e));
    }
}

bool msg_ring_from_env() {
    const char* s = std::getenv("CORIO_MSG_RING");
    return s == nullptr || std::string_view(s) != "0";
}

// A timer that only wakes the loop (the phase predicate is checked after).
struct WakeTimer : detail::TimerNode {
    WakeTimer() noexcept {
        fire = [](detail::TimerNode*, Loop&) noexcept {};
    }
};

}  // namespace

// ---- RemoteStateBase ----

namespace detail {

void RemoteStateBase::cancel() noexcept {
    std::lock_guard lk(mu);
    if (phase == Phase::finished || cancel_wanted) return;
    cancel_wanted = true;
    if (phase == Phase::running) {
        // The task's frame is alive on its loop (its end takes `mu`), so the
        // loop is too.
        refs.fetch_add(1, std::memory_order_relaxed);
        cancel_op.self = this;
        cancel_op.on_complete = &on_cancel;
        rt->slots_[target]->loop->post_remote(cancel_op);
    }
    // Queued: on_start sees cancel_wanted and starts the task stopped.
}

void RemoteStateBase::on_cancel(OpState* op, Loop&, int, std::uint32_t) noexcept {
    RemoteStateBase* s = static_cast<Op*>(op)->self;
    if (s->task_stop != nullptr) {
        s->task_stop->request_stop();
    } else {
        s->stop_now = true;  // spawned but not run yet
    }
    s->unref();
}

void RemoteStateBase::finish(bool was_lost) noexcept {
    std::lock_guard lk(mu);
    if (phase == Phase::finished) return;
    phase = Phase::finished;
    lost = was_lost;
    if (Loop* l = std::exchange(waiter_loop, nullptr)) {
        // Under `mu`: the awaiter unregisters under it before its frame (and
        // loop) can go, so `l` is alive.
        if (Loop::current_or_null() == l) {
            l->schedule(done_op.waiter);
        } else {
            l->post_remote(done_op);
        }
    }
    cv.notify_all();
}

void RemoteStateBase::on_start(OpState* op, Loop& loop, int, std::uint32_t) noexcept {
    RemoteStateBase* s = static_cast<Op*>(op)->self;
    Runtime::Phase ph = s->rt->phase_of(s->target);
    if (ph >= Runtime::Phase::quiesce) {
        // Too late: every loop is finishing. Destroy the task unstarted.
        s->body = Task<void>();
        s->finish(true);
        s->unref();  // the body's reference (its RemoteFinish never ran)
        return;
    }
    bool stop;
    {
        std::lock_guard lk(s->mu);
        s->phase = Phase::running;
        stop = s->cancel_wanted;
    }
    JoinHandle<void> jh =
        s->background ? loop.spawn_background(std::move(s->body)) : loop.spawn(std::move(s->body));
    // Arriving while the loop cancels its work: start it stopped, so it
    // unwinds at once instead of outliving the shutdown.
    if (stop || ph >= Runtime::Phase::cancel) jh.cancel();
    jh.detach();
}

}  // namespace detail

// ---- Runtime ----

Runtime* Runtime::current() noexcept {
    return t_runtime;
}

unsigned Runtime::current_index() noexcept {
    if (t_runtime == nullptr) {
        log_error("Runtime::current_index() on a thread that runs no Runtime loop");
        std::terminate();
    }
    return t_index;
}

Runtime::Runtime(RuntimeConfig cfg) : cfg_(std::move(cfg)), owner_(std::this_thread::get_id()) {
    cpus_ = allowed_cpus();
    unsigned n = cfg_.loops != 0 ? cfg_.loops : static_cast<unsigned>(cpus_.size());
    if (!msg_ring_from_env()) cfg_.msg_ring = false;
    SignalSet sigs;
    for (int s : cfg_.block_signals)
        sigs.add(s);
    // Before any thread starts, so that all inherit the mask; the calling
    // thread gets its own back once they run (unless asked to keep it).
    old_mask_ = block_signals(sigs);

    slots_.reserve(n);
    for (unsigned i = 0; i < n; ++i)
        slots_.push_back(std::make_unique<Slot>());
    LoopOptions opts = cfg_.loop_options;
    opts.backend = cfg_.backend;

    unsigned first = 0;
    if (cfg_.use_calling_thread) {
        if (cfg_.pin) {
            CPU_ZERO(&old_affinity_);
            restore_affinity_ = ::pthread_getaffinity_np(::pthread_self(), sizeof old_affinity_,
                                                         &old_affinity_) == 0;
            pin_self(cpus_, 0);
        }
        try {
            loop0_ = std::make_unique<Loop>(opts);
        } catch (...) {
            restore_calling_thread();
            throw;
        }
        prev_runtime_ = t_runtime;
        prev_index_ = t_index;
        t_runtime = this;
        t_index = 0;
        setup_loop(0, *loop0_);
        first = 1;
    }
    for (unsigned i = first; i < n; ++i) {
        slots_[i]->thread = std::thread(&Runtime::thread_main, this, i, opts);
    }
    if (!cfg_.block_signals_on_calling_thread) {
        ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
    }
    std::exception_ptr err;
    {
        std::unique_lock lk(start_mu_);
        start_cv_.wait(lk, [&] { return started_ == n - first; });
        for (auto& s : slots_) {
            if (s->loop != nullptr) ++live_loops_;
            if (s->init_error && !err) err = s->init_error;
        }
    }
    if (err) {
        shutdown();
        restore_calling_thread();
        if (loop0_ == nullptr && cfg_.use_calling_thread) t_runtime = prev_runtime_;
        std::rethrow_exception(err);
    }
    log_debug("runtime: {} loops, backend {}", n, to_string(slots_[0]->report.kind));
}

Runtime::~Runtime() {
    shutdown();
    restore_calling_thread();
    if (cfg_.use_calling_thread) {
        t_runtime = prev_runtime_;
        t_index = prev_index_;
    }
}

// The calling thread leaves the Runtime as it came: signal mask and, when
// loop 0 pinned it, its CPU affinity (a second Runtime made on this thread
// must see every CPU again).
void Runtime::restore_calling_thread() noexcept {
    ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
    if (restore_affinity_) {
        ::pthread_setaffinity_np(::pthread_self(), sizeof old_affinity_, &old_affinity_);
        restore_affinity_ = false;
    }
}

void Runtime::setup_loop(unsigned i, Loop& loop) {
    Slot& s = *slots_[i];
    loop.set_msg_ring(this, cfg_.msg_ring);
    loop.add_remote_ref();  // other threads may always post: never "deadlocked"
    s.report = loop.report();
    s.begin_op.on_complete = [](detail::OpState*, Loop&, int, std::uint32_t) noexcept {
        t_runtime->slots_[t_index]->begin = true;
    };
    s.request_op.on_complete = [](detail::OpState*, Loop&, int, std::uint32_t) noexcept {
        t_runtime->request_event_.set();
    };
    for (auto& b : s.barrier_op) {
        b.on_complete = [](detail::OpState*, Loop&, int, std::uint32_t) noexcept {};
    }
    std::lock_guard lk(start_mu_);
    s.loop = &loop;
}

void Runtime::thread_main(unsigned i, LoopOptions opts) {
    t_runtime = this;
    t_index = i;
    Slot& s = *slots_[i];
    if (cfg_.pin) pin_self(cpus_, i);
    std::optional<Loop> loop;
    try {
        loop.emplace(opts);
        setup_loop(i, *loop);
    } catch (...) {
        std::lock_guard lk(start_mu_);
        s.init_error = std::current_exception();
        ++started_;
        start_cv_.notify_all();
        return;
    }
    {
        std::lock_guard lk(start_mu_);
        ++started_;
        start_cv_.notify_all();
    }
    try {
        loop->run_until([&] { return s.begin; });
        teardown(i);
    } catch (const std::exception& e) {
        log_error("runtime loop {}: {}", i, e.what());
    }
    loop.reset();  // on its own thread, as io_uring's single issuer requires
}

template <class Pred>
void Runtime::run_phase(Loop& loop, Pred done, std::optional<TimePoint> deadline) {
    WakeTimer t;
    if (deadline) {
        t.deadline = *deadline;
        loop.timers().push(t);
    }
    loop.run_until([&] { return done() || (deadline && loop.now() >= *deadline); });
    if (t.armed()) loop.timers().remove(t);
}

void Runtime::barrier(unsigned k, Loop& loop, std::optional<TimePoint> deadline) {
    // A barrier that keeps the loop turning: loops still finishing may need
    // this one's answers. The last to arrive wakes everyone.
    if (arrived_[k].fetch_add(1, std::memory_order_acq_rel) + 1 == live_loops_) {
        for (auto& s : slots_) {
            if (s->loop != nullptr) s->loop->post_remote(s->barrier_op[k]);
        }
    }
    run_phase(
        loop, [&] { return arrived_[k].load(std::memory_order_acquire) >= live_loops_; }, deadline);
}

void Runtime::final_barrier() {
    // Blocking, and posting nothing: once it opens, a loop may be destroyed,
    // so no other thread may still be inside one of its post_remote calls.
    std::unique_lock lk(final_mu_);
    if (++final_arrived_ == live_loops_) {
        // From now on spawn_on refuses; wait out the calls already past their
        // check, so their messages are queued before anyone leaves.
        closing_.store(true, std::memory_order_seq_cst);
        while (posters_.load(std::memory_order_seq_cst) != 0)
            std::this_thread::yield();
        final_cv_.notify_all();
        return;
    }
    final_cv_.wait(lk, [&] { return final_arrived_ == live_loops_; });
}

void Runtime::teardown(unsigned i) {
    Slot& s = *slots_[i];
    Loop& loop = *s.loop;
    // 1. Graceful: servers stop accepting; in-flight work may finish.
    s.phase = Phase::graceful;
    s.graceful.request_stop();
    // Background tasks (tickers) have no in-flight work to finish: waiting
    // for them would make every exit take the whole deadline.
    loop.cancel_background();
    run_phase(
        loop, [&] { return loop.live_tasks() == 0; }, graceful_deadline_);
    if (loop.live_tasks() > 0) {
        log_warn(
            "runtime loop {}: {} tasks still running at the shutdown deadline; a task that runs "
            "for the program's life should watch shutdown_token() or be started with "
            "spawn_background, so that shutdown need not wait for it",
            i, loop.live_tasks());
    }
    barrier(0, loop, graceful_deadline_);
    // 2. Cancel what is left and let it unwind.
    s.phase = Phase::cancel;
    loop.cancel_all();
    run_phase(
        loop, [&] { return loop.live_tasks() == 0; }, cancel_deadline_);
    barrier(1, loop, cancel_deadline_);
    // 3. Quiesce: no MSG_RING may still be on its way to a ring about to
    // close (each loop stops sending and waits for its own to complete), and
    // no spawn_on message may arrive after we stop reading.
    s.phase = Phase::quiesce;
    loop.disable_msg_ring_send();
    run_phase(
        loop, [&] { return loop.msg_ring_inflight() == 0; }, std::nullopt);
    final_barrier();
    loop.process_remote();  // spawn_on messages that raced in: refused
    s.phase = Phase::done;
    if (loop.live_tasks() > 0) {
        log_warn("runtime loop {}: {} tasks did not finish within the shutdown deadline", i,
                 loop.live_tasks());
    }
    s.final_stats = loop.stats();
    s.final_set = true;
    loop.drop_remote_ref();
}

void Runtime::shutdown() {
    if (shut_) return;
    shut_ = true;
    shutdown_started_.store(true, std::memory_order_release);
    graceful_deadline_ = Clock::now() + cfg_.shutdown_deadline;
    cancel_deadline_ = graceful_deadline_ + cfg_.cancel_deadline;
    // Counted as a poster: no loop may be destroyed while we are still in
    // one of these post_remote calls (see final_barrier).
    posters_.fetch_add(1, std::memory_order_seq_cst);
    for (auto& s : slots_) {
        if (s->loop != nullptr && s->thread.joinable()) s->loop->post_remote(s->begin_op);
    }
    posters_.fetch_sub(1, std::memory_order_seq_cst);
    if (loop0_) teardown(0);
    for (auto& s : slots_) {
        if (s->thread.joinable()) s->thread.join();
    }
    if (loop0_) {
        loop0_.reset();
        slots_[0]->loop = nullptr;
    }
    for (auto& s : slots_)
        s->loop = nullptr;
}

bool Runtime::post_guarded(unsigned i, detail::OpState& op) {
    posters_.fetch_add(1, std::memory_order_seq_cst);
    bool ok = !closing_.load(std::memory_order_seq_cst) && slots_[i]->loop != nullptr;
    if (ok) slots_[i]->loop->post_remote(op);
    posters_.fetch_sub(1, std::memory_order_seq_cst);
    return ok;
}

void Runtime::start_remote(detail::RemoteStateBase& s) {
    s.start_op.self = &s;
    s.start_op.on_complete = &detail::RemoteStateBase::on_start;
    if (!post_guarded(s.target, s.start_op)) {
        s.body = Task<void>();
        s.finish(true);
        s.unref();  // the body's reference
    }
}

StopToken Runtime::shutdown_token() noexcept {
    if (t_runtime != this) {
        log_error("Runtime::shutdown_token() on a thread that runs none of its loops");
        std::terminate();
    }
    return slots_[t_index]->graceful.token();
}

void Runtime::request_shutdown() noexcept {
    if (shutdown_requested_.exchange(true, std::memory_order_acq_rel)) return;
    post_guarded(0, slots_[0]->request_op);
}

Task<int> Runtime::wait_signal_or_request(SignalSet sigs) {
    if (shutdown_requested_.load(std::memory_order_acquire)) co_return 0;
    auto request = [](Event* e) -> Task<Result<void>> { co_return co_await e->wait(); };
    auto r = co_await when_any(wait_signal(sigs), request(&request_event_));
    if (r.index() == 0) {
        Result<int>& sig = std::get<0>(r);
        if (sig) co_return *sig;
        log_error("wait for signals: {}", sig.error().message());
    }
    co_return 0;
}

int Runtime::run_until_signal(SignalSet signals) {
    // Blocked here too while we wait: with loop 0 on a thread of its own, a
    // signal must not take its default action on this thread instead.
    struct Hold {
        sigset_t old;
        ~Hold() { ::pthread_sigmask(SIG_SETMASK, &old, nullptr); }
    };
    int sig;
    {
        Hold hold{block_signals(signals)};
        sig = block_on(wait_signal_or_request(signals));
    }
    log_info("runtime: {}, shutting down", sig != 0 ? strsignal(sig) : "shutdown requested");
    shutdown();
    return sig;
}

LoopStats Runtime::stats(unsigned i) {
    Slot& s = *slots_.at(i);
    if (s.final_set) return s.final_stats;
    if (i == 0 && loop0_) return loop0_->stats();
    return spawn_on(i, []() -> Task<LoopStats> { co_return Loop::current().stats(); }()).get();
}

}  // namespace corio
