#pragma once
// Helpers for the fault suite: process memory, sanitizer detection, a seeded
// random source, and waiting on the loop until a condition holds.

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <sstream>
#include <string>

#include "net_support.hpp"

namespace corio::test {

/// Resident set size of this process in bytes (/proc/self/statm), or 0.
inline std::uint64_t rss_bytes() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (f == nullptr) return 0;
    unsigned long size = 0, resident = 0;
    int n = std::fscanf(f, "%lu %lu", &size, &resident);
    std::fclose(f);
    if (n != 2) return 0;
    return std::uint64_t(resident) * std::uint64_t(::sysconf(_SC_PAGESIZE));
}

inline constexpr std::uint64_t mib = 1024 * 1024;

/// A random source with a fixed seed (CORIO_FAULTS_SEED overrides it), so a
/// failing run can be repeated.
inline std::mt19937_64 seeded_rng(std::uint64_t salt) {
    std::uint64_t seed = 0x5eed'c0de'0000'0000ull;
    if (const char* s = std::getenv("CORIO_FAULTS_SEED")) seed = std::strtoull(s, nullptr, 0);
    return std::mt19937_64(seed ^ salt);
}

/// Polls `done()` every few milliseconds on the current loop for at most
/// `limit` (of the loop's time: virtual on a simulated host); gives its last
/// answer.
template <class Pred>
Task<bool> eventually(Pred done, std::chrono::milliseconds limit) {
    const auto end = Loop::current().now() + limit;
    while (!done()) {
        if (Loop::current().now() >= end) co_return false;
        co_await sleep_for(std::chrono::milliseconds(2));
    }
    co_return true;
}

/// Prints one line of figures to stderr when CORIO_FAULTS_REPORT is set
/// (docs/reliability.md quotes them).
template <class... A>
void report(const A&... parts) {
    if (std::getenv("CORIO_FAULTS_REPORT") == nullptr) return;
    std::ostringstream o;
    const char* be = std::getenv("CORIO_BACKEND");
    o << "[faults " << (be != nullptr ? be : "auto") << "] ";
    (o << ... << parts);
    std::fprintf(stderr, "%s\n", o.str().c_str());
}

inline long long ms(Duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

/// Slowloris: sends a request line and part of a header, then one more
/// header byte every 100 ms, for at most `limit`; gives how long the server
/// took to cut it off (an answer, an end of stream or a reset), or 0 if it
/// never did.
inline Task<Duration> slowloris(net::Address addr, Duration limit = std::chrono::seconds(3)) {
    const auto t0 = Loop::current().now();
    auto s = co_await net::TcpStream::connect(addr, std::chrono::seconds(2));
    if (!s) co_return Duration{};
    if (!co_await s->send_all(bytes("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "))) {
        co_return Duration{};
    }
    std::array<std::byte, 256> buf{};
    while (Loop::current().now() - t0 < limit) {
        auto r = co_await s->recv(buf).timeout(std::chrono::milliseconds(100));
        if (!r && r.error() == std::errc::timed_out) {
            auto w = co_await s->send(bytes("a"));
            if (!w) co_return Loop::current().now() - t0;
            continue;
        }
        co_return Loop::current().now() - t0;
    }
    co_return Duration{};
}

/// A normal client: one whole GET for `target`; gives how long until a 200
/// response containing `expect` had arrived, or Duration::max() on failure.
inline Task<Duration> http_get(net::Address addr, std::string target, std::string expect) {
    const auto t0 = Loop::current().now();
    auto s = co_await net::TcpStream::connect(addr, std::chrono::seconds(2));
    if (!s) co_return Duration::max();
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n";
    if (!co_await s->send_all(bytes(req))) co_return Duration::max();
    std::array<std::byte, 512> buf{};
    std::string got;
    while (got.find(expect) == std::string::npos) {
        auto r = co_await s->recv(buf).timeout(std::chrono::seconds(2));
        if (!r || *r == 0) co_return Duration::max();
        got.append(chars(std::span(buf).first(*r)));
    }
    if (got.rfind("HTTP/1.1 200", 0) != 0) co_return Duration::max();
    co_return Loop::current().now() - t0;
}

}  // namespace corio::test
