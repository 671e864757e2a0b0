#pragma once
// Not installed, not API: "the rest of a body, at most `max` bytes" for the readers that
// give a body in pieces (Request, ResponseStream, MultipartReader).

#include <array>
#include <cstddef>
#include <span>
#include <string>

#include <corio/runtime/result.hpp>
#include <corio/runtime/task.hpp>

namespace corio::http::detail {

/// Calls `read(buf)` (a Task<Result<std::size_t>>, 0 at the end) until the end and gives
/// what it read; Errc::limit_exceeded past `max`, the read's error on one. `read` is kept
/// in the frame (a lambda holding a pointer to its reader).
template <class Read>
Task<Result<std::string>> read_all(Read read, std::size_t max) {
    std::string out;
    std::array<std::byte, 16 * 1024> buf;
    for (;;) {
        auto n = co_await read(std::span<std::byte>(buf));
        if (!n) co_return n.error();
        if (*n == 0) co_return out;
        if (out.size() + *n > max) co_return Errc::limit_exceeded;
        out.append(reinterpret_cast<const char*>(buf.data()), *n);
    }
}

}  // namespace corio::http::detail
