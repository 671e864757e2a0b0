#pragma once
// Synchronisation between tasks of one loop: Semaphore, Mutex, Event.
//
// Nothing here blocks a thread: a task that must wait is suspended and queued
// (FIFO, no allocation: the queue node lives in the awaiter), and resumed by
// the loop when its turn comes. Waiting is cancellable: a stopped task leaves
// the queue, takes nothing, and resumes with std::errc::operation_canceled.
// No lock, no atomic: these belong to one loop (using one from another loop's
// thread is caught in debug builds). Between loops, use a SharedChannel.

#include <coroutine>
#include <cstddef>
#include <system_error>
#include <utility>

#include <corio/runtime/cancel.hpp>
#include <corio/runtime/detail/wait_queue.hpp>
#include <corio/runtime/log.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/result.hpp>
#include <corio/runtime/task.hpp>

namespace corio {

namespace detail {

/// What every primitive here shares: its waiters and the loop it belongs to.
class SyncBase {
public:
    struct Waiter : WaitNode {
        std::coroutine_handle<> h{};
        Loop* loop = nullptr;
        std::error_code ec{};
    };

protected:
    SyncBase() noexcept = default;
    SyncBase(const SyncBase&) = delete;
    SyncBase& operator=(const SyncBase&) = delete;
    ~SyncBase() {
        if (!waiters_.empty()) {
            log_error("{} destroyed while {} tasks wait on it", "corio sync primitive",
                      waiters_.size());
            std::terminate();
        }
    }

    // In every build (not only without NDEBUG): a primitive used from two
    // loops would corrupt both; a comparison per use is cheap.
    void check_thread() noexcept {
        if (home_ == nullptr) {
            home_ = Loop::current_or_null();
        } else {
            home_->check_owner("using a corio Semaphore/Mutex/Event made on another loop");
        }
    }
    /// Wakes the first waiter with success; false if there is none.
    bool wake_one() {
        Waiter* w = waiters_.pop_front();
        if (w == nullptr) return false;
        w->loop->schedule(w->h);
        return true;
    }

    /// The awaiter: `try_now()` is asked first (true = done, no waiting);
    /// otherwise the task joins the queue until woken or stopped.
    template <class Derived>
    class Awaiter : protected Waiter {
    public:
        explicit Awaiter(SyncBase* owner) noexcept : owner_(owner) {}
        Awaiter(const Awaiter&) = delete;
        Awaiter& operator=(const Awaiter&) = delete;
        ~Awaiter() {
            stop_.unlink();
            owner_->waiters_.erase(*this);
        }
        bool await_ready() const noexcept { return false; }
        template <class P>
        bool await_suspend(std::coroutine_handle<P> h) {
            owner_->check_thread();
            StopToken tok = stop_token_of(h);
            if (tok.stop_requested()) {
                ec = std::make_error_code(std::errc::operation_canceled);
                return Loop::current().suspend_over_budget(h);
            }
            if (static_cast<Derived*>(this)->try_now()) {
                // Done without waiting; still yield once the loop's inline
                // budget is spent, so a loop of these cannot starve the rest.
                return Loop::current().suspend_over_budget(h);
            }
            this->h = h;
            loop = &Loop::current();
            owner_->waiters_.push_back(*this);
            if (tok.stop_possible()) {
                stop_.self = this;
                stop_.fn = [](StopCallbackBase* b) noexcept {
                    Awaiter* self = static_cast<StopNode*>(b)->self;
                    if (!self->linked) return;  // already granted: keep it
                    self->owner_->waiters_.erase(*self);
                    self->ec = std::make_error_code(std::errc::operation_canceled);
                    self->loop->schedule(self->h);
                };
                tok.add(stop_);
            }
            return true;
        }

    protected:
        std::error_code finish() noexcept {
            stop_.unlink();
            return ec;
        }
        struct StopNode : StopCallbackBase {
            Awaiter* self = nullptr;
        };
        SyncBase* owner_;
        StopNode stop_;
    };

    WaitQueue<Waiter> waiters_;
    Loop* home_ = nullptr;
};

}  // namespace detail

/// A counting semaphore for tasks of one loop. acquire() takes one permit,
/// waiting (FIFO) while there is none; release() gives permits back, handing
/// them straight to waiters in order, so a newcomer never overtakes a waiter.
class Semaphore : detail::SyncBase {
public:
    /// A semaphore with `permits` permits available.
    explicit Semaphore(std::size_t permits) noexcept : count_(permits) {}

    /// Awaiter of acquire().
    class [[nodiscard]] AcquireAwaiter : public Awaiter<AcquireAwaiter> {
    public:
        /// Acquires a permit of `s`.
        explicit AcquireAwaiter(Semaphore* s) noexcept : Awaiter<AcquireAwaiter>(s) {}
        /// Takes a permit without waiting if it can (try_acquire()).
        bool try_now() noexcept { return static_cast<Semaphore*>(owner_)->try_acquire(); }
        /// Success, or std::errc::operation_canceled (no permit taken).
        Result<void> await_resume() noexcept { return finish(); }
    };

    /// `co_await sem.acquire()`: takes a permit, waiting for one if needed.
    /// std::errc::operation_canceled (and no permit taken) if the task is
    /// stopped while waiting.
    AcquireAwaiter acquire() noexcept { return AcquireAwaiter(this); }
    /// Takes a permit if one is free and nobody waits; never waits.
    bool try_acquire() noexcept {
        check_thread();
        if (count_ == 0 || !waiters_.empty()) return false;
        --count_;
        return true;
    }
    /// Returns `n` permits: each goes to the oldest waiter, if any, else back
    /// to the pool. Waiters resume at the loop's next turn.
    void release(std::size_t n = 1) {
        check_thread();
        for (; n > 0 && wake_one(); --n) {
        }
        count_ += n;
    }
    /// Permits free now.
    std::size_t available() const noexcept { return count_; }
    /// Tasks waiting now.
    std::size_t waiting() const noexcept { return waiters_.size(); }

private:
    std::size_t count_;
};

/// A mutual-exclusion lock for tasks of one loop (which never run in
/// parallel, but may interleave at every co_await). FIFO: the lock passes to
/// the oldest waiter. Use the guard: `auto g = co_await m.lock();`
class Mutex : detail::SyncBase {
public:
    /// An unlocked mutex.
    Mutex() noexcept = default;

    /// Holds the lock while it lives (move-only); unlocks when destroyed.
    class [[nodiscard]] Guard {
    public:
        /// A guard holding nothing.
        Guard() noexcept = default;
        /// Adopts a lock already held (after try_lock()).
        Guard(Mutex& m, std::adopt_lock_t) noexcept : m_(&m) {}
        /// Takes over `o`'s lock; `o` holds nothing.
        Guard(Guard&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
        /// Unlocks what this guard holds, then takes over `o`'s lock.
        Guard& operator=(Guard&& o) noexcept {
            if (this != &o) {
                unlock();
                m_ = std::exchange(o.m_, nullptr);
            }
            return *this;
        }
        /// Unlocks, if the guard still holds the lock.
        ~Guard() { unlock(); }
        /// Unlocks now (once).
        void unlock() noexcept {
            if (m_ != nullptr) std::exchange(m_, nullptr)->unlock();
        }
        /// True while this guard holds the lock.
        bool owns_lock() const noexcept { return m_ != nullptr; }

    private:
        Mutex* m_ = nullptr;
    };

    /// Awaiter of lock().
    class [[nodiscard]] LockAwaiter : public Awaiter<LockAwaiter> {
    public:
        /// Locks `m`.
        explicit LockAwaiter(Mutex* m) noexcept : Awaiter<LockAwaiter>(m) {}
        /// Takes the lock without waiting if it can (try_lock()).
        bool try_now() noexcept { return mutex()->try_lock(); }
        /// A Guard holding the lock, or std::errc::operation_canceled (not locked).
        Result<Guard> await_resume() noexcept {
            if (std::error_code e = finish()) return e;
            return Result<Guard>(Guard(*mutex(), std::adopt_lock));
        }

    private:
        Mutex* mutex() const noexcept { return static_cast<Mutex*>(owner_); }
    };

    /// `co_await m.lock()`: waits for the lock; gives a Guard that holds it.
    /// std::errc::operation_canceled (lock not taken) if the task is stopped
    /// while waiting.
    LockAwaiter lock() noexcept { return LockAwaiter(this); }
    /// Takes the lock if it is free and nobody waits; never waits.
    bool try_lock() noexcept {
        check_thread();
        if (locked_ || !waiters_.empty()) return false;
        locked_ = true;
        return true;
    }
    /// Releases the lock: it passes to the oldest waiter, if any.
    void unlock() {
        check_thread();
        if (!wake_one()) locked_ = false;
    }
    /// True while some task holds the lock.
    bool locked() const noexcept { return locked_; }

private:
    bool locked_ = false;
};

/// A flag tasks can wait for. set() wakes every waiter (in the order they
/// came) and lets later waits pass at once until reset().
class Event : detail::SyncBase {
public:
    /// An event, initially set if `initially_set`.
    explicit Event(bool initially_set = false) noexcept : set_(initially_set) {}

    /// Awaiter of wait().
    class [[nodiscard]] WaitAwaiter : public Awaiter<WaitAwaiter> {
    public:
        /// Waits for `e`.
        explicit WaitAwaiter(Event* e) noexcept : Awaiter<WaitAwaiter>(e) {}
        /// True (no waiting) while the event is set.
        bool try_now() const noexcept { return static_cast<Event*>(owner_)->set_; }
        /// Success once set, or std::errc::operation_canceled.
        Result<void> await_resume() noexcept { return finish(); }
    };

    /// `co_await ev.wait()`: returns when the event is set (at once if it is).
    /// std::errc::operation_canceled if the task is stopped while waiting.
    WaitAwaiter wait() noexcept { return WaitAwaiter(this); }
    /// Sets the event and wakes every waiter.
    void set() {
        check_thread();
        set_ = true;
        while (wake_one()) {
        }
    }
    /// Clears the event: later waits wait again.
    void reset() noexcept { set_ = false; }
    /// True while the event is set.
    bool is_set() const noexcept { return set_; }

private:
    bool set_;
};

}  // namespace corio
