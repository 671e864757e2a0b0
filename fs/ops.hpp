#pragma once
// File-system operations: one plain struct per system call (see
// runtime/op.hpp). fs::File and the directory functions are thin wrappers
// that make these and hand back an OpAwaiter, so a read or a write allocates
// nothing: the operation lives in the awaiting coroutine's frame.
//
// Regular files are always "ready" to epoll, so every operation here has
// Interest::blocking: on the epoll backend it runs on the loop's blocking
// pool. On io_uring it is a real asynchronous SQE, except where the kernel's
// probe lacks the opcode (then the pool again).
//
// Page-cached reads: a read first tries preadv2(..., RWF_NOWAIT) on the
// loop's thread (`fast_path`) where that pays: on epoll always (no pool
// hand-off), on io_uring only for a read that would go to the kernel alone
// (one read in flight at a time). When the data is in the page cache that is
// one cheap system call with no ring round trip; in a batch the ring serves
// cached reads inline within the one shared submit, and a pre-try per read
// would add a system call each (PITFALLS.md).
//
// Every operation carries the subject of its error message (the path) by
// pointer or by value; its finish() builds an fs::Result whose describe()
// reads "read /tmp/x: Bad file descriptor".

#include <dirent.h>
#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include <corio/fs/result.hpp>
#include <corio/runtime/op.hpp>

namespace corio::fs {

/// The kind of a directory entry or file.
enum class FileType : std::uint8_t {
    unknown,    ///< not reported (or not one of the others)
    regular,    ///< a regular file
    directory,  ///< a directory
    symlink,    ///< a symbolic link
    block,      ///< a block device
    character,  ///< a character device
    fifo,       ///< a named pipe
    socket,     ///< a Unix socket
};

/// Names a FileType ("regular", "directory", ...).
const char* to_string(FileType t) noexcept;

/// FileType of a st_mode / stx_mode value.
FileType file_type_of_mode(unsigned mode) noexcept;

/// What statx(2) reports about a file.
struct Stat {
    std::uint64_t size = 0;     ///< bytes
    std::uint64_t blocks = 0;   ///< 512-byte blocks allocated (less than size/512 if sparse)
    std::uint64_t ino = 0;      ///< inode number
    std::uint32_t mode = 0;     ///< type and permission bits (st_mode)
    std::uint32_t nlink = 0;    ///< hard links
    std::uint32_t uid = 0;      ///< owner
    std::uint32_t gid = 0;      ///< group
    std::uint32_t blksize = 0;  ///< preferred I/O size
    FileType type = FileType::unknown;  ///< the kind of file (from `mode`)
    std::int64_t mtime_sec = 0;         ///< last modification, seconds since the epoch
    std::uint32_t mtime_nsec = 0;       ///< last modification, nanoseconds within the second
    /// Direct I/O alignment of buffers and of offsets/lengths (statx
    /// STATX_DIOALIGN, Linux 6.1+); 0 = not reported or O_DIRECT unsupported.
    std::uint32_t dio_mem_align = 0;
    /// Direct I/O alignment of file offsets and lengths (see dio_mem_align).
    std::uint32_t dio_offset_align = 0;

    /// The permission bits (mode & 07777).
    unsigned permissions() const noexcept { return mode & 07777u; }
};

/// One entry of a directory listing ("." and ".." are left out).
struct DirEntry {
    std::string name;                   ///< the entry's name (no directory part)
    FileType type = FileType::unknown;  ///< its kind (looked up when the file system does not say)
};

namespace detail {

/// Converts the kernel's statx buffer.
Stat to_stat(const struct statx& s) noexcept;

/// "/dir/name" for error messages of a call relative to a directory.
std::string join_subject(const std::string& dir, const std::filesystem::path& p);

/// Vector read with RWF_NOWAIT: served only if the page cache has the data.
/// Any failure reads as -EAGAIN, so the real operation gives the real error.
inline int read_nowait(int fd, void* buf, std::size_t len, std::uint64_t off) noexcept {
    iovec iov{buf, len};
    ssize_t n = ::preadv2(fd, &iov, 1, static_cast<off_t>(off), RWF_NOWAIT);
    return n >= 0 ? static_cast<int>(n) : -EAGAIN;
}

/// Clamps a length to what one read/write call may return in an int.
inline unsigned io_len(std::size_t n) noexcept {
    constexpr std::size_t max = 1u << 30;  // 1 GiB: the CQE result is an int
    return static_cast<unsigned>(n < max ? n : max);
}

}  // namespace detail

/// openat(2) relative to `dirfd` (AT_FDCWD: the working directory). Gives the
/// new descriptor. O_CLOEXEC is always added.
struct Openat {
    int dirfd = AT_FDCWD;        ///< the directory `path` is relative to
    std::filesystem::path path;  ///< the file; owned until completion
    int flags = O_RDONLY;        ///< open(2) flags (O_CLOEXEC is added)
    mode_t mode = 0;             ///< permission bits for O_CREAT (less the umask)
    std::string subject;         ///< the path as error messages name it
    /// Operation protocol (see corio::Operation): IORING_OP_OPENAT where the
    /// kernel has it, else openat(2) on the blocking pool; finish gives the
    /// descriptor (closed by the awaiter if the operation was cancelled).
    ///@{
    static constexpr OpKind kind = OpKind::open;
    static constexpr Interest interest = Interest::blocking;
    static constexpr bool returns_fd = true;
    static constexpr unsigned uring_opcode = IORING_OP_OPENAT;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_openat(s, dirfd, path.c_str(), flags | O_CLOEXEC, mode);
    }
    int attempt() noexcept {
        int fd = ::openat(dirfd, path.c_str(), flags | O_CLOEXEC, mode);
        return fd >= 0 ? fd : -errno;
    }
    int sim(corio::detail::SimIo& io) noexcept {
        return io.openat(dirfd, path.c_str(), flags, mode);
    }
    Result<int> finish(int res) {
        if (res < 0) return detail::fail<int>(res, "open", subject);
        return res;
    }
    ///@}
};

/// pread(2): reads up to buf.size() bytes at `offset` (fewer at the end of the
/// file; 0 at or past it). If `advance` is set, adds the count read to it
/// (sequential reads keep their position there). Tries the page cache first
/// when `nowait`.
struct ReadAt {
    int fd;                            ///< the file
    std::span<std::byte> buf;          ///< where the bytes go; the kernel's until completion
    std::uint64_t offset;              ///< where in the file
    const std::string* subject;        ///< the path for error messages
    std::uint64_t* advance = nullptr;  ///< if set, gets the count read added
    bool nowait = true;                ///< try the page cache first (`fast_path`)
    int slot = -1;  ///< registered descriptor table slot standing for fd (io_uring), or -1
    /// Operation protocol (see corio::Operation): preadv2(RWF_NOWAIT) inline
    /// first where that pays (Loop::fast_path_pays), then IORING_OP_READ, or
    /// pread(2) on the blocking pool on epoll; finish gives the count.
    ///@{
    static constexpr OpKind kind = OpKind::read;
    static constexpr Interest interest = Interest::blocking;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_read(s, fd, buf.data(), detail::io_len(buf.size()), offset);
    }
    int fast_path() noexcept {
        if (!nowait) return -EAGAIN;
        return detail::read_nowait(fd, buf.data(), detail::io_len(buf.size()), offset);
    }
    int attempt() noexcept {
        ssize_t n = ::pread(fd, buf.data(), detail::io_len(buf.size()), static_cast<off_t>(offset));
        return n >= 0 ? static_cast<int>(n) : -errno;
    }
    int sim(corio::detail::SimIo& io) noexcept { return io.pread(fd, buf, offset); }
    Result<std::size_t> finish(int res) {
        if (res < 0) return detail::fail<std::size_t>(res, "read", *subject);
        if (advance != nullptr) *advance += static_cast<std::uint64_t>(res);
        return static_cast<std::size_t>(res);
    }
    ///@}
};

/// pwrite(2): writes up to buf.size() bytes at `offset`; may write fewer (see
/// File::write_all_at). If `advance` is set, adds the count written to it.
struct WriteAt {
    int fd;                            ///< the file
    std::span<const std::byte> buf;    ///< the bytes; the kernel's until completion
    std::uint64_t offset;              ///< where in the file
    const std::string* subject;        ///< the path for error messages
    std::uint64_t* advance = nullptr;  ///< if set, gets the count written added
    int slot = -1;  ///< registered descriptor table slot standing for fd (io_uring), or -1
    /// Operation protocol (see corio::Operation): IORING_OP_WRITE, or
    /// pwrite(2) on the blocking pool on epoll; finish gives the count.
    ///@{
    static constexpr OpKind kind = OpKind::write;
    static constexpr Interest interest = Interest::blocking;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_write(s, fd, buf.data(), detail::io_len(buf.size()), offset);
    }
    int attempt() noexcept {
        ssize_t n =
            ::pwrite(fd, buf.data(), detail::io_len(buf.size()), static_cast<off_t>(offset));
        return n >= 0 ? static_cast<int>(n) : -errno;
    }
    int sim(corio::detail::SimIo& io) noexcept { return io.pwrite(fd, buf, offset); }
    Result<std::size_t> finish(int res) {
        if (res < 0) return detail::fail<std::size_t>(res, "write", *subject);
        if (advance != nullptr) *advance += static_cast<std::uint64_t>(res);
        return static_cast<std::size_t>(res);
    }
    ///@}
};

/// Read into a registered buffer (IORING_OP_READ_FIXED) when `fixed`; a
/// plain read otherwise (epoll, or no registration). `buf` must lie inside
/// registered buffer `index`.
struct ReadFixed {
    int fd;                      ///< the file
    std::span<std::byte> buf;    ///< inside registered buffer `index`
    std::uint64_t offset;        ///< where in the file
    const std::string* subject;  ///< the path for error messages
    int index = 0;               ///< the registered buffer
    bool fixed = false;          ///< the buffers are registered with this loop's ring
    bool nowait = true;          ///< try the page cache first (`fast_path`)
    int slot = -1;  ///< registered descriptor table slot standing for fd (io_uring), or -1
    /// Operation protocol (see corio::Operation): as ReadAt, with
    /// IORING_OP_READ_FIXED when `fixed`; finish gives the count.
    ///@{
    static constexpr OpKind kind = OpKind::read;
    static constexpr Interest interest = Interest::blocking;
    void prep(io_uring_sqe* s) const noexcept {
        if (fixed) {
            io_uring_prep_read_fixed(s, fd, buf.data(), detail::io_len(buf.size()), offset, index);
        } else {
            io_uring_prep_read(s, fd, buf.data(), detail::io_len(buf.size()), offset);
        }
    }
    int fast_path() noexcept {
        if (!nowait) return -EAGAIN;
        return detail::read_nowait(fd, buf.data(), detail::io_len(buf.size()), offset);
    }
    int attempt() noexcept {
        ssize_t n = ::pread(fd, buf.data(), detail::io_len(buf.size()), static_cast<off_t>(offset));
        return n >= 0 ? static_cast<int>(n) : -errno;
    }
    Result<std::size_t> finish(int res) {
        if (res < 0) return detail::fail<std::size_t>(res, "read", *subject);
        return static_cast<std::size_t>(res);
    }
    ///@}
};

/// Write from a registered buffer (IORING_OP_WRITE_FIXED) when `fixed`; a
/// plain write otherwise.
struct WriteFixed {
    int fd;                          ///< the file
    std::span<const std::byte> buf;  ///< inside registered buffer `index`
    std::uint64_t offset;            ///< where in the file
    const std::string* subject;      ///< the path for error messages
    int index = 0;                   ///< the registered buffer
    bool fixed = false;              ///< the buffers are registered with this loop's ring
    int slot = -1;  ///< registered descriptor table slot standing for fd (io_uring), or -1
    /// Operation protocol (see corio::Operation): as WriteAt, with
    /// IORING_OP_WRITE_FIXED when `fixed`; finish gives the count.
    ///@{
    static constexpr OpKind kind = OpKind::write;
    static constexpr Interest interest = Interest::blocking;
    void prep(io_uring_sqe* s) const noexcept {
        if (fixed) {
            io_uring_prep_write_fixed(s, fd, buf.data(), detail::io_len(buf.size()), offset, index);
        } else {
            io_uring_prep_write(s, fd, buf.data(), detail::io_len(buf.size()), offset);
        }
    }
    int attempt() noexcept {
        ssize_t n =
            ::pwrite(fd, buf.data(), detail::io_len(buf.size()), static_cast<off_t>(offset));
        return n >= 0 ? static_cast<int>(n) : -errno;
    }
    Result<std::size_t> finish(int res) {
        if (res < 0) return detail::fail<std::size_t>(res, "write", *subject);
        return static_cast<std::size_t>(res);
    }
    ///@}
};

/// fsync(2), or fdatasync(2) when `datasync`.
struct Fsync {
    int fd;                      ///< the file
    const std::string* subject;  ///< the path for error messages
    bool datasync = false;       ///< fdatasync instead of fsync
    int slot = -1;  ///< registered descriptor table slot standing for fd (io_uring), or -1
    /// Operation protocol (see corio::Operation): IORING_OP_FSYNC, or the call
    /// on the blocking pool; finish gives success or the error.
    ///@{
    static constexpr OpKind kind = OpKind::fsync;
    static constexpr Interest interest = Interest::blocking;
    static constexpr unsigned uring_opcode = IORING_OP_FSYNC;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_fsync(s, fd, datasync ? IORING_FSYNC_DATASYNC : 0u);
    }
    int attempt() noexcept {
        int r = datasync ? ::fdatasync(fd) : ::fsync(fd);
        return r == 0 ? 0 : -errno;
    }
    int sim(corio::detail::SimIo& io) noexcept { return io.fsync(fd); }
    Result<void> finish(int res) {
        if (res < 0) return detail::fail<void>(res, datasync ? "fdatasync" : "fsync", *subject);
        return {};
    }
    ///@}
};

/// statx(2) of `path` relative to `dirfd`; with an empty path and
/// AT_EMPTY_PATH, of the descriptor itself.
struct Statx {
    int dirfd = AT_FDCWD;                      ///< the directory `path` is relative to
    std::filesystem::path path;                ///< the file; owned until completion
    int flags = 0;                             ///< AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH, ...
    std::string subject;                       ///< the path as error messages name it
    const std::string* subject_ref = nullptr;  ///< used instead of `subject` if set
    mutable struct statx buf {};               ///< the kernel fills it (prep() is const)
    /// Operation protocol (see corio::Operation): IORING_OP_STATX of
    /// STATX_BASIC_STATS and STATX_DIOALIGN (`mask`), or statx(2) on the
    /// blocking pool; finish gives a Stat.
    ///@{
    static constexpr OpKind kind = OpKind::statx;
    static constexpr Interest interest = Interest::blocking;
    static constexpr unsigned uring_opcode = IORING_OP_STATX;
    static constexpr unsigned mask = STATX_BASIC_STATS | STATX_DIOALIGN;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_statx(s, dirfd, path.c_str(), flags, mask, &buf);
    }
    int attempt() noexcept {
        return ::statx(dirfd, path.c_str(), flags, mask, &buf) == 0 ? 0 : -errno;
    }
    int sim(corio::detail::SimIo& io) noexcept {
        return io.statx(dirfd, path.c_str(), flags, &buf);
    }
    ///@}
    /// The subject of error messages.
    const std::string& who() const noexcept {
        return subject_ref != nullptr ? *subject_ref : subject;
    }
    /// The Stat, or the error naming who().
    Result<Stat> finish(int res) {
        if (res < 0) return detail::fail<Stat>(res, "stat", who());
        return detail::to_stat(buf);
    }
};

/// statx(2) that gives only the size.
struct StatxSize : Statx {
    /// The size in bytes, or the error naming who().
    Result<std::uint64_t> finish(int res) {
        if (res < 0) return detail::fail<std::uint64_t>(res, "stat", who());
        return static_cast<std::uint64_t>(buf.stx_size);
    }
};

/// mkdirat(2).
struct Mkdirat {
    int dirfd = AT_FDCWD;        ///< the directory `path` is relative to
    std::filesystem::path path;  ///< the directory made; owned until completion
    mode_t mode = 0777;          ///< permission bits (less the umask)
    /// Operation protocol (see corio::Operation): IORING_OP_MKDIRAT, or
    /// mkdirat(2) on the blocking pool; finish gives success or the error.
    ///@{
    static constexpr OpKind kind = OpKind::dir;
    static constexpr Interest interest = Interest::blocking;
    static constexpr unsigned uring_opcode = IORING_OP_MKDIRAT;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_mkdirat(s, dirfd, path.c_str(), mode);
    }
    int attempt() noexcept { return ::mkdirat(dirfd, path.c_str(), mode) == 0 ? 0 : -errno; }
    int sim(corio::detail::SimIo& io) noexcept { return io.mkdirat(dirfd, path.c_str(), mode); }
    Result<void> finish(int res) {
        if (res < 0) return detail::fail<void>(res, "mkdir", path.native());
        return {};
    }
    ///@}
};

/// unlinkat(2); with AT_REMOVEDIR in `flags`, rmdir.
struct Unlinkat {
    int dirfd = AT_FDCWD;        ///< the directory `path` is relative to
    std::filesystem::path path;  ///< what is removed; owned until completion
    int flags = 0;               ///< 0, or AT_REMOVEDIR
    /// Operation protocol (see corio::Operation): IORING_OP_UNLINKAT, or
    /// unlinkat(2) on the blocking pool; finish gives success or the error.
    ///@{
    static constexpr OpKind kind = OpKind::dir;
    static constexpr Interest interest = Interest::blocking;
    static constexpr unsigned uring_opcode = IORING_OP_UNLINKAT;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_unlinkat(s, dirfd, path.c_str(), flags);
    }
    int attempt() noexcept { return ::unlinkat(dirfd, path.c_str(), flags) == 0 ? 0 : -errno; }
    int sim(corio::detail::SimIo& io) noexcept { return io.unlinkat(dirfd, path.c_str(), flags); }
    Result<void> finish(int res) {
        if (res < 0) {
            return detail::fail<void>(res, (flags & AT_REMOVEDIR) != 0 ? "rmdir" : "unlink",
                                      path.native());
        }
        return {};
    }
    ///@}
};

/// renameat2(2) (`flags`: RENAME_NOREPLACE, RENAME_EXCHANGE; 0 = rename(2)).
struct Renameat {
    int olddirfd = AT_FDCWD;     ///< the directory `from` is relative to
    std::filesystem::path from;  ///< the old name; owned until completion
    int newdirfd = AT_FDCWD;     ///< the directory `to` is relative to
    std::filesystem::path to;    ///< the new name; owned until completion
    unsigned flags = 0;          ///< renameat2 flags
    /// Operation protocol (see corio::Operation): IORING_OP_RENAMEAT, or
    /// renameat2(2) on the blocking pool; finish gives success or the error
    /// naming both paths.
    ///@{
    static constexpr OpKind kind = OpKind::dir;
    static constexpr Interest interest = Interest::blocking;
    static constexpr unsigned uring_opcode = IORING_OP_RENAMEAT;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_renameat(s, olddirfd, from.c_str(), newdirfd, to.c_str(), flags);
    }
    int attempt() noexcept {
        int r = ::renameat2(olddirfd, from.c_str(), newdirfd, to.c_str(), flags);
        return r == 0 ? 0 : -errno;
    }
    int sim(corio::detail::SimIo& io) noexcept {
        return io.renameat(olddirfd, from.c_str(), newdirfd, to.c_str(), flags);
    }
    Result<void> finish(int res) {
        if (res < 0) return detail::fail<void>(res, "rename", from.native() + " -> " + to.native());
        return {};
    }
    ///@}
};

/// ftruncate(2): the file's size becomes `length`, cutting it or extending
/// it with zeros (a hole: no space is taken).
struct Ftruncate {
    int fd;                      ///< the file (open for writing)
    const std::string* subject;  ///< the path for error messages
    std::uint64_t length;        ///< the new size
    int slot = -1;  ///< registered descriptor table slot standing for fd (io_uring), or -1
    /// Operation protocol (see corio::Operation): IORING_OP_FTRUNCATE (Linux
    /// 6.9; liburing 2.3 predates it, hence the number), or ftruncate(2) on
    /// the blocking pool; finish gives success or the error.
    ///@{
    static constexpr OpKind kind = OpKind::write;
    static constexpr Interest interest = Interest::blocking;
    static constexpr unsigned uring_opcode = 55;  // IORING_OP_FTRUNCATE
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_rw(static_cast<int>(uring_opcode), s, fd, nullptr, 0, length);
    }
    int attempt() noexcept { return ::ftruncate(fd, static_cast<off_t>(length)) == 0 ? 0 : -errno; }
    int sim(corio::detail::SimIo& io) noexcept { return io.ftruncate(fd, length); }
    Result<void> finish(int res) {
        if (res < 0) return detail::fail<void>(res, "truncate", *subject);
        return {};
    }
    ///@}
};

/// fallocate(2): space for `len` bytes at `offset` is allocated (mode 0
/// also extends the size; FALLOC_FL_KEEP_SIZE does not).
struct Fallocate {
    int fd;                      ///< the file (open for writing)
    const std::string* subject;  ///< the path for error messages
    int mode;                    ///< 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | ..., ...
    std::uint64_t offset;        ///< where the range starts
    std::uint64_t len;           ///< its length (> 0)
    int slot = -1;  ///< registered descriptor table slot standing for fd (io_uring), or -1
    /// Operation protocol (see corio::Operation): IORING_OP_FALLOCATE, or
    /// fallocate(2) on the blocking pool; finish gives success or the error.
    ///@{
    static constexpr OpKind kind = OpKind::write;
    static constexpr Interest interest = Interest::blocking;
    static constexpr unsigned uring_opcode = IORING_OP_FALLOCATE;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_fallocate(s, fd, mode, static_cast<off_t>(offset), static_cast<off_t>(len));
    }
    int attempt() noexcept {
        const int r = ::fallocate(fd, mode, static_cast<off_t>(offset), static_cast<off_t>(len));
        return r == 0 ? 0 : -errno;
    }
    int sim(corio::detail::SimIo& io) noexcept { return io.fallocate(fd, mode, offset, len); }
    Result<void> finish(int res) {
        if (res < 0) return detail::fail<void>(res, "allocate", *subject);
        return {};
    }
    ///@}
};

/// linkat(2): a new name `to` for the file `from` (a hard link).
struct Linkat {
    int olddirfd = AT_FDCWD;     ///< the directory `from` is relative to
    std::filesystem::path from;  ///< the existing name; owned until completion
    int newdirfd = AT_FDCWD;     ///< the directory `to` is relative to
    std::filesystem::path to;    ///< the new name; owned until completion
    int flags = 0;               ///< AT_SYMLINK_FOLLOW, or 0
    /// Operation protocol (see corio::Operation): IORING_OP_LINKAT, or
    /// linkat(2) on the blocking pool; finish gives success or the error
    /// naming both paths.
    ///@{
    static constexpr OpKind kind = OpKind::dir;
    static constexpr Interest interest = Interest::blocking;
    static constexpr unsigned uring_opcode = IORING_OP_LINKAT;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_linkat(s, olddirfd, from.c_str(), newdirfd, to.c_str(), flags);
    }
    int attempt() noexcept {
        return ::linkat(olddirfd, from.c_str(), newdirfd, to.c_str(), flags) == 0 ? 0 : -errno;
    }
    int sim(corio::detail::SimIo& io) noexcept {
        return io.linkat(olddirfd, from.c_str(), newdirfd, to.c_str(), flags);
    }
    Result<void> finish(int res) {
        if (res < 0) return detail::fail<void>(res, "link", from.native() + " -> " + to.native());
        return {};
    }
    ///@}
};

/// symlinkat(2): a symbolic link `path` whose contents are `target`.
struct Symlinkat {
    std::filesystem::path target;  ///< what the link holds (not checked); owned until completion
    int dirfd = AT_FDCWD;          ///< the directory `path` is relative to
    std::filesystem::path path;    ///< the link made; owned until completion
    /// Operation protocol (see corio::Operation): IORING_OP_SYMLINKAT, or
    /// symlinkat(2) on the blocking pool; finish gives success or the error
    /// naming the link.
    ///@{
    static constexpr OpKind kind = OpKind::dir;
    static constexpr Interest interest = Interest::blocking;
    static constexpr unsigned uring_opcode = IORING_OP_SYMLINKAT;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_symlinkat(s, target.c_str(), dirfd, path.c_str());
    }
    int attempt() noexcept {
        return ::symlinkat(target.c_str(), dirfd, path.c_str()) == 0 ? 0 : -errno;
    }
    int sim(corio::detail::SimIo& io) noexcept {
        return io.symlinkat(target.c_str(), dirfd, path.c_str());
    }
    Result<void> finish(int res) {
        if (res < 0) return detail::fail<void>(res, "symlink", path.native());
        return {};
    }
    ///@}
};

/// readlinkat(2): what the symbolic link `path` holds, however long.
struct Readlinkat {
    int dirfd = AT_FDCWD;        ///< the directory `path` is relative to
    std::filesystem::path path;  ///< the link; owned until completion
    std::string target;          ///< filled by attempt() on the pool thread
    /// Operation protocol (see corio::Operation): never an io_uring request
    /// (`uring = false`: io_uring has no readlink); one blocking-pool job;
    /// finish gives the link's contents.
    ///@{
    static constexpr OpKind kind = OpKind::dir;
    static constexpr Interest interest = Interest::blocking;
    static constexpr bool uring = false;
    void prep(io_uring_sqe* s) const noexcept { io_uring_prep_nop(s); }  // never used
    int attempt() noexcept;                                              // in dir.cpp
    int sim(corio::detail::SimIo& io) noexcept;                          // in dir.cpp
    Result<std::filesystem::path> finish(int res) {
        if (res < 0) return detail::fail<std::filesystem::path>(res, "readlink", path.native());
        return std::filesystem::path(std::move(target));
    }
    ///@}
};

/// Reads a whole directory (open, getdents64 until the end, close) in one
/// blocking-pool job, on both backends: io_uring has no getdents. Entries
/// whose type the file system does not report are looked up with fstatat.
struct ListDir {
    int dirfd = AT_FDCWD;           ///< the directory `path` is relative to
    std::filesystem::path path;     ///< the directory listed; owned until completion
    std::vector<DirEntry> entries;  ///< filled by attempt() on the pool thread
    /// Operation protocol (see corio::Operation): never an io_uring request
    /// (`uring = false`); one blocking-pool job; finish gives the entries.
    ///@{
    static constexpr OpKind kind = OpKind::dir;
    static constexpr Interest interest = Interest::blocking;
    static constexpr bool uring = false;  // no getdents opcode: the pool on both
    void prep(io_uring_sqe* s) const noexcept { io_uring_prep_nop(s); }  // never used
    int attempt() noexcept;                                              // in dir.cpp
    int sim(corio::detail::SimIo& io) noexcept;                          // in dir.cpp
    Result<std::vector<DirEntry>> finish(int res) {
        if (res < 0) return detail::fail<std::vector<DirEntry>>(res, "list", path.native());
        return std::move(entries);
    }
    ///@}
};

/// close(2) of a file; the error names the file.
struct CloseFile {
    int fd;               ///< the descriptor closed
    std::string subject;  ///< the path for error messages
    /// Operation protocol (see corio::Operation): IORING_OP_CLOSE where the
    /// kernel has it, else close(2) inline; finish gives its error, if any.
    ///@{
    static constexpr OpKind kind = OpKind::close;
    static constexpr Interest interest = Interest::none;
    static constexpr unsigned uring_opcode = IORING_OP_CLOSE;
    void prep(io_uring_sqe* s) const noexcept { io_uring_prep_close(s, fd); }
    int attempt() noexcept { return ::close(fd) == 0 ? 0 : -errno; }
    int sim(corio::detail::SimIo& io) noexcept { return io.close(fd); }
    Result<void> finish(int res) {
        if (res < 0) return detail::fail<void>(res, "close", subject);
        return {};
    }
    ///@}
};

}  // namespace corio::fs
