#pragma once
// Loop: one thread's scheduler. A run queue of ready coroutines, a timer heap
// and one backend (io_uring or epoll). Each turn runs the ready work, submits
// everything prepared since the last turn in one system call, delivers every
// completion that is there, and waits only when nothing is ready.

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

#include <corio/runtime/backend.hpp>
#include <corio/runtime/blocking_pool.hpp>
#include <corio/runtime/cancel.hpp>
#include <corio/runtime/clock.hpp>
#include <corio/runtime/detail/op_state.hpp>
#include <corio/runtime/detail/ready_queue.hpp>
#include <corio/runtime/detail/stats.hpp>
#include <corio/runtime/detail/timer_queue.hpp>
#include <corio/runtime/epoll_backend.hpp>
#include <corio/runtime/task.hpp>
#include <corio/runtime/uring_backend.hpp>

namespace corio {

namespace detail {
class SimIo;
}

/// How a Loop is made.
struct LoopOptions {
    /// `automatic`: io_uring when it starts, else epoll. CORIO_BACKEND
    /// (auto|io_uring|epoll) replaces `automatic`; an explicit choice wins.
    BackendChoice backend = BackendChoice::automatic;
    unsigned sq_entries = 256;      ///< io_uring submission queue size
    unsigned cq_entries = 0;        ///< completion queue size; 0 = 4 x sq_entries
    bool sqpoll = false;            ///< a kernel thread polls the SQ (burns a core)
    unsigned blocking_threads = 4;  ///< blocking-pool threads (started on first use)
    /// Awaits that finish without waiting (an operation done at once, a
    /// timer already due, any await of a cancelled task) resume their
    /// coroutine inline; after this many in one run the coroutine yields, so
    /// the others, the timers and a Runtime's shutdown deadlines get a turn.
    unsigned inline_budget = 64;
    /// io_uring: slots in the registered descriptor table (0: none). Sockets
    /// take a slot while one is free; operations on them then name the slot
    /// (IOSQE_FIXED_FILE) and the kernel skips the descriptor lookup.
    unsigned fixed_files = 4096;
    /// Run ready coroutines in a seeded random order within each turn.
    /// `CORIO_SHUFFLE=<seed>` sets it when this is empty.
    std::optional<std::uint64_t> shuffle_seed{};
    /// Use a manual clock (tests); null = the steady clock.
    ManualClock* clock = nullptr;
    /// Honour CORIO_BACKEND and CORIO_SHUFFLE.
    bool use_env = true;
    /// Set by sim::World for the loop of a simulated host: the loop then has
    /// no kernel backend (no descriptor, no system call for I/O); its
    /// operations go to this simulated kernel and `clock` is the world's.
    detail::SimIo* sim = nullptr;
};

namespace detail {
struct BackendAccess;
struct SpawnBase;
template <class T>
struct SpawnPromise;
}  // namespace detail

template <class T>
class JoinHandle;

namespace detail {
// initial-exec: a plain %fs-relative load instead of a __tls_get_addr call
// per operation when corio is built position-independent. The declaration
// and the definition must agree.
extern thread_local Loop* t_current_loop __attribute__((tls_model("initial-exec")));
/// Logs that `what` happened on a thread that does not own the loop, and aborts.
[[noreturn]] void wrong_thread(const char* what) noexcept;
}  // namespace detail

/// A single-threaded event loop. Create it on the thread that runs it (an
/// io_uring with SINGLE_ISSUER belongs to the thread that made it); it becomes
/// that thread's Loop::current() while it lives (unless one already is).
class Loop {
public:
    /// Throws BackendError when the requested backend cannot start
    /// (`automatic` falls back to epoll instead, and says why in report()).
    explicit Loop(LoopOptions opts = {});
    /// Tears the loop down: asks every spawned task to stop and lets them
    /// unwind (up to 2 s), cancels what the kernel still holds and waits for
    /// its completions, then destroys what is left (a frame whose operation
    /// never comes back is leaked rather than freed under the kernel).
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    /// The loop running on (or made on) this thread; terminates with a message
    /// when there is none: operations need a loop.
    static Loop& current() noexcept;
    /// The loop running on (or made on) this thread, or null.
    static Loop* current_or_null() noexcept;
    /// The current loop if it is the one with `id` (see id()), else null:
    /// for state registered with one loop's ring (a descriptor slot, buffers)
    /// that may outlive it or travel to another thread.
    static Loop* current_if(std::uint64_t id) noexcept {
        Loop* l = current_or_null();
        return l != nullptr && l->id() == id ? l : nullptr;
    }

    /// The backend the loop runs on.
    BackendKind kind() const noexcept { return kind_; }
    /// Which backend and why, with the kernel's capabilities.
    const BackendReport& report() const noexcept { return report_; }
    /// What the kernel offered (report().caps).
    const Caps& caps() const noexcept { return report_.caps; }
    /// The loop's counters.
    const LoopStats& stats() const noexcept { return stats_; }
    /// The options the loop was made with (after CORIO_* were applied).
    const LoopOptions& options() const noexcept { return opts_; }

    /// Starts `t` on this loop (at its next turn) without waiting for it. The
    /// handle can be awaited for the result, cancelled, or dropped (detaching
    /// the task; an exception escaping a detached task is logged and counted).
    template <class T>
    JoinHandle<T> spawn(Task<T> t);
    /// Like spawn, for a task that runs for the program's life (a ticker, a
    /// metrics flusher, a cache refresher): a Runtime's graceful shutdown
    /// cancels it at once instead of waiting up to shutdown_deadline for it
    /// to finish, as it does for ordinary (in-flight) tasks.
    template <class T>
    JoinHandle<T> spawn_background(Task<T> t);

    /// Runs the loop until `t` finishes; returns its value or rethrows. Throws
    /// std::logic_error if called while this loop is already running, or if
    /// the task waits for something that can never happen.
    template <class T>
    T block_on(Task<T> t);

    /// Runs until stop() is called or no spawned task is left.
    void run();
    /// Runs the ready work and the due timers once, without waiting for
    /// anything; true if a task ran or a timer fired. A sim::World drives
    /// the loops of its hosts with it.
    bool run_once();
    /// Runs until stop() is called, even with nothing to do (a loop that
    /// receives work from other threads).
    void run_until_stopped();
    /// Makes run()/run_until_stopped() return after the current turn. Not
    /// thread-safe: from another thread, post a message instead.
    void stop() noexcept { stop_ = true; }
    /// True while run(), run_until_stopped(), run_until() or block_on() runs it.
    bool running() const noexcept { return running_; }
    /// True while the loop is being torn down: nothing new is submitted.
    bool shutting_down() const noexcept { return closing_; }

    /// The loop's time (the manual clock if it has one).
    TimePoint now() const noexcept { return clock_ != nullptr ? clock_->now() : Clock::now(); }
    /// The loop's time as of this turn: read at most once per turn (the
    /// timer pass's reading when there was one), so it may lag now() by the
    /// time the turn's tasks have run. For deadlines that tolerate that,
    /// taken often (an HTTP connection's timeouts, per request); timers and
    /// operation timeouts use now(). With a manual clock, the clock.
    TimePoint turn_now() const noexcept {
        if (clock_ != nullptr) return clock_->now();
        if (!turn_now_valid_) {
            turn_now_ = Clock::now();
            turn_now_valid_ = true;
        }
        return turn_now_;
    }

    // ---- for awaitables (the building blocks of operations) ----

    /// Queues `h` to be resumed at this loop's next turn.
    void schedule(std::coroutine_handle<> h) {
        check_owner("resuming a coroutine");
        ready_.push(h);
    }

    /// A number no other loop of the process has had (1, 2, ...). Unlike the
    /// loop's address, which a loop made later may reuse (a temporary loop
    /// per corio::block_on call), it names this loop's ring and tables alone.
    std::uint64_t id() const noexcept { return id_; }

    /// True on the thread that made the loop (the only one that may run it).
    bool on_owner_thread() const noexcept { return pthread_equal(owner_, ::pthread_self()) != 0; }
    /// Logs and aborts when called on another thread than the loop's own. A
    /// coroutine belongs to the loop it runs on; moving one to another loop's
    /// thread by accident would corrupt both loops. In every build: this is
    /// header code, and a user's -DNDEBUG must not turn it off (one
    /// pthread_self() and a compare).
    void check_owner(const char* what) const noexcept {
        if (!on_owner_thread()) [[unlikely]]
            detail::wrong_thread(what);
    }

    /// Runs until `done()` is true (checked after every turn's ready work),
    /// even when no spawned task is left. Whatever makes `done()` true must
    /// also wake the loop (a timer, an operation, a post_remote).
    template <class Pred>
    void run_until(Pred done) {
        run_while_not(std::move(done), false);
    }
    /// Delivers what other threads have posted so far, now (loop thread only).
    void process_remote() { drain_remote(); }

    /// Cross-loop wake-ups with IORING_OP_MSG_RING: loops made by one Runtime
    /// share a `group`; a loop that may `send` wakes the other io_uring loops
    /// of its group by a message on its own ring (no system call of its own:
    /// it goes with the loop's next submission) instead of an eventfd write.
    /// The group's owner must keep every ring open while a message may be on
    /// its way to it (see Runtime's shutdown). Loop thread only, before any
    /// other thread may post to the loop.
    void set_msg_ring(const void* group, bool send) noexcept {
        msg_group_ = group;
        msg_send_ =
            send && group != nullptr && kind_ == BackendKind::io_uring && report_.caps.msg_ring;
    }
    /// Stops this loop's MSG_RING wake-ups (later ones use the eventfd).
    void disable_msg_ring_send() noexcept { msg_send_ = false; }
    /// MSG_RING wake-ups this loop sent whose completion has not come back.
    unsigned msg_ring_inflight() const noexcept { return msg_inflight_; }
    /// io_uring: a completion whose user_data carries a tag in its low bits
    /// (a MSG_RING wake-up received or sent). Called by the backend.
    void on_tagged_cqe(std::uint64_t user_data, int res) noexcept;
    /// Whether an op's inline pre-try (`fast_path`, such as a RWF_NOWAIT read)
    /// pays now: always on epoll (it skips the blocking pool); on io_uring only
    /// for an operation that would be submitted alone (see lone_submission).
    bool fast_path_pays() const noexcept {
        return kind_ != BackendKind::io_uring ? kind_ == BackendKind::epoll
                                              : uring_->lone_submission();
    }
    /// The simulated kernel of a sim loop; null on a real backend.
    detail::SimIo* sim_io() const noexcept { return sim_; }
    /// True while an operation may resume its coroutine inline; counts one use.
    bool take_inline_budget() noexcept {
        if (inline_left_ == 0) return false;
        --inline_left_;
        ++stats_.inline_done;
        return true;
    }
    /// For an awaiter that is done without waiting (an operation done at once,
    /// a timer already due, a lock that was free, any await of a cancelled
    /// task): false (resume inline) while the inline budget lasts,
    /// otherwise queues `h` for a later turn and gives true. A task that loops
    /// over such awaits, ignoring their results, still lets the loop reach its
    /// timers, its I/O and a Runtime's shutdown deadlines.
    bool suspend_over_budget(std::coroutine_handle<> h) noexcept {
        if (take_inline_budget()) return false;
        schedule(h);
        return true;
    }
    /// Runs `st` (its `retry` call) on the loop's blocking pool, started on
    /// first use; the result comes back through the loop's remote queue.
    void submit_blocking(detail::OpState& st);
    /// The loop's timer heap (timers, sleeps and `.timeout(d)` on epoll).
    detail::TimerQueue& timers() noexcept { return timers_; }
    /// The counters, for the code that counts.
    LoopStats& mutable_stats() noexcept { return stats_; }
    /// Asks whichever engine holds `st` to cancel it; `st` still completes.
    void cancel_op(detail::OpState& st);
    /// Thread-safe: hands a finished `st` (res set) back to this loop, which
    /// calls st.on_complete on its own thread. Wakes the loop if it sleeps.
    void post_remote(detail::OpState& st);
    /// Forgets corio's readiness registration of `fd` (epoll); call before
    /// closing a descriptor an operation ever waited on.
    /// `fd` is about to be closed: operations still waiting on it end with
    /// std::errc::operation_canceled on both backends (epoll: its waiters are
    /// completed and its registration dropped; io_uring: an ASYNC_CANCEL of
    /// every request on `fd` goes to the kernel ahead of the close).
    void release_fd(int fd) noexcept;
    /// Closes `fd` after release_fd, synchronously (on io_uring the cancel is
    /// submitted first, while the number still names the file).
    void close_fd(int fd) noexcept;

    /// io_uring only (-EOPNOTSUPP on epoll): registers `n` buffers for the
    /// fixed-buffer operations (READ_FIXED, WRITE_FIXED); one set per loop.
    int register_buffers(const struct iovec* iov, unsigned n) noexcept;
    /// io_uring only: unregisters the buffers of register_buffers; 0 or -errno.
    int unregister_buffers() noexcept;
    /// io_uring only: registers a provided-buffer ring of `entries` (a power of
    /// two) at `ring` (page-aligned) as buffer group `group`.
    int register_buf_ring(void* ring, unsigned entries, std::uint16_t group) noexcept;
    /// io_uring only: unregisters buffer group `group`; 0 or -errno.
    int unregister_buf_ring(std::uint16_t group) noexcept;

    /// io_uring: puts `fd` into a free slot of the registered descriptor table
    /// (an IORING_OP_FILES_UPDATE that goes with the turn's submit, before any
    /// operation that names the slot). Gives the slot, or -1 (no table, table
    /// full, epoll): the descriptor is then used as it is.
    int register_fd(int fd) noexcept;
    /// Empties `slot` (in submission order, so operations submitted before
    /// still see it); the slot is reused only after the next submit.
    void unregister_fd(int slot) noexcept;
    /// Slots in use in the registered descriptor table.
    unsigned fixed_files_in_use() const noexcept {
        return static_cast<unsigned>(slot_fds_.size() - free_slots_.size() - retired_slots_.size());
    }

    /// Takes over a heap-held operation state whose owner is gone while the
    /// kernel still holds it (a closed multishot stream): `free` runs when its
    /// last completion arrives (the state calls `orphan_done`), or at loop
    /// teardown once the kernel has let go of it.
    void adopt_orphan(detail::OpState& st, void (*free)(detail::OpState*) noexcept);
    /// The last completion of an adopted state arrived: frees it.
    void orphan_done(detail::OpState& st) noexcept;
    /// Something on another thread will post to this loop (a channel waiter,
    /// a remote handle): until drop_remote_ref(), an idle loop waits for it
    /// instead of reporting a deadlock.
    void add_remote_ref() noexcept { remote_refs_.fetch_add(1, std::memory_order_relaxed); }
    /// Undoes one add_remote_ref().
    void drop_remote_ref() noexcept { remote_refs_.fetch_sub(1, std::memory_order_relaxed); }

    /// Requests stop on every task spawned on this loop.
    void cancel_all() noexcept;
    /// Requests stop on every task started with spawn_background.
    void cancel_background() noexcept;
    /// Number of spawned tasks not yet finished.
    std::size_t live_tasks() const noexcept { return live_; }

private:
    friend struct detail::BackendAccess;
    friend struct detail::SpawnBase;
    template <class T>
    friend struct detail::SpawnPromise;

    template <class Pred>
    void run_while_not(Pred done, bool stop_when_idle);
    // While one of the run calls runs: the loop is the thread's current one
    // and running() is true; the previous current loop comes back at the end.
    // Throws when the loop already runs or another thread owns it.
    class RunningScope {
    public:
        explicit RunningScope(Loop& l) : loop_(l) {
            if (l.running_) {
                throw std::logic_error("corio: the loop is already running on this thread");
            }
            l.check_owner("running a loop");
            saved_ = current_or_null();
            detail::t_current_loop = &l;
            l.running_ = true;
        }
        ~RunningScope() {
            loop_.running_ = false;
            detail::t_current_loop = saved_;
        }
        RunningScope(const RunningScope&) = delete;
        RunningScope& operator=(const RunningScope&) = delete;

    private:
        Loop& loop_;
        Loop* saved_ = nullptr;
    };
    // false: would wait forever (deadlock). A wait lasts at most max_wait.
    bool turn(bool may_wait, std::chrono::nanoseconds max_wait = std::chrono::nanoseconds::max());
    void run_ready();
    void fire_timers();
    void arm_wake();
    void on_wake();
    void drain_remote();
    void wake_remote();
    void register_task(detail::SpawnBase& s) noexcept;
    void unregister_task(detail::SpawnBase& s) noexcept;
    void shutdown() noexcept;
    void shutdown_sim() noexcept;

    detail::ReadyQueue ready_;
    detail::TimerQueue timers_;
    LoopStats stats_;
    BackendKind kind_ = BackendKind::epoll;
    unsigned inline_left_ = 0;
    bool stop_ = false;
    bool running_ = false;
    std::unique_ptr<detail::UringBackend> uring_;
    std::unique_ptr<detail::EpollBackend> epoll_;
    std::unique_ptr<detail::BlockingPool> pool_;
    detail::SimIo* sim_ = nullptr;
    ManualClock* clock_ = nullptr;
    mutable TimePoint turn_now_{};  // turn_now(): valid until the next wait
    mutable bool turn_now_valid_ = false;
    std::optional<std::mt19937_64> shuffle_;
    LoopOptions opts_;
    BackendReport report_;
    Loop* prev_current_ = nullptr;

    // Spawned tasks, so that shutdown can cancel and reclaim them.
    detail::SpawnBase* tasks_ = nullptr;
    std::size_t live_ = 0;

    // Completions and messages from other threads.
    std::mutex remote_mu_;
    detail::OpState* remote_head_ = nullptr;
    detail::OpState* remote_tail_ = nullptr;
    std::atomic<bool> remote_signalled_{false};
    std::atomic<int> remote_refs_{0};
    int wake_fd_ = -1;
    std::uint64_t wake_buf_ = 0;
    detail::OpState wake_op_;
    std::size_t pool_jobs_ = 0;  // blocking-pool jobs of this loop not yet delivered

    std::uint64_t id_;                 // see id()
    pthread_t owner_;                  // the thread that made the loop
    const void* msg_group_ = nullptr;  // MSG_RING wake-ups only within one group
    bool msg_send_ = false;            // this loop may wake others by MSG_RING
    unsigned msg_inflight_ = 0;        // MSG_RING wake-ups sent, completion pending
    bool closing_ = false;             // teardown: the wake-up read is not re-armed

    struct Orphan {
        detail::OpState* st;
        void (*free)(detail::OpState*) noexcept;
    };
    std::vector<Orphan> orphans_;

    // The registered descriptor table: the descriptor each slot is to hold
    // (read by the kernel when the FILES_UPDATE runs), free slots, and slots
    // emptied this turn (free again after the next submit).
    std::vector<int> slot_fds_;
    std::vector<int> free_slots_;
    std::vector<int> retired_slots_;
};

namespace detail {
/// The backend objects, for runtime/ only (operation drivers). Nothing outside
/// runtime/ touches a backend: it speaks in operations.
struct BackendAccess {
    static UringBackend& uring(Loop& l) noexcept { return *l.uring_; }
    static EpollBackend& epoll(Loop& l) noexcept { return *l.epoll_; }
    static SimIo& sim(Loop& l) noexcept { return *l.sim_; }
};
}  // namespace detail

/// Resumes the awaiting coroutine at the loop's next turn.
struct YieldAwaiter {
    /// Awaiter protocol: always suspends and queues the coroutine on the
    /// current loop's run queue.
    ///@{
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) const { Loop::current().schedule(h); }
    void await_resume() const noexcept {}
    ///@}
};
/// `co_await yield()` lets every other ready coroutine run first.
inline YieldAwaiter yield() noexcept {
    return {};
}

namespace detail {

struct SpawnBase : PromiseBase {
    Loop* loop = nullptr;
    SpawnBase* reg_prev = nullptr;
    SpawnBase* reg_next = nullptr;
    StopSource stop_source;
    std::coroutine_handle<> joiner{};
    std::coroutine_handle<> self{};
    int refs = 2;  // the frame itself and the JoinHandle
    bool finished = false;
    bool observed = false;
    bool background = false;  // spawn_background: shutdown does not wait for it

    SpawnBase() noexcept { stop = stop_source.token(); }

    void report_unobserved() noexcept;

    struct Final {
        bool await_ready() const noexcept { return false; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
            SpawnBase& p = h.promise();
            p.finished = true;
            p.loop->unregister_task(p);
            std::coroutine_handle<> next = p.joiner ? p.joiner : std::noop_coroutine();
            if (--p.refs == 0) {
                // Nobody holds a handle: the result has no reader.
                if (p.exception) p.report_unobserved();
                h.destroy();
            }
            return next;
        }
        void await_resume() const noexcept {}
    };
    Final final_suspend() const noexcept { return {}; }
};

template <class T>
struct SpawnPromise : SpawnBase {
    std::coroutine_handle<SpawnPromise> get_return_object() noexcept {
        return std::coroutine_handle<SpawnPromise>::from_promise(*this);
    }
    template <class U>
    void return_value(U&& v) {
        value.emplace(std::forward<U>(v));
    }
    T take() {
        observed = true;
        rethrow_if_exception();
        return std::move(*value);
    }
    std::optional<T> value;
};

template <class T>
struct SpawnPromise<T&> : SpawnBase {
    std::coroutine_handle<SpawnPromise> get_return_object() noexcept {
        return std::coroutine_handle<SpawnPromise>::from_promise(*this);
    }
    void return_value(T& v) noexcept { ptr = std::addressof(v); }
    T& take() {
        observed = true;
        rethrow_if_exception();
        return *ptr;
    }
    T* ptr = nullptr;
};

template <>
struct SpawnPromise<void> : SpawnBase {
    std::coroutine_handle<SpawnPromise> get_return_object() noexcept {
        return std::coroutine_handle<SpawnPromise>::from_promise(*this);
    }
    void return_void() noexcept {}
    void take() {
        observed = true;
        rethrow_if_exception();
    }
};

template <class T>
struct SpawnFrame {
    using promise_type = SpawnPromise<T>;
    std::coroutine_handle<promise_type> h;
    SpawnFrame(std::coroutine_handle<promise_type> x) noexcept : h(x) {}  // NOLINT
};

template <class T>
SpawnFrame<T> spawn_entry(Task<T> t) {
    // A local, not the parameter: the task's frame (and what its parameters
    // own) is destroyed before the joiner resumes, not when the JoinHandle goes.
    Task<T> inner = std::move(t);
    if constexpr (std::is_void_v<T>) {
        co_await std::move(inner);
    } else {
        co_return co_await std::move(inner);
    }
}

}  // namespace detail

/// The handle of a spawned task. Move-only. Awaiting it gives the task's value
/// (or rethrows its exception); dropping it detaches the task. A JoinHandle
/// must not outlive its Loop.
template <class T>
class [[nodiscard]] JoinHandle {
public:
    /// The promise of the spawned frame.
    using promise_type = detail::SpawnPromise<T>;
    /// A handle of no task.
    JoinHandle() noexcept = default;
    /// A handle of the spawned frame `h` (Loop::spawn makes them).
    explicit JoinHandle(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
    /// Takes over `o`'s task; `o` refers to none.
    JoinHandle(JoinHandle&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    /// Detaches the task held (if any) and takes over `o`'s.
    JoinHandle& operator=(JoinHandle&& o) noexcept {
        if (this != &o) {
            release();
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    /// Detaches the task (it runs on); see detach().
    ~JoinHandle() { release(); }

    /// True once the task has finished (value or exception).
    bool done() const noexcept {
        if (!h_) return false;
        h_.promise().loop->check_owner("JoinHandle::done() of a task of another loop");
        return h_.promise().finished;
    }
    /// Requests stop on the task: its pending operations are cancelled.
    void cancel() noexcept {
        if (!h_) return;
        h_.promise().loop->check_owner("JoinHandle::cancel() of a task of another loop");
        h_.promise().stop_source.request_stop();
    }
    /// Lets the task run on unobserved.
    void detach() noexcept { release(); }

    /// `co_await handle`: the task's value (or its exception). Stopping the
    /// awaiting task (with_timeout, a when_any it lost, a cancel) stops the
    /// joined task too; the awaiter still waits for it to finish, so nothing
    /// is left running behind its back.
    class Awaiter {
    public:
        /// Awaits the task of `h`.
        explicit Awaiter(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
        Awaiter(const Awaiter&) = delete;
        Awaiter& operator=(const Awaiter&) = delete;
        /// Stops forwarding the awaiting task's stop requests.
        ~Awaiter() { stop_.unlink(); }

        /// Awaiter protocol: ready when the task has finished; otherwise the
        /// awaiting coroutine is resumed when it does (and its stop requests
        /// are forwarded to the task meanwhile); then the task's value, or
        /// its exception rethrown.
        ///@{
        bool await_ready() const noexcept {
            h_.promise().loop->check_owner("awaiting the JoinHandle of a task of another loop");
            return h_.promise().finished;
        }
        template <class P>
        void await_suspend(std::coroutine_handle<P> h) noexcept {
            auto& p = h_.promise();
            p.joiner = h;
            StopToken tok = detail::stop_token_of(h);
            if (tok.stop_requested()) {
                p.stop_source.request_stop();
            } else if (tok.stop_possible()) {
                stop_.p = &p;
                stop_.fn = [](StopCallbackBase* b) noexcept {
                    static_cast<StopNode*>(b)->p->stop_source.request_stop();
                };
                tok.add(stop_);
            }
        }
        T await_resume() {
            stop_.unlink();
            return h_.promise().take();
        }
        ///@}

    private:
        struct StopNode : StopCallbackBase {
            detail::SpawnBase* p = nullptr;
        };
        std::coroutine_handle<promise_type> h_;
        StopNode stop_;
    };
    /// `co_await handle` (or `co_await std::move(handle)`): see Awaiter.
    ///@{
    Awaiter operator co_await() & noexcept { return Awaiter(h_); }
    Awaiter operator co_await() && noexcept { return Awaiter(h_); }
    ///@}

    /// The result of a finished task (block_on uses it).
    T take_result() { return h_.promise().take(); }

private:
    void release() noexcept {
        if (!h_) return;
        auto& p = h_.promise();
        p.loop->check_owner("dropping the JoinHandle of a task of another loop");
        if (--p.refs == 0) {
            if (p.exception && !p.observed) p.report_unobserved();
            h_.destroy();
        }
        h_ = {};
    }
    std::coroutine_handle<promise_type> h_{};
};

template <class T>
JoinHandle<T> Loop::spawn(Task<T> t) {
    check_owner("Loop::spawn from another thread (use Runtime::spawn_on)");
    auto frame = detail::spawn_entry<T>(std::move(t));
    auto& p = frame.h.promise();
    p.loop = this;
    p.self = frame.h;
    register_task(p);
    ++stats_.spawned;
    schedule(frame.h);
    return JoinHandle<T>(frame.h);
}

template <class T>
JoinHandle<T> Loop::spawn_background(Task<T> t) {
    check_owner("Loop::spawn_background from another thread (use Runtime::spawn_background_on)");
    auto frame = detail::spawn_entry<T>(std::move(t));
    auto& p = frame.h.promise();
    p.loop = this;
    p.self = frame.h;
    p.background = true;
    register_task(p);
    ++stats_.spawned;
    schedule(frame.h);
    return JoinHandle<T>(frame.h);
}

/// Spawns on the current thread's loop.
template <class T>
JoinHandle<T> spawn(Task<T> t) {
    return Loop::current().spawn(std::move(t));
}

template <class Pred>
void Loop::run_while_not(Pred done, bool stop_when_idle) {
    RunningScope running(*this);
    stop_ = false;
    for (;;) {
        run_ready();
        fire_timers();
        if (done() || stop_) return;
        if (stop_when_idle && live_ == 0 && ready_.empty()) return;
        if (!turn(true)) {
            throw std::logic_error(
                "corio: deadlock: every task waits for something that can never happen "
                "(no operation in flight, no timer, no other thread that may post)");
        }
    }
}

template <class T>
T Loop::block_on(Task<T> t) {
    JoinHandle<T> h = spawn(std::move(t));
    run_while_not([&] { return h.done(); }, false);
    return h.take_result();
}

/// Runs `t` to completion on a new loop made with `opts`; for calling async
/// code from plain synchronous code. Throws std::logic_error when called
/// inside a running task (co_await the task there).
template <class T>
T block_on(Task<T> t, LoopOptions opts = {}) {
    if (Loop* cur = Loop::current_or_null(); cur != nullptr && cur->running()) {
        // The inner loop would block the outer one, and the outer one would be
        // left holding the inner loop as its thread's current loop.
        throw std::logic_error(
            "corio::block_on called inside a running task: it would block this thread's loop; "
            "co_await the task instead");
    }
    Loop loop(std::move(opts));
    return loop.block_on(std::move(t));
}

}  // namespace corio
