// echo_bench: a load generator for echo servers, built on corio.
//
//   echo_bench --port P [--conns 50] [--size 64] [--duration 5] [--pipeline 1]
//              [--tls [--ca-file FILE] [--server-name NAME]]
//
// Each connection sends a message, reads the whole echo back, checks every
// byte, and repeats (keeping --pipeline messages in flight). Prints one line:
//   msgs_per_sec=X mbps=Y p50_us=A p99_us=B errors=E
// and exits non-zero on any error or if nothing connected.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

#include <corio/net/tcp.hpp>
#include <corio/runtime/log.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/timer.hpp>
#include <corio/runtime/when_all.hpp>
#include <corio/version.hpp>
#if CORIO_HAS_TLS
#include <corio/runtime/deadline.hpp>
#include <corio/tls/stream.hpp>
#endif

#include "cli.hpp"
#include "histogram.hpp"

using namespace corio;
using namespace std::chrono_literals;

namespace {

struct Config {
    std::string host = "127.0.0.1";
    int port = -1;
    unsigned conns = 50;
    std::size_t size = 64;
    double duration = 5;
    unsigned pipeline = 1;
    unsigned loops = 1;
    BackendChoice backend = BackendChoice::automatic;
    bool use_tls = false;
    std::string ca_file;
    std::string server_name = "localhost";
#if CORIO_HAS_TLS
    tls::Context tls_ctx;
#endif
};

struct Totals {
    std::uint64_t msgs = 0;
    std::uint64_t errors = 0;
    std::uint64_t connected = 0;
    examples::Histogram latency;
    std::string first_error;
};

// Message k of connection c: bytes derived from (c, k), so a misrouted or
// corrupted echo is caught.
void fill(std::span<std::byte> m, std::uint32_t conn, std::uint64_t k) {
    std::uint64_t x = (std::uint64_t(conn) << 40) ^ (k * 0x9E3779B97F4A7C15ull);
    for (std::size_t i = 0; i < m.size(); ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        m[i] = std::byte(x);
    }
}

template <class S>
Task<Result<void>> read_full(S* s, std::span<std::byte> buf) {
    if constexpr (std::is_same_v<S, net::TcpStream>) {
        co_return co_await s->read_exact(buf);
    } else {
        while (!buf.empty()) {
            auto n = co_await s->recv(buf);
            if (!n) co_return n.error();
            if (*n == 0) co_return Errc::eof;
            buf = buf.subspan(*n);
        }
        co_return Result<void>{};
    }
}

// The message loop over a connected stream (TCP or TLS).
template <class S>
Task<void> exchange(S* s, net::Address addr, const Config* cfg, std::uint32_t id, TimePoint end,
                    Totals* t) {
    const std::size_t size = cfg->size;
    const unsigned depth = cfg->pipeline;
    std::vector<std::byte> out(size * depth), expect(size), in(size);
    std::vector<TimePoint> sent_at(depth);
    std::uint64_t next = 0, done = 0;
    // Fill the pipeline.
    for (unsigned i = 0; i < depth; ++i) {
        fill(std::span(out).subspan(i * size, size), id, next);
        sent_at[next % depth] = Clock::now();
        ++next;
    }
    auto w = co_await s->send_all(std::span<const std::byte>(out));
    if (!w) {
        ++t->errors;
        if (t->first_error.empty()) t->first_error = net::describe("send", addr, w.error());
        co_return;
    }
    while (done < next) {
        auto r = co_await read_full(s, std::span<std::byte>(in));
        if (!r) {
            ++t->errors;
            if (t->first_error.empty()) t->first_error = net::describe("recv", addr, r.error());
            co_return;
        }
        TimePoint now = Clock::now();
        fill(expect, id, done);
        if (std::memcmp(in.data(), expect.data(), size) != 0) {
            ++t->errors;
            if (t->first_error.empty()) t->first_error = "echo differs from what was sent";
            co_return;
        }
        t->latency.record(std::uint64_t(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - sent_at[done % depth])
                .count()));
        ++done;
        ++t->msgs;
        if (now < end) {
            std::span<std::byte> m = std::span(out).first(size);
            fill(m, id, next);
            sent_at[next % depth] = Clock::now();
            ++next;
            auto w2 = co_await s->send_all(std::span<const std::byte>(m));
            if (!w2) {
                ++t->errors;
                if (t->first_error.empty())
                    t->first_error = net::describe("send", addr, w2.error());
                co_return;
            }
        }
    }
}

Task<void> connection(net::Address addr, const Config* cfg, std::uint32_t id, TimePoint end,
                      Totals* t) {
    auto s = co_await net::TcpStream::connect(addr, 5s);
    if (!s) {
        ++t->errors;
        if (t->first_error.empty()) t->first_error = net::describe("connect", addr, s.error());
        co_return;
    }
    (void)s->set_nodelay();
#if CORIO_HAS_TLS
    if (cfg->use_tls) {
        auto ts = tls::Stream::client(cfg->tls_ctx, std::move(*s), cfg->server_name);
        Result<void> h = ts.error();
        if (ts) h = co_await ts->handshake(Deadline::after(5s));
        if (!h) {
            ++t->errors;
            if (t->first_error.empty()) t->first_error = net::describe("tls", addr, h.error());
            co_return;
        }
        ++t->connected;
        co_await exchange(&*ts, addr, cfg, id, end, t);
        co_return;
    }
#endif
    ++t->connected;
    co_await exchange(&*s, addr, cfg, id, end, t);
}

void run_loop(const Config& cfg, net::Address addr, unsigned first, unsigned count, TimePoint start,
              Totals* t) {
    try {
        LoopOptions lo;
        lo.backend = cfg.backend;
        Loop loop(lo);
        auto body = [](net::Address a, const Config* c, unsigned f, unsigned n, TimePoint st,
                       Totals* tot) -> Task<void> {
            TimePoint end = st + std::chrono::duration_cast<Duration>(
                                     std::chrono::duration<double>(c->duration));
            std::vector<Task<void>> conns;
            for (unsigned i = 0; i < n; ++i)
                conns.push_back(connection(a, c, f + i, end, tot));
            co_await when_all(std::move(conns));
        };
        loop.block_on(body(addr, &cfg, first, count, start, t));
    } catch (const std::exception& e) {
        ++t->errors;
        t->first_error = e.what();
    }
}

}  // namespace

int main(int argc, char** argv) {
    Config cfg;
    examples::Cli cli(argc, argv, "--port P [options]",
                      "Load generator for echo servers: each connection sends a message, reads\n"
                      "the echo back, verifies it and repeats.\n"
                      "Prints: msgs_per_sec=X mbps=Y p50_us=A p99_us=B errors=E\n"
                      "  (mbps: megabits per second of echoed payload, one direction)\n");
    cli.option("host ADDR", "server address", cfg.host);
    cli.option("port P", "server port (required)",
               [&cli, &cfg](const std::string& v) { cfg.port = cli.number("port", v, 1, 65535); });
    cli.option("conns N", "connections", cfg.conns, 1, 1'000'000);
    cli.option("size BYTES", "message size", cfg.size, 1, 64 << 20);
    cli.seconds("duration SECS", "how long to send, fractions allowed (default 5)", cfg.duration);
    cli.option("pipeline DEPTH", "messages in flight per connection", cfg.pipeline, 1, 4096);
    cli.option("loops N", "client event loops (threads), 0 = one per core", cfg.loops, 0, 1024);
    cli.backend(cfg.backend);
    cli.flag("tls", "talk TLS (echo_server --tls); the handshake is not timed", cfg.use_tls);
    cli.option("ca-file FILE", "trust this CA for --tls (default: the system store)", cfg.ca_file);
    cli.option("server-name N", "name to verify for --tls", cfg.server_name);
    cli.parse();
    if (cfg.port < 0) cli.fail("--port is required");
    if (cfg.use_tls) {
#if CORIO_HAS_TLS
        auto c = tls::Context::client(cfg.ca_file);
        if (!c) {
            std::fprintf(stderr, "echo_bench: --ca-file %s: %s\n", cfg.ca_file.c_str(),
                         c.error().message().c_str());
            return 2;
        }
        cfg.tls_ctx = std::move(*c);
#else
        cli.fail("--tls: corio was built without the tls part (OpenSSL 3)");
#endif
    }
    auto addr = net::Address::parse(cfg.host + ":" + std::to_string(cfg.port));
    if (!addr) addr = net::Address::parse("[" + cfg.host + "]:" + std::to_string(cfg.port));
    if (!addr) cli.fail("--host: not an IP address: '" + cfg.host + "'");
    if (cfg.loops == 0) cfg.loops = std::max(1u, std::thread::hardware_concurrency());
    cfg.loops = std::min(cfg.loops, cfg.conns);

    std::vector<Totals> totals(cfg.loops);
    std::vector<std::thread> threads;
    TimePoint start = Clock::now();
    unsigned per = cfg.conns / cfg.loops, extra = cfg.conns % cfg.loops, first = 0;
    for (unsigned i = 0; i < cfg.loops; ++i) {
        unsigned n = per + (i < extra ? 1 : 0);
        threads.emplace_back(run_loop, std::cref(cfg), *addr, first, n, start, &totals[i]);
        first += n;
    }
    for (auto& t : threads)
        t.join();
    double secs = std::chrono::duration<double>(Clock::now() - start).count();

    Totals all;
    for (auto& t : totals) {
        all.msgs += t.msgs;
        all.errors += t.errors;
        all.connected += t.connected;
        all.latency.merge(t.latency);
        if (all.first_error.empty()) all.first_error = t.first_error;
    }
    double rate = double(all.msgs) / secs;
    std::printf("msgs_per_sec=%.0f mbps=%.1f p50_us=%.1f p99_us=%.1f errors=%llu\n", rate,
                rate * double(cfg.size) * 8 / 1e6, double(all.latency.quantile(0.50)) / 1000.0,
                double(all.latency.quantile(0.99)) / 1000.0,
                static_cast<unsigned long long>(all.errors));
    std::fflush(stdout);
    if (!all.first_error.empty()) std::fprintf(stderr, "echo_bench: %s\n", all.first_error.c_str());
    if (all.connected == 0) {
        std::fprintf(stderr, "echo_bench: no connection succeeded\n");
        return 1;
    }
    return all.errors == 0 ? 0 : 1;
}
