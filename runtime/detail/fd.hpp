#pragma once
// Fd: owns a descriptor. Closing it first ends the operations still waiting on
// it (epoll: drops the registration, as a stale one would make a reused number
// look ready; io_uring: cancels its requests, which would otherwise keep the
// file open and never complete), then closes it.

#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <utility>

#include <corio/runtime/loop.hpp>

namespace corio::detail {

class Fd {
public:
    Fd() noexcept = default;
    explicit Fd(int fd) noexcept : fd_(fd) {}
    Fd(Fd&& o) noexcept
        : fd_(std::exchange(o.fd_, -1)),
          slot_(std::exchange(o.slot_, -1)),
          slot_loop_(std::exchange(o.slot_loop_, 0u)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
            slot_ = std::exchange(o.slot_, -1);
            slot_loop_ = std::exchange(o.slot_loop_, 0u);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }

    int get() const noexcept { return fd_; }
    bool valid() const noexcept { return fd_ >= 0; }
    explicit operator bool() const noexcept { return valid(); }
    /// Gives up ownership without closing (and gives up the registered slot).
    int release() noexcept {
        drop_slot();
        return std::exchange(fd_, -1);
    }

    /// Also puts the descriptor into the current loop's registered descriptor
    /// table, if it has one with a free slot (io_uring).
    void register_slot() noexcept {
        if (fd_ < 0 || slot_ >= 0) return;
        if (Loop* l = Loop::current_or_null()) {
            slot_ = l->register_fd(fd_);
            if (slot_ >= 0) slot_loop_ = l->id();
        }
    }
    /// The registered slot for operations submitted on the current thread's
    /// loop, or -1 (no slot, or the slot belongs to another loop's ring, one
    /// that may be gone: loops are told apart by id, not by address, which a
    /// later loop may reuse with a table where the number means another file).
    int slot() const noexcept {
        return slot_ >= 0 && Loop::current_if(slot_loop_) != nullptr ? slot_ : -1;
    }
    /// Closes the descriptor now; operations pending on it end with
    /// std::errc::operation_canceled.
    void reset(int fd = -1) noexcept {
        drop_slot();
        if (fd_ >= 0) {
            if (Loop* l = Loop::current_or_null()) {
                l->release_fd(fd_);
                l->close_fd(fd_);
            } else {
                ::close(fd_);
            }
        }
        fd_ = fd;
    }

private:
    void drop_slot() noexcept {
        if (slot_ < 0) return;
        if (Loop* l = Loop::current_if(slot_loop_)) {
            l->unregister_fd(slot_);
        } else if (fd_ >= 0) {
            // Closed off its loop's thread, or after that loop ended: that
            // ring's table cannot be touched from here, and while the loop
            // lives its slot keeps the socket open. Shut it down so the peer
            // sees the end now (a no-op for a file).
            ::shutdown(fd_, SHUT_RDWR);
        }
        slot_ = -1;
        slot_loop_ = 0;
    }

    int fd_ = -1;
    int slot_ = -1;                // in the registered descriptor table of
    std::uint64_t slot_loop_ = 0;  // the loop with this id()
};

}  // namespace corio::detail
