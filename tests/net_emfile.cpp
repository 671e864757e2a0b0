// Accept under descriptor exhaustion: in a child process with a low
// RLIMIT_NOFILE, a flood of connections neither kills nor spins the listener,
// and it serves new clients once descriptors are free again.
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <vector>

#include "net_support.hpp"

namespace net_emfile_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

// Exit codes of the child.
enum : int { ok = 0, no_listener = 10, flood_failed = 11, not_served = 12, spun = 13 };

Task<void> serve_one(net::TcpStream s) {
    std::array<std::byte, 16> buf;
    auto n = co_await s.recv(buf);
    if (n && *n > 0) {
        auto w = co_await s.send_all(std::span(buf).first(*n));
        (void)w;
    }
}

Task<void> accept_loop(net::TcpListener* l, std::vector<net::TcpStream>* keep, bool* keep_all) {
    for (;;) {
        auto s = co_await l->accept();
        if (!s) co_return;
        if (*keep_all) {
            keep->push_back(std::move(*s));  // hold it: descriptors run out
        } else {
            spawn(serve_one(std::move(*s))).detach();
        }
    }
}

// One client: true when the server echoed.
Task<bool> try_client(net::Address addr) {
    auto s = co_await net::TcpStream::connect(addr, 1s);
    if (!s) co_return false;
    auto w = co_await s->send_all(test::bytes("ping"));
    if (!w) co_return false;
    std::array<std::byte, 4> buf;
    auto r = co_await with_timeout(s->read_exact(buf), 2s);
    co_return r.has_value() && test::chars(buf) == "ping";
}

Task<int> child_main(Loop& loop) {
    auto l = net::TcpListener::bind(net::Address::loopback_v4(0));
    if (!l) co_return no_listener;
    auto addr = l->local_address().value();
    std::vector<net::TcpStream> keep;
    bool keep_all = true;
    auto acc = loop.spawn(accept_loop(&*l, &keep, &keep_all));

    // The flood: with the limit at 64, 40 client sockets (made here) and the
    // accepted ones the server keeps run the process out of descriptors.
    std::vector<int> clients;
    for (int i = 0; i < 40; ++i) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) break;
        ::connect(fd, addr.sockaddr_ptr(), addr.size());
        clients.push_back(fd);
    }
    if (clients.size() < 20) co_return flood_failed;
    // Let the listener run into EMFILE for a while; count loop turns to be
    // sure it is not spinning.
    const auto turns0 = loop.stats().turns;
    co_await sleep_for(300ms);
    const auto turns = loop.stats().turns - turns0;
    if (turns > 2000) co_return spun;

    // Free everything; the listener must serve new clients again.
    keep_all = false;
    keep.clear();
    for (int fd : clients)
        ::close(fd);
    clients.clear();
    co_await sleep_for(150ms);  // past the listener's backoff
    int served = 0;
    for (int i = 0; i < 5; ++i) {
        if (co_await try_client(addr)) ++served;
    }
    acc.cancel();
    co_await acc;
    co_return served == 5 ? ok : not_served;
}

}  // namespace

TEST_CASE("EMFILE: the listener sheds load, does not spin, and recovers", "[net][emfile]") {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        rlimit rl{64, 64};
        ::setrlimit(RLIMIT_NOFILE, &rl);
        int code = 1;
        try {
            Loop loop(test::options());
            code = loop.block_on(child_main(loop));
        } catch (...) {
            code = 2;
        }
        ::_exit(code);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    INFO("child exit code " << WEXITSTATUS(status)
                            << " (10 no listener, 11 flood failed, 12 not served, 13 spun)");
    CHECK(WEXITSTATUS(status) == ok);
}

}  // namespace net_emfile_test
