// copy SRC DST: copies a file with a bounded number of reads and writes in
// flight, keeping its permission bits.
//
// `depth` workers share one cursor: each takes the next block, reads it
// whole, writes it whole, and takes another. So at most `depth` operations
// are in flight and each worker's buffer is reused, allocating nothing per
// block. On io_uring the reads and writes are asynchronous SQEs (a block
// already in the page cache is read at once with preadv2(RWF_NOWAIT)); on
// epoll they run on the loop's blocking pool.
//
// Prints one line: "copied N bytes in S s (M MB/s) backend=B depth=D block=K".

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <corio/fs/file.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/when_all.hpp>

#include "cli.hpp"

using namespace corio;

namespace {

struct Copy {
    fs::File* src = nullptr;
    fs::File* dst = nullptr;
    std::size_t block = 0;
    std::uint64_t next = 0;    // the next block's offset (the shared cursor)
    std::uint64_t copied = 0;  // bytes written
    bool done = false;         // a worker saw the end of the file, or an error
    std::optional<std::string> error;
};

Task<void> worker(Copy* c) {
    fs::AlignedBuffer buf(c->block);
    while (!c->done) {
        const std::uint64_t off = c->next;
        c->next += c->block;
        // Read the block whole (a short read only at the end of the file).
        std::size_t got = 0;
        while (got < c->block) {
            auto r = co_await c->src->read_at(off + got, buf.span().subspan(got));
            if (!r) {
                if (!c->error) c->error = r.describe();
                c->done = true;
                co_return;
            }
            if (*r == 0) break;
            got += *r;
        }
        if (got < c->block) c->done = true;  // the end: no block after this one has data
        if (got == 0) co_return;
        auto w = co_await c->dst->write_all_at(off, buf.span().first(got));
        if (!w) {
            if (!c->error) c->error = w.describe();
            c->done = true;
            co_return;
        }
        c->copied += got;
    }
}

Task<int> run(std::string src_path, std::string dst_path, unsigned depth, std::size_t block) {
    auto src = co_await fs::File::open(src_path, O_RDONLY);
    if (!src) {
        fmt::print(stderr, "copy: {}\n", src.describe());
        co_return 1;
    }
    auto st = co_await src->stat();
    if (!st) {
        fmt::print(stderr, "copy: {}\n", st.describe());
        co_return 1;
    }
    if (st->type == fs::FileType::directory) {
        fmt::print(stderr, "copy: {}: Is a directory\n", src_path);
        co_return 1;
    }
    // Copying a file onto itself would truncate it first: refuse.
    if (struct stat d{}, sv{}; ::stat(dst_path.c_str(), &d) == 0 && ::fstat(src->fd(), &sv) == 0 &&
                               d.st_dev == sv.st_dev && d.st_ino == sv.st_ino) {
        fmt::print(stderr, "copy: {} and {} are the same file\n", src_path, dst_path);
        co_return 1;
    }
    const mode_t mode = st->permissions();
    auto dst = co_await fs::File::open(dst_path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (!dst) {
        fmt::print(stderr, "copy: {}\n", dst.describe());
        co_return 1;
    }
    // The umask (or an existing DST) may have left other bits: set them exactly.
    if (::fchmod(dst->fd(), mode) != 0) {
        fmt::print(stderr, "copy: chmod {}: {}\n", dst_path, std::strerror(errno));
        co_return 1;
    }
    // Reserve the space up front: fewer, larger extents, and ENOSPC before
    // any copying. Not every file system can (then just copy).
    if (st->size > 0) (void)::posix_fallocate(dst->fd(), 0, static_cast<off_t>(st->size));

    Copy c;
    c.src = &*src;
    c.dst = &*dst;
    c.block = block;
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<Task<void>> workers;
    for (unsigned i = 0; i < depth; ++i)
        workers.push_back(worker(&c));
    co_await when_all(std::move(workers));
    // A source that shrank while we copied: drop what fallocate reserved past it.
    if (!c.error && ::ftruncate(dst->fd(), static_cast<off_t>(c.copied)) != 0) {
        c.error = fmt::format("truncate {}: {}", dst_path, std::strerror(errno));
    }
    if (!c.error) {
        if (auto r = co_await dst->close(); !r) c.error = r.describe();
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (c.error) {
        fmt::print(stderr, "copy: {}\n", *c.error);
        co_return 1;
    }
    fmt::print("copied {} bytes in {:.3f} s ({:.1f} MB/s) backend={} depth={} block={}\n", c.copied,
               secs, secs > 0 ? static_cast<double>(c.copied) / secs / 1e6 : 0.0,
               to_string(Loop::current().kind()), depth, block);
    co_return 0;
}

std::size_t parse_size(const examples::Cli& cli, std::string text) {
    std::size_t mult = 1;
    if (!text.empty()) {
        char last = text.back();
        if (last == 'k' || last == 'K') mult = 1024;
        if (last == 'm' || last == 'M') mult = 1024 * 1024;
        if (mult != 1) text.pop_back();
    }
    std::size_t n = cli.number<std::size_t>("block", text, 1, std::size_t(1) << 40);
    n *= mult;
    if (n < 4096 || n > (std::size_t(64) << 20)) {
        cli.fail("--block wants 4096 to 64m bytes, not " + std::to_string(n));
    }
    return n;
}

}  // namespace

int main(int argc, char** argv) {
    examples::Cli cli(argc, argv, "SRC DST [options]",
                      "Copies the file SRC to DST (created or truncated), keeping SRC's\n"
                      "permission bits, with at most N reads/writes in flight.\n");
    LoopOptions opts;
    unsigned depth = 8;
    std::size_t block = 128 * 1024;
    std::string src, dst;
    cli.positional("SRC", src).positional("DST", dst);
    cli.backend(opts.backend);
    cli.option("depth N", "blocks in flight, 1..1024", depth, 1, 1024);
    cli.option("block BYTES", "block size, 4096..64M, suffix k or m allowed (default 128k)",
               [&](const std::string& v) { block = parse_size(cli, v); });
    cli.parse();
    // Enough SQEs for every block in flight plus the odd stat/close.
    opts.sq_entries = std::max(256u, depth * 2);
    try {
        Loop loop(opts);
        return loop.block_on(run(src, dst, depth, block));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "copy: %s\n", e.what());
        return 1;
    }
}
