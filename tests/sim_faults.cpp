// Faults in the simulation, on command and drawn from the seed: partitions
// (TCP holds its segments and goes on after the heal), crash and restart,
// stalls, resets.
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "sim_support.hpp"

namespace sim_faults_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

struct Stream {
    std::size_t sent = 0;
    std::size_t acked = 0;  // echoed back, checked in order
    bool intact = true;
    bool finished = false;
    std::error_code error;
};

// Sends `total` bytes in paced chunks while checking the echo.
Task<void> paced_client(net::Address server, std::size_t total, Stream* st) {
    auto s = co_await net::TcpStream::connect(server);
    if (!s) {
        st->error = s.error();
        co_return;
    }
    auto writer = [](net::TcpStream* s, std::size_t total, Stream* st) -> Task<void> {
        std::vector<std::byte> chunk(1000);
        while (st->sent < total) {
            for (std::size_t i = 0; i < chunk.size(); ++i)
                chunk[i] = test::pattern(5, st->sent + i);
            if (auto r = co_await s->send_all(chunk); !r) {
                st->error = r.error();
                co_return;
            }
            st->sent += chunk.size();
            co_await sleep_for(50ms);
        }
    };
    auto reader = [](net::TcpStream* s, std::size_t total, Stream* st) -> Task<void> {
        std::array<std::byte, 1500> buf;
        while (st->acked < total) {
            auto n = co_await s->recv(buf);
            if (!n || *n == 0) {
                if (!n) st->error = n.error();
                co_return;
            }
            for (std::size_t i = 0; i < *n; ++i) {
                if (buf[i] != test::pattern(5, st->acked + i)) st->intact = false;
            }
            st->acked += *n;
        }
    };
    co_await when_all(writer(&*s, total, st), reader(&*s, total, st));
    st->finished = true;
}

}  // namespace

TEST_CASE("sim: echo under partitions loses no acknowledged byte (20 seeds)", "[sim][faults]") {
    for (std::uint64_t seed = 100; seed < 120; ++seed) {
        sim::World w({.seed = seed, .use_env = false});
        auto& server = w.add_host("server", [] { return test::sim_echo_server(7); });
        auto& client = w.add_host("client");
        // Three 30 s partitions at times drawn from the seed, during the
        // 10 s the client sends.
        for (int i = 0; i < 3; ++i) {
            auto at = std::chrono::milliseconds(w.rng()() % 10000);
            w.at(at, [&w, &server, &client] { w.partition({&server}, {&client}); });
            w.at(at + 30s, [&w] { w.heal(); });
        }
        Stream st;
        const std::size_t total = 200 * 1000;
        w.block_on(client, paced_client(test::sim_addr(server, 7), total, &st));
        INFO(w.summary());
        CHECK(!st.error);
        CHECK(st.finished);
        CHECK(st.sent == total);
        CHECK(st.acked == total);
        CHECK(st.intact);
        CHECK(w.faults() >= 3);
        CHECK(w.elapsed() >= 30s);
    }
}

namespace {
struct CrashSeen {
    bool first_echo = false;
    std::error_code after_restart;
    bool reconnected_echo = false;
};
Task<bool> echo_once(net::TcpStream* s, std::string text) {
    if (!co_await s->send_all(text)) co_return false;
    std::string back(text.size(), '\0');
    if (!co_await s->read_exact(std::as_writable_bytes(std::span(back)))) co_return false;
    co_return back == text;
}
}  // namespace

TEST_CASE(
    "sim: a crashed host loses its connections; after restart peers hear RST and "
    "reconnect",
    "[sim][faults]") {
    sim::World w({.seed = 41});
    auto& server = w.add_host("server", [] { return test::sim_echo_server(7); });
    auto& client = w.add_host("client");
    w.at(1s, [&] { w.crash(server); });
    w.at(2s, [&] { w.restart(server); });
    auto seen = w.block_on(client, [](net::Address a) -> Task<CrashSeen> {
        CrashSeen out;
        auto s = co_await net::TcpStream::connect(a);
        if (!s) co_return out;
        out.first_echo = co_await echo_once(&*s, "before");
        co_await sleep_for(3s);
        (void)co_await s->send_all(std::string_view("after"));
        std::array<std::byte, 8> buf;
        auto r = co_await s->recv(buf);
        out.after_restart = r ? std::error_code() : r.error();
        auto s2 = co_await net::TcpStream::connect(a);
        if (!s2) co_return out;
        out.reconnected_echo = co_await echo_once(&*s2, "again");
        co_return out;
    }(test::sim_addr(server, 7)));
    CHECK(seen.first_echo);
    CHECK(seen.after_restart == std::errc::connection_reset);
    CHECK(seen.reconnected_echo);
    CHECK(w.faults() == 1);
}

TEST_CASE("sim: a stalled host answers late; a timeout fires meanwhile", "[sim][faults]") {
    sim::World w({.seed = 42});
    auto& server = w.add_host("server", [] { return test::sim_echo_server(7); });
    auto& client = w.add_host("client");
    w.at(1s, [&] { w.stall(server, 5s); });
    struct Seen {
        std::error_code first;
        bool late_echo = false;
        Duration late_at{};
    };
    auto seen = w.block_on(client, [](net::Address a) -> Task<Seen> {
        Seen out;
        auto s = co_await net::TcpStream::connect(a);
        if (!s) co_return out;
        co_await sleep_for(2s);  // the server is stalled now
        const TimePoint t0 = Loop::current().now();
        (void)co_await s->send_all(std::string_view("x"));
        std::array<std::byte, 1> buf;
        auto r = co_await s->recv(buf).timeout(1s);
        out.first = r ? std::error_code() : r.error();
        auto late = co_await s->recv(buf);
        out.late_echo = late && *late == 1 && buf[0] == std::byte('x');
        out.late_at = Loop::current().now() - t0;
        co_return out;
    }(test::sim_addr(server, 7)));
    CHECK(seen.first == std::errc::timed_out);
    CHECK(seen.late_echo);
    // The stall ends 6 s in; the request went just after 2 s (the connect
    // took a round trip first).
    CHECK(seen.late_at > 3900ms);
    CHECK(seen.late_at < 4100ms);
}

namespace {
struct ResetSides {
    std::error_code server;
    std::error_code client;
};
Task<void> recording_server(std::uint16_t port, ResetSides* out) {
    auto l = net::TcpListener::bind(net::Address::any_v4(port));
    if (!l) co_return;
    auto s = co_await l->accept();
    if (!s) co_return;
    std::array<std::byte, 16> buf;
    auto r = co_await s->recv(buf);
    out->server = r ? std::error_code() : r.error();
}
}  // namespace

TEST_CASE("sim: reset_connections resets both ends", "[sim][faults]") {
    sim::World w({.seed = 43});
    ResetSides sides;
    auto& server = w.add_host("server", [&sides] { return recording_server(80, &sides); });
    auto& client = w.add_host("client");
    w.at(500ms, [&] { CHECK(w.reset_connections(server) == 1); });
    sides.client = w.block_on(client, [](net::Address a) -> Task<std::error_code> {
        auto s = co_await net::TcpStream::connect(a);
        if (!s) co_return s.error();
        std::array<std::byte, 16> buf;
        auto r = co_await s->recv(buf);
        co_return r ? std::error_code() : r.error();
    }(test::sim_addr(server, 80)));
    w.run_for(1s);
    CHECK(sides.client == std::errc::connection_reset);
    CHECK(sides.server == std::errc::connection_reset);
}

TEST_CASE("sim: a cut link loses connection attempts until restored", "[sim][faults]") {
    sim::World w({.seed = 44});
    auto& server = w.add_host("server", [] { return test::sim_echo_server(7); });
    auto& client = w.add_host("client");
    w.cut(server, client);
    w.at(5s, [&] { w.restore(server, client); });
    auto r = w.block_on(client, [](net::Address a) -> Task<Duration> {
        const TimePoint t0 = Loop::current().now();
        auto s = co_await net::TcpStream::connect(a);
        if (!s) co_return Duration(-1);
        co_return Loop::current().now() - t0;
    }(test::sim_addr(server, 7)));
    // SYNs at 0, 1, 3 s are lost; the one at 7 s gets through.
    CHECK(r >= 7s);
    CHECK(r < 8s);
}

namespace {
Task<void> drip(std::uint16_t port, int count) {
    auto l = net::TcpListener::bind(net::Address::any_v4(port));
    if (!l) co_return;
    auto s = co_await l->accept();
    if (!s) co_return;
    for (int i = 0; i < count; ++i) {
        if (!co_await s->send_all(std::string_view("x"))) co_return;
        co_await sleep_for(1ms);
    }
}
// Receives one byte at a time, each receive bounded by a timeout drawn from
// `seed` around the sender's pace: many are cancelled just as a byte lands.
Task<std::size_t> impatient_reader(net::Address a, std::uint64_t seed, std::size_t* timeouts) {
    std::mt19937_64 rng(seed);
    auto s = co_await net::TcpStream::connect(a);
    if (!s) co_return 0;
    std::size_t got = 0;
    std::array<std::byte, 1> buf;
    for (;;) {
        auto r = co_await s->recv(buf).timeout(std::chrono::microseconds(rng() % 2000));
        if (!r) {
            if (r.error() != std::errc::timed_out) co_return got;
            ++*timeouts;
            continue;
        }
        if (*r == 0) co_return got;
        got += *r;
    }
}
}  // namespace

TEST_CASE("sim: receives cancelled as their data arrives lose no byte (5 seeds)",
          "[sim][faults][cancel-race]") {
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
        sim::World w({.seed = seed, .use_env = false});
        auto& server = w.add_host("server", [] { return drip(80, 2000); });
        auto& client = w.add_host("client");
        std::size_t timeouts = 0;
        const std::size_t got =
            w.block_on(client, impatient_reader(test::sim_addr(server, 80), w.rng()(), &timeouts));
        INFO(w.summary());
        CHECK(got == 2000);
        CHECK(timeouts > 100);  // the race was run, many times
    }
}

// Not run by default (Catch2 hidden tag): the measurement behind the number
// in docs/simulation.md. `build/tests/tests_sim "[hour]"`.
TEST_CASE("sim: a simulated hour of paced echo with a partition every 10 minutes",
          "[.][sim][hour]") {
    sim::World w({.seed = 7, .use_env = false});
    auto& server = w.add_host("server", [] { return test::sim_echo_server(7); });
    auto& client = w.add_host("client");
    for (int i = 1; i <= 6; ++i) {
        w.at(std::chrono::minutes(10 * i - 5),
             [&w, &server, &client] { w.partition({&server}, {&client}); });
        w.at(std::chrono::minutes(10 * i - 5) + 30s, [&w] { w.heal(); });
    }
    Stream st;
    const std::size_t total = 72000 * 1000;  // a 1000-byte chunk every 50 ms for an hour
    const auto t0 = std::chrono::steady_clock::now();
    w.block_on(client, paced_client(test::sim_addr(server, 7), total, &st));
    const auto real = std::chrono::steady_clock::now() - t0;
    CHECK(st.acked == total);
    CHECK(st.intact);
    CHECK(w.elapsed() >= 1h);
    WARN(w.summary() << " real_ms="
                     << std::chrono::duration_cast<std::chrono::milliseconds>(real).count());
}

}  // namespace sim_faults_test
