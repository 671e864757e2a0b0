#pragma once
// Runtime: N loops, one per thread (by default one per core), each owning its
// own work. Work moves between loops only by message: spawn_on(i, task), and
// SharedChannel. A loop wakes another with IORING_OP_MSG_RING where both run
// on io_uring and the kernel has it, otherwise through the target's eventfd;
// either way a burst of messages costs one wake-up.
//
// Shutdown (shutdown(), the destructor, or run_until_signal()) is graceful:
//   1. every loop's shutdown_token() is stopped: servers stop accepting;
//      background tasks (spawn_background, spawn_background_on) are cancelled;
//   2. in-flight tasks get until `shutdown_deadline` to finish;
//   3. what is left is cancelled and gets `cancel_deadline` more to unwind;
//   4. every thread is joined; frames still stuck are destroyed with their
//      loops. Loops keep serving each other's messages until all are done.

#include <sched.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <corio/runtime/backend.hpp>
#include <corio/runtime/cancel.hpp>
#include <corio/runtime/detail/op_state.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/signal.hpp>
#include <corio/runtime/sync.hpp>
#include <corio/runtime/task.hpp>

namespace corio {

/// How a Runtime is made.
struct RuntimeConfig {
    /// Number of loops; 0 = one per CPU this process may run on.
    unsigned loops = 0;
    /// The backend of every loop (CORIO_BACKEND overrides `automatic`).
    BackendChoice backend = BackendChoice::automatic;
    /// Pin loop i's thread to the i-th allowed CPU (modulo their number).
    bool pin = false;
    /// Loop 0 runs on the thread that makes the Runtime, inside block_on()
    /// and run_until_signal(); false gives loop 0 a thread of its own.
    bool use_calling_thread = true;
    /// Graceful shutdown: how long in-flight tasks may take to finish after
    /// shutdown starts, before they are cancelled.
    std::chrono::milliseconds shutdown_deadline{5000};
    /// After cancelling, how long tasks get to unwind before their loops
    /// destroy them.
    std::chrono::milliseconds cancel_deadline{2000};
    /// Wake io_uring loops with IORING_OP_MSG_RING when the kernel has it
    /// (false: always the eventfd, for comparison). CORIO_MSG_RING=0 also
    /// turns it off.
    bool msg_ring = true;
    /// Signals blocked in every thread the Runtime starts, so that a signal
    /// wait (run_until_signal, wait_signal) takes them from a signalfd and
    /// they never land on a loop thread. The calling thread keeps its own
    /// mask: while nothing waits for a signal, SIGTERM/SIGINT do what they do
    /// by default (a hung program still dies of `timeout`'s SIGTERM).
    /// run_until_signal() and a wait_signal() on the calling thread block
    /// them there only while they wait.
    std::vector<int> block_signals{SIGINT, SIGTERM};
    /// Also block `block_signals` in the calling thread for the Runtime's
    /// whole life (threads it starts later inherit that). Needed when a task
    /// waits for signals on a loop other than the calling thread's, and for
    /// a server that prints "ready" before run_until_signal(): otherwise the
    /// kernel may hand the signal to the calling thread, whose default action
    /// ends the process. Threads you start yourself must block the signals
    /// too while a signal wait exists (block_signals() in the thread).
    bool block_signals_on_calling_thread = false;
    /// Everything else about each loop (its `backend` is replaced by the one
    /// above).
    LoopOptions loop_options{};
};

class Runtime;

namespace detail {

/// Shared between a RemoteHandle and the task spawn_on started. The task's
/// loop and the awaiting loop meet under `mu`; a post to a loop is only ever
/// made under `mu` while that loop's side is registered here, so no message
/// goes to a loop that is already gone.
struct RemoteStateBase {
    enum class Phase : std::uint8_t { queued, running, finished };

    RemoteStateBase() noexcept = default;
    RemoteStateBase(const RemoteStateBase&) = delete;
    RemoteStateBase& operator=(const RemoteStateBase&) = delete;
    virtual ~RemoteStateBase() = default;

    void unref() noexcept {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
    /// Thread-safe: asks the task to stop (once).
    void cancel() noexcept;
    /// Task side: records the end and wakes whoever waits. `was_lost`: the
    /// task never ran or never finished (the runtime was shutting down).
    void finish(bool was_lost) noexcept;
    /// Target loop: starts the task, or rejects it during shutdown.
    static void on_start(OpState* op, Loop& loop, int, std::uint32_t) noexcept;
    static void on_cancel(OpState* op, Loop& loop, int, std::uint32_t) noexcept;

    /// An OpState that knows its RemoteStateBase.
    struct Op : OpState {
        RemoteStateBase* self = nullptr;
    };

    std::mutex mu;
    std::condition_variable cv;
    std::atomic<int> refs{2};  // the handle and the task side
    Runtime* rt = nullptr;
    unsigned target = 0;
    Op start_op;      // posted to the target loop: start the task
    Op cancel_op;     // posted to the target loop: stop the task
    OpState done_op;  // posted to the awaiting loop: resume the awaiter
    Task<void> body;  // the wrapper coroutine, until it is spawned

    // Under mu.
    Phase phase = Phase::queued;
    bool cancel_wanted = false;
    bool cancel_posted = false;
    bool lost = false;  // never ran, or destroyed unfinished by the shutdown
    Loop* waiter_loop = nullptr;
    std::exception_ptr exception{};

    // Target loop's thread only.
    StopSource* task_stop = nullptr;
    bool stop_now = false;
    bool completed = false;  // the wrapper reached its end
    bool background = false;  // spawn_background_on: cancelled when shutdown starts
};

template <class T>
struct RemoteState : RemoteStateBase {
    std::optional<std::conditional_t<std::is_void_v<T>, char, T>> value;

    T take() {
        if (lost) {
            throw std::system_error(std::make_error_code(std::errc::operation_canceled),
                                    "spawn_on: the task was refused or destroyed by the "
                                    "runtime's shutdown");
        }
        if (exception) std::rethrow_exception(exception);
        if constexpr (!std::is_void_v<T>) return std::move(*value);
    }
};

/// Finishes the remote state when the wrapper ends, or when its frame is
/// destroyed unfinished (its loop torn down).
struct RemoteFinish {
    RemoteStateBase* s;
    ~RemoteFinish() {
        s->finish(!s->completed);
        s->unref();
    }
};

template <class T>
Task<void> remote_body(Task<T> t, RemoteState<T>* s) {
    RemoteFinish fin{s};
    StopToken tok = co_await this_task::stop_token();
    s->task_stop = tok.source();
    if (s->stop_now) s->task_stop->request_stop();
    try {
        // A local, so the task's frame (and what its parameters own) is
        // gone before the result is published: whoever takes the result
        // sees everything the task held released.
        Task<T> inner = std::move(t);
        if constexpr (std::is_void_v<T>) {
            co_await std::move(inner);
            s->value.emplace('\0');
        } else {
            s->value.emplace(co_await std::move(inner));
        }
    } catch (...) {
        s->exception = std::current_exception();
    }
    s->task_stop = nullptr;
    s->completed = true;
}

}  // namespace detail

/// The handle of a task started by Runtime::spawn_on. Move-only; unlike a
/// JoinHandle it may be used from any thread. `co_await h` (on any loop)
/// gives the task's value or rethrows its exception; get() waits from plain
/// code; cancel() asks the task to stop; dropping the handle detaches the
/// task. A task the runtime refused because it was shutting down reports
/// std::system_error(operation_canceled) when its result is taken.
template <class T>
class [[nodiscard]] RemoteHandle {
public:
    /// A handle of no task.
    RemoteHandle() noexcept = default;
    /// A handle of the shared state `s` (Runtime::spawn_on makes them).
    explicit RemoteHandle(detail::RemoteState<T>* s) noexcept : s_(s) {}
    /// Takes over `o`'s task; `o` refers to none.
    RemoteHandle(RemoteHandle&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    /// Detaches the task held (if any) and takes over `o`'s.
    RemoteHandle& operator=(RemoteHandle&& o) noexcept {
        if (this != &o) {
            detach();
            s_ = std::exchange(o.s_, nullptr);
        }
        return *this;
    }
    /// Detaches the task (it runs on).
    ~RemoteHandle() { detach(); }

    /// True once the task has finished (or was refused).
    bool done() const {
        std::lock_guard lk(s_->mu);
        return s_->phase == detail::RemoteStateBase::Phase::finished;
    }
    /// Asks the task to stop (thread-safe): its pending operations are
    /// cancelled on its own loop. It still finishes; await it for the result.
    void cancel() noexcept {
        if (s_ != nullptr) s_->cancel();
    }
    /// Lets the task run on unobserved.
    void detach() noexcept {
        if (s_ != nullptr) std::exchange(s_, nullptr)->unref();
    }

    /// Waits for the task from code that is not a coroutine: on a thread
    /// with an idle loop (loop 0 on the Runtime's thread) that loop runs
    /// meanwhile; elsewhere the thread blocks. Throws std::logic_error inside
    /// a running loop (that would block it: co_await instead).
    T get();

    /// What `co_await handle` uses, on any loop.
    class Awaiter {
    public:
        /// Awaits the task of `s`.
        explicit Awaiter(detail::RemoteState<T>* s) noexcept : s_(s) {}
        Awaiter(const Awaiter&) = delete;
        Awaiter& operator=(const Awaiter&) = delete;
        /// Unregisters from the task if still waiting (its loop torn down).
        ~Awaiter() {
            stop_.unlink();
            if (loop_ != nullptr) {
                // Destroyed while waiting (its loop torn down): unregister.
                std::lock_guard lk(s_->mu);
                if (s_->waiter_loop == loop_) s_->waiter_loop = nullptr;
            }
            if (loop_ != nullptr) loop_->drop_remote_ref();
        }
        /// Awaiter protocol: ready when the task has finished; otherwise the
        /// task's loop wakes this loop when it does (stopping the awaiting
        /// task asks the remote one to stop meanwhile); then its value, or
        /// its exception rethrown (std::system_error(operation_canceled) for
        /// a task the runtime refused or destroyed unfinished).
        ///@{
        bool await_ready() const {
            std::lock_guard lk(s_->mu);
            return s_->phase == detail::RemoteStateBase::Phase::finished;
        }
        template <class P>
        bool await_suspend(std::coroutine_handle<P> h) {
            Loop& l = Loop::current();
            {
                std::lock_guard lk(s_->mu);
                if (s_->phase == detail::RemoteStateBase::Phase::finished) return false;
                s_->done_op.waiter = h;
                s_->done_op.loop = &l;
                s_->done_op.on_complete = [](detail::OpState* op, Loop& lp, int,
                                             std::uint32_t) noexcept { lp.schedule(op->waiter); };
                s_->waiter_loop = &l;
            }
            loop_ = &l;
            l.add_remote_ref();  // another thread will wake us
            // Stopping the awaiting task stops the remote task; we still wait
            // for it to finish, so nothing is left running behind our back.
            StopToken tok = detail::stop_token_of(h);
            if (tok.stop_requested()) {
                s_->cancel();
            } else if (tok.stop_possible()) {
                stop_.s = s_;
                stop_.fn = [](StopCallbackBase* b) noexcept {
                    static_cast<StopNode*>(b)->s->cancel();
                };
                tok.add(stop_);
            }
            return true;
        }
        T await_resume() {
            stop_.unlink();
            if (loop_ != nullptr) {
                std::exchange(loop_, nullptr)->drop_remote_ref();
            }
            std::lock_guard lk(s_->mu);  // pairs with finish(): the result is visible
            return s_->take();
        }
        ///@}

    private:
        struct StopNode : StopCallbackBase {
            detail::RemoteStateBase* s = nullptr;
        };
        detail::RemoteState<T>* s_;
        Loop* loop_ = nullptr;
        StopNode stop_;
    };
    /// `co_await handle` (or `co_await std::move(handle)`): see Awaiter.
    ///@{
    Awaiter operator co_await() & noexcept { return Awaiter(s_); }
    Awaiter operator co_await() && noexcept { return Awaiter(s_); }
    ///@}

private:
    detail::RemoteState<T>* s_ = nullptr;
};

/// A set of loops, one per thread. Make it (and destroy it) on one thread;
/// spawn_on, request_shutdown, stats and the handles it gives are safe from
/// any thread.
class Runtime {
public:
    /// Starts the loops (and their threads), each thread with
    /// cfg.block_signals blocked (see RuntimeConfig::block_signals). Throws
    /// BackendError when a loop's requested backend cannot start.
    explicit Runtime(RuntimeConfig cfg = {});
    /// shutdown(), then restores the calling thread's signal mask.
    ~Runtime();
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    /// Number of loops.
    unsigned loops() const noexcept { return static_cast<unsigned>(slots_.size()); }
    /// The Runtime whose loop runs on this thread, or null.
    static Runtime* current() noexcept;
    /// The index of the loop running on this thread; terminates with a
    /// message on a thread that runs no Runtime loop.
    static unsigned current_index() noexcept;

    /// Runs `t` on loop 0 and returns its value (or rethrows). With
    /// use_calling_thread, call it on the Runtime's thread: loop 0 runs
    /// there meanwhile; otherwise from any thread that runs no loop.
    template <class T>
    T block_on(Task<T> t) {
        if (loop0_) return loop0_->block_on(std::move(t));
        return spawn_on(0, std::move(t)).get();
    }

    /// Starts `t` on loop `i` (from any thread; the task is handed over
    /// through the loop's remote queue and starts at its next turn). The
    /// handle gives the result on whichever loop awaits it. During shutdown
    /// the task is refused (destroyed unstarted; the handle reports
    /// operation_canceled). Throws std::out_of_range for a bad index.
    template <class T>
    RemoteHandle<T> spawn_on(unsigned i, Task<T> t) {
        if (i >= loops()) throw std::out_of_range("spawn_on: no such loop");
        auto* s = new detail::RemoteState<T>();
        s->rt = this;
        s->target = i;
        s->body = detail::remote_body<T>(std::move(t), s);
        start_remote(*s);
        return RemoteHandle<T>(s);
    }

    /// Like spawn_on, for a task that runs for the program's life (a ticker,
    /// a flusher): graceful shutdown cancels it when it starts instead of
    /// waiting up to shutdown_deadline for it (see Loop::spawn_background).
    template <class T>
    RemoteHandle<T> spawn_background_on(unsigned i, Task<T> t) {
        if (i >= loops()) throw std::out_of_range("spawn_background_on: no such loop");
        auto* s = new detail::RemoteState<T>();
        s->rt = this;
        s->target = i;
        s->background = true;
        s->body = detail::remote_body<T>(std::move(t), s);
        start_remote(*s);
        return RemoteHandle<T>(s);
    }

    /// Runs `fn()` (or `fn(index)`) on every loop, on that loop's thread, and
    /// finishes when all the tasks it returns have finished; rethrows the
    /// first exception after that. `fn` is copied to each loop.
    template <class F>
    Task<void> run_on_all(F fn) {
        std::vector<RemoteHandle<void>> hs;
        hs.reserve(loops());
        for (unsigned i = 0; i < loops(); ++i)
            hs.push_back(spawn_on(i, call_on_loop(fn, i)));
        std::exception_ptr first;
        for (auto& h : hs) {
            try {
                co_await h;
            } catch (...) {
                if (!first) first = std::current_exception();
            }
        }
        if (first) std::rethrow_exception(first);
    }
    /// run_on_all() for plain code: blocks until every loop is done (via
    /// block_on, so on the Runtime's thread loop 0 runs meanwhile).
    template <class F>
    void run_on_all_blocking(F fn) {
        block_on(run_on_all(std::move(fn)));
    }

    /// The current loop's shutdown token: stopped when graceful shutdown
    /// starts, the moment to stop accepting new work. Runtime loop threads only.
    StopToken shutdown_token() noexcept;
    /// Thread-safe: asks run_until_signal() (or wait_shutdown_request()) to
    /// return and the shutdown to start.
    void request_shutdown() noexcept;
    /// Waits (on loop 0) for one of `signals` or request_shutdown(), then
    /// shuts down gracefully. Returns the signal's number (0 for a request).
    /// Call on the Runtime's thread. The signals are blocked on the calling
    /// thread while it waits (a second SIGTERM during the shutdown has its
    /// default effect again).
    int run_until_signal(SignalSet signals = {SIGINT, SIGTERM});
    /// Graceful shutdown (see the file comment); joins every thread. Call on
    /// the Runtime's thread; idempotent.
    void shutdown();
    /// True once shutdown started.
    bool shutting_down() const noexcept {
        return shutdown_started_.load(std::memory_order_acquire);
    }

    /// Loop i's backend report (fixed at start; safe from any thread).
    const BackendReport& report(unsigned i) const { return slots_.at(i)->report; }
    /// A snapshot of loop i's counters: fetched on the loop's thread (blocking
    /// the caller; not from inside a running loop), or its final counters
    /// after shutdown.
    LoopStats stats(unsigned i);

private:
    enum class Phase : std::uint8_t { run, graceful, cancel, quiesce, done };
    static constexpr unsigned barriers = 2;
    struct Slot {
        Loop* loop = nullptr;
        std::thread thread;
        BackendReport report;
        std::exception_ptr init_error;
        StopSource graceful;       // the loop's thread only
        Phase phase = Phase::run;  // the loop's thread only
        bool begin = false;        // the loop's thread only
        detail::OpState begin_op;
        detail::OpState request_op;
        detail::OpState barrier_op[barriers];
        LoopStats final_stats;
        bool final_set = false;
    };
    friend struct detail::RemoteStateBase;

    template <class F>
    static Task<void> call_on_loop(F fn, unsigned i) {
        if constexpr (std::is_invocable_v<F&, unsigned>) {
            co_await fn(i);
        } else {
            co_await fn();
        }
    }

    void start_remote(detail::RemoteStateBase& s);
    bool post_guarded(unsigned i, detail::OpState& op);
    void thread_main(unsigned i, LoopOptions opts);
    void setup_loop(unsigned i, Loop& loop);
    void teardown(unsigned i);
    template <class Pred>
    void run_phase(Loop& loop, Pred done, std::optional<TimePoint> deadline);
    void barrier(unsigned k, Loop& loop, std::optional<TimePoint> deadline);
    void final_barrier();
    void restore_calling_thread() noexcept;
    Phase phase_of(unsigned i) const noexcept { return slots_[i]->phase; }
    Task<int> wait_signal_or_request(SignalSet sigs);

    RuntimeConfig cfg_;
    std::vector<std::unique_ptr<Slot>> slots_;
    std::unique_ptr<Loop> loop0_;  // use_calling_thread: loop 0, on the Runtime's thread
    std::thread::id owner_;
    sigset_t old_mask_{};
    std::vector<int> cpus_;     // the CPUs allowed when the Runtime was made
    cpu_set_t old_affinity_{};  // the calling thread's, restored when pinned
    bool restore_affinity_ = false;
    Runtime* prev_runtime_ = nullptr;
    unsigned prev_index_ = 0;

    std::mutex start_mu_;
    std::condition_variable start_cv_;
    unsigned started_ = 0;

    std::atomic<bool> closing_{false};  // spawn_on refuses new tasks
    std::atomic<int> posters_{0};       // spawn_on calls between check and post
    std::atomic<unsigned> arrived_[barriers] = {};
    std::mutex final_mu_;
    std::condition_variable final_cv_;
    unsigned final_arrived_ = 0;
    TimePoint graceful_deadline_{};
    TimePoint cancel_deadline_{};
    unsigned live_loops_ = 0;
    bool shut_ = false;
    std::atomic<bool> shutdown_started_{false};
    std::atomic<bool> shutdown_requested_{false};
    Event request_event_;  // loop 0's: set when request_shutdown() arrives
};

template <class T>
T RemoteHandle<T>::get() {
    if (Loop* l = Loop::current_or_null()) {
        if (l->running()) {
            throw std::logic_error(
                "RemoteHandle::get() inside a running loop would block it: co_await the handle");
        }
        auto wait = [](RemoteHandle& h) -> Task<T> { co_return co_await h; };
        return l->block_on(wait(*this));
    }
    {
        std::unique_lock lk(s_->mu);
        s_->cv.wait(lk, [&] { return s_->phase == detail::RemoteStateBase::Phase::finished; });
    }
    std::lock_guard lk(s_->mu);
    return s_->take();
}

}  // namespace corio
