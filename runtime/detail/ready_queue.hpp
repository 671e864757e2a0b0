#pragma once
// The loop's run queue: a growable ring buffer of coroutine handles.
// Single-threaded; push and pop are a store and an index bump.

#include <coroutine>
#include <cstddef>
#include <memory>
#include <utility>

namespace corio::detail {

class ReadyQueue {
public:
    ReadyQueue() : buf_(std::make_unique<std::coroutine_handle<>[]>(256)), mask_(255) {}

    bool empty() const noexcept { return head_ == tail_; }
    std::size_t size() const noexcept { return tail_ - head_; }

    void push(std::coroutine_handle<> h) {
        if (size() == mask_ + 1) grow();
        buf_[tail_++ & mask_] = h;
    }
    std::coroutine_handle<> pop() noexcept { return buf_[head_++ & mask_]; }
    /// The i-th queued handle from the front (for shuffling).
    std::coroutine_handle<>& at(std::size_t i) noexcept { return buf_[(head_ + i) & mask_]; }

private:
    void grow() {
        std::size_t cap = mask_ + 1;
        auto nb = std::make_unique<std::coroutine_handle<>[]>(cap * 2);
        for (std::size_t i = 0; i < cap; ++i) nb[i] = buf_[(head_ + i) & mask_];
        buf_ = std::move(nb);
        head_ = 0;
        tail_ = cap;
        mask_ = cap * 2 - 1;
    }

    std::unique_ptr<std::coroutine_handle<>[]> buf_;
    std::size_t mask_;
    std::size_t head_ = 0;
    std::size_t tail_ = 0;
};

}  // namespace corio::detail
