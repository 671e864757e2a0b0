#include <corio/net/buf_ring.hpp>

#include <corio/runtime/sim_io.hpp>

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

BufPool::BufPool(Loop& loop, unsigned count, std::size_t size, bool use_kernel)
    : loop_(&loop), loop_id_(loop.id()), size_(size == 0 ? 1 : size) {
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

    // The kernel picks buffers where it can for one-shot and multishot
    // receives alike (buffer rings 5.19+, multishot receive 6.0+); elsewhere
    // the same memory is a pool.
    if (use_kernel && loop.kind() == BackendKind::io_uring && loop.caps().buf_ring &&
        loop.caps().multishot_recv) {
        // liburing 2.3 has no io_uring_setup_buf_ring: map the ring ourselves
        // (page-aligned, as the kernel requires) and register it.
        br_len_ = page_round(std::size_t(count_) * sizeof(io_uring_buf));
        br_ = static_cast<io_uring_buf_ring*>(map_anon(br_len_));
        int r = loop.register_buf_ring(br_, count_, bgid_);
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

BufPool::~BufPool() {
    if (available_ != count_) {
        log_error("BufRing destroyed with {} buffers still held", count_ - available_);
    }
    if (br_ != nullptr) {
        // Not through loop_: the loop may be gone, and one made later at its
        // address has a ring where this group id may be another pool's.
        if (Loop* l = Loop::current_if(loop_id_)) l->unregister_buf_ring(bgid_);
        ::munmap(br_, br_len_);
    }
    ::munmap(bufs_, bufs_len_);
}

void BufPool::give_back(std::uint16_t id) noexcept {
    ++available_;
    if (br_ != nullptr) {
        io_uring_buf_ring_add(br_, buffer(id), static_cast<unsigned>(size_), id,
                              io_uring_buf_ring_mask(count_), 0);
        io_uring_buf_ring_advance(br_, 1);
        // The kernel picks the buffer: one parked receive can use it.
        lot_.wake_one();
        return;
    }
    free_.push_back(id);
    // A woken receive may find nothing to read and leave the buffer free:
    // keep waking while buffers remain.
    while (available_ > 0 && lot_.wake_one()) {
    }
}

Result<RecvBuffer> BufPool::to_buffer(int res, std::uint32_t flags) noexcept {
    if ((flags & IORING_CQE_F_BUFFER) != 0) {
        auto bid = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
        if (br_ != nullptr) consumed();
        if (res > 0) return RecvBuffer(this, bid, static_cast<std::uint32_t>(res));
        give_back(bid);  // end of stream or error: nothing to hand out
    } else if (res > 0) {
        return sys_error(EIO);  // data without a buffer: cannot happen with BUFFER_SELECT
    }
    if (res < 0) return sys_error(-res);
    return RecvBuffer();
}

int BufPool::recv_into_pool(int fd, std::uint32_t& flags, corio::detail::SimIo* sim) noexcept {
    // recv(2), or the simulated kernel's: the count or -errno.
    auto recv = [fd, sim](std::span<std::byte> into, int how) noexcept -> int {
        if (sim != nullptr) return sim->recv(fd, into, how);
        const ssize_t n = ::recv(fd, into.data(), into.size(), how | MSG_DONTWAIT);
        return n < 0 ? -errno : static_cast<int>(n);
    };
    int id = take();
    if (id < 0) {
        // No buffer: park only if there is something to read, else wait for
        // readability as usual (a parked receive is woken per returned buffer).
        std::byte c{};
        const int n = recv(std::span(&c, 1), MSG_PEEK);
        if (n < 0) return n;
        return n == 0 ? 0 : -ENOBUFS;
    }
    auto bid = static_cast<std::uint16_t>(id);
    const int n = recv(std::span(buffer(bid), size_), 0);
    if (n <= 0) {
        untake(bid);
        return n;
    }
    flags = IORING_CQE_F_BUFFER | (std::uint32_t(bid) << IORING_CQE_BUFFER_SHIFT);
    return static_cast<int>(n);
}

}  // namespace corio::net
