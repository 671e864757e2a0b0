#pragma once
// A small fmt-based logger. The level comes from CORIO_LOG
// (trace|debug|info|warn|error|off, default warn); lines go to stderr.

#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace corio {

/// How much the logger writes: messages at the level set and above; `off`: nothing.
enum class LogLevel { trace, debug, info, warn, error, off };

/// The current level: CORIO_LOG at first use, or what set_log_level() set.
LogLevel log_level() noexcept;
/// Overrides CORIO_LOG for the whole process.
void set_log_level(LogLevel level) noexcept;
/// Writes one line "corio LEVEL: MESSAGE" to stderr (one write, so lines from
/// several threads do not interleave).
void log_write(LogLevel level, std::string_view message) noexcept;

/// Formats (fmt syntax) and writes one line at `level`, if the current
/// level lets it through; the arguments are not formatted otherwise.
template <class... A>
void log(LogLevel level, fmt::format_string<A...> f, A&&... a) {
    if (level < log_level()) return;
    log_write(level, fmt::format(f, std::forward<A>(a)...));
}
/// log() at LogLevel::debug.
template <class... A>
void log_debug(fmt::format_string<A...> f, A&&... a) {
    log(LogLevel::debug, f, std::forward<A>(a)...);
}
/// log() at LogLevel::info.
template <class... A>
void log_info(fmt::format_string<A...> f, A&&... a) {
    log(LogLevel::info, f, std::forward<A>(a)...);
}
/// log() at LogLevel::warn.
template <class... A>
void log_warn(fmt::format_string<A...> f, A&&... a) {
    log(LogLevel::warn, f, std::forward<A>(a)...);
}
/// log() at LogLevel::error.
template <class... A>
void log_error(fmt::format_string<A...> f, A&&... a) {
    log(LogLevel::error, f, std::forward<A>(a)...);
}

}  // namespace corio
