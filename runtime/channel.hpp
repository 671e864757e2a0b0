#pragma once
// Channels: hand values from tasks that produce them to tasks that handle them.
//
// Channel<T> lives on one loop: no lock, no atomic, waiters resumed by the
// loop. SharedChannel<T> is the same channel for tasks on different loops
// (threads): a mutex guards it, and a waiter on another loop is woken through
// that loop's remote queue (IORING_OP_MSG_RING between io_uring loops of one
// Runtime, else an eventfd). Both are bounded (a full channel suspends the
// sender: backpressure), FIFO for values and for waiters, closable, and their
// waiters are cancellable without losing a value: a value is either delivered
// to exactly one receiver or stays in the channel (or with its sender).
//
// Wake-ups are batched by construction: a sender wakes a receiver only when
// one is suspended, and a woken receiver drains whatever arrived meanwhile
// without suspending again, so a burst of messages costs the receiving loop
// one wake-up.

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

#include <corio/runtime/cancel.hpp>
#include <corio/runtime/detail/op_state.hpp>
#include <corio/runtime/detail/wait_queue.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/result.hpp>
#include <corio/runtime/task.hpp>

namespace corio {

/// Capacity of a channel without a bound (senders never wait).
inline constexpr std::size_t unbounded = std::numeric_limits<std::size_t>::max();

namespace detail {

/// A suspended send or recv. Lives in the awaiter (the waiting frame).
struct ChanWaiter : WaitNode {
    std::coroutine_handle<> h{};
    Loop* loop = nullptr;
    std::error_code ec{};
    OpState op;  // SharedChannel: posted to `loop` to resume `h` there
};

template <class T>
struct RecvWaiter : ChanWaiter {
    std::optional<T> slot;
};

template <class T>
struct SendWaiter : ChanWaiter {
    T* src = nullptr;
    T (*take)(T*) = nullptr;  // moves or copies *src
};

template <class T>
T take_move(T* p) {
    return std::move(*p);
}
template <class T>
T take_copy(T* p) {
    return *p;
}

enum class ChanStatus : std::uint8_t { ok, wait, closed };

/// The channel algorithm, shared by both kinds. `Shared`: callers hold `mu`
/// and waiters may be on other loops.
template <class T, bool Shared>
struct ChanCore {
    explicit ChanCore(std::size_t c) : cap(c) {}

    Ring<T> buf;
    std::size_t cap;
    bool closed = false;
    WaitQueue<RecvWaiter<T>> receivers;
    WaitQueue<SendWaiter<T>> senders;

    static void wake(ChanWaiter& w) {
        if constexpr (Shared) {
            if (Loop::current_or_null() == w.loop) {
                w.loop->schedule(w.h);
            } else {
                // Under the channel's lock: the waiter cannot go away (its
                // frame's destructor takes the lock) before the post is queued.
                w.loop->post_remote(w.op);
            }
        } else {
            w.loop->schedule(w.h);
        }
    }

    template <class Take>
    ChanStatus send(Take&& take) {
        if (closed) return ChanStatus::closed;
        if (RecvWaiter<T>* r = receivers.pop_front()) {
            // Only when the buffer is empty does a receiver wait: hand over.
            r->slot.emplace(take());
            wake(*r);
            return ChanStatus::ok;
        }
        if (buf.size() < cap) {
            buf.push(take());
            return ChanStatus::ok;
        }
        return ChanStatus::wait;
    }

    ChanStatus recv(std::optional<T>& out) {
        if (!buf.empty()) {
            out.emplace(buf.pop());
            if (SendWaiter<T>* s = senders.pop_front()) {
                buf.push(s->take(s->src));
                wake(*s);
            }
            return ChanStatus::ok;
        }
        if (SendWaiter<T>* s = senders.pop_front()) {  // capacity 0: rendezvous
            out.emplace(s->take(s->src));
            wake(*s);
            return ChanStatus::ok;
        }
        return closed ? ChanStatus::closed : ChanStatus::wait;
    }

    void close() {
        if (closed) return;
        closed = true;
        // Receivers wait only on an empty buffer; senders keep their values.
        while (RecvWaiter<T>* r = receivers.pop_front()) {
            r->ec = make_error_code(Errc::channel_closed);
            wake(*r);
        }
        while (SendWaiter<T>* s = senders.pop_front()) {
            s->ec = make_error_code(Errc::channel_closed);
            wake(*s);
        }
    }
};

/// State of a Channel: the core plus a plain reference count and its loop.
template <class T>
struct LocalChanState : ChanCore<T, false> {
    using ChanCore<T, false>::ChanCore;
    std::size_t refs = 1;
    Loop* home = nullptr;  // set at first use on a loop

    // In every build, whatever NDEBUG says where the header is compiled: a
    // Channel used from two loops would otherwise hang both threads silently.
    void check_thread() noexcept {
        if (home == nullptr) {
            home = Loop::current_or_null();
        } else {
            home->check_owner("using a corio::Channel made on another loop");
        }
    }
    struct Guard {
        explicit Guard(LocalChanState*) noexcept {}
    };
    void ref() noexcept {
        ++refs;
    }
    void unref() noexcept {
        if (--refs == 0) delete this;
    }
};

/// State of a SharedChannel: the core under a mutex, an atomic reference count.
template <class T>
struct SharedChanState : ChanCore<T, true> {
    using ChanCore<T, true>::ChanCore;
    std::mutex mu;
    std::atomic<std::size_t> refs{1};

    void check_thread() noexcept {}
    struct Guard {
        explicit Guard(SharedChanState* s) : lk(s->mu) {}
        std::unique_lock<std::mutex> lk;
    };
    void ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
    void unref() noexcept {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
};

/// Common part of both awaiters: registration, cancellation, wake-up.
template <class State, class W>
class ChanAwaiterBase : protected W {
protected:
    static constexpr bool shared = requires(State & s) { s.mu; };

    explicit ChanAwaiterBase(State* s) noexcept : st_(s) {}
    ChanAwaiterBase(const ChanAwaiterBase&) = delete;
    ChanAwaiterBase& operator=(const ChanAwaiterBase&) = delete;
    ~ChanAwaiterBase() {
        stop_.unlink();
        if (ref_taken_) {
            // We waited. Whoever woke us did it under the lock: taking it
            // here means that waker is done with our loop too. Destroyed still
            // waiting (its loop torn down): leave no trace in the channel.
            typename State::Guard g(st_);
            unlink_self();
        }
        if (ref_taken_) {
            if constexpr (shared) this->loop->drop_remote_ref();
            st_->unref();
        }
    }

    void unlink_self() noexcept { queue().erase(static_cast<W&>(*this)); }
    auto& queue() noexcept {
        if constexpr (requires(W & w) { w.slot; }) {
            return st_->receivers;
        } else {
            return st_->senders;
        }
    }

    /// Enqueues this waiter (caller holds the state's guard).
    void enqueue(std::coroutine_handle<> h) noexcept {
        this->h = h;
        this->loop = &Loop::current();
        if constexpr (shared) {
            this->op.loop = this->loop;
            this->op.waiter = h;
            this->op.on_complete = [](OpState* s, Loop& l, int, std::uint32_t) noexcept {
                l.schedule(s->waiter);
            };
            // Another thread will wake us: not a deadlock while we wait.
            this->loop->add_remote_ref();
        }
        queue().push_back(static_cast<W&>(*this));
        st_->ref();  // the channel outlives its waiters
        ref_taken_ = true;
    }

    /// The whole await_suspend of both awaiters: `attempt()` (under the
    /// state's guard) completes the operation, finds the channel closed, or
    /// says to wait, and then this waiter is queued.
    template <class P, class Attempt>
    bool suspend(std::coroutine_handle<P> h, Attempt attempt) {
        StopToken tok = stop_token_of(h);
        if (tok.stop_requested()) {
            this->ec = std::make_error_code(std::errc::operation_canceled);
            return yield_now(h);
        }
        bool waiting = false;
        {
            typename State::Guard g(st_);
            st_->check_thread();
            switch (attempt()) {
                case ChanStatus::ok:
                    break;
                case ChanStatus::closed:
                    this->ec = make_error_code(Errc::channel_closed);
                    break;
                case ChanStatus::wait:
                    enqueue(h);
                    waiting = true;
                    break;
            }
        }
        // Not `linked`: another loop may have woken us already.
        if (!waiting) return yield_now(h);
        watch_stop(tok);
        return true;
    }

    /// After a completion without waiting, or a cancelled await: true (and
    /// the coroutine is queued to resume at the next turn) once the loop's
    /// inline budget is spent, so a task draining a busy channel cannot
    /// starve the others.
    static bool yield_now(std::coroutine_handle<> h) {
        Loop* l = Loop::current_or_null();
        return l != nullptr && l->suspend_over_budget(h);
    }

    void watch_stop(StopToken tok) noexcept {
        if (!tok.stop_possible()) return;
        stop_.self = this;
        stop_.fn = [](StopCallbackBase* b) noexcept {
            ChanAwaiterBase* self = static_cast<StopNode*>(b)->self;
            {
                typename State::Guard g(self->st_);
                if (!self->linked) return;  // already woken: the result stands
                self->unlink_self();
            }
            self->ec = std::make_error_code(std::errc::operation_canceled);
            self->loop->schedule(self->h);
        };
        tok.add(stop_);
    }

    struct StopNode : StopCallbackBase {
        ChanAwaiterBase* self = nullptr;
    };

    State* st_;
    StopNode stop_;
    bool ref_taken_ = false;
};

template <class T, class State>
class [[nodiscard]] RecvAwaiter : ChanAwaiterBase<State, RecvWaiter<T>> {
    using Base = ChanAwaiterBase<State, RecvWaiter<T>>;

public:
    explicit RecvAwaiter(State* s) noexcept : Base(s) {}

    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        return this->suspend(h, [this] { return this->st_->recv(this->slot); });
    }
    Result<T> await_resume() {
        this->stop_.unlink();
        if (this->ec) return this->ec;
        return Result<T>(std::move(*this->slot));
    }
};

template <class T, class State>
class [[nodiscard]] SendAwaiter : ChanAwaiterBase<State, SendWaiter<T>> {
    using Base = ChanAwaiterBase<State, SendWaiter<T>>;

public:
    SendAwaiter(State* s, T* src, T (*take)(T*)) noexcept : Base(s) {
        this->src = src;
        this->take = take;
    }
    /// Owns the value, built from `args` here, in an ordinary function: no
    /// temporary of T appears in the caller's co_await expression.
    template <class... A>
    SendAwaiter(State* s, std::in_place_t, A&&... args) : Base(s) {
        if constexpr (std::is_constructible_v<T, A&&...>) {
            owned_.emplace(std::forward<A>(args)...);
        } else {
            // An aggregate, on a compiler without parenthesised aggregate
            // initialisation (clang 14): braces, still in this ordinary function.
            owned_.emplace(T{std::forward<A>(args)...});
        }
        this->src = std::addressof(*owned_);
        this->take = &take_move<T>;
    }

    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        return this->suspend(h, [this] {
            T* src = this->src;
            auto take = this->take;
            return this->st_->send([&] { return take(src); });
        });
    }
    Result<void> await_resume() noexcept {
        this->stop_.unlink();
        return this->ec;
    }

private:
    std::optional<T> owned_;  // send(args...): the value until the channel takes it
};

/// The handle both channel kinds share: a counted reference to the state.
template <class T, class State>
class ChannelHandle {
public:
    /// The type of the values carried.
    using value_type = T;

    /// A new channel holding up to `capacity` values (0: rendezvous).
    explicit ChannelHandle(std::size_t capacity) : s_(new State(capacity)) {}
    /// Another handle of the same channel.
    ChannelHandle(const ChannelHandle& o) noexcept : s_(o.s_) {
        if (s_ != nullptr) s_->ref();
    }
    /// Takes over `o`'s reference; `o` must not be used afterwards (but
    /// assigned to or destroyed).
    ChannelHandle(ChannelHandle&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    /// Refers to `o`'s channel from now on, dropping the reference held.
    ChannelHandle& operator=(ChannelHandle o) noexcept {
        std::swap(s_, o.s_);
        return *this;
    }
    /// Drops the reference; the channel goes with the last handle and waiter.
    ~ChannelHandle() {
        if (s_ != nullptr) s_->unref();
    }

    /// `co_await ch.send(v)`: puts `v` in the channel, suspending while it is
    /// full. Gives an empty Result once the channel holds the value (or a
    /// receiver got it); Errc::channel_closed if the channel is (or gets)
    /// closed first, std::errc::operation_canceled if the task is stopped
    /// first. On an error `v` was not taken: it is still the caller's. `v` is
    /// read when the channel accepts it, so await the result at once (the
    /// argument must live until then, as it does in `co_await ch.send(x)`).
    SendAwaiter<T, State> send(T&& v) noexcept {
        return SendAwaiter<T, State>(s_, std::addressof(v), &take_move<T>);
    }
    /// Like send(T&&), copying `v` when the channel accepts it.
    SendAwaiter<T, State> send(const T& v) noexcept requires std::is_copy_constructible_v<T> {
        return SendAwaiter<T, State>(s_, const_cast<T*>(std::addressof(v)), &take_copy<T>);
    }
    /// `co_await ch.send(id, name)`: builds the T from the arguments
    /// (`T(args...)`, which for an aggregate is its member-wise
    /// initialisation) inside the awaiter, and sends it. The form to use for
    /// aggregates under g++ 12: `co_await ch.send(Msg{id, name})` makes a
    /// temporary aggregate inside a co_await expression, which g++ 12.2
    /// miscompiles (see docs/concepts.md); no API can repair that from the
    /// callee's side, while here no temporary T exists in the caller. On an
    /// error (closed, cancelled) the value built is destroyed.
    template <class... A>
    requires(sizeof...(A) != 1 || !(std::is_same_v<std::remove_cvref_t<A>, T> && ...)) &&
        (std::is_constructible_v<T, A&&...> ||
         requires(A&&... a) { T{std::forward<A>(a)...}; }) SendAwaiter<T, State> send(A&&... args) {
        return SendAwaiter<T, State>(s_, std::in_place, std::forward<A>(args)...);
    }

    /// `co_await ch.recv()`: the oldest value, suspending while the channel is
    /// empty. Errc::channel_closed once the channel is closed and drained;
    /// std::errc::operation_canceled if the task is stopped while waiting (no
    /// value is consumed then).
    RecvAwaiter<T, State> recv() noexcept { return RecvAwaiter<T, State>(s_); }

    /// Puts `v` in the channel if that needs no waiting. Errors:
    /// std::errc::resource_unavailable_try_again (full), Errc::channel_closed.
    /// On an error `v` is untouched.
    Result<void> try_send(T&& v) { return try_send_impl(std::addressof(v), &take_move<T>); }
    /// Like try_send(T&&), copying `v` if the channel accepts it.
    Result<void> try_send(const T& v) requires std::is_copy_constructible_v<T> {
        return try_send_impl(const_cast<T*>(std::addressof(v)), &take_copy<T>);
    }
    /// The oldest value if there is one. Errors:
    /// std::errc::resource_unavailable_try_again (empty, still open),
    /// Errc::channel_closed (closed and drained).
    Result<T> try_recv() {
        std::optional<T> out;
        ChanStatus r;
        {
            typename State::Guard g(s_);
            s_->check_thread();
            r = s_->recv(out);
        }
        if (r == ChanStatus::ok) return Result<T>(std::move(*out));
        if (r == ChanStatus::closed) return Errc::channel_closed;
        return std::errc::resource_unavailable_try_again;
    }

    /// Closes the channel: senders (waiting or later) get Errc::channel_closed;
    /// receivers get the values still buffered, then Errc::channel_closed.
    void close() {
        typename State::Guard g(s_);
        s_->check_thread();
        s_->close();
    }
    /// True once close() was called.
    bool closed() const {
        typename State::Guard g(s_);
        return s_->closed;
    }
    /// Values buffered now.
    std::size_t size() const {
        typename State::Guard g(s_);
        return s_->buf.size();
    }
    /// The bound given at construction (`corio::unbounded` for none).
    std::size_t capacity() const noexcept { return s_->cap; }

private:
    Result<void> try_send_impl(T* src, T (*take)(T*)) {
        ChanStatus r;
        {
            typename State::Guard g(s_);
            s_->check_thread();
            r = s_->send([&] { return take(src); });
        }
        if (r == ChanStatus::ok) return {};
        if (r == ChanStatus::closed) return Errc::channel_closed;
        return std::errc::resource_unavailable_try_again;
    }

    State* s_;
};

}  // namespace detail

/// A bounded FIFO channel between tasks of one loop. A cheap copyable handle:
/// copies refer to the same channel (pass it to coroutines by value), which
/// lives until the last handle and the last waiter are gone. No lock, no
/// atomic; using it from another loop's thread is caught in every build, with
/// a message and abort (use SharedChannel between loops).
///
/// Capacity: values buffered before a sender waits; 0 makes a rendezvous
/// channel (each send waits for its receiver), `corio::unbounded` never waits.
/// Waiters are served in arrival order and resumed by the loop.
///
/// The operations (send, recv, try_send, try_recv, close, closed, size,
/// capacity) are members of the base class \ref detail::ChannelHandle and
/// documented there.
template <class T>
class Channel : public detail::ChannelHandle<T, detail::LocalChanState<T>> {
public:
    /// A new channel holding up to `capacity` values.
    explicit Channel(std::size_t capacity)
        : detail::ChannelHandle<T, detail::LocalChanState<T>>(capacity) {}
};

/// The channel for tasks on different loops (threads): the same operations as
/// Channel, safe from any loop; any number of senders and receivers on any
/// loops. Values from one sender arrive in the order sent. A waiter is woken
/// on its own loop: directly when the waker runs on that loop, else through
/// the loop's remote queue (one wake-up per burst; IORING_OP_MSG_RING between
/// io_uring loops of a Runtime, else an eventfd). try_send/try_recv/close also
/// work from threads without a loop. The operations are members of the base
/// class \ref detail::ChannelHandle and documented there.
template <class T>
class SharedChannel : public detail::ChannelHandle<T, detail::SharedChanState<T>> {
public:
    /// A new channel holding up to `capacity` values.
    explicit SharedChannel(std::size_t capacity)
        : detail::ChannelHandle<T, detail::SharedChanState<T>>(capacity) {}
};

}  // namespace corio
