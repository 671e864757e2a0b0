#include <corio/fs/dir.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace corio::fs {

namespace {

FileType file_type_of_dirent(unsigned char t) noexcept {
    switch (t) {
        case DT_REG:
            return FileType::regular;
        case DT_DIR:
            return FileType::directory;
        case DT_LNK:
            return FileType::symlink;
        case DT_BLK:
            return FileType::block;
        case DT_CHR:
            return FileType::character;
        case DT_FIFO:
            return FileType::fifo;
        case DT_SOCK:
            return FileType::socket;
        default:
            return FileType::unknown;
    }
}

}  // namespace

// Runs on a blocking-pool thread: the whole listing in one job, so a big
// directory costs one hand-off, not one per getdents call.
int ListDir::attempt() noexcept {
    int fd = ::openat(dirfd, path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    alignas(8) char buf[32 * 1024];
    int err = 0;
    try {
        for (;;) {
            long n = ::syscall(SYS_getdents64, fd, buf, sizeof buf);
            if (n < 0) {
                err = -errno;
                break;
            }
            if (n == 0) break;
            for (long off = 0; off < n;) {
                // glibc's dirent64 is the record getdents64(2) fills in.
                auto* d = reinterpret_cast<dirent64*>(buf + off);
                off += d->d_reclen;
                const char* name = d->d_name;
                if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) {
                    continue;
                }
                FileType t = file_type_of_dirent(d->d_type);
                if (d->d_type == DT_UNKNOWN) {
                    // Some file systems (xfs without ftype, some FUSE) leave the
                    // type out of the record: ask the inode.
                    struct stat st {};
                    if (::fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                        t = file_type_of_mode(st.st_mode);
                    }
                }
                entries.push_back(DirEntry{std::string(name), t});
            }
        }
    } catch (const std::bad_alloc&) {
        err = -ENOMEM;
    }
    ::close(fd);
    return err;
}

// The simulation's directory listing (sim::World): names and kinds from the
// simulated disk.
int ListDir::sim(corio::detail::SimIo& io) noexcept {
    std::vector<std::pair<std::string, bool>> names;
    try {
        int r = io.list_dir(dirfd, path.c_str(), names);
        if (r < 0) return r;
        for (auto& [name, dir] : names) {
            entries.push_back(
                DirEntry{std::move(name), dir ? FileType::directory : FileType::regular});
        }
    } catch (const std::bad_alloc&) {
        return -ENOMEM;
    }
    return 0;
}

// Runs on a blocking-pool thread. readlinkat(2) truncates silently: a result
// that fills the buffer may have been cut, so read again with twice the room.
int Readlinkat::attempt() noexcept {
    try {
        for (std::size_t room = 256;; room *= 2) {
            target.resize(room);
            const ssize_t n = ::readlinkat(dirfd, path.c_str(), target.data(), room);
            if (n < 0) return -errno;
            if (std::size_t(n) < room) {
                target.resize(std::size_t(n));
                return 0;
            }
        }
    } catch (const std::bad_alloc&) {
        return -ENOMEM;
    }
}

int Readlinkat::sim(corio::detail::SimIo& io) noexcept {
    return io.readlinkat(dirfd, path.c_str(), target);
}

Task<Result<void>> create_directories(std::filesystem::path path, mode_t mode) {
    auto r = co_await fs::mkdir(path, mode);
    if (r || r.error() == std::errc::file_exists) {
        if (r) co_return r;
        // EEXIST: fine if it is a directory.
        auto st = co_await fs::stat(path);
        if (st && st->type == FileType::directory) co_return Result<void>{};
        co_return r;
    }
    if (r.error() != std::errc::no_such_file_or_directory) co_return r;
    std::filesystem::path parent = path.parent_path();
    // Strip a trailing slash ("a/b/" has parent "a/b").
    if (parent == path || parent.empty()) co_return r;
    if (!path.has_filename()) {
        co_return co_await fs::create_directories(parent, mode);
    }
    auto p = co_await fs::create_directories(parent, mode);
    if (!p) co_return p;
    r = co_await fs::mkdir(path, mode);
    if (!r && r.error() == std::errc::file_exists) co_return Result<void>{};
    co_return r;
}

Task<Result<void>> remove_all(std::filesystem::path path) {
    auto st = co_await fs::lstat(path);
    if (!st) {
        if (st.error() == std::errc::no_such_file_or_directory) co_return Result<void>{};
        co_return Result<void>(st.error(), st.op(), st.path());
    }
    if (st->type != FileType::directory) {
        auto u = co_await fs::unlink(path);
        if (!u && u.error() == std::errc::no_such_file_or_directory) co_return Result<void>{};
        co_return u;
    }
    auto entries = co_await list_dir(path);
    if (!entries) co_return Result<void>(entries.error(), entries.op(), entries.path());
    for (auto& e : *entries) {
        auto r = co_await fs::remove_all(path / e.name);
        if (!r) co_return r;
    }
    auto r = co_await fs::rmdir(path);
    if (!r && r.error() == std::errc::no_such_file_or_directory) co_return Result<void>{};
    co_return r;
}

}  // namespace corio::fs
