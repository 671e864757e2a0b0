#include <corio/runtime/epoll_backend.hpp>

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <corio/runtime/log.hpp>
#include <corio/runtime/loop.hpp>

namespace corio::detail {

EpollBackend::EpollBackend(Caps& caps, LoopStats& stats) : stats_(stats), caps_(caps) {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) throw std::system_error(errno, std::system_category(), "epoll_create1");
    // epoll_pwait2 (5.11+) takes a nanosecond timeout; probe it once.
    epoll_event ev{};
    timespec ts{};
    caps.epoll_pwait2 = ::epoll_pwait2(epfd_, &ev, 1, &ts, nullptr) >= 0 || errno != ENOSYS;
}

EpollBackend::~EpollBackend() {
    if (epfd_ >= 0) ::close(epfd_);
}

EpollBackend::FdState& EpollBackend::state(int fd) {
    auto i = static_cast<std::size_t>(fd);
    if (i >= fds_.size()) fds_.resize(std::max(i + 1, fds_.size() * 2));
    return fds_[i];
}

void EpollBackend::wait(OpState& st) {
    FdState& f = state(st.fd);
    if (!f.registered) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.fd = st.fd;
        if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, st.fd, &ev) != 0 && errno != EEXIST) {
            // Not pollable (a regular file) or a bad descriptor: report it as the
            // operation's result rather than waiting forever.
            int err = errno;
            st.pending = false;
            st.res = -err;
            st.on_complete(&st, *st.loop, -err, 0);
            return;
        }
        f.registered = true;
    }
    if (st.interest == Interest::read) {
        f.readable = false;
        f.readers.push(st);
    } else {
        f.writable = false;
        f.writers.push(st);
    }
    st.pending = true;
    ++waiting_;
    ++stats_.submitted[static_cast<std::size_t>(st.kind)];
}

void EpollBackend::cancel(Loop& loop, OpState& st) {
    if (!st.pending || st.cancel_requested) return;
    st.cancel_requested = true;
    ++stats_.cancels;
    FdState& f = state(st.fd);
    (st.interest == Interest::read ? f.readers : f.writers).erase(st);
    st.pending = false;
    --waiting_;
    ++stats_.completed;
    st.on_complete(&st, loop, -ECANCELED, 0);
}

void EpollBackend::forget(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
    FdState& f = fds_[static_cast<std::size_t>(fd)];
    if (f.registered) ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    // Waiters left behind would wait on a number that may be reused: they
    // end as cancelled, as io_uring's cancel-by-descriptor ends them.
    for (OpList* l : {&f.readers, &f.writers}) {
        while (OpState* s = l->head) {
            l->erase(*s);
            s->pending = false;
            --waiting_;
            ++stats_.completed;
            s->on_complete(s, *s->loop, -ECANCELED, 0);
        }
    }
    f = FdState{};
}

void EpollBackend::cancel_everything(Loop& loop) noexcept {
    for (FdState& f : fds_) {
        for (OpList* l : {&f.readers, &f.writers}) {
            while (OpState* s = l->head) {
                l->erase(*s);
                s->pending = false;
                s->cancel_requested = true;
                --waiting_;
                ++stats_.completed;
                s->on_complete(s, loop, -ECANCELED, 0);
            }
        }
    }
}

void EpollBackend::run_list(Loop& loop, int fd, bool readers) {
    // Index anew each time: a completion handler may register another
    // descriptor and grow fds_.
    auto at = [&]() -> FdState& { return fds_[static_cast<std::size_t>(fd)]; };
    for (;;) {
        OpList& l = readers ? at().readers : at().writers;
        OpState* s = l.head;
        if (s == nullptr) return;
        int r = s->retry(s);
        if (r == -EAGAIN) {
            (readers ? at().readable : at().writable) = false;
            return;
        }
        l.erase(*s);
        s->pending = false;
        --waiting_;
        ++stats_.completed;
        s->on_complete(s, loop, r, 0);
    }
}

void EpollBackend::poll(Loop& loop, bool wait, const std::chrono::nanoseconds* timeout) {
    epoll_event events[256];
    int n;
    ++stats_.syscalls;
    if (!wait) {
        n = ::epoll_wait(epfd_, events, 256, 0);
    } else if (timeout == nullptr) {
        n = ::epoll_wait(epfd_, events, 256, -1);
    } else if (caps_.epoll_pwait2) {
        timespec ts{};
        ts.tv_sec = timeout->count() / 1'000'000'000;
        ts.tv_nsec = timeout->count() % 1'000'000'000;
        n = ::epoll_pwait2(epfd_, events, 256, &ts, nullptr);
    } else {
        // Round up: waking early would spin until the timer is due.
        auto ms = (timeout->count() + 999'999) / 1'000'000;
        n = ::epoll_wait(epfd_, events, 256, static_cast<int>(std::min<long long>(ms, 1 << 30)));
    }
    if (n < 0) {
        if (errno != EINTR) log_error("epoll_wait: {}", std::strerror(errno));
        return;
    }
    if (n > 0) ++stats_.reaps;
    for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) continue;
        std::uint32_t e = events[i].events;
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
            fds_[static_cast<std::size_t>(fd)].readable = true;
            if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                fds_[static_cast<std::size_t>(fd)].read_closed = true;
            }
            run_list(loop, fd, true);
        }
        if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
            fds_[static_cast<std::size_t>(fd)].writable = true;
            run_list(loop, fd, false);
        }
    }
}

}  // namespace corio::detail
