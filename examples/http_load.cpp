// http_load: a keep-alive HTTP/1.1 load generator, built on corio.
//
//   http_load http://127.0.0.1:8080/index.html [--conns 50] [--duration 5] [--pipeline 1]
//             [--timeout 5] [--backend auto|io_uring|epoll]
//
// Each connection sends GET for the URL (--pipeline requests at a time), reads
// every response whole through http::ResponseParser (the strict framing the
// library's client uses: Content-Length or chunked), counts it, and sends the
// next request. Prints one line:
//   requests=N secs=S req_per_sec=R non2xx=K body_bytes=B p50_us=A p99_us=B errors=E
// and exits 1 on any error (connect, reset, malformed or cut-short response, a
// response still missing --timeout seconds after the end) or if nothing
// connected.
//
// What it is for: scripts/http_bench.sh measures servers with wrk, and on a
// 2-core machine wrk (one thread, epoll) runs out of CPU before a fast server
// does. This client spends less CPU per request (io_uring batches its sends
// and receives), so the server is what saturates. `LOADGEN=http_load
// scripts/http_bench.sh` uses it instead of wrk; scripts/bench.sh runs both.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <corio/http/codec.hpp>
#include <corio/http/url.hpp>
#include <corio/net/resolve.hpp>
#include <corio/net/tcp.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/task_group.hpp>
#include <corio/runtime/timer.hpp>

#include "cli.hpp"
#include "histogram.hpp"

using namespace corio;
using namespace std::chrono_literals;

namespace {

struct Config {
    std::string request;  // one GET, ready to send
    unsigned conns = 50;
    Duration duration = 5s;  // of sending
    Duration timeout = 5s;   // after `duration`, for the answers still owed
    unsigned pipeline = 1;
    BackendChoice backend = BackendChoice::automatic;
};

struct Totals {
    std::uint64_t requests = 0;
    std::uint64_t non2xx = 0;
    std::uint64_t body_bytes = 0;
    std::uint64_t errors = 0;
    std::uint64_t connected = 0;
    examples::Histogram latency;
    std::string first_error;

    void error(std::string what) {
        ++errors;
        if (first_error.empty()) first_error = std::move(what);
    }
};

// One connection: keeps `pipeline` requests in flight until `end`, then reads
// the answers still owed.
Task<void> connection(net::Address addr, const Config* cfg, TimePoint end, Totals* t) {
    auto s = co_await net::TcpStream::connect(addr, 5s);
    if (!s) co_return t->error(net::describe("connect", addr, s.error()));
    (void)s->set_nodelay();
    ++t->connected;
    const std::size_t len = cfg->request.size();
    const unsigned depth = cfg->pipeline;
    std::string batch;
    for (unsigned i = 0; i < depth; ++i)
        batch += cfg->request;
    std::vector<TimePoint> sent_at(depth);
    std::vector<std::byte> in(16384);
    http::ResponseParser parser;
    parser.set_stream_body(true);
    std::uint64_t sent = 0, done = 0;
    unsigned to_send = depth;
    for (;;) {
        if (to_send > 0) {
            const TimePoint now = Clock::now();
            for (unsigned i = 0; i < to_send; ++i)
                sent_at[(sent + i) % depth] = now;
            auto w = co_await s->send_all(std::string_view(batch).substr(0, to_send * len));
            if (!w) co_return t->error(net::describe("send", addr, w.error()));
            sent += to_send;
            to_send = 0;
        }
        if (done == sent) co_return;
        auto n = co_await s->recv(in);
        if (!n) co_return t->error(net::describe("recv", addr, n.error()));
        if (*n == 0) co_return t->error("the server closed a connection with requests unanswered");
        std::string_view data(reinterpret_cast<const char*>(in.data()), *n);
        while (!data.empty()) {
            data.remove_prefix(parser.feed(data));
            if (parser.state() == http::ParseState::error) {
                co_return t->error("malformed response: " + std::string(parser.error_reason()));
            }
            if (parser.state() != http::ParseState::done) continue;
            const TimePoint now = Clock::now();
            const int status = parser.response().status;
            const bool keep = parser.response().keep_alive();
            t->latency.record(std::uint64_t(
                std::chrono::duration_cast<std::chrono::nanoseconds>(now - sent_at[done % depth])
                    .count()));
            ++t->requests;
            t->body_bytes += parser.body_bytes();
            if (status < 200 || status > 299) ++t->non2xx;
            ++done;
            parser.reset();
            if (!keep) co_return t->error("the server asked to close (Connection: close)");
            if (now < end) ++to_send;
        }
    }
}

Task<void> run(net::Address addr, const Config* cfg, Totals* t) {
    const TimePoint end = Clock::now() + cfg->duration;
    TaskGroup conns;
    for (unsigned i = 0; i < cfg->conns; ++i)
        conns.spawn(connection(addr, cfg, end, t));
    // A server that stops answering must not hang the run: --timeout after the
    // end, what is still waiting is cancelled and counted as an error.
    TaskGroup watchdog;
    watchdog.spawn([](TaskGroup* g, TimePoint at, Totals* tot) -> Task<void> {
        if (!co_await sleep_until(at)) co_return;
        if (g->size() > 0) tot->error("answers still missing --timeout after the end");
        g->cancel();
    }(&conns, end + cfg->timeout, t));
    co_await conns.wait();
    watchdog.cancel();
    co_await watchdog.wait();
}

}  // namespace

int main(int argc, char** argv) {
    Config cfg;
    std::string url_text;
    examples::Cli cli(argc, argv, "URL [options]",
                      "Keep-alive HTTP/1.1 load generator: each connection sends GET URL, reads\n"
                      "the whole response (strict framing), and sends the next.\n"
                      "Prints: requests=N secs=S req_per_sec=R non2xx=K body_bytes=B p50_us=A "
                      "p99_us=B errors=E\n");
    cli.positional("URL", url_text);
    cli.option("conns N", "connections", cfg.conns, 1, 100'000);
    cli.seconds("duration SECS", "how long to send, fractions allowed (default 5)", cfg.duration);
    cli.option("pipeline DEPTH", "requests in flight per connection", cfg.pipeline, 1, 1024);
    cli.seconds("timeout SECS", "how long after the end to wait for answers still owed (default 5)",
                cfg.timeout);
    cli.backend(cfg.backend);
    cli.parse();
    auto url = http::Url::parse(url_text);
    if (!url || url->scheme() != "http") cli.fail("not an http:// URL: '" + url_text + "'");
    cfg.request = "GET " + url->target() + " HTTP/1.1\r\nHost: " + url->authority() + "\r\n\r\n";

    Totals t;
    double secs = 0;
    try {
        LoopOptions lo;
        lo.backend = cfg.backend;
        Loop loop(lo);
        auto addrs = loop.block_on(net::resolve(std::string(url->host_name()), url->port()));
        if (!addrs || addrs->empty()) {
            std::fprintf(stderr, "http_load: %s\n",
                         addrs ? "no address"
                               : net::describe("resolve", url->host(), addrs.error()).c_str());
            return 1;
        }
        const TimePoint start = Clock::now();
        loop.block_on(run(addrs->front(), &cfg, &t));
        secs = std::chrono::duration<double>(Clock::now() - start).count();
    } catch (const std::exception& e) {
        t.error(e.what());
    }
    std::printf(
        "requests=%llu secs=%.3f req_per_sec=%.0f non2xx=%llu body_bytes=%llu p50_us=%.1f "
        "p99_us=%.1f errors=%llu\n",
        static_cast<unsigned long long>(t.requests), secs,
        secs > 0 ? double(t.requests) / secs : 0.0, static_cast<unsigned long long>(t.non2xx),
        static_cast<unsigned long long>(t.body_bytes), double(t.latency.quantile(0.50)) / 1000.0,
        double(t.latency.quantile(0.99)) / 1000.0, static_cast<unsigned long long>(t.errors));
    std::fflush(stdout);
    if (!t.first_error.empty()) std::fprintf(stderr, "http_load: %s\n", t.first_error.c_str());
    if (t.connected == 0) {
        std::fprintf(stderr, "http_load: no connection succeeded\n");
        return 1;
    }
    return t.errors == 0 ? 0 : 1;
}
