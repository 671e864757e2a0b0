#pragma once
// Fd: owns a descriptor. Closing it first ends the operations still waiting on
// it (epoll: drops the registration, as a stale one would make a reused number
// look ready; io_uring: cancels its requests, which would otherwise keep the
// file open and never complete), then closes it.

#include <unistd.h>

#include <utility>

#include <corio/runtime/loop.hpp>

namespace corio::detail {

class Fd {
public:
    Fd() noexcept = default;
    explicit Fd(int fd) noexcept : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }

    int get() const noexcept { return fd_; }
    bool valid() const noexcept { return fd_ >= 0; }
    explicit operator bool() const noexcept { return valid(); }
    /// Gives up ownership without closing.
    int release() noexcept { return std::exchange(fd_, -1); }
    /// Closes the descriptor now; operations pending on it end with
    /// std::errc::operation_canceled.
    void reset(int fd = -1) noexcept {
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
    int fd_ = -1;
};

}  // namespace corio::detail
