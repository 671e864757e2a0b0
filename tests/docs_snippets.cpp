// The C++ snippets of the README and the docs, compiled as they are written
// there (the build extracts them: tests/doc_snippets.py; an error names the
// document's line) and, where they can run here, run:
// - docs/http.md and the README's HTTP section: the five-line server answers
//   the five-line client, which prints "200 hello you" (on the backend of
//   this run); the static-files snippet names /srv/www, the resolver's
//   asks the machine's DNS and the compression one only makes a server:
//   compiled only.
// - the README's simulation snippet: run, with a serve() and fetch() of ours.
// - the README's and docs/tls.md's TLS snippets (with the tls part): compiled
//   only (they name certificate files and example.com).
// The README's first program is examples/tour.cpp, built with the examples.
//
// The snippets use port 8080. Where the process may (root), the test runs in
// a network namespace of its own, so the port is free whatever else runs on
// the machine and the test's backends, run at once, do not meet; elsewhere it
// uses the machine's loopback (its runs on the other backends taking turns)
// and, if another program holds 8080, says so and stops.
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <system_error>

#include <fmt/core.h>

#include <corio/http/client.hpp>
#include <corio/http/compress.hpp>
#include <corio/http/form.hpp>
#include <corio/http/multipart.hpp>
#include <corio/http/router.hpp>
#include <corio/http/server.hpp>
#include <corio/http/sse.hpp>
#include <corio/http/static_files.hpp>
#include <corio/http/websocket.hpp>
#include <corio/net/tcp.hpp>
#include <corio/runtime/log.hpp>
#include <corio/runtime/task_group.hpp>
#include <corio/sim/world.hpp>
#include <corio/version.hpp>
#if CORIO_HAS_TLS
#include <corio/tls/context.hpp>
#include <corio/tls/stream.hpp>
#endif

#include "support.hpp"

namespace docs_snippets_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

// Each function is a snippet's context, its body the #include.
// clang-format off

// ---- docs/http.md -------------------------------------------------------------

Task<void> doc_server(StopToken stop) {
#include "http_md_0.inc"
}

// Compiled only: query strings and form bodies.
[[maybe_unused]] void doc_forms(http::Router& router) {
#include "http_md_1.inc"
}

// Compiled only: an upload route.
[[maybe_unused]] void doc_multipart(http::Router& router) {
#include "http_md_2.inc"
}

[[maybe_unused]] void doc_compress(http::Router& router) {
#include "http_md_3.inc"
}

[[maybe_unused]] void doc_access_log() {
#include "http_md_4.inc"
}

[[maybe_unused]] void doc_static_files(http::Router& router) {
#include "http_md_5.inc"
}

Task<void> doc_client() {
#include "http_md_6.inc"
}

// Compiled only: a streamed upload.
[[maybe_unused]] Task<void> doc_upload(http::Client& client) {
#include "http_md_7.inc"
    (void)done;
}

// Compiled only: a client with a cookie jar.
[[maybe_unused]] Task<void> doc_cookie_jar() {
#include "http_md_8.inc"
    (void)login;
    (void)page;
}

// Compiled only: the server-sent events snippet (a route and a client of it).
[[maybe_unused]] Task<void> doc_sse(http::Router& router, http::Client& client) {
#include "http_md_11.inc"
}

// Compiled only: the reconnecting reader of the same route.
[[maybe_unused]] Task<void> doc_event_source(http::Client& client) {
#include "http_md_12.inc"
}

// Compiled only: the client would look names up through the machine's DNS.
[[maybe_unused]] void doc_client_resolver() {
#include "http_md_13.inc"
}

Task<void> doc_websocket_server(StopToken stop) {
    http::Router r;
#include "http_md_9.inc"
    http::Server srv(r);
    co_await srv.run(net::TcpListener::bind(net::Address::loopback_v4(8080)).value("bind"), stop);
}

bool doc_websocket_closed = false;  // checked after the capture of stdout ends

Task<void> doc_websocket_client() {
#include "http_md_10.inc"
    doc_websocket_closed = closed.has_value();
}

// ---- README.md (block 0 is examples/tour.cpp) ----------------------------------

Task<void> readme_server(StopToken stop) {
#include "readme_md_1.inc"
}

Task<void> readme_client() {
#include "readme_md_2.inc"
}

// What the README's simulation snippet runs: a server that echoes one
// 5-byte message, and a client that sends "hello" and reads the echo.
Task<void> serve(std::uint16_t port) {
    auto l = net::TcpListener::bind(net::Address::any_v4(port)).value("bind");
    auto s = co_await l.accept();
    if (!s) co_return;
    std::array<std::byte, 5> buf;
    auto n = co_await s->read_exact(buf);
    if (n) (void)co_await s->send_all(std::span<const std::byte>(buf));
}

Task<Result<std::string>> fetch(net::Address addr) {
    auto s = co_await net::TcpStream::connect(addr);
    if (!s) co_return s.error();
    auto w = co_await s->send_all(std::string_view("hello"));
    if (!w) co_return w.error();
    std::string got(5, '\0');
    auto r = co_await s->read_exact(std::as_writable_bytes(std::span(got)));
    if (!r) co_return r.error();
    co_return got;
}

Result<std::string> readme_sim() {
#include "readme_md_4.inc"
    return r;
}

#if CORIO_HAS_TLS
[[maybe_unused]] Task<void> readme_tls(net::Address addr) {
#include "readme_md_3.inc"
    (void)sent;
}

// ---- docs/tls.md --------------------------------------------------------------

[[maybe_unused]] Task<void> doc_tls_client(net::Address addr) {
#include "tls_md_0.inc"
    (void)n;
    (void)closed;
}

[[maybe_unused]] Task<void> doc_tls_server(net::TcpStream tcp) {
#include "tls_md_1.inc"
}
#endif

// clang-format on

enum class Net { own, shared, busy };

// A network namespace with its loopback up, once per process; else the
// machine's network, `busy` when port 8080 is taken there by another program.
Net network() {
    static const Net net = [] {
        // Kept to come back to if the new namespace's loopback cannot be
        // brought up (a container may allow the one and not the other).
        const int home = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (home >= 0 && ::unshare(CLONE_NEWNET) == 0) {
            const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            ifreq ifr{};
            std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
            bool up = s >= 0 && ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
            ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
            up = up && ::ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
            if (s >= 0) ::close(s);
            if (up) {
                ::close(home);
                return Net::own;
            }
            REQUIRE(::setns(home, CLONE_NEWNET) == 0);
        }
        if (home >= 0) ::close(home);
        // The machine's loopback: this test's runs on the other backends,
        // which meson starts at the same time, take turns on the port (the
        // lock is held until the process exits).
        const int lock =
            ::open("/tmp/corio-docs-snippets-8080.lock", O_CREAT | O_RDONLY | O_CLOEXEC, 0644);
        if (lock >= 0) ::flock(lock, LOCK_EX);
        const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(s >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(8080);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const int one = 1;
        ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        const bool free = ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(s);
        return free ? Net::shared : Net::busy;
    }();
    return net;
}

// What the program writes to stdout between construction and finish().
class CaptureStdout {
public:
    CaptureStdout() {
        std::fflush(stdout);
        saved_ = ::dup(STDOUT_FILENO);
        file_ = ::memfd_create("stdout", MFD_CLOEXEC);
        REQUIRE(saved_ >= 0);
        REQUIRE(file_ >= 0);
        // No Catch2 assertion from here to finish(): `-s` would print it into the capture.
        if (::dup2(file_, STDOUT_FILENO) != STDOUT_FILENO) {
            throw std::system_error(errno, std::generic_category(), "dup2 onto stdout");
        }
    }
    CaptureStdout(const CaptureStdout&) = delete;
    CaptureStdout& operator=(const CaptureStdout&) = delete;
    ~CaptureStdout() {
        restore();
        if (file_ >= 0) ::close(file_);
    }

    std::string finish() {
        restore();
        std::string out;
        char buf[256];
        off_t at = 0;
        for (;;) {
            const ssize_t n = ::pread(file_, buf, sizeof buf, at);
            if (n <= 0) break;
            out.append(buf, static_cast<std::size_t>(n));
            at += n;
        }
        return out;
    }

private:
    void restore() {
        if (saved_ < 0) return;
        std::fflush(stdout);
        ::dup2(saved_, STDOUT_FILENO);
        ::close(saved_);
        saved_ = -1;
    }
    int saved_ = -1;
    int file_ = -1;
};

// The server snippet and the client snippet of one document, run together.
template <class Server, class Client>
std::string serve_and_fetch(Server server_snippet, Client client_snippet) {
    std::string printed;
    test::run([&](Loop&) -> Task<void> {
        StopSource stop;
        TaskGroup server;
        server.spawn(server_snippet(stop.token()));
        // The server snippet binds when it first runs, which a shuffled run
        // queue (CORIO_SHUFFLE) may put after this task: wait for the port.
        bool listening = false;
        for (int i = 0; i < 1000 && !listening; ++i) {
            auto probe = co_await net::TcpStream::connect(net::Address::loopback_v4(8080));
            listening = probe.has_value();
            if (!listening) co_await yield();
        }
        REQUIRE(listening);
        {
            CaptureStdout out;
            co_await client_snippet();
            printed = out.finish();
        }
        stop.request_stop();
        co_await server.wait();
    });
    return printed;
}

bool can_run_http() {
    if (test::sim_requested() || network() != Net::busy) return true;
    WARN(
        "port 8080 is taken and no network namespace could be made (not root): the "
        "snippets were compiled, not run");
    return false;
}

}  // namespace

TEST_CASE("docs/http.md: the five-line server answers the five-line client") {
    if (!can_run_http()) return;
    CHECK(serve_and_fetch(doc_server, doc_client) == "200 hello you\n");
}

TEST_CASE("docs/http.md: the WebSocket echo route answers the WebSocket client") {
    if (!can_run_http()) return;
    CHECK(serve_and_fetch(doc_websocket_server, doc_websocket_client) == "hello\n");
    CHECK(doc_websocket_closed);
}

TEST_CASE("README: the HTTP server snippet answers the client snippet") {
    if (!can_run_http()) return;
    CHECK(serve_and_fetch(readme_server, readme_client) == "200 hello you\n");
}

TEST_CASE("README: the simulation snippet runs and prints the world's summary") {
    std::string printed;
    Result<std::string> r = std::errc::operation_canceled;
    {
        CaptureStdout out;
        r = readme_sim();
        printed = out.finish();
    }
    REQUIRE(r);
    CHECK(*r == "hello");
    INFO(printed);
    CHECK(printed.rfind("seed=", 0) == 0);
    CHECK(printed.find(" hash=") != std::string::npos);
}

}  // namespace docs_snippets_test
