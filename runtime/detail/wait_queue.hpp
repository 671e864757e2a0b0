#pragma once
// Building blocks of channels and synchronisation primitives: an intrusive
// FIFO of waiters (nodes live in the awaiters, in the waiting coroutines'
// frames, so waiting allocates nothing) and a growable ring buffer of values.

#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace corio::detail {

/// A node of a WaitQueue.
struct WaitNode {
    WaitNode* prev = nullptr;
    WaitNode* next = nullptr;
    bool linked = false;
};

/// Intrusive doubly linked FIFO of `N` (derived from WaitNode).
template <class N>
class WaitQueue {
public:
    bool empty() const noexcept { return head_ == nullptr; }
    std::size_t size() const noexcept { return size_; }
    N* front() const noexcept { return static_cast<N*>(head_); }

    void push_back(N& n) noexcept {
        WaitNode& w = n;
        w.prev = tail_;
        w.next = nullptr;
        w.linked = true;
        if (tail_ != nullptr) {
            tail_->next = &w;
        } else {
            head_ = &w;
        }
        tail_ = &w;
        ++size_;
    }
    N* pop_front() noexcept {
        WaitNode* w = head_;
        if (w == nullptr) return nullptr;
        erase(*static_cast<N*>(w));
        return static_cast<N*>(w);
    }
    /// Removes `n` if it is linked (in this queue).
    void erase(N& n) noexcept {
        WaitNode& w = n;
        if (!w.linked) return;
        if (w.prev != nullptr) {
            w.prev->next = w.next;
        } else {
            head_ = w.next;
        }
        if (w.next != nullptr) {
            w.next->prev = w.prev;
        } else {
            tail_ = w.prev;
        }
        w.prev = w.next = nullptr;
        w.linked = false;
        --size_;
    }

private:
    WaitNode* head_ = nullptr;
    WaitNode* tail_ = nullptr;
    std::size_t size_ = 0;
};

/// A FIFO of values in a power-of-two ring that grows by doubling when full
/// (the bound, if any, is the caller's business). Steady state allocates
/// nothing.
template <class T>
class Ring {
public:
    Ring() noexcept = default;
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;
    ~Ring() {
        while (size_ > 0)
            pop_discard();
        if (buf_ != nullptr) std::allocator<T>().deallocate(buf_, cap_);
    }

    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }
    /// Room for `n` values without allocating again.
    void reserve(std::size_t n) {
        while (cap_ < n)
            grow();
    }

    template <class U>
    void push(U&& v) {
        if (size_ == cap_) grow();
        ::new (static_cast<void*>(buf_ + ((head_ + size_) & (cap_ - 1)))) T(std::forward<U>(v));
        ++size_;
    }
    T pop() {
        T* p = buf_ + head_;
        T v(std::move(*p));
        p->~T();
        head_ = (head_ + 1) & (cap_ - 1);
        --size_;
        return v;
    }

private:
    void pop_discard() noexcept {
        buf_[head_].~T();
        head_ = (head_ + 1) & (cap_ - 1);
        --size_;
    }
    void grow() {
        std::size_t ncap = cap_ == 0 ? 16 : cap_ * 2;
        T* nb = std::allocator<T>().allocate(ncap);
        for (std::size_t i = 0; i < size_; ++i) {
            T* p = buf_ + ((head_ + i) & (cap_ - 1));
            ::new (static_cast<void*>(nb + i)) T(std::move(*p));
            p->~T();
        }
        if (buf_ != nullptr) std::allocator<T>().deallocate(buf_, cap_);
        buf_ = nb;
        cap_ = ncap;
        head_ = 0;
    }

    T* buf_ = nullptr;
    std::size_t cap_ = 0;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

}  // namespace corio::detail
