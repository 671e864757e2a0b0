#pragma once
// TaskGroup: a scope for tasks started one by one that never lets a child
// outlive it. Children run concurrently on this loop; `co_await group.wait()`
// returns when all have finished and rethrows the first exception (which also
// asked the others to stop). Destroying a group with children still running
// is a bug: it logs and terminates, like a joinable std::thread.

#include <coroutine>
#include <cstddef>
#include <exception>
#include <utility>

#include <corio/runtime/cancel.hpp>
#include <corio/runtime/detail/child_task.hpp>
#include <corio/runtime/log.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/task.hpp>

namespace corio {

/// A scope for tasks started one by one on the current loop: no child outlives
/// it. `co_await group.wait()` returns once every child has finished and
/// rethrows the first exception (which also stops the others). Destroying it
/// with children still running logs and terminates.
class TaskGroup {
public:
    /// An empty group on the current loop.
    TaskGroup() noexcept : loop_(&Loop::current()) {}
    TaskGroup(const TaskGroup&) = delete;
    TaskGroup& operator=(const TaskGroup&) = delete;
    /// Terminates (after logging) if children are still running: await wait() first.
    ~TaskGroup();

    /// Starts `t` at the loop's next turn, as a child of this group.
    void spawn(Task<void> t);
    /// Asks every child to stop (their pending operations are cancelled).
    void cancel() noexcept { stop_.request_stop(); }
    /// Children not finished yet.
    std::size_t size() const noexcept { return live_; }

    /// Awaiter of wait().
    struct WaitAwaiter {
        TaskGroup* g;  ///< the group waited for
        /// Awaiter protocol: ready when no child is left; otherwise resumed by
        /// the last child to finish (stopping the waiting task stops the
        /// children); then rethrows the first exception of a child, if any.
        ///@{
        bool await_ready() const noexcept { return g->live_ == 0; }
        template <class P>
        void await_suspend(std::coroutine_handle<P> h) noexcept {
            g->waiter_ = h;
            // Cancelling the waiting task cancels the children it waits for.
            StopToken t = detail::stop_token_of(h);
            if (t.stop_possible()) {
                g->link_.g = g;
                g->link_.fn = [](StopCallbackBase* b) noexcept {
                    static_cast<Link*>(b)->g->cancel();
                };
                t.add(g->link_);
            }
        }
        void await_resume() {
            g->link_.unlink();
            if (g->first_exception_) {
                std::exception_ptr e = std::exchange(g->first_exception_, nullptr);
                std::rethrow_exception(e);
            }
        }
        ///@}
    };
    /// Waits until every child has finished; rethrows the first exception.
    WaitAwaiter wait() noexcept { return WaitAwaiter{this}; }

private:
    struct Link : StopCallbackBase {
        TaskGroup* g = nullptr;
    };
    static detail::ChildTask child(Task<void> t, TaskGroup* g);
    static std::coroutine_handle<> child_done(void* ctx) noexcept;

    Loop* loop_;
    StopSource stop_;
    Link link_;
    std::coroutine_handle<> waiter_{};
    std::exception_ptr first_exception_{};
    std::size_t live_ = 0;
};

inline detail::ChildTask TaskGroup::child(Task<void> t, TaskGroup* g) {
    try {
        co_await std::move(t);
    } catch (...) {
        if (!g->first_exception_) {
            g->first_exception_ = std::current_exception();
            g->cancel();
        }
    }
}

inline std::coroutine_handle<> TaskGroup::child_done(void* ctx) noexcept {
    auto* g = static_cast<TaskGroup*>(ctx);
    if (--g->live_ == 0 && g->waiter_) return std::exchange(g->waiter_, {});
    return {};
}

inline void TaskGroup::spawn(Task<void> t) {
    detail::ChildTask c = child(std::move(t), this);
    auto h = std::exchange(c.h, {});
    h.promise().on_done = &child_done;
    h.promise().ctx = this;
    h.promise().self_destroy = true;
    h.promise().stop = stop_.token();
    ++live_;
    loop_->schedule(h);
}

inline TaskGroup::~TaskGroup() {
    if (live_ != 0) {
        log_error("TaskGroup destroyed with {} children still running: await wait() first",
                  live_);
        std::terminate();
    }
}

}  // namespace corio
