// A program that uses corio as an installed library: it listens on a loopback
// port, connects to it with a TCP client, echoes one message, sleeps on a
// timer, prints one line and exits 0. scripts/test_consumers.sh builds it with
// CMake find_package, with pkg-config and a plain g++ line, and as a meson
// subproject.
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <span>
#include <string_view>

#include <corio/net/tcp.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/task.hpp>
#include <corio/runtime/timer.hpp>
#include <corio/runtime/when_all.hpp>
#include <corio/version.hpp>

using namespace corio;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view message = "hello from a consumer";

// Accepts one connection and sends back what it reads until the peer closes.
Task<Result<std::size_t>> serve_one(net::TcpListener& listener) {
    auto s = co_await listener.accept();
    if (!s) co_return s.error();
    std::array<std::byte, 256> buf{};
    std::size_t total = 0;
    for (;;) {
        auto n = co_await s->recv(buf);
        if (!n) co_return n.error();
        if (*n == 0) co_return total;
        auto sent = co_await s->send_all(std::span<const std::byte>(buf.data(), *n));
        if (!sent) co_return sent.error();
        total += *n;
    }
}

// Connects, sends the message, reads the echo back, closes.
Task<Result<bool>> client(net::Address addr) {
    auto s = co_await net::TcpStream::connect(addr, 5s);
    if (!s) co_return s.error();
    auto bytes = std::as_bytes(std::span(message.data(), message.size()));
    if (auto sent = co_await s->send_all(bytes); !sent) co_return sent.error();
    std::array<std::byte, message.size()> back{};
    if (auto got = co_await s->read_exact(back); !got) co_return got.error();
    if (auto shut = s->shutdown(); !shut) co_return shut.error();
    co_return std::memcmp(back.data(), message.data(), message.size()) == 0;
}

// The timer: true when it fired (false if the task was asked to stop first).
Task<bool> nap(std::chrono::milliseconds d) {
    co_return co_await sleep_for(d);
}

Task<int> run() {
    auto listener = net::TcpListener::bind(net::Address::loopback_v4(0));
    if (!listener) {
        std::printf("consumer: bind failed: %s\n", listener.error().message().c_str());
        co_return 1;
    }
    auto addr = listener->local_address();
    if (!addr) co_return 1;
    auto t0 = Clock::now();
    auto [served, echoed, slept] =
        co_await when_all(serve_one(*listener), client(*addr), nap(10ms));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    if (!served || !echoed || !*echoed || !slept || ms < 10ms) {
        std::printf("consumer: failed (served %s, echoed %s, timer %s)\n",
                    served ? "ok" : served.error().message().c_str(),
                    echoed ? (*echoed ? "ok" : "mismatch") : echoed.error().message().c_str(),
                    slept ? "ok" : "cancelled");
        co_return 1;
    }
    std::printf("consumer: corio %s, echoed %zu bytes over TCP, timer fired after >= 10 ms\n",
                CORIO_VERSION_STRING, *served);
    co_return 0;
}

}  // namespace

int main() {
    return block_on(run());
}
