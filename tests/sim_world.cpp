// The simulated world itself: one seed decides the run (same seed, same
// trace hash; other seeds, other traces), CORIO_SIM_SEED replays, no real
// descriptor is made, UDP loses, duplicates and reorders from the seed.
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include <corio/runtime/ops.hpp>

#include "sim_support.hpp"

namespace sim_world_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

struct Tally {
    std::size_t bytes = 0;
    int done = 0;
    int failed = 0;
};

Task<void> chatty_client(net::Address server, std::size_t size, Tally* t) {
    auto s = co_await net::TcpStream::connect(server, 5s);
    if (!s) {
        ++t->failed;
        co_return;
    }
    std::vector<std::byte> out(size);
    for (std::size_t i = 0; i < size; ++i)
        out[i] = test::pattern(size, i);
    std::vector<std::byte> in(size);
    for (int round = 0; round < 3; ++round) {
        if (!co_await s->send_all(out) || !co_await s->read_exact(in) || in != out) {
            ++t->failed;
            co_return;
        }
        t->bytes += size;
        co_await sleep_for(std::chrono::milliseconds(10 * (round + 1)));
    }
    ++t->done;
}

// Three clients of different sizes against one echo server, started at
// once: their interleaving, the segment sizes and the latencies all come
// from the seed.
std::string scenario(std::uint64_t seed, Tally* t) {
    sim::World w({.seed = seed, .use_env = false});
    auto& server = w.add_host("server", [] { return test::sim_echo_server(7); });
    std::vector<sim::Host*> clients;
    for (int i = 0; i < 3; ++i) {
        auto& c = w.add_host("client" + std::to_string(i));
        c.loop()
            .spawn(chatty_client(test::sim_addr(server, 7), 1000 + 7000 * std::size_t(i), t))
            .detach();
    }
    w.run_until([t] { return t->done + t->failed == 3; }, 1h);
    return w.summary();
}

}  // namespace

TEST_CASE("sim: the same seed gives the same trace, 100 runs in a row", "[sim][determinism]") {
    Tally first;
    const std::string expect = scenario(12345, &first);
    INFO(expect);
    REQUIRE(first.done == 3);
    REQUIRE(first.bytes == 3 * (1000 + 8000 + 15000));
    for (int i = 0; i < 99; ++i) {
        Tally t;
        const std::string got = scenario(12345, &t);
        REQUIRE(got == expect);
        REQUIRE(t.done == 3);
    }
}

TEST_CASE("sim: different seeds give different traces", "[sim][determinism]") {
    std::set<std::string> hashes;
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
        Tally t;
        std::string s = scenario(seed, &t);
        CHECK(t.done == 3);
        hashes.insert(s.substr(s.find("hash=")));
    }
    CHECK(hashes.size() == 20);
}

TEST_CASE("sim: CORIO_SIM_SEED replaces the seed, and replays its run", "[sim][determinism]") {
    Tally a;
    const std::string direct = scenario(777, &a);
    ::setenv("CORIO_SIM_SEED", "777", 1);
    std::string via_env;
    {
        sim::World w({.seed = 1});
        CHECK(w.seed() == 777);
    }
    auto found = sim::find_failing_seed([](std::uint64_t s) { return s != 777; }, 1, 10);
    ::unsetenv("CORIO_SIM_SEED");
    CHECK(found == std::optional<std::uint64_t>(777));
    Tally b;
    CHECK(scenario(777, &b) == direct);
    sim::World w({.seed = 1});
    CHECK(w.seed() == 1);
}

TEST_CASE("sim: a run makes no real descriptor", "[sim]") {
    const int before = test::open_descriptors();
    int during = -1;
    {
        sim::World w({.seed = 21});
        auto& server = w.add_host("server", [] { return test::sim_echo_server(7); });
        auto& client = w.add_host("client");
        Tally t;
        w.block_on(client, chatty_client(test::sim_addr(server, 7), 50000, &t));
        CHECK(t.done == 1);
        during = test::open_descriptors();
    }
    CHECK(during == before);
    CHECK(test::open_descriptors() == before);
}

TEST_CASE("sim: a loop on a simulated host says so", "[sim]") {
    sim::World w;
    auto& h = w.add_host("a");
    CHECK(h.loop().kind() == BackendKind::sim);
    CHECK(to_string(h.loop().kind()) == "sim");
    CHECK(h.ip() == "192.0.2.1");
    CHECK(w.add_host("b").endpoint(80) == "192.0.2.2:80");
}

TEST_CASE("sim: an operation the simulation does not model says EOPNOTSUPP", "[sim]") {
    sim::World w;
    auto& h = w.add_host("a");
    auto r = w.block_on(h, []() -> Task<Result<std::size_t>> {
        std::array<std::byte, 4> buf;
        co_return co_await corio::read(0, buf);  // Read has no sim half
    }());
    REQUIRE(!r);
    CHECK(r.error() == std::errc::operation_not_supported);
}

namespace {
struct UdpTally {
    std::vector<int> got;
};
Task<void> udp_sink(std::uint16_t port, UdpTally* t) {
    auto u = net::UdpSocket::bind(net::Address::any_v4(port));
    if (!u) co_return;
    std::array<std::byte, 64> buf;
    for (;;) {
        auto d = co_await u->recv_from(buf);
        if (!d) co_return;
        int v = 0;
        std::memcpy(&v, buf.data(), sizeof v);
        t->got.push_back(v);
    }
}
Task<int> udp_source(net::Address to, int count) {
    auto u = net::UdpSocket::open(AF_INET);
    if (!u) co_return -1;
    for (int i = 0; i < count; ++i) {
        std::array<std::byte, sizeof(int)> b;
        std::memcpy(b.data(), &i, sizeof i);
        if (!co_await u->send_to(b, to)) co_return -1;
    }
    co_await sleep_for(1s);  // let them land
    co_return count;
}
}  // namespace

TEST_CASE("sim: UDP loses, duplicates and reorders datagrams from the seed", "[sim][udp]") {
    sim::World w({.seed = 31, .udp_loss = 0.1, .udp_duplicate = 0.1});
    UdpTally t;
    auto& sink = w.add_host("sink", [&t] { return udp_sink(5000, &t); });
    auto& src = w.add_host("source");
    const int n = w.block_on(src, udp_source(test::sim_addr(sink, 5000), 1000));
    REQUIRE(n == 1000);
    std::set<int> distinct(t.got.begin(), t.got.end());
    INFO(w.summary() << " got " << t.got.size() << " distinct " << distinct.size());
    CHECK(distinct.size() < 1000);          // some lost
    CHECK(distinct.size() > 800);           // most arrived
    CHECK(t.got.size() > distinct.size());  // some twice
    bool reordered = false;
    for (std::size_t i = 1; i < t.got.size(); ++i) {
        if (t.got[i] < t.got[i - 1]) reordered = true;
    }
    CHECK(reordered);
}

TEST_CASE("sim: UDP without faults delivers every datagram once", "[sim][udp]") {
    sim::World w({.seed = 32});
    UdpTally t;
    auto& sink = w.add_host("sink", [&t] { return udp_sink(5000, &t); });
    auto& src = w.add_host("source");
    REQUIRE(w.block_on(src, udp_source(test::sim_addr(sink, 5000), 200)) == 200);
    std::set<int> distinct(t.got.begin(), t.got.end());
    CHECK(t.got.size() == 200);
    CHECK(distinct.size() == 200);
}

}  // namespace sim_world_test
