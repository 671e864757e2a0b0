#pragma once
// The readiness engine: epoll, edge-triggered, each descriptor registered once
// (EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET) and forgotten when corio closes it.
//
// An operation first tries its non-blocking call unless the descriptor is known
// not to be ready (its last attempt said EAGAIN and no edge came since), so a
// ping-pong server does not pay a speculative recv per message. On EAGAIN it
// joins the descriptor's reader or writer list, retried in order on each edge.

#include <chrono>
#include <cstdint>
#include <vector>

#include <corio/runtime/backend.hpp>
#include <corio/runtime/detail/op_state.hpp>
#include <corio/runtime/detail/stats.hpp>

namespace corio {

class Loop;

namespace detail {

class EpollBackend {
public:
    /// Throws std::system_error if epoll_create1 fails.
    EpollBackend(Caps& caps, LoopStats& stats);
    ~EpollBackend();
    EpollBackend(const EpollBackend&) = delete;
    EpollBackend& operator=(const EpollBackend&) = delete;

    /// False when the last attempt on `fd` for `in` said EAGAIN and no
    /// readiness edge has arrived since: trying again now would be wasted.
    bool may_try(int fd, Interest in) const noexcept {
        if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return true;
        const FdState& f = fds_[static_cast<std::size_t>(fd)];
        return in == Interest::read ? f.readable : f.writable;
    }

    /// Records that `fd` has nothing more for `in` (a short read drained the
    /// socket buffer): the next operation waits for an edge instead of trying.
    void mark_not_ready(int fd, Interest in) noexcept {
        if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
        FdState& f = fds_[static_cast<std::size_t>(fd)];
        // After the peer's FIN (or an error) a read returns at once (0 or the
        // error) but no new edge will ever come: never wait for one.
        if (in == Interest::read && f.read_closed) return;
        (in == Interest::read ? f.readable : f.writable) = false;
    }

    /// Queues `st` (st.fd, st.interest, st.retry set) until its descriptor is
    /// ready and st.retry stops saying -EAGAIN. Registers the fd on first use.
    void wait(OpState& st);
    /// Removes a waiting `st` and completes it with -ECANCELED.
    void cancel(Loop& loop, OpState& st);
    /// Drops corio's registration of `fd`; call before closing it. Its
    /// waiters complete with -ECANCELED (as io_uring's cancel-by-fd does).
    void forget(int fd) noexcept;
    /// Teardown: completes every waiter with -ECANCELED.
    void cancel_everything(Loop& loop) noexcept;
    /// Waits (if `wait`, up to `timeout`) and runs the ready waiters.
    void poll(Loop& loop, bool wait, const std::chrono::nanoseconds* timeout);

    unsigned waiting() const noexcept { return waiting_; }

private:
    struct FdState {
        OpList readers;
        OpList writers;
        bool registered = false;
        bool readable = true;  // unknown counts as ready: try first
        bool writable = true;
        bool read_closed = false;  // EPOLLRDHUP/HUP/ERR seen: reads never block again
    };
    FdState& state(int fd);
    void run_list(Loop& loop, int fd, bool readers);

    int epfd_ = -1;
    std::vector<FdState> fds_;
    LoopStats& stats_;
    Caps& caps_;
    unsigned waiting_ = 0;
};

}  // namespace detail
}  // namespace corio
