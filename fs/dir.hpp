#pragma once
// Directory operations: mkdir, unlink, rmdir, rename, hard_link, symlink,
// read_link, stat, list_dir, open_dir. On io_uring mkdir/unlink/rmdir/rename/
// hard_link/symlink/stat are SQEs (IORING_OP_MKDIRAT, UNLINKAT, RENAMEAT,
// LINKAT, SYMLINKAT, STATX; the blocking pool where the kernel lacks one); on
// epoll they run on the blocking pool. list_dir and read_link run on the pool
// on both (io_uring has no getdents, no readlink). Errors name the operation
// and the path: "mkdir /tmp/a/b: No such file or directory".
//
// Paths are taken by value: the operation owns them until it completes.

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include <corio/fs/file.hpp>
#include <corio/fs/ops.hpp>
#include <corio/runtime/op.hpp>

namespace corio::fs {

/// Creates the directory `path` (`mode` less the umask). EEXIST if it exists.
inline OpAwaiter<Mkdirat> mkdir(std::filesystem::path path, mode_t mode = 0777) {
    return OpAwaiter<Mkdirat>(Mkdirat{AT_FDCWD, std::move(path), mode});
}

/// Removes the file (not directory) `path`.
inline OpAwaiter<Unlinkat> unlink(std::filesystem::path path) {
    return OpAwaiter<Unlinkat>(Unlinkat{AT_FDCWD, std::move(path), 0});
}

/// Removes the empty directory `path` (ENOTEMPTY otherwise).
inline OpAwaiter<Unlinkat> rmdir(std::filesystem::path path) {
    return OpAwaiter<Unlinkat>(Unlinkat{AT_FDCWD, std::move(path), AT_REMOVEDIR});
}

/// Renames `from` to `to`, atomically replacing `to` if it exists (rename(2)
/// rules: both on one file system). The error names both: "rename A -> B: ...".
inline OpAwaiter<Renameat> rename(std::filesystem::path from, std::filesystem::path to) {
    return OpAwaiter<Renameat>(Renameat{AT_FDCWD, std::move(from), AT_FDCWD, std::move(to), 0});
}

/// Makes `to` a new name (a hard link) for the file `from`; both on one file
/// system, `from` not a directory (EPERM), `to` not existing (EEXIST). A
/// symbolic link `from` is linked itself, not followed. The error names both:
/// "link A -> B: ...".
inline OpAwaiter<Linkat> hard_link(std::filesystem::path from, std::filesystem::path to) {
    return OpAwaiter<Linkat>(Linkat{AT_FDCWD, std::move(from), AT_FDCWD, std::move(to), 0});
}

/// Makes the symbolic link `path`, holding `target` (which need not exist; a
/// relative target is resolved from the link's directory when followed).
inline OpAwaiter<Symlinkat> symlink(std::filesystem::path target, std::filesystem::path path) {
    return OpAwaiter<Symlinkat>(Symlinkat{std::move(target), AT_FDCWD, std::move(path)});
}

/// What the symbolic link `path` holds, as written (EINVAL: not a symbolic
/// link). One blocking-pool job on both backends: io_uring has no readlink.
inline OpAwaiter<Readlinkat> read_link(std::filesystem::path path) {
    return OpAwaiter<Readlinkat>(Readlinkat{AT_FDCWD, std::move(path), {}});
}

/// statx(2) of `path`, following a final symbolic link.
inline OpAwaiter<Statx> stat(std::filesystem::path path) {
    Statx op;
    op.subject = path.native();
    op.path = std::move(path);
    return OpAwaiter<Statx>(std::move(op));
}

/// statx(2) of `path` itself when it is a symbolic link.
inline OpAwaiter<Statx> lstat(std::filesystem::path path) {
    Statx op;
    op.subject = path.native();
    op.path = std::move(path);
    op.flags = AT_SYMLINK_NOFOLLOW;
    return OpAwaiter<Statx>(std::move(op));
}

/// The entries of directory `path`, without "." and "..", in the order the
/// file system gives them (unsorted). One blocking-pool job on both backends.
inline OpAwaiter<ListDir> list_dir(std::filesystem::path path) {
    return OpAwaiter<ListDir>(ListDir{AT_FDCWD, std::move(path), {}});
}

/// Opens the directory `path` (O_RDONLY | O_DIRECTORY), for File::open_at
/// or to fsync it after a rename.
inline OpAwaiter<detail::OpenFile> open_dir(std::filesystem::path path) {
    return File::open(std::move(path), O_RDONLY | O_DIRECTORY);
}

/// Creates `path` and any missing parents (like `mkdir -p`); an existing
/// directory is not an error.
Task<Result<void>> create_directories(std::filesystem::path path, mode_t mode = 0777);

/// Removes `path` and, if it is a directory, everything under it (like
/// `rm -rf`, without following symbolic links). A missing path is not an error.
Task<Result<void>> remove_all(std::filesystem::path path);

}  // namespace corio::fs
