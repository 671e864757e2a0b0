// write_file_atomic on both backends: the target holds the old content or
// the new, never a mix, even when the writer dies half way (a forked child
// killed between write and rename, or at a random moment), and readers
// running next to writers only ever see whole versions.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <corio/fs/dir.hpp>
#include <corio/fs/file.hpp>

#include "fs_support.hpp"

namespace fs_atomic_test {

using namespace corio;
using corio::test::TempDir;
using namespace std::chrono_literals;

namespace {

// Distinct versions of a file: different sizes and bytes, so that any mix
// of two shows.
std::string version(int v, std::size_t size) {
    std::string s(size, '\0');
    std::uint64_t x = 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(v + 1);
    for (auto& c : s) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c = static_cast<char>(x);
    }
    return s;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> names_in(const std::string& dir) {
    std::vector<std::string> v;
    for (auto& e : std::filesystem::directory_iterator(dir))
        v.push_back(e.path().filename());
    std::sort(v.begin(), v.end());
    return v;
}

// Runs write_file_atomic in a forked child on its own loop. Returns the wait
// status. The child never returns into Catch.
int child_write(const std::string& path, const std::string& data, bool die_before_rename) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (die_before_rename) {
            fs::detail::atomic_write_hook = [](const std::string&) { ::raise(SIGKILL); };
        }
        try {
            Loop loop(test::options());
            auto r = loop.block_on(fs::write_file_atomic(path, data));
            if (!r) std::fprintf(stderr, "child_write: %s\n", r.describe().c_str());
            ::_exit(r ? 0 : 1);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "child_write: %s\n", e.what());
            ::_exit(2);
        }
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return status;
}

}  // namespace

TEST_CASE("write_file_atomic creates and replaces, keeping the mode", "[fs][atomic]") {
    test::run([](Loop&) -> Task<void> {
        TempDir dir;
        const std::string target = dir / "config";
        REQUIRE_OK(fs::write_file_atomic(target, std::string_view("one"), 0640));
        auto s = co_await fs::read_file(target);
        REQUIRE(s);
        CHECK(*s == "one");
        REQUIRE(::chmod(target.c_str(), 0604) == 0);
        REQUIRE_OK(fs::write_file_atomic(target, std::string_view("two, longer")));
        s = co_await fs::read_file(target);
        REQUIRE(s);
        CHECK(*s == "two, longer");
        auto st = co_await fs::stat(target);
        REQUIRE(st);
        CHECK(st->permissions() == 0604);
        // Shrinking works, and no temporary is left behind.
        REQUIRE_OK(fs::write_file_atomic(target, std::string_view("3")));
        s = co_await fs::read_file(target);
        CHECK(*s == "3");
        CHECK((names_in(dir.path) == std::vector<std::string>{"config"}));
        // A relative path (in the working directory's terms) works too.
        REQUIRE_OK(fs::write_file_atomic(std::filesystem::relative(target), std::string_view("4")));
        s = co_await fs::read_file(target);
        CHECK(*s == "4");
    });
}

TEST_CASE("a writer killed between write and rename leaves the old content", "[fs][atomic]") {
    TempDir dir;
    const std::string target = dir / "data.bin";
    const std::string old_content = version(1, 300'000);
    const std::string new_content = version(2, 500'000);
    REQUIRE(child_write(target, old_content, false) == 0);
    REQUIRE(slurp(target) == old_content);

    int status = child_write(target, new_content, true);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    // The target still has the whole old content...
    CHECK(slurp(target) == old_content);
    // ...and the new content sits complete in a hidden temporary, never under
    // the target's name.
    auto names = names_in(dir.path);
    REQUIRE(names.size() == 2);
    CHECK(names[1] == "data.bin");
    CHECK(names[0].rfind(".data.bin.tmp-", 0) == 0);
    CHECK(slurp(dir / names[0]) == new_content);

    // The next writer succeeds regardless of the stale temporary.
    REQUIRE(child_write(target, new_content, false) == 0);
    CHECK(slurp(target) == new_content);
}

// A forked child inherited its parent's name generator, so every child tried the same
// temporary names in the same order: after nine writers killed before their rename, the
// tenth found all of its tries taken and failed with EEXIST (a clean-clone CI run hit this
// in the test below, where some of the killed writers die before the rename).
TEST_CASE("writers in forked children never reuse a killed writer's temporary name",
          "[fs][atomic]") {
    TempDir dir;
    const std::string target = dir / "data.bin";
    // The parent's generator is in use before the forks, as after any earlier write.
    test::run([&](Loop&) -> Task<void> {
        REQUIRE_OK(fs::write_file_atomic(target, std::string_view("parent")));
    });
    for (int i = 0; i < 12; ++i) {
        const int status = child_write(target, version(10 + i, 1000), true);
        REQUIRE(WIFSIGNALED(status));
        REQUIRE(WTERMSIG(status) == SIGKILL);
    }
    CHECK(names_in(dir.path).size() == 13);  // 12 temporaries, each under its own name
    CHECK(slurp(target) == "parent");
    REQUIRE(child_write(target, version(30, 1000), false) == 0);
    CHECK(slurp(target) == version(30, 1000));
}

TEST_CASE("a writer killed at random moments leaves old or new, never a mix", "[fs][atomic]") {
    TempDir dir;
    const std::string target = dir / "data.bin";
    const std::string a = version(3, 2'000'000);
    const std::string b = version(4, 3'000'000);
    REQUIRE(child_write(target, a, false) == 0);
    std::mt19937 rng(42);
    int saw_new = 0, saw_old = 0;
    for (int i = 0; i < 12; ++i) {
        const std::string& cur = (i % 2 == 0) ? a : b;
        const std::string& next = (i % 2 == 0) ? b : a;
        REQUIRE(slurp(target) == cur);
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            try {
                Loop loop(test::options());
                auto r = loop.block_on(fs::write_file_atomic(target, next));
                ::_exit(r ? 0 : 1);
            } catch (...) {
                ::_exit(2);
            }
        }
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 12'000));
        ::kill(pid, SIGKILL);
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        std::string now = slurp(target);
        bool is_old = now == cur, is_new = now == next;
        CHECK((is_old || is_new));
        if (is_new) ++saw_new;
        if (is_old) {
            ++saw_old;
            // Bring the file to the expected next state for the following round.
            REQUIRE(child_write(target, next, false) == 0);
        }
        // Whatever happened, the target's name holds a whole version.
        for (auto& n : names_in(dir.path)) {
            if (n != "data.bin") CHECK(n.rfind(".data.bin.tmp-", 0) == 0);
        }
    }
    WARN("killed before the rename " << saw_old << " times, after it " << saw_new);
    CHECK(saw_old + saw_new == 12);
}

namespace {
Task<void> atomic_writer(std::string path, int id, int rounds) {
    for (int i = 0; i < rounds; ++i) {
        std::string v = version(id * 100 + i, 20'000 + static_cast<std::size_t>(id) * 1000);
        auto r = co_await fs::write_file_atomic(path, v);
        INFO(r.describe());
        REQUIRE(r);
    }
}
Task<void> checking_reader(std::string path, const std::vector<std::string>* versions, int rounds) {
    for (int i = 0; i < rounds; ++i) {
        auto s = co_await fs::read_file(path);
        REQUIRE(s);
        bool known = std::find(versions->begin(), versions->end(), *s) != versions->end();
        REQUIRE(known);
    }
}
}  // namespace

TEST_CASE("readers next to atomic writers see only whole versions", "[fs][atomic]") {
    test::run(
        [](Loop&) -> Task<void> {
            TempDir dir;
            const std::string target = dir / "shared";
            std::vector<std::string> versions;
            versions.push_back(version(0, 1000));
            for (int id = 1; id <= 4; ++id) {
                for (int i = 0; i < 10; ++i) {
                    versions.push_back(
                        version(id * 100 + i, 20'000 + static_cast<std::size_t>(id) * 1000));
                }
            }
            REQUIRE_OK(fs::write_file(target, std::string_view(versions[0])));
            std::vector<Task<void>> tasks;
            for (int id = 1; id <= 4; ++id)
                tasks.push_back(atomic_writer(target, id, 10));
            for (int r = 0; r < 4; ++r)
                tasks.push_back(checking_reader(target, &versions, 40));
            co_await when_all(std::move(tasks));
            CHECK((names_in(dir.path) == std::vector<std::string>{"shared"}));
        },
        60s);
}

TEST_CASE("write_file_atomic errors name the target, then the step and the temporary",
          "[fs][atomic]") {
    test::run([](Loop&) -> Task<void> {
        TempDir dir;
        // The directory does not exist: creating the temporary fails.
        const std::string target = dir / "missing/config";
        auto r = co_await fs::write_file_atomic(target, std::string_view("x"));
        REQUIRE(!r);
        CHECK(r.error() == std::errc::no_such_file_or_directory);
        const std::string text = r.describe();
        INFO(text);
        CHECK(text.starts_with("write_file_atomic " + target + " (open "));
        CHECK(text.find(".config.tmp-") != std::string::npos);
        // Renaming onto a non-empty directory fails after the temporary was
        // written: the target is named, and the temporary is removed.
        const std::string busy = dir / "busy";
        REQUIRE(::mkdir(busy.c_str(), 0755) == 0);
        REQUIRE(::mkdir((busy + "/inside").c_str(), 0755) == 0);
        auto r2 = co_await fs::write_file_atomic(busy, std::string_view("x"));
        REQUIRE(!r2);
        INFO(r2.describe());
        CHECK(r2.describe().starts_with("write_file_atomic " + busy + " (rename "));
        auto names = co_await fs::list_dir(dir.path);
        REQUIRE(names);
        for (auto& n : *names)
            CHECK(n.name.find(".tmp-") == std::string::npos);
    });
}

}  // namespace fs_atomic_test
