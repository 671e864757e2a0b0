// The fault suite (issue 10), part 4: slowloris against the real
// examples/http_server (run as a child process with short timeouts): many
// connections that send a header byte every 100 ms, and connections that
// send nothing at all, are cut off by the header and idle timeouts, while
// normal clients are served the whole time; then SIGTERM ends the server
// cleanly. When the example is not built the case warns and passes
// (tests/faults.cpp covers the same attack against a header timeout written
// in the test).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "faults_support.hpp"

namespace faults_http_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

std::string server_bin() {
    if (const char* env = std::getenv("HTTP_SERVER_BIN")) return env;
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return {};
    // BUILD/tests/faults_http -> BUILD/examples/http_server/http_server
    auto dir = self.parent_path().parent_path() / "examples" / "http_server";
    if (std::filesystem::is_regular_file(dir / "http_server"))
        return (dir / "http_server").string();
    return dir.string();
}

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/corio-faults-http-XXXXXX";
        if (::mkdtemp(tmpl) != nullptr) path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        if (!path.empty()) std::filesystem::remove_all(path, ec);
    }
};

// A server child process; killed if the test ends without stopping it.
struct ServerProc {
    pid_t pid = -1;
    int out = -1;
    std::uint16_t port = 0;
    std::string line;

    ServerProc() = default;
    ServerProc(const ServerProc&) = delete;
    ServerProc& operator=(const ServerProc&) = delete;
    ~ServerProc() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
        if (out >= 0) ::close(out);
    }

    // Starts `argv` and waits (up to 10 s) for its `listening HOST:PORT` line.
    bool start(std::vector<std::string> args) {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) return false;
        pid = ::fork();
        if (pid < 0) return false;
        if (pid == 0) {
            ::dup2(p[1], 1);
            std::vector<char*> argv;
            for (auto& a : args)
                argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        ::close(p[1]);
        out = p[0];
        const auto end = Clock::now() + 10s;
        while (line.find('\n') == std::string::npos && Clock::now() < end) {
            pollfd pfd{out, POLLIN, 0};
            if (::poll(&pfd, 1, 100) != 1) continue;
            char buf[256];
            ssize_t n = ::read(out, buf, sizeof buf);
            if (n <= 0) return false;
            line.append(buf, std::size_t(n));
        }
        auto colon = line.find(':');
        auto space = line.find(' ', colon);
        if (line.rfind("listening ", 0) != 0 || colon == std::string::npos) return false;
        port = std::uint16_t(std::stoi(line.substr(colon + 1, space - colon - 1)));
        return port != 0;
    }

    // SIGTERM, then the exit status (or -1 if it had to be killed after 5 s).
    int stop() {
        ::kill(pid, SIGTERM);
        const auto end = Clock::now() + 5s;
        int status = 0;
        while (Clock::now() < end) {
            if (::waitpid(pid, &status, WNOHANG) == pid) {
                pid = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            ::usleep(5000);
        }
        return -1;
    }
};

struct Figures {
    std::vector<Duration> slow;    // slow-header connections: time to cut-off
    std::vector<Duration> silent;  // connections that send nothing: time to cut-off
    std::vector<Duration> normal;  // normal requests during the attack: latency
};

// Connects and sends nothing; gives how long until the server closed it.
Task<Duration> silent_conn(net::Address addr) {
    const auto t0 = Clock::now();
    auto s = co_await net::TcpStream::connect(addr, 2s);
    if (!s) co_return Duration{};
    std::array<std::byte, 256> buf{};
    auto r = co_await s->recv(buf).timeout(3s);
    if (!r && r.error() == std::errc::timed_out) co_return Duration{};
    co_return Clock::now() - t0;
}

Task<void> attack(net::Address addr, Figures* f) {
    TaskGroup g;
    for (auto& d : f->slow) {
        g.spawn([](net::Address a, Duration* out) -> Task<void> {
            *out = co_await test::slowloris(a);
        }(addr, &d));
    }
    for (auto& d : f->silent) {
        g.spawn([](net::Address a, Duration* out) -> Task<void> { *out = co_await silent_conn(a); }(
                                                      addr, &d));
    }
    for (int i = 0; i < 10; ++i) {
        co_await sleep_for(60ms);
        f->normal.push_back(co_await test::http_get(addr, "/index.html", "hello, slowloris"));
    }
    co_await g.wait();
}

}  // namespace

TEST_CASE("slowloris against http_server: cut off by its timeouts, normal clients served",
          "[faults][slowloris][http_server]") {
    const std::string bin = server_bin();
    if (bin.empty() || !std::filesystem::is_regular_file(bin) || ::access(bin.c_str(), X_OK) != 0) {
        WARN("examples/http_server is not built (" << bin << "): skipped");
        return;
    }
    TempDir root;
    REQUIRE(!root.path.empty());
    {
        FILE* f = std::fopen((root.path + "/index.html").c_str(), "w");
        REQUIRE(f != nullptr);
        std::fputs("hello, slowloris\n", f);
        std::fclose(f);
    }
    const char* be = std::getenv("CORIO_BACKEND");
    ServerProc srv;
    REQUIRE(srv.start({bin, "--root", root.path, "--port", "0", "--backend",
                       be != nullptr ? be : "auto", "--header-timeout-ms", "400",
                       "--idle-timeout-ms", "400"}));
    INFO("server: " << srv.line);
    Figures f;
    f.slow.resize(100);
    f.silent.resize(50);
    const std::uint16_t port = srv.port;
    test::run([&](Loop&) { return attack(net::Address::loopback_v4(port), &f); }, 20s);
    CHECK(srv.stop() == 0);

    auto ms = [](Duration d) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    };
    Duration worst_slow{}, worst_silent{}, worst_normal{};
    int slow_never = 0, silent_never = 0;
    for (auto d : f.slow) {
        slow_never += d == Duration{} ? 1 : 0;
        worst_slow = std::max(worst_slow, d);
    }
    for (auto d : f.silent) {
        silent_never += d == Duration{} ? 1 : 0;
        worst_silent = std::max(worst_silent, d);
    }
    for (auto d : f.normal)
        worst_normal = std::max(worst_normal, d);
    INFO("slow heads cut off after at most " << ms(worst_slow) << " ms, silent ones after "
                                             << ms(worst_silent) << " ms; slowest normal request "
                                             << ms(worst_normal) << " ms");
    CHECK(slow_never == 0);
    CHECK(silent_never == 0);
    // The 400 ms timeouts, the server's reaper tick and a client poll, with
    // slack for a loaded machine.
    CHECK(worst_slow < 1500ms);
    CHECK(worst_silent < 1500ms);
    REQUIRE(f.normal.size() == 10);
    CHECK(worst_normal < 1s);  // Duration::max() would mean not served
    test::report("slowloris (http_server): ", f.slow.size(), " slow heads cut off after at most ",
                 ms(worst_slow), " ms, ", f.silent.size(), " silent connections after at most ",
                 ms(worst_silent), " ms (timeouts 400 ms); ", f.normal.size(),
                 " normal requests, slowest ", ms(worst_normal), " ms");
}

}  // namespace faults_http_test
