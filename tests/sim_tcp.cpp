// Simulated TCP: the same TcpListener/TcpStream code as on the real backends,
// on hosts of a sim::World (connect, accept, refusal, backlog, backpressure,
// partial reads, FIN, RST), in virtual time.
#include <chrono>
#include <vector>

#include "sim_support.hpp"

namespace sim_tcp_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

struct EchoStats {
    std::size_t sent = 0;
    std::size_t received = 0;
    std::size_t recv_calls = 0;
    bool intact = true;
    std::error_code error;
};

// Sends `total` bytes of pattern `tag` while reading the echo, then FIN, then
// expects the server's FIN.
Task<void> echo_client(net::Address server, std::size_t total, std::uint64_t tag, EchoStats* st) {
    auto s = co_await net::TcpStream::connect(server);
    if (!s) {
        st->error = s.error();
        co_return;
    }
    auto writer = [](net::TcpStream* s, std::size_t total, std::uint64_t tag,
                     EchoStats* st) -> Task<void> {
        std::vector<std::byte> chunk;
        while (st->sent < total) {
            std::size_t n = std::min<std::size_t>(10000, total - st->sent);
            chunk.resize(n);
            for (std::size_t i = 0; i < n; ++i)
                chunk[i] = test::pattern(tag, st->sent + i);
            auto r = co_await s->send_all(chunk);
            if (!r) {
                st->error = r.error();
                co_return;
            }
            st->sent += n;
        }
        (void)s->shutdown(SHUT_WR);
    };
    auto reader = [](net::TcpStream* s, std::uint64_t tag, EchoStats* st) -> Task<void> {
        std::array<std::byte, 3000> buf;
        for (;;) {
            auto n = co_await s->recv(buf);
            ++st->recv_calls;
            if (!n) {
                st->error = n.error();
                co_return;
            }
            if (*n == 0) co_return;
            for (std::size_t i = 0; i < *n; ++i) {
                if (buf[i] != test::pattern(tag, st->received + i)) st->intact = false;
            }
            st->received += *n;
        }
    };
    co_await when_all(writer(&*s, total, tag, st), reader(&*s, tag, st));
}

}  // namespace

TEST_CASE("sim: echo of 300 KB over a window of 64 KiB, in pieces, ends with FIN", "[sim][tcp]") {
    sim::World w({.seed = 3});
    auto& server = w.add_host("server", [] { return test::sim_echo_server(7); });
    auto& client = w.add_host("client");
    EchoStats st;
    const std::size_t total = 300 * 1000;
    w.block_on(client, echo_client(test::sim_addr(server, 7), total, 1, &st));
    INFO(w.summary());
    CHECK(!st.error);
    CHECK(st.sent == total);
    CHECK(st.received == total);
    CHECK(st.intact);
    // Segments of drawn sizes: many more reads than a 3000-byte buffer needs.
    CHECK(st.recv_calls > total / 3000 + 10);
    CHECK(w.elapsed() > 0s);
}

TEST_CASE("sim: connect to a port nobody listens on is refused after a round trip", "[sim][tcp]") {
    sim::World w({.seed = 4});
    auto& server = w.add_host("server");
    auto& client = w.add_host("client");
    auto r = w.block_on(client, [](net::Address a) -> Task<Result<net::TcpStream>> {
        co_return co_await net::TcpStream::connect(a);
    }(test::sim_addr(server, 9)));
    REQUIRE(!r);
    CHECK(r.error() == std::errc::connection_refused);
    CHECK(w.elapsed() >= 2 * w.options().min_latency);
    CHECK(w.elapsed() < 1s);
}

TEST_CASE("sim: an address no host has is unreachable", "[sim][tcp]") {
    sim::World w({.seed = 4});
    auto& client = w.add_host("client");
    auto r = w.block_on(client, []() -> Task<Result<net::TcpStream>> {
        co_return co_await net::TcpStream::connect(
            net::Address::parse("192.0.2.77:80").value("addr"));
    }());
    REQUIRE(!r);
    CHECK(r.error() == std::errc::network_unreachable);
}

namespace {
Task<void> listen_never_accept(std::uint16_t port, int backlog) {
    net::ListenOptions o;
    o.backlog = backlog;
    auto l = net::TcpListener::bind(net::Address::any_v4(port), o);
    if (!l) co_return;
    co_await sleep_for(24h);
}
}  // namespace

TEST_CASE("sim: a full backlog drops SYNs; the client retries and times out like Linux",
          "[sim][tcp]") {
    sim::World w({.seed = 5});
    auto& server = w.add_host("server", [] { return listen_never_accept(80, 1); });
    auto& client = w.add_host("client");
    auto t0 = std::chrono::steady_clock::now();
    auto r = w.block_on(client, [](net::Address a) -> Task<std::vector<std::error_code>> {
        std::vector<std::error_code> out;
        // The first fills the backlog (connected, never accepted); the second
        // gets no answer.
        auto first = co_await net::TcpStream::connect(a);
        out.push_back(first ? std::error_code() : first.error());
        const TimePoint start = Loop::current().now();
        auto second = co_await net::TcpStream::connect(a);
        out.push_back(second ? std::error_code() : second.error());
        // 1 + 2 + 4 + 8 + 16 + 32 s of SYN retransmissions.
        out.push_back(Loop::current().now() - start >= 63s ? std::error_code()
                                                           : make_error_code(std::errc::io_error));
        co_return out;
    }(test::sim_addr(server, 80)));
    REQUIRE(r.size() == 3);
    CHECK(!r[0]);
    CHECK(r[1] == std::errc::timed_out);
    CHECK(!r[2]);
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);  // virtual time: no real wait
}

namespace {
Task<void> accept_and_hold(std::uint16_t port, std::vector<net::TcpStream>* keep) {
    auto l = net::TcpListener::bind(net::Address::any_v4(port));
    if (!l) co_return;
    for (;;) {
        auto s = co_await l->accept();
        if (!s) co_return;
        keep->push_back(std::move(*s));  // never read
    }
}
}  // namespace

TEST_CASE("sim: a sender to a reader that stops blocks once the window is full", "[sim][tcp]") {
    std::vector<net::TcpStream> held;
    sim::World w({.seed = 6});
    auto& server = w.add_host("server", [&held] { return accept_and_hold(80, &held); });
    auto& client = w.add_host("client");
    auto sent = w.block_on(client, [](net::Address a) -> Task<std::size_t> {
        auto s = co_await net::TcpStream::connect(a);
        if (!s) co_return 0;
        std::vector<std::byte> chunk(4096, std::byte{1});
        std::size_t total = 0;
        for (;;) {
            auto r = co_await s->send(chunk).timeout(10s);
            if (!r) {
                if (r.error() != std::errc::timed_out) co_return 0;
                co_return total;
            }
            total += *r;
        }
    }(test::sim_addr(server, 80)));
    CHECK(sent == w.options().window);
    CHECK(held.size() == 1);
    w.crash(server);  // the held streams belong to the server's loop: gone with it
    held.clear();
}

namespace {
struct ResetSeen {
    std::error_code recv_error;
    std::error_code send_error;
};
Task<void> reset_on_accept(std::uint16_t port) {
    auto l = net::TcpListener::bind(net::Address::any_v4(port));
    if (!l) co_return;
    auto s = co_await l->accept();
    if (!s) co_return;
    (void)s->set_linger_reset();
    s->close();
    co_await sleep_for(24h);
}
}  // namespace

TEST_CASE("sim: close with SO_LINGER 0 resets; the peer reads connection_reset, then EPIPE",
          "[sim][tcp]") {
    sim::World w({.seed = 8});
    auto& server = w.add_host("server", [] { return reset_on_accept(80); });
    auto& client = w.add_host("client");
    auto seen = w.block_on(client, [](net::Address a) -> Task<ResetSeen> {
        ResetSeen out;
        auto s = co_await net::TcpStream::connect(a);
        if (!s) co_return out;
        std::array<std::byte, 16> buf;
        auto r = co_await s->recv(buf);
        if (!r) out.recv_error = r.error();
        auto w = co_await s->send(std::string_view("late"));
        if (!w) out.send_error = w.error();
        co_return out;
    }(test::sim_addr(server, 80)));
    CHECK(seen.recv_error == std::errc::connection_reset);
    CHECK(seen.send_error == std::errc::broken_pipe);
}

TEST_CASE("sim: closing with unread data resets the peer", "[sim][tcp]") {
    sim::World w({.seed = 9});
    auto& server = w.add_host("server", []() -> Task<void> {
        auto l = net::TcpListener::bind(net::Address::any_v4(80));
        if (!l) co_return;
        auto s = co_await l->accept();
        if (!s) co_return;
        co_await sleep_for(1s);  // the client's bytes arrive, unread
        s->close();
        co_await sleep_for(24h);
    });
    auto& client = w.add_host("client");
    auto err = w.block_on(client, [](net::Address a) -> Task<std::error_code> {
        auto s = co_await net::TcpStream::connect(a);
        if (!s) co_return s.error();
        (void)co_await s->send_all(std::string_view("unread bytes"));
        std::array<std::byte, 16> buf;
        auto r = co_await s->recv(buf);
        co_return r ? std::error_code() : r.error();
    }(test::sim_addr(server, 80)));
    CHECK(err == std::errc::connection_reset);
}

TEST_CASE("sim: a simulated minute of timers runs in milliseconds", "[sim][time]") {
    sim::World w({.seed = 10});
    auto& h = w.add_host("ticker");
    auto t0 = std::chrono::steady_clock::now();
    int ticks = w.block_on(h, []() -> Task<int> {
        int n = 0;
        for (int i = 0; i < 600; ++i) {
            co_await sleep_for(100ms);
            ++n;
        }
        co_return n;
    }());
    CHECK(ticks == 600);
    CHECK(w.elapsed() >= 60s);
    CHECK(w.elapsed() < 61s);
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
}

TEST_CASE("sim: getsockname and getpeername give simulated addresses", "[sim][tcp]") {
    sim::World w({.seed = 11});
    auto& server = w.add_host("server", [] { return test::sim_echo_server(7); });
    auto& client = w.add_host("client");
    auto names = w.block_on(client, [](net::Address a) -> Task<std::vector<std::string>> {
        std::vector<std::string> out;
        auto s = co_await net::TcpStream::connect(a);
        if (!s) co_return out;
        out.push_back(s->local_address().value("local").host());
        out.push_back(s->peer_address().value("peer").to_string());
        co_return out;
    }(test::sim_addr(server, 7)));
    REQUIRE(names.size() == 2);
    CHECK(names[0] == client.ip());
    CHECK(names[1] == server.endpoint(7));
}

}  // namespace sim_tcp_test
