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
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <concepts>
#include <coroutine>
#include <cstdint>
#include <type_traits>
#include <utility>

#include <corio/runtime/cancel.hpp>
#include <corio/runtime/detail/op_state.hpp>
#include <corio/runtime/detail/park.hpp>
#include <corio/runtime/detail/timer_queue.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/result.hpp>
#include <corio/runtime/sim_io.hpp>
#include <corio/runtime/task.hpp>

namespace corio {

/// What an operation struct provides: `kind` (an OpKind, for the counters),
/// `interest` (what the epoll backend waits for), `prep` (fills the io_uring
/// SQE), `attempt` (one non-blocking call: its result, or -EAGAIN) and
/// `finish` (the CQE-style result as a Result). Optional members:
/// - `int fd`: read/write interest: the descriptor waited on
/// - `static constexpr bool returns_fd`: a result >= 0 is a new descriptor: closed if the operation
///   was cancelled
/// - `static constexpr unsigned uring_opcode`: if the kernel lacks it, the readiness path is used
///   on io_uring too
/// - `static constexpr bool uring = false`: never submitted to io_uring: the call runs inline or on
///   the blocking pool on both backends, e.g. getaddrinfo
/// - `int slot`: >= 0: a slot of the loop's registered descriptor table standing for `fd` on
///   io_uring: IOSQE_FIXED_FILE
/// - `int fast_path()`: tried first where it pays: on epoll, and on io_uring for an op that would
///   be submitted alone (Loop::fast_path_pays); -EAGAIN = no
/// - `bool drained(int res) const`: epoll: this result shows the descriptor has nothing more now,
///   e.g. a short read; the next operation then waits for an edge instead of trying a call that
///   says EAGAIN
/// - `bool again(int res)`: io_uring only: called with each positive result; true = the op made
///   progress but is not finished, submit it again (a short send_all); the awaiter resumes only
///   when it says false. `.timeout()` keeps bounding the whole operation. On epoll `attempt` loops.
/// - `finish(int res, std::uint32_t flags)`: instead of finish(res): also gets the CQE flags, e.g.
///   the buffer a provided-buffer receive landed in
/// - `std::uint32_t attempt_flags`: set by `attempt` where the kernel would have put something in
///   the CQE flags: the same finish then serves both backends
/// - `detail::ParkingLot* parking(int res)`: a result that says "no resource now" (ENOBUFS): the
///   operation parks there until the resource's owner wakes it, then tries again; a stop request
///   ends the wait
/// - `bool uring_enabled() const`: false: on io_uring wait for readiness with a POLL_ADD and make
///   the `attempt` call; e.g. a buffer pool the kernel cannot pick from
/// - `int sim(detail::SimIo&)`: the sim backend: the call made against the simulated kernel of a
///   sim::World host, in the style of `attempt`: a result, or -EAGAIN to wait until the simulated
///   descriptor changes; an op without it ends with EOPNOTSUPP in a simulation
/// - `bool notifies() const`: zero-copy send: a completion flagged IORING_CQE_F_MORE is the result,
///   and the awaiter resumes only on the second, flagged IORING_CQE_F_NOTIF, when the kernel no
///   longer reads the buffer
template <class Op>
concept Operation = requires(Op& op, const Op& cop, io_uring_sqe* sqe, int res) {
    { Op::kind } -> std::convertible_to<OpKind>;
    { Op::interest } -> std::convertible_to<Interest>;
    cop.prep(sqe);
    { op.attempt() } -> std::same_as<int>;
}
&&(
    requires(Op& op, int res) { op.finish(res); } ||
    requires(Op & op, int res, std::uint32_t flags) { op.finish(res, flags); });

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
/// Calls `finish(res, flags)` or `finish(res)`, whichever the op has.
template <class Op>
decltype(auto) finish_op(Op& op, int res, std::uint32_t flags) {
    if constexpr (requires { op.finish(res, flags); }) {
        return op.finish(res, flags);
    } else {
        (void)flags;
        return op.finish(res);
    }
}
/// One non-blocking attempt; `flags` gets what the op reports as CQE flags.
template <class Op>
int attempt_op(Op& op, std::uint32_t& flags) noexcept {
    int r = op.attempt();
    if constexpr (requires { op.attempt_flags; }) {
        flags = std::exchange(op.attempt_flags, 0u);
    }
    return r;
}
template <class Op>
ParkingLot* parking_of(Op& op, int res) noexcept {
    if constexpr (requires { op.parking(res); }) {
        return res == -ENOBUFS ? op.parking(res) : nullptr;
    } else {
        (void)op;
        (void)res;
        return nullptr;
    }
}
template <class Op>
concept SimOperation = requires(Op& op, SimIo& io) {
    { op.sim(io) } -> std::same_as<int>;
};
/// The op's call against the simulated kernel; EOPNOTSUPP for an op the
/// simulation does not model.
template <class Op>
int sim_attempt(Op& op, SimIo& io) noexcept {
    if constexpr (SimOperation<Op>) {
        return op.sim(io);
    } else {
        (void)op;
        (void)io;
        return -EOPNOTSUPP;
    }
}
/// sim_attempt(), taking the flags the op's call left (`attempt_flags`: the
/// buffer a pool receive used) as attempt_op() does.
template <class Op>
int sim_attempt(Op& op, SimIo& io, std::uint32_t& flags) noexcept {
    const int r = sim_attempt(op, io);
    if constexpr (requires { op.attempt_flags; }) {
        flags = std::exchange(op.attempt_flags, 0u);
    }
    return r;
}
/// Closes a descriptor an operation produced that nobody will take.
inline void close_unwanted(Loop& l, int fd) noexcept {
    if (l.kind() == BackendKind::sim) {
        l.close_fd(fd);
    } else {
        ::close(fd);
    }
}
template <class Op>
bool uring_enabled(const Op& op) noexcept {
    if constexpr (requires { op.uring_enabled(); }) {
        return op.uring_enabled();
    } else {
        return true;
    }
}
/// An op with a registered slot (`int slot`, >= 0) names it instead of its
/// descriptor: the kernel takes the file from the loop's table.
template <class Op>
void use_slot(const Op& op, io_uring_sqe* s) noexcept {
    // (decltype of a member access is the member's declared type, `int`; a
    // test against `const int` never held, and no op ever used its slot.)
    if constexpr (requires { requires std::same_as<decltype(Op::slot), int>; }) {
        if (op.slot >= 0) {
            s->fd = op.slot;
            s->flags |= IOSQE_FIXED_FILE;
        }
    } else {
        (void)op;
        (void)s;
    }
}
/// POLL_ADD events for a readiness interest.
inline unsigned poll_events(Interest in) noexcept {
    return in == Interest::write ? POLLOUT : POLLIN;
}
}  // namespace detail

/// Awaits one operation on the current loop. Usually made by a helper
/// (`sock.recv(buf)`) and awaited at once.
template <Operation Op>
class [[nodiscard]] OpAwaiter : private detail::OpState, private detail::ParkNode {
public:
    /// Awaits `op` on the current loop (which must exist).
    explicit OpAwaiter(Op op) noexcept : op_(std::move(op)) {
        loop = &Loop::current();
        kind = Op::kind;
    }
    /// Only before it is awaited (with_timeout, when_all and when_any take
    /// awaitables by value).
    OpAwaiter(OpAwaiter&& o) noexcept : detail::OpState(o), op_(std::move(o.op_)) {
        timeout_ = o.timeout_;
        has_timeout_ = o.has_timeout_;
    }
    OpAwaiter(const OpAwaiter&) = delete;
    OpAwaiter& operator=(const OpAwaiter&) = delete;
    OpAwaiter& operator=(OpAwaiter&&) = delete;
    /// Unregisters its stop callback, timer and parking place.
    ~OpAwaiter() {
        stop_cb_.unlink();
        if (timer_.armed()) loop->timers().remove(timer_);
        unpark();
    }

    /// Bounds the operation: when `d` passes first it is cancelled and
    /// resumes with std::errc::timed_out. On io_uring a linked timeout does
    /// it inside the kernel; on epoll the loop's timer.
    OpAwaiter&& timeout(std::chrono::nanoseconds d) && noexcept {
        has_timeout_ = true;
        timeout_ = d.count() < 0 ? std::chrono::nanoseconds(0) : d;
        return std::move(*this);
    }

    /// The operation struct (e.g. to read what `finish` will use).
    Op& op() noexcept { return op_; }

    /// Awaiter protocol: await_suspend starts the operation (an SQE on
    /// io_uring; on epoll the call, then a wait for readiness if it says
    /// EAGAIN; the blocking pool for `Interest::blocking`), or completes at
    /// once when the task is already stopped (operation_canceled) or the call
    /// succeeded inline; await_resume gives `op.finish(res)`.
    ///@{
    bool await_ready() const noexcept { return false; }

    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) noexcept {
        StopToken tok = detail::stop_token_of(h);
        if (tok.stop_requested()) {
            res = -ECANCELED;
            cancel_requested = true;
            return loop->suspend_over_budget(h);
        }
        waiter = h;
        on_complete = &complete;
        if constexpr (requires { op_.fast_path(); }) {
            int r = loop->fast_path_pays() ? op_.fast_path() : -EAGAIN;
            if (r != -EAGAIN) {
                res = r;
                return loop->suspend_over_budget(h);
            }
        }
        if (has_timeout_) deadline_ = loop->now() + timeout_;
        if (!start(true)) return false;
        if (has_timeout_ && !linked_ && (pending || parked()) && !timer_.armed()) arm_timer();
        if (tok.stop_possible() && (pending || parked())) {
            stop_cb_.fn = &on_stop;
            stop_cb_.self = this;
            tok.add(stop_cb_);
        }
        return true;
    }

    auto await_resume() noexcept(noexcept(detail::finish_op(std::declval<Op&>(), 0, 0u))) {
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
                detail::close_unwanted(*loop, r);
                r = timed_out ? -ETIMEDOUT : -ECANCELED;
            }
        }
        return detail::finish_op(op_, r, flags);
    }
    ///@}

private:
    struct StopNode : StopCallbackBase {
        OpAwaiter* self = nullptr;
    };
    struct TimerNode : detail::TimerNode {
        OpAwaiter* self = nullptr;
    };

    static constexpr bool has_again = requires(Op & o, int r) {
        { o.again(r) } -> std::same_as<bool>;
    };
    bool notifies() const noexcept {
        if constexpr (requires { op_.notifies(); }) {
            return op_.notifies();
        } else {
            return false;
        }
    }

    bool uring_capable() const noexcept {
        if constexpr (requires { Op::uring; }) {
            if constexpr (!Op::uring) return false;
        }
        if constexpr (requires { Op::uring_opcode; }) {
            if (!loop->caps().has_op(Op::uring_opcode)) return false;
        }
        return detail::uring_enabled(op_);
    }
    bool parked() const noexcept { return static_cast<const detail::ParkNode&>(*this).linked; }
    void unpark() noexcept {
        if constexpr (requires(Op & o) { o.parking(0); }) {
            if (parked()) op_.parking(-ENOBUFS)->unpark(*this);
        }
    }

    // Starts the operation (again, after parking). false: it is done now,
    // `res` holds the result, and the caller may resume inline (`inline_ok`).
    bool start(bool inline_ok) noexcept {
        const bool uring = loop->kind() == BackendKind::io_uring;
        if (uring && uring_capable()) {
            submit_uring();
            return true;
        }
        if (!uring && loop->kind() == BackendKind::sim) [[unlikely]] {
            return start_sim(inline_ok);
        }
        switch (Op::interest) {
            case Interest::none: {
                res = detail::attempt_op(op_, flags);
                return deliver_now(inline_ok);
            }
            case Interest::read:
            case Interest::write: {
                if constexpr (requires { op_.fd; }) {
                    const Interest in = detail::interest_of(op_);
                    if (uring) {
                        // No usable opcode here: wait for readiness with a
                        // POLL_ADD, then make the call.
                        poll_uring(in);
                        return true;
                    }
                    auto& ep = detail::BackendAccess::epoll(*loop);
                    if (ep.may_try(op_.fd, in)) {
                        int r = detail::attempt_op(op_, flags);
                        if (r != -EAGAIN) {
                            note_drained(r, in);
                            res = r;
                            return deliver_now(inline_ok);
                        }
                    }
                    fd = op_.fd;
                    interest = in;
                    engine = Engine::epoll;
                    retry = &retry_fn;
                    ep.wait(*this);
                    return true;
                }
                [[fallthrough]];
            }
            case Interest::blocking: {
                retry = &retry_fn;
                loop->submit_blocking(*this);
                return true;
            }
        }
        return true;
    }

    // The sim backend: the op's call against the simulated kernel; on EAGAIN
    // it waits there (like epoll's readiness wait) and is retried whenever
    // the simulated descriptor changes.
    bool start_sim(bool inline_ok) noexcept {
        detail::SimIo& io = detail::BackendAccess::sim(*loop);
        auto retry_sim = [](detail::OpState* s) noexcept {
            auto* self = static_cast<OpAwaiter*>(s);
            return detail::sim_attempt(self->op_, detail::BackendAccess::sim(*self->loop),
                                       s->flags);
        };
        if constexpr (Op::interest == Interest::blocking && detail::SimOperation<Op>) {
            // A disk call takes simulated time: made when its latency has
            // passed, so a crash or a cancel can land before it.
            engine = Engine::sim;
            retry = retry_sim;
            io.defer(*this);
            return true;
        }
        int r = detail::sim_attempt(op_, io, flags);
        if (r != -EAGAIN) {
            res = r;
            return deliver_now(inline_ok);
        }
        if constexpr (requires { op_.fd; }) fd = op_.fd;
        interest = detail::interest_of(op_);
        engine = Engine::sim;
        retry = retry_sim;
        io.wait(*this);
        return true;
    }

    // A result that is there without waiting: park, resume inline, or resume
    // at the next turn.
    bool deliver_now(bool inline_ok) noexcept {
        if (detail::ParkingLot* lot = detail::parking_of(op_, res)) {
            park(*lot);
            return true;
        }
        if (inline_ok && loop->take_inline_budget()) return false;
        loop->schedule(waiter);
        return true;
    }

    void submit_uring() noexcept {
        auto& u = detail::BackendAccess::uring(*loop);
        engine = Engine::uring;
        polling = false;
        if (!has_timeout_ || !loop->caps().link_timeout) {
            io_uring_sqe* s = u.get_sqe();
            op_.prep(s);
            detail::use_slot(op_, s);
            u.start(*this, s);
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
        detail::use_slot(op_, s);
        s->flags |= IOSQE_IO_LINK;
        u.start(*this, s);
        io_uring_sqe* t = u.get_sqe();
        const auto left = std::max(std::chrono::nanoseconds(0), deadline_ - loop->now());
        ts_.tv_sec = left.count() / 1'000'000'000;
        ts_.tv_nsec = left.count() % 1'000'000'000;
        io_uring_prep_link_timeout(t, &ts_, 0);
        io_uring_sqe_set_data64(t, detail::UringBackend::ignore_tag);
        linked_ = true;
    }

    void poll_uring(Interest in) noexcept {
        if constexpr (requires { op_.fd; }) {
            auto& u = detail::BackendAccess::uring(*loop);
            engine = Engine::uring;
            polling = true;
            interest = in;
            io_uring_sqe* s = u.get_sqe();
            io_uring_prep_poll_add(s, op_.fd, detail::poll_events(in));
            u.start(*this, s);
        }
    }

    void park(detail::ParkingLot& lot) noexcept {
        wake = &on_unpark;
        engine = Engine::none;
        lot.park(*this);
        // A linked timeout died with the completion that parked us: the
        // loop's timer bounds the wait from here.
        if (has_timeout_ && !timer_.armed()) {
            linked_ = false;
            arm_timer();
        }
    }
    static void on_unpark(detail::ParkNode* n) noexcept {
        OpAwaiter* self = static_cast<OpAwaiter*>(n);
        if (self->timer_.armed()) self->loop->timers().remove(self->timer_);
        self->start(false);
        if (self->has_timeout_ && !self->linked_ && self->pending && !self->timer_.armed()) {
            self->arm_timer();
        }
    }
    // Cancels wherever the operation is: in the kernel, in epoll's lists, on
    // the pool, or parked.
    void cancel() noexcept {
        if (parked()) {
            unpark();
            cancel_requested = true;
            res = -ECANCELED;
            stop_cb_.unlink();
            if (timer_.armed()) loop->timers().remove(timer_);
            loop->schedule(waiter);
            return;
        }
        loop->cancel_op(*this);
        cancel_requested = true;
    }

    void arm_timer() {
        timer_.self = this;
        timer_.deadline = deadline_;
        timer_.fire = [](detail::TimerNode* n, Loop&) noexcept {
            auto* self = static_cast<TimerNode*>(n)->self;
            self->timed_out = true;
            self->cancel();
        };
        loop->timers().push(timer_);
    }

    static void complete(detail::OpState* s, Loop& l, int r, std::uint32_t cqe_flags) noexcept {
        auto* self = static_cast<OpAwaiter*>(s);
        if (s->engine == Engine::uring && !s->polling && self->notifies()) {
            if ((cqe_flags & IORING_CQE_F_MORE) != 0) {
                s->res = r;  // the result; the buffer is still the kernel's
                return;
            }
            if ((cqe_flags & IORING_CQE_F_NOTIF) != 0) {
                r = s->res;
                cqe_flags = 0;
            }
        }
        bool polled = false;
        if (s->engine == Engine::uring) {
            if (s->polling) {
                // The descriptor is ready: now make the call.
                s->polling = false;
                polled = true;
                if (r >= 0) {
                    if (s->cancel_requested) {
                        r = -ECANCELED;
                    } else {
                        r = detail::attempt_op(self->op_, s->flags);
                        if (r == -EAGAIN) {
                            self->poll_uring(s->interest);
                            return;
                        }
                    }
                }
            } else {
                s->flags = cqe_flags;
            }
        }
        if constexpr (has_again) {
            if (r > 0 && s->engine == Engine::uring && !polled && self->op_.again(r)) {
                // Progress, not done: go on unless asked to stop or out of time.
                if (s->cancel_requested) {
                    r = -ECANCELED;
                } else if (self->has_timeout_ && self->deadline_ <= l.now()) {
                    r = -ECANCELED;
                    s->timed_out = true;
                } else {
                    self->submit_uring();
                    return;
                }
            }
        }
        if (!s->cancel_requested && !s->timed_out) {
            if (detail::ParkingLot* lot = detail::parking_of(self->op_, r)) {
                self->park(*lot);
                return;
            }
        }
        s->res = r;
        // Delivered: a stop request or the op's own timer firing before the
        // waiter runs must not mark it cancelled (an accepted descriptor
        // would be closed, a result that raced ahead lost).
        self->stop_cb_.unlink();
        if (self->timer_.armed()) l.timers().remove(self->timer_);
        l.schedule(s->waiter);
    }
    static int retry_fn(detail::OpState* s) noexcept {
        auto* self = static_cast<OpAwaiter*>(s);
        int r = detail::attempt_op(self->op_, s->flags);
        if (self->engine == Engine::epoll) self->note_drained(r, self->interest);
        return r;
    }
    void note_drained(int r, Interest in) noexcept {
        if constexpr (requires { op_.drained(r); }) {
            if (r >= 0 && op_.drained(r)) {
                detail::BackendAccess::epoll(*loop).mark_not_ready(op_.fd, in);
            }
        } else {
            (void)r;
            (void)in;
        }
    }
    static void on_stop(StopCallbackBase* b) noexcept { static_cast<StopNode*>(b)->self->cancel(); }

    Op op_;
    StopNode stop_cb_;
    TimerNode timer_;
    std::chrono::nanoseconds timeout_{};
    __kernel_timespec ts_{};
    TimePoint deadline_{};  // when .timeout() runs out
    bool has_timeout_ = false;
    bool linked_ = false;  // the timeout is a linked timeout in the kernel
};

/// Makes the awaiter of an operation struct: `co_await run(Nop{})`.
template <Operation Op>
OpAwaiter<Op> run(Op op) noexcept {
    return OpAwaiter<Op>(std::move(op));
}

}  // namespace corio
