#include <corio/http/sse_codec.hpp>

#include <algorithm>
#include <charconv>
#include <limits>

namespace corio::http::sse {

namespace {

bool breaks_line(std::string_view s) noexcept {
    return s.find_first_of("\r\n") != std::string_view::npos;
}

// An id a client can send back in Last-Event-ID as it came.
bool good_id(std::string_view id) noexcept {
    const auto control = [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; };
    const auto blank = [](char c) { return c == ' ' || c == '\t'; };
    return std::none_of(id.begin(), id.end(), control) &&
           (id.empty() || (!blank(id.front()) && !blank(id.back())));
}

}  // namespace

Result<void> format_event(const Event& e, std::string& out) {
    std::optional<std::string_view> id;
    if (e.id) id = *e.id;
    return detail::format_fields(e.type, e.data, id, e.retry, out);
}

Result<void> detail::format_fields(std::string_view type, std::string_view data,
                                   std::optional<std::string_view> id,
                                   std::optional<std::chrono::milliseconds> retry,
                                   std::string& out) {
    if (breaks_line(type) || (id && !good_id(*id)) || (retry && retry->count() < 0)) {
        return std::errc::invalid_argument;
    }
    if (!type.empty()) out.append("event: ").append(type).push_back('\n');
    if (id) out.append("id: ").append(*id).push_back('\n');
    if (retry) out.append("retry: ").append(std::to_string(retry->count())).push_back('\n');
    for (;;) {
        const std::size_t end = std::min(data.find_first_of("\r\n"), data.size());
        out.append("data: ").append(data.substr(0, end)).push_back('\n');
        if (end == data.size()) break;
        // "\r\n" is one line end.
        data.remove_prefix(end + (data.substr(end, 2) == "\r\n" ? 2 : 1));
    }
    out.push_back('\n');
    return {};
}

void format_comment(std::string_view text, std::string& out) {
    out.append(": ");
    const std::size_t at = out.size();
    out.append(text);
    std::replace_if(
        out.begin() + std::ptrdiff_t(at), out.end(), [](char c) { return c == '\r' || c == '\n'; },
        ' ');
    out.push_back('\n');
}

Result<void> Parser::feed(std::string_view bytes, std::vector<Event>& out) {
    if (failed_) return Errc::limit_exceeded;
    if (!started_) {  // a byte order mark, perhaps split over calls, is skipped once
        static constexpr std::string_view bom = "\xEF\xBB\xBF";
        while (!bytes.empty() && partial_.size() < bom.size() && bytes[0] == bom[partial_.size()]) {
            partial_.push_back(bytes[0]);
            bytes.remove_prefix(1);
        }
        if (partial_.size() == bom.size()) {
            partial_.clear();
            started_ = true;
        } else if (bytes.empty()) {
            return {};  // all of it may still be the mark
        } else {
            started_ = true;  // not a mark: those bytes begin the first line
        }
    }
    while (!bytes.empty()) {
        if (after_cr_ && bytes[0] == '\n') bytes.remove_prefix(1);  // the CR's pair
        after_cr_ = false;
        const std::size_t end = bytes.find_first_of("\r\n");
        const std::string_view piece = bytes.substr(0, end);
        if (partial_.size() + piece.size() > limits_.max_line) {
            failed_ = true;
            return Errc::limit_exceeded;
        }
        if (end == std::string_view::npos) {
            partial_.append(piece);
            break;
        }
        after_cr_ = bytes[end] == '\r';
        bytes.remove_prefix(end + 1);
        if (partial_.empty()) {
            line(piece, out);
        } else {
            partial_.append(piece);
            line(partial_, out);
            partial_.clear();
        }
        if (data_.size() > limits_.max_data + 1) {  // data_ ends with a '\n' not counted
            failed_ = true;
            return Errc::limit_exceeded;
        }
    }
    return {};
}

void Parser::line(std::string_view l, std::vector<Event>& out) {
    if (l.empty()) {  // the end of an event: its id counts, and it is dispatched if it had data
        last_id_ = id_;
        if (!data_.empty()) {
            data_.pop_back();  // the '\n' after the last data line
            Event e;
            e.type = type_.empty() ? std::string("message") : std::move(type_);
            e.data = std::move(data_);
            e.id = last_id_;
            if (retry_set_) e.retry = retry_;
            out.push_back(std::move(e));
        }
        type_.clear();
        data_.clear();
        retry_set_ = false;
        return;
    }
    if (l[0] == ':') return;  // a comment
    const std::size_t colon = l.find(':');
    const std::string_view field = l.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? "" : l.substr(colon + 1);
    if (value.starts_with(' ')) value.remove_prefix(1);
    if (field == "event") {
        type_.assign(value);
    } else if (field == "data") {
        data_.append(value).push_back('\n');
    } else if (field == "id") {
        if (value.find('\0') == std::string_view::npos) id_.assign(value);
    } else if (field == "retry") {
        std::uint64_t ms = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
        const bool digits = !value.empty() && end == value.data() + value.size() &&
                            value.find_first_not_of("0123456789") == std::string_view::npos;
        if (digits) {  // too many digits for 64 bits: the longest time there is
            const auto most = std::uint64_t(std::numeric_limits<std::int64_t>::max());
            retry_ = std::chrono::milliseconds(
                std::int64_t(ec == std::errc{} ? std::min(ms, most) : most));
            retry_set_ = true;
        }
    }
}

}  // namespace corio::http::sse
