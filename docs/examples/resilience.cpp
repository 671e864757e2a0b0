// The resilience tools around a flaky dependency: a Deadline for the whole
// request, retry with exponential backoff and full jitter for passing
// failures, a CircuitBreaker so a dead dependency fails fast, and a Bulkhead
// to bound how many calls are in flight.
#include <cstdio>
#include <system_error>
#include <vector>

#include <corio/runtime/deadline.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/resilience.hpp>
#include <corio/runtime/task.hpp>
#include <corio/runtime/timer.hpp>
#include <corio/runtime/when_all.hpp>

using namespace corio;
using namespace std::chrono_literals;

// A stand-in for a remote service: refuses the first `fail_first` calls.
struct Flaky {
    int fail_first;
    int calls = 0;
};

Task<Result<int>> call_service(Flaky* svc) {
    co_await sleep_for(2ms);
    if (++svc->calls <= svc->fail_first) co_return std::errc::connection_refused;
    co_return 42;
}

struct Client {
    Bulkhead limit{4};  // at most 4 calls in flight, the rest wait in order
    CircuitBreaker breaker{[] {
        BreakerOptions o;
        o.name = "service";
        o.failure_threshold = 5;  // 5 failures in a row open it
        o.cool_down = 1s;         // then it rejects for a second
        o.on_state_change = [](const CircuitBreaker& b, BreakerState from, BreakerState to) {
            std::printf("breaker %s: %s -> %s\n", b.name().c_str(), to_string(from), to_string(to));
        };
        return o;
    }()};
    RetryPolicy policy = [] {
        RetryPolicy p;
        p.max_attempts = 4;  // the first call and three retries
        p.initial_backoff = 5ms;
        p.max_backoff = 50ms;  // full jitter: each delay uniform in [0, ceiling]
        return p;
    }();

    // One request: a permit, then retries of breaker-guarded calls, all
    // within `deadline`.
    Task<Result<int>> request(Flaky* svc, Deadline deadline) {
        auto permit = co_await with_deadline(limit.acquire(), deadline);
        if (!permit) co_return permit.error();  // timed_out, rejected, canceled
        auto r = co_await retry(policy.until(deadline), [this, svc] {
            return breaker.call([svc] { return call_service(svc); });
        });
        if (!r.result) {
            std::printf("gave up after %d attempts (%s): %s\n", r.attempts, to_string(r.stop),
                        r.result.error().message().c_str());
        }
        co_return std::move(r.result);
    }
};

Task<int> demo() {
    Client client;
    // Fails twice, then answers: retry hides the passing failure.
    Flaky shaky{2};
    auto a = co_await client.request(&shaky, Deadline::after(1s));
    std::printf("shaky service: %d after %d calls\n", a.value_or(-1), shaky.calls);

    // Down for good: the breaker opens after 5 failures; later requests fail
    // at once with circuit_open instead of waiting on a dead service.
    Flaky down{1'000'000};
    for (int i = 0; i < 3; ++i)
        (void)co_await client.request(&down, Deadline::after(1s));
    std::printf("down service: %d calls for 3 requests, breaker %s\n", down.calls,
                to_string(client.breaker.state()));

    // Many requests at once: the bulkhead lets 4 through at a time.
    client.breaker.reset();
    Flaky fine{0};
    std::vector<Task<Result<int>>> many;
    for (int i = 0; i < 10; ++i)
        many.push_back(client.request(&fine, Deadline::after(1s)));
    auto results = co_await when_all(std::move(many));
    std::printf("10 requests, at most %zu in flight\n", client.limit.stats().peak_in_flight);
    co_return a&& results.size() == 10 && client.limit.stats().peak_in_flight <= 4 ? 0 : 1;
}

int main() {
    return block_on(demo());
}
