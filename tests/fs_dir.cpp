// Directory operations on both backends: mkdir, unlink, rmdir, rename,
// hard_link, symlink, read_link, stat, list_dir, create_directories, remove_all, and their error
// messages.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <corio/fs/dir.hpp>
#include <corio/fs/file.hpp>

#include "fs_support.hpp"

namespace fs_dir_test {

using namespace corio;
using corio::test::TempDir;

namespace {

std::vector<std::pair<std::string, fs::FileType>> sorted(std::vector<fs::DirEntry> v) {
    std::vector<std::pair<std::string, fs::FileType>> out;
    for (auto& e : v) {
        out.emplace_back(e.name, e.type);
    }
    std::sort(out.begin(), out.end());
    return out;
}

// A Unix socket bound at `path` (a socket file in its directory), or -1.
int bind_unix_socket(const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof a.sun_path) return -1;
    path.copy(a.sun_path, path.size());
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Makes one file of each kind in `dir`: sub (a directory), file.txt, link (to
// file.txt), fifo and sock (a bound Unix socket, whose descriptor it returns).
Task<int> one_of_each(const TempDir& dir) {
    REQUIRE_OK(fs::mkdir(dir / "sub"));
    REQUIRE_OK(fs::write_file(dir / "file.txt", std::string_view("x")));
    REQUIRE_OK(fs::symlink("file.txt", dir / "link"));
    REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
    const int sock = bind_unix_socket(dir / "sock");
    REQUIRE(sock >= 0);
    co_return sock;
}

}  // namespace

TEST_CASE("list_dir gives names and types", "[fs][dir]") {
    test::run([](Loop&) -> Task<void> {
        TempDir dir;
        const int sock = co_await one_of_each(dir);
        auto l = co_await fs::list_dir(dir.path);
        ::close(sock);
        INFO(l.describe());
        REQUIRE(l);
        auto got = sorted(std::move(*l));
        std::vector<std::pair<std::string, fs::FileType>> want = {
            {"fifo", fs::FileType::fifo},     {"file.txt", fs::FileType::regular},
            {"link", fs::FileType::symlink},  {"sock", fs::FileType::socket},
            {"sub", fs::FileType::directory},
        };
        CHECK((got == want));
        auto empty = co_await fs::list_dir(dir / "sub");
        REQUIRE(empty);
        CHECK(empty->empty());
    });
}

TEST_CASE("stat gives every kind of file its type, and each type has a name", "[fs][dir]") {
    test::run([](Loop&) -> Task<void> {
        TempDir dir;
        const int sock = co_await one_of_each(dir);
        const std::pair<std::string, fs::FileType> cases[] = {
            {dir / "file.txt", fs::FileType::regular}, {dir / "sub", fs::FileType::directory},
            {dir / "fifo", fs::FileType::fifo},        {dir / "sock", fs::FileType::socket},
            {"/dev/null", fs::FileType::character},
        };
        for (const auto& [path, type] : cases) {
            auto st = co_await fs::stat(path);
            INFO(path << ": " << st.describe());
            REQUIRE(st);
            CHECK(st->type == type);
        }
        auto l = co_await fs::lstat(dir / "link");
        REQUIRE(l);
        CHECK(l->type == fs::FileType::symlink);
        auto followed = co_await fs::stat(dir / "link");
        REQUIRE(followed);
        CHECK(followed->type == fs::FileType::regular);
        ::close(sock);
    });
    CHECK(fs::file_type_of_mode(S_IFBLK) == fs::FileType::block);
    CHECK(fs::file_type_of_mode(0) == fs::FileType::unknown);
    const std::pair<fs::FileType, std::string_view> names[] = {
        {fs::FileType::unknown, "unknown"},     {fs::FileType::regular, "regular"},
        {fs::FileType::directory, "directory"}, {fs::FileType::symlink, "symlink"},
        {fs::FileType::block, "block"},         {fs::FileType::character, "character"},
        {fs::FileType::fifo, "fifo"},           {fs::FileType::socket, "socket"},
    };
    for (const auto& [type, name] : names) {
        CHECK(fs::to_string(type) == name);
    }
}

TEST_CASE("list_dir reads a big directory whole", "[fs][dir]") {
    test::run(
        [](Loop&) -> Task<void> {
            TempDir dir;
            // Long names: several getdents64 calls' worth of records.
            constexpr int n = 3000;
            for (int i = 0; i < n; ++i) {
                std::string name = dir / ("entry-with-a-rather-long-name-" + std::to_string(i));
                int fd = ::open(name.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
                REQUIRE(fd >= 0);
                ::close(fd);
            }
            auto l = co_await fs::list_dir(dir.path);
            REQUIRE(l);
            REQUIRE(l->size() == static_cast<std::size_t>(n));
            std::vector<std::string> names;
            for (auto& e : *l) {
                CHECK(e.type == fs::FileType::regular);
                names.push_back(e.name);
            }
            std::sort(names.begin(), names.end());
            CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
        },
        std::chrono::seconds(60));
}

TEST_CASE("mkdir, rename, unlink, rmdir", "[fs][dir]") {
    test::run([](Loop&) -> Task<void> {
        TempDir dir;
        REQUIRE_OK(fs::mkdir(dir / "d", 0700));
        auto st = co_await fs::stat(dir / "d");
        REQUIRE(st);
        CHECK(st->type == fs::FileType::directory);
        CHECK((st->permissions() & 0700) == 0700);

        REQUIRE_OK(fs::write_file(dir / "d/a", std::string_view("aaa")));
        REQUIRE_OK(fs::write_file(dir / "d/b", std::string_view("bbb")));
        // rename replaces the target.
        REQUIRE_OK(fs::rename(dir / "d/a", dir / "d/b"));
        auto b = co_await fs::read_file(dir / "d/b");
        REQUIRE(b);
        CHECK(*b == "aaa");
        auto a = co_await fs::stat(dir / "d/a");
        CHECK(a.error() == std::errc::no_such_file_or_directory);
        // Directories rename too.
        REQUIRE_OK(fs::rename(dir / "d", dir / "e"));
        REQUIRE_OK(fs::unlink(dir / "e/b"));
        REQUIRE_OK(fs::rmdir(dir / "e"));
        auto l = co_await fs::list_dir(dir.path);
        REQUIRE(l);
        CHECK(l->empty());
    });
}

TEST_CASE("hard_link gives a file a second name", "[fs][dir]") {
    test::run([](Loop&) -> Task<void> {
        TempDir dir;
        REQUIRE_OK(fs::write_file(dir / "a", std::string_view("one")));
        REQUIRE_OK(fs::hard_link(dir / "a", dir / "b"));
        auto a = co_await fs::stat(dir / "a");
        auto b = co_await fs::stat(dir / "b");
        REQUIRE(a);
        REQUIRE(b);
        CHECK(a->ino == b->ino);
        CHECK(b->nlink == 2);
        // One file: a write through one name is read through the other, and
        // the data outlives the first name.
        REQUIRE_OK(fs::write_file(dir / "b", std::string_view("two")));
        REQUIRE_OK(fs::unlink(dir / "a"));
        auto content = co_await fs::read_file(dir / "b");
        REQUIRE(content);
        CHECK(*content == "two");
        auto after = co_await fs::stat(dir / "b");
        REQUIRE(after);
        CHECK(after->nlink == 1);

        auto exists = co_await fs::hard_link(dir / "b", dir / "b");
        REQUIRE_FALSE(exists);
        CHECK(exists.error() == std::errc::file_exists);
        CHECK(exists.describe() == "link " + (dir / "b") + " -> " + (dir / "b") + ": File exists");
        auto missing = co_await fs::hard_link(dir / "a", dir / "c");
        CHECK(missing.error() == std::errc::no_such_file_or_directory);
        REQUIRE_OK(fs::mkdir(dir / "d"));
        auto of_dir = co_await fs::hard_link(dir / "d", dir / "e");
        CHECK(of_dir.error() == std::errc::operation_not_permitted);
    });
}

TEST_CASE("symlink and read_link", "[fs][dir]") {
    test::run([](Loop&) -> Task<void> {
        TempDir dir;
        REQUIRE_OK(fs::write_file(dir / "file", std::string_view("x")));
        REQUIRE_OK(fs::symlink("file", dir / "s"));
        auto target = co_await fs::read_link(dir / "s");
        REQUIRE(target);
        CHECK(*target == "file");
        auto l = co_await fs::lstat(dir / "s");
        REQUIRE(l);
        CHECK(l->type == fs::FileType::symlink);
        auto followed = co_await fs::stat(dir / "s");
        auto file = co_await fs::stat(dir / "file");
        REQUIRE(followed);
        REQUIRE(file);
        CHECK(followed->ino == file->ino);
        auto via = co_await fs::read_file(dir / "s");
        REQUIRE(via);
        CHECK(*via == "x");

        // A dangling link is made and read; following it fails.
        REQUIRE_OK(fs::symlink("nowhere/at/all", dir / "dangling"));
        auto dangling = co_await fs::read_link(dir / "dangling");
        REQUIRE(dangling);
        CHECK(*dangling == "nowhere/at/all");
        auto gone = co_await fs::stat(dir / "dangling");
        CHECK(gone.error() == std::errc::no_such_file_or_directory);
        // A target longer than read_link's first buffer comes back whole.
        std::string longer;
        for (int i = 0; i < 300; ++i) {
            longer += "segment" + std::to_string(i) + "/";
        }
        REQUIRE(longer.size() > 3000);
        REQUIRE_OK(fs::symlink(longer, dir / "long"));
        auto long_target = co_await fs::read_link(dir / "long");
        REQUIRE(long_target);
        CHECK(long_target->native() == longer);

        auto not_link = co_await fs::read_link(dir / "file");
        REQUIRE_FALSE(not_link);
        CHECK(not_link.error() == std::errc::invalid_argument);
        CHECK(not_link.describe() == "readlink " + (dir / "file") + ": Invalid argument");
        auto taken = co_await fs::symlink("file", dir / "s");
        REQUIRE_FALSE(taken);
        CHECK(taken.describe() == "symlink " + (dir / "s") + ": File exists");
        auto no_dir = co_await fs::symlink("file", dir / "no/such");
        CHECK(no_dir.error() == std::errc::no_such_file_or_directory);
    });
}

TEST_CASE("open_at creates files relative to a directory", "[fs][dir]") {
    test::run([](Loop&) -> Task<void> {
        TempDir dir;
        REQUIRE_OK(fs::mkdir(dir / "sub"));
        auto d = co_await fs::open_dir(dir / "sub");
        REQUIRE(d);
        auto f = co_await fs::File::open_at(*d, "rel.txt", O_WRONLY | O_CREAT | O_EXCL, 0600);
        REQUIRE(f);
        CHECK(f->path() == dir / "sub/rel.txt");
        REQUIRE_OK(f->write_all(std::as_bytes(std::span(std::string_view("relative")))));
        REQUIRE_OK(f->close());
        auto s = co_await fs::read_file(dir / "sub/rel.txt");
        REQUIRE(s);
        CHECK(*s == "relative");
        // fsync of a directory (what write_file_atomic does after rename).
        REQUIRE_OK(d->fsync());
    });
}

TEST_CASE("create_directories and remove_all", "[fs][dir]") {
    test::run([](Loop&) -> Task<void> {
        TempDir dir;
        REQUIRE_OK(fs::create_directories(dir / "a/b/c/d"));
        REQUIRE_OK(fs::create_directories(dir / "a/b/c/d"));  // exists: fine
        REQUIRE_OK(fs::create_directories(dir / "a/b/x/"));   // trailing slash
        REQUIRE_OK(fs::write_file(dir / "a/b/c/f", std::string_view("f")));
        REQUIRE_OK(fs::symlink(dir.path, dir / "a/b/up"));
        auto over_file = co_await fs::create_directories(dir / "a/b/c/f/g");
        REQUIRE_FALSE(over_file);
        CHECK(over_file.error() == std::errc::not_a_directory);
        REQUIRE_OK(fs::remove_all(dir / "a"));
        auto gone = co_await fs::stat(dir / "a");
        CHECK(gone.error() == std::errc::no_such_file_or_directory);
        // The symlink to the top was removed, not followed.
        auto top = co_await fs::stat(dir.path);
        CHECK(top);
        REQUIRE_OK(fs::remove_all(dir / "never-existed"));
    });
}

TEST_CASE("every directory error names the operation and the path", "[fs][dir][errors]") {
    test::run([](Loop&) -> Task<void> {
        TempDir dir;
        const std::string missing = dir / "missing";
        REQUIRE_OK(fs::mkdir(dir / "d"));
        REQUIRE_OK(fs::write_file(dir / "d/f", std::string_view("f")));

        auto m = co_await fs::mkdir(dir / "d");
        REQUIRE_FALSE(m);
        CHECK(m.error() == std::errc::file_exists);
        CHECK(m.describe() == "mkdir " + (dir / "d") + ": File exists");
        auto m2 = co_await fs::mkdir(missing + "/x");
        CHECK(m2.describe() == "mkdir " + missing + "/x: No such file or directory");

        auto u = co_await fs::unlink(missing);
        REQUIRE_FALSE(u);
        CHECK(u.error() == std::errc::no_such_file_or_directory);
        CHECK(u.describe() == "unlink " + missing + ": No such file or directory");
        auto ud = co_await fs::unlink(dir / "d");
        CHECK(ud.describe() == "unlink " + (dir / "d") + ": Is a directory");

        auto r = co_await fs::rmdir(dir / "d");
        REQUIRE_FALSE(r);
        CHECK(r.error() == std::errc::directory_not_empty);
        CHECK(r.describe() == "rmdir " + (dir / "d") + ": Directory not empty");
        auto rf = co_await fs::rmdir(dir / "d/f");
        CHECK(rf.describe() == "rmdir " + (dir / "d/f") + ": Not a directory");

        auto mv = co_await fs::rename(missing, dir / "new");
        REQUIRE_FALSE(mv);
        CHECK(mv.describe() ==
              "rename " + missing + " -> " + (dir / "new") + ": No such file or directory");

        auto l = co_await fs::list_dir(missing);
        REQUIRE_FALSE(l);
        CHECK(l.error() == std::errc::no_such_file_or_directory);
        CHECK(l.describe() == "list " + missing + ": No such file or directory");
        auto lf = co_await fs::list_dir(dir / "d/f");
        CHECK(lf.describe() == "list " + (dir / "d/f") + ": Not a directory");

        auto s = co_await fs::stat(missing);
        REQUIRE_FALSE(s);
        CHECK(s.describe() == "stat " + missing + ": No such file or directory");
        auto ls = co_await fs::lstat(missing);
        CHECK(ls.describe() == "stat " + missing + ": No such file or directory");

        auto od = co_await fs::open_dir(missing);
        CHECK(od.describe() == "open " + missing + ": No such file or directory");

        auto cd = co_await fs::create_directories(dir / "d/f/g/h");
        REQUIRE_FALSE(cd);
        CHECK(cd.describe() == "mkdir " + (dir / "d/f/g/h") + ": Not a directory");

        // A directory we may not write into (root ignores permissions: skip then).
        if (::geteuid() != 0) {
            REQUIRE(::chmod((dir / "d").c_str(), 0500) == 0);
            auto denied = co_await fs::unlink(dir / "d/f");
            CHECK(denied.describe() == "unlink " + (dir / "d/f") + ": Permission denied");
            REQUIRE(::chmod((dir / "d").c_str(), 0700) == 0);
        }
    });
}

}  // namespace fs_dir_test
