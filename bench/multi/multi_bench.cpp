// Many-loop benchmarks: cross-loop message throughput and round-trip latency
// through SharedChannel (MSG_RING vs eventfd wake-ups on io_uring, and epoll),
// and the scaling of a CPU-bound handler from 1 to 2 loops.
//
//   multi_bench [--messages N] [--roundtrips N] [--requests N] [--work-us N]
//               [--only throughput|latency|scaling] [--pin]
//
// Prints one line per measurement. Each line names its configuration; run
// it with nothing else busy on the machine (the scaling test needs two idle
// cores).
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <corio/runtime/channel.hpp>
#include <corio/runtime/runtime.hpp>
#include <corio/runtime/when_all.hpp>

using namespace corio;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
    std::uint64_t messages = 2'000'000;
    std::uint64_t roundtrips = 100'000;
    std::uint64_t requests = 20'000;
    unsigned work_us = 50;
    std::string only;
    bool pin = false;
};

struct Variant {
    const char* name;
    BackendChoice backend;
    bool msg_ring;
};

const Variant variants[] = {
    {"io_uring+msg_ring", BackendChoice::io_uring, true},
    {"io_uring+eventfd", BackendChoice::io_uring, false},
    {"epoll+eventfd", BackendChoice::epoll, false},
};

RuntimeConfig config(const Variant& v, unsigned loops, bool pin) {
    RuntimeConfig c;
    c.loops = loops;
    c.backend = v.backend;
    c.msg_ring = v.msg_ring;
    c.pin = pin;
    c.loop_options.use_env = false;
    return c;
}

double seconds(Clock::duration d) {
    return std::chrono::duration<double>(d).count();
}

// Loop 0 sends `n` values into a channel of capacity 1024; loop 1 receives.
void throughput(const Options& o, const Variant& v) {
    Runtime rt(config(v, 2, o.pin));
    SharedChannel<std::uint64_t> ch(1024);
    auto consumer = rt.spawn_on(1, [](SharedChannel<std::uint64_t> c) -> Task<std::uint64_t> {
        std::uint64_t sum = 0;
        for (;;) {
            auto r = co_await c.recv();
            if (!r) co_return sum;
            sum += *r;
        }
    }(ch));
    auto t0 = Clock::now();
    rt.block_on([](SharedChannel<std::uint64_t> c, std::uint64_t n) -> Task<void> {
        for (std::uint64_t i = 0; i < n; ++i) {
            if (!co_await c.send(i)) break;
        }
        c.close();
    }(ch, o.messages));
    std::uint64_t sum = consumer.get();
    double s = seconds(Clock::now() - t0);
    LoopStats rx = rt.stats(1), tx = rt.stats(0);
    std::printf(
        "throughput %-18s %8.2f M msg/s  (%llu msgs in %.3f s; remote deliveries to the "
        "receiver %llu, %.1f msgs each; MSG_RING wake-ups sent %llu)%s\n",
        v.name, double(o.messages) / s / 1e6, (unsigned long long)o.messages, s,
        (unsigned long long)rx.remote_received,
        rx.remote_received ? double(o.messages) / double(rx.remote_received) : 0.0,
        (unsigned long long)tx.msg_ring_sent,
        sum == o.messages * (o.messages - 1) / 2 ? "" : "  WRONG SUM");
}

void print_latency(const char* name, std::vector<double>& samples) {
    if (samples.empty()) return;
    std::sort(samples.begin(), samples.end());
    auto pct = [&](double p) { return samples[std::size_t(p * double(samples.size() - 1))]; };
    double mean = 0;
    for (double x : samples)
        mean += x;
    mean /= double(samples.size());
    std::printf("round-trip %-18s mean %6.2f us  p50 %6.2f  p99 %7.2f  (%zu round trips)\n", name,
                mean, pct(0.5), pct(0.99), samples.size());
}

// One message in flight: loop 0 sends, loop 1 echoes, loop 0 waits for it.
void latency(const Options& o, const Variant& v) {
    Runtime rt(config(v, 2, o.pin));
    SharedChannel<std::uint64_t> ping(1), pong(1);
    auto echo = rt.spawn_on(
        1, [](SharedChannel<std::uint64_t> in, SharedChannel<std::uint64_t> out) -> Task<void> {
            for (;;) {
                auto r = co_await in.recv();
                if (!r || !co_await out.send(*r)) co_return;
            }
        }(ping, pong));
    std::vector<double> samples;
    samples.reserve(o.roundtrips);
    rt.block_on([](SharedChannel<std::uint64_t> out, SharedChannel<std::uint64_t> in,
                   std::vector<double>* samples, std::uint64_t n) -> Task<void> {
        for (std::uint64_t i = 0; i < n; ++i) {
            auto t = Clock::now();
            if (!co_await out.send(i)) break;
            auto r = co_await in.recv();
            if (!r) break;
            samples->push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
        }
        out.close();
    }(ping, pong, &samples, o.roundtrips));
    echo.get();
    print_latency(v.name, samples);
}

// The floor under every cross-thread round trip: two plain threads (pinned
// like the loops with --pin) bouncing a counter through two blocking
// eventfds, no runtime. On a VM a sleeping vCPU's wake-up dominates this.
void latency_baseline(const Options& o) {
    int ping = ::eventfd(0, EFD_CLOEXEC), pong = ::eventfd(0, EFD_CLOEXEC);
    if (ping < 0 || pong < 0) {
        std::perror("multi_bench: eventfd");
        std::exit(1);
    }
    auto pin_to = [&](unsigned i) {
        if (!o.pin) return;
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(i, &set);
        ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set);
    };
    cpu_set_t old;
    ::pthread_getaffinity_np(::pthread_self(), sizeof old, &old);
    const std::uint64_t n = o.roundtrips;
    std::thread echo([&] {
        pin_to(1);
        std::uint64_t v;
        for (std::uint64_t i = 0; i < n; ++i) {
            if (::read(ping, &v, sizeof v) != sizeof v || ::write(pong, &v, sizeof v) != sizeof v)
                return;
        }
    });
    pin_to(0);
    std::vector<double> samples;
    samples.reserve(n);
    for (std::uint64_t i = 0; i < n; ++i) {
        std::uint64_t v = 1;
        auto t = Clock::now();
        if (::write(ping, &v, sizeof v) != sizeof v || ::read(pong, &v, sizeof v) != sizeof v)
            break;
        samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
    }
    echo.join();
    ::pthread_setaffinity_np(::pthread_self(), sizeof old, &old);
    ::close(ping);
    ::close(pong);
    print_latency("threads+eventfd", samples);
}

// A CPU-bound "request handler": about `us` microseconds of arithmetic.
std::uint64_t handle(std::uint64_t seed, unsigned iterations) {
    std::uint64_t x = seed | 1;
    for (unsigned i = 0; i < iterations; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}

unsigned calibrate(unsigned us) {
    unsigned it = 1 << 16;
    for (;;) {
        auto t0 = Clock::now();
        volatile std::uint64_t sink = handle(42, it);
        (void)sink;
        double took = seconds(Clock::now() - t0) * 1e6;
        if (took > 2000) return unsigned(double(it) * us / took);
        it *= 2;
    }
}

// `requests` requests, spread evenly over the loops; each loop serves its
// share with 16 concurrent handler tasks that yield between requests (as a
// server interleaves connections). No load generator competes for the cores.
double scaling_run(const Options& o, unsigned loops, unsigned iterations) {
    RuntimeConfig c = config(variants[0], loops, o.pin);
    c.backend = BackendChoice::automatic;
    c.msg_ring = true;
    Runtime rt(c);
    const std::uint64_t per_loop = o.requests / loops;
    auto t0 = Clock::now();
    rt.run_on_all_blocking([per_loop, iterations](unsigned) -> Task<void> {
        return [](std::uint64_t n, unsigned iterations) -> Task<void> {
            std::vector<Task<void>> workers;
            constexpr unsigned conc = 16;
            for (unsigned w = 0; w < conc; ++w) {
                workers.push_back([](std::uint64_t n, unsigned iterations) -> Task<void> {
                    std::uint64_t acc = 0;
                    for (std::uint64_t i = 0; i < n; ++i) {
                        acc += handle(i, iterations);
                        co_await yield();
                    }
                    if (acc == 42) std::puts("");  // keep the work
                }(n / conc, iterations));
            }
            co_await when_all(std::move(workers));
        }(per_loop, iterations);
    });
    return double(o.requests) / seconds(Clock::now() - t0);
}

void scaling(const Options& o) {
    unsigned it = calibrate(o.work_us);
    double one = scaling_run(o, 1, it);
    double two = scaling_run(o, 2, it);
    std::printf(
        "scaling    cpu-bound %u us/request: 1 loop %8.0f req/s, 2 loops %8.0f req/s, "
        "speed-up %.2fx%s\n",
        o.work_us, one, two, two / one, o.pin ? " (pinned)" : "");
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto next = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "multi_bench: %s needs a value\n", argv[i]);
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--messages") {
            o.messages = std::strtoull(next(), nullptr, 10);
        } else if (a == "--roundtrips") {
            o.roundtrips = std::strtoull(next(), nullptr, 10);
        } else if (a == "--requests") {
            o.requests = std::strtoull(next(), nullptr, 10);
        } else if (a == "--work-us") {
            o.work_us = unsigned(std::strtoul(next(), nullptr, 10));
        } else if (a == "--only") {
            o.only = next();
        } else if (a == "--pin") {
            o.pin = true;
        } else if (a == "--help" || a == "-h") {
            std::puts(
                "multi_bench [--messages N] [--roundtrips N] [--requests N] [--work-us N] "
                "[--only throughput|latency|scaling] [--pin]");
            return 0;
        } else {
            std::fprintf(stderr, "multi_bench: unknown flag %s (see --help)\n", argv[i]);
            return 2;
        }
    }
    bool uring = true;
    try {
        LoopOptions po;
        po.backend = BackendChoice::io_uring;
        po.use_env = false;
        Loop probe(po);
        uring = probe.caps().msg_ring;
    } catch (const BackendError&) {
        uring = false;
    }
    for (const Variant& v : variants) {
        if (v.backend == BackendChoice::io_uring && !uring) continue;
        if (o.only.empty() || o.only == "throughput") throughput(o, v);
    }
    for (const Variant& v : variants) {
        if (v.backend == BackendChoice::io_uring && !uring) continue;
        if (o.only.empty() || o.only == "latency") latency(o, v);
    }
    if (o.only.empty() || o.only == "latency") latency_baseline(o);
    if (o.only.empty() || o.only == "scaling") scaling(o);
    return 0;
}
