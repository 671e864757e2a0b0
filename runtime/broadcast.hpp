#pragma once
// Broadcast<T>: one publisher, many subscribers, each with its own bounded
// buffer. Events, not commands: the publisher never waits for anyone. A
// subscriber that falls behind loses its oldest messages and is told so (how
// many) instead of slowing the publisher or the other subscribers.
//
//   Broadcast<Event> events(64);                 // 64 buffered per subscriber
//   auto sub = events.subscribe();               // sees what is sent from now on
//   events.send(Event{...});                     // never waits
//   for (;;) {
//       auto e = co_await sub.recv();
//       if (e) { handle(*e); continue; }
//       if (e.error() == Errc::lagged) { log_warn("missed {}", sub.missed()); continue; }
//       break;                                   // channel_closed: the publisher is gone
//   }
//
// Thread-safe: the publisher and the subscribers may live on different loops
// (threads). Each subscriber's buffer has its own mutex, so subscribers on
// different loops never contend with each other. A waiting subscriber is
// woken on its own loop, directly when the publisher runs on that loop, else
// through the loop's remote queue (Loop::post_remote: IORING_OP_MSG_RING
// between io_uring loops of a Runtime, else an eventfd; one wake-up per
// burst), the mechanism SharedChannel uses.

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
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

template <class T>
class Broadcast;
template <class T>
class Subscriber;

namespace detail {

struct BcastWaiter {
    std::coroutine_handle<> h{};
    Loop* loop = nullptr;
    OpState op;  // posted to `loop` to resume `h` there
};

/// One subscriber's buffer, guarded by its own mutex.
template <class T>
struct BcastSub {
    std::mutex mu;
    Ring<T> buf;
    std::uint64_t pending_missed = 0;  // dropped since the last lag report
    std::uint64_t last_missed = 0;     // count given with the last Errc::lagged
    std::uint64_t total_missed = 0;
    std::uint64_t received = 0;
    bool closed = false;
    BcastWaiter* waiter = nullptr;  // the subscriber's one receiver, while it waits
    BcastSub* prev = nullptr;       // the state's list (under its list mutex)
    BcastSub* next = nullptr;

    /// Wakes the waiting receiver, if any (caller holds `mu`). Under the lock
    /// the waiter cannot go away before the post is queued: its frame's
    /// destructor takes the lock.
    void wake() {
        BcastWaiter* w = std::exchange(waiter, nullptr);
        if (w == nullptr) return;
        if (Loop::current_or_null() == w->loop) {
            w->loop->schedule(w->h);
        } else {
            w->loop->post_remote(w->op);
        }
    }
};

/// What the publisher and every subscriber share (counted).
template <class T>
struct BcastState {
    explicit BcastState(std::size_t c) : cap(c == 0 ? 1 : c) {}
    const std::size_t cap;
    std::mutex list_mu;  // the subscriber list and `closed`; taken before a BcastSub::mu
    BcastSub<T>* head = nullptr;
    std::size_t subscribers = 0;
    bool closed = false;
    std::atomic<std::size_t> refs{1};

    void ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
    void unref() noexcept {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
};

}  // namespace detail

/// The receiving end of a Broadcast: its own bounded buffer of the messages
/// sent since it subscribed. Move-only; one task receives from it at a time
/// (on any loop: it may be moved to another thread between receives).
/// Dropping it unsubscribes.
template <class T>
class Subscriber {
public:
    /// Subscribed to nothing (Broadcast::subscribe() makes real ones).
    Subscriber() noexcept = default;
    /// Takes over `o`'s subscription; `o` is subscribed to nothing.
    Subscriber(Subscriber&& o) noexcept
        : st_(std::exchange(o.st_, nullptr)), sub_(std::exchange(o.sub_, nullptr)) {}
    /// Unsubscribes, then takes over `o`'s subscription.
    Subscriber& operator=(Subscriber&& o) noexcept {
        if (this != &o) {
            reset();
            st_ = std::exchange(o.st_, nullptr);
            sub_ = std::exchange(o.sub_, nullptr);
        }
        return *this;
    }
    Subscriber(const Subscriber&) = delete;
    Subscriber& operator=(const Subscriber&) = delete;
    /// Unsubscribes (what is buffered is dropped).
    ~Subscriber() { reset(); }

    /// Awaiter of recv(). Movable until awaited.
    class [[nodiscard]] RecvAwaiter : detail::BcastWaiter {
    public:
        /// Receives from one subscriber's buffer (see Subscriber::recv()).
        explicit RecvAwaiter(detail::BcastSub<T>* s) noexcept : s_(s) {}
        /// Only before it is awaited (with_timeout moves it).
        RecvAwaiter(RecvAwaiter&& o) noexcept : detail::BcastWaiter(), s_(o.s_) {}
        RecvAwaiter(const RecvAwaiter&) = delete;
        RecvAwaiter& operator=(const RecvAwaiter&) = delete;
        /// Unregisters from the subscriber if still waiting.
        ~RecvAwaiter() {
            stop_.unlink();
            if (waiting_) {
                // Destroyed while waiting (its loop is being torn down).
                std::lock_guard lk(s_->mu);
                if (s_->waiter == this) s_->waiter = nullptr;
            }
            if (remote_ref_) loop->drop_remote_ref();
        }

        /// Awaiter protocol: everything happens under the lock in await_suspend.
        bool await_ready() const noexcept { return false; }
        /// Takes what is there, or registers the task to be woken (false:
        /// resume at once).
        template <class P>
        bool await_suspend(std::coroutine_handle<P> h) {
            StopToken tok = detail::stop_token_of(h);
            if (tok.stop_requested()) {
                ec_ = std::make_error_code(std::errc::operation_canceled);
                return Loop::current().suspend_over_budget(h);
            }
            {
                std::lock_guard lk(s_->mu);
                if (take_locked()) return false;
                this->h = h;
                loop = &Loop::current();
                op.loop = loop;
                op.waiter = h;
                op.on_complete = [](detail::OpState* st, Loop& l, int, std::uint32_t) noexcept {
                    l.schedule(st->waiter);
                };
                // The publisher may be on another thread: not a deadlock while we wait.
                loop->add_remote_ref();
                remote_ref_ = true;
                s_->waiter = this;
                waiting_ = true;
            }
            if (tok.stop_possible()) {
                stop_.self = this;
                stop_.fn = [](StopCallbackBase* b) noexcept {
                    RecvAwaiter* self = static_cast<StopNode*>(b)->self;
                    {
                        std::lock_guard lk(self->s_->mu);
                        if (self->s_->waiter != self) return;  // already woken: take what came
                        self->s_->waiter = nullptr;
                    }
                    self->ec_ = std::make_error_code(std::errc::operation_canceled);
                    self->loop->schedule(self->h);
                };
                tok.add(stop_);
            }
            return true;
        }
        /// The oldest buffered message; Errc::lagged when messages were lost
        /// before it (Subscriber::missed() says how many; the next recv()
        /// gives the message after the gap); Errc::channel_closed once the
        /// publisher is gone and the buffer is drained;
        /// std::errc::operation_canceled if the task was stopped while
        /// waiting (nothing is consumed then).
        Result<T> await_resume() {
            stop_.unlink();
            if (waiting_) {
                waiting_ = false;
                if (!ec_) {
                    std::lock_guard lk(s_->mu);
                    take_locked();
                }
            }
            if (ec_) return ec_;
            return Result<T>(std::move(*slot_));
        }

    private:
        /// Takes a message, a lag report or the end (caller holds s_->mu).
        bool take_locked() {
            detail::BcastSub<T>& s = *s_;
            if (s.pending_missed > 0) {
                s.last_missed = std::exchange(s.pending_missed, 0);
                ec_ = make_error_code(Errc::lagged);
                return true;
            }
            if (!s.buf.empty()) {
                slot_.emplace(s.buf.pop());
                ++s.received;
                return true;
            }
            if (s.closed) {
                ec_ = make_error_code(Errc::channel_closed);
                return true;
            }
            return false;
        }
        struct StopNode : StopCallbackBase {
            RecvAwaiter* self = nullptr;
        };
        detail::BcastSub<T>* s_;
        std::optional<T> slot_;
        std::error_code ec_{};
        StopNode stop_;
        bool waiting_ = false;
        bool remote_ref_ = false;
    };

    /// `co_await sub.recv()`: the next message, waiting while there is none.
    /// See RecvAwaiter::await_resume for the errors. Await it at once; one
    /// receive at a time per subscriber.
    RecvAwaiter recv() noexcept { return RecvAwaiter(sub_); }

    /// The next message if one is there, without waiting: like recv(), with
    /// std::errc::resource_unavailable_try_again when the buffer is empty.
    Result<T> try_recv() {
        std::lock_guard lk(sub_->mu);
        if (sub_->pending_missed > 0) {
            sub_->last_missed = std::exchange(sub_->pending_missed, 0);
            return Errc::lagged;
        }
        if (!sub_->buf.empty()) {
            ++sub_->received;
            return Result<T>(sub_->buf.pop());
        }
        if (sub_->closed) return Errc::channel_closed;
        return std::errc::resource_unavailable_try_again;
    }

    /// Messages lost in the gap reported by the last Errc::lagged.
    std::uint64_t missed() const {
        std::lock_guard lk(sub_->mu);
        return sub_->last_missed;
    }
    /// Messages lost since subscribing (reported or not yet).
    std::uint64_t total_missed() const {
        std::lock_guard lk(sub_->mu);
        return sub_->total_missed;
    }
    /// Messages received since subscribing.
    std::uint64_t received() const {
        std::lock_guard lk(sub_->mu);
        return sub_->received;
    }
    /// Messages buffered now.
    std::size_t size() const {
        std::lock_guard lk(sub_->mu);
        return sub_->buf.size();
    }
    /// True while subscribed (not moved from).
    explicit operator bool() const noexcept { return sub_ != nullptr; }

private:
    friend class Broadcast<T>;
    Subscriber(detail::BcastState<T>* st, detail::BcastSub<T>* sub) noexcept : st_(st), sub_(sub) {}

    void reset() noexcept {
        if (sub_ == nullptr) return;
        {
            std::lock_guard lk(st_->list_mu);
            if (sub_->prev != nullptr) {
                sub_->prev->next = sub_->next;
            } else {
                st_->head = sub_->next;
            }
            if (sub_->next != nullptr) sub_->next->prev = sub_->prev;
            --st_->subscribers;
        }
        delete std::exchange(sub_, nullptr);
        std::exchange(st_, nullptr)->unref();
    }

    detail::BcastState<T>* st_ = nullptr;
    detail::BcastSub<T>* sub_ = nullptr;
};

/// The publishing end: send() copies each message into every subscriber's
/// buffer and never waits; a full buffer drops its oldest message and counts
/// it as missed for that subscriber alone. Move-only; destroying it (or
/// close()) ends the stream: subscribers receive what is buffered, then
/// Errc::channel_closed. T must be copyable (share big payloads through a
/// std::shared_ptr<const X>). All members are thread-safe.
template <class T>
class Broadcast {
    static_assert(std::is_copy_constructible_v<T>, "Broadcast<T> copies T to each subscriber");

public:
    /// A broadcast whose subscribers each buffer up to `capacity` (at least 1)
    /// messages.
    explicit Broadcast(std::size_t capacity) : st_(new detail::BcastState<T>(capacity)) {}
    /// Takes over `o`'s stream; `o` publishes nothing.
    Broadcast(Broadcast&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
    /// Closes this stream (see close()), then takes over `o`'s.
    Broadcast& operator=(Broadcast&& o) noexcept {
        if (this != &o) {
            reset();
            st_ = std::exchange(o.st_, nullptr);
        }
        return *this;
    }
    Broadcast(const Broadcast&) = delete;
    Broadcast& operator=(const Broadcast&) = delete;
    /// close(): subscribers drain what they have, then get Errc::channel_closed.
    ~Broadcast() { reset(); }

    /// A new subscriber that receives every message sent after this call.
    /// After close() it receives Errc::channel_closed at once.
    Subscriber<T> subscribe() {
        auto* sub = new detail::BcastSub<T>();
        std::lock_guard lk(st_->list_mu);
        sub->closed = st_->closed;
        sub->next = st_->head;
        if (st_->head != nullptr) st_->head->prev = sub;
        st_->head = sub;
        ++st_->subscribers;
        st_->ref();
        return Subscriber<T>(st_, sub);
    }

    /// Sends `v` to every subscriber; never waits. Gives the number of
    /// subscribers it reached (0 after close()). A subscriber whose buffer is
    /// full loses its oldest message (and will be told it lagged).
    std::size_t send(const T& v) {
        std::lock_guard lk(st_->list_mu);
        if (st_->closed) return 0;
        std::size_t n = 0;
        for (detail::BcastSub<T>* s = st_->head; s != nullptr; s = s->next) {
            std::lock_guard slk(s->mu);
            if (s->buf.size() >= st_->cap) {
                (void)s->buf.pop();
                ++s->pending_missed;
                ++s->total_missed;
            }
            s->buf.push(v);
            s->wake();
            ++n;
        }
        return n;
    }

    /// Ends the stream: subscribers drain their buffers, then get
    /// Errc::channel_closed; later send()s reach nobody. Idempotent.
    void close() {
        std::lock_guard lk(st_->list_mu);
        if (st_->closed) return;
        st_->closed = true;
        for (detail::BcastSub<T>* s = st_->head; s != nullptr; s = s->next) {
            std::lock_guard slk(s->mu);
            s->closed = true;
            s->wake();
        }
    }

    /// Subscribers now.
    std::size_t subscribers() const {
        std::lock_guard lk(st_->list_mu);
        return st_->subscribers;
    }
    /// Each subscriber's buffer size.
    std::size_t capacity() const noexcept { return st_->cap; }

private:
    void reset() noexcept {
        if (st_ == nullptr) return;
        close();
        std::exchange(st_, nullptr)->unref();
    }

    detail::BcastState<T>* st_ = nullptr;
};

}  // namespace corio
