// tour: the README's first program. A server and three clients on one loop:
// sequential steps with co_await, concurrency with when_all, a timeout, and
// errors as values.
#include <cctype>
#include <cstdio>
#include <string_view>

#include <corio/corio.hpp>

using namespace corio;
using namespace std::chrono_literals;

// Answers each connection with the bytes it received, upper-cased.
Task<void> serve(net::TcpStream s) {
    std::array<std::byte, 256> buf;
    auto n = co_await s.recv(buf);
    if (!n || *n == 0) co_return;
    for (auto& b : std::span(buf).first(*n)) b = std::byte(std::toupper(int(b)));
    (void)co_await s.send_all(std::span(buf).first(*n));
}

Task<void> accept_all(net::TcpListener& l, TaskGroup& g) {
    for (;;) {
        auto s = co_await l.accept();
        if (!s) co_return;  // cancelled: the program is done
        g.spawn(serve(std::move(*s)));
    }
}

// One request: connect, send, read the answer. Every step may fail; failures
// are values (Result), not exceptions.
Task<Result<std::string>> shout(net::Address addr, std::string word) {
    auto s = co_await net::TcpStream::connect(addr);
    if (!s) co_return s.error();
    auto w = co_await s->send_all(std::as_bytes(std::span(word)));
    if (!w) co_return w.error();
    std::string out(word.size(), '\0');
    auto r = co_await s->read_exact(std::as_writable_bytes(std::span(out)));
    if (!r) co_return r.error();
    co_return out;
}

Task<int> tour() {
    auto l = net::TcpListener::bind(net::Address::loopback_v4(0)).value("bind");
    auto addr = l.local_address().value("getsockname");
    TaskGroup server;
    server.spawn(accept_all(l, server));

    // Three requests at once; with_timeout bounds the whole batch.
    auto all = co_await with_timeout(
        when_all(shout(addr, "io_uring"), shout(addr, "epoll"), shout(addr, "coroutines")), 2s);
    if (!all) {
        std::printf("timed out: %s\n", all.error().message().c_str());
    } else {
        auto& [a, b, c] = *all;
        for (auto* r : {&a, &b, &c}) {
            std::printf("%s\n", *r ? (*r)->c_str() : r->error().message().c_str());
        }
    }
    server.cancel();  // stops the accept loop; the group waits for its children
    co_await server.wait();
    co_return 0;
}

int main() {
    Loop loop;  // io_uring if the kernel allows it, else epoll
    std::printf("backend: %s\n", std::string(to_string(loop.kind())).c_str());
    return loop.block_on(tour());
}
