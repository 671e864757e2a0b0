#include <corio/runtime/log.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

namespace corio {
namespace {

LogLevel parse_level(const char* s) noexcept {
    if (s == nullptr) return LogLevel::warn;
    std::string_view v(s);
    if (v == "trace") return LogLevel::trace;
    if (v == "debug") return LogLevel::debug;
    if (v == "info") return LogLevel::info;
    if (v == "warn" || v == "warning") return LogLevel::warn;
    if (v == "error") return LogLevel::error;
    if (v == "off" || v == "none") return LogLevel::off;
    return LogLevel::warn;
}

std::atomic<int> g_level{-1};

const char* level_name(LogLevel l) noexcept {
    switch (l) {
        case LogLevel::trace: return "trace";
        case LogLevel::debug: return "debug";
        case LogLevel::info: return "info";
        case LogLevel::warn: return "warn";
        case LogLevel::error: return "error";
        case LogLevel::off: return "off";
    }
    return "?";
}

}  // namespace

LogLevel log_level() noexcept {
    int l = g_level.load(std::memory_order_relaxed);
    if (l < 0) {
        l = static_cast<int>(parse_level(std::getenv("CORIO_LOG")));
        g_level.store(l, std::memory_order_relaxed);
    }
    return static_cast<LogLevel>(l);
}

void set_log_level(LogLevel level) noexcept {
    g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

void log_write(LogLevel level, std::string_view message) noexcept {
    try {
        std::string line = fmt::format("corio {}: {}\n", level_name(level), message);
        // One write(2): lines from several loops' threads stay whole.
        ssize_t r = ::write(STDERR_FILENO, line.data(), line.size());
        (void)r;
    } catch (...) {
        // Out of memory while logging: nothing sensible to do.
    }
}

}  // namespace corio
