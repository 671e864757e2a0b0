// fs::File on both backends: round trips at offsets, short reads at the end,
// a 1 GiB sparse file, concurrent reads, whole-file helpers, sync and stat,
// truncate and allocate,
// O_DIRECT, registered buffers, registered descriptor slots, and errors that
// name the path.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <corio/fs/dir.hpp>
#include <corio/fs/file.hpp>

#include "fs_support.hpp"

namespace fs_file_test {

using namespace corio;
using corio::test::TempDir;
using namespace std::chrono_literals;

namespace {

std::vector<std::byte> pattern(std::size_t n, std::uint64_t seed) {
    std::vector<std::byte> v(n);
    std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (auto& b : v) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b = static_cast<std::byte>(x);
    }
    return v;
}

std::span<const std::byte> bytes(std::string_view s) {
    return std::as_bytes(std::span(s));
}

}  // namespace

TEST_CASE("write_at and read_at round trip at offsets", "[fs][file]") {
    test::run([](Loop&) -> Task<void> {
        TempDir dir;
        auto f = co_await fs::File::open(dir / "a", O_RDWR | O_CREAT | O_TRUNC, 0600);
        REQUIRE(f);
        const std::uint64_t offsets[] = {0, 5001, 10239, 16384, 65537, 1u << 20, (1u << 24) + 3};
        std::uint64_t seed = 1;
        for (auto off : offsets) {
            auto data = pattern(5000, seed++);
            auto w = co_await f->write_all_at(off, data);
            REQUIRE(w);
        }
        seed = 1;
        for (auto off : offsets) {
            auto want = pattern(5000, seed++);
            std::vector<std::byte> got(5000);
            // Both paths: the page-cache fast path, and the ring / pool.
            for (bool fast : {true, false}) {
                f->set_cached_fast_path(fast);
                std::fill(got.begin(), got.end(), std::byte{0});
                auto r = co_await f->read_full_at(off, got);
                REQUIRE(r);
                REQUIRE(*r == 5000);
                CHECK((got == want));
            }
        }
        // The holes between the writes read as zeros.
        std::vector<std::byte> hole(1000);
        auto h = co_await f->read_at(30000, hole);
        REQUIRE(h);
        CHECK(*h == 1000);
        CHECK(std::all_of(hole.begin(), hole.end(), [](std::byte b) { return b == std::byte{0}; }));
        auto sz = co_await f->size();
        REQUIRE(sz);
        CHECK(*sz == (1u << 24) + 3 + 5000);
        REQUIRE_OK(f->close());
        CHECK_FALSE(f->is_open());
    });
}

TEST_CASE("sequential read and write keep a position", "[fs][file]") {
    test::run([](Loop&) -> Task<void> {
        TempDir dir;
        auto f = co_await fs::File::open(dir / "seq", O_RDWR | O_CREAT, 0600);
        REQUIRE(f);
        REQUIRE_OK(f->write_all(bytes("hello ")));
        REQUIRE_OK(f->write_all(bytes("world")));
        CHECK(f->position() == 11);
        f->seek(0);
        std::array<std::byte, 5> buf{};
        auto r = co_await f->read(buf);
        REQUIRE(r);
        CHECK(*r == 5);
        CHECK(std::memcmp(buf.data(), "hello", 5) == 0);
        CHECK(f->position() == 5);
        f->seek(6);
        auto rest = co_await f->read_to_string();
        REQUIRE(rest);
        CHECK(*rest == "world");
        CHECK(f->position() == 11);
        // At the end: 0 bytes, position unchanged.
        auto e = co_await f->read(buf);
        REQUIRE(e);
        CHECK(*e == 0);
        CHECK(f->position() == 11);
    });
}

TEST_CASE("reads at the end of the file are short", "[fs][file]") {
    test::run([](Loop&) -> Task<void> {
        TempDir dir;
        auto data = pattern(100, 7);
        REQUIRE_OK(fs::write_file(dir / "short", data));
        auto f = co_await fs::File::open(dir / "short");
        REQUIRE(f);
        for (bool fast : {true, false}) {
            f->set_cached_fast_path(fast);
            std::vector<std::byte> buf(64);
            auto r = co_await f->read_at(90, buf);
            REQUIRE(r);
            CHECK(*r == 10);
            CHECK(std::memcmp(buf.data(), data.data() + 90, 10) == 0);
            auto at_end = co_await f->read_at(100, buf);
            REQUIRE(at_end);
            CHECK(*at_end == 0);
            auto past = co_await f->read_at(1'000'000, buf);
            REQUIRE(past);
            CHECK(*past == 0);
            auto full = co_await f->read_full_at(50, buf);
            REQUIRE(full);
            CHECK(*full == 50);
        }
    });
}

TEST_CASE("a 1 GiB sparse file reads at its end", "[fs][file]") {
    test::run([](Loop&) -> Task<void> {
        TempDir dir;
        constexpr std::uint64_t gib = 1ull << 30;
        auto f = co_await fs::File::open(dir / "sparse", O_RDWR | O_CREAT | O_TRUNC, 0600);
        REQUIRE(f);
        REQUIRE_OK(f->truncate(gib));
        auto tail = pattern(4096, 99);
        REQUIRE_OK(f->write_all_at(gib - 4096, tail));
        auto st = co_await f->stat();
        REQUIRE(st);
        CHECK(st->size == gib);
        CHECK(st->blocks * 512 < gib / 2);  // it really is sparse
        for (bool fast : {true, false}) {
            f->set_cached_fast_path(fast);
            std::vector<std::byte> buf(8192);
            auto r = co_await f->read_at(gib - 4096, buf);
            REQUIRE(r);
            CHECK(*r == 4096);
            CHECK(std::memcmp(buf.data(), tail.data(), 4096) == 0);
            auto z = co_await f->read_at(gib - 8192, std::span(buf).first(4096));
            REQUIRE(z);
            CHECK(*z == 4096);
            CHECK(std::all_of(buf.begin(), buf.begin() + 4096,
                              [](std::byte b) { return b == std::byte{0}; }));
            auto e = co_await f->read_at(gib, buf);
            REQUIRE(e);
            CHECK(*e == 0);
        }
    });
}

namespace {
Task<void> random_reader(fs::File* f, const std::vector<std::byte>* want, unsigned seed,
                         int* done) {
    std::mt19937 rng(seed);
    std::vector<std::byte> buf(4096);
    for (int i = 0; i < 50; ++i) {
        std::uint64_t off = rng() % (want->size() - 4096);
        if (i % 7 == 0) off = want->size() - 1000;  // some short reads too
        auto r = co_await f->read_at(off, buf);
        REQUIRE(r);
        std::size_t n = std::min<std::size_t>(4096, want->size() - off);
        REQUIRE(*r == n);
        REQUIRE(std::memcmp(buf.data(), want->data() + off, n) == 0);
    }
    ++*done;
}
}  // namespace

TEST_CASE("many tasks read one file concurrently", "[fs][file]") {
    test::run(
        [](Loop&) -> Task<void> {
            TempDir dir;
            auto data = pattern(1 << 20, 3);
            REQUIRE_OK(fs::write_file(dir / "shared", data));
            auto f = co_await fs::File::open(dir / "shared");
            REQUIRE(f);
            for (bool fast : {true, false}) {
                f->set_cached_fast_path(fast);
                int done = 0;
                std::vector<Task<void>> tasks;
                for (unsigned i = 0; i < 64; ++i)
                    tasks.push_back(random_reader(&*f, &data, i, &done));
                co_await when_all(std::move(tasks));
                CHECK(done == 64);
            }
        },
        30s);
}

TEST_CASE("cached reads skip the ring and the pool", "[fs][file]") {
    test::run([](Loop& loop) -> Task<void> {
        TempDir dir;
        auto data = pattern(1 << 16, 5);
        REQUIRE_OK(fs::write_file(dir / "cached", data));
        auto f = co_await fs::File::open(dir / "cached");
        REQUIRE(f);
        std::vector<std::byte> buf(4096);
        const auto reads = [&] {
            return loop.stats().submitted[static_cast<std::size_t>(OpKind::read)];
        };
        auto before = reads();
        for (int i = 0; i < 10; ++i)
            REQUIRE_OK(f->read_at(4096u * i, buf));
        CHECK(reads() == before);  // all from the page cache, on the loop's thread
        f->set_cached_fast_path(false);
        for (int i = 0; i < 10; ++i)
            REQUIRE_OK(f->read_at(4096u * i, buf));
        CHECK(reads() == before + 10);
    });
}

TEST_CASE("whole-file helpers", "[fs][file]") {
    test::run([](Loop&) -> Task<void> {
        TempDir dir;
        REQUIRE_OK(fs::write_file(dir / "t.txt", std::string_view("line one\nline two\n")));
        auto s = co_await fs::read_file(dir / "t.txt");
        REQUIRE(s);
        CHECK(*s == "line one\nline two\n");
        // Bigger than one read's initial guess, and empty.
        auto big = pattern(3 << 20, 11);
        REQUIRE_OK(fs::write_file(dir / "big", big));
        auto f = co_await fs::File::open(dir / "big");
        REQUIRE(f);
        auto all = co_await f->read_all();
        REQUIRE(all);
        CHECK((*all == big));
        REQUIRE_OK(fs::write_file(dir / "empty", std::string_view()));
        auto e = co_await fs::read_file(dir / "empty");
        REQUIRE(e);
        CHECK(e->empty());
        // Files whose statx size is 0 but that have content.
        auto proc = co_await fs::read_file("/proc/self/status");
        REQUIRE(proc);
        CHECK(proc->find("Pid:") != std::string::npos);
        // write_file replaces.
        REQUIRE_OK(fs::write_file(dir / "t.txt", std::string_view("x")));
        auto x = co_await fs::read_file(dir / "t.txt");
        REQUIRE(x);
        CHECK(*x == "x");
    });
}

TEST_CASE("fsync, fdatasync and stat", "[fs][file]") {
    test::run([](Loop&) -> Task<void> {
        TempDir dir;
        auto f = co_await fs::File::open(dir / "s", O_WRONLY | O_CREAT | O_EXCL, 0640);
        REQUIRE(f);
        REQUIRE_OK(f->write_all_at(0, pattern(12345, 1)));
        REQUIRE_OK(f->fsync());
        REQUIRE_OK(f->fdatasync());
        auto st = co_await f->stat();
        REQUIRE(st);
        CHECK(st->size == 12345);
        CHECK(st->type == fs::FileType::regular);
        CHECK(st->permissions() == (0640 & ~[] {
                  mode_t m = ::umask(0);
                  ::umask(m);
                  return m;
              }()));
        CHECK(st->nlink == 1);
        auto by_path = co_await fs::stat(dir / "s");
        REQUIRE(by_path);
        CHECK(by_path->ino == st->ino);
        auto d = co_await fs::stat(dir.path);
        REQUIRE(d);
        CHECK(d->type == fs::FileType::directory);
    });
}

TEST_CASE("truncate and allocate change the size", "[fs][file]") {
    test::run([](Loop&) -> Task<void> {
        TempDir dir;
        auto f = co_await fs::File::open(dir / "t", O_RDWR | O_CREAT | O_EXCL, 0600);
        REQUIRE(f);
        const auto data = pattern(10000, 7);
        REQUIRE_OK(f->write_all_at(0, data));
        // Shorter: what was past the new end is gone.
        REQUIRE_OK(f->truncate(4000));
        auto size = co_await f->size();
        REQUIRE(size);
        CHECK(*size == 4000);
        std::vector<std::byte> got(10000);
        auto r = co_await f->read_full_at(0, got);
        REQUIRE(r);
        REQUIRE(*r == 4000);
        CHECK(std::equal(got.begin(), got.begin() + 4000, data.begin()));
        // Longer: zeros up to the new end, read back through both read paths.
        REQUIRE_OK(f->truncate(8000));
        for (bool fast : {true, false}) {
            f->set_cached_fast_path(fast);
            std::fill(got.begin(), got.end(), std::byte{1});
            auto r2 = co_await f->read_full_at(0, got);
            REQUIRE(r2);
            REQUIRE(*r2 == 8000);
            CHECK(std::equal(got.begin(), got.begin() + 4000, data.begin()));
            CHECK(std::all_of(got.begin() + 4000, got.begin() + 8000,
                              [](std::byte b) { return b == std::byte{0}; }));
        }
        REQUIRE_OK(f->truncate(0));
        auto empty = co_await f->size();
        REQUIRE(empty);
        CHECK(*empty == 0);

        // allocate: mode 0 extends the size and takes the blocks; KEEP_SIZE
        // takes blocks only.
        REQUIRE_OK(f->allocate(0, 1 << 20));
        auto st = co_await f->stat();
        REQUIRE(st);
        CHECK(st->size == 1u << 20);
        CHECK(st->blocks >= (1u << 20) / 512);
        REQUIRE_OK(f->allocate(1 << 20, 1 << 20, FALLOC_FL_KEEP_SIZE));
        auto kept = co_await f->stat();
        REQUIRE(kept);
        CHECK(kept->size == 1u << 20);
        CHECK(kept->blocks >= (2u << 20) / 512);
        // A range inside the file changes nothing a reader sees.
        REQUIRE_OK(f->write_all_at(100, data));
        REQUIRE_OK(f->allocate(0, 4096));
        auto r3 = co_await f->read_full_at(100, got);
        REQUIRE(r3);
        CHECK((got == data));
    });
}

TEST_CASE("truncate and allocate errors name the file", "[fs][file][errors]") {
    test::run([](Loop&) -> Task<void> {
        TempDir dir;
        const std::string path = dir / "ro";
        REQUIRE_OK(fs::write_file(path, std::string_view("0123456789")));
        auto ro = co_await fs::File::open(path);
        REQUIRE(ro);
        auto t = co_await ro->truncate(1);  // not open for writing
        REQUIRE_FALSE(t);
        CHECK(t.error() == std::errc::invalid_argument);
        CHECK(t.describe() == "truncate " + path + ": Invalid argument");
        auto a = co_await ro->allocate(0, 100);
        REQUIRE_FALSE(a);
        CHECK(a.error() == std::errc::bad_file_descriptor);
        CHECK(a.describe() == "allocate " + path + ": Bad file descriptor");
        auto rw = co_await fs::File::open(path, O_RDWR);
        REQUIRE(rw);
        auto zero = co_await rw->allocate(0, 0);
        REQUIRE_FALSE(zero);
        CHECK(zero.describe() == "allocate " + path + ": Invalid argument");
        auto d = co_await fs::open_dir(dir.path);
        REQUIRE(d);
        auto td = co_await d->truncate(0);
        CHECK(td.error() == std::errc::invalid_argument);
        // Nothing changed the file.
        auto back = co_await fs::read_file(path);
        REQUIRE(back);
        CHECK(*back == "0123456789");
    });
}

TEST_CASE("O_DIRECT with aligned buffers", "[fs][file]") {
    test::run([](Loop&) -> Task<void> {
        TempDir dir;
        auto f = co_await fs::File::open(dir / "direct", O_RDWR | O_CREAT | O_DIRECT, 0600);
        if (!f && f.error() == std::errc::invalid_argument) {
            WARN("the file system under /tmp refuses O_DIRECT: " << f.describe());
            co_return;
        }
        REQUIRE(f);
        CHECK_FALSE(f->cached_fast_path());  // RWF_NOWAIT would still wait for the device
        auto st = co_await f->stat();
        REQUIRE(st);
        std::size_t align = st->dio_offset_align != 0 ? st->dio_offset_align : 4096;
        std::size_t mem_align = st->dio_mem_align != 0 ? st->dio_mem_align : 4096;
        INFO("dio alignment " << align << " memory " << mem_align);
        constexpr std::size_t n = 64 * 1024;
        fs::AlignedBuffer out(n, std::max<std::size_t>(mem_align, 4096));
        auto p = pattern(n, 21);
        std::memcpy(out.data(), p.data(), n);
        REQUIRE_OK(f->write_all_at(align * 4, out.span()));
        fs::AlignedBuffer in(n, std::max<std::size_t>(mem_align, 4096));
        auto r = co_await f->read_full_at(align * 4, in.span());
        REQUIRE(r);
        CHECK(*r == n);
        CHECK(std::memcmp(in.data(), p.data(), n) == 0);
        // A misaligned offset is refused by the kernel, and the error names the file.
        if (align > 1) {
            auto bad = co_await f->read_at(1, in.span());
            REQUIRE_FALSE(bad);
            CHECK(bad.error() == std::errc::invalid_argument);
            CHECK(bad.describe() == "read " + (dir / "direct") + ": Invalid argument");
        }
    });
}

TEST_CASE("registered buffers: read_fixed and write_fixed", "[fs][file]") {
    test::run([](Loop& loop) -> Task<void> {
        TempDir dir;
        auto bufs = fs::FixedBuffers::make(4, 64 * 1024);
        REQUIRE(bufs);
        CHECK(bufs->registered() == (loop.kind() == BackendKind::io_uring));
        auto f = co_await fs::File::open(dir / "fixed", O_RDWR | O_CREAT, 0600);
        REQUIRE(f);
        for (unsigned i = 0; i < 4; ++i) {
            auto p = pattern(64 * 1024, 100 + i);
            std::memcpy((*bufs)[i].data(), p.data(), p.size());
            auto w = co_await f->write_fixed_at(i * 65536ull, (*bufs)[i], *bufs, i);
            REQUIRE(w);
            CHECK(*w == 65536);
        }
        for (unsigned i = 0; i < 4; ++i)
            std::memset((*bufs)[i].data(), 0, 65536);
        f->set_cached_fast_path(false);  // make the fixed read really go to the ring
        for (unsigned i = 0; i < 4; ++i) {
            unsigned j = 3 - i;  // read block i into buffer j, a part of it
            auto part = (*bufs)[j].subspan(4096, 32768);
            auto r = co_await f->read_fixed_at(i * 65536ull + 4096, part, *bufs, j);
            REQUIRE(r);
            CHECK(*r == 32768);
            auto p = pattern(64 * 1024, 100 + i);
            CHECK(std::memcmp(part.data(), p.data() + 4096, 32768) == 0);
        }
        if (loop.kind() == BackendKind::io_uring) {
            // A ring has one set of registered buffers: a second one is refused.
            auto second = fs::FixedBuffers::make(1, 4096);
            REQUIRE_FALSE(second);
            CHECK(second.describe().rfind("register buffers 1 x 4096 bytes: ", 0) == 0);
        }
    });
}

TEST_CASE("a file used twice takes a registered slot; close gives it back", "[fs][file][fixed]") {
    test::run([](Loop& loop) -> Task<void> {
        TempDir dir;
        auto f = co_await fs::File::open(dir / "slot", O_RDWR | O_CREAT, 0600);
        REQUIRE(f);
        f->set_cached_fast_path(false);  // every read through the ring
        const std::string text = "registered";
        REQUIRE_OK(f->write_at(0, bytes(text)));
        CHECK(f->registered_slot() == -1);  // one use: no table update yet
        std::array<std::byte, 16> buf{};
        auto r = co_await f->read_at(0, buf);
        REQUIRE(r);
        CHECK(*r == text.size());
        const bool table = loop.caps().fixed_files > 0;
        CHECK((f->registered_slot() >= 0) == table);
        CHECK(loop.fixed_files_in_use() == (table ? 1u : 0u));
        if (table) {
            // A descriptor that is no file at all: only the table can make
            // this read work (IOSQE_FIXED_FILE); without it, EBADF.
            std::string subject = "slot";
            fs::ReadAt op{-1, buf, 0, &subject, nullptr, false, f->registered_slot()};
            buf.fill(std::byte{0});
            auto via_slot = co_await run(op);
            REQUIRE(via_slot);
            CHECK(*via_slot == text.size());
            CHECK(std::memcmp(buf.data(), text.data(), text.size()) == 0);
        }
        REQUIRE_OK(f->fsync());
        REQUIRE_OK(f->close());
        CHECK(f->registered_slot() == -1);
        (void)co_await nop();
        CHECK(loop.fixed_files_in_use() == 0);
        {
            // The destructor gives the slot back too.
            auto g = co_await fs::File::open(dir / "slot", O_RDONLY);
            REQUIRE(g);
            for (int i = 0; i < 2; ++i)
                REQUIRE_OK(g->read_at(0, buf));
            CHECK(loop.fixed_files_in_use() == (table ? 1u : 0u));
        }
        (void)co_await nop();
        CHECK(loop.fixed_files_in_use() == 0);
    });
}

// A slot belongs to one ring. A loop made later at the same address (a
// temporary loop per corio::block_on call does that) has a table of its own,
// where the same slot number may hold another file.
TEST_CASE("a file's slot from a loop that is gone is not used on a new loop at its address",
          "[fs][file][fixed]") {
    if (test::sim_requested()) return;  // real loops only
    TempDir dir;
    test::ReplacedLoop loop;
    auto a = loop->block_on([](std::string path) -> Task<fs::File> {
        auto f = co_await fs::File::open(path, O_RDWR | O_CREAT, 0600);
        REQUIRE(f);
        f->set_cached_fast_path(false);
        for (int i = 0; i < 2; ++i)
            REQUIRE_OK(f->write_all_at(0, bytes("file a")));
        co_return std::move(*f);
    }(dir / "a"));
    const bool table = loop->caps().fixed_files > 0;
    CHECK((a.registered_slot() >= 0) == table);
    loop.replace();
    CHECK(a.registered_slot() == -1);
    loop->block_on([](fs::File* a, std::string path) -> Task<void> {
        // Another file takes the first free slot of the new table: the
        // number the old loop gave `a`.
        auto b = co_await fs::File::open(path, O_RDWR | O_CREAT, 0600);
        REQUIRE(b);
        for (int i = 0; i < 2; ++i)
            REQUIRE_OK(b->write_all_at(0, bytes("file b")));
        std::array<std::byte, 6> buf{};
        auto r = co_await a->read_at(0, buf);
        REQUIRE(r);
        CHECK(std::string(reinterpret_cast<const char*>(buf.data()), *r) == "file a");
        REQUIRE_OK(a->write_all_at(0, bytes("A")));
        std::array<std::byte, 6> got{};
        auto rb = co_await b->read_at(0, got);
        REQUIRE(rb);
        CHECK(std::string(reinterpret_cast<const char*>(got.data()), *rb) == "file b");
    }(&a, dir / "b"));
    a = fs::File();  // closed while its first loop's table is long gone
}

// Registered buffers that outlive their loop: on a loop made later at the
// same address they are plain memory (their reads are plain reads), and
// destroying them must not unregister that loop's own buffers.
TEST_CASE("registered buffers from a loop that is gone leave a new loop's buffers alone",
          "[fs][file][fixed]") {
    if (test::sim_requested()) return;  // real loops only
    TempDir dir;
    test::ReplacedLoop loop;
    auto old_bufs = loop->block_on([]() -> Task<fs::FixedBuffers> {
        auto b = fs::FixedBuffers::make(2, 4096);
        REQUIRE(b);
        co_return std::move(*b);
    }());
    const bool uring = loop->kind() == BackendKind::io_uring;
    loop.replace();
    CHECK_FALSE(old_bufs.registered());
    loop->block_on([](fs::FixedBuffers* old, std::string path, bool uring) -> Task<void> {
        auto f = co_await fs::File::open(path, O_RDWR | O_CREAT, 0600);
        REQUIRE(f);
        f->set_cached_fast_path(false);
        REQUIRE_OK(f->write_all_at(0, bytes("fixed")));
        // A plain read into the old buffers works.
        auto r0 = co_await f->read_fixed_at(0, (*old)[0].first(5), *old, 0);
        REQUIRE(r0);
        CHECK(*r0 == 5);
        // This loop's own buffers (a ring takes one set: it has none yet).
        auto mine = fs::FixedBuffers::make(2, 4096);
        REQUIRE(mine);
        CHECK(mine->registered() == uring);
        *old = fs::FixedBuffers();  // must not unregister `mine`
        for (unsigned i = 0; i < 2; ++i) {
            auto r = co_await f->read_fixed_at(0, (*mine)[i].first(5), *mine, i);
            REQUIRE(r);
            CHECK(std::memcmp((*mine)[i].data(), "fixed", 5) == 0);
        }
        if (uring) {
            // Still this ring's only set: a second one is refused.
            auto second = fs::FixedBuffers::make(1, 4096);
            CHECK_FALSE(second);
        }
    }(&old_bufs, dir / "fx", uring));
}

TEST_CASE("with the descriptor table full a file reads and writes by descriptor",
          "[fs][file][fixed]") {
    LoopOptions opts = test::options();
    opts.fixed_files = 1;
    test::run(
        [](Loop& loop) -> Task<void> {
            TempDir dir;
            auto a = co_await fs::File::open(dir / "a", O_RDWR | O_CREAT, 0600);
            auto b = co_await fs::File::open(dir / "b", O_RDWR | O_CREAT, 0600);
            REQUIRE(a);
            REQUIRE(b);
            for (int i = 0; i < 2; ++i) {
                REQUIRE_OK(a->write_all_at(0, bytes("first")));
                REQUIRE_OK(b->write_all_at(0, bytes("second")));
            }
            const bool table = loop.caps().fixed_files > 0;
            CHECK((a->registered_slot() >= 0) == table);
            CHECK(b->registered_slot() == -1);  // no room: the plain descriptor
            CHECK(loop.fixed_files_in_use() == (table ? 1u : 0u));
            a->set_cached_fast_path(false);
            b->set_cached_fast_path(false);
            std::array<std::byte, 8> buf{};
            auto ra = co_await a->read_at(0, buf);
            REQUIRE(ra);
            CHECK(std::string(reinterpret_cast<const char*>(buf.data()), *ra) == "first");
            auto rb = co_await b->read_at(0, buf);
            REQUIRE(rb);
            CHECK(std::string(reinterpret_cast<const char*>(buf.data()), *rb) == "second");
        },
        std::chrono::seconds(10), opts);
}

TEST_CASE("every File error names the operation and the path", "[fs][file][errors]") {
    test::run([](Loop&) -> Task<void> {
        TempDir dir;
        const std::string missing = dir / "no/such";
        auto o = co_await fs::File::open(missing);
        REQUIRE_FALSE(o);
        CHECK(o.error() == std::errc::no_such_file_or_directory);
        CHECK(o.error().category() == std::system_category());
        CHECK(std::string(o.op()) == "open");
        CHECK(o.path() == missing);
        CHECK(o.describe() == "open " + missing + ": No such file or directory");
        try {
            (void)std::move(o).value();
            FAIL("value() did not throw");
        } catch (const std::system_error& e) {
            CHECK(std::string(e.what()) == "open " + missing + ": No such file or directory");
            CHECK(e.code() == std::errc::no_such_file_or_directory);
        }

        // Relative to a directory: the message joins the two.
        auto d = co_await fs::open_dir(dir.path);
        REQUIRE(d);
        auto rel = co_await fs::File::open_at(*d, "nope.txt");
        REQUIRE_FALSE(rel);
        CHECK(rel.describe() == "open " + (dir / "nope.txt") + ": No such file or directory");
        auto exists = co_await fs::File::open_at(*d, "x", O_WRONLY | O_CREAT | O_EXCL);
        REQUIRE(exists);
        auto again = co_await fs::File::open_at(*d, "x", O_WRONLY | O_CREAT | O_EXCL);
        REQUIRE_FALSE(again);
        CHECK(again.describe() == "open " + (dir / "x") + ": File exists");
        auto notdir = co_await fs::open_dir(dir / "x");
        REQUIRE_FALSE(notdir);
        CHECK(notdir.describe() == "open " + (dir / "x") + ": Not a directory");

        // Reading a write-only file, writing a read-only one.
        std::vector<std::byte> buf(16);
        auto wo = std::move(*exists);
        for (bool fast : {true, false}) {
            wo.set_cached_fast_path(fast);
            auto r = co_await wo.read_at(0, buf);
            REQUIRE_FALSE(r);
            CHECK(r.error() == std::errc::bad_file_descriptor);
            CHECK(r.describe() == "read " + (dir / "x") + ": Bad file descriptor");
        }
        auto ro = co_await fs::File::open(dir / "x");
        REQUIRE(ro);
        auto w = co_await ro->write_at(0, buf);
        REQUIRE_FALSE(w);
        CHECK(w.describe() == "write " + (dir / "x") + ": Bad file descriptor");
        auto wa = co_await ro->write_all(buf);
        REQUIRE_FALSE(wa);
        CHECK(wa.describe() == "write " + (dir / "x") + ": Bad file descriptor");

        // Operations on a closed file.
        REQUIRE_OK(ro->close());
        auto c2 = co_await ro->close();
        REQUIRE_FALSE(c2);
        CHECK(c2.describe() == "close " + (dir / "x") + ": Bad file descriptor");
        auto s = co_await ro->stat();
        REQUIRE_FALSE(s);
        CHECK(s.describe() == "stat " + (dir / "x") + ": Bad file descriptor");
        auto sz = co_await ro->size();
        REQUIRE_FALSE(sz);
        CHECK(sz.describe() == "stat " + (dir / "x") + ": Bad file descriptor");
        auto fsy = co_await ro->fsync();
        REQUIRE_FALSE(fsy);
        CHECK(fsy.describe() == "fsync " + (dir / "x") + ": Bad file descriptor");
        auto fds = co_await ro->fdatasync();
        REQUIRE_FALSE(fds);
        CHECK(fds.describe() == "fdatasync " + (dir / "x") + ": Bad file descriptor");
        auto ra = co_await ro->read_to_string();
        REQUIRE_FALSE(ra);
        CHECK(ra.describe() == "stat " + (dir / "x") + ": Bad file descriptor");

        // Whole-file helpers pass the context on.
        auto rf = co_await fs::read_file(missing);
        REQUIRE_FALSE(rf);
        CHECK(rf.describe() == "open " + missing + ": No such file or directory");
        auto rdir = co_await fs::read_file(dir.path);
        REQUIRE_FALSE(rdir);
        CHECK(rdir.describe() == "read " + dir.path + ": Is a directory");
        auto wf = co_await fs::write_file(missing, std::string_view("x"));
        REQUIRE_FALSE(wf);
        CHECK(wf.describe() == "open " + missing + ": No such file or directory");
        auto wfa = co_await fs::write_file_atomic(missing, std::string_view("x"));
        REQUIRE_FALSE(wfa);
        // The target first, then the step and the temporary it worked on.
        CHECK(std::string(wfa.op()) == "write_file_atomic");
        CHECK(wfa.path().rfind(missing + " (open " + (dir / "no/.such.tmp-"), 0) == 0);
        CHECK(wfa.describe().find(": No such file or directory") != std::string::npos);

        // A plain corio::Result keeps the code and drops the context.
        Result<void> plain = wfa;
        CHECK(plain.error() == std::errc::no_such_file_or_directory);
    });
}

TEST_CASE("timeouts and cancellation of a file operation", "[fs][file]") {
    test::run([](Loop& loop) -> Task<void> {
        TempDir dir;
        // with_timeout keeps the fs::Result type.
        auto quick = co_await with_timeout(fs::read_file("/proc/self/status"), 5s);
        static_assert(std::is_same_v<decltype(quick), fs::Result<std::string>>);
        REQUIRE(quick);
        auto missing = co_await with_timeout(fs::read_file(dir / "none"), 5s);
        CHECK(missing.describe() == "open " + (dir / "none") + ": No such file or directory");

        // A read that never completes: a FIFO with no writer data. Only io_uring
        // can interrupt it; on epoll it would hold a pool thread until data came.
        if (loop.kind() != BackendKind::io_uring) co_return;
        REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
        auto f = co_await fs::File::open(dir / "fifo", O_RDWR);
        REQUIRE(f);
        std::array<std::byte, 16> buf{};
        auto r = co_await f->read_at(0, buf).timeout(30ms);
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::timed_out);
        CHECK(r.describe() == "read " + (dir / "fifo") + ": Connection timed out");
        auto w = co_await with_timeout(f->read(buf), 30ms);
        REQUIRE_FALSE(w);
        CHECK(w.error() == std::errc::timed_out);
        CHECK(f->position() == 0);
    });
}

}  // namespace fs_file_test
