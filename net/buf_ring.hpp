#pragma once
// Receiving into buffers the runtime picks when data arrives.
//
// A connection that waits in `co_await stream.recv(buf)` pins `buf` for as
// long as it waits: ten thousand idle connections with 16 KiB each hold 160
// MiB. With a BufRing the receive names no buffer; one is chosen only when
// bytes are there:
//
//   io_uring: a provided buffer ring (IORING_REGISTER_PBUF_RING, 5.19+, used
//             where multishot receive exists too, 6.0+), mapped by hand
//             (liburing 2.3 has no io_uring_setup_buf_ring); the recv carries
//             IOSQE_BUFFER_SELECT and the CQE names the buffer.
//   epoll:    the same buffers as a plain pool; the receive waits for
//             readability and takes a buffer only for the recv that finds data.
//
// Either way a RecvBuffer hands the bytes to the caller and gives the buffer
// back when it is destroyed. A receive that finds data but no free buffer
// (ENOBUFS) parks until one comes back, then tries again.
//
// Two operations use a ring: RecvSelect (one receive, `stream.recv_buffer(ring)`)
// and RecvMulti (a multishot receive, `stream.recv_stream(ring)`: one request
// stays armed and yields a RecvBuffer per arrival). A BufRing must outlive the
// receives and the RecvBuffers that use it. A multishot request the kernel
// still holds after its stream and the BufRing are gone (the stream was
// closed mid-flight) keeps the buffers alive until its last completion
// (BufPool is shared with it), so what it still brings is given back safely.

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include <corio/runtime/detail/park.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/multishot.hpp>
#include <corio/runtime/op.hpp>
#include <corio/runtime/result.hpp>

namespace corio::net {

class BufPool;

/// The bytes of one receive, in a buffer of a BufRing; gives the buffer back
/// when destroyed. Empty (size() == 0) at end of stream.
class RecvBuffer {
public:
    /// Holds no buffer (the end of a stream).
    RecvBuffer() noexcept = default;
    /// Holds buffer `id` of `r` with `len` bytes received (BufPool::to_buffer makes them).
    RecvBuffer(BufPool* r, std::uint16_t id, std::uint32_t len) noexcept
        : ring_(r), id_(id), len_(len) {}
    /// Takes over `o`'s buffer; `o` is empty.
    RecvBuffer(RecvBuffer&& o) noexcept
        : ring_(std::exchange(o.ring_, nullptr)), id_(o.id_), len_(std::exchange(o.len_, 0)) {}
    /// Gives back the buffer held (if any) and takes over `o`'s.
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
    /// Gives the buffer back to its ring.
    ~RecvBuffer() { reset(); }

    /// The bytes received (empty for an empty RecvBuffer).
    inline std::span<std::byte> data() const noexcept;
    /// data().
    std::span<std::byte> bytes() const noexcept { return data(); }
    /// The number of bytes received.
    std::size_t size() const noexcept { return len_; }
    /// True at the end of a stream (no bytes, no buffer).
    bool empty() const noexcept { return len_ == 0; }
    /// Gives the buffer back now.
    inline void reset() noexcept;

private:
    BufPool* ring_ = nullptr;
    std::uint16_t id_ = 0;
    std::uint32_t len_ = 0;
};

/// The buffers behind a BufRing: `count` receive buffers of `size` bytes for
/// one loop, a provided buffer ring the kernel picks from on io_uring (unless
/// `use_kernel` is false), a pool on epoll. Shared by the BufRing and the
/// multishot requests that name it (see the file comment); the receive
/// operations call it, users hold a BufRing.
class BufPool {
public:
    /// Maps the buffers (`count` rounded up to a power of two, at most 32768;
    /// pages are only touched when used) and, on an io_uring loop with buffer
    /// rings and multishot receive, registers them as a buffer ring; on
    /// failure, or on epoll, they are a pool.
    BufPool(Loop& loop, unsigned count, std::size_t size, bool use_kernel = true);
    /// Unregisters and unmaps the buffers; logs an error if some are still held
    /// (every RecvBuffer must be gone first). Off its loop's thread, or after
    /// that loop ended, it leaves the ring's table alone (the ring drops the
    /// registration when it closes).
    ~BufPool();
    BufPool(const BufPool&) = delete;
    BufPool& operator=(const BufPool&) = delete;

    /// True when the kernel picks the buffers (a registered buffer ring).
    bool kernel_selected() const noexcept { return br_ != nullptr; }
    /// The buffer group id the receives name (IOSQE_BUFFER_SELECT).
    std::uint16_t group() const noexcept { return bgid_; }
    /// The number of buffers.
    unsigned count() const noexcept { return count_; }
    /// The size of each buffer.
    std::size_t buffer_size() const noexcept { return size_; }
    /// Buffers not held by a RecvBuffer (or by a receive in progress).
    unsigned available() const noexcept { return available_; }
    /// The loop the buffers belong to.
    Loop& loop() const noexcept { return *loop_; }

    // ---- for the receive operations ----
    /// The start of buffer `id`.
    std::byte* buffer(std::uint16_t id) const noexcept { return bufs_ + std::size_t(id) * size_; }
    /// Pool mode: a free buffer's id, or -1.
    int take() noexcept {
        if (free_.empty()) return -1;
        int id = free_.back();
        free_.pop_back();
        --available_;
        return id;
    }
    /// Pool mode: puts back a buffer taken for a receive that found nothing.
    void untake(std::uint16_t id) noexcept {
        free_.push_back(id);
        ++available_;
    }
    /// Kernel mode: the kernel used buffer `id` for a completion.
    void consumed() noexcept { --available_; }
    /// Buffer `id` is free again: back into the kernel's ring (or the pool),
    /// and a receive parked for want of a buffer may go on.
    void give_back(std::uint16_t id) noexcept;
    /// Where receives wait for a buffer (ENOBUFS).
    corio::detail::ParkingLot& parking() noexcept { return lot_; }
    /// One receive's CQE-style result and flags as a RecvBuffer.
    Result<RecvBuffer> to_buffer(int res, std::uint32_t flags) noexcept;
    /// Pool mode: one non-blocking recv(2) on `fd` into a free buffer (the
    /// simulated kernel's recv with `sim`); `flags` names the buffer as a
    /// CQE would (IORING_CQE_F_BUFFER).
    int recv_into_pool(int fd, std::uint32_t& flags, corio::detail::SimIo* sim = nullptr) noexcept;

private:
    Loop* loop_;
    std::uint64_t loop_id_;  // loop_->id(): the ring to unregister from, if it is still ours
    std::byte* bufs_ = nullptr;
    std::size_t bufs_len_ = 0;
    io_uring_buf_ring* br_ = nullptr;
    std::size_t br_len_ = 0;
    std::size_t size_;
    unsigned count_;
    unsigned available_ = 0;
    std::uint16_t bgid_ = 0;
    std::vector<std::uint16_t> free_;  // pool mode
    corio::detail::ParkingLot lot_;
};

/// `count` receive buffers of `size` bytes for one loop: a provided buffer ring
/// the kernel picks from on io_uring (unless `use_kernel` is false), a pool
/// on epoll. Hand it to `stream.recv_buffer(ring)` or `stream.recv_stream(ring)`.
class BufRing {
public:
    /// Maps the buffers (`count` rounded up to a power of two, at most 32768;
    /// pages are only touched when used) and, on an io_uring loop with buffer
    /// rings and multishot receive, registers them as a buffer ring; on
    /// failure, or on epoll, they are a pool.
    BufRing(Loop& loop, unsigned count, std::size_t size, bool use_kernel = true)
        : p_(std::make_shared<BufPool>(loop, count, size, use_kernel)) {}
    /// Lets go of the buffers: unregistered and unmapped now, or when the last
    /// multishot request still in the kernel that names them has completed.
    ~BufRing() = default;
    BufRing(const BufRing&) = delete;
    BufRing& operator=(const BufRing&) = delete;

    /// True when the kernel picks the buffers (a registered buffer ring).
    bool kernel_selected() const noexcept { return p_->kernel_selected(); }
    /// The buffer group id the receives name (IOSQE_BUFFER_SELECT).
    std::uint16_t group() const noexcept { return p_->group(); }
    /// The number of buffers.
    unsigned count() const noexcept { return p_->count(); }
    /// The size of each buffer.
    std::size_t buffer_size() const noexcept { return p_->buffer_size(); }
    /// Buffers not held by a RecvBuffer (or by a receive in progress).
    unsigned available() const noexcept { return p_->available(); }
    /// The loop the buffers belong to.
    Loop& loop() const noexcept { return p_->loop(); }
    /// The buffers, for the receive operations.
    BufPool& pool() const noexcept { return *p_; }
    /// The buffers, shared: a multishot request holds them while the kernel may
    /// still complete it.
    const std::shared_ptr<BufPool>& shared() const noexcept { return p_; }

private:
    std::shared_ptr<BufPool> p_;
};

/// One receive into a buffer the ring picks when data is there
/// (`stream.recv_buffer(ring)`): recv(2) with IOSQE_BUFFER_SELECT on io_uring,
/// a pool buffer after readiness on epoll. Gives a RecvBuffer (empty at end of
/// stream).
struct RecvSelect {
    int fd = -1;                      ///< the socket
    BufPool* ring = nullptr;          ///< where the bytes land
    std::uint32_t attempt_flags = 0;  ///< epoll: the buffer attempt() used, as CQE flags
    int slot = -1;                    ///< registered descriptor table slot standing for fd, or -1
    /// Operation protocol (see corio::Operation): IORING_OP_RECV with
    /// IOSQE_BUFFER_SELECT when the ring is the kernel's (`uring_enabled`);
    /// else recv(2) into a pool buffer after readiness; no free buffer
    /// (ENOBUFS) parks the receive until one comes back; finish gives the
    /// RecvBuffer.
    ///@{
    static constexpr OpKind kind = OpKind::recv;
    static constexpr Interest interest = Interest::read;
    bool uring_enabled() const noexcept { return ring->kernel_selected(); }
    void prep(io_uring_sqe* s) const noexcept {
        // No address, the ring's buffer size: the kernel picks a buffer of
        // the ring's group when data is there.
        io_uring_prep_recv(s, fd, nullptr, ring->buffer_size(), 0);
        s->flags |= IOSQE_BUFFER_SELECT;
        s->buf_group = ring->group();
    }
    int attempt() noexcept { return ring->recv_into_pool(fd, attempt_flags); }
    int sim(corio::detail::SimIo& io) noexcept {
        return ring->recv_into_pool(fd, attempt_flags, &io);
    }
    corio::detail::ParkingLot* parking(int) noexcept { return &ring->parking(); }
    Result<RecvBuffer> finish(int res, std::uint32_t flags) noexcept {
        return ring->to_buffer(res, flags);
    }
    ///@}
};

/// Multishot receive into a BufRing (`stream.recv_stream(ring)`): one request
/// (IORING_RECV_MULTISHOT, 6.0+) yields a RecvBuffer per arrival; an empty
/// RecvBuffer is the end of the stream. On epoll (or without multishot
/// receive) the same items come from readiness and recv(2).
struct RecvMulti {
    int fd = -1;                      ///< the socket
    BufPool* ring = nullptr;          ///< where the bytes land
    std::shared_ptr<BufPool> hold;    ///< `ring`, kept while the kernel may use it
    std::uint32_t attempt_flags = 0;  ///< epoll: the buffer attempt() used, as CQE flags
    int slot = -1;                    ///< registered descriptor table slot standing for fd, or -1
    /// Multishot operation protocol (see corio::MultishotOperation): a
    /// multishot RECV into the ring where the kernel has it
    /// (Caps::multishot_recv and a kernel-selected ring); elsewhere recv(2)
    /// into a pool buffer after readiness; ENOBUFS parks the request until
    /// a buffer comes back; each item is a RecvBuffer.
    ///@{
    static constexpr OpKind kind = OpKind::recv;
    static constexpr Interest interest = Interest::read;
    bool multishot(const Caps& c) const noexcept {
        return c.multishot_recv && ring->kernel_selected();
    }
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_recv_multishot(s, fd, nullptr, 0, 0);
        s->flags |= IOSQE_BUFFER_SELECT;
        s->buf_group = ring->group();
    }
    int attempt() noexcept { return ring->recv_into_pool(fd, attempt_flags); }
    int sim(corio::detail::SimIo& io) noexcept {
        return ring->recv_into_pool(fd, attempt_flags, &io);
    }
    corio::detail::ParkingLot* parking(int) noexcept { return &ring->parking(); }
    Result<RecvBuffer> finish(int res, std::uint32_t flags) noexcept {
        return ring->to_buffer(res, flags);
    }
    ///@}
};

/// A multishot receive as a stream of RecvBuffers.
using RecvStream = MultishotStream<RecvMulti>;

inline std::span<std::byte> RecvBuffer::data() const noexcept {
    if (ring_ == nullptr) return {};
    return {ring_->buffer(id_), len_};
}

inline void RecvBuffer::reset() noexcept {
    if (ring_ != nullptr) std::exchange(ring_, nullptr)->give_back(id_);
    len_ = 0;
}

}  // namespace corio::net
