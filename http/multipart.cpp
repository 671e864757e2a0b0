#include <corio/http/multipart.hpp>

#include <algorithm>
#include <cstring>
#include <random>
#include <stdexcept>
#include <utility>

#include <corio/runtime/resilience.hpp>

#include "read_all.hpp"

namespace corio::http {

// ---- MultipartReader ----------------------------------------------------------------

MultipartReader::MultipartReader(Request& req, std::string_view boundary,
                                 MultipartParser::Limits limits)
    : req_(&req),
      parser_(std::make_unique<MultipartParser>(boundary, limits)),
      in_(std::make_unique<std::array<std::byte, 16 * 1024>>()) {}

Result<MultipartReader> MultipartReader::make(Request& req, MultipartParser::Limits limits) {
    const auto boundary = multipart_boundary(req.header("Content-Type").value_or(""));
    if (!boundary) return std::errc::invalid_argument;
    return MultipartReader(req, *boundary, limits);
}

// The parser's next event, reading the body as it needs. An error stays (given again by
// later calls), but for a cancelled read, which can be retried: the parser took nothing of it.
Task<Result<MultipartParser::Event>> MultipartReader::pull() {
    for (;;) {
        if (error_) co_return error_;
        auto ev = parser_->next();
        if (!ev) error_ = ev.error();
        if (!ev || *ev != MultipartParser::Event::need_more) co_return ev;
        auto n = co_await req_->read_body(*in_);
        if (!n) {
            if (n.error() != std::errc::operation_canceled) error_ = n.error();
            co_return n.error();
        }
        if (*n == 0) {  // the body is over before the multipart body: cut off
            auto f = parser_->finish();
            error_ = f ? std::error_code(Errc::eof) : f.error();
            continue;
        }
        parser_->feed(std::string_view(reinterpret_cast<const char*>(in_->data()), *n));
    }
}

Task<Result<std::optional<PartHead>>> MultipartReader::next_part() {
    using Event = MultipartParser::Event;
    data_ = {};
    for (;;) {
        if (ended_) co_return std::optional<PartHead>();
        auto ev = co_await pull();
        if (!ev) co_return ev.error();
        if (*ev == Event::head) {
            in_part_ = true;
            co_return std::optional<PartHead>(parser_->head());
        }
        if (*ev == Event::part_end) in_part_ = false;
        if (*ev == Event::end) ended_ = true;
        // Event::data: the rest of a part nobody read, skipped.
    }
}

Task<Result<std::size_t>> MultipartReader::read(std::span<std::byte> buf) {
    using Event = MultipartParser::Event;
    while (data_.empty()) {
        if (error_) co_return error_;
        if (!in_part_ || buf.empty()) co_return std::size_t(0);
        auto ev = co_await pull();
        if (!ev) co_return ev.error();
        if (*ev == Event::data) data_ = parser_->data();
        if (*ev == Event::part_end) in_part_ = false;  // the part's end: 0 above
    }
    const std::size_t n = std::min(buf.size(), data_.size());
    std::memcpy(buf.data(), data_.data(), n);
    data_.remove_prefix(n);
    co_return n;
}

Task<Result<std::string>> MultipartReader::read_all(std::size_t max) {
    return detail::read_all([this](std::span<std::byte> b) { return read(b); }, max);
}

// ---- format_multipart ---------------------------------------------------------------

namespace {

// A name or filename inside quotes, as browsers send them (the HTML standard's
// multipart/form-data encoding): '"' as %22, CR as %0D, LF as %0A.
void append_quoted(std::string_view s, std::string& out) {
    out.push_back('"');
    for (const char c : s) {
        if (c == '"') {
            out += "%22";
        } else if (c == '\r') {
            out += "%0D";
        } else if (c == '\n') {
            out += "%0A";
        } else {
            out.push_back(c);
        }
    }
    out.push_back('"');
}

}  // namespace

MultipartBody format_multipart(const std::vector<FormPart>& parts) {
    for (const FormPart& p : parts) {
        if (!valid_field_value_text(p.content_type)) {
            throw std::invalid_argument("format_multipart: content type '" + p.content_type +
                                        "' is not a field value");
        }
    }
    std::mt19937_64 rng(corio::detail::random_seed());
    std::string boundary;
    const auto appears = [&parts, &boundary] {
        return std::any_of(parts.begin(), parts.end(), [&boundary](const FormPart& p) {
            return p.body.find(boundary) != std::string::npos ||
                   p.name.find(boundary) != std::string::npos ||
                   (p.filename && p.filename->find(boundary) != std::string::npos);
        });
    };
    do {
        static constexpr char hex[] = "0123456789abcdef";
        boundary = "corio-";
        for (int i = 0; i < 24; ++i)
            boundary.push_back(hex[rng() % 16]);
    } while (appears());
    MultipartBody out;
    out.content_type = "multipart/form-data; boundary=" + boundary;
    for (const FormPart& p : parts) {
        out.body += "--" + boundary + "\r\nContent-Disposition: form-data; name=";
        append_quoted(p.name, out.body);
        if (p.filename) {
            out.body += "; filename=";
            append_quoted(*p.filename, out.body);
        }
        out.body += "\r\n";
        if (!p.content_type.empty()) out.body += "Content-Type: " + p.content_type + "\r\n";
        out.body += "\r\n";
        out.body += p.body;
        out.body += "\r\n";
    }
    out.body += "--" + boundary + "--\r\n";
    return out;
}

}  // namespace corio::http
