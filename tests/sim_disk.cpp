// The simulated disk: what is not fsynced may be lost at a crash, a name is
// durable only after its directory's fsync (POSIX), ENOSPC and EIO on
// command; truncate, allocate and hard links under the same rules (no
// symbolic links); write_file_atomic keeps the old or the new content whenever the
// crash lands, while a plain rewrite does not.
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <corio/fs/dir.hpp>
#include <corio/fs/file.hpp>

#include "sim_support.hpp"

namespace sim_disk_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

// Writes `data` to `path`; fsyncs the file and/or its directory ("/") if asked.
Task<Result<void>> put(std::string path, std::string data, bool sync_file, bool sync_dir) {
    auto f = co_await fs::File::create(path);
    if (!f) co_return f.error();
    if (auto w = co_await f->write_all(std::as_bytes(std::span(data))); !w) co_return w.error();
    if (sync_file) {
        if (auto s = co_await f->fsync(); !s) co_return s.error();
    }
    if (auto c = co_await f->close(); !c) co_return c.error();
    if (sync_dir) {
        auto d = co_await fs::open_dir("/");
        if (!d) co_return d.error();
        if (auto s = co_await d->fsync(); !s) co_return s.error();
    }
    co_return Result<void>();
}

Task<Result<void>> mv(std::string from, std::string to) {
    co_return co_await fs::rename(from, to);
}

Task<Result<void>> sync_root() {
    auto d = co_await fs::open_dir("/");
    if (!d) co_return d.error();
    co_return co_await d->fsync();
}

// The content of `path`, or "<error message>".
Task<std::string> get(std::string path) {
    auto r = co_await fs::read_file(path);
    if (!r) co_return "<" + r.error().message() + ">";
    co_return *r;
}

std::string missing() {
    return "<" + std::make_error_code(std::errc::no_such_file_or_directory).message() + ">";
}

}  // namespace

TEST_CASE("sim disk: a crash keeps what was fsynced and loses the rest", "[sim][disk]") {
    sim::World w({.seed = 51});
    auto& h = w.add_host("db");
    REQUIRE(w.block_on(h, put("/a", "kept", true, true)));
    REQUIRE(w.block_on(h, put("/b", "never synced", false, false)));
    REQUIRE(w.block_on(h, put("/c", "file synced, name not", true, false)));
    CHECK(w.block_on(h, get("/b")) == "never synced");  // before the crash all is there
    w.crash(h);
    w.restart(h);
    CHECK(w.block_on(h, get("/a")) == "kept");
    CHECK(w.block_on(h, get("/b")) == missing());
    CHECK(w.block_on(h, get("/c")) == missing());
}

TEST_CASE("sim disk: a rename is durable only after the directory's fsync", "[sim][disk]") {
    sim::World w({.seed = 52});
    auto& h = w.add_host("db");
    REQUIRE(w.block_on(h, put("/d", "old", true, true)));
    REQUIRE(w.block_on(h, put("/d.tmp", "new", true, false)));
    REQUIRE(w.block_on(h, mv("/d.tmp", "/d")));
    CHECK(w.block_on(h, get("/d")) == "new");
    w.crash(h);
    w.restart(h);
    CHECK(w.block_on(h, get("/d")) == "old");

    REQUIRE(w.block_on(h, put("/d.tmp", "new", true, false)));
    REQUIRE(w.block_on(h, mv("/d.tmp", "/d")));
    REQUIRE(w.block_on(h, sync_root()));
    w.crash(h);
    w.restart(h);
    CHECK(w.block_on(h, get("/d")) == "new");
    CHECK(w.block_on(h, get("/d.tmp")) == missing());
}

TEST_CASE("sim disk: ENOSPC and EIO on command", "[sim][disk]") {
    sim::World w({.seed = 53});
    auto& h = w.add_host("db");
    w.disk_capacity(h, 100);
    auto full = w.block_on(h, put("/big", std::string(200, 'x'), true, true));
    REQUIRE(!full);
    CHECK(full.error() == std::errc::no_space_on_device);
    w.disk_capacity(h, std::size_t(-1));
    w.disk_error(h, EIO);
    auto io = w.block_on(h, put("/e", "data", true, true));
    REQUIRE(!io);
    CHECK(io.error() == std::errc::io_error);
    w.disk_error(h, 0);
    CHECK(w.block_on(h, put("/e", "data", true, true)));
    CHECK(w.block_on(h, get("/e")) == "data");
}

TEST_CASE("sim disk: truncate and allocate, durable after fsync", "[sim][disk]") {
    sim::World w({.seed = 56});
    auto& h = w.add_host("db");
    REQUIRE(w.block_on(h, put("/f", "0123456789", true, true)));
    // Cuts to `size`, fsyncs if asked.
    auto cut = [](std::uint64_t size, bool sync) -> Task<Result<void>> {
        auto f = co_await fs::File::open("/f", O_RDWR);
        if (!f) co_return f.error();
        if (auto t = co_await f->truncate(size); !t) co_return t.error();
        if (sync) co_return co_await f->fsync();
        co_return Result<void>();
    };
    REQUIRE(w.block_on(h, cut(4, false)));
    CHECK(w.block_on(h, get("/f")) == "0123");
    w.crash(h);  // not fsynced: the old content, or what the cut left (or a prefix of it)
    w.restart(h);
    const std::string after = w.block_on(h, get("/f"));
    CHECK((after == "0123456789" || std::string_view("0123").starts_with(after)));
    REQUIRE(w.block_on(h, cut(4, true)));
    REQUIRE(w.block_on(h, cut(6, true)));
    w.crash(h);
    w.restart(h);
    CHECK(w.block_on(h, get("/f")) == std::string("0123\0\0", 6));

    // allocate: mode 0 grows the file, KEEP_SIZE only checks the room;
    // a range past the disk's room is ENOSPC; holes are not modelled.
    w.disk_capacity(h, 1000);
    using Size = fs::Result<std::uint64_t>;
    auto alloc = [](std::uint64_t off, std::uint64_t len, int mode) -> Task<Size> {
        auto f = co_await fs::File::open("/f", O_RDWR);
        if (!f) co_return f.error();
        auto a = co_await f->allocate(off, len, mode);
        if (!a) co_return Size(a.error(), a.op(), a.path());
        co_return co_await f->size();
    };
    auto grown = w.block_on(h, alloc(0, 100, 0));
    REQUIRE(grown);
    CHECK(*grown == 100);
    auto kept = w.block_on(h, alloc(100, 100, FALLOC_FL_KEEP_SIZE));
    REQUIRE(kept);
    CHECK(*kept == 100);
    auto full = w.block_on(h, alloc(0, 5000, 0));
    REQUIRE(!full);
    CHECK(full.error() == std::errc::no_space_on_device);
    CHECK(full.describe() == "allocate /f: No space left on device");
    auto punch = w.block_on(h, alloc(0, 10, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE));
    CHECK(punch.error() == std::errc::operation_not_supported);
    auto zero = w.block_on(h, alloc(0, 0, 0));
    CHECK(zero.error() == std::errc::invalid_argument);
}

TEST_CASE("sim disk: a hard link is a name, durable after the directory's fsync; no symlinks",
          "[sim][disk]") {
    sim::World w({.seed = 57});
    auto& h = w.add_host("db");
    REQUIRE(w.block_on(h, put("/a", "data", true, true)));
    auto link = [](std::string from, std::string to) -> Task<Result<void>> {
        co_return co_await fs::hard_link(from, to);
    };
    auto nlink = [](std::string path) -> Task<Result<std::uint32_t>> {
        auto st = co_await fs::stat(path);
        if (!st) co_return st.error();
        co_return st->nlink;
    };
    REQUIRE(w.block_on(h, link("/a", "/b")));
    CHECK(w.block_on(h, get("/b")) == "data");
    auto two = w.block_on(h, nlink("/a"));
    REQUIRE(two);
    CHECK(*two == 2);
    CHECK(w.block_on(h, link("/a", "/b")).error() == std::errc::file_exists);
    CHECK(w.block_on(h, link("/none", "/c")).error() == std::errc::no_such_file_or_directory);
    w.crash(h);  // the directory was not fsynced: the new name is lost
    w.restart(h);
    CHECK(w.block_on(h, get("/b")) == missing());
    REQUIRE(w.block_on(h, link("/a", "/b")));
    REQUIRE(w.block_on(h, sync_root()));
    w.crash(h);
    w.restart(h);
    CHECK(w.block_on(h, get("/b")) == "data");

    auto sym = [](std::string target, std::string path) -> Task<Result<void>> {
        co_return co_await fs::symlink(target, path);
    };
    CHECK(w.block_on(h, sym("/a", "/s")).error() == std::errc::operation_not_permitted);
    CHECK(w.block_on(h, sym("/a", "/b")).error() == std::errc::file_exists);
    auto readlink = [](std::string path) -> Task<Result<std::filesystem::path>> {
        co_return co_await fs::read_link(path);
    };
    CHECK(w.block_on(h, readlink("/a")).error() == std::errc::invalid_argument);
    CHECK(w.block_on(h, readlink("/s")).error() == std::errc::no_such_file_or_directory);
}

TEST_CASE("sim disk: list_dir gives the names and kinds of a simulated directory", "[sim][disk]") {
    sim::World w({.seed = 54});
    auto& h = w.add_host("db");
    auto setup = []() -> Task<Result<void>> {
        if (auto m = co_await fs::mkdir("/d"); !m) co_return m.error();
        if (auto m = co_await fs::mkdir("/d/sub"); !m) co_return m.error();
        co_return co_await fs::write_file("/d/a", std::string_view("a"));
    };
    REQUIRE(w.block_on(h, setup()));
    using Entries = std::vector<std::pair<std::string, fs::FileType>>;
    auto list = [](std::string path) -> Task<Result<Entries>> {
        auto l = co_await fs::list_dir(path);
        if (!l) co_return l.error();
        Entries out;
        for (auto& e : *l) {
            out.emplace_back(e.name, e.type);
        }
        std::sort(out.begin(), out.end());
        co_return out;
    };
    auto d = w.block_on(h, list("/d"));
    REQUIRE(d);
    CHECK((*d == Entries{{"a", fs::FileType::regular}, {"sub", fs::FileType::directory}}));
    auto empty = w.block_on(h, list("/d/sub"));
    REQUIRE(empty);
    CHECK(empty->empty());
    auto missing = w.block_on(h, list("/nope"));
    REQUIRE(!missing);
    CHECK(missing.error() == std::errc::no_such_file_or_directory);
    auto file = w.block_on(h, list("/d/a"));
    REQUIRE(!file);
    CHECK(file.error() == std::errc::not_a_directory);
}

namespace {

// One seed: a durable "old", then a rewrite to "new..." with a crash at a
// time drawn from the seed. True when the file afterwards holds exactly the
// old or the new content.
bool rewrite_survives_crash(std::uint64_t seed, bool atomic, int* saw_new = nullptr) {
    static const std::string fresh(5000, 'n');
    sim::World w({.seed = seed, .use_env = false});
    auto& h = w.add_host("db");
    if (!w.block_on(h, put("/f", "old", true, true))) return false;
    auto writer = [](bool atomic) -> Task<void> {
        if (atomic) {
            (void)co_await fs::write_file_atomic("/f", std::string_view(fresh));
        } else {
            (void)co_await put("/f", fresh, true, false);
        }
    };
    h.loop().spawn(writer(atomic)).detach();
    // A write takes a handful of disk calls of up to 200 us each.
    w.at(std::chrono::microseconds(w.rng()() % 2500), [&w, &h] { w.crash(h); });
    w.run_for(10ms);
    w.restart(h);
    const std::string got = w.block_on(h, get("/f"));
    if (got == fresh && saw_new != nullptr) ++*saw_new;
    return got == "old" || got == fresh;
}

}  // namespace

TEST_CASE(
    "sim disk: write_file_atomic keeps old or new content wherever a crash lands "
    "(100 seeds)",
    "[sim][disk]") {
    int saw_new = 0;
    for (std::uint64_t seed = 1; seed <= 100; ++seed) {
        INFO("seed " << seed);
        CHECK(rewrite_survives_crash(seed, true, &saw_new));
    }
    // The crash landed both before and after the rename became durable.
    CHECK(saw_new > 0);
    CHECK(saw_new < 100);
}

namespace {

std::vector<std::string> temporaries_seen;

// The temporary names of three atomic writes on a fresh world with `seed`.
std::vector<std::string> temporary_names(std::uint64_t seed) {
    temporaries_seen.clear();
    fs::detail::atomic_write_hook = [](const std::string& tmp) { temporaries_seen.push_back(tmp); };
    sim::World w({.seed = seed, .use_env = false});
    auto& h = w.add_host("db");
    for (int i = 0; i < 3; ++i) {
        CHECK(w.block_on(h, fs::write_file_atomic("/f", std::string_view("v"))));
    }
    fs::detail::atomic_write_hook = nullptr;
    return temporaries_seen;
}

}  // namespace

// A crash can leave a temporary behind, and a program that lists the directory sees its
// name: the old names came from std::random_device even on a simulated host, so the same
// seed listed different names.
TEST_CASE("sim disk: write_file_atomic's temporary names replay with the seed", "[sim][disk]") {
    const auto a = temporary_names(5);
    REQUIRE(a.size() == 3);
    CHECK(temporary_names(5) == a);
    CHECK(temporary_names(6) != a);
}

TEST_CASE("sim disk: the seed search finds a crash that breaks a plain rewrite", "[sim][disk]") {
    auto failing = sim::find_failing_seed(
        [](std::uint64_t s) { return rewrite_survives_crash(s, false); }, 1, 100);
    REQUIRE(failing.has_value());
    CHECK(!rewrite_survives_crash(*failing, false));
}

}  // namespace sim_disk_test
