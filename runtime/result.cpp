#include <corio/runtime/result.hpp>

#include <cstdio>
#include <exception>

#include <fmt/format.h>

namespace corio {
namespace {

class CorioCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "corio"; }
    std::string message(int ev) const override {
        switch (static_cast<Errc>(ev)) {
            case Errc::eof: return "Unexpected end of stream";
            case Errc::channel_closed: return "Channel closed";
            case Errc::backend_unavailable: return "Backend unavailable";
            case Errc::limit_exceeded: return "Size limit exceeded";
            case Errc::circuit_open: return "Circuit breaker is open";
            case Errc::rejected: return "Rejected: too many calls waiting";
            case Errc::lagged: return "Subscriber lagged behind";
        }
        return "Unknown corio error";
    }
};

}  // namespace

const std::error_category& corio_category() noexcept {
    static const CorioCategory category;
    return category;
}

namespace detail {

void bad_result_access(std::error_code ec, const char* access) noexcept {
    // stderr directly, not the logger: this must be seen whatever CORIO_LOG says.
    std::string msg = fmt::format(
        "corio: Result::{} on a Result that holds an error ({}); check has_value() "
        "first or call value(\"what\"), which throws\n",
        access, ec.message());
    std::fputs(msg.c_str(), stderr);
    std::fflush(stderr);
    std::terminate();
}

}  // namespace detail

void throw_error(std::error_code ec, std::string_view what) {
    throw std::system_error(ec, std::string(what));
}

}  // namespace corio
