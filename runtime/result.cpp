#include <corio/runtime/result.hpp>

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

void throw_error(std::error_code ec, std::string_view what) {
    throw std::system_error(ec, std::string(what));
}

}  // namespace corio
