#pragma once
// Receiving into buffers the runtime picks when data arrives.
//
// A connection that waits in `co_await stream.recv(buf)` pins `buf` for as
// long as it waits: ten thousand idle connections with 16 KiB each hold 160
// MiB. With a BufRing the receive names no buffer; one is chosen only when
// bytes are there:
//
//   io_uring: a provided buffer ring (IORING_REGISTER_PBUF_RING, 5.19+),
//             mapped by hand (liburing 2.3 has no io_uring_setup_buf_ring);
//             the recv carries IOSQE_BUFFER_SELECT and the CQE names the
//             buffer. An empty ring (ENOBUFS) parks the receive until a
//             buffer comes back, then resubmits it.
//   epoll:    the same buffers as a plain pool; the receive waits for
//             readability and takes a buffer only for the recv that finds data.
//
// Either way a RecvBuffer hands the bytes to the caller and gives the buffer
// back when it is destroyed.

#include <liburing.h>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include <corio/runtime/cancel.hpp>
#include <corio/runtime/detail/op_state.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/result.hpp>
#include <corio/runtime/task.hpp>

namespace corio::net {

class BufRing;
class RecvBufferAwaiter;

/// Received bytes in a BufRing buffer. Move-only; gives the buffer back to its
/// ring when destroyed or reset(). Empty (size 0, no buffer) when the peer
/// closed. Must be dropped on the loop's thread, before its BufRing.
class RecvBuffer {
public:
    RecvBuffer() noexcept = default;
    RecvBuffer(RecvBuffer&& o) noexcept
        : ring_(std::exchange(o.ring_, nullptr)), id_(o.id_), len_(std::exchange(o.len_, 0)) {}
    RecvBuffer& operator=(RecvBuffer&& o) noexcept {
        if (this != &o) {
            reset();
            ring_ = std::exchange(o.ring_, nullptr);
            id_ = o.id_;
            len_ = std::exchange(o.len_, 0);
        }
        return *this;
    }
    RecvBuffer(const RecvBuffer&) = delete;
    RecvBuffer& operator=(const RecvBuffer&) = delete;
    ~RecvBuffer() { reset(); }

    /// The received bytes (valid until this is destroyed or reset).
    inline std::span<std::byte> data() const noexcept;
    std::span<std::byte> bytes() const noexcept { return data(); }
    std::size_t size() const noexcept { return len_; }
    /// True when nothing was received: the peer closed.
    bool empty() const noexcept { return len_ == 0; }
    /// Gives the buffer back now.
    inline void reset() noexcept;

private:
    friend class RecvBufferAwaiter;
    RecvBuffer(BufRing* r, std::uint16_t id, std::uint32_t len) noexcept
        : ring_(r), id_(id), len_(len) {}
    BufRing* ring_ = nullptr;
    std::uint16_t id_ = 0;
    std::uint32_t len_ = 0;
};

/// A set of `count` receive buffers of `size` bytes each, shared by the
/// connections of one loop. On io_uring (when the kernel has buffer rings) it
/// is registered with the ring as a provided-buffer group; elsewhere it is a
/// pool. Not movable (the kernel and RecvBuffers point into it); create it on
/// the loop's thread and destroy it after every RecvBuffer taken from it.
class BufRing {
public:
    /// `count` is rounded up to a power of two (at most 32768). Memory is
    /// reserved at once but backed by pages only as buffers are used. Throws
    /// std::system_error if the memory cannot be mapped. `use_kernel = false`
    /// keeps the pool mode even on io_uring (tests, comparisons).
    BufRing(Loop& loop, unsigned count, std::size_t size, bool use_kernel = true);
    ~BufRing();
    BufRing(const BufRing&) = delete;
    BufRing& operator=(const BufRing&) = delete;

    /// True when the kernel picks the buffers (io_uring provided buffer ring).
    bool kernel_selected() const noexcept { return br_ != nullptr; }
    std::uint16_t group() const noexcept { return bgid_; }
    unsigned count() const noexcept { return count_; }
    std::size_t buffer_size() const noexcept { return size_; }
    /// Buffers not held by a RecvBuffer.
    unsigned available() const noexcept { return available_; }
    Loop& loop() const noexcept { return *loop_; }

    // ---- for RecvBufferAwaiter ----
    std::byte* buffer(std::uint16_t id) const noexcept { return bufs_ + std::size_t(id) * size_; }
    /// Pool mode: takes a free buffer id, or -1.
    int take() noexcept {
        if (free_.empty()) return -1;
        int id = free_.back();
        free_.pop_back();
        --available_;
        return id;
    }
    /// Io_uring mode: the kernel consumed buffer `id`.
    void consumed() noexcept { --available_; }
    /// Returns buffer `id`; wakes one receive parked for lack of buffers.
    void give_back(std::uint16_t id) noexcept;
    /// Returns a buffer taken in pool mode without waking anyone.
    void untake(std::uint16_t id) noexcept {
        free_.push_back(id);
        ++available_;
    }
    void park(RecvBufferAwaiter& w) noexcept;
    void unpark(RecvBufferAwaiter& w) noexcept;

private:
    Loop* loop_;
    std::byte* bufs_ = nullptr;
    std::size_t bufs_len_ = 0;
    io_uring_buf_ring* br_ = nullptr;
    std::size_t br_len_ = 0;
    std::size_t size_;
    unsigned count_;
    unsigned available_ = 0;
    std::uint16_t bgid_ = 0;
    std::vector<std::uint16_t> free_;  // pool mode
    RecvBufferAwaiter* parked_head_ = nullptr;
    RecvBufferAwaiter* parked_tail_ = nullptr;
};

/// Awaits one receive into a BufRing buffer (Stream::recv_buffer). Gives
/// Result<RecvBuffer>: the bytes (an empty RecvBuffer when the peer closed),
/// or the socket's error; std::errc::operation_canceled when the task is
/// stopped (with_timeout: timed_out).
class [[nodiscard]] RecvBufferAwaiter : private corio::detail::OpState {
public:
    RecvBufferAwaiter(BufRing& ring, int fd) noexcept : ring_(&ring), sock_(fd) {
        loop = &ring.loop();
        kind = OpKind::recv;
    }
    RecvBufferAwaiter(RecvBufferAwaiter&& o) noexcept : ring_(o.ring_), sock_(o.sock_) {
        loop = o.loop;
        kind = OpKind::recv;
    }
    RecvBufferAwaiter(const RecvBufferAwaiter&) = delete;
    RecvBufferAwaiter& operator=(const RecvBufferAwaiter&) = delete;
    ~RecvBufferAwaiter() { stop_.unlink(); }

    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) noexcept {
        StopToken tok = corio::detail::stop_token_of(h);
        if (tok.stop_requested()) {
            res = -ECANCELED;
            return false;
        }
        waiter = h;
        if (!start(true)) return false;
        if (tok.stop_possible()) {
            stop_.self = this;
            stop_.fn = &on_stop;
            tok.add(stop_);
        }
        return true;
    }
    Result<RecvBuffer> await_resume() noexcept {
        stop_.unlink();
        if (res < 0) return sys_error(-res);
        if (res == 0) return RecvBuffer();
        return RecvBuffer(ring_, id_, static_cast<std::uint32_t>(res));
    }

private:
    friend class BufRing;
    struct StopNode : StopCallbackBase {
        RecvBufferAwaiter* self = nullptr;
    };

    // Submits (io_uring) or tries/waits (pool). Returns false when the result
    // is already in `res` and the caller may resume inline (`inline_ok`).
    bool start(bool inline_ok) noexcept;
    void finish_now() noexcept;  // res set: resume the waiter at the next turn
    static void uring_done(corio::detail::OpState* s, Loop& l, int r, std::uint32_t f) noexcept;
    static void pool_done(corio::detail::OpState* s, Loop& l, int r, std::uint32_t f) noexcept;
    static int attempt(corio::detail::OpState* s) noexcept;
    static void on_stop(StopCallbackBase* b) noexcept;
    void wake() noexcept;  // a buffer came back

    BufRing* ring_;
    int sock_;
    std::uint16_t id_ = 0;
    bool parked_ = false;
    RecvBufferAwaiter* pnext_ = nullptr;
    RecvBufferAwaiter* pprev_ = nullptr;
    StopNode stop_;
};

inline std::span<std::byte> RecvBuffer::data() const noexcept {
    if (ring_ == nullptr) return {};
    return {ring_->buffer(id_), len_};
}

inline void RecvBuffer::reset() noexcept {
    if (ring_ != nullptr) std::exchange(ring_, nullptr)->give_back(id_);
    len_ = 0;
}

}  // namespace corio::net
