// The fault suite (issue 10), part 1: peers that reset mid-read and
// mid-write, a reader that never reads, slowloris against a header timeout,
// and a tiny ring under a real socket load. Every case runs on both backends
// and is bounded in count and time; see docs/reliability.md. They also run
// on a simulated host (faults@sim), where time is the loop's virtual time and
// the seed decides every race (RSS there measures the simulator).
#include <array>
#include <string>
#include <vector>

#include <corio/runtime/sim_io.hpp>

#include "faults_support.hpp"

namespace faults_test {

using namespace corio;
using namespace std::chrono_literals;
using test::bytes;

namespace {

// ---- resets ------------------------------------------------------------------

constexpr std::size_t reset_msg = 64 * 1024;

struct ResetOutcomes {
    int handlers = 0;
    int idle_read_resets = 0;  // blocked in recv with nothing buffered
    int read_resets = 0;       // inside read_exact, half the bytes received
    int write_resets = 0;      // inside send_all, the peer's buffers full
    int unexpected = 0;
    std::string first_unexpected;
};

void unexpected(ResetOutcomes* o, std::string what) {
    if (o->unexpected++ == 0) o->first_unexpected = std::move(what);
}

bool is_reset(std::error_code ec) {
    return ec == std::errc::connection_reset || ec == std::errc::broken_pipe;
}

// The server's side of one connection: a one-byte command, an acknowledgement,
// then an idle read ('I'), a long read ('R') or a long write ('W'), which the
// peer interrupts with a reset. Whatever happens must come back as a value.
Task<void> reset_handler(net::TcpStream s, ResetOutcomes* o) {
    ++o->handlers;
    std::array<std::byte, 1> cmd{};
    auto c = co_await s.read_exact(cmd);
    if (!c) co_return unexpected(o, "command: " + c.error().message());
    auto ack = co_await s.send_all(bytes("k"));
    if (!ack) co_return unexpected(o, "ack: " + ack.error().message());
    if (cmd[0] == std::byte('I')) {
        std::array<std::byte, 64> buf{};
        auto r = co_await s.recv(buf);
        if (!r && r.error() == std::errc::connection_reset) {
            ++o->idle_read_resets;
        } else {
            unexpected(o, r ? "idle recv gave " + std::to_string(*r) : r.error().message());
        }
    } else if (cmd[0] == std::byte('R')) {
        std::vector<std::byte> buf(reset_msg);
        auto r = co_await s.read_exact(buf);
        if (!r && r.error() == std::errc::connection_reset) {
            ++o->read_resets;
        } else {
            unexpected(o, r ? "read_exact completed" : "read_exact: " + r.error().message());
        }
    } else {
        // Far more than the kernel buffers hold: the write is in progress
        // when the reset comes.
        std::vector<std::byte> chunk(256 * 1024);
        for (int i = 0; i < 1024; ++i) {
            auto w = co_await s.send_all(chunk);
            if (!w) {
                if (is_reset(w.error())) {
                    ++o->write_resets;
                } else {
                    unexpected(o, "send_all: " + w.error().message());
                }
                co_return;
            }
        }
        unexpected(o, "256 MiB sent to a peer that reset");
    }
}

Task<void> reset_acceptor(net::TcpListener* l, TaskGroup* g, ResetOutcomes* o, int n) {
    for (int i = 0; i < n; ++i) {
        auto s = co_await l->accept();
        REQUIRE(s);
        g->spawn(reset_handler(std::move(*s), o));
    }
}

// Opens a connection, asks for `mode`, lets the server get into its read or
// write, then closes with SO_LINGER 0: the server gets a RST, not a FIN.
// Gives "" or what went wrong (no REQUIRE here: an exception in one client
// would leave the others running).
Task<std::string> reset_client(net::Address addr, char mode) {
    auto s = co_await net::TcpStream::connect(addr, 5s);
    if (!s) co_return "connect: " + s.error().message();
    const char cmd[1] = {mode};
    auto c = co_await s->send_all(bytes(std::string_view(cmd, 1)));
    if (!c) co_return "send command: " + c.error().message();
    std::array<std::byte, 1> ack{};
    auto a = co_await s->read_exact(ack);
    if (!a) co_return "read ack: " + a.error().message();
    if (mode == 'R') {
        std::vector<std::byte> half(reset_msg / 2);
        auto w = co_await s->send_all(half);
        if (!w) co_return "send half: " + w.error().message();
    } else if (mode == 'W') {
        std::vector<std::byte> some(64 * 1024);
        auto r = co_await s->read_exact(some);  // the server is writing now
        if (!r) co_return "read some: " + r.error().message();
    } else {
        co_await sleep_for(1ms);  // the server is (very likely) waiting in recv
    }
    if (!s->set_linger_reset()) co_return "SO_LINGER failed";
    s->close();
    co_return std::string();
}

}  // namespace

TEST_CASE("peers resetting mid-read and mid-write, 600 times", "[faults][reset]") {
    const int fds0 = test::open_fds();
    test::run(
        [](Loop&) -> Task<void> {
            constexpr int total = 600;  // 200 of each mode
            constexpr int batch = 30;   // connections at once
            ResetOutcomes o;
            int clients_done = 0;
            std::string client_error;
            {
                auto l = net::TcpListener::bind(net::Address::loopback_v4(0));
                REQUIRE(l);
                auto addr = l->local_address().value();
                TaskGroup servers;
                servers.spawn(reset_acceptor(&*l, &servers, &o, total));
                for (int b = 0; b < total; b += batch) {
                    TaskGroup clients;
                    for (int i = b; i < b + batch; ++i) {
                        clients.spawn(
                            [](net::Address a, char m, int* done, std::string* err) -> Task<void> {
                                std::string e = co_await reset_client(a, m);
                                if (e.empty()) {
                                    ++*done;
                                } else if (err->empty()) {
                                    *err = std::string(1, m) + ": " + e;
                                }
                            }(addr, "IRW"[i % 3], &clients_done, &client_error));
                    }
                    co_await clients.wait();
                }
                co_await servers.wait();
            }
            INFO("first unexpected outcome: " << o.first_unexpected);
            INFO("first client error: " << client_error);
            CHECK(o.unexpected == 0);
            CHECK(clients_done == total);
            CHECK(o.handlers == total);
            CHECK(o.idle_read_resets == total / 3);
            CHECK(o.read_resets == total / 3);
            CHECK(o.write_resets == total / 3);
            test::report("resets: ", o.handlers, " connections reset by the peer (",
                         o.idle_read_resets, " idle reads, ", o.read_resets, " mid-read, ",
                         o.write_resets, " mid-write), ", o.unexpected, " unexpected outcomes");
        },
        60s);
    // Every connection's descriptor was closed, on both sides.
    CHECK(test::open_fds() == fds0);
}

// ---- a reader that never reads ---------------------------------------------

namespace {

struct Writer {
    std::uint64_t sent = 0;
    std::error_code end{};
    bool finished = false;
};

// Sends the same chunk over and over, counting what the kernel took, until an
// error (the cancellation) stops it.
Task<void> stubborn_writer(net::TcpStream* s, std::span<const std::byte> chunk, Writer* w) {
    for (;;) {
        auto r = co_await s->send(chunk);
        if (!r) {
            w->end = r.error();
            break;
        }
        w->sent += *r;
    }
    w->finished = true;
}

}  // namespace

TEST_CASE("a slow reader holds the writer back; memory stays bounded; cancel works",
          "[faults][slow-reader]") {
    test::run(
        [](Loop& loop) -> Task<void> {
            constexpr int conns = 32;
            std::vector<std::pair<net::TcpStream, net::TcpStream>> pairs;
            for (int i = 0; i < conns; ++i) {
                auto p = co_await test::tcp_pair();
                REQUIRE(p);
                pairs.push_back(std::move(*p));
            }
            const std::vector<std::byte> chunk(256 * 1024, std::byte{'x'});
            std::vector<Writer> w(conns);
            const std::uint64_t rss0 = test::rss_bytes();
            std::vector<JoinHandle<void>> hs;
            for (int i = 0; i < conns; ++i)
                hs.push_back(loop.spawn(stubborn_writer(&pairs[i].second, chunk, &w[i])));

            auto total = [&] {
                std::uint64_t n = 0;
                for (auto& x : w)
                    n += x.sent;
                return n;
            };
            std::uint64_t rss_max = rss0;
            for (int i = 0; i < 20; ++i) {  // 400 ms: the buffers fill
                co_await sleep_for(20ms);
                rss_max = std::max(rss_max, test::rss_bytes());
            }
            const std::uint64_t sent1 = total();
            for (int i = 0; i < 15; ++i) {  // 300 ms more: nothing moves
                co_await sleep_for(20ms);
                rss_max = std::max(rss_max, test::rss_bytes());
            }
            const std::uint64_t sent2 = total();
            INFO("sent " << sent1 << " then " << sent2 << " bytes over " << conns
                         << " connections; RSS +" << (rss_max - rss0) / 1024 << " KiB");
            // Held back: no progress while nobody reads, and no connection got
            // further than what the kernel's socket buffers hold.
            CHECK(sent2 == sent1);
            for (auto& x : w) {
                CHECK(x.sent > 0);
                CHECK(x.sent < 64 * test::mib);
                CHECK(!x.finished);
            }
            // Nothing piles up in user space: data waits in the kernel.
            CHECK(rss_max - rss0 < 16 * test::mib);
            test::report("slow reader: ", conns, " writers held back after ", sent1 / test::mib,
                         " MiB in the kernel, RSS +", (rss_max - rss0) / 1024, " KiB");

            // A reader that wakes up lets its writer go on.
            std::uint64_t got = 0;
            auto drainer = loop.spawn([](net::TcpStream* s, std::uint64_t* got) -> Task<void> {
                std::vector<std::byte> buf(1 << 20);
                for (;;) {
                    auto r = co_await s->recv(buf);
                    if (!r || *r == 0) co_return;
                    *got += *r;
                }
            }(&pairs[1].first, &got));
            const std::uint64_t stalled_at = w[1].sent;
            CHECK(co_await test::eventually([&] { return w[1].sent > stalled_at + 4 * test::mib; },
                                            2s));

            // Cancelling the writers ends them promptly, as a value.
            const auto t0 = loop.now();
            for (auto& h : hs)
                h.cancel();
            for (auto& h : hs)
                co_await h;
            const auto cancel_took = loop.now() - t0;
            CHECK(cancel_took < 1s);
            for (auto& x : w) {
                CHECK(x.finished);
                CHECK(x.end == std::errc::operation_canceled);
            }
            // Every byte the kernel took reaches the reader.
            REQUIRE(pairs[1].second.shutdown(SHUT_WR));
            co_await drainer;
            CHECK(got == w[1].sent);

            // A send with a timeout on a full socket gives timed_out.
            const int fd = pairs[0].second.fd();
            if (detail::SimIo* sim = detail::current_sim()) {
                while (sim->send(fd, chunk, MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {
                }
            } else {
                while (::send(fd, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {
                }
            }
            auto t = co_await pairs[0].second.send(chunk).timeout(30ms);
            INFO("send gave " << (t ? std::to_string(*t) : t.error().message()));
            REQUIRE(!t);
            CHECK(t.error() == std::errc::timed_out);
        },
        20s);
}

// ---- slowloris against a header timeout -------------------------------------

namespace {

constexpr auto header_timeout = 300ms;

struct HttpStats {
    int served = 0;
    int cut_off = 0;
    int other = 0;
};

// Reads the head of a request: lines until an empty one.
Task<Result<int>> read_head(net::BufferedReader* rd) {
    int lines = 0;
    for (;;) {
        auto l = co_await rd->read_line(8192);
        if (!l) co_return l.error();
        if (l->empty()) co_return lines;
        if (++lines > 100) co_return make_error_code(Errc::limit_exceeded);
    }
}

// A minimal HTTP/1.1 reader: the whole head must arrive within
// header_timeout of the connection's start, else the connection is closed
// (what a real server answers with 408 and a close).
Task<void> http_conn(net::TcpStream s, HttpStats* st) {
    net::BufferedReader rd(s);
    auto head = co_await with_timeout(read_head(&rd), header_timeout);
    if (!head) {
        (head.error() == std::errc::timed_out ? st->cut_off : st->other) += 1;
        co_return;  // closing the socket cuts the client off
    }
    auto w = co_await s.send_all(bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    (w ? st->served : st->other) += 1;
}

Task<void> http_acceptor(net::TcpListener* l, TaskGroup* g, HttpStats* st) {
    for (;;) {
        auto s = co_await l->accept();
        if (!s) co_return;  // cancelled: the test is over
        g->spawn(http_conn(std::move(*s), st));
    }
}

}  // namespace

TEST_CASE("slowloris: slow heads are cut off by the header timeout, normal clients served",
          "[faults][slowloris]") {
    const int fds0 = test::open_fds();
    test::run(
        [](Loop& loop) -> Task<void> {
            constexpr int attackers = 200;
            HttpStats st;
            std::vector<Duration> cut(attackers);
            std::vector<Duration> normal;
            {
                auto l = net::TcpListener::bind(net::Address::loopback_v4(0));
                REQUIRE(l);
                auto addr = l->local_address().value();
                TaskGroup conns;
                auto acc = loop.spawn(http_acceptor(&*l, &conns, &st));
                TaskGroup attack;
                for (int i = 0; i < attackers; ++i) {
                    attack.spawn([](net::Address a, Duration* out) -> Task<void> {
                        *out = co_await test::slowloris(a);
                    }(addr, &cut[i]));
                }
                // Normal clients during the attack, every 50 ms.
                for (int i = 0; i < 10; ++i) {
                    co_await sleep_for(50ms);
                    normal.push_back(co_await test::http_get(addr, "/", "ok"));
                }
                co_await attack.wait();
                acc.cancel();
                co_await acc;
                co_await conns.wait();
            }
            CHECK(st.cut_off == attackers);
            CHECK(st.served == 10);
            CHECK(st.other == 0);
            Duration worst{};
            for (auto d : cut) {
                CHECK(d > Duration{});  // 0: never cut off
                worst = std::max(worst, d);
            }
            // The timeout plus one client poll (100 ms), with slack for a loaded machine.
            CHECK(worst < header_timeout + 1s);
            Duration slowest_normal{};
            for (auto d : normal)
                slowest_normal = std::max(slowest_normal, d);
            CHECK(slowest_normal < 1s);  // Duration::max(): not served
            test::report("slowloris (in-test server): ", attackers,
                         " slow heads cut off after at most ", test::ms(worst), " ms (timeout ",
                         test::ms(header_timeout), " ms); ", normal.size(),
                         " normal requests, slowest ", test::ms(slowest_normal), " ms");
        },
        20s);
    CHECK(test::open_fds() == fds0);
}

// ---- a tiny ring under load ---------------------------------------------------

namespace {

constexpr int ring_conns = 64;
constexpr std::size_t ring_bytes = 256 * 1024;  // per connection, each way

Task<void> echo_conn(net::TcpStream s) {
    std::array<std::byte, 4096> buf{};
    for (;;) {
        auto n = co_await s.recv(buf);
        if (!n || *n == 0) co_return;
        if (!co_await s.send_all(std::span(buf).first(*n))) co_return;
    }
}

Task<void> echo_acceptor(net::TcpListener* l, TaskGroup* g, int n) {
    for (int i = 0; i < n; ++i) {
        auto s = co_await l->accept();
        REQUIRE(s);
        g->spawn(echo_conn(std::move(*s)));
    }
}

// Writes ring_bytes of the pattern in uneven pieces while reading the echo
// back and checking every byte; gives the bytes verified.
Task<std::uint64_t> pattern_client(net::Address addr, int id) {
    auto s = co_await net::TcpStream::connect(addr, 5s);
    if (!s) co_return 0;
    auto writer = [](net::TcpStream* s, int id) -> Task<void> {
        std::vector<std::byte> buf(8192);
        std::uint64_t off = 0;
        std::size_t piece = 100 + std::size_t(id) * 37 % 3000;
        while (off < ring_bytes) {
            std::size_t n = std::min<std::uint64_t>(piece, ring_bytes - off);
            for (std::size_t i = 0; i < n; ++i)
                buf[i] = test::pattern_at(off + i);
            if (!co_await s->send_all(std::span(buf).first(n))) co_return;
            off += n;
            piece = piece * 7 % 8000 + 1;
        }
    };
    auto reader = [](net::TcpStream* s) -> Task<std::uint64_t> {
        std::vector<std::byte> buf(5000);
        std::uint64_t off = 0;
        while (off < ring_bytes) {
            auto n = co_await s->recv(buf);
            if (!n || *n == 0) co_return off;
            for (std::size_t i = 0; i < *n; ++i) {
                if (buf[i] != test::pattern_at(off + i)) co_return off + i;  // first bad byte
            }
            off += *n;
        }
        co_return off;
    };
    auto [w, got] = co_await when_all(writer(&*s, id), reader(&*s));
    (void)w;
    co_return got;
}

}  // namespace

TEST_CASE("a tiny ring (4 SQ, 4 CQ entries) echoes 64 connections losing nothing",
          "[faults][tiny-ring]") {
    LoopOptions o = test::options();
    o.sq_entries = 4;
    o.cq_entries = 4;
    test::run(
        [](Loop& loop) -> Task<void> {
            std::vector<std::uint64_t> got(ring_conns);
            {
                auto l = net::TcpListener::bind(net::Address::loopback_v4(0));
                REQUIRE(l);
                auto addr = l->local_address().value();
                TaskGroup servers;
                servers.spawn(echo_acceptor(&*l, &servers, ring_conns));
                TaskGroup clients;
                for (int i = 0; i < ring_conns; ++i) {
                    clients.spawn([](net::Address a, int id, std::uint64_t* out) -> Task<void> {
                        *out = co_await pattern_client(a, id);
                    }(addr, i, &got[i]));
                }
                co_await clients.wait();
                co_await servers.wait();
            }
            for (auto g : got)
                CHECK(g == ring_bytes);
            const auto& st = loop.stats();
            INFO("backend " << to_string(loop.kind()) << ": sq_full " << st.sq_full
                            << ", cq_overflows " << st.cq_overflows);
            if (loop.kind() == BackendKind::io_uring) {
                CHECK(st.sq_full > 0);  // the load did press on the ring
            }
            test::report("tiny ring: ", ring_conns, " connections x ", ring_bytes / 1024,
                         " KiB echoed intact; sq_full ", st.sq_full, ", cq_overflows ",
                         st.cq_overflows);
        },
        30s, o);
}

}  // namespace faults_test
