#include <corio/runtime/uring_backend.hpp>

#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <utility>

#include <fmt/format.h>

#include <corio/runtime/log.hpp>
#include <corio/runtime/loop.hpp>

namespace corio::detail {
namespace {

int kernel_io_uring_disabled() {
    std::ifstream f("/proc/sys/kernel/io_uring_disabled");
    int v = 0;
    if (f >> v) return v;
    return 0;
}

// Kernel version as major*1000+minor, for features a probe cannot see
// (flags of an opcode rather than the opcode itself).
int kernel_version() {
    utsname u{};
    if (::uname(&u) != 0) return 0;
    int major = 0, minor = 0;
    if (std::sscanf(u.release, "%d.%d", &major, &minor) < 2) return 0;
    return major * 1000 + minor;
}

}  // namespace

std::string uring_unavailable_reason(int err) {
    std::string r = fmt::format("io_uring_setup: {}", std::strerror(err));
    if (int d = kernel_io_uring_disabled(); d != 0) {
        r += fmt::format(" (kernel.io_uring_disabled={})", d);
    }
    return r;
}

UringBackend::UringBackend(const UringConfig& cfg, Caps& caps, LoopStats& stats, Loop& loop)
    : loop_(loop), stats_(stats), caps_(caps) {
    unsigned cq = cfg.cq_entries != 0 ? cfg.cq_entries : cfg.sq_entries * 4;
    // Best first; a kernel that does not know a flag says EINVAL.
    // DEFER_TASKRUN (6.1+) runs completion work only when we enter the kernel
    // to reap, which keeps it off the hot path; it needs SINGLE_ISSUER (6.0+).
    // COOP_TASKRUN (5.19+) avoids interrupting the task for completions.
    const unsigned base = IORING_SETUP_CQSIZE | (cfg.sqpoll ? IORING_SETUP_SQPOLL : 0u);
    const unsigned attempts[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        IORING_SETUP_SUBMIT_ALL,
        0,
    };
    int err = 0;
    unsigned used = 0;
    for (unsigned extra : attempts) {
        if (cfg.sqpoll && (extra & IORING_SETUP_DEFER_TASKRUN)) continue;  // not with SQPOLL
        io_uring_params p{};
        p.flags = base | extra;
        p.cq_entries = cq;
        err = io_uring_queue_init_params(cfg.sq_entries, &ring_, &p);
        if (err == -EINVAL) continue;
        if (err == 0) {
            used = p.flags;
            caps.features = p.features;
        }
        break;
    }
    if (err != 0) {
        throw BackendError(std::error_code(-err, std::system_category()),
                           "io_uring backend unavailable: " + uring_unavailable_reason(-err));
    }
    caps.setup_flags = used;
    defer_taskrun_ = (used & IORING_SETUP_DEFER_TASKRUN) != 0;
    caps.ext_arg = (caps.features & IORING_FEAT_EXT_ARG) != 0;

    // Registering the ring fd saves an fget/fput per io_uring_enter (5.18+).
    caps.registered_ring_fd = io_uring_register_ring_fd(&ring_) == 1;

    if (io_uring_probe* probe = io_uring_get_probe_ring(&ring_)) {
        for (unsigned op = 0; op < caps.ops.size() && op <= probe->last_op; ++op) {
            if (io_uring_opcode_supported(probe, static_cast<int>(op))) caps.ops.set(op);
        }
        io_uring_free_probe(probe);
    }
    int kv = kernel_version();
    caps.msg_ring = caps.has_op(IORING_OP_MSG_RING);
    caps.link_timeout = caps.has_op(IORING_OP_LINK_TIMEOUT);
    caps.multishot_accept = caps.has_op(IORING_OP_ACCEPT) && kv >= 5019;
    caps.multishot_recv = caps.has_op(IORING_OP_RECV) && kv >= 6000;
    caps.multishot_recvmsg = caps.has_op(IORING_OP_RECVMSG) && kv >= 6000;
    caps.multishot_poll = caps.has_op(IORING_OP_POLL_ADD) && kv >= 5013;
    caps.cancel_fd = caps.has_op(IORING_OP_ASYNC_CANCEL) && kv >= 5019;
    caps.send_zc = caps.has_op(IORING_OP_SEND_ZC);
    // Provided buffer rings: register a tiny one and take it back, the only
    // reliable probe (5.19+).
    {
        void* mem = nullptr;
        const unsigned entries = 1;
        if (::posix_memalign(&mem, 4096, 4096) == 0) {
            io_uring_buf_reg reg{};
            reg.ring_addr = reinterpret_cast<std::uint64_t>(mem);
            reg.ring_entries = entries;
            reg.bgid = 0xfffe;
            if (io_uring_register_buf_ring(&ring_, &reg, 0) == 0) {
                caps.buf_ring = true;
                io_uring_unregister_buf_ring(&ring_, 0xfffe);
            }
            std::free(mem);
        }
    }
}

UringBackend::~UringBackend() {
    io_uring_queue_exit(&ring_);
}

io_uring_sqe* UringBackend::get_sqe_slow() {
    // The SQ is full: hand what is there to the kernel now and take a fresh
    // slot. A kernel short of CQ space or memory (EBUSY, EAGAIN) gets its
    // completions reaped to make room; any other failure means the ring
    // cannot take work at all, and retrying would spin forever.
    constexpr int max_tries = 10000;
    for (int tries = 0;; ++tries) {
        ++stats_.sq_full;
        int r = submit_pending();
        if (io_uring_sqe* s = io_uring_get_sqe(&ring_)) return s;
        if (r == -EBUSY || r == -EAGAIN || r == -EINTR || r >= 0) {
            if (tries < max_tries) {
                ++stats_.syscalls;
                io_uring_get_events(&ring_);
                reap(loop_);
                continue;
            }
        }
        log_error("io_uring submit: {}; the ring takes no more work after {} tries, aborting",
                  r < 0 ? std::strerror(-r) : "no progress", tries + 1);
        std::abort();
    }
}

int UringBackend::submit_pending() {
    ++stats_.syscalls;
    return io_uring_submit(&ring_);
}

void UringBackend::cancel(OpState& st) {
    if (!st.pending || st.cancel_requested) return;
    st.cancel_requested = true;
    ++stats_.cancels;
    io_uring_sqe* s = get_sqe();
    io_uring_prep_cancel64(s, reinterpret_cast<std::uint64_t>(&st), 0);
    io_uring_sqe_set_data64(s, ignore_tag);
}

void UringBackend::cancel_fd(int fd) {
    if (!caps_.cancel_fd) return;
    io_uring_sqe* s = get_sqe();
    io_uring_prep_cancel_fd(s, fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(s, ignore_tag);
}

void UringBackend::cancel_everything() {
    if (inflight_ == 0 || !caps_.cancel_fd) return;
    io_uring_sqe* s = get_sqe();
    io_uring_prep_cancel64(s, 0, IORING_ASYNC_CANCEL_ANY);
    io_uring_sqe_set_data64(s, ignore_tag);
    ++stats_.cancels;
}

void UringBackend::poll(Loop& loop, bool wait, const std::chrono::nanoseconds* timeout,
                        bool events) {
    const unsigned to_submit = io_uring_sq_ready(&ring_);
    last_batch_ = std::exchange(started_, 0u);
    if (wait) {
        ++stats_.syscalls;
        io_uring_cqe* cqe = nullptr;
        int r;
        if (timeout != nullptr) {
            __kernel_timespec ts{};
            ts.tv_sec = timeout->count() / 1'000'000'000;
            ts.tv_nsec = timeout->count() % 1'000'000'000;
            r = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
        } else {
            r = io_uring_submit_and_wait(&ring_, 1);
        }
        if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
            log_error("io_uring wait: {}", std::strerror(-r));
        }
    } else if (to_submit > 0) {
        // With DEFER_TASKRUN completions are only posted when we ask for events.
        ++stats_.syscalls;
        int r = defer_taskrun_ ? io_uring_submit_and_get_events(&ring_) : io_uring_submit(&ring_);
        if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
            log_error("io_uring submit: {}", std::strerror(-r));
        }
    } else if (defer_taskrun_ && (inflight_ > internal_ || events) &&
               io_uring_cq_ready(&ring_) == 0) {
        ++stats_.syscalls;
        io_uring_get_events(&ring_);
    }
    reap(loop);
}

void UringBackend::reap(Loop& loop) {
    io_uring_cq& cq = ring_.cq;
    bool any = false;
    for (;;) {
        unsigned tail = io_uring_smp_load_acquire(cq.ktail);
        unsigned head = *cq.khead;
        if (head == tail) {
            // A full CQ spills into the kernel's overflow list (IORING_FEAT_NODROP):
            // nothing is lost, but it must be flushed back into the ring.
            if ((IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_CQ_OVERFLOW) == 0) break;
            ++stats_.cq_overflows;
            ++stats_.syscalls;
            io_uring_get_events(&ring_);
            if (io_uring_cq_ready(&ring_) == 0) break;
            continue;
        }
        // Copy the CQE and release its slot before dispatching: a handler may
        // submit (and, when the SQ is full, reap again) re-entrantly.
        io_uring_cqe* cqe = &cq.cqes[head & cq.ring_mask];
        std::uint64_t ud = cqe->user_data;
        int res = cqe->res;
        std::uint32_t flags = cqe->flags;
        io_uring_smp_store_release(cq.khead, head + 1);
        any = true;
        if (ud == ignore_tag) continue;
        if ((ud & 3) != 0) {
            // A MSG_RING wake-up, received or sent: not an operation of ours.
            loop.on_tagged_cqe(ud, res);
            continue;
        }
        auto* st = reinterpret_cast<OpState*>(ud);
        if ((flags & IORING_CQE_F_MORE) == 0) {
            st->pending = false;
            --inflight_;
        }
        ++stats_.completed;
        st->on_complete(st, loop, res, flags);
    }
    if (any) ++stats_.reaps;
}

}  // namespace corio::detail
