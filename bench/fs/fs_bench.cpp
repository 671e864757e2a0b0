// fs_bench: random 4 KiB reads from a page-cached file on one loop, as
// `fio --rw=randread --bs=4k --ioengine=io_uring --iodepth=D` does, so the
// two can be compared in the same run (scripts/fs_bench.sh).
//
// `depth` tasks each loop: pick a random 4 KiB-aligned block, read_at it.
// So at most `depth` reads are in flight. With the page-cache fast path
// (default) a cached read is one preadv2(RWF_NOWAIT) on the loop's thread;
// with --fast-path off every read goes to io_uring (or, on epoll, to the
// blocking pool). --fixed reads into registered buffers (READ_FIXED).
// The file takes a slot of the loop's registered descriptor table (io_uring,
// IOSQE_FIXED_FILE), as every fs::File does; --registered-file off runs the
// loop without that table, for comparison.
//
// Prints one line of key=value pairs ending in reads_per_sec=N.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <corio/fs/file.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/timer.hpp>
#include <corio/runtime/when_all.hpp>

using namespace corio;

namespace {

constexpr const char* usage =
    "usage: fs_bench [--file PATH] [--size MIB] [--depth N] [--seconds S]\n"
    "                [--backend auto|io_uring|epoll] [--fast-path on|off] [--fixed]\n"
    "                [--registered-file on|off] [--prepare-only]\n"
    "Random 4 KiB reads of a page-cached file; prints reads_per_sec=N.\n";

struct Config {
    std::string file = "/tmp/corio-fs-bench.dat";
    std::uint64_t size_mib = 256;
    unsigned depth = 1;
    double seconds = 5;
    BackendChoice backend = BackendChoice::automatic;
    bool fast_path = true;
    bool fixed = false;
    bool registered_file = true;  // LoopOptions::fixed_files 0 when off
    bool prepare_only = false;
};

[[noreturn]] void bad(const std::string& msg) {
    std::fprintf(stderr, "fs_bench: %s (try --help)\n", msg.c_str());
    std::exit(2);
}

// Creates the file (if missing or of another size) and reads it once so that
// every block is in the page cache.
void prepare(const Config& c) {
    const std::uint64_t size = c.size_mib << 20;
    struct stat st {};
    if (::stat(c.file.c_str(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) != size) {
        int fd = ::open(c.file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) bad("open " + c.file + ": " + std::strerror(errno));
        std::vector<std::uint64_t> buf(1 << 17);  // 1 MiB
        std::uint64_t x = 88172645463325252ull;
        for (std::uint64_t off = 0; off < size; off += buf.size() * 8) {
            for (auto& w : buf) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                w = x;
            }
            if (::pwrite(fd, buf.data(), buf.size() * 8, static_cast<off_t>(off)) !=
                static_cast<ssize_t>(buf.size() * 8)) {
                bad("write " + c.file + ": " + std::strerror(errno));
            }
        }
        ::close(fd);
    }
    int fd = ::open(c.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) bad("open " + c.file + ": " + std::strerror(errno));
    std::vector<char> buf(1 << 20);
    while (::read(fd, buf.data(), buf.size()) > 0) {
    }
    ::close(fd);
}

struct Shared {
    fs::File* file = nullptr;
    fs::FixedBuffers* fixed = nullptr;
    std::uint64_t blocks = 0;
    bool stop = false;
    std::uint64_t reads = 0;
    std::uint64_t errors = 0;
};

Task<void> reader(Shared* s, unsigned id) {
    fs::AlignedBuffer own(s->fixed == nullptr ? 4096 : 0);
    std::span<std::byte> buf =
        s->fixed != nullptr ? (*s->fixed)[id].first(4096) : own.span().first(4096);
    std::uint64_t x = 0x9E3779B97F4A7C15ull * (id + 1);
    std::uint64_t n = 0;
    while (!s->stop) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const std::uint64_t off = (x % s->blocks) * 4096;
        if (s->fixed != nullptr) {
            auto r = co_await s->file->read_fixed_at(off, buf, *s->fixed, id);
            if (!r || *r != 4096) ++s->errors;
        } else {
            auto r = co_await s->file->read_at(off, buf);
            if (!r || *r != 4096) ++s->errors;
        }
        ++n;
    }
    s->reads += n;
}

Task<void> stopper(Shared* s, double seconds) {
    co_await sleep_for(std::chrono::duration<double>(seconds));
    s->stop = true;
}

Task<double> bench(Config c, bool* registered) {
    auto f = co_await fs::File::open(c.file, O_RDONLY);
    if (!f) bad(f.describe());
    f->set_cached_fast_path(c.fast_path);
    std::optional<fs::FixedBuffers> fixed;
    Shared s;
    s.file = &*f;
    s.blocks = (c.size_mib << 20) / 4096;
    if (c.fixed) {
        auto b = fs::FixedBuffers::make(c.depth, 4096);
        if (!b) bad(b.describe());
        fixed.emplace(std::move(*b));
        s.fixed = &*fixed;
    }
    std::vector<Task<void>> tasks;
    for (unsigned i = 0; i < c.depth; ++i)
        tasks.push_back(reader(&s, i));
    tasks.push_back(stopper(&s, c.seconds));
    const auto t0 = std::chrono::steady_clock::now();
    co_await when_all(std::move(tasks));
    *registered = f->registered_slot() >= 0;
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s.errors != 0) bad(fmt::format("{} reads failed or were short", s.errors));
    co_return static_cast<double>(s.reads) / secs;
}

}  // namespace

int main(int argc, char** argv) {
    Config c;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) bad(a + " needs a value");
            return argv[++i];
        };
        try {
            if (a == "--help") {
                std::fputs(usage, stdout);
                return 0;
            } else if (a == "--file") {
                c.file = value();
            } else if (a == "--size") {
                c.size_mib = std::stoull(value());
            } else if (a == "--depth") {
                c.depth = static_cast<unsigned>(std::stoul(value()));
            } else if (a == "--seconds") {
                c.seconds = std::stod(value());
            } else if (a == "--backend") {
                auto b = parse_backend(value());
                if (!b) bad("--backend wants auto, io_uring or epoll");
                c.backend = *b;
            } else if (a == "--fast-path") {
                std::string v = value();
                if (v != "on" && v != "off") bad("--fast-path wants on or off");
                c.fast_path = v == "on";
            } else if (a == "--fixed") {
                c.fixed = true;
            } else if (a == "--registered-file") {
                std::string v = value();
                if (v != "on" && v != "off") bad("--registered-file wants on or off");
                c.registered_file = v == "on";
            } else if (a == "--prepare-only") {
                c.prepare_only = true;
            } else {
                bad("unknown option '" + a + "'");
            }
        } catch (const std::logic_error&) {
            bad("bad number for " + a);
        }
    }
    if (c.depth == 0 || c.depth > 4096 || c.size_mib == 0) bad("depth 1..4096, size > 0");
    prepare(c);
    if (c.prepare_only) return 0;
    LoopOptions opts;
    opts.backend = c.backend;
    opts.sq_entries = std::max(256u, c.depth * 2);
    if (!c.registered_file) opts.fixed_files = 0;
    Loop loop(opts);
    bool registered = false;
    double rps = loop.block_on(bench(c, &registered));
    const auto& st = loop.stats();
    fmt::print(
        "corio backend={} depth={} fast_path={} fixed={} registered_file={} seconds={} syscalls={} "
        "inline={} reads_per_sec={:.0f}\n",
        to_string(loop.kind()), c.depth, c.fast_path ? "on" : "off", c.fixed ? "on" : "off",
        registered ? "on" : "off", c.seconds, st.syscalls, st.inline_done, rps);
    return 0;
}
