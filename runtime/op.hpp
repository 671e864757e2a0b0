#pragma once
// The operation model: one plain struct per system call, one generic awaiter.
//
// An operation struct knows how to fill an io_uring SQE (`prep`), how to try
// its call once without blocking for the epoll backend (`attempt`), what it
// waits for there (`interest`), and how to turn the CQE-style result into a
// Result (`finish`). OpAwaiter drives any of them on either backend:
//
//   io_uring: take an SQE, prep, submit at the end of the turn, resume on
//             the CQE.
//   epoll:    try the call (unless the descriptor is known not ready); on
//             EAGAIN wait for readiness and retry; `blocking` calls run on
//             the blocking pool.
//
// The awaiter lives in the awaiting coroutine's frame and is resumed only
// after the kernel (or pool thread) is done with it, so buffers stay valid.
// A stop request on the task cancels the operation; it then resumes with
// std::errc::operation_canceled (or its real result, if that raced ahead).

#include <liburing.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <concepts>
#include <coroutine>
#include <type_traits>
#include <utility>

#include <corio/runtime/cancel.hpp>
#include <corio/runtime/detail/op_state.hpp>
#include <corio/runtime/detail/timer_queue.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/result.hpp>
#include <corio/runtime/task.hpp>

namespace corio {

/// What an operation struct provides. Optional members:
///   `int fd`                       (read/write interest: the descriptor waited on)
///   `static constexpr bool returns_fd` (a result >= 0 is a new descriptor: closed
///                                   if the operation was cancelled)
///   `static constexpr unsigned uring_opcode` (if the kernel lacks it, the
///                                   readiness path is used on io_uring too)
///   `static constexpr bool uring = false` (never submitted to io_uring: the
///                                   call runs inline or on the blocking pool
///                                   on both backends, e.g. getaddrinfo)
///   `int fast_path()`              (tried first on both backends; -EAGAIN = no)
///   `bool drained(int res) const`  (epoll: this result shows the descriptor has
///                                   nothing more now, e.g. a short read; the
///                                   next operation then waits for an edge
///                                   instead of trying a call that says EAGAIN)
///   `bool again(int res)`          (io_uring only: called with each positive
///                                   result; true = the op made progress but is
///                                   not finished, submit it again (a short
///                                   send_all); the awaiter resumes only when it
///                                   says false. `.timeout()` keeps bounding the
///                                   whole operation. On epoll `attempt` loops.)
template <class Op>
concept Operation = requires(Op& op, const Op& cop, io_uring_sqe* sqe, int res) {
    { Op::kind } -> std::convertible_to<OpKind>;
    { Op::interest } -> std::convertible_to<Interest>;
    cop.prep(sqe);
    { op.attempt() } -> std::same_as<int>;
    op.finish(res);
};

namespace detail {
/// The readiness an op waits for: `dynamic_interest()` if it has one.
template <class Op>
Interest interest_of(const Op& op) noexcept {
    if constexpr (requires { op.dynamic_interest(); }) {
        return op.dynamic_interest();
    } else {
        return Op::interest;
    }
}
template <class Op>
constexpr bool op_returns_fd() {
    if constexpr (requires { Op::returns_fd; }) {
        return Op::returns_fd;
    } else {
        return false;
    }
}
}  // namespace detail

/// Awaits one operation on the current loop. Usually made by a helper
/// (`sock.recv(buf)`) and awaited at once.
template <Operation Op>
class [[nodiscard]] OpAwaiter : private detail::OpState {
public:
    explicit OpAwaiter(Op op) noexcept : op_(std::move(op)) {
        loop = &Loop::current();
        kind = Op::kind;
    }
    OpAwaiter(OpAwaiter&& o) noexcept : detail::OpState(o), op_(std::move(o.op_)) {
        timeout_ = o.timeout_;
        has_timeout_ = o.has_timeout_;
    }
    OpAwaiter(const OpAwaiter&) = delete;
    OpAwaiter& operator=(const OpAwaiter&) = delete;
    OpAwaiter& operator=(OpAwaiter&&) = delete;
    ~OpAwaiter() {
        stop_cb_.unlink();
        if (timer_.armed()) loop->timers().remove(timer_);
    }

    /// Bounds the operation: when `d` passes first it is cancelled and
    /// resumes with std::errc::timed_out. On io_uring a linked timeout does
    /// it inside the kernel; on epoll the loop's timer.
    OpAwaiter&& timeout(std::chrono::nanoseconds d) && noexcept {
        has_timeout_ = true;
        timeout_ = d.count() < 0 ? std::chrono::nanoseconds(0) : d;
        return std::move(*this);
    }

    Op& op() noexcept { return op_; }

    bool await_ready() const noexcept { return false; }

    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) noexcept {
        StopToken tok = detail::stop_token_of(h);
        if (tok.stop_requested()) {
            res = -ECANCELED;
            cancel_requested = true;
            return false;
        }
        waiter = h;
        on_complete = &complete;
        if constexpr (requires { op_.fast_path(); }) {
            int r = op_.fast_path();
            if (r != -EAGAIN && loop->take_inline_budget()) {
                res = r;
                return false;
            }
            if (r != -EAGAIN) {
                res = r;
                loop->schedule(h);
                return true;
            }
        }
        if (loop->kind() == BackendKind::io_uring && uring_capable()) {
            if constexpr (has_again) {
                if (has_timeout_) deadline_ = loop->now() + timeout_;
            }
            submit_uring();
        } else {
            switch (Op::interest) {
                case Interest::none: {
                    res = op_.attempt();
                    if (loop->take_inline_budget()) return false;
                    loop->schedule(h);
                    return true;
                }
                case Interest::read:
                case Interest::write: {
                    if constexpr (requires { op_.fd; }) {
                        const Interest in = detail::interest_of(op_);
                        if (loop->kind() == BackendKind::epoll &&
                            loop->epoll().may_try(op_.fd, in)) {
                            int r = op_.attempt();
                            if (r != -EAGAIN) {
                                note_drained(r, in);
                                res = r;
                                if (loop->take_inline_budget()) return false;
                                loop->schedule(h);
                                return true;
                            }
                        }
                        if (loop->kind() == BackendKind::epoll) {
                            fd = op_.fd;
                            interest = in;
                            engine = Engine::epoll;
                            retry = &retry_fn;
                            loop->epoll().wait(*this);
                            break;
                        }
                    }
                    // io_uring without the opcode: run the call on the pool.
                    [[fallthrough]];
                }
                case Interest::blocking: {
                    retry = &retry_fn;
                    loop->submit_blocking(*this);
                    break;
                }
            }
            if (has_timeout_ && pending) arm_timer();
        }
        if (tok.stop_possible() && pending) {
            stop_cb_.fn = &on_stop;
            stop_cb_.self = this;
            tok.add(stop_cb_);
        }
        return true;
    }

    auto await_resume() noexcept(noexcept(std::declval<Op&>().finish(0))) {
        stop_cb_.unlink();
        if (timer_.armed()) loop->timers().remove(timer_);
        int r = res;
        if (r == -ECANCELED && (timed_out || (has_timeout_ && !cancel_requested))) {
            r = -ETIMEDOUT;
        }
        if constexpr (detail::op_returns_fd<Op>()) {
            // The kernel finished the call after we asked it to stop: the
            // caller will never see this descriptor, so it must not leak.
            if (r >= 0 && (cancel_requested || timed_out)) {
                ::close(r);
                r = timed_out ? -ETIMEDOUT : -ECANCELED;
            }
        }
        return op_.finish(r);
    }

private:
    struct StopNode : StopCallbackBase {
        OpAwaiter* self = nullptr;
    };
    struct TimerNode : detail::TimerNode {
        OpAwaiter* self = nullptr;
    };

    bool uring_capable() const noexcept {
        if constexpr (requires { Op::uring; }) {
            if constexpr (!Op::uring) return false;
        }
        if constexpr (requires { Op::uring_opcode; }) {
            return loop->caps().has_op(Op::uring_opcode);
        } else {
            return true;
        }
    }

    void submit_uring() noexcept {
        auto& u = loop->uring();
        engine = Engine::uring;
        if (!has_timeout_ || !loop->caps().link_timeout) {
            io_uring_sqe* s = u.get_sqe();
            op_.prep(s);
            u.start(*this, s);
            if (has_timeout_ && !timer_.armed()) arm_timer();
            return;
        }
        // The operation and its linked timeout must go to the kernel in the
        // same submission, or the link breaks: take both slots first.
        if (io_uring_sq_space_left(&u.ring()) < 2) {
            io_uring_submit(&u.ring());
            ++loop->mutable_stats().syscalls;
        }
        io_uring_sqe* s = u.get_sqe();
        op_.prep(s);
        s->flags |= IOSQE_IO_LINK;
        u.start(*this, s);
        io_uring_sqe* t = u.get_sqe();
        ts_.tv_sec = timeout_.count() / 1'000'000'000;
        ts_.tv_nsec = timeout_.count() % 1'000'000'000;
        io_uring_prep_link_timeout(t, &ts_, 0);
        io_uring_sqe_set_data64(t, detail::UringBackend::ignore_tag);
    }

    void arm_timer() {
        timer_.self = this;
        timer_.deadline = loop->now() + timeout_;
        timer_.fire = [](detail::TimerNode* n, Loop& l) noexcept {
            auto* self = static_cast<TimerNode*>(n)->self;
            self->timed_out = true;
            l.cancel_op(*self);
        };
        loop->timers().push(timer_);
    }

    static constexpr bool has_again = requires(Op& o, int r) {
        { o.again(r) } -> std::same_as<bool>;
    };

    static void complete(detail::OpState* s, Loop& l, int r, std::uint32_t) noexcept {
        if constexpr (has_again) {
            auto* self = static_cast<OpAwaiter*>(s);
            if (r > 0 && s->engine == Engine::uring && self->op_.again(r)) {
                // Progress, not done: go on unless asked to stop or out of time.
                if (s->cancel_requested) {
                    r = -ECANCELED;
                } else if (self->has_timeout_ &&
                           (self->timeout_ = self->deadline_ - l.now()).count() <= 0) {
                    r = -ECANCELED;
                    s->timed_out = true;
                } else {
                    self->submit_uring();
                    return;
                }
            }
        }
        s->res = r;
        // Delivered: a stop request or the op's own timer firing before the
        // waiter runs must not mark it cancelled (an accepted descriptor
        // would be closed, a result that raced ahead lost).
        auto* self = static_cast<OpAwaiter*>(s);
        self->stop_cb_.unlink();
        if (self->timer_.armed()) l.timers().remove(self->timer_);
        l.schedule(s->waiter);
    }
    static int retry_fn(detail::OpState* s) noexcept {
        auto* self = static_cast<OpAwaiter*>(s);
        int r = self->op_.attempt();
        if (self->engine == Engine::epoll) self->note_drained(r, self->interest);
        return r;
    }
    void note_drained(int r, Interest in) noexcept {
        if constexpr (requires { op_.drained(r); }) {
            if (r >= 0 && op_.drained(r)) loop->epoll().mark_not_ready(op_.fd, in);
        } else {
            (void)r;
            (void)in;
        }
    }
    static void on_stop(StopCallbackBase* b) noexcept {
        OpAwaiter* self = static_cast<StopNode*>(b)->self;
        self->loop->cancel_op(*self);
        self->cancel_requested = true;
    }

    Op op_;
    StopNode stop_cb_;
    TimerNode timer_;
    std::chrono::nanoseconds timeout_{};
    __kernel_timespec ts_{};
    TimePoint deadline_{};  // ops with again(): when .timeout() runs out
    bool has_timeout_ = false;
};

/// Makes the awaiter of an operation struct: `co_await run(Nop{})`.
template <Operation Op>
OpAwaiter<Op> run(Op op) noexcept {
    return OpAwaiter<Op>(std::move(op));
}

}  // namespace corio
