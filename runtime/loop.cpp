#include <corio/runtime/loop.hpp>

#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <corio/runtime/log.hpp>
#include <corio/runtime/sim_io.hpp>

namespace corio {
namespace detail {

thread_local Loop* t_current_loop __attribute__((tls_model("initial-exec"))) = nullptr;

void frame_cache_register() noexcept {
    // Frees the thread's cached frames when the thread exits.
    struct Cleanup {
        ~Cleanup() {
            FrameCache& fc = frame_cache;
            for (std::size_t c = 0; c < frame_classes; ++c) {
                while (FreeBlock* b = fc.heads[c]) {
                    fc.heads[c] = b->next;
                    std::free(b);
                }
                fc.counts[c] = 0;
            }
            fc.registered = false;
        }
    };
    static thread_local Cleanup cleanup;
    (void)cleanup;
    frame_cache.registered = true;
}

void wrong_thread(const char* what) noexcept {
    log_error(
        "{} on a thread that does not run its loop: a coroutine, JoinHandle or channel "
        "belongs to the loop it was made on; hand work to another loop with "
        "Runtime::spawn_on or a SharedChannel instead",
        what);
    std::abort();
}

void SpawnBase::report_unobserved() noexcept {
    if (loop != nullptr) ++loop->mutable_stats().unhandled_exceptions;
    try {
        std::rethrow_exception(exception);
    } catch (const std::exception& e) {
        log_error("unhandled exception in a detached task: {}", e.what());
    } catch (...) {
        log_error("unhandled exception in a detached task (not a std::exception)");
    }
}

}  // namespace detail

Loop* Loop::current_or_null() noexcept {
    return detail::t_current_loop;
}

Loop& Loop::current() noexcept {
    Loop* l = detail::t_current_loop;
    if (l == nullptr) {
        log_error("no corio::Loop on this thread: create one (or use corio::block_on) first");
        std::terminate();
    }
    return *l;
}

namespace {

// Loop::id(): 1, 2, 3, ... in the order loops are made, process-wide.
std::atomic<std::uint64_t> g_next_loop_id{1};

std::optional<std::uint64_t> shuffle_from_env() {
    const char* s = std::getenv("CORIO_SHUFFLE");
    if (s == nullptr || *s == '\0') return std::nullopt;
    char* end = nullptr;
    unsigned long long v = std::strtoull(s, &end, 0);
    if (end == s || *end != '\0') {
        log_warn("CORIO_SHUFFLE={}: not a number, ignored", s);
        return std::nullopt;
    }
    return v;
}

}  // namespace

Loop::Loop(LoopOptions opts)
    : opts_(std::move(opts)),
      id_(g_next_loop_id.fetch_add(1, std::memory_order_relaxed)),
      owner_(::pthread_self()) {
    if (opts_.sim != nullptr) {
        // A simulated host: no ring, no epoll, no eventfd (nothing wakes it
        // from another thread; its world runs it), no environment.
        sim_ = opts_.sim;
        kind_ = BackendKind::sim;
        report_.kind = kind_;
        report_.reason = "simulation";
        clock_ = opts_.clock;
        if (opts_.shuffle_seed) shuffle_.emplace(*opts_.shuffle_seed);
        if (detail::t_current_loop == nullptr) detail::t_current_loop = this;
        return;
    }
    BackendChoice choice = opts_.backend;
    if (opts_.use_env && choice == BackendChoice::automatic) {
        if (auto env = backend_from_env()) choice = *env;
    }
    report_.requested = choice;

    if (choice != BackendChoice::epoll) {
        try {
            detail::UringConfig cfg;
            cfg.sq_entries = opts_.sq_entries;
            cfg.cq_entries = opts_.cq_entries;
            cfg.sqpoll = opts_.sqpoll;
            uring_ = std::make_unique<detail::UringBackend>(cfg, report_.caps, stats_, *this);
            // A sparse registered descriptor table (5.19+), filled as sockets
            // come: the probe is whether the kernel takes it.
            if (opts_.fixed_files > 0 && report_.caps.has_op(IORING_OP_FILES_UPDATE) &&
                io_uring_register_files_sparse(&uring_->ring(), opts_.fixed_files) == 0) {
                report_.caps.fixed_files = opts_.fixed_files;
                slot_fds_.assign(opts_.fixed_files, -1);
                free_slots_.reserve(opts_.fixed_files);
                for (unsigned i = opts_.fixed_files; i > 0; --i)
                    free_slots_.push_back(static_cast<int>(i - 1));
                retired_slots_.reserve(64);
            }
            kind_ = BackendKind::io_uring;
            report_.reason = choice == BackendChoice::io_uring ? "requested" : "io_uring started";
        } catch (const BackendError& e) {
            if (choice == BackendChoice::io_uring) throw;
            report_.uring_error = e.what();
            const std::string prefix = "io_uring backend unavailable: ";
            if (report_.uring_error.rfind(prefix, 0) == 0) {
                report_.uring_error.erase(0, prefix.size());
            }
            report_.reason = "io_uring unavailable (" + report_.uring_error + ")";
        }
    } else {
        report_.reason = "requested";
    }
    if (!uring_) {
        epoll_ = std::make_unique<detail::EpollBackend>(report_.caps, stats_);
        kind_ = BackendKind::epoll;
    }
    report_.kind = kind_;
    log_debug("loop backend={} ({})", to_string(kind_), report_.reason);

    clock_ = opts_.clock;
    std::optional<std::uint64_t> seed = opts_.shuffle_seed;
    if (!seed && opts_.use_env) seed = shuffle_from_env();
    if (seed) shuffle_.emplace(*seed);

    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) throw std::system_error(errno, std::system_category(), "eventfd");
    wake_op_.loop = this;
    wake_op_.kind = OpKind::wake;
    wake_op_.on_complete = [](detail::OpState* s, Loop& l, int, std::uint32_t) noexcept {
        (void)s;
        l.on_wake();
    };
    wake_op_.retry = [](detail::OpState* s) noexcept -> int {
        std::uint64_t v;
        ssize_t n = ::read(s->fd, &v, sizeof v);
        return n >= 0 ? int(n) : -errno;
    };
    arm_wake();

    if (detail::t_current_loop == nullptr) detail::t_current_loop = this;
}

Loop::~Loop() {
    shutdown();
    if (detail::t_current_loop == this) detail::t_current_loop = nullptr;
}

void Loop::shutdown_sim() noexcept {
    // Everything is in this thread and in memory: cancel, let the tasks
    // unwind as far as they can without waiting, complete what still waits
    // in the simulated kernel, then destroy what is left.
    cancel_all();
    Loop* saved = detail::t_current_loop;
    detail::t_current_loop = this;
    const bool was_running = running_;
    running_ = true;
    try {
        for (int round = 0; round < 1000 && live_ > 0 && !ready_.empty(); ++round)
            run_ready();
        closing_ = true;
        sim_->cancel_everything(*this);
        for (int round = 0; round < 1000 && !ready_.empty(); ++round)
            run_ready();
        // Whatever the unwinding started and left waiting: its frame goes next.
        sim_->cancel_everything(*this);
    } catch (const std::exception& e) {
        log_error("loop shutdown: {}", e.what());
    }
    running_ = was_running;
    while (tasks_ != nullptr) {
        detail::SpawnBase* s = tasks_;
        unregister_task(*s);
        s->self.destroy();
    }
    for (Orphan& o : orphans_)
        o.free(o.st);
    orphans_.clear();
    detail::t_current_loop = saved;
}

void Loop::shutdown() noexcept {
    if (sim_ != nullptr) {
        shutdown_sim();
        return;
    }
    // Cancel what is left and give it a bounded time to unwind. No frame may
    // go while the kernel (or a pool thread) may still write into it: what
    // has not come back by the first deadline is cancelled wholesale and
    // waited for again; a frame whose operation never comes back is leaked
    // rather than freed under the kernel's feet.
    cancel_all();
    Loop* saved = detail::t_current_loop;
    detail::t_current_loop = this;
    auto deadline = Clock::now() + std::chrono::seconds(2);
    stop_ = false;
    auto in_flight = [&]() -> unsigned {
        if (uring_) return uring_->inflight() - (closing_ ? 0u : 1u);
        return epoll_ ? epoll_->waiting() - (closing_ ? 0u : 1u) : 0u;
    };
    try {
        // Each wait is short, so the deadline holds even when a cancelled
        // operation never completes (an io-wq read the cancel missed).
        const auto tick = std::chrono::nanoseconds(std::chrono::milliseconds(10));
        while (live_ > 0 && Clock::now() < deadline) {
            run_ready();
            fire_timers();
            if (live_ == 0) break;
            if (!turn(true, tick)) break;
        }
        // Everything the kernel still holds: tasks that did not unwind in
        // time, orphaned multishot requests, the wake-up read.
        closing_ = true;
        if (uring_) {
            uring_->cancel_everything();
        } else if (epoll_) {
            epoll_->cancel_everything(*this);
        }
        deadline = Clock::now() + std::chrono::seconds(2);
        for (unsigned ticks = 1; in_flight() > 0 && Clock::now() < deadline; ++ticks) {
            run_ready();
            if (uring_) {
                uring_->poll(*this, true, &tick, false);
                // A cancel can miss an io-wq worker that is just picking the
                // request up; asked again, it finds it running and interrupts it.
                if (ticks % 10 == 0) uring_->cancel_everything();
            } else {
                break;  // epoll completed its waiters inline
            }
        }
    } catch (const std::exception& e) {
        log_error("loop shutdown: {}", e.what());
    }
    pool_.reset();  // joins its threads: no job writes into a frame after this
    const unsigned lost = in_flight();
    if (lost > 0) {
        // The kernel still owns memory in these frames: freeing them could let
        // a late completion write into reused memory.
        log_error(
            "loop shutdown: {} operation(s) still in the kernel after cancellation; "
            "leaking {} task frame(s) rather than freeing memory the kernel may write",
            lost, live_);
    }
    uring_.reset();
    epoll_.reset();
    if (lost == 0) {
        while (tasks_ != nullptr) {
            detail::SpawnBase* s = tasks_;
            unregister_task(*s);
            log_debug("loop shutdown: destroying a task that did not finish");
            s->self.destroy();
        }
        for (Orphan& o : orphans_)
            o.free(o.st);
        orphans_.clear();
    }
    if (wake_fd_ >= 0) ::close(wake_fd_);
    detail::t_current_loop = saved;
}

void Loop::release_fd(int fd) noexcept {
    if (fd < 0) return;
    if (sim_ != nullptr) {
        sim_->release(fd);
    } else if (epoll_) {
        epoll_->forget(fd);
    } else if (uring_) {
        uring_->cancel_fd(fd);
    }
}

void Loop::close_fd(int fd) noexcept {
    if (fd < 0) return;
    if (sim_ != nullptr) {
        sim_->close(fd);
        return;
    }
    // The cancel from release_fd must reach the kernel while the number still
    // names the file. Closing synchronously keeps close's usual meaning (the
    // descriptor is free when reset() returns: EMFILE handling, descriptor
    // counts and peers' EOF rely on it), at one submit per close.
    if (uring_ && on_owner_thread() && io_uring_sq_ready(&uring_->ring()) > 0) {
        ++stats_.syscalls;
        io_uring_submit(&uring_->ring());
    }
    ::close(fd);
}

int Loop::register_buffers(const iovec* iov, unsigned n) noexcept {
    if (!uring_) return -EOPNOTSUPP;
    return io_uring_register_buffers(&uring_->ring(), iov, n);
}

int Loop::unregister_buffers() noexcept {
    if (!uring_) return -EOPNOTSUPP;
    return io_uring_unregister_buffers(&uring_->ring());
}

int Loop::register_buf_ring(void* ring, unsigned entries, std::uint16_t group) noexcept {
    if (!uring_) return -EOPNOTSUPP;
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(ring);
    reg.ring_entries = entries;
    reg.bgid = group;
    return io_uring_register_buf_ring(&uring_->ring(), &reg, 0);
}

int Loop::unregister_buf_ring(std::uint16_t group) noexcept {
    if (!uring_) return -EOPNOTSUPP;
    return io_uring_unregister_buf_ring(&uring_->ring(), group);
}

int Loop::register_fd(int fd) noexcept {
    if (!uring_ || free_slots_.empty() || closing_ || fd < 0) return -1;
    int slot = free_slots_.back();
    free_slots_.pop_back();
    slot_fds_[static_cast<std::size_t>(slot)] = fd;
    io_uring_sqe* s = uring_->get_sqe();
    io_uring_prep_files_update(s, &slot_fds_[static_cast<std::size_t>(slot)], 1, slot);
    io_uring_sqe_set_data64(s, detail::UringBackend::ignore_tag);
    return slot;
}

void Loop::unregister_fd(int slot) noexcept {
    if (!uring_ || slot < 0 || static_cast<std::size_t>(slot) >= slot_fds_.size()) return;
    slot_fds_[static_cast<std::size_t>(slot)] = -1;
    io_uring_sqe* s = uring_->get_sqe();
    io_uring_prep_files_update(s, &slot_fds_[static_cast<std::size_t>(slot)], 1, slot);
    io_uring_sqe_set_data64(s, detail::UringBackend::ignore_tag);
    // Not reused before this update has reached the kernel: an operation
    // queued in the same submit must not find another socket in the slot.
    retired_slots_.push_back(slot);
}

void Loop::adopt_orphan(detail::OpState& st, void (*free)(detail::OpState*) noexcept) {
    orphans_.push_back(Orphan{&st, free});
}

void Loop::orphan_done(detail::OpState& st) noexcept {
    for (std::size_t i = 0; i < orphans_.size(); ++i) {
        if (orphans_[i].st == &st) {
            Orphan o = orphans_[i];
            orphans_[i] = orphans_.back();
            orphans_.pop_back();
            o.free(o.st);
            return;
        }
    }
}

void Loop::cancel_all() noexcept {
    // request_stop may finish tasks inline and unregister them: walk a snapshot.
    std::vector<detail::SpawnBase*> all;
    for (auto* s = tasks_; s != nullptr; s = s->reg_next)
        all.push_back(s);
    for (auto* s : all)
        s->stop_source.request_stop();
}

void Loop::cancel_background() noexcept {
    std::vector<detail::SpawnBase*> bg;
    for (auto* s = tasks_; s != nullptr; s = s->reg_next) {
        if (s->background) bg.push_back(s);
    }
    for (auto* s : bg)
        s->stop_source.request_stop();
}

void Loop::register_task(detail::SpawnBase& s) noexcept {
    s.reg_prev = nullptr;
    s.reg_next = tasks_;
    if (tasks_ != nullptr) tasks_->reg_prev = &s;
    tasks_ = &s;
    ++live_;
}

void Loop::unregister_task(detail::SpawnBase& s) noexcept {
    if (s.reg_prev != nullptr) {
        s.reg_prev->reg_next = s.reg_next;
    } else if (tasks_ == &s) {
        tasks_ = s.reg_next;
    } else {
        return;  // not registered
    }
    if (s.reg_next != nullptr) s.reg_next->reg_prev = s.reg_prev;
    s.reg_prev = s.reg_next = nullptr;
    --live_;
}

void Loop::run() {
    run_while_not([] { return false; }, true);
}

bool Loop::run_once() {
    RunningScope running(*this);
    const std::uint64_t before = stats_.tasks_run + stats_.timers_fired;
    run_ready();
    fire_timers();
    return stats_.tasks_run + stats_.timers_fired != before;
}

void Loop::run_until_stopped() {
    run_while_not([] { return false; }, false);
}

void Loop::run_ready() {
    std::size_t n = ready_.size();
    if (n == 0) return;
    if (shuffle_ && n > 1) {
        // Fisher-Yates over this turn's batch: code that depends on an
        // accidental order fails in tests instead of production.
        for (std::size_t i = n - 1; i > 0; --i) {
            std::size_t j = static_cast<std::size_t>((*shuffle_)() % (i + 1));
            std::swap(ready_.at(i), ready_.at(j));
        }
    }
    stats_.tasks_run += n;
    for (std::size_t i = 0; i < n; ++i) {
        inline_left_ = opts_.inline_budget;
        ready_.pop().resume();
    }
}

void Loop::fire_timers() {
    if (timers_.empty()) return;
    TimePoint t = now();
    turn_now_ = t;
    turn_now_valid_ = true;
    while (detail::TimerNode* n = timers_.pop_due(t)) {
        ++stats_.timers_fired;
        n->fire(n, *this);
    }
}

bool Loop::turn(bool may_wait, std::chrono::nanoseconds max_wait) {
    ++stats_.turns;
    turn_now_valid_ = false;  // the wait below moves time on
    if (sim_ != nullptr) {
        // Nothing to wait on here: the world moves time and delivers the
        // network. Run by block_on alone, a sim loop can only go on while
        // it has ready work.
        return !may_wait || !ready_.empty();
    }
    bool wait = may_wait && ready_.empty();
    std::chrono::nanoseconds timeout{};
    const std::chrono::nanoseconds* tp = nullptr;
    if (wait && !timers_.empty() && clock_ == nullptr) {
        timeout = std::max(std::chrono::nanoseconds(0),
                           std::chrono::duration_cast<std::chrono::nanoseconds>(
                               timers_.next_deadline() - Clock::now()));
        tp = &timeout;
        if (timeout.count() == 0) wait = false;
    }
    if (wait && tp == nullptr) {
        // Nothing ready and no timer: only I/O, the pool or another thread can
        // wake us. With none of them, waiting would never end.
        unsigned inflight = kind_ == BackendKind::io_uring ? uring_->inflight() : epoll_->waiting();
        bool manual_timers = clock_ != nullptr && !timers_.empty();
        // inflight <= 1: only the wake-up read, which is always armed.
        if (inflight <= 1 && pool_jobs_ == 0 && !manual_timers &&
            remote_refs_.load(std::memory_order_relaxed) == 0 &&
            !remote_signalled_.load(std::memory_order_acquire)) {
            return false;
        }
    }
    if (wait && max_wait != std::chrono::nanoseconds::max() &&
        (tp == nullptr || timeout > max_wait)) {
        timeout = max_wait;
        tp = &timeout;
    }
    if (kind_ == BackendKind::io_uring) {
        // Everything prepared so far (updates of the descriptor table
        // included) is submitted by this poll.
        const std::size_t retired = retired_slots_.size();
        uring_->poll(*this, wait, tp, remote_signalled_.load(std::memory_order_relaxed));
        if (retired > 0) {
            free_slots_.insert(free_slots_.end(), retired_slots_.begin(),
                               retired_slots_.begin() + static_cast<std::ptrdiff_t>(retired));
            retired_slots_.erase(retired_slots_.begin(),
                                 retired_slots_.begin() + static_cast<std::ptrdiff_t>(retired));
        }
    } else if (wait || epoll_->waiting() > 1 || remote_signalled_.load(std::memory_order_relaxed)) {
        // Busy with ready work and nothing waits on a descriptor but our own
        // wake-up: skip the epoll_wait(0).
        epoll_->poll(*this, wait, tp);
    }
    return true;
}

void Loop::arm_wake() {
    wake_op_.fd = wake_fd_;
    wake_op_.cancel_requested = false;
    if (kind_ == BackendKind::io_uring) {
        io_uring_sqe* s = uring_->get_sqe();
        io_uring_prep_read(s, wake_fd_, &wake_buf_, sizeof wake_buf_, 0);
        wake_op_.engine = detail::OpState::Engine::uring;
        uring_->start(wake_op_, s);
        uring_->set_internal(1);
    } else {
        wake_op_.interest = Interest::read;
        wake_op_.engine = detail::OpState::Engine::epoll;
        epoll_->wait(wake_op_);
    }
}

void Loop::on_wake() {
    if (kind_ == BackendKind::epoll) {
        // Edge-triggered: drain the counter so the next write is a new edge.
        std::uint64_t v;
        while (::read(wake_fd_, &v, sizeof v) > 0) {
        }
    }
    drain_remote();
    if ((uring_ || epoll_) && !closing_) arm_wake();
}

void Loop::drain_remote() {
    remote_signalled_.store(false, std::memory_order_release);
    detail::OpState* head;
    {
        std::lock_guard lk(remote_mu_);
        head = remote_head_;
        remote_head_ = remote_tail_ = nullptr;
    }
    while (head != nullptr) {
        detail::OpState* s = head;
        head = s->next;
        s->next = nullptr;
        ++stats_.remote_received;
        if (s->engine == detail::OpState::Engine::pool) {
            --pool_jobs_;
            s->pending = false;
            ++stats_.completed;
        }
        s->on_complete(s, *this, s->res, 0);
    }
}

// user_data tags in the low bits (OpState and Loop addresses are 8-aligned).
namespace {
constexpr std::uint64_t msg_received_tag = 1;  // a wake-up sent to this loop
constexpr std::uint64_t msg_sent_tag = 2;      // our MSG_RING SQE completed
}  // namespace

void Loop::on_tagged_cqe(std::uint64_t user_data, int res) noexcept {
    if ((user_data & 3) == msg_received_tag) {
        ++stats_.msg_ring_received;
        drain_remote();
        return;
    }
    --msg_inflight_;
    drop_remote_ref();
    if (res < 0) {
        // The kernel could not post to the other ring: wake it the other way.
        auto* target = reinterpret_cast<Loop*>(user_data & ~std::uint64_t(3));
        log_debug("MSG_RING wake-up failed ({}): using the eventfd", std::strerror(-res));
        std::uint64_t one = 1;
        ssize_t r = ::write(target->wake_fd_, &one, sizeof one);
        (void)r;
    }
}

void Loop::post_remote(detail::OpState& st) {
    st.next = nullptr;
    {
        std::lock_guard lk(remote_mu_);
        if (remote_tail_ != nullptr) {
            remote_tail_->next = &st;
        } else {
            remote_head_ = &st;
        }
        remote_tail_ = &st;
    }
    // One wake-up per burst: later posters see the flag still set.
    if (!remote_signalled_.exchange(true, std::memory_order_acq_rel)) wake_remote();
}

void Loop::wake_remote() {
    // From a running io_uring loop of the same group, a MSG_RING costs no
    // system call here: the SQE goes to the kernel with the sender's next
    // submission, and the completion lands directly in our ring.
    Loop* cur = detail::t_current_loop;
    if (cur != nullptr && cur->msg_send_ && cur->running_ && msg_group_ == cur->msg_group_ &&
        kind_ == BackendKind::io_uring) {
        io_uring_sqe* s = cur->uring_->get_sqe();
        io_uring_prep_msg_ring(s, uring_->ring_fd(), 0,
                               reinterpret_cast<std::uint64_t>(this) | msg_received_tag, 0);
        io_uring_sqe_set_data64(s, reinterpret_cast<std::uint64_t>(this) | msg_sent_tag);
        ++cur->msg_inflight_;
        cur->add_remote_ref();  // its completion will come: not a deadlock
        ++cur->stats_.msg_ring_sent;
        return;
    }
    std::uint64_t one = 1;
    ssize_t r = ::write(wake_fd_, &one, sizeof one);
    (void)r;
}

void Loop::submit_blocking(detail::OpState& st) {
    if (!pool_) pool_ = std::make_unique<detail::BlockingPool>(opts_.blocking_threads);
    st.engine = detail::OpState::Engine::pool;
    st.pending = true;
    ++pool_jobs_;
    ++stats_.submitted[static_cast<std::size_t>(st.kind)];
    pool_->submit(st);
}

void Loop::cancel_op(detail::OpState& st) {
    if (!st.pending) return;
    switch (st.engine) {
        case detail::OpState::Engine::uring:
            uring_->cancel(st);
            break;
        case detail::OpState::Engine::epoll:
            epoll_->cancel(*this, st);
            break;
        case detail::OpState::Engine::pool:
            st.cancel_requested = true;
            if (pool_ && pool_->try_remove(st)) {
                --pool_jobs_;
                st.pending = false;
                ++stats_.cancels;
                st.on_complete(&st, *this, -ECANCELED, 0);
            }
            break;
        case detail::OpState::Engine::sim:
            sim_->cancel(*this, st);
            break;
        case detail::OpState::Engine::none:
            break;
    }
}

}  // namespace corio
