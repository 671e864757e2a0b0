#pragma once
// fs::File: an open regular file (or directory) whose reads, writes, syncs
// and stats are awaitable on either backend.
//
//     auto f = co_await fs::File::open("/var/log/app.log", O_WRONLY | O_APPEND | O_CREAT);
//     if (!f) co_return log_error("{}", f.describe());
//     co_await f->write_all(bytes);
//
// Single operations (read_at, write_at, fsync, stat, ...) return an
// OpAwaiter: nothing is allocated, the operation lives in the awaiting
// frame. Loops of operations (write_all, read_to_string, ...) are Tasks.
// Every error is an fs::Result naming the operation and the path.
//
// A File is used from the loop that opened it, one operation at a time per
// sequential position; positional operations (read_at/write_at) may be
// issued concurrently from many tasks. Buffers passed to an operation must
// stay valid until it completes (they do when it is awaited at once).

#include <fcntl.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <corio/fs/ops.hpp>
#include <corio/fs/result.hpp>
#include <corio/runtime/detail/fd.hpp>
#include <corio/runtime/op.hpp>
#include <corio/runtime/task.hpp>

namespace corio::fs {

class File;
class FixedBuffers;

namespace detail {
struct OpenFile;
}  // namespace detail

/// An open file. Move-only; the destructor closes the descriptor
/// synchronously (close(2) of a regular file does not block), `close()`
/// closes it as an operation and reports its error.
class File {
public:
    /// No file (is_open() false).
    File() noexcept = default;
    /// Takes ownership of `fd`; `path` names it in error messages.
    File(int fd, std::string path, int flags = 0) noexcept;
    /// Takes over the other file's descriptor, path and position.
    File(File&&) noexcept = default;
    /// Closes the file held (if open) and takes over the other's.
    File& operator=(File&&) noexcept = default;

    /// Opens `path` (O_CLOEXEC is added; `mode` applies with O_CREAT). On
    /// io_uring an IORING_OP_OPENAT, on epoll the blocking pool. With
    /// O_DIRECT, reads and writes need aligned buffers, offsets and lengths
    /// (see Stat::dio_mem_align, AlignedBuffer); a file system that refuses
    /// O_DIRECT fails the open with EINVAL.
    /// (`Op` is an implementation detail: a template only because File is
    /// incomplete here.)
    template <class Op = detail::OpenFile>
    static OpAwaiter<Op> open(std::filesystem::path path, int flags = O_RDONLY, mode_t mode = 0644);
    /// Like open(), relative to the directory `dir` (a File opened with
    /// O_DIRECTORY or O_PATH; see open_dir()). An absolute `path` ignores `dir`.
    template <class Op = detail::OpenFile>
    static OpAwaiter<Op> open_at(const File& dir, std::filesystem::path path, int flags = O_RDONLY,
                                 mode_t mode = 0644);
    /// Creates or truncates `path` for writing: O_WRONLY | O_CREAT | O_TRUNC.
    template <class Op = detail::OpenFile>
    static OpAwaiter<Op> create(std::filesystem::path path, mode_t mode = 0644) {
        return open<Op>(std::move(path), O_WRONLY | O_CREAT | O_TRUNC, mode);
    }

    /// The descriptor (-1 when closed).
    int fd() const noexcept { return fd_.get(); }
    /// True while the file is open.
    bool is_open() const noexcept { return fd_.valid(); }
    /// is_open().
    explicit operator bool() const noexcept { return is_open(); }
    /// The path the file was opened with (as error messages name it).
    const std::string& path() const noexcept { return path_; }

    /// The position sequential read()/write() use (starts at 0).
    std::uint64_t position() const noexcept { return pos_; }
    /// Moves the position of read()/write().
    void seek(std::uint64_t pos) noexcept { pos_ = pos; }

    /// Whether reads try the page cache first with preadv2(RWF_NOWAIT) on the
    /// loop's thread (default: on, off for O_DIRECT files). Off sends every
    /// read to io_uring (or, on epoll, the blocking pool).
    void set_cached_fast_path(bool on) noexcept { nowait_ = on; }
    /// Whether reads try the page cache first (see set_cached_fast_path()).
    bool cached_fast_path() const noexcept { return nowait_; }

    /// Reads up to buf.size() bytes at `offset`. Completes with the count:
    /// fewer than asked at the end of the file, 0 at or past it (1 GiB at
    /// most per call). `buf` is the kernel's until then.
    OpAwaiter<ReadAt> read_at(std::uint64_t offset, std::span<std::byte> buf) noexcept {
        return OpAwaiter<ReadAt>(ReadAt{fd(), buf, offset, &path_, nullptr, nowait_, io_slot()});
    }
    /// Writes up to buf.size() bytes at `offset`; completes with the count
    /// written, which may be short (write_all_at loops).
    OpAwaiter<WriteAt> write_at(std::uint64_t offset, std::span<const std::byte> buf) noexcept {
        return OpAwaiter<WriteAt>(WriteAt{fd(), buf, offset, &path_, nullptr, io_slot()});
    }
    /// Reads at position() and advances it by the count read.
    OpAwaiter<ReadAt> read(std::span<std::byte> buf) noexcept {
        return OpAwaiter<ReadAt>(ReadAt{fd(), buf, pos_, &path_, &pos_, nowait_, io_slot()});
    }
    /// Writes at position() and advances it by the count written (for a file
    /// opened with O_APPEND the kernel writes at the end regardless).
    OpAwaiter<WriteAt> write(std::span<const std::byte> buf) noexcept {
        return OpAwaiter<WriteAt>(WriteAt{fd(), buf, pos_, &path_, &pos_, io_slot()});
    }

    /// Reads until `buf` is full or the file ends; completes with the count
    /// (less than buf.size() only at the end of the file).
    Task<Result<std::size_t>> read_full_at(std::uint64_t offset, std::span<std::byte> buf);
    /// Writes all of `buf` at `offset`, continuing after short writes.
    Task<Result<void>> write_all_at(std::uint64_t offset, std::span<const std::byte> buf);
    /// Writes all of `buf` at position() and advances it.
    Task<Result<void>> write_all(std::span<const std::byte> buf);
    /// Reads from position() to the end of the file and advances position().
    /// Sized by a statx first, but reads until a read gives 0, so files that
    /// grow or report size 0 (/proc) are read whole.
    Task<Result<std::vector<std::byte>>> read_all();
    /// read_all() into a string.
    Task<Result<std::string>> read_to_string();

    /// Reads into a registered buffer: `buf` must lie inside `bufs[index]`.
    /// On io_uring with the buffers registered this is IORING_OP_READ_FIXED
    /// (no page pinning per read); otherwise a plain read.
    OpAwaiter<ReadFixed> read_fixed_at(std::uint64_t offset, std::span<std::byte> buf,
                                       const FixedBuffers& bufs, unsigned index) noexcept;
    /// Writes from a registered buffer (IORING_OP_WRITE_FIXED); see read_fixed_at.
    OpAwaiter<WriteFixed> write_fixed_at(std::uint64_t offset, std::span<const std::byte> buf,
                                         const FixedBuffers& bufs, unsigned index) noexcept;

    /// fsync(2): data and metadata reach stable storage before it completes.
    OpAwaiter<Fsync> fsync() noexcept {
        return OpAwaiter<Fsync>(Fsync{fd(), &path_, false, io_slot()});
    }
    /// fdatasync(2): like fsync, without metadata not needed to read the data.
    OpAwaiter<Fsync> fdatasync() noexcept {
        return OpAwaiter<Fsync>(Fsync{fd(), &path_, true, io_slot()});
    }
    /// ftruncate(2): the size becomes `length`; data past it is gone, and a
    /// file made longer reads as zeros there (a hole, no space taken). The
    /// file must be open for writing (EINVAL otherwise). On io_uring an
    /// IORING_OP_FTRUNCATE where the kernel has it (6.9), else the blocking
    /// pool.
    OpAwaiter<Ftruncate> truncate(std::uint64_t length) noexcept {
        return OpAwaiter<Ftruncate>(Ftruncate{fd(), &path_, length, io_slot()});
    }
    /// fallocate(2): reserves disk space for `len` bytes at `offset`, so later
    /// writes there cannot fail with ENOSPC. `mode` 0 extends the size to
    /// offset + len if that is larger; FALLOC_FL_KEEP_SIZE leaves it; other
    /// modes (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, ...) as fallocate(2)
    /// has them, where the file system supports them (EOPNOTSUPP otherwise).
    /// `len` 0 is EINVAL.
    OpAwaiter<Fallocate> allocate(std::uint64_t offset, std::uint64_t len, int mode = 0) noexcept {
        return OpAwaiter<Fallocate>(Fallocate{fd(), &path_, mode, offset, len, io_slot()});
    }
    /// statx(2) of the open file.
    OpAwaiter<Statx> stat() noexcept;
    /// The file's size in bytes (a statx).
    OpAwaiter<StatxSize> size() noexcept;

    /// Closes the file as an operation (IORING_OP_CLOSE, inline on epoll);
    /// the File is closed afterwards whatever the result. Completes with the
    /// close(2) error, if any (e.g. EIO reported late by NFS).
    OpAwaiter<CloseFile> close() noexcept;

    /// Gives up ownership of the descriptor.
    int release() noexcept { return fd_.release(); }

    /// The slot of the loop's registered descriptor table the file's reads,
    /// writes and syncs name (io_uring; IOSQE_FIXED_FILE spares the kernel a
    /// descriptor lookup per operation), or -1: not yet taken, epoll, the
    /// table full (LoopOptions::fixed_files), or another loop's thread.
    /// Taken at the file's second read, write or sync, so a file used once
    /// costs no table update; given back by close() or the destructor on
    /// the loop that took it (closed on another thread, the file stays in
    /// that loop's table, and open, until that loop ends).
    int registered_slot() const noexcept { return fd_.slot(); }

private:
    int io_slot() noexcept {
        if (uses_ < 2 && ++uses_ == 2) fd_.register_slot();
        return fd_.slot();
    }

    corio::detail::Fd fd_;
    std::string path_;
    std::uint64_t pos_ = 0;
    bool nowait_ = true;
    std::uint8_t uses_ = 0;  // reads, writes and syncs started, counted to 2
};

namespace detail {
/// Openat whose result becomes a File.
struct OpenFile : Openat {
    Result<File> finish(int res) {
        if (res < 0) return fail<File>(res, "open", subject);
        return File(res, std::move(subject), flags);
    }
};
}  // namespace detail

template <class Op>
OpAwaiter<Op> File::open(std::filesystem::path path, int flags, mode_t mode) {
    Op op;
    op.subject = path.native();
    op.path = std::move(path);
    op.flags = flags;
    op.mode = mode;
    return OpAwaiter<Op>(std::move(op));
}

template <class Op>
OpAwaiter<Op> File::open_at(const File& dir, std::filesystem::path path, int flags, mode_t mode) {
    Op op;
    op.dirfd = dir.fd();
    op.subject = detail::join_subject(dir.path(), path);
    op.path = std::move(path);
    op.flags = flags;
    op.mode = mode;
    return OpAwaiter<Op>(std::move(op));
}

/// Memory aligned for O_DIRECT (and fixed buffers): `size` bytes at an
/// address that is a multiple of `align` (a power of two; 4096 suits every
/// common device). Zero-filled. Move-only.
class AlignedBuffer {
public:
    /// No memory.
    AlignedBuffer() noexcept = default;
    /// Allocates; throws std::bad_alloc on failure.
    explicit AlignedBuffer(std::size_t size, std::size_t align = 4096);
    /// Takes over `o`'s memory; `o` is empty.
    AlignedBuffer(AlignedBuffer&& o) noexcept;
    /// Frees the memory held and takes over `o`'s.
    AlignedBuffer& operator=(AlignedBuffer&& o) noexcept;
    /// Frees the memory.
    ~AlignedBuffer();

    /// The first byte (null when empty).
    std::byte* data() const noexcept { return data_; }
    /// The size in bytes.
    std::size_t size() const noexcept { return size_; }
    /// The whole buffer.
    std::span<std::byte> span() const noexcept { return {data_, size_}; }

private:
    std::byte* data_ = nullptr;
    std::size_t size_ = 0;
};

/// Buffers registered with the current loop's io_uring
/// (io_uring_register_buffers), for File::read_fixed_at / write_fixed_at:
/// the kernel maps them once instead of pinning pages on every operation.
/// On epoll (or when registration fails, e.g. a second set on the same ring:
/// a ring has one) the buffers still work, as plain memory. Must be
/// destroyed on its loop's thread, before the loop.
class FixedBuffers {
public:
    /// No buffers.
    FixedBuffers() noexcept = default;
    /// Allocates `count` page-aligned buffers of `size` bytes and registers
    /// them with the current loop (if it runs on io_uring).
    static Result<FixedBuffers> make(unsigned count, std::size_t size);
    /// Takes over `o`'s buffers and registration; `o` holds none.
    FixedBuffers(FixedBuffers&& o) noexcept;
    /// Unregisters and frees the buffers held, then takes over `o`'s.
    FixedBuffers& operator=(FixedBuffers&& o) noexcept;
    /// Unregisters the buffers from the loop's ring and frees them. Off that
    /// loop's thread, or after it ended, the ring is left alone (it drops the
    /// registration when it closes).
    ~FixedBuffers();

    /// Buffer `i`.
    std::span<std::byte> operator[](unsigned i) const noexcept {
        return {mem_.data() + static_cast<std::size_t>(i) * size_, size_};
    }
    /// The number of buffers.
    unsigned count() const noexcept { return count_; }
    /// The size of each buffer.
    std::size_t buffer_size() const noexcept { return size_; }
    /// True when the current thread's loop has them registered (io_uring
    /// only): only there do reads and writes use READ_FIXED/WRITE_FIXED.
    bool registered() const noexcept;

private:
    void unregister() noexcept;
    AlignedBuffer mem_;
    std::size_t size_ = 0;
    unsigned count_ = 0;
    // The id() of the loop whose ring has them (0: not registered). Not its
    // address: a loop made later at the same address has a ring of its own.
    std::uint64_t loop_id_ = 0;
};

/// Reads a whole file into a string (open, read_to_string, close).
Task<Result<std::string>> read_file(std::filesystem::path path);

/// Creates or truncates `path` and writes `data` to it. Not atomic: a
/// reader (or a crash) may see a partial file; see write_file_atomic. `data`
/// must stay valid until the task completes.
Task<Result<void>> write_file(std::filesystem::path path, std::span<const std::byte> data,
                              mode_t mode = 0644);
/// write_file with text.
Task<Result<void>> write_file(std::filesystem::path path, std::string_view data,
                              mode_t mode = 0644);

/// Replaces `path` with `data` so that readers, and the file after a crash,
/// see either the old content or the new, never a mix: writes a temporary
/// file in the same directory (".NAME.tmp-XXXXXX"), fsyncs it, renames it
/// over `path`, then fsyncs the directory. A new file gets `mode` (less the
/// umask); an existing one keeps its permission bits. On failure the
/// temporary is removed; after a crash in between, a stale temporary may be
/// left (never under the target's name).
Task<Result<void>> write_file_atomic(std::filesystem::path path, std::span<const std::byte> data,
                                     mode_t mode = 0644);
/// write_file_atomic with text.
Task<Result<void>> write_file_atomic(std::filesystem::path path, std::string_view data,
                                     mode_t mode = 0644);

namespace detail {
/// Test hook: called by write_file_atomic after the temporary file is
/// written and synced, before the rename, with the temporary's path. Null
/// in normal use.
extern void (*atomic_write_hook)(const std::string& temp_path);
}  // namespace detail

}  // namespace corio::fs
