// Resilience against real sockets on 127.0.0.1 (both backends): a service
// that fails its first K requests, then answers; a service that is down; a
// service that never answers; a concurrency limit seen from the server.
//
// The protocol: the client sends "GET\n"; the server answers "200 <n>\n",
// "503\n", or resets the connection.
#include <algorithm>
#include <string>
#include <string_view>

#include <corio/runtime/resilience.hpp>

#include "net_support.hpp"

namespace runtime_resilience_io_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

/// How the test service behaves, and what it saw.
struct Service {
    int reset_first = 0;  // reset the first N connections without answering
    int busy_first = 0;   // then answer "503" to the next N requests
    bool silent = false;  // never answer (but keep the connection open)
    Duration delay{};     // wait this long before answering
    int requests = 0;     // requests seen
    int in_flight = 0;    // requests being handled now
    int peak_in_flight = 0;
};

Task<void> serve_one(net::TcpStream s, Service* svc) {
    std::array<std::byte, 64> buf;
    auto n = co_await s.recv(buf);
    if (!n || *n == 0) co_return;
    const int seq = ++svc->requests;
    svc->peak_in_flight = std::max(svc->peak_in_flight, ++svc->in_flight);
    struct Leave {
        Service* s;
        ~Leave() { --s->in_flight; }
    } leave{svc};
    if (seq <= svc->reset_first) {
        (void)s.set_linger_reset();
        co_return;  // closing with linger 0 sends a RST
    }
    if (svc->silent) {
        co_await sleep_for(1h);  // ends when the test cancels the server
        co_return;
    }
    if (svc->delay > Duration::zero()) co_await sleep_for(svc->delay);
    std::string reply =
        seq <= svc->reset_first + svc->busy_first ? "503\n" : "200 " + std::to_string(seq) + "\n";
    (void)co_await s.send_all(test::bytes(reply));
}

/// Accepts until cancelled; each connection is served concurrently.
Task<void> serve(net::TcpListener l, Service* svc) {
    TaskGroup g;
    for (;;) {
        auto c = co_await l.accept();
        if (!c) break;
        g.spawn(serve_one(std::move(*c), svc));
    }
    g.cancel();
    co_await g.wait();
}

/// One request: connect, send "GET", read the status line. The status is a
/// value (a 503 is an answer); the failures of the network are errors
/// (refused, reset, Errc::eof when the server hangs up without answering).
Task<Result<int>> get(net::Address addr, int* connects) {
    ++*connects;
    auto s = co_await net::TcpStream::connect(addr, 2s);
    if (!s) co_return s.error();
    auto w = co_await s->send_all(test::bytes("GET\n"));
    if (!w) co_return w.error();
    std::string line;
    std::array<std::byte, 64> buf;
    while (line.find('\n') == std::string::npos) {
        auto n = co_await s->recv(buf);
        if (!n) co_return n.error();
        if (*n == 0) co_return Errc::eof;
        line.append(test::chars(std::span(buf).first(*n)));
    }
    co_return std::stoi(line);
}

/// The crawler's rule: a 5xx answer or a transient network error is worth
/// another try and counts against the host.
bool is_5xx_or_transient(const Result<int>& r) {
    return r ? *r >= 500 : is_transient_error(r.error());
}
bool is_5xx_or_error(const Result<int>& r) {
    return r ? *r >= 500 : counts_as_failure(r.error());
}

RetryPolicy fast_policy(int attempts) {
    RetryPolicy p;
    p.max_attempts = attempts;
    p.initial_backoff = 2ms;
    p.max_backoff = 20ms;
    p.seed = 1;
    return p;
}

/// An address where nothing listens: a port the kernel gave us, closed again.
net::Address closed_port() {
    auto l = net::TcpListener::bind(net::Address::loopback_v4(0)).value("bind");
    net::Address a = l.local_address().value("local_address");
    l.close();
    return a;
}

}  // namespace

TEST_CASE("retry + breaker + deadline get the answer from a service that fails K times",
          "[resilience][io]") {
    test::run([](Loop& loop) -> Task<void> {
        auto l = net::TcpListener::bind(net::Address::loopback_v4(0)).value("bind");
        net::Address addr = l.local_address().value("local_address");
        Service svc;
        svc.reset_first = 2;  // two connections reset...
        svc.busy_first = 2;   // ...then two "503"s, then "200 5"
        auto server = loop.spawn(serve(std::move(l), &svc));

        BreakerOptions bo;
        bo.failure_threshold = 10;  // more than K: the breaker stays closed
        CircuitBreaker breaker(bo);
        int connects = 0;
        const TimePoint t0 = loop.now();
        auto r = co_await retry(
            fast_policy(6).until(Deadline::after(5s)),
            [&] { return breaker.call([&] { return get(addr, &connects); }, is_5xx_or_error); },
            is_5xx_or_transient);
        REQUIRE(r.result);
        CHECK(*r.result == 200);
        CHECK(r.attempts == 5);
        CHECK(r.stop == RetryStop::succeeded);
        CHECK(connects == 5);
        CHECK(svc.requests == 5);
        CHECK(breaker.state() == BreakerState::closed);
        CHECK(breaker.stats().failures == 4);
        CHECK(breaker.stats().successes == 1);
        CHECK(loop.now() - t0 < 5s);

        // Too few attempts: the last answer (a 503) is the result.
        svc.requests = 0;
        connects = 0;
        auto r2 = co_await retry(
            fast_policy(3), [&] { return get(addr, &connects); }, is_5xx_or_transient);
        REQUIRE(r2.result);
        CHECK(*r2.result == 503);
        CHECK(r2.stop == RetryStop::attempts_exhausted);
        CHECK(connects == 3);

        server.cancel();
        co_await server;
    });
}

TEST_CASE("a service that is down: the breaker opens and later calls make no connect at all",
          "[resilience][io]") {
    test::run([](Loop& loop) -> Task<void> {
        const net::Address down = closed_port();
        BreakerOptions bo;
        bo.failure_threshold = 3;
        bo.cool_down = 200ms;
        int opened = 0;
        bo.on_state_change = [&opened](const CircuitBreaker&, BreakerState, BreakerState to) {
            if (to == BreakerState::open) ++opened;
        };
        CircuitBreaker breaker(bo);
        int connects = 0;
        auto call = [&] { return breaker.call([&] { return get(down, &connects); }); };

        // Refused three times: open. The fourth attempt is rejected by the
        // breaker (circuit_open is not retryable), so retry stops there.
        auto r = co_await retry(fast_policy(10), call);
        CHECK(r.result.error() == Errc::circuit_open);
        CHECK(r.attempts == 4);
        CHECK(r.stop == RetryStop::not_retryable);
        CHECK(connects == 3);
        CHECK(opened == 1);
        CHECK(breaker.state() == BreakerState::open);

        // While open: a hundred calls fail at once, and the loop submits no
        // connect (on epoll a connect may finish inline without a submission:
        // our own count covers that).
        const auto idx = static_cast<std::size_t>(OpKind::connect);
        // One attempt each, so no backoff sleep: "at once" whatever the machine's speed.
        const std::uint64_t submitted = loop.stats().submitted[idx];
        for (int i = 0; i < 100; ++i) {
            auto rej = co_await retry(fast_policy(10), call);
            CHECK(rej.result.error() == Errc::circuit_open);
            CHECK(rej.attempts == 1);
            CHECK(rej.stop == RetryStop::not_retryable);
        }
        CHECK(loop.stats().submitted[idx] == submitted);
        CHECK(connects == 3);
        CHECK(breaker.stats().rejected == 101);

        // After the cool-down one trial goes through; refused again, it
        // opens the breaker for another cool-down.
        co_await sleep_for(250ms);
        CHECK(breaker.state() == BreakerState::half_open);
        auto trial = co_await call();
        CHECK(trial.error() == std::errc::connection_refused);
        CHECK(connects == 4);
        CHECK(breaker.state() == BreakerState::open);
        CHECK(opened == 2);

        // The service comes back on another port: a breaker per host means
        // the new one starts closed and answers.
        auto l = net::TcpListener::bind(net::Address::loopback_v4(0)).value("bind");
        net::Address up = l.local_address().value("local_address");
        Service svc;
        auto server = loop.spawn(serve(std::move(l), &svc));
        CircuitBreakerMap hosts(bo);
        auto ok = co_await hosts.get(up.to_string()).call([&] { return get(up, &connects); });
        REQUIRE(ok);
        CHECK(*ok == 200);
        CHECK(hosts.get(down.to_string()).state() == BreakerState::closed);  // a fresh one
        server.cancel();
        co_await server;
    });
}

TEST_CASE("a service that never answers: retry ends by the deadline", "[resilience][io]") {
    test::run([](Loop& loop) -> Task<void> {
        auto l = net::TcpListener::bind(net::Address::loopback_v4(0)).value("bind");
        net::Address addr = l.local_address().value("local_address");
        Service svc;
        svc.silent = true;
        auto server = loop.spawn(serve(std::move(l), &svc));
        int connects = 0;
        RetryPolicy p = fast_policy(100);
        p.attempt_timeout = 60ms;
        p.deadline = Deadline::after(200ms);
        const TimePoint t0 = loop.now();
        auto r = co_await retry(p, [&] { return get(addr, &connects); });
        const Duration took = loop.now() - t0;
        CHECK(r.stop == RetryStop::deadline);
        CHECK(r.result.error() == std::errc::timed_out);
        CHECK(r.attempts >= 2);  // the per-attempt timeout let it try again
        CHECK(r.attempts == connects);
        CHECK(took >= 100ms);
        CHECK(took < 200ms + 300ms);  // a shared machine: generous, but bounded
        server.cancel();
        co_await server;
    });
}

TEST_CASE("a bulkhead keeps the requests in flight at the server under its limit",
          "[resilience][io]") {
    test::run([](Loop& loop) -> Task<void> {
        auto l = net::TcpListener::bind(net::Address::loopback_v4(0)).value("bind");
        net::Address addr = l.local_address().value("local_address");
        Service svc;
        svc.delay = 10ms;
        auto server = loop.spawn(serve(std::move(l), &svc));
        Bulkhead limit(3);
        int connects = 0;
        auto one = [](Bulkhead* b, net::Address a, int* c) -> Task<Result<int>> {
            co_return co_await b->call([a, c] { return get(a, c); });
        };
        std::vector<Task<Result<int>>> ts;
        for (int i = 0; i < 12; ++i)
            ts.push_back(one(&limit, addr, &connects));
        auto rs = co_await when_all(std::move(ts));
        for (auto& r : rs)
            CHECK(r);
        CHECK(svc.requests == 12);
        CHECK(svc.peak_in_flight <= 3);
        CHECK(limit.stats().peak_in_flight == 3);
        CHECK(limit.in_flight() == 0);
        server.cancel();
        co_await server;
    });
}

}  // namespace runtime_resilience_io_test
