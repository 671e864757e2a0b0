#include <corio/fs/file.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include <fmt/format.h>

#include <corio/fs/dir.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/resilience.hpp>
#include <corio/runtime/sim_io.hpp>

namespace corio::fs {

namespace detail {

void (*atomic_write_hook)(const std::string&) = nullptr;

std::string error_sentence(const char* op, const std::string& subject, std::error_code ec,
                           bool with_message) {
    std::string s;
    if (op != nullptr && *op != '\0') {
        s = op;
        if (!subject.empty()) {
            s += ' ';
            s += subject;
        }
    } else {
        s = subject;
    }
    if (with_message) {
        if (!s.empty()) s += ": ";
        s += ec.message();
    }
    return s;
}

std::string join_subject(const std::string& dir, const std::filesystem::path& p) {
    if (p.is_absolute() || dir.empty()) return p.native();
    std::string s = dir;
    if (s.back() != '/') s += '/';
    s += p.native();
    return s;
}

Stat to_stat(const struct statx& s) noexcept {
    Stat st;
    st.size = s.stx_size;
    st.blocks = s.stx_blocks;
    st.ino = s.stx_ino;
    st.mode = s.stx_mode;
    st.nlink = s.stx_nlink;
    st.uid = s.stx_uid;
    st.gid = s.stx_gid;
    st.blksize = s.stx_blksize;
    st.type = file_type_of_mode(s.stx_mode);
    st.mtime_sec = s.stx_mtime.tv_sec;
    st.mtime_nsec = s.stx_mtime.tv_nsec;
    // STATX_DIOALIGN: 6.1+, and only from file systems that support O_DIRECT.
    if ((s.stx_mask & STATX_DIOALIGN) != 0) {
        st.dio_mem_align = s.stx_dio_mem_align;
        st.dio_offset_align = s.stx_dio_offset_align;
    }
    return st;
}

}  // namespace detail

const char* to_string(FileType t) noexcept {
    switch (t) {
        case FileType::unknown:
            return "unknown";
        case FileType::regular:
            return "regular";
        case FileType::directory:
            return "directory";
        case FileType::symlink:
            return "symlink";
        case FileType::block:
            return "block";
        case FileType::character:
            return "character";
        case FileType::fifo:
            return "fifo";
        case FileType::socket:
            return "socket";
    }
    return "unknown";
}

FileType file_type_of_mode(unsigned mode) noexcept {
    switch (mode & S_IFMT) {
        case S_IFREG:
            return FileType::regular;
        case S_IFDIR:
            return FileType::directory;
        case S_IFLNK:
            return FileType::symlink;
        case S_IFBLK:
            return FileType::block;
        case S_IFCHR:
            return FileType::character;
        case S_IFIFO:
            return FileType::fifo;
        case S_IFSOCK:
            return FileType::socket;
        default:
            return FileType::unknown;
    }
}

// ---- File ----

File::File(int fd, std::string path, int flags) noexcept
    : fd_(fd), path_(std::move(path)), nowait_((flags & O_DIRECT) == 0) {}

OpAwaiter<Statx> File::stat() noexcept {
    Statx op;
    op.dirfd = fd();
    op.flags = AT_EMPTY_PATH;
    op.subject_ref = &path_;
    return OpAwaiter<Statx>(std::move(op));
}

OpAwaiter<StatxSize> File::size() noexcept {
    StatxSize op;
    op.dirfd = fd();
    op.flags = AT_EMPTY_PATH;
    op.subject_ref = &path_;
    return OpAwaiter<StatxSize>(std::move(op));
}

OpAwaiter<CloseFile> File::close() noexcept {
    int fd = fd_.release();
    if (fd >= 0) Loop::current().release_fd(fd);
    // A closed File closes nothing: -1 gives EBADF, naming the path.
    return OpAwaiter<CloseFile>(CloseFile{fd, path_});
}

OpAwaiter<ReadFixed> File::read_fixed_at(std::uint64_t offset, std::span<std::byte> buf,
                                         const FixedBuffers& bufs, unsigned index) noexcept {
    return OpAwaiter<ReadFixed>(ReadFixed{fd(), buf, offset, &path_, static_cast<int>(index),
                                          bufs.registered(), nowait_, io_slot()});
}

OpAwaiter<WriteFixed> File::write_fixed_at(std::uint64_t offset, std::span<const std::byte> buf,
                                           const FixedBuffers& bufs, unsigned index) noexcept {
    return OpAwaiter<WriteFixed>(WriteFixed{fd(), buf, offset, &path_, static_cast<int>(index),
                                            bufs.registered(), io_slot()});
}

Task<Result<std::size_t>> File::read_full_at(std::uint64_t offset, std::span<std::byte> buf) {
    std::size_t done = 0;
    while (done < buf.size()) {
        auto r = co_await read_at(offset + done, buf.subspan(done));
        if (!r) co_return r;
        if (*r == 0) break;
        done += *r;
    }
    co_return done;
}

Task<Result<void>> File::write_all_at(std::uint64_t offset, std::span<const std::byte> buf) {
    while (!buf.empty()) {
        auto r = co_await write_at(offset, buf);
        if (!r) co_return Result<void>(r.error(), r.op(), r.path());
        // A regular file only writes 0 bytes when asked for 0; guard anyway.
        if (*r == 0) co_return Result<void>(sys_error(EIO), "write", path_);
        offset += *r;
        buf = buf.subspan(*r);
    }
    co_return Result<void>{};
}

Task<Result<void>> File::write_all(std::span<const std::byte> buf) {
    while (!buf.empty()) {
        auto r = co_await write(buf);
        if (!r) co_return Result<void>(r.error(), r.op(), r.path());
        if (*r == 0) co_return Result<void>(sys_error(EIO), "write", path_);
        buf = buf.subspan(*r);
    }
    co_return Result<void>{};
}

Task<Result<std::vector<std::byte>>> File::read_all() {
    std::vector<std::byte> out;
    auto size = co_await this->size();
    if (!size) co_return Result<std::vector<std::byte>>(size.error(), size.op(), size.path());
    // Read a little past the reported size so that the end is seen in the
    // same read when the size was right.
    std::size_t want = *size > pos_ ? static_cast<std::size_t>(*size - pos_) : 0;
    out.resize(want + 1 < 4096 ? 4096 : want + 1);
    std::size_t used = 0;
    for (;;) {
        if (used == out.size()) out.resize(out.size() * 2);
        auto r = co_await read(std::span(out).subspan(used));
        if (!r) co_return Result<std::vector<std::byte>>(r.error(), r.op(), r.path());
        if (*r == 0) break;
        used += *r;
    }
    out.resize(used);
    co_return out;
}

Task<Result<std::string>> File::read_to_string() {
    auto size = co_await this->size();
    if (!size) co_return Result<std::string>(size.error(), size.op(), size.path());
    std::string out;
    std::size_t want = *size > pos_ ? static_cast<std::size_t>(*size - pos_) : 0;
    out.resize(want + 1 < 4096 ? 4096 : want + 1);
    std::size_t used = 0;
    for (;;) {
        if (used == out.size()) out.resize(out.size() * 2);
        auto r = co_await read(std::as_writable_bytes(std::span(out)).subspan(used));
        if (!r) co_return Result<std::string>(r.error(), r.op(), r.path());
        if (*r == 0) break;
        used += *r;
    }
    out.resize(used);
    co_return out;
}

// ---- AlignedBuffer ----

AlignedBuffer::AlignedBuffer(std::size_t size, std::size_t align) : size_(size) {
    void* p = nullptr;
    // posix_memalign needs a nonzero size to give a unique pointer.
    if (::posix_memalign(&p, align, size != 0 ? size : align) != 0) throw std::bad_alloc();
    std::memset(p, 0, size);
    data_ = static_cast<std::byte*>(p);
}

AlignedBuffer::AlignedBuffer(AlignedBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& o) noexcept {
    if (this != &o) {
        std::free(data_);
        data_ = std::exchange(o.data_, nullptr);
        size_ = std::exchange(o.size_, 0);
    }
    return *this;
}

AlignedBuffer::~AlignedBuffer() {
    std::free(data_);
}

// ---- FixedBuffers ----

Result<FixedBuffers> FixedBuffers::make(unsigned count, std::size_t size) {
    FixedBuffers b;
    b.mem_ = AlignedBuffer(static_cast<std::size_t>(count) * size);
    b.size_ = size;
    b.count_ = count;
    Loop& loop = Loop::current();
    if (loop.kind() != BackendKind::io_uring || count == 0) return b;
    std::vector<iovec> iov(count);
    for (unsigned i = 0; i < count; ++i) {
        iov[i].iov_base = b[i].data();
        iov[i].iov_len = size;
    }
    int r = loop.register_buffers(iov.data(), count);
    if (r < 0) {
        return Result<FixedBuffers>(sys_error(-r), "register buffers",
                                    fmt::format("{} x {} bytes", count, size));
    }
    b.loop_id_ = loop.id();
    return b;
}

FixedBuffers::FixedBuffers(FixedBuffers&& o) noexcept
    : mem_(std::move(o.mem_)),
      size_(std::exchange(o.size_, 0)),
      count_(std::exchange(o.count_, 0)),
      loop_id_(std::exchange(o.loop_id_, 0u)) {}

FixedBuffers& FixedBuffers::operator=(FixedBuffers&& o) noexcept {
    if (this != &o) {
        unregister();
        mem_ = std::move(o.mem_);
        size_ = std::exchange(o.size_, 0);
        count_ = std::exchange(o.count_, 0);
        loop_id_ = std::exchange(o.loop_id_, 0u);
    }
    return *this;
}

FixedBuffers::~FixedBuffers() {
    unregister();
}

bool FixedBuffers::registered() const noexcept {
    return Loop::current_if(loop_id_) != nullptr;  // ids start at 1: 0 is none
}

void FixedBuffers::unregister() noexcept {
    if (Loop* l = Loop::current_if(loop_id_)) l->unregister_buffers();
    loop_id_ = 0;
}

// ---- whole-file helpers ----

Task<Result<std::string>> read_file(std::filesystem::path path) {
    auto f = co_await File::open(std::move(path), O_RDONLY);
    if (!f) co_return Result<std::string>(f.error(), f.op(), f.path());
    auto s = co_await f->read_to_string();
    if (!s) co_return s;
    auto c = co_await f->close();
    if (!c) co_return Result<std::string>(c.error(), c.op(), c.path());
    co_return s;
}

Task<Result<void>> write_file(std::filesystem::path path, std::span<const std::byte> data,
                              mode_t mode) {
    auto f = co_await File::create(std::move(path), mode);
    if (!f) co_return Result<void>(f.error(), f.op(), f.path());
    auto w = co_await f->write_all_at(0, data);
    if (!w) co_return w;
    co_return co_await f->close();
}

Task<Result<void>> write_file(std::filesystem::path path, std::string_view data, mode_t mode) {
    co_return co_await write_file(std::move(path), std::as_bytes(std::span(data)), mode);
}

namespace {

// ".NAME.tmp-XXXXXXXXXXXXXXXX": hidden, never the target's own name. The number comes from
// detail::random_seed(): a different sequence in each process (a forked child once drew its
// parent's names, so that after nine writers killed before their rename the next child found
// all nine of its tries taken: EEXIST), and the world's seed on a simulated host, so that a
// crash's leftover temporary has the same name in every replay.
std::string temp_name(const std::filesystem::path& target) {
    const std::uint64_t n = corio::detail::random_seed();
    std::filesystem::path dir = target.parent_path();
    std::string name = fmt::format(".{}.tmp-{:016x}", target.filename().native(), n);
    return (dir / name).native();
}

}  // namespace

namespace {

// Every error of write_file_atomic names the file the caller asked for; the
// step and the temporary file it was working on follow in brackets.
Result<void> atomic_error(const std::filesystem::path& target, std::error_code ec,
                          std::string_view op, std::string_view subject) {
    return Result<void>(ec, "write_file_atomic",
                        fmt::format("{} ({} {})", target.native(), op, subject));
}
template <class R>
Result<void> atomic_error(const std::filesystem::path& target, const R& r) {
    return atomic_error(target, r.error(), r.op(), r.path());
}

Task<Result<void>> write_file_atomic_impl(std::filesystem::path path,
                                          std::span<const std::byte> data, mode_t mode) {
    // Keep an existing file's permission bits (as editors do); new files get `mode`.
    bool keep_mode = false;
    if (auto st = co_await fs::stat(path); st) {
        mode = st->permissions();
        keep_mode = true;
    }
    std::string tmp;
    File f;
    for (int attempt = 0;; ++attempt) {
        tmp = temp_name(path);
        auto o = co_await File::open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
        if (o) {
            f = std::move(*o);
            break;
        }
        if (o.error() != std::errc::file_exists || attempt == 8) {
            co_return atomic_error(path, o);
        }
    }
    // From here on, a failure removes the temporary.
    auto fail = [](std::filesystem::path tmp_path, Result<void> err) -> Task<Result<void>> {
        auto u = co_await fs::unlink(std::move(tmp_path));
        (void)u;
        co_return err;
    };
    if (keep_mode) {
        // The umask may have cleared bits the old file had.
        corio::detail::SimIo* sim = corio::detail::current_sim();
        const int r =
            sim != nullptr ? sim->fchmod(f.fd(), mode) : (::fchmod(f.fd(), mode) == 0 ? 0 : -errno);
        if (r != 0) co_return co_await fail(tmp, atomic_error(path, sys_error(-r), "chmod", tmp));
    }
    if (auto w = co_await f.write_all_at(0, data); !w) {
        co_return co_await fail(tmp, atomic_error(path, w));
    }
    if (auto s = co_await f.fsync(); !s) co_return co_await fail(tmp, atomic_error(path, s));
    if (auto c = co_await f.close(); !c) co_return co_await fail(tmp, atomic_error(path, c));
    if (detail::atomic_write_hook != nullptr) detail::atomic_write_hook(tmp);
    if (auto r = co_await fs::rename(tmp, path); !r) {
        co_return co_await fail(tmp, atomic_error(path, r));
    }
    // The rename is durable only once the directory entry is.
    std::filesystem::path dir = path.parent_path();
    if (dir.empty()) dir = ".";
    auto d = co_await open_dir(dir);
    if (!d) co_return atomic_error(path, d);
    if (auto s = co_await d->fsync(); !s) co_return atomic_error(path, s);
    auto c = co_await d->close();
    if (!c) co_return atomic_error(path, c);
    co_return c;
}

}  // namespace

Task<Result<void>> write_file_atomic(std::filesystem::path path, std::span<const std::byte> data,
                                     mode_t mode) {
    return write_file_atomic_impl(std::move(path), data, mode);
}

Task<Result<void>> write_file_atomic(std::filesystem::path path, std::string_view data,
                                     mode_t mode) {
    co_return co_await write_file_atomic(std::move(path), std::as_bytes(std::span(data)), mode);
}

}  // namespace corio::fs
