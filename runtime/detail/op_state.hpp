#pragma once
// OpState: what both backends know about one pending operation.
//
// It lives in the frame of the coroutine that awaits the operation (inside
// OpAwaiter), so a connection in steady state allocates nothing per message.
// The kernel (or the epoll backend, or a blocking-pool thread) owns it and the
// buffers it names from submission until its completion has been delivered.

#include <coroutine>
#include <cstdint>

namespace corio {

class Loop;

/// What an operation waits for on the readiness (epoll) backend.
enum class Interest : std::uint8_t {
    none,      ///< the call never blocks: run it inline (nop, close, shutdown)
    read,      ///< retry the non-blocking call when the descriptor is readable
    write,     ///< ... when it is writable
    blocking,  ///< the call may block (regular files, getaddrinfo): blocking pool
};

// clang-format off
/// Operation kinds, for the per-kind counters in LoopStats.
enum class OpKind : std::uint8_t {
    nop, read, write, recv, send, accept, connect, poll, close, open, fsync, statx, shutdown,
    socket, splice, sendmsg, recvmsg, dir, wake, msg_ring, other, count_
};
// clang-format on

/// Names an OpKind ("recv", "accept", ...).
const char* to_string(OpKind k) noexcept;

namespace detail {

struct OpState {
    /// The coroutine to resume when the operation completes.
    std::coroutine_handle<> waiter{};
    /// Called on the loop's thread with the CQE-style result (>= 0 value,
    /// < 0 -errno) and the CQE flags (0 on epoll).
    void (*on_complete)(OpState*, Loop&, int res, std::uint32_t flags) noexcept = nullptr;
    /// epoll: one more non-blocking attempt; blocking pool: the blocking call.
    int (*retry)(OpState*) noexcept = nullptr;
    OpState* prev = nullptr;  // epoll waiter list, blocking-pool queue, remote queue
    OpState* next = nullptr;
    Loop* loop = nullptr;
    int res = 0;
    std::uint32_t flags = 0;  // CQE flags of the delivered completion (buffer id, ...)
    int fd = -1;              // epoll, sim: the descriptor waited on
    Interest interest = Interest::none;
    OpKind kind = OpKind::other;
    enum class Engine : std::uint8_t { none, uring, epoll, pool, sim } engine = Engine::none;
    bool polling = false;           // io_uring: a POLL_ADD stands in for the call (readiness path)
    bool pending = false;           // submitted; completion not yet delivered
    bool cancel_requested = false;  // a cancel was asked for (the op still completes)
    bool timed_out = false;         // its own timeout fired (linked timeout or timer)
};

/// An intrusive FIFO of operation states through their prev/next links (an
/// epoll descriptor's waiters, the blocking pool's queue, a simulated
/// descriptor's waiters). A state is in at most one list at a time.
struct OpList {
    OpState* head = nullptr;
    OpState* tail = nullptr;

    bool empty() const noexcept { return head == nullptr; }
    void push(OpState& s) noexcept {
        s.next = nullptr;
        s.prev = tail;
        if (tail != nullptr) {
            tail->next = &s;
        } else {
            head = &s;
        }
        tail = &s;
    }
    /// `s` must be in this list.
    void erase(OpState& s) noexcept {
        if (s.prev != nullptr) {
            s.prev->next = s.next;
        } else {
            head = s.next;
        }
        if (s.next != nullptr) {
            s.next->prev = s.prev;
        } else {
            tail = s.prev;
        }
        s.prev = s.next = nullptr;
    }
    /// The first state, taken out; null when empty.
    OpState* pop() noexcept {
        OpState* s = head;
        if (s != nullptr) erase(*s);
        return s;
    }
    bool contains(const OpState& s) const noexcept {
        for (const OpState* p = head; p != nullptr; p = p->next) {
            if (p == &s) return true;
        }
        return false;
    }
};

}  // namespace detail
}  // namespace corio
