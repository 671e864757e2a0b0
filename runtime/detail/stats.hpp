#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

#include <corio/runtime/detail/op_state.hpp>

namespace corio {

/// Counters a loop keeps about itself. Plain integers, always on: each
/// increment is one add on the loop's own cache line.
struct LoopStats {
    /// Operations started, per OpKind (index `static_cast<std::size_t>(kind)`).
    std::array<std::uint64_t, static_cast<std::size_t>(OpKind::count_)> submitted{};
    std::uint64_t completed = 0;      ///< completions delivered (CQEs or epoll results)
    std::uint64_t inline_done = 0;    ///< awaits that finished without waiting, resumed inline
    std::uint64_t syscalls = 0;       ///< io_uring_enter / epoll_wait calls made by the loop
    std::uint64_t reaps = 0;          ///< reaps that found at least one completion
    std::uint64_t cq_overflows = 0;   ///< times the CQ overflow flag was seen (and flushed)
    std::uint64_t sq_full = 0;        ///< times the SQ was full and was submitted early
    std::uint64_t cancels = 0;        ///< cancel requests sent
    std::uint64_t tasks_run = 0;      ///< coroutine resumptions from the run queue
    std::uint64_t turns = 0;          ///< loop turns
    std::uint64_t timers_fired = 0;          ///< timers (sleeps, timeouts) that fired
    std::uint64_t spawned = 0;               ///< tasks spawned (spawn, spawn_background)
    std::uint64_t unhandled_exceptions = 0;  ///< exceptions escaping detached tasks
    std::uint64_t remote_received = 0;       ///< items received from other threads
    std::uint64_t msg_ring_sent = 0;      ///< MSG_RING wake-ups this loop sent to other loops
    std::uint64_t msg_ring_received = 0;  ///< MSG_RING wake-ups this loop received

    /// Operations started, all kinds together.
    std::uint64_t submitted_total() const noexcept {
        std::uint64_t n = 0;
        for (auto v : submitted) n += v;
        return n;
    }
    /// Completions per reap that found any: how well the loop batches.
    double completions_per_reap() const noexcept {
        return reaps == 0 ? 0.0 : double(completed) / double(reaps);
    }
};

}  // namespace corio
