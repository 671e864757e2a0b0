#pragma once
// A binary min-heap of timer nodes that live in their waiters' frames.
// Push and remove are O(log n) and allocate only when the heap grows, so
// thousands of timers are cheap. Equal deadlines fire in the order they were
// armed (a sequence number breaks ties).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace corio {

/// The clock of every loop without a ManualClock.
using Clock = std::chrono::steady_clock;
/// Time spans on a loop's clock (nanoseconds).
using Duration = Clock::duration;
/// Points in time on a loop's clock (Loop::now(), deadlines).
using TimePoint = Clock::time_point;

class Loop;

namespace detail {

struct TimerNode {
    static constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();
    TimePoint deadline{};
    std::uint64_t seq = 0;
    std::size_t index = npos;  // position in the heap; npos when not armed
    void (*fire)(TimerNode*, Loop&) noexcept = nullptr;
    bool armed() const noexcept { return index != npos; }
};

class TimerQueue {
public:
    bool empty() const noexcept { return heap_.empty(); }
    std::size_t size() const noexcept { return heap_.size(); }
    TimePoint next_deadline() const noexcept { return heap_.front()->deadline; }

    void push(TimerNode& n) {
        n.seq = seq_++;
        n.index = heap_.size();
        heap_.push_back(&n);
        up(n.index);
    }

    void remove(TimerNode& n) noexcept {
        if (!n.armed()) return;
        std::size_t i = n.index;
        std::size_t last = heap_.size() - 1;
        if (i != last) {
            heap_[i] = heap_[last];
            heap_[i]->index = i;
        }
        heap_.pop_back();
        n.index = TimerNode::npos;
        if (i < heap_.size()) {
            up(i);
            down(heap_[i]->index);
        }
    }

    /// Removes and returns the earliest node if it is due at `now`, else null.
    TimerNode* pop_due(TimePoint now) noexcept {
        if (heap_.empty() || heap_.front()->deadline > now) return nullptr;
        TimerNode* n = heap_.front();
        remove(*n);
        return n;
    }

private:
    static bool less(const TimerNode* a, const TimerNode* b) noexcept {
        return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
    }
    void up(std::size_t i) noexcept {
        TimerNode* n = heap_[i];
        while (i > 0) {
            std::size_t p = (i - 1) / 2;
            if (!less(n, heap_[p])) break;
            heap_[i] = heap_[p];
            heap_[i]->index = i;
            i = p;
        }
        heap_[i] = n;
        n->index = i;
    }
    void down(std::size_t i) noexcept {
        TimerNode* n = heap_[i];
        std::size_t size = heap_.size();
        for (;;) {
            std::size_t c = 2 * i + 1;
            if (c >= size) break;
            if (c + 1 < size && less(heap_[c + 1], heap_[c])) ++c;
            if (!less(heap_[c], n)) break;
            heap_[i] = heap_[c];
            heap_[i]->index = i;
            i = c;
        }
        heap_[i] = n;
        n->index = i;
    }

    std::vector<TimerNode*> heap_;
    std::uint64_t seq_ = 0;
};

}  // namespace detail
}  // namespace corio
