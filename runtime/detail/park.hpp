#pragma once
// ParkingLot: operations that wait for a resource rather than for the kernel.
//
// A receive into a provided buffer that finds every buffer taken (ENOBUFS)
// cannot make progress until one comes back; resubmitting at once would spin
// through the kernel. It parks here instead, and the owner of the resource
// (a BufRing) wakes one parked operation per returned buffer. Nodes live in
// the operations (in the awaiting frames): parking allocates nothing.

#include <corio/runtime/detail/wait_queue.hpp>

namespace corio::detail {

struct ParkNode : WaitNode {
    void (*wake)(ParkNode*) noexcept = nullptr;
};

class ParkingLot {
public:
    ParkingLot() noexcept = default;
    ParkingLot(const ParkingLot&) = delete;
    ParkingLot& operator=(const ParkingLot&) = delete;

    void park(ParkNode& n) noexcept { q_.push_back(n); }
    /// Removes `n` if it is parked; true if it was.
    bool unpark(ParkNode& n) noexcept {
        if (!n.linked) return false;
        q_.erase(n);
        return true;
    }
    /// Wakes the longest-parked node, if any.
    bool wake_one() noexcept {
        ParkNode* n = q_.pop_front();
        if (n == nullptr) return false;
        n->wake(n);
        return true;
    }
    bool empty() const noexcept { return q_.empty(); }
    std::size_t size() const noexcept { return q_.size(); }

private:
    WaitQueue<ParkNode> q_;
};

}  // namespace corio::detail
