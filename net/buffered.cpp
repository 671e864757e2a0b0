#include <corio/net/buffered.hpp>

#include <algorithm>
#include <cstring>

namespace corio::net {

BufferedReader::BufferedReader(Stream& s, std::size_t capacity)
    : stream_(&s),
      buf_(new std::byte[std::max<std::size_t>(capacity, 16)]),
      cap_(std::max<std::size_t>(capacity, 16)) {}

Task<Result<std::size_t>> BufferedReader::fill(std::size_t limit) {
    if (begin_ > 0) {
        // Earlier records were handed out: their views end with this call.
        std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }
    if (end_ == cap_) {
        std::size_t ncap = std::max(std::min(cap_ * 2, limit), end_ + 1);
        std::unique_ptr<std::byte[]> nb(new std::byte[ncap]);
        std::memcpy(nb.get(), buf_.get(), end_);
        buf_ = std::move(nb);
        cap_ = ncap;
    }
    auto n = co_await stream_->recv(std::span(buf_.get() + end_, cap_ - end_));
    if (n) end_ += *n;
    co_return n;
}

Task<Result<std::string_view>> BufferedReader::read_until(char delim, std::size_t max) {
    std::size_t scanned = 0;  // bytes already searched
    for (;;) {
        const std::size_t have = end_ - begin_;
        const std::size_t upto = std::min(have, max);
        const auto* p = reinterpret_cast<const char*>(buf_.get() + begin_);
        if (const void* hit = std::memchr(p + scanned, delim, upto - scanned)) {
            std::size_t len = static_cast<const char*>(hit) - p + 1;
            begin_ += len;
            co_return std::string_view(p, len);
        }
        if (have >= max) co_return Errc::limit_exceeded;
        scanned = upto;
        auto n = co_await fill(max);
        if (!n) co_return n.error();
        if (*n == 0) co_return Errc::eof;
    }
}

Task<Result<std::string_view>> BufferedReader::read_line(std::size_t max) {
    auto line = co_await read_until('\n', max);
    if (!line) co_return line;
    std::string_view s = *line;
    s.remove_suffix(1);
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    co_return s;
}

Task<Result<void>> BufferedReader::read_exact(std::span<std::byte> buf) {
    std::size_t n = std::min(buf.size(), end_ - begin_);
    std::memcpy(buf.data(), buf_.get() + begin_, n);
    begin_ += n;
    if (n == buf.size()) co_return Result<void>();
    co_return co_await stream_->read_exact(buf.subspan(n));
}

Task<Result<std::size_t>> BufferedReader::read_some(std::span<std::byte> buf) {
    if (end_ > begin_) {
        std::size_t n = std::min(buf.size(), end_ - begin_);
        std::memcpy(buf.data(), buf_.get() + begin_, n);
        begin_ += n;
        co_return n;
    }
    co_return co_await stream_->recv(buf);
}

}  // namespace corio::net
