// echo_server as a process, on the backend of this test run (CORIO_BACKEND),
// with 1 and 2 loops: driven by echo_bench and by a client written with plain
// blocking sockets; errors=0 and exit status 0 after SIGTERM.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <corio/runtime/backend.hpp>
#include <corio/runtime/loop.hpp>

namespace examples_echo_test {

namespace {

std::filesystem::path examples_dir() {
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return {};
    return self.parent_path().parent_path() / "examples";
}

std::string backend_name() {
    auto b = corio::backend_from_env();
    return b ? std::string(corio::to_string(*b)) : "auto";
}

/// A child process with its stdout in a pipe.
struct Proc {
    pid_t pid = -1;
    FILE* out = nullptr;

    Proc(const std::vector<std::string>& argv) {
        int p[2];
        REQUIRE(::pipe(p) == 0);
        pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::dup2(p[1], 1);
            ::close(p[0]);
            ::close(p[1]);
            std::vector<char*> args;
            for (auto& a : argv)
                args.push_back(const_cast<char*>(a.c_str()));
            args.push_back(nullptr);
            ::execv(args[0], args.data());
            ::_exit(127);
        }
        ::close(p[1]);
        out = ::fdopen(p[0], "r");
    }
    std::string line() {
        char buf[512];
        if (!std::fgets(buf, sizeof buf, out)) return {};
        std::string s(buf);
        if (!s.empty() && s.back() == '\n') s.pop_back();
        return s;
    }
    /// Waits up to `limit` for the exit status; kills the child after that.
    int wait(std::chrono::milliseconds limit) {
        auto end = std::chrono::steady_clock::now() + limit;
        int status = 0;
        while (std::chrono::steady_clock::now() < end) {
            pid_t r = ::waitpid(pid, &status, WNOHANG);
            if (r == pid) {
                pid = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        pid = -1;
        return -1;
    }
    ~Proc() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
        if (out) std::fclose(out);
    }
};

int port_of(const std::string& ready) {
    auto colon = ready.find(':');
    if (ready.rfind("listening ", 0) != 0 || colon == std::string::npos) return -1;
    return std::atoi(ready.c_str() + colon + 1);
}

// A client with plain blocking sockets: sends messages of several sizes and
// checks each echo byte for byte.
// A blocking client. It retries a call that fails with EINTR: this process
// runs io_uring loops too, and the kernel's teardown of a closed ring
// interrupts the task's blocking calls (task work, TIF_NOTIFY_SIGNAL), which a
// socket with SO_RCVTIMEO reports as EINTR instead of restarting the call.
bool blocking_client(int port, int messages) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    for (int i = 0; ok && i < messages; ++i) {
        std::size_t n = 1 + (std::size_t(i) * 7919) % 20000;
        std::string msg(n, '\0');
        for (std::size_t k = 0; k < n; ++k)
            msg[k] = char('a' + (k + std::size_t(i)) % 26);
        std::size_t sent = 0;
        while (ok && sent < n) {
            ssize_t w = ::send(fd, msg.data() + sent, n - sent, MSG_NOSIGNAL);
            if (w > 0) {
                sent += std::size_t(w);
            } else if (!(w < 0 && errno == EINTR)) {
                ok = false;
            }
        }
        std::string got;
        while (ok && got.size() < n) {
            char buf[8192];
            ssize_t r = ::recv(fd, buf, sizeof buf, 0);
            if (r > 0) {
                got.append(buf, std::size_t(r));
            } else if (!(r < 0 && errno == EINTR)) {
                ok = false;
            }
        }
        ok = ok && got == msg;
    }
    ::close(fd);
    return ok;
}

}  // namespace

TEST_CASE("echo_server serves echo_bench and a blocking client, and exits 0 on SIGTERM",
          "[examples][echo]") {
    auto dir = examples_dir();
    if (!std::filesystem::exists(dir / "echo_server") ||
        !std::filesystem::exists(dir / "echo_bench")) {
        WARN("examples not built: skipped");
        return;
    }
    for (const char* loops : {"1", "2"}) {
        INFO("backend " << backend_name() << ", loops " << loops);
        Proc server({(dir / "echo_server").string(), "--port", "0", "--backend", backend_name(),
                     "--loops", loops});
        std::string ready = server.line();
        int port = port_of(ready);
        REQUIRE(port > 0);
        CHECK(ready.find(std::string("loops=") + loops) != std::string::npos);
        if (backend_name() != "auto") {
            CHECK(ready.find("backend=" + backend_name()) != std::string::npos);
        }

        for (const char* pipeline : {"1", "4"}) {
            Proc bench({(dir / "echo_bench").string(), "--port", std::to_string(port), "--conns",
                        "20", "--size", "512", "--duration", "0.5", "--pipeline", pipeline,
                        "--backend", backend_name()});
            std::string result = bench.line();
            INFO("echo_bench: " << result);
            CHECK(result.find("errors=0") != std::string::npos);
            CHECK(result.find("msgs_per_sec=0 ") == std::string::npos);
            CHECK(bench.wait(std::chrono::seconds(20)) == 0);
        }
        // Blocking clients, several at once (spread over the loops).
        std::vector<std::thread> clients;
        std::vector<char> ok(4, 0);
        for (int c = 0; c < 4; ++c) {
            clients.emplace_back(
                [&ok, c, port] { ok[std::size_t(c)] = blocking_client(port, 50); });
        }
        for (auto& t : clients)
            t.join();
        for (char v : ok)
            CHECK(v);

        REQUIRE(::kill(server.pid, SIGTERM) == 0);
        CHECK(server.wait(std::chrono::seconds(10)) == 0);
    }
}

TEST_CASE("echo_bench exits non-zero when nothing connects", "[examples][echo]") {
    auto dir = examples_dir();
    if (!std::filesystem::exists(dir / "echo_bench")) {
        WARN("examples not built: skipped");
        return;
    }
    // A port that was free a moment ago: nothing listens there.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    int port = ntohs(a.sin_port);
    ::close(fd);
    Proc bench({(dir / "echo_bench").string(), "--port", std::to_string(port), "--conns", "3",
                "--duration", "0.2", "--backend", backend_name()});
    CHECK(bench.line().find("errors=3") != std::string::npos);
    CHECK(bench.wait(std::chrono::seconds(20)) != 0);
}

TEST_CASE("echo_server's comparison flags turn multishot receive and registered descriptors off",
          "[examples][echo]") {
    auto dir = examples_dir();
    if (!std::filesystem::exists(dir / "echo_server")) {
        WARN("examples not built: skipped");
        return;
    }
    const bool uring = backend_name() == "io_uring";
    const std::vector<std::vector<std::string>> variants = {
        {}, {"--no-multishot"}, {"--no-fixed-files"}, {"--no-multishot", "--no-fixed-files"}};
    for (const auto& flags : variants) {
        const bool multishot =
            std::find(flags.begin(), flags.end(), "--no-multishot") == flags.end();
        const bool fixed = std::find(flags.begin(), flags.end(), "--no-fixed-files") == flags.end();
        std::vector<std::string> argv = {(dir / "echo_server").string(), "--port", "0", "--backend",
                                         backend_name()};
        argv.insert(argv.end(), flags.begin(), flags.end());
        Proc server(argv);
        std::string ready = server.line();
        INFO("backend " << backend_name() << ", ready line: " << ready);
        int port = port_of(ready);
        REQUIRE(port > 0);
        if (uring) {
            CHECK(ready.find(multishot ? "recv=multishot" : "recv=single") != std::string::npos);
            // The table a loop of this process gets (0 where the kernel has none), or none.
            unsigned table = 0;
            if (fixed) {
                corio::LoopOptions lo;
                lo.backend = corio::BackendChoice::io_uring;
                corio::Loop probe(lo);
                table = probe.report().caps.fixed_files;
            }
            const auto at = ready.find("fixed_files=");
            REQUIRE(at != std::string::npos);
            CHECK(std::strtoul(ready.c_str() + at + 12, nullptr, 10) == table);
        } else if (backend_name() == "epoll") {
            CHECK(ready.find("recv=single") != std::string::npos);
            CHECK(ready.find("fixed_files=0") != std::string::npos);
        }
        CHECK(blocking_client(port, 30));
        REQUIRE(::kill(server.pid, SIGTERM) == 0);
        CHECK(server.wait(std::chrono::seconds(10)) == 0);
    }
}

}  // namespace examples_echo_test
