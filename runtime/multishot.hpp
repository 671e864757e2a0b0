#pragma once
// Multishot operations: one request, many completions.
//
// A multishot operation (accept, recv into provided buffers, recvmsg, poll) is
// one plain struct, like a one-shot operation (runtime/op.hpp): how to prep the
// multishot SQE, one non-blocking attempt for the readiness path, and how one
// completion becomes an item. MultishotStream drives any of them:
//
//   io_uring, multishot: one request stays armed; each completion flagged
//             IORING_CQE_F_MORE is an item and more will come. A completion
//             without it ends the request: the stream re-arms by itself when
//             someone waits (the kernel ends a stream on ENOBUFS, CQ overflow,
//             or an error item such as EMFILE). A kernel that rejects the
//             multishot flag (EINVAL before any item) gets the readiness path.
//   io_uring, readiness: a POLL_ADD, then the op's non-blocking call.
//   epoll:    the op's non-blocking call when the descriptor may be ready,
//             else a wait for readiness; one item per call, made only while a
//             task waits (the kernel's queue, e.g. the listen backlog, holds
//             the rest).
//
// Items that arrive while nobody waits are kept in a queue. It is bounded by
// `queue_limit`: when it fills, the stream cancels its request so that the
// kernel keeps further items (connections stay in the backlog, bytes in the
// socket buffer), and re-arms when a task waits again. Items the kernel had
// produced before the cancel took effect are still queued, never dropped: the
// limit can be exceeded by those. The queue allocates only up to its high
// water mark, once.
//
// Cancelling a waiting task (its stop token, with_timeout, when_any) removes
// only that waiter; the request stays armed for the stream. `stop()` cancels
// the request with one ASYNC_CANCEL and completes after the kernel's final
// completion. `close()` (and the destructor) end the stream at once: waiters
// resume with operation_canceled, items never taken are released (descriptors
// closed, buffers given back), and a request still in the kernel is cancelled
// and its state freed by the loop when the last completion arrives.

#include <liburing.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <concepts>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include <corio/runtime/cancel.hpp>
#include <corio/runtime/detail/op_state.hpp>
#include <corio/runtime/detail/park.hpp>
#include <corio/runtime/detail/wait_queue.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/op.hpp>
#include <corio/runtime/result.hpp>

namespace corio {

/// What a multishot operation struct provides:
/// - `kind`, `interest`, `int fd`: as for one-shot operations (see Operation)
/// - `void prep(io_uring_sqe*) const`: the multishot request
/// - `bool multishot(const Caps&) const`: whether this kernel runs it multishot
/// - `int attempt()`: one non-blocking call giving one item's result (-EAGAIN:
///   nothing now)
/// - `finish(int res, std::uint32_t flags)`: one completion as the item the
///   stream yields (a Result)
///
/// Optional: `static constexpr bool returns_fd` (items >= 0 are descriptors,
/// closed if never taken), `std::uint32_t attempt_flags`,
/// `detail::ParkingLot* parking(int res)` (see runtime/op.hpp), and
/// `std::shared_ptr<...> hold`: what the request needs alive for as long as
/// the kernel may complete it (a buffer ring), which may be longer than the
/// stream; the stream's state takes it over at the start, so the copies of
/// the op that awaiters keep carry none (no reference count per item).
template <class Op>
concept MultishotOperation = requires(Op& op, const Op& cop, io_uring_sqe* sqe, int res,
                                      std::uint32_t f, const Caps& caps) {
    { Op::kind } -> std::convertible_to<OpKind>;
    { Op::interest } -> std::convertible_to<Interest>;
    { op.fd } -> std::convertible_to<int>;
    cop.prep(sqe);
    { cop.multishot(caps) } -> std::same_as<bool>;
    { op.attempt() } -> std::same_as<int>;
    op.finish(res, f);
};

namespace detail {

struct ItemNode : WaitNode {
    std::coroutine_handle<> h{};
    int res = 0;
    std::uint32_t flags = 0;
    bool done = false;
};

struct Completion {
    int res;
    std::uint32_t flags;
};

template <class Op>
struct MultishotCore final : OpState {
    enum class Mode : std::uint8_t { multishot, readiness, epoll, sim };
    struct Park : ParkNode {
        MultishotCore* self = nullptr;
    };

    MultishotCore(Op o, std::size_t queue_limit) : op(std::move(o)), limit(queue_limit) {
        loop = &Loop::current();
        kind = Op::kind;
        on_complete = &on_cqe;
        retry = &retry_fn;
        if (loop->kind() == BackendKind::io_uring) {
            mode = op.multishot(loop->caps()) ? Mode::multishot : Mode::readiness;
        } else if (loop->kind() == BackendKind::sim) {
            mode = Mode::sim;
        } else {
            mode = Mode::epoll;
        }
        queue.reserve(limit);
        if constexpr (requires { op.hold; }) hold = std::move(op.hold);
    }

    bool parked() const noexcept { return park.linked; }

    void arm() noexcept {
        if (pending || parked() || stopped || orphaned || loop->shutting_down()) return;
        cancel_requested = false;
        switch (mode) {
            case Mode::multishot: {
                auto& u = BackendAccess::uring(*loop);
                engine = Engine::uring;
                polling = false;
                io_uring_sqe* s = u.get_sqe();
                op.prep(s);
                use_slot(op, s);
                u.start(*this, s);
                return;
            }
            case Mode::readiness: {
                auto& u = BackendAccess::uring(*loop);
                engine = Engine::uring;
                polling = true;
                io_uring_sqe* s = u.get_sqe();
                io_uring_prep_poll_add(s, op.fd, poll_events(interest_of(op)));
                u.start(*this, s);
                return;
            }
            case Mode::epoll: {
                auto& ep = BackendAccess::epoll(*loop);
                // One call per waiting task, while the descriptor has items.
                const Interest in = interest_of(op);
                while (!waiters.empty() && ep.may_try(op.fd, in)) {
                    std::uint32_t f = 0;
                    int r = attempt_op(op, f);
                    if (r == -EAGAIN) break;
                    if (ParkingLot* l = parking_of(op, r)) {
                        do_park(*l);
                        return;
                    }
                    deliver(r, f);
                }
                if (waiters.empty()) return;
                fd = op.fd;
                interest = in;
                engine = Engine::epoll;
                ep.wait(*this);
                return;
            }
            case Mode::sim: {
                // As on epoll: one call per waiting task, then a wait in the
                // simulated kernel until the descriptor changes.
                SimIo& io = BackendAccess::sim(*loop);
                while (!waiters.empty()) {
                    std::uint32_t f = 0;
                    int r = sim_attempt(op, io, f);
                    if (r == -EAGAIN) break;
                    if (ParkingLot* l = parking_of(op, r)) {
                        do_park(*l);
                        return;
                    }
                    deliver(r, f);
                }
                if (waiters.empty()) return;
                fd = op.fd;
                interest = interest_of(op);
                engine = Engine::sim;
                io.wait(*this);
                return;
            }
        }
    }

    // One item: to the longest waiting task, else into the queue.
    void deliver(int r, std::uint32_t f) noexcept {
        if (r >= 0) delivered_any = true;
        if (ItemNode* w = waiters.pop_front()) {
            w->res = r;
            w->flags = f;
            w->done = true;
            loop->schedule(std::exchange(w->h, {}));
            return;
        }
        if (orphaned) {
            discard(r, f);
            return;
        }
        queue.push(Completion{r, f});
        if (queue.size() >= limit && mode == Mode::multishot && pending && !cancel_requested) {
            loop->cancel_op(*this);  // backpressure: the kernel keeps the rest
        }
    }

    void discard(int r, std::uint32_t f) noexcept {
        if constexpr (op_returns_fd<Op>()) {
            if (r >= 0) close_unwanted(*loop, r);
        } else {
            (void)op.finish(r, f);  // RAII items (buffers) release themselves
        }
    }
    void discard_queue() noexcept {
        while (!queue.empty()) {
            Completion c = queue.pop();
            discard(c.res, c.flags);
        }
    }
    void wake_all(int r) noexcept {
        while (ItemNode* w = waiters.pop_front()) {
            w->res = r;
            w->done = true;
            loop->schedule(std::exchange(w->h, {}));
        }
    }

    void do_park(ParkingLot& l) noexcept {
        lot = &l;
        park.self = this;
        park.wake = [](ParkNode* n) noexcept {
            MultishotCore* c = static_cast<Park*>(n)->self;
            if (!c->waiters.empty()) c->arm();
        };
        engine = Engine::none;
        l.park(park);
    }

    static void on_cqe(OpState* s, Loop&, int r, std::uint32_t cqe_flags) noexcept {
        auto* c = static_cast<MultishotCore*>(s);
        bool more = false;
        std::uint32_t f = cqe_flags;
        if (c->engine == Engine::epoll || c->engine == Engine::sim) {
            f = std::exchange(c->flags, 0u);
        } else if (c->polling) {
            c->polling = false;
            f = 0;
            if (r >= 0) {
                if (c->cancel_requested || c->stopped || c->orphaned) {
                    r = -ECANCELED;
                } else {
                    r = attempt_op(c->op, f);
                    if (r == -EAGAIN) {
                        c->arm();
                        return;
                    }
                }
            }
        } else {
            more = (cqe_flags & IORING_CQE_F_MORE) != 0;
        }

        if (c->mode == Mode::multishot && r == -EINVAL && !c->delivered_any && !more) {
            // The kernel does not take this multishot request: readiness and
            // single calls from now on.
            c->mode = Mode::readiness;
            c->arm();
            return;
        }
        const bool ours = c->cancel_requested || c->stopped || c->orphaned;
        // No buffer for what arrived: not an item, and not an error for the
        // user. The request parks until a buffer comes back.
        ParkingLot* lot = r == -ENOBUFS ? parking_of(c->op, r) : nullptr;
        if (lot == nullptr && !(r == -ECANCELED && ours)) c->deliver(r, f);
        if (more) return;

        // The request has ended.
        if (c->orphaned) {
            c->discard_queue();
            c->loop->orphan_done(*c);  // frees c
            return;
        }
        if (c->stopped) {
            c->wake_all(-ECANCELED);
            if (c->stop_waiter) c->loop->schedule(std::exchange(c->stop_waiter, {}));
            return;
        }
        if (lot != nullptr) {
            c->do_park(*lot);
            return;
        }
        if (!c->waiters.empty()) c->arm();
    }

    static int retry_fn(OpState* s) noexcept {
        auto* c = static_cast<MultishotCore*>(s);
        if (c->mode == Mode::sim) return sim_attempt(c->op, BackendAccess::sim(*c->loop), c->flags);
        return attempt_op(c->op, c->flags);
    }

    static void free_fn(OpState* s) noexcept { delete static_cast<MultishotCore*>(s); }

    Op op;
    std::shared_ptr<const void> hold;  // the op's `hold`, for the request's life
    Ring<Completion> queue;
    WaitQueue<ItemNode> waiters;
    Park park;
    ParkingLot* lot = nullptr;
    std::coroutine_handle<> stop_waiter{};
    std::size_t limit;
    Mode mode = Mode::epoll;
    bool stopped = false;
    bool orphaned = false;
    bool delivered_any = false;
};

}  // namespace detail

/// A multishot operation as a stream of items: `co_await s.next()` gives one
/// at a time, in the order the kernel produced them. Lives on the loop it was
/// made on. Movable; the request's state lives apart on the heap (one
/// allocation per stream, none per item).
template <MultishotOperation Op>
class MultishotStream {
    using Core = detail::MultishotCore<Op>;

public:
    /// What next() gives: the Result the operation's `finish` makes of one completion.
    using Item = decltype(std::declval<Op&>().finish(0, 0u));

    /// A closed stream (is_open() false; next() gives EBADF).
    MultishotStream() noexcept = default;
    /// Makes the stream; it arms at the first next().
    explicit MultishotStream(Op op, std::size_t queue_limit = 64)
        : c_(new Core(std::move(op), queue_limit == 0 ? 1 : queue_limit)) {}
    /// Takes over `o`'s request and queue; `o` is closed.
    MultishotStream(MultishotStream&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    /// Closes this stream (see close()), then takes over `o`'s.
    MultishotStream& operator=(MultishotStream&& o) noexcept {
        if (this != &o) {
            close();
            c_ = std::exchange(o.c_, nullptr);
        }
        return *this;
    }
    MultishotStream(const MultishotStream&) = delete;
    MultishotStream& operator=(const MultishotStream&) = delete;
    /// close().
    ~MultishotStream() { close(); }

    /// True until close() (or a move from it).
    bool is_open() const noexcept { return c_ != nullptr; }
    /// Items received and not yet taken.
    std::size_t queued() const noexcept { return c_ != nullptr ? c_->queue.size() : 0; }
    /// True while a request is in the kernel (or a readiness wait is armed).
    bool armed() const noexcept { return c_ != nullptr && c_->pending; }
    /// The operation struct (its descriptor, buffer ring, ...).
    Op* op() noexcept { return c_ != nullptr ? &c_->op : nullptr; }

    /// Awaiter of next().
    class [[nodiscard]] NextAwaiter {
    public:
        /// Waits on the stream state `c` (null: a closed stream).
        explicit NextAwaiter(Core* c) noexcept : c_(c) {
            if (c != nullptr) op_ = c->op;
        }
        /// Movable until awaited (with_timeout and when_any take awaitables by
        /// value); never moved once suspended.
        NextAwaiter(NextAwaiter&& o) noexcept : c_(o.c_), op_(o.op_) {}
        NextAwaiter& operator=(NextAwaiter&&) = delete;
        /// Leaves the stream's waiter list if still on it.
        ~NextAwaiter() {
            stop_.unlink();
            if (c_ != nullptr && node_.linked) c_->waiters.erase(node_);
        }

        /// Awaiter protocol: ready when an item is queued (or the stream is
        /// closed or stopped); otherwise the task joins the stream's waiters
        /// (arming the request if needed) until an item comes or the task is
        /// stopped; then the item, or the error next() describes.
        ///@{
        bool await_ready() const noexcept {
            return c_ == nullptr || !c_->queue.empty() || (c_->stopped && !c_->pending);
        }
        template <class P>
        bool await_suspend(std::coroutine_handle<P> h) noexcept {
            StopToken tok = detail::stop_token_of(h);
            if (tok.stop_requested()) {
                node_.res = -ECANCELED;
                node_.done = true;
                return Loop::current().suspend_over_budget(h);
            }
            node_.h = h;
            c_->waiters.push_back(node_);
            c_->arm();
            if (!node_.done && tok.stop_possible()) {
                stop_.self = this;
                stop_.fn = [](StopCallbackBase* b) noexcept {
                    NextAwaiter* self = static_cast<StopNode*>(b)->self;
                    if (self->node_.done) return;  // an item is already ours
                    self->c_->waiters.erase(self->node_);
                    self->node_.res = -ECANCELED;
                    self->node_.done = true;
                    self->c_->loop->schedule(std::exchange(self->node_.h, {}));
                };
                tok.add(stop_);
            }
            return true;
        }
        // Touches no stream state after a suspension: the stream may have
        // been closed meanwhile; the item (or error) is in the node.
        Item await_resume() {
            stop_.unlink();
            if (c_ == nullptr) return Item(sys_error(EBADF));
            if (!node_.done) {
                if (c_->queue.empty()) return Item(sys_error(ECANCELED));  // stopped
                detail::Completion q = c_->queue.pop();
                return c_->op.finish(q.res, q.flags);
            }
            if (node_.res < 0) return Item(sys_error(-node_.res));
            return op_.finish(node_.res, node_.flags);
        }
        ///@}

    private:
        struct StopNode : StopCallbackBase {
            NextAwaiter* self = nullptr;
        };
        Core* c_;
        Op op_{};
        detail::ItemNode node_;
        StopNode stop_;
    };

    /// The next item (a Result): an error item (EMFILE for accept, ECONNRESET
    /// for recv) is delivered like any other; operation_canceled once the
    /// stream was stopped and its queue is empty; EBADF on a closed stream.
    NextAwaiter next() noexcept { return NextAwaiter(c_); }

    /// Awaiter of stop().
    class [[nodiscard]] StopAwaiter {
    public:
        /// Stops the stream state `c` (null: nothing to stop).
        explicit StopAwaiter(Core* c) noexcept : c_(c) {}
        /// Awaiter protocol: marks the stream stopped, cancels its request and
        /// resumes after the kernel's final completion (at once when none is
        /// pending); waiters get operation_canceled.
        ///@{
        bool await_ready() const noexcept { return c_ == nullptr; }
        bool await_suspend(std::coroutine_handle<> h) noexcept {
            c_->stopped = true;
            if (c_->parked()) c_->lot->unpark(c_->park);
            if (!c_->pending) {
                c_->wake_all(-ECANCELED);
                return false;
            }
            c_->stop_waiter = h;
            c_->loop->cancel_op(*c_);
            return true;
        }
        void await_resume() const noexcept {}
        ///@}

    private:
        Core* c_;
    };

    /// Stops the stream: cancels the request (one ASYNC_CANCEL on io_uring)
    /// and completes after the kernel's final completion. Items that arrived
    /// before it stay queued for next(); after them next() says
    /// operation_canceled.
    StopAwaiter stop() noexcept { return StopAwaiter(c_); }

    /// Ends the stream now (see the file comment): waiters resume with
    /// operation_canceled, untaken items are released.
    void close() noexcept {
        Core* c = std::exchange(c_, nullptr);
        if (c == nullptr) return;
        c->stopped = true;
        c->wake_all(-ECANCELED);
        if (c->parked()) c->lot->unpark(c->park);
        c->discard_queue();
        if (c->pending && !c->loop->shutting_down()) {
            c->orphaned = true;
            c->loop->adopt_orphan(*c, &Core::free_fn);
            c->loop->cancel_op(*c);  // may complete (and free c) at once on epoll
            return;
        }
        if (c->pending) {
            // Teardown: the loop cancels and reaps everything before frames go.
            c->orphaned = true;
            c->loop->adopt_orphan(*c, &Core::free_fn);
            return;
        }
        delete c;
    }

private:
    Core* c_ = nullptr;
};

}  // namespace corio
