#pragma once
// BufferedReader: line- and delimiter-oriented reading over a Stream.

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

#include <corio/net/socket.hpp>

namespace corio::net {

/// Reads a Stream through a buffer of its own, for protocols made of lines or
/// delimited records (HTTP heads, SMTP, Redis). It reads what the kernel has
/// (up to the buffer's free space) and hands out views into the buffer.
/// Views stay valid until the next call on the reader. The stream must
/// outlive the reader; only one call may be in flight at a time.
class BufferedReader {
public:
    /// `capacity` is the starting buffer size; it grows (up to the `max` of a
    /// read_until call) when a record does not fit.
    explicit BufferedReader(Stream& s, std::size_t capacity = 8192);

    /// Bytes up to and including the first `delim`. Errors: Errc::limit_exceeded
    /// when `max` bytes arrived without `delim` (the bytes stay buffered),
    /// Errc::eof when the stream ended first (what arrived stays buffered),
    /// or the stream's error.
    Task<Result<std::string_view>> read_until(char delim, std::size_t max);
    /// One line without its `"\n"` or `"\r\n"`; `max` counts the line end too.
    /// Errors as read_until.
    Task<Result<std::string_view>> read_line(std::size_t max = 8192);
    /// Fills `buf`, buffered bytes first. Errc::eof when the stream ends first.
    Task<Result<void>> read_exact(std::span<std::byte> buf);
    /// Some bytes: buffered ones if there are any, else one receive. 0 = end.
    Task<Result<std::size_t>> read_some(std::span<std::byte> buf);

    /// What is buffered and not yet handed out.
    std::span<const std::byte> buffered() const noexcept {
        return {buf_.get() + begin_, end_ - begin_};
    }
    /// Drops `n` buffered bytes (after looking at buffered()).
    void consume(std::size_t n) noexcept { begin_ += std::min(n, end_ - begin_); }
    /// The stream read from.
    Stream& stream() const noexcept { return *stream_; }

private:
    /// Receives more after what is buffered (compacting, growing to `limit`).
    Task<Result<std::size_t>> fill(std::size_t limit);

    Stream* stream_;
    std::unique_ptr<std::byte[]> buf_;
    std::size_t cap_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

}  // namespace corio::net
