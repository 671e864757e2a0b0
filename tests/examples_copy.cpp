// examples/copy on the backend of this run (CORIO_BACKEND): a 512 MiB file of
// pseudo-random bytes copies byte for byte with its mode; odd sizes and small
// blocks; the command-line contract (bad flag: exit 2, --help: exit 0).
//
// The binary is found next to the test's build directory:
// /proc/self/exe -> BUILD/tests/examples_copy, so BUILD/examples/copy. When it
// was not built (-Dexamples=false), the tests WARN and return.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "support.hpp"

namespace examples_copy_test {

namespace {

std::string copy_binary() {
    if (const char* env = std::getenv("COPY_BIN")) return env;
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return {};
    auto bin = self.parent_path().parent_path() / "examples" / "copy";
    return std::filesystem::exists(bin, ec) ? bin.string() : std::string();
}

std::string backend_flag() {
    const char* be = std::getenv("CORIO_BACKEND");
    return be != nullptr ? be : "auto";
}

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/corio-copy-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string operator/(const std::string& name) const { return path + "/" + name; }
};

struct Run {
    int status = -1;  // exit status, or -1 if it did not exit normally
    std::string out;
    std::string err;
};

// Runs the binary with `args`, capturing stdout and stderr.
Run run(const std::string& bin, const std::vector<std::string>& args) {
    int out[2], err[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(out[1], 1);
        ::dup2(err[1], 2);
        std::vector<char*> argv;
        argv.push_back(const_cast<char*>(bin.c_str()));
        for (auto& a : args)
            argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(bin.c_str(), argv.data());
        ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    Run r;
    // Outputs are a line or two: read stdout then stderr without deadlock risk.
    char buf[4096];
    for (int fd : {out[0], err[0]}) {
        std::string& dst = fd == out[0] ? r.out : r.err;
        ssize_t n;
        while ((n = ::read(fd, buf, sizeof buf)) > 0)
            dst.append(buf, static_cast<std::size_t>(n));
        ::close(fd);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

// Writes `size` pseudo-random bytes (xorshift64*, 4 MiB at a time).
void make_file(const std::string& path, std::uint64_t size, mode_t mode, std::uint64_t seed) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    REQUIRE(fd >= 0);
    REQUIRE(::fchmod(fd, mode) == 0);
    std::vector<std::uint64_t> chunk(4 << 20 >> 3);
    std::uint64_t x = seed * 0x9E3779B97F4A7C15ull | 1;
    for (std::uint64_t off = 0; off < size;) {
        for (auto& w : chunk) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            w = x * 0x2545F4914F6CDD1Dull;
        }
        std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size() * 8, size - off));
        const char* p = reinterpret_cast<const char*>(chunk.data());
        for (std::size_t done = 0; done < n;) {
            ssize_t w = ::pwrite(fd, p + done, n - done, static_cast<off_t>(off + done));
            REQUIRE(w > 0);
            done += static_cast<std::size_t>(w);
        }
        off += n;
    }
    REQUIRE(::close(fd) == 0);
}

// Byte-for-byte comparison (mmap + memcmp, 64 MiB windows); false on any difference.
bool same_content(const std::string& a, const std::string& b) {
    int fa = ::open(a.c_str(), O_RDONLY | O_CLOEXEC), fb = ::open(b.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fa >= 0);
    REQUIRE(fb >= 0);
    struct stat sa {
    }, sb{};
    REQUIRE(::fstat(fa, &sa) == 0);
    REQUIRE(::fstat(fb, &sb) == 0);
    bool same = sa.st_size == sb.st_size;
    constexpr std::size_t window = 64 << 20;
    for (off_t off = 0; same && off < sa.st_size; off += window) {
        std::size_t n = static_cast<std::size_t>(std::min<off_t>(window, sa.st_size - off));
        void* pa = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE, fa, off);
        void* pb = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE, fb, off);
        REQUIRE(pa != MAP_FAILED);
        REQUIRE(pb != MAP_FAILED);
        same = std::memcmp(pa, pb, n) == 0;
        ::munmap(pa, n);
        ::munmap(pb, n);
    }
    ::close(fa);
    ::close(fb);
    return same;
}

unsigned mode_of(const std::string& p) {
    struct stat s {};
    REQUIRE(::stat(p.c_str(), &s) == 0);
    return s.st_mode & 07777;
}

}  // namespace

TEST_CASE("copy: a 512 MiB file is byte-identical and keeps its mode", "[examples][copy]") {
    const std::string bin = copy_binary();
    if (bin.empty()) {
        WARN("examples/copy is not built: skipped");
        return;
    }
    TempDir dir;
    const std::string src = dir / "src.bin", dst = dir / "dst.bin";
    make_file(src, 512ull << 20, 0640, 1);
    auto r = run(bin, {src, dst, "--backend", backend_flag(), "--depth", "8", "--block", "128k"});
    INFO("stdout: " << r.out << "stderr: " << r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.rfind("copied 536870912 bytes in ", 0) == 0);
    if (backend_flag() != "auto")
        CHECK(r.out.find("backend=" + backend_flag()) != std::string::npos);
    CHECK(r.err.empty());
    CHECK(same_content(src, dst));
    CHECK(mode_of(dst) == 0640);
    // Overwriting an existing, longer destination truncates it.
    make_file(src, (1ull << 20) + 17, 0604, 2);
    auto again = run(bin, {src, dst, "--backend", backend_flag()});
    INFO("stderr: " << again.err);
    REQUIRE(again.status == 0);
    CHECK(same_content(src, dst));
    CHECK(mode_of(dst) == 0604);
}

TEST_CASE("copy: odd sizes, small blocks, empty files", "[examples][copy]") {
    const std::string bin = copy_binary();
    if (bin.empty()) {
        WARN("examples/copy is not built: skipped");
        return;
    }
    TempDir dir;
    const std::uint64_t sizes[] = {0, 1, 4095, 4096, 4097, 3 * 4096 + 5, 1 << 20};
    for (auto size : sizes) {
        for (const char* depth : {"1", "3", "64"}) {
            const std::string src = dir / "s", dst = dir / "d";
            make_file(src, size, 0755, size + 7);
            auto r = run(
                bin, {src, dst, "--backend", backend_flag(), "--depth", depth, "--block", "4096"});
            INFO("size " << size << " depth " << depth << " stderr: " << r.err);
            REQUIRE(r.status == 0);
            CHECK(r.out.rfind("copied " + std::to_string(size) + " bytes", 0) == 0);
            CHECK(same_content(src, dst));
            CHECK(mode_of(dst) == 0755);
        }
    }
}

TEST_CASE("copy: command line and errors", "[examples][copy]") {
    const std::string bin = copy_binary();
    if (bin.empty()) {
        WARN("examples/copy is not built: skipped");
        return;
    }
    TempDir dir;
    auto help = run(bin, {"--help"});
    CHECK(help.status == 0);
    CHECK(help.out.rfind("usage: copy SRC DST", 0) == 0);

    for (std::vector<std::string> bad : {std::vector<std::string>{"--bogus"},
                                         {"a", "b", "--depth", "0"},
                                         {"a", "b", "--depth", "x"},
                                         {"a", "b", "--block", "12"},
                                         {"a", "b", "--backend", "kqueue"},
                                         {"a"},
                                         {"a", "b", "c"}}) {
        auto r = run(bin, bad);
        INFO("args " << bad[0] << " ... stderr: " << r.err);
        CHECK(r.status == 2);
        CHECK(r.out.empty());
        // One line on stderr.
        CHECK(!r.err.empty());
        CHECK(r.err.find('\n') == r.err.size() - 1);
    }

    const std::string missing = dir / "missing";
    auto nf = run(bin, {missing, dir / "out", "--backend", backend_flag()});
    CHECK(nf.status == 1);
    CHECK(nf.err == "copy: open " + missing + ": No such file or directory\n");
    make_file(dir / "src", 100, 0600, 3);
    auto nodir = run(bin, {dir / "src", dir / "no/such/out", "--backend", backend_flag()});
    CHECK(nodir.status == 1);
    CHECK(nodir.err == "copy: open " + (dir / "no/such/out") + ": No such file or directory\n");
    auto self = run(bin, {dir / "src", dir / "src", "--backend", backend_flag()});
    CHECK(self.status == 1);
    CHECK(self.err.find("are the same file") != std::string::npos);

    // examples/cli.hpp, the option handling every example shares: --help lists each option
    // once, with the default taken from the variable.
    CHECK(help.out.find("--depth N") != std::string::npos);
    CHECK(help.out.find("(default 8)") != std::string::npos);
    CHECK(help.out.find("--help") != std::string::npos);

    make_file(dir / "--src", 5000, 0644, 9);
    // `--NAME=VALUE` and `--NAME VALUE` alike; after `--`, "--src" is a path, not an option.
    auto ok =
        run(bin, {"--depth=2", "--backend", backend_flag(), "--", dir / "--src", dir / "dst"});
    INFO("stderr: " << ok.err);
    CHECK(ok.status == 0);
    CHECK(same_content(dir / "--src", dir / "dst"));
    // Without `--`, the same word is an unknown option.
    auto unknown = run(bin, {"--src", dir / "dst"});
    CHECK(unknown.status == 2);
    CHECK(unknown.err == "copy: unknown option '--src' (try --help)\n");
    // A missing positional is named; a value is checked against its range.
    auto no_dst = run(bin, {dir / "--src"});
    CHECK(no_dst.status == 2);
    CHECK(no_dst.err == "copy: DST is required (try --help)\n");
    auto range = run(bin, {"a", "b", "--depth=2000"});
    CHECK(range.status == 2);
    CHECK(range.err == "copy: --depth wants a number from 1 to 1024, not '2000' (try --help)\n");
    auto novalue = run(bin, {"a", "b", "--depth"});
    CHECK(novalue.status == 2);
    CHECK(novalue.err == "copy: --depth needs a value (try --help)\n");
}

}  // namespace examples_copy_test
