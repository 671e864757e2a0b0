#pragma once
// Operations the static file server needs beyond corio's own, one struct per
// system call as in runtime/op.hpp:
//
//   OpenBeneath      openat2(2) with RESOLVE_BENEATH: a path can never leave
//                    the directory it is resolved in (no "..", no absolute
//                    symlink, no symlink pointing out). io_uring: OPENAT2;
//                    epoll: the blocking pool. Both first try RESOLVE_CACHED
//                    inline, which succeeds without I/O when every dentry is
//                    in the cache (the usual case for a busy server).
//                    sim: the simulated disk's openat (no links there).
//   SpliceToPipe     file -> pipe with IORING_OP_SPLICE (the disk read, if
//                    any, happens in the kernel's worker, not on the loop).
//   (sendfile(2) is net::SendFile, shared with tls/.)
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <corio/runtime/op.hpp>

namespace corio::http::detail {

/// openat2(2) through syscall(2) (glibc 2.36 has no wrapper). -errno on failure.
inline int sys_openat2(int dirfd, const char* path, const open_how& how) noexcept {
    long r = ::syscall(SYS_openat2, dirfd, path, &how, sizeof(open_how));
    return r >= 0 ? static_cast<int>(r) : -errno;
}

/// Kernels before 5.6 have no openat2: then a path is checked with
/// realpath(3) against the root's real path before it is opened. Racy
/// against a concurrent rename, which is why openat2 is preferred.
inline int open_checked_realpath(int dirfd, const std::string& rel, int flags) noexcept {
    char link[64];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
    char base[PATH_MAX];
    ssize_t n = ::readlink(link, base, sizeof base - 1);
    if (n < 0) return -errno;
    base[n] = '\0';
    std::string full = std::string(base) + "/" + rel;
    char real[PATH_MAX];
    if (::realpath(full.c_str(), real) == nullptr) return -errno;
    std::string_view r(real), b(base);
    if (r != b && (r.substr(0, b.size()) != b || (b != "/" && r[b.size()] != '/'))) return -EXDEV;
    int fd = ::open(real, flags | O_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

/// openat2(dirfd, path, flags, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS):
/// gives a descriptor of something inside `dirfd`, or EXDEV/ELOOP when the
/// path (or a symlink on it) leads out.
struct OpenBeneath {
    int dirfd = -1;
    std::string path;
    open_how how{};
    static constexpr OpKind kind = OpKind::open;
    static constexpr Interest interest = Interest::blocking;
    static constexpr bool returns_fd = true;
    static constexpr unsigned uring_opcode = IORING_OP_OPENAT2;

    OpenBeneath(int dir, std::string p, int flags) : dirfd(dir), path(std::move(p)) {
        how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    }

    // RESOLVE_CACHED (5.12+): fails with EAGAIN instead of doing I/O.
    int fast_path() noexcept {
        open_how h = how;
        h.resolve |= RESOLVE_CACHED;
        int r = sys_openat2(dirfd, path.c_str(), h);
        if (r == -EINVAL || r == -ENOSYS) return -EAGAIN;  // old kernel: the real op says
        return r;
    }
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_openat2(s, dirfd, path.c_str(), const_cast<open_how*>(&how));
    }
    int attempt() noexcept {
        int r = sys_openat2(dirfd, path.c_str(), how);
        if (r == -ENOSYS) return open_checked_realpath(dirfd, path, static_cast<int>(how.flags));
        return r;
    }
    // A simulated disk has no symbolic links, so staying beneath `dirfd`
    // only needs a relative path without "..": anything else is refused as
    // RESOLVE_BENEATH refuses it.
    int sim(corio::detail::SimIo& io) noexcept {
        if (path.empty() || path.front() == '/') return -EXDEV;
        for (std::size_t pos = 0; pos <= path.size();) {
            std::size_t end = path.find('/', pos);
            if (end == std::string::npos) end = path.size();
            if (std::string_view(path).substr(pos, end - pos) == "..") return -EXDEV;
            pos = end + 1;
        }
        return io.openat(dirfd, path.c_str(), static_cast<int>(how.flags), 0);
    }
    Result<int> finish(int res) const noexcept {
        if (res < 0) return sys_error(-res);
        return res;
    }
};

/// splice(2) of up to `len` bytes of `file` at `offset` into a pipe.
struct SpliceToPipe {
    int file;
    std::int64_t offset;
    int pipe_w;
    unsigned len;
    static constexpr OpKind kind = OpKind::splice;
    static constexpr Interest interest = Interest::blocking;
    static constexpr unsigned uring_opcode = IORING_OP_SPLICE;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_splice(s, file, offset, pipe_w, -1, len, SPLICE_F_MOVE);
    }
    int attempt() noexcept {
        loff_t off = offset;
        ssize_t n = ::splice(file, &off, pipe_w, nullptr, len, SPLICE_F_MOVE);
        return n >= 0 ? static_cast<int>(n) : -errno;
    }
    Result<std::size_t> finish(int res) const noexcept {
        if (res < 0) return sys_error(-res);
        return std::size_t(res);
    }
};

}  // namespace corio::http::detail
