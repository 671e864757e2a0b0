#include <corio/net/buf_ring.hpp>

#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <system_error>

#include <corio/runtime/log.hpp>

namespace corio::net {

namespace {

std::size_t page_round(std::size_t n) {
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return (n + page - 1) / page * page;
}

void* map_anon(std::size_t len) {
    void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::system_error(errno, std::system_category(), "mmap");
    return p;
}

// Buffer group ids per thread (a ring belongs to one thread's loop). 0xfffe is
// the backend's probe group.
thread_local std::uint16_t t_next_group = 1;

}  // namespace

BufRing::BufRing(Loop& loop, unsigned count, std::size_t size, bool use_kernel)
    : loop_(&loop), size_(size == 0 ? 1 : size) {
    unsigned n = 1;
    while (n < count && n < 32768)
        n <<= 1;
    count_ = n;
    bufs_len_ = page_round(std::size_t(count_) * size_);
    // Anonymous pages cost nothing until first written: unused buffers hold
    // address space only.
    bufs_ = static_cast<std::byte*>(map_anon(bufs_len_));
    bgid_ = t_next_group++;
    if (t_next_group >= 0xfffe) t_next_group = 1;

    if (use_kernel && loop.kind() == BackendKind::io_uring && loop.caps().buf_ring) {
        // liburing 2.3 has no io_uring_setup_buf_ring: map the ring ourselves
        // (page-aligned, as the kernel requires) and register it.
        br_len_ = page_round(std::size_t(count_) * sizeof(io_uring_buf));
        br_ = static_cast<io_uring_buf_ring*>(map_anon(br_len_));
        io_uring_buf_reg reg{};
        reg.ring_addr = reinterpret_cast<std::uint64_t>(br_);
        reg.ring_entries = count_;
        reg.bgid = bgid_;
        int r = io_uring_register_buf_ring(&loop.uring().ring(), &reg, 0);
        if (r != 0) {
            log_debug("buffer ring {}: register: {}; using a pool", bgid_, std::strerror(-r));
            ::munmap(br_, br_len_);
            br_ = nullptr;
        } else {
            io_uring_buf_ring_init(br_);
            const int mask = io_uring_buf_ring_mask(count_);
            for (unsigned i = 0; i < count_; ++i) {
                io_uring_buf_ring_add(br_, buffer(static_cast<std::uint16_t>(i)),
                                      static_cast<unsigned>(size_), static_cast<unsigned short>(i),
                                      mask, static_cast<int>(i));
            }
            io_uring_buf_ring_advance(br_, static_cast<int>(count_));
        }
    }
    if (br_ == nullptr) {
        free_.reserve(count_);
        for (unsigned i = count_; i > 0; --i)
            free_.push_back(static_cast<std::uint16_t>(i - 1));
    }
    available_ = count_;
}

BufRing::~BufRing() {
    if (available_ != count_) {
        log_error("BufRing destroyed with {} buffers still held", count_ - available_);
    }
    if (br_ != nullptr) {
        io_uring_unregister_buf_ring(&loop_->uring().ring(), bgid_);
        ::munmap(br_, br_len_);
    }
    ::munmap(bufs_, bufs_len_);
}

void BufRing::give_back(std::uint16_t id) noexcept {
    ++available_;
    if (br_ != nullptr) {
        io_uring_buf_ring_add(br_, buffer(id), static_cast<unsigned>(size_), id,
                              io_uring_buf_ring_mask(count_), 0);
        io_uring_buf_ring_advance(br_, 1);
        // The kernel picks the buffer: one parked receive can use it.
        if (RecvBufferAwaiter* w = parked_head_) {
            unpark(*w);
            w->wake();
        }
        return;
    }
    free_.push_back(id);
    // A woken receive may find nothing to read and leave the buffer free:
    // keep waking while buffers remain.
    while (available_ > 0 && parked_head_ != nullptr) {
        RecvBufferAwaiter* w = parked_head_;
        unpark(*w);
        w->wake();
    }
}

void BufRing::park(RecvBufferAwaiter& w) noexcept {
    w.parked_ = true;
    w.engine = corio::detail::OpState::Engine::none;
    w.pnext_ = nullptr;
    w.pprev_ = parked_tail_;
    if (parked_tail_ != nullptr) {
        parked_tail_->pnext_ = &w;
    } else {
        parked_head_ = &w;
    }
    parked_tail_ = &w;
}

void BufRing::unpark(RecvBufferAwaiter& w) noexcept {
    if (!w.parked_) return;
    w.parked_ = false;
    if (w.pprev_ != nullptr) {
        w.pprev_->pnext_ = w.pnext_;
    } else {
        parked_head_ = w.pnext_;
    }
    if (w.pnext_ != nullptr) {
        w.pnext_->pprev_ = w.pprev_;
    } else {
        parked_tail_ = w.pprev_;
    }
    w.pnext_ = w.pprev_ = nullptr;
}

bool RecvBufferAwaiter::start(bool inline_ok) noexcept {
    Loop& l = *loop;
    if (ring_->kernel_selected()) {
        auto& u = l.uring();
        io_uring_sqe* s = u.get_sqe();
        // No address, the ring's buffer size: the kernel picks a buffer of
        // group `bgid` when data is there (IOSQE_BUFFER_SELECT).
        io_uring_prep_recv(s, sock_, nullptr, ring_->buffer_size(), 0);
        s->flags |= IOSQE_BUFFER_SELECT;
        s->buf_group = ring_->group();
        on_complete = &uring_done;
        engine = Engine::uring;
        u.start(*this, s);
        return true;
    }
    if (l.kind() == BackendKind::io_uring) {
        // io_uring without buffer rings (or a ring asked not to use them):
        // wait for data with a poll, then recv into a pool buffer.
        auto& u = l.uring();
        io_uring_sqe* s = u.get_sqe();
        io_uring_prep_poll_add(s, sock_, POLLIN);
        on_complete = &pool_done;
        engine = Engine::uring;
        u.start(*this, s);
        return true;
    }
    on_complete = &pool_done;
    retry = &attempt;
    if (l.epoll().may_try(sock_, Interest::read)) {
        int r = attempt(this);
        if (r != -EAGAIN) {
            res = r;
            if (r == -ENOBUFS) {
                ring_->park(*this);
                return true;
            }
            if (inline_ok && l.take_inline_budget()) return false;
            finish_now();
            return true;
        }
    }
    fd = sock_;
    interest = Interest::read;
    engine = Engine::epoll;
    l.epoll().wait(*this);
    return true;
}

void RecvBufferAwaiter::finish_now() noexcept {
    engine = Engine::none;
    loop->schedule(waiter);
}

void RecvBufferAwaiter::wake() noexcept {
    if (cancel_requested) {
        res = -ECANCELED;
        finish_now();
        return;
    }
    start(false);
}

int RecvBufferAwaiter::attempt(corio::detail::OpState* s) noexcept {
    auto* self = static_cast<RecvBufferAwaiter*>(s);
    BufRing& ring = *self->ring_;
    int id = ring.take();
    if (id < 0) {
        // No buffer: park only if there is something to read, else wait for
        // readability as usual (a parked receive is woken per returned buffer).
        char c;
        ssize_t n = ::recv(self->sock_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0) return -errno;
        return n == 0 ? 0 : -ENOBUFS;
    }
    auto bid = static_cast<std::uint16_t>(id);
    ssize_t n = ::recv(self->sock_, ring.buffer(bid), ring.buffer_size(), MSG_DONTWAIT);
    if (n <= 0) {
        int r = n < 0 ? -errno : 0;
        ring.untake(bid);
        return r;
    }
    self->id_ = bid;
    return static_cast<int>(n);
}

void RecvBufferAwaiter::uring_done(corio::detail::OpState* s, Loop&, int r,
                                   std::uint32_t flags) noexcept {
    auto* self = static_cast<RecvBufferAwaiter*>(s);
    if ((flags & IORING_CQE_F_BUFFER) != 0) {
        auto bid = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
        self->ring_->consumed();
        if (r > 0) {
            self->id_ = bid;
        } else {
            self->ring_->give_back(bid);  // end of stream or error: nothing to hand out
        }
    } else if (r > 0) {
        r = -EIO;  // data without a buffer: cannot happen with BUFFER_SELECT
    }
    if (r == -ENOBUFS && !self->cancel_requested) {
        // The ring ran dry: wait for a RecvBuffer to come back, then resubmit.
        self->ring_->park(*self);
        return;
    }
    self->res = r;
    self->finish_now();
}

void RecvBufferAwaiter::pool_done(corio::detail::OpState* s, Loop&, int r, std::uint32_t) noexcept {
    auto* self = static_cast<RecvBufferAwaiter*>(s);
    if (self->engine == Engine::uring && r >= 0) {
        // The poll said readable: now take a buffer and read.
        if (self->cancel_requested) {
            r = -ECANCELED;
        } else {
            r = attempt(self);
            if (r == -EAGAIN) {
                self->start(false);
                return;
            }
        }
    }
    if (r == -ENOBUFS && !self->cancel_requested) {
        self->ring_->park(*self);
        return;
    }
    self->res = r;
    self->finish_now();
}

void RecvBufferAwaiter::on_stop(StopCallbackBase* b) noexcept {
    RecvBufferAwaiter* self = static_cast<StopNode*>(b)->self;
    self->cancel_requested = true;
    if (self->parked_) {
        self->ring_->unpark(*self);
        self->res = -ECANCELED;
        self->finish_now();
        return;
    }
    // The backend delivers the completion (-ECANCELED or the real result).
    self->cancel_requested = false;  // cancel_op skips ops already marked
    self->loop->cancel_op(*self);
    self->cancel_requested = true;
}

}  // namespace corio::net
