#pragma once
// Helpers of the multi-loop tests: a Runtime configuration with short
// shutdown deadlines, and a message count that CORIO_TEST_MESSAGES can lower
// (for slow sanitizer runs) or raise.
#include <chrono>
#include <cstdint>
#include <cstdlib>

#include <corio/runtime/runtime.hpp>

namespace corio::test {

/// `loops` loops; a stuck shutdown fails within seconds instead of minutes.
inline RuntimeConfig runtime_config(unsigned loops) {
    using namespace std::chrono_literals;
    RuntimeConfig c;
    c.loops = loops;
    c.shutdown_deadline = 2s;
    c.cancel_deadline = 2s;
    return c;
}

/// CORIO_TEST_MESSAGES, or `fallback` when it is unset or empty.
inline std::uint64_t message_count(std::uint64_t fallback) {
    const char* s = std::getenv("CORIO_TEST_MESSAGES");
    if (s == nullptr || *s == '\0') return fallback;
    return std::strtoull(s, nullptr, 10);
}

}  // namespace corio::test
