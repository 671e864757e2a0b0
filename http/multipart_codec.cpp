#include <corio/http/multipart_codec.hpp>

#include <algorithm>
#include <utility>

#include <corio/http/ascii.hpp>

namespace corio::http {

namespace {

constexpr std::size_t max_boundary = 70;         // RFC 2046 §5.1.1
constexpr std::size_t max_delimiter_line = 256;  // "--boundary", transport padding, CRLF

// RFC 2046 §5.1.1: bcharsnospace, and the space.
bool is_bchar(char c) noexcept {
    return ascii::is_alpha(c) || ascii::is_digit(c) ||
           std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

// How a quoted parameter value is read: as RFC 9110's quoted-string (backslash escapes; a
// Content-Type's boundary), or as browsers write Content-Disposition's name and filename
// (the HTML standard: no escapes; '"', CR and LF sent as %22, %0D and %0A).
enum class Quoting : std::uint8_t { rfc, browsers };

// Calls `f(name, value)` for each parameter of `params` ("; a=b; c=\"d\""), the value
// unquoted. A parameter without '=' is skipped; reading stops at a quote never closed.
template <class F>
void for_each_param(std::string_view params, Quoting quoting, F f) {
    while (!params.empty()) {
        const std::size_t semi = params.find(';');
        if (semi == std::string_view::npos) return;
        params.remove_prefix(semi + 1);
        params = ascii::trim_ows(params);
        const std::size_t eq = params.find_first_of("=;");
        if (eq == std::string_view::npos) return;
        if (params[eq] == ';') continue;  // a parameter without a value
        const std::string_view name = ascii::trim_ows(params.substr(0, eq));
        params.remove_prefix(eq + 1);
        params = ascii::trim_ows(params);
        std::string value;
        if (!params.empty() && params.front() == '"') {
            std::size_t i = 1;
            for (; i < params.size() && params[i] != '"'; ++i) {
                if (quoting == Quoting::rfc && params[i] == '\\' && i + 1 < params.size()) ++i;
                value.push_back(params[i]);
            }
            if (i >= params.size()) return;  // no closing quote
            params.remove_prefix(i + 1);
        } else {
            const std::size_t end = std::min(params.find(';'), params.size());
            value = std::string(ascii::trim_ows(params.substr(0, end)));
            params.remove_prefix(end);
        }
        if (quoting == Quoting::browsers) {
            for (const auto& [code, c] : {std::pair{"%22", '"'}, {"%0D", '\r'}, {"%0A", '\n'}}) {
                for (std::size_t at = 0; (at = value.find(code, at)) != std::string::npos; ++at)
                    value.replace(at, 3, 1, c);
            }
        }
        f(name, std::move(value));
    }
}

// The longest end of `p` that is the start of `delimiter` (bytes that may begin it). The
// delimiter starts with CR: only the last few CRs are candidates.
std::size_t held_back(std::string_view p, std::string_view delimiter) noexcept {
    const std::size_t from = p.size() - std::min(p.size(), delimiter.size() - 1);
    for (std::size_t at = p.find('\r', from); at != std::string_view::npos;
         at = p.find('\r', at + 1)) {
        if (delimiter.starts_with(p.substr(at))) return p.size() - at;
    }
    return 0;
}

}  // namespace

std::optional<std::string> multipart_boundary(std::string_view content_type) {
    if (!ascii::istarts_with(media_type(content_type), "multipart/")) return std::nullopt;
    std::optional<std::string> boundary;
    for_each_param(content_type, Quoting::rfc,
                   [&boundary](std::string_view name, std::string value) {
                       if (!boundary && ascii::iequals(name, "boundary"))
                           boundary = std::move(value);
                   });
    if (!boundary || boundary->empty() || boundary->size() > max_boundary ||
        boundary->back() == ' ' || !std::all_of(boundary->begin(), boundary->end(), is_bchar)) {
        return std::nullopt;
    }
    return boundary;
}

// ---- MultipartParser ----------------------------------------------------------------

MultipartParser::MultipartParser(std::string_view boundary) : MultipartParser(boundary, Limits{}) {}

MultipartParser::MultipartParser(std::string_view boundary, Limits limits)
    : delimiter_("\r\n--" + std::string(boundary)), limits_(limits) {
    // The first delimiter may open the body without a line break before it.
    buf_ = "\r\n";
}

void MultipartParser::feed(std::string_view bytes) {
    data_ = {};
    if (state_ == State::epilogue || error_) return;
    if (start_ > 0) {
        buf_.erase(0, start_);
        start_ = 0;
    }
    buf_.append(bytes);
}

Result<MultipartParser::Event> MultipartParser::fail(std::error_code ec) {
    error_ = ec;
    return ec;
}

Result<MultipartParser::Event> MultipartParser::next() {
    if (error_) return error_;
    data_ = {};
    for (;;) {
        const std::string_view p = pending();
        switch (state_) {
            case State::preamble: {
                const std::size_t at = p.find(delimiter_);
                if (at == std::string_view::npos) {
                    take(p.size() - held_back(p, delimiter_));
                    return Event::need_more;
                }
                take(at + delimiter_.size());
                state_ = State::after_delimiter;
                continue;
            }
            case State::after_delimiter: {
                if (p.size() < 2) return Event::need_more;
                if (p.starts_with("--")) {  // the close delimiter: the epilogue follows
                    buf_.clear();
                    start_ = 0;
                    state_ = State::epilogue;
                    return Event::end;
                }
                // Transport padding (spaces, tabs), then the line break.
                const std::size_t crlf = p.find("\r\n");
                const std::size_t other = p.find_first_not_of(" \t");
                if (other < crlf && !(other + 1 == p.size() && p[other] == '\r')) {
                    return fail(std::make_error_code(std::errc::bad_message));
                }
                if (std::min(crlf, p.size()) > max_delimiter_line) {
                    return fail(std::make_error_code(std::errc::bad_message));
                }
                if (crlf == std::string_view::npos) return Event::need_more;
                take(crlf + 2);
                if (++parts_ > limits_.max_parts) return fail(Errc::limit_exceeded);
                state_ = State::head;
                head_scan_ = 0;
                continue;
            }
            case State::head: {
                // The head's lines end at a blank line: `end` is where its CRLF starts.
                std::size_t end = 0;
                if (!p.starts_with("\r\n")) {
                    const std::size_t at = p.find("\r\n\r\n", head_scan_);
                    if (at == std::string_view::npos) {
                        if (p.size() > limits_.max_head) return fail(Errc::limit_exceeded);
                        head_scan_ = p.size() - std::min<std::size_t>(p.size(), 3);
                        return Event::need_more;
                    }
                    end = at + 2;
                }
                if (end + 2 > limits_.max_head) return fail(Errc::limit_exceeded);
                // A part without a body may end its head with the next delimiter's CRLF
                // (RFC 2046: body-part := headers [CRLF *OCTET]): that CRLF stays for it.
                const std::string_view after = p.substr(end);
                if (after.size() < delimiter_.size() && delimiter_.starts_with(after)) {
                    return Event::need_more;
                }
                const std::string_view section = p.substr(0, end);  // lines with their CRLFs
                take(after.starts_with(delimiter_) ? end : end + 2);
                auto parsed = parse_head(section);
                if (!parsed) return fail(parsed.error());
                state_ = State::body;
                return Event::head;
            }
            case State::body: {
                const std::size_t at = p.find(delimiter_);
                if (at == 0) {
                    take(delimiter_.size());
                    state_ = State::after_delimiter;
                    return Event::part_end;
                }
                const std::size_t n =
                    at != std::string_view::npos ? at : p.size() - held_back(p, delimiter_);
                if (n == 0) return Event::need_more;
                data_ = p.substr(0, n);
                take(n);
                return Event::data;
            }
            case State::epilogue:
                return Event::end;
        }
    }
}

Result<void> MultipartParser::finish() const {
    if (error_) return error_;
    if (state_ != State::epilogue) return Errc::eof;
    return {};
}

Result<void> MultipartParser::parse_head(std::string_view section) {
    head_ = PartHead{};
    while (!section.empty()) {
        const std::size_t eol = section.find("\r\n");
        const std::string_view line = section.substr(0, eol);
        section.remove_prefix(eol + 2);
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) return std::errc::bad_message;
        const std::string_view name = line.substr(0, colon);
        const std::string_view value = ascii::trim_ows(line.substr(colon + 1));
        // A name must be a token: a folded line (leading space) is refused too.
        if (!valid_field_name(name) || !valid_field_value_text(value)) {
            return std::errc::bad_message;
        }
        head_.headers.add(name, value);
        if (ascii::iequals(name, "content-disposition")) {
            for_each_param(value, Quoting::browsers, [this](std::string_view n, std::string v) {
                if (ascii::iequals(n, "name")) {
                    head_.name = std::move(v);
                } else if (ascii::iequals(n, "filename")) {
                    head_.filename = std::move(v);
                }
            });
        }
    }
    return {};
}

}  // namespace corio::http
