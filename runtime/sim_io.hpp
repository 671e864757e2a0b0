#pragma once
// SimIo: the simulated kernel that one host of a sim::World offers its Loop.
//
// A loop made for a simulated host (LoopOptions::sim) has no ring and no
// epoll: an operation makes its call against this object instead (the op's
// `sim` half, see runtime/op.hpp), and a call that would block (-EAGAIN)
// waits here until the simulated descriptor changes, exactly as it waits for
// readiness on epoll. The calls take and return what the system calls do
// (descriptors, sockaddrs, counts, -errno), so the op structs stay thin.
// Everything happens on the world's thread, in virtual time; nothing here
// makes a system call. The definitions live in sim/.

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <corio/runtime/detail/op_state.hpp>
#include <corio/runtime/loop.hpp>

struct statx;

namespace corio::sim {
class World;
}

namespace corio::detail {

/// Simulated descriptors start here, above any number the kernel hands out
/// (fs.nr_open is at most 1073741816): a stray real call on one fails with
/// EBADF instead of touching a real file.
inline constexpr int sim_fd_base = 1 << 30;

class SimIo {
public:
    SimIo(sim::World& w, std::uint32_t host) noexcept : world_(&w), host_(host) {}
    SimIo(const SimIo&) = delete;
    SimIo& operator=(const SimIo&) = delete;

    sim::World& world() const noexcept { return *world_; }
    std::uint32_t host() const noexcept { return host_; }

    // ---- calls, as the system calls of the same names ----
    int socket(int family, int type) noexcept;
    int bind(int fd, const sockaddr* addr, socklen_t len) noexcept;
    int listen(int fd, int backlog) noexcept;
    /// Starts a connection (-EAGAIN: in progress) or, once started, says how
    /// it stands: -EAGAIN, 0 (connected) or the error.
    int connect(int fd, const sockaddr* addr, socklen_t len) noexcept;
    int connect_status(int fd) noexcept;
    int accept(int fd) noexcept;
    int recv(int fd, std::span<std::byte> buf, int flags) noexcept;
    int send(int fd, std::span<const std::byte> buf, int flags) noexcept;
    int sendmsg(int fd, const msghdr* msg, int flags) noexcept;
    /// A datagram (with MSG_TRUNC semantics: the result is its full length).
    int recvmsg(int fd, msghdr* msg, int flags) noexcept;
    int shutdown(int fd, int how) noexcept;
    int getsockname(int fd, sockaddr* addr, socklen_t* len) noexcept;
    int getpeername(int fd, sockaddr* addr, socklen_t* len) noexcept;
    int setsockopt(int fd, int level, int name, const void* value, socklen_t len) noexcept;
    int getsockopt(int fd, int level, int name, int* value) noexcept;
    /// poll(2) of one descriptor: the events that are there, or -EAGAIN.
    int poll(int fd, unsigned events) noexcept;
    int close(int fd) noexcept;

    // ---- the host's disk (what is not fsynced may be lost at a crash) ----
    int openat(int dirfd, const char* path, int flags, unsigned mode) noexcept;
    int pread(int fd, std::span<std::byte> buf, std::uint64_t offset) noexcept;
    int pwrite(int fd, std::span<const std::byte> buf, std::uint64_t offset) noexcept;
    int fsync(int fd) noexcept;
    int fchmod(int fd, unsigned mode) noexcept;
    int statx(int dirfd, const char* path, int flags, struct ::statx* out) noexcept;
    int mkdirat(int dirfd, const char* path, unsigned mode) noexcept;
    int unlinkat(int dirfd, const char* path, int flags) noexcept;
    int renameat(int olddirfd, const char* from, int newdirfd, const char* to,
                 unsigned flags) noexcept;
    int ftruncate(int fd, std::uint64_t length) noexcept;
    int fallocate(int fd, int mode, std::uint64_t offset, std::uint64_t len) noexcept;
    int linkat(int olddirfd, const char* from, int newdirfd, const char* to, int flags) noexcept;
    /// The simulated disk has no symbolic links: -EPERM, as from a file
    /// system that cannot make them (the name is checked first).
    int symlinkat(const char* target, int dirfd, const char* path) noexcept;
    /// -EINVAL for any existing name (none is a symbolic link).
    int readlinkat(int dirfd, const char* path, std::string& out) noexcept;
    /// A name lookup on this host: the IPv4 address (text) of the world's
    /// host called `name` (ASCII case ignored, a final dot allowed), or
    /// 127.0.0.1 for "localhost"; -ENOENT when no host has that name.
    int resolve_host(const char* name, std::string& out);
    /// The entries of a directory: (name, is a directory), sorted by name.
    int list_dir(int dirfd, const char* path,
                 std::vector<std::pair<std::string, bool>>& out) noexcept;

    /// A number drawn from the world's seed (jitter of retries and the like
    /// must come from here to replay).
    std::uint64_t random() noexcept;

    // ---- the loop's side ----
    /// Parks `st` on its descriptor (st.fd, st.interest) until that changes;
    /// then st.retry runs, and a result other than -EAGAIN completes it.
    void wait(OpState& st) noexcept;
    /// A call that takes time (the disk): st.retry makes it once a latency
    /// drawn from the seed has passed; its result completes `st`.
    void defer(OpState& st) noexcept;
    /// Completes a waiting `st` with -ECANCELED.
    void cancel(Loop& loop, OpState& st) noexcept;
    /// `fd` is about to be closed: its waiters end with -ECANCELED.
    void release(int fd) noexcept;
    /// Completes every waiter of this host with -ECANCELED (loop teardown).
    void cancel_everything(Loop& loop) noexcept;

private:
    sim::World* world_;
    std::uint32_t host_;
};

/// The simulated kernel of the current thread's loop, or null when the loop
/// is a real one (or there is none).
inline SimIo* current_sim() noexcept {
    Loop* l = Loop::current_or_null();
    return l != nullptr ? l->sim_io() : nullptr;
}

}  // namespace corio::detail
