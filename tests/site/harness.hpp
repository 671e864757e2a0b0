#pragma once
// Helpers for the tests of examples/http_server and examples/crawler: finding
// the example binaries, temporary directories, child processes with a time
// limit, and plain blocking client sockets with timeouts (so that a test
// talks to a server the way any other client would, byte for byte).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <corio/http/codec.hpp>

namespace corio::test::site {

using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;

/// BUILD/examples/<dir>/<name> next to BUILD/tests/<this test>, or "" when
/// it was not built.
inline std::string example_binary(const std::string& dir, const std::string& name) {
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return {};
    auto bin = self.parent_path().parent_path() / "examples" / dir / name;
    return std::filesystem::exists(bin, ec) ? bin.string() : std::string();
}

/// The backend this run is for (meson sets CORIO_BACKEND).
inline std::string backend_name() {
    const char* be = std::getenv("CORIO_BACKEND");
    return be != nullptr && *be != '\0' ? be : "auto";
}

/// A directory under /tmp, removed with everything in it at the end.
struct TempDir {
    std::string path;
    explicit TempDir(const char* tag = "corio-site") {
        std::string tmpl = std::string("/tmp/") + tag + "-XXXXXX";
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string operator/(const std::string& rel) const { return path + "/" + rel; }
};

inline void write_file(const std::string& path, std::string_view data) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(data.data(), std::streamsize(data.size()));
    if (!f) throw std::runtime_error("cannot write " + path);
}

/// A child process whose stdout is a pipe; killed (SIGKILL) when destroyed
/// if it still runs. An alarm set before exec bounds its life.
class Child {
public:
    Child(const std::string& bin, const std::vector<std::string>& args, unsigned alarm_s = 120,
          bool quiet_stderr = false) {
        int out[2];
        if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork failed");
        if (pid_ == 0) {
            ::dup2(out[1], 1);
            if (quiet_stderr) {
                int dn = ::open("/dev/null", O_WRONLY);
                if (dn >= 0) ::dup2(dn, 2);
            }
            std::vector<char*> argv;
            argv.push_back(const_cast<char*>(bin.c_str()));
            for (auto& a : args)
                argv.push_back(const_cast<char*>(a.c_str()));
            argv.push_back(nullptr);
            ::alarm(alarm_s);
            ::execvp(bin.c_str(), argv.data());
            ::_exit(127);
        }
        ::close(out[1]);
        out_ = out[0];
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() {
        if (pid_ > 0 && !reaped_) {
            ::kill(pid_, SIGKILL);
            int st;
            ::waitpid(pid_, &st, 0);
        }
        if (out_ >= 0) ::close(out_);
    }

    pid_t pid() const noexcept { return pid_; }

    /// One line of stdout (without '\n'), waiting at most `limit`; nullopt on
    /// timeout or end of output.
    std::optional<std::string> read_line(Ms limit = 10s) {
        auto until = std::chrono::steady_clock::now() + limit;
        for (;;) {
            if (auto nl = buf_.find('\n'); nl != std::string::npos) {
                std::string line = buf_.substr(0, nl);
                buf_.erase(0, nl + 1);
                return line;
            }
            auto left = std::chrono::duration_cast<Ms>(until - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            pollfd p{out_, POLLIN, 0};
            const int ready = ::poll(&p, 1, int(left.count()));
            if (ready < 0 && errno == EINTR) continue;
            if (ready <= 0) return std::nullopt;
            char b[4096];
            ssize_t n = ::read(out_, b, sizeof b);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return std::nullopt;
            buf_.append(b, std::size_t(n));
        }
    }
    /// All remaining stdout until the child closes it (bounded by its alarm).
    std::string read_all() {
        std::string all = std::move(buf_);
        buf_.clear();
        char b[4096];
        ssize_t n;
        while ((n = ::read(out_, b, sizeof b)) > 0 || (n < 0 && errno == EINTR)) {
            if (n > 0) all.append(b, std::size_t(n));
        }
        return all;
    }

    /// Sends `sig` and waits up to `limit`: the exit status, or -1 if it did
    /// not exit normally (killed by a signal, or still running at the limit,
    /// in which case it is killed).
    int stop(int sig = SIGTERM, Ms limit = 5s) {
        if (sig != 0) ::kill(pid_, sig);
        return wait(limit);
    }
    int wait(Ms limit = 60s) {
        auto until = std::chrono::steady_clock::now() + limit;
        int st = 0;
        for (;;) {
            pid_t r = ::waitpid(pid_, &st, WNOHANG);
            if (r == pid_) break;
            if (std::chrono::steady_clock::now() >= until) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &st, 0);
                reaped_ = true;
                return -1;
            }
            std::this_thread::sleep_for(5ms);
        }
        reaped_ = true;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }

private:
    pid_t pid_ = -1;
    int out_ = -1;
    bool reaped_ = false;
    std::string buf_;
};

/// Parses "listening 127.0.0.1:PORT backend=B loops=N": the port, or 0.
inline int port_of_ready_line(const std::string& line) {
    if (line.rfind("listening 127.0.0.1:", 0) != 0) return 0;
    return std::atoi(line.c_str() + std::strlen("listening 127.0.0.1:"));
}

/// A blocking TCP client socket with receive/send timeouts. A call that fails
/// with EINTR is made again: a test process that runs io_uring loops gets its
/// blocking calls interrupted by the kernel's teardown of a closed ring (task
/// work), which a socket with a timeout reports as EINTR.
class Client {
public:
    explicit Client(int port, Ms timeout = 5s) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        timeval tv{long(timeout.count() / 1000), long(timeout.count() % 1000) * 1000};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(std::uint16_t(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    ~Client() {
        if (fd_ >= 0) ::close(fd_);
    }
    bool connected() const noexcept { return connected_; }
    int fd() const noexcept { return fd_; }

    bool send(std::string_view s) {
        while (!s.empty()) {
            ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            s.remove_prefix(std::size_t(n));
        }
        return true;
    }

    /// The next response (a HEAD response if `head`), or nullopt when the
    /// connection ended, timed out or sent something unparsable first.
    std::optional<http::ParsedResponse> response(bool head = false) {
        http::ResponseParser p;
        p.set_head_request(head);
        for (;;) {
            if (!buf_.empty()) {
                std::size_t used = p.feed(buf_);
                buf_.erase(0, used);
                if (p.state() == http::ParseState::done) return p.take_response();
                if (p.state() == http::ParseState::error) return std::nullopt;
            }
            char b[65536];
            ssize_t n = ::recv(fd_, b, sizeof b, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return std::nullopt;
            if (n == 0) {
                eof_ = true;
                if (p.finish_eof() == http::ParseState::done) return p.take_response();
                return std::nullopt;
            }
            buf_.append(b, std::size_t(n));
        }
    }

    /// True when the server closes the connection (EOF or reset) within
    /// `limit`; what arrives meanwhile is kept in `seen`.
    bool closed_within(Ms limit, std::string* seen = nullptr) {
        if (eof_) return true;
        auto until = std::chrono::steady_clock::now() + limit;
        for (;;) {
            auto left = std::chrono::duration_cast<Ms>(until - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            const int ready = ::poll(&p, 1, int(left.count()));
            if (ready < 0 && errno == EINTR) continue;
            if (ready <= 0) return false;
            char b[4096];
            ssize_t n = ::recv(fd_, b, sizeof b, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return true;
            if (seen != nullptr) seen->append(b, std::size_t(n));
        }
    }

private:
    int fd_ = -1;
    bool connected_ = false;
    bool eof_ = false;
    std::string buf_;
};

/// A free TCP port on 127.0.0.1 (bound then released: fine for a test).
inline int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

/// Waits until something accepts connections on `port`.
inline bool wait_for_port(int port, Ms limit = 10s) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        Client c(port, 1s);
        if (c.connected()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

}  // namespace corio::test::site
