// examples/sim_crawl: the crawler's crawl against http_server's handler on a
// simulated network with faults from the seed. Runs the binary as a user
// would: its one line, its exit status, its replay of a seed, its command
// contract, and (under strace) that a simulated run makes no network,
// io_uring or epoll system call.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "site/harness.hpp"
#include "support.hpp"

namespace examples_sim_crawl_test {

namespace {

using namespace corio::test::site;

struct Run {
    int status = -1;
    std::string out;
    std::string err;
};

std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) {
        if (c == '\'') {
            q += "'\\''";
        } else {
            q += c;
        }
    }
    return q + "'";
}

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream o;
    o << f.rdbuf();
    return o.str();
}

/// Runs `prefix BIN args` through sh, stdout and stderr kept apart.
Run run_cmd(const std::string& prefix, const std::string& bin,
            const std::vector<std::string>& args) {
    TempDir tmp("corio-sim-crawl");
    std::string cmd = prefix + quote(bin);
    for (const auto& a : args)
        cmd += " " + quote(a);
    cmd += " 2>" + quote(tmp / "err");
    Child c("/bin/sh", {"-c", cmd}, 120);
    Run r;
    r.out = c.read_all();
    r.status = c.wait(std::chrono::seconds(120));
    r.err = slurp(tmp / "err");
    return r;
}

/// The `hash=` word of a sim_crawl line.
std::string hash_of(const std::string& line) {
    auto at = line.find("hash=");
    return at == std::string::npos ? std::string() : line.substr(at + 5, 16);
}

std::uint64_t word(const std::string& line, const std::string& key) {
    auto at = line.find(key + "=");
    return at == std::string::npos ? 0
                                   : std::strtoull(line.c_str() + at + key.size() + 1, nullptr, 10);
}

const std::regex line_shape(
    "pages=[0-9]+ unique=[0-9]+ faults=[0-9]+ events=[0-9]+ sim_seconds=[0-9]+\\.[0-9]{3} "
    "hash=[0-9a-f]{16}\n");

}  // namespace

TEST_CASE("sim_crawl: a seed crawls every page once and replays byte for byte",
          "[examples][sim_crawl]") {
    const std::string bin = example_binary("sim_crawl", "sim_crawl");
    if (bin.empty()) {
        WARN("examples/sim_crawl is not built: skipped");
        return;
    }
    Run a = run_cmd("", bin, {"--seed", "7"});
    INFO("stdout: " << a.out << "stderr: " << a.err);
    REQUIRE(a.status == 0);
    CHECK(std::regex_match(a.out, line_shape));
    CHECK(a.err.find("sim_crawl:") == std::string::npos);  // (a sanitizer may add its notes)
    // 300 pages, 8 directory indexes at most, the home page, redirects.
    CHECK(word(a.out, "unique") >= 301);
    CHECK(word(a.out, "pages") == word(a.out, "unique"));  // one round: each page once
    CHECK(word(a.out, "faults") > 0);
    CHECK(word(a.out, "sim_seconds") >= 30);  // the partition lasted 30 s
    Run b = run_cmd("", bin, {"--seed", "7"});
    CHECK(b.status == 0);
    CHECK(b.out == a.out);
}

TEST_CASE("sim_crawl: different seeds give different runs, each one passing",
          "[examples][sim_crawl]") {
    const std::string bin = example_binary("sim_crawl", "sim_crawl");
    if (bin.empty()) {
        WARN("examples/sim_crawl is not built: skipped");
        return;
    }
    std::set<std::string> hashes;
    for (const char* seed : {"1", "2", "3"}) {
        Run r = run_cmd("", bin, {"--seed", seed, "--pages", "120"});
        INFO("seed " << seed << ": " << r.out << r.err);
        CHECK(r.status == 0);
        CHECK(std::regex_match(r.out, line_shape));
        hashes.insert(hash_of(r.out));
    }
    CHECK(hashes.size() == 3);
}

TEST_CASE("sim_crawl: 100 runs of one seed print one line", "[examples][sim_crawl]") {
    const std::string bin = example_binary("sim_crawl", "sim_crawl");
    if (bin.empty()) {
        WARN("examples/sim_crawl is not built: skipped");
        return;
    }
    std::set<std::string> lines;
    int failed = 0;
    const int runs = corio::test::sanitized ? 20 : 100;  // a run takes 25x longer under ASan
    for (int i = 0; i < runs; ++i) {
        Run r = run_cmd("", bin, {"--seed", "11", "--pages", "30"});
        if (r.status != 0) ++failed;
        lines.insert(r.out);
    }
    CHECK(failed == 0);
    CHECK(lines.size() == 1);
}

TEST_CASE("sim_crawl: --help exits 0, a bad flag exits 2 with one line", "[examples][sim_crawl]") {
    const std::string bin = example_binary("sim_crawl", "sim_crawl");
    if (bin.empty()) {
        WARN("examples/sim_crawl is not built: skipped");
        return;
    }
    Run help = run_cmd("", bin, {"--help"});
    CHECK(help.status == 0);
    CHECK(help.out.find("usage: sim_crawl") == 0);
    for (std::vector<std::string> bad : {std::vector<std::string>{"--no-such-flag"},
                                         {"--pages", "0"},
                                         {"--seed", "x"},
                                         {"--backend", "epoll"},
                                         {"stray"}}) {
        Run r = run_cmd("", bin, bad);
        INFO(bad[0] << ": " << r.err);
        CHECK(r.status == 2);
        CHECK(r.out.empty());
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK(r.err.find("sim_crawl: ") == 0);
    }
}

TEST_CASE("sim_crawl: a simulated run makes no network, io_uring or epoll system call",
          "[examples][sim_crawl]") {
    const std::string bin = example_binary("sim_crawl", "sim_crawl");
    if (bin.empty()) {
        WARN("examples/sim_crawl is not built: skipped");
        return;
    }
    if (std::system("strace -V >/dev/null 2>&1") != 0) {
        WARN("strace is not installed (scripts/test.sh installs it): skipped");
        return;
    }
    TempDir tmp("corio-sim-strace");
    const std::string trace = tmp / "trace";
    // LeakSanitizer cannot run under ptrace: off for this run in a sanitizer build.
    Run r = run_cmd("ASAN_OPTIONS=detect_leaks=0 strace -f -qq -o " + quote(trace) +
                        " -e trace=network,io_uring_setup,io_uring_enter,epoll_create1,"
                        "epoll_ctl,epoll_wait,epoll_pwait ",
                    bin, {"--seed", "5", "--pages", "100"});
    if (r.status != 0 && r.out.empty()) {
        // strace itself could not start (no ptrace in this container).
        WARN("strace cannot trace here: " << r.err);
        return;
    }
    INFO(r.out << r.err);
    CHECK(r.status == 0);
    CHECK(std::regex_match(r.out, line_shape));
    std::istringstream calls(slurp(trace));
    std::vector<std::string> seen;
    for (std::string l; std::getline(calls, l);) {
        // Only exits are allowed: "PID +++ exited with 0 +++".
        if (l.find("+++ exited") == std::string::npos) seen.push_back(l);
    }
    INFO("first calls: " << (seen.empty() ? "" : seen.front()));
    CHECK(seen.empty());
}

}  // namespace examples_sim_crawl_test
