#pragma once
// Cancellation: StopSource / StopToken / StopCallback, for one loop's thread.
//
// Unlike std::stop_source these are not thread-safe: a loop's own tasks share
// them, so no atomics are paid on the hot path. Cancelling work on another loop
// goes through a message to that loop.
//
// Every Task carries a StopToken, inherited from its awaiter. Operations and
// timers awaited inside the task register a StopCallback while they wait; a
// stop request asks the backend to cancel them, and they resume (after the
// kernel's completion) with std::errc::operation_canceled.

#include <utility>

namespace corio {

class StopSource;

/// A node registered on a StopSource; `fn` runs once when stop is requested.
/// Plain function pointer, no allocation: the node lives in the waiter's frame.
struct StopCallbackBase {
    void (*fn)(StopCallbackBase*) noexcept = nullptr;  ///< called once, after unlinking
    StopCallbackBase* prev = nullptr;                   ///< the source's list
    StopCallbackBase* next = nullptr;                   ///< the source's list
    StopSource* source = nullptr;                       ///< where it is registered, or null

    /// True while registered on a source.
    bool linked() const noexcept { return source != nullptr; }
    /// Removes the node from its source, if still registered.
    inline void unlink() noexcept;
};

/// A view of a StopSource; empty (stop never possible) by default.
class StopToken {
public:
    /// An empty token: stop is never requested.
    StopToken() noexcept = default;
    /// A token of `s` (StopSource::token() makes them).
    explicit StopToken(StopSource* s) noexcept : src_(s) {}
    /// True once the source was stopped.
    inline bool stop_requested() const noexcept;
    /// True when the token has a source (stop may be requested some day).
    bool stop_possible() const noexcept { return src_ != nullptr; }
    /// The source, or null for an empty token.
    StopSource* source() const noexcept { return src_; }
    /// Registers cb; returns false (and does not call it) if stop was already requested.
    inline bool add(StopCallbackBase& cb) const noexcept;
    /// Tokens are equal when they view the same source.
    friend bool operator==(StopToken a, StopToken b) noexcept { return a.src_ == b.src_; }

private:
    StopSource* src_ = nullptr;
};

/// Owns the stop state. Not copyable or movable: callbacks point to it.
class StopSource {
public:
    /// A source not stopped yet.
    StopSource() noexcept = default;
    StopSource(const StopSource&) = delete;
    StopSource& operator=(const StopSource&) = delete;
    /// Unlinks the callbacks still registered (without calling them).
    ~StopSource() {
        while (head_ != nullptr) head_->unlink();
    }

    /// True once request_stop() was called.
    bool stop_requested() const noexcept { return stopped_; }
    /// A token viewing this source; valid while the source lives.
    StopToken token() noexcept { return StopToken(this); }

    /// Marks the source stopped and runs every registered callback once, in
    /// registration order. Returns false if it was already stopped.
    bool request_stop() noexcept {
        if (stopped_) return false;
        stopped_ = true;
        // Pop before calling: a callback may unlink others or register nothing.
        while (head_ != nullptr) {
            StopCallbackBase* cb = head_;
            cb->unlink();
            cb->fn(cb);
        }
        return true;
    }

    /// Registers `cb` at the end of the list; false (and not registered) if
    /// stop was already requested.
    bool add(StopCallbackBase& cb) noexcept {
        if (stopped_) return false;
        cb.source = this;
        cb.prev = tail_;
        cb.next = nullptr;
        if (tail_ != nullptr) {
            tail_->next = &cb;
        } else {
            head_ = &cb;
        }
        tail_ = &cb;
        return true;
    }

private:
    friend struct StopCallbackBase;
    bool stopped_ = false;
    StopCallbackBase* head_ = nullptr;
    StopCallbackBase* tail_ = nullptr;
};

inline void StopCallbackBase::unlink() noexcept {
    if (source == nullptr) return;
    if (prev != nullptr) {
        prev->next = next;
    } else {
        source->head_ = next;
    }
    if (next != nullptr) {
        next->prev = prev;
    } else {
        source->tail_ = prev;
    }
    prev = next = nullptr;
    source = nullptr;
}

inline bool StopToken::stop_requested() const noexcept {
    return src_ != nullptr && src_->stop_requested();
}
inline bool StopToken::add(StopCallbackBase& cb) const noexcept {
    return src_ != nullptr && src_->add(cb);
}

/// Runs `f()` when the token's source is stopped, while this object lives.
/// If stop was already requested, runs `f()` in the constructor.
template <class F>
class StopCallback : private StopCallbackBase {
public:
    /// Registers `f` on `t`'s source (or runs it now if stop was requested).
    StopCallback(StopToken t, F f) : f_(std::move(f)) {
        fn = [](StopCallbackBase* b) noexcept { static_cast<StopCallback*>(b)->f_(); };
        if (t.stop_requested()) {
            f_();
        } else {
            t.add(*this);
        }
    }
    StopCallback(const StopCallback&) = delete;
    StopCallback& operator=(const StopCallback&) = delete;
    /// Unregisters `f` (it never runs after this).
    ~StopCallback() { unlink(); }

private:
    F f_;
};

/// A StopSource that is also stopped when a parent token is: how when_any,
/// with_timeout and task groups cancel their children without cancelling the
/// caller.
class LinkedStopSource : public StopSource {
public:
    /// A source stopped when `parent` is (at once if it already is).
    explicit LinkedStopSource(StopToken parent) noexcept {
        link_.self = this;
        link_.fn = [](StopCallbackBase* b) noexcept {
            static_cast<Link*>(b)->self->request_stop();
        };
        if (parent.stop_requested()) {
            request_stop();
        } else {
            parent.add(link_);
        }
    }
    /// Unlinks from the parent.
    ~LinkedStopSource() { link_.unlink(); }

private:
    struct Link : StopCallbackBase {
        LinkedStopSource* self = nullptr;
    };
    Link link_;
};

}  // namespace corio
