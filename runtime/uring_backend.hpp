#pragma once
// The io_uring engine: owns the ring, hands out SQEs, submits once per loop
// turn and delivers completions. Only this file and uring_backend.cpp know
// io_uring's setup details; operations only fill SQEs.

#include <liburing.h>

#include <chrono>
#include <cstdint>
#include <string>

#include <corio/runtime/backend.hpp>
#include <corio/runtime/detail/op_state.hpp>
#include <corio/runtime/detail/stats.hpp>

namespace corio {

class Loop;

namespace detail {

struct UringConfig {
    unsigned sq_entries = 256;
    unsigned cq_entries = 0;  // 0: 4 x sq_entries
    bool sqpoll = false;
};

class UringBackend {
public:
    /// Creates the ring with the best setup flags the kernel accepts (stepping
    /// down on EINVAL) and probes its features into `caps`. Throws BackendError
    /// naming the reason when io_uring cannot start at all.
    UringBackend(const UringConfig& cfg, Caps& caps, LoopStats& stats, Loop& loop);
    ~UringBackend();
    UringBackend(const UringBackend&) = delete;
    UringBackend& operator=(const UringBackend&) = delete;

    /// A free SQE; never null: a full SQ is submitted first.
    io_uring_sqe* get_sqe() {
        io_uring_sqe* s = io_uring_get_sqe(&ring_);
        if (s != nullptr) [[likely]]
            return s;
        return get_sqe_slow();
    }

    /// Marks `st` in flight; its completion will reach st.on_complete.
    void start(OpState& st, io_uring_sqe* s) noexcept {
        io_uring_sqe_set_data(s, &st);
        st.pending = true;
        ++inflight_;
        ++started_;
        ++stats_.submitted[static_cast<std::size_t>(st.kind)];
    }

    /// Asks the kernel to cancel `st` (IORING_OP_ASYNC_CANCEL). The operation
    /// still completes (with -ECANCELED or its real result); a cancel request
    /// always gets an SQE, even when the SQ is full.
    void cancel(OpState& st);
    /// Cancels every request on `fd` (ASYNC_CANCEL FD|ALL, 5.19+), submitted
    /// ahead of anything prepared after it (so before a close of `fd`).
    void cancel_fd(int fd);
    /// Teardown: cancels every request in flight (ASYNC_CANCEL ANY, 5.19+;
    /// one cancel per known state on older kernels is not possible, so there
    /// the requests' own cancellation must have happened already).
    void cancel_everything();

    /// Submits what was prepared and delivers every completion there is; when
    /// `wait`, blocks for at least one (up to `timeout`, if given).
    /// `events`: enter the kernel for completions even with nothing to submit
    /// (another thread signalled; with DEFER_TASKRUN nothing arrives otherwise).
    void poll(Loop& loop, bool wait, const std::chrono::nanoseconds* timeout, bool events);
    /// Operations the loop keeps armed for itself (the wake-up read); they do
    /// not count as work in flight.
    void set_internal(unsigned n) noexcept { internal_ = n; }

    unsigned inflight() const noexcept { return inflight_; }
    /// True when an operation prepared now would go to the kernel alone: no
    /// operation waits for this turn's submit and the last submit carried at
    /// most one. A call that can be tried inline (a page-cached read) is
    /// cheaper then; in a batch the ring serves it within the shared submit.
    /// Control SQEs (cancels, descriptor table updates, linked timeouts) do
    /// not make a batch: a file's first registered read is still tried inline.
    bool lone_submission() const noexcept { return last_batch_ <= 1 && started_ == 0; }
    io_uring& ring() noexcept { return ring_; }
    int ring_fd() const noexcept { return ring_.ring_fd; }

    /// Tag for SQEs whose completions are ignored (cancel requests, linked timeouts).
    static constexpr std::uint64_t ignore_tag = 0;

private:
    io_uring_sqe* get_sqe_slow();
    void reap(Loop& loop);
    int submit_pending();

    io_uring ring_{};
    Loop& loop_;
    LoopStats& stats_;
    Caps& caps_;
    unsigned inflight_ = 0;
    unsigned internal_ = 0;
    unsigned last_batch_ = 0;  // operations in the last submit of a loop turn
    unsigned started_ = 0;     // operations started since that submit
    bool defer_taskrun_ = false;
};

/// Tries to create a ring with `cfg`; on failure returns the reason as text
/// ("io_uring_setup: Operation not permitted (kernel.io_uring_disabled=2)").
std::string uring_unavailable_reason(int err);

}  // namespace detail
}  // namespace corio
