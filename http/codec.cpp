#include <corio/http/codec.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <ctime>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <corio/http/ascii.hpp>

namespace corio::http {

// The feed loop and line handling, written once for both parsers (a template, so the
// start-line and end-of-head hooks are direct calls).
struct detail::ParserAccess {
    template <class Parser>
    static bool on_line(Parser& p, ParseCore& c, std::string_view line);
    template <class Parser>
    static bool on_content(Parser& p, ParseCore& c, std::string_view content);
    template <class Parser>
    static std::size_t feed(Parser& p, std::string_view in);
    // Appends `more` (trimmed, validated, not empty) to the value of h's last field, after a
    // space: the value of a response field continued by obs-fold.
    static void unfold(Headers& h, std::string_view more) {
        std::string& v = h.items_[h.size_ - 1].value;
        if (!v.empty()) v.push_back(' ');
        v.append(more);
    }
};

namespace {

using ascii::hex_value;
using ascii::is_digit;
using ascii::trim_ows;

// Character classes from RFC 9110 §5.6.2 (tchar), §5.5 (field-vchar, SP, HTAB) and RFC 3986
// (request-target as printable ASCII; host characters).
enum : std::uint8_t {
    c_token = 1,
    c_value = 2,   // field-value octet: HTAB, SP, VCHAR, obs-text
    c_target = 4,  // VCHAR: request-target octet (origin, absolute, authority, asterisk forms)
    c_hex = 8,
    c_host = 16,  // unreserved, sub-delims, '%', ':', '[', ']'
};

constexpr std::array<std::uint8_t, 256> make_classes() {
    std::array<std::uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        std::uint8_t v = 0;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        bool digit = c >= '0' && c <= '9';
        if (alpha || digit) v |= c_token | c_host;
        for (char s : std::string_view("!#$%&'*+-.^_`|~")) {
            if (c == s) v |= c_token;
        }
        for (char s : std::string_view("-._~!$&'()*+,;=%:[]")) {
            if (c == s) v |= c_host;
        }
        if (c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7e) || c >= 0x80) v |= c_value;
        if (c >= 0x21 && c <= 0x7e) v |= c_target;
        if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) v |= c_hex;
        t[static_cast<std::size_t>(c)] = v;
    }
    return t;
}
constexpr auto classes = make_classes();

inline bool has_class(char c, std::uint8_t cls) noexcept {
    return (classes[static_cast<unsigned char>(c)] & cls) != 0;
}

bool all_of_class(std::string_view s, std::uint8_t cls) noexcept {
    for (char c : s) {
        if (!has_class(c, cls)) return false;
    }
    return true;
}

constexpr std::uint64_t ones = 0x0101010101010101ull;
constexpr std::uint64_t highs = 0x8080808080808080ull;

inline std::uint64_t load8(const char* p) noexcept {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
}
// Nonzero when some byte of w is below n (n <= 0x80); exact as a yes/no answer.
inline std::uint64_t any_below(std::uint64_t w, unsigned n) noexcept {
    return (w - ones * n) & ~w & highs;
}
// Nonzero when some byte of w is 0x7f or above.
inline std::uint64_t any_del_or_high(std::uint64_t w) noexcept {
    return (((w & ~highs) + ones) | w) & highs;
}
// Nonzero when some byte of w is 0x7f (DEL).
inline std::uint64_t any_del(std::uint64_t w) noexcept {
    std::uint64_t x = w ^ (ones * 0x7f);
    return any_below(x, 1);
}

// True when `s` holds only field-value octets: HTAB, SP, VCHAR, obs-text (RFC 9110 §5.5), i.e.
// no control character but HTAB and no DEL. Eight bytes at a time (the last word overlaps):
// values are most of a request head.
bool valid_field_value(std::string_view s) noexcept {
    const char* p = s.data();
    const std::size_t n = s.size();
    if (n >= 8) {
        std::uint64_t bad = 0;
        for (std::size_t i = 0; i + 8 <= n; i += 8) {
            std::uint64_t w = load8(p + i);
            bad |= any_below(w, 0x20) | any_del(w);
        }
        std::uint64_t w = load8(p + n - 8);
        bad |= any_below(w, 0x20) | any_del(w);
        if (bad == 0) return true;  // otherwise maybe only a tab: check byte by byte
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (!has_class(p[i], c_value)) return false;
    }
    return true;
}

// True when `s` holds only VCHAR (0x21-0x7e), as a request-target must.
bool all_vchar(std::string_view s) noexcept {
    const char* p = s.data();
    const std::size_t n = s.size();
    if (n >= 8) {
        std::uint64_t bad = 0;
        for (std::size_t i = 0; i + 8 <= n; i += 8) {
            std::uint64_t w = load8(p + i);
            bad |= any_below(w, 0x21) | any_del_or_high(w);
        }
        std::uint64_t w = load8(p + n - 8);
        return (bad | any_below(w, 0x21) | any_del_or_high(w)) == 0;
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (!has_class(p[i], c_target)) return false;
    }
    return true;
}

bool is_token(std::string_view s) noexcept {
    return !s.empty() && all_of_class(s, c_token);
}

// Calls f(element) for each comma-separated element of a list value, trimmed of OWS (empty
// elements included). Stops early when f returns true; returns whether it did.
template <class F>
bool for_each_element(std::string_view value, F&& f) {
    for (;;) {
        std::size_t comma = value.find(',');
        if (f(trim_ows(value.substr(0, comma)))) return true;
        if (comma == std::string_view::npos) return false;
        value.remove_prefix(comma + 1);
    }
}

using Phase = detail::ParseCore::Phase;

bool fail(detail::ParseCore& c, int status, std::string_view reason) noexcept {
    c.phase = Phase::error;
    c.error_status = status;
    c.error_reason = reason;
    return false;
}

// "HTTP/x.y": 0 for a version we speak, 505 for another well-formed one, 400 otherwise.
int parse_version(std::string_view v, Version& out) noexcept {
    if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || !is_digit(v[5]) || v[6] != '.' ||
        !is_digit(v[7])) {
        return 400;
    }
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) return 505;
    out = v[7] == '1' ? Version::http_1_1 : Version::http_1_0;
    return 0;
}

// The request-target forms of RFC 9112 §3.2 beyond origin ("/...") and asterisk ("*").
// all_vchar() has checked the octets. Absolute form: a scheme and ':'; an http(s) URI without
// a host MUST be rejected (RFC 9110 §4.2.1).
bool valid_absolute_form(std::string_view t) noexcept {
    const std::size_t colon = t.find(':');
    if (colon == std::string_view::npos || colon == 0 || !ascii::is_alpha(t[0])) return false;
    for (char ch : t.substr(1, colon - 1)) {
        if (!ascii::is_alpha(ch) && !is_digit(ch) && ch != '+' && ch != '-' && ch != '.') {
            return false;
        }
    }
    const std::string_view scheme = t.substr(0, colon);
    if (!iequals(scheme, "http") && !iequals(scheme, "https")) return true;
    std::string_view rest = t.substr(colon + 1);
    if (rest.substr(0, 2) != "//") return false;
    rest.remove_prefix(2);
    std::string_view auth = rest.substr(0, rest.find_first_of("/?#"));
    if (std::size_t at = auth.rfind('@'); at != std::string_view::npos) {
        auth.remove_prefix(at + 1);
    }
    return !auth.empty() && auth.front() != ':';
}

// Authority form, for CONNECT only: uri-host ":" port, the port required (RFC 9110 §9.3.6).
bool valid_authority_form(std::string_view t) noexcept {
    const std::size_t colon = t.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == t.size()) return false;
    for (char ch : t.substr(colon + 1)) {
        if (!is_digit(ch)) return false;
    }
    const std::string_view host = t.substr(0, colon);
    if (host.front() == '[') {
        if (host.size() < 3 || host.back() != ']') return false;
    } else if (host.find_first_of(":[]") != std::string_view::npos) {
        return false;
    }
    return all_of_class(host, c_host);
}

bool known_coding(std::string_view name) noexcept {
    // Codings we recognise but do not decode (RFC 9112 §7); the message keeps its
    // Transfer-Encoding field so the application can see them.
    for (std::string_view k : {"gzip", "x-gzip", "deflate", "compress", "x-compress"}) {
        if (iequals(name, k)) return true;
    }
    return false;
}

void note_transfer_encoding(detail::ParseCore& c, std::string_view value) noexcept {
    c.has_transfer_encoding = true;
    for_each_element(value, [&](std::string_view e) {
        std::size_t semi = e.find(';');
        std::string_view name = trim_ows(e.substr(0, semi));
        if (!is_token(name)) {
            c.te_bad = true;
            c.te_last_chunked = false;
            return false;
        }
        if (iequals(name, "chunked")) {
            if (semi != std::string_view::npos) c.te_bad = true;  // chunked takes no parameters
            if (c.te_chunked < 255) ++c.te_chunked;
            c.te_last_chunked = true;
        } else {
            c.te_last_chunked = false;
            if (!known_coding(name)) c.te_unknown = true;
        }
        return false;
    });
}

// A Content-Length field value. RFC 9112 §6.3 item 5: a list of valid, equal values (in one
// field line or over repeated ones, which RFC 9110 §5.3 makes one list) is that value; any
// other list, or an element that is not 1*DIGIT, is invalid framing. Empty elements are
// ignored (RFC 9110 §5.6.1), but each field line needs a value.
bool content_length_field(detail::ParseCore& c, std::string_view value) noexcept {
    bool any = false;
    bool bad = false;
    bool differ = false;
    for_each_element(value, [&](std::string_view e) {
        if (e.empty()) return false;
        std::uint64_t n = 0;
        for (char ch : e) {
            if (!is_digit(ch)) return bad = true;
            // Saturate: anything this large is over every body limit anyway.
            if (n > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) {
                n = std::numeric_limits<std::uint64_t>::max();
            } else {
                n = n * 10 + std::uint64_t(ch - '0');
            }
        }
        if (c.has_content_length && n != c.content_length) return differ = true;
        c.has_content_length = true;
        c.content_length = n;
        any = true;
        return false;
    });
    if (bad || !any) return fail(c, 400, "invalid Content-Length");
    if (differ) return fail(c, 400, "different Content-Length values");
    return true;
}

// One header (or trailer) line without its CRLF. `request` enables the checks on Host.
bool header_field(detail::ParseCore& c, Headers& h, std::string_view line, std::size_t max_count,
                  bool trailer, bool request) {
    // One pass over the name finds the colon and checks the token characters.
    std::size_t colon = 0;
    while (colon < line.size() && has_class(line[colon], c_token)) {
        ++colon;
    }
    if (colon == line.size() || line[colon] != ':') {
        if (colon == 0 && (line[0] == ' ' || line[0] == '\t')) {
            // RFC 9112 §5.2: a server may reject obs-fold, and does; a user agent must read it
            // as SP. Framing fields were acted on at their own line, so a fold of one stays an
            // error (as the joined value would be: "1 0" is no length).
            if (request || h.empty()) return fail(c, 400, "obsolete line folding");
            const std::string& last = h[h.size() - 1].name;
            if (!trailer &&
                (iequals(last, "content-length") || iequals(last, "transfer-encoding"))) {
                return fail(c, 400, "obsolete line folding in a framing field");
            }
            std::string_view more = trim_ows(line);
            if (!valid_field_value(more)) {
                return fail(c, 400, "invalid character in header value");
            }
            if (!more.empty()) detail::ParserAccess::unfold(h, more);
            return true;
        }
        if (colon < line.size() && (line[colon] == ' ' || line[colon] == '\t')) {
            std::size_t next = line.find_first_not_of(" \t", colon);
            if (next != std::string_view::npos && line[next] == ':') {
                return fail(c, 400, "whitespace before colon");
            }
        }
        if (line.find(':') == std::string_view::npos) {
            return fail(c, 400, "header line without colon");
        }
        return fail(c, 400, "invalid character in header name");
    }
    if (colon == 0) return fail(c, 400, "empty header name");
    std::string_view name = line.substr(0, colon);
    std::string_view value = trim_ows(line.substr(colon + 1));
    if (!valid_field_value(value)) return fail(c, 400, "invalid character in header value");
    if (++c.header_count > max_count) return fail(c, 431, "too many header fields");
    h.add(name, value);
    if (trailer) return true;

    switch (name.size()) {
        case 4:
            if (request && iequals(name, "host")) {
                if (c.host_count < 255) ++c.host_count;
                if (!all_of_class(value, c_host)) return fail(c, 400, "invalid Host");
            }
            break;
        case 14:
            if (iequals(name, "content-length")) return content_length_field(c, value);
            break;
        case 17:
            if (iequals(name, "transfer-encoding")) note_transfer_encoding(c, value);
            break;
        default:
            break;
    }
    return true;
}

// A chunk-size line without its CRLF: 1*HEXDIG and nothing else (no extensions, no spaces).
// A body framed by Content-Length: within `max_body`, or 413. Reserves at
// most `reserve_cap` up front: a peer may announce a large body and then send
// nothing.
bool length_body(detail::ParseCore& c, std::string& body, std::uint64_t max_body,
                 std::size_t reserve_cap) {
    if (c.content_length > max_body) return fail(c, 413, "body too large");
    if (c.content_length == 0) {
        c.phase = Phase::done;
        return true;
    }
    body.reserve(std::size_t(std::min<std::uint64_t>(c.content_length, reserve_cap)));
    c.remaining = c.content_length;
    c.phase = Phase::body_length;
    return true;
}

// chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), ext-val = token /
// quoted-string (RFC 9112 §7.1.1). Extensions carry nothing we use, so they are checked and
// dropped; anything else after the size is an error, as a lenient reading is how a proxy and a
// server come to disagree on where a chunk ends.
bool valid_chunk_extensions(std::string_view s) noexcept {
    std::size_t i = 0;
    const std::size_t n = s.size();
    auto skip_bws = [&] {
        while (i < n && (s[i] == ' ' || s[i] == '\t')) {
            ++i;
        }
    };
    auto token = [&] {
        std::size_t start = i;
        while (i < n && has_class(s[i], c_token)) {
            ++i;
        }
        return i > start;
    };
    for (;;) {
        skip_bws();
        if (i == n) return true;
        if (s[i] != ';') return false;
        ++i;
        skip_bws();
        if (!token()) return false;
        skip_bws();
        if (i == n || s[i] != '=') continue;
        ++i;
        skip_bws();
        if (i < n && s[i] == '"') {
            ++i;
            bool closed = false;
            while (i < n) {
                const unsigned char ch = static_cast<unsigned char>(s[i]);
                if (ch == '"') {
                    closed = true;
                    ++i;
                    break;
                }
                if (ch == '\\') {
                    if (i + 1 == n || !has_class(s[i + 1], c_value)) return false;
                    i += 2;
                    continue;
                }
                if (!has_class(s[i], c_value)) return false;
                ++i;
            }
            if (!closed) return false;
        } else if (!token()) {
            return false;
        }
    }
}

bool chunk_size_line(detail::ParseCore& c, std::string_view line, std::uint64_t body_size,
                     std::size_t max_body) {
    if (line.empty()) return fail(c, 400, "invalid chunk size");
    std::uint64_t n = 0;
    bool overflow = false;
    std::size_t i = 0;
    for (; i < line.size(); ++i) {
        int v = hex_value(line[i]);
        if (v < 0) break;
        if (n > (std::numeric_limits<std::uint64_t>::max() >> 4)) overflow = true;
        n = (n << 4) | std::uint64_t(v);
    }
    if (i == 0) return fail(c, 400, "invalid chunk size");
    if (i > 64) return fail(c, 400, "chunk line too long");  // leading zeros without end
    if (i < line.size()) {
        // Only an extension may follow the size, and it must start with ';' (after optional
        // whitespace, which is then followed by ';').
        std::string_view rest = line.substr(i);
        const std::size_t semi = rest.find_first_not_of(" \t");
        if (semi == std::string_view::npos || rest[semi] != ';') {
            return fail(c, 400, "invalid chunk size");
        }
        if (!valid_chunk_extensions(rest)) return fail(c, 400, "invalid chunk extension");
    }
    if (overflow || n > max_body - std::min<std::uint64_t>(body_size, max_body)) {
        return fail(c, 413, "body too large");
    }
    if (n == 0) {
        c.phase = Phase::trailer_line;
    } else {
        c.remaining = n;
        c.phase = Phase::chunk_data;
    }
    return true;
}

// A chunk-size line is short, but extensions may follow the size: 4 KiB is plenty for those
// and still bounds what a peer can make us buffer.
constexpr std::size_t max_chunk_line = 4096;

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
    return ascii::iequals(a, b);
}

// ---- Headers ----

Headers::Headers(const Headers& other) : items_(other.begin(), other.end()), size_(other.size_) {}

Headers& Headers::operator=(const Headers& other) {
    if (this != &other) {
        clear();
        for (const Header& h : other) {
            add(h.name, h.value);
        }
    }
    return *this;
}

Headers::Headers(Headers&& other) noexcept
    : items_(std::move(other.items_)), size_(std::exchange(other.size_, 0)) {}

Headers& Headers::operator=(Headers&& other) noexcept {
    if (this != &other) {
        items_ = std::move(other.items_);
        size_ = std::exchange(other.size_, 0);
        other.items_.clear();
    }
    return *this;
}

void Headers::add(std::string_view name, std::string_view value) {
    if (size_ < items_.size()) {
        items_[size_].name.assign(name);
        items_[size_].value.assign(value);
    } else {
        items_.push_back(Header{std::string(name), std::string(value)});
    }
    ++size_;
}

std::optional<std::string_view> Headers::get(std::string_view name) const noexcept {
    for (const Header& h : *this) {
        if (iequals(h.name, name)) return std::string_view(h.value);
    }
    return std::nullopt;
}

std::size_t Headers::count(std::string_view name) const noexcept {
    std::size_t n = 0;
    for (const Header& h : *this) {
        n += iequals(h.name, name) ? 1 : 0;
    }
    return n;
}

bool Headers::has_token(std::string_view name, std::string_view token) const noexcept {
    for (const Header& h : *this) {
        if (!iequals(h.name, name)) continue;
        if (for_each_element(h.value, [&](std::string_view e) { return iequals(e, token); })) {
            return true;
        }
    }
    return false;
}

bool ParsedRequest::keep_alive() const noexcept {
    if (headers.has_token("connection", "close")) return false;
    return version == Version::http_1_1 || headers.has_token("connection", "keep-alive");
}

bool ParsedResponse::keep_alive() const noexcept {
    if (until_close || headers.has_token("connection", "close")) return false;
    return version == Version::http_1_1 || headers.has_token("connection", "keep-alive");
}

// ---- shared parser machinery ----

void detail::ParseCore::clear_framing() noexcept {
    phase = Phase::start_line;
    has_content_length = false;
    has_transfer_encoding = false;
    te_unknown = false;
    te_last_chunked = false;
    te_bad = false;
    te_chunked = 0;
    host_count = 0;
    content_length = 0;
    remaining = 0;
    start_bytes = 0;
    header_bytes = 0;
    header_count = 0;
    body_bytes = 0;
    body_piece = {};
    line.clear();
}

namespace {

std::size_t remaining_budget(std::size_t limit, std::size_t used) noexcept {
    return used >= limit ? 0 : limit - used;
}

}  // namespace

// Handles one complete line (CRLF included) for the line-oriented phases.
template <class Parser>
bool detail::ParserAccess::on_line(Parser& p, ParseCore& c, std::string_view line) {
    // Only CRLF ends a line: a bare LF or a CR elsewhere is how requests get smuggled past a
    // proxy that splits lines differently.
    if (line.size() < 2 || line[line.size() - 2] != '\r') return fail(c, 400, "bare LF");
    std::string_view content = line.substr(0, line.size() - 2);
    if (on_content(p, c, content)) return true;
    // No valid line holds a CR, so every handler rejects one; name the real cause.
    if (c.error_status == 400 && content.find('\r') != std::string_view::npos) {
        c.error_reason = "bare CR";
    }
    return false;
}

// Handles the content of one line (CRLF removed) in the current phase.
template <class Parser>
bool detail::ParserAccess::on_content(Parser& p, ParseCore& c, std::string_view content) {
    constexpr bool is_request = std::is_same_v<Parser, RequestParser>;
    switch (c.phase) {
        case Phase::start_line:
            if (content.empty()) {  // RFC 9112 §2.2: ignore empty lines before a start line
                c.start_bytes += content.size() + 2;
                return true;
            }
            if (!p.on_start_line(content)) return false;
            c.phase = Phase::header_line;
            return true;
        case Phase::header_line:
            c.header_bytes += content.size() + 2;
            if (content.empty()) return p.on_headers_done();
            return header_field(c, p.headers(), content, p.limits_.max_header_count, false,
                                is_request);
        case Phase::chunk_size:
            return chunk_size_line(c, content, c.body_bytes, p.limits_.max_body);
        case Phase::chunk_data_end:
            if (!content.empty()) return fail(c, 400, "chunk data longer than its size");
            c.phase = Phase::chunk_size;
            return true;
        case Phase::trailer_line:
            c.header_bytes += content.size() + 2;
            if (content.empty()) {
                c.phase = Phase::done;
                return true;
            }
            return header_field(c, p.trailers(), content, p.limits_.max_header_count, true,
                                is_request);
        default:
            return fail(c, 500, "internal: line in a body phase");
    }
}

template <class Parser>
std::size_t detail::ParserAccess::feed(Parser& p, std::string_view in) {
    ParseCore& c = p.core_;
    c.body_piece = {};
    const char* data = in.data();
    const std::size_t n = in.size();
    std::size_t pos = 0;
    while (pos < n) {
        switch (c.phase) {
            case Phase::start_line:
            case Phase::header_line:
            case Phase::chunk_size:
            case Phase::chunk_data_end:
            case Phase::trailer_line: {
                std::size_t limit = 0;
                int too_long = 400;
                std::string_view too_long_reason = "chunk line too long";
                if (c.phase == Phase::start_line) {
                    limit = remaining_budget(p.max_start_line(), c.start_bytes);
                    too_long = Parser::start_line_too_long;
                    too_long_reason = "start line too long";
                } else if (c.phase == Phase::header_line || c.phase == Phase::trailer_line) {
                    limit = remaining_budget(p.limits_.max_header_bytes, c.header_bytes);
                    too_long = 431;
                    too_long_reason = "header section too large";
                } else {
                    limit = c.phase == Phase::chunk_size ? max_chunk_line : 2;
                }
                const char* begin = data + pos;
                const void* nl = std::memchr(begin, '\n', n - pos);
                std::size_t take =
                    nl ? std::size_t(static_cast<const char*>(nl) - begin) + 1 : n - pos;
                if (c.line.size() + take > limit) {
                    fail(c, too_long, too_long_reason);
                    return pos;
                }
                pos += take;
                if (nl == nullptr) {
                    c.line.append(begin, take);
                    return pos;
                }
                const bool in_head = c.phase == Phase::header_line;
                bool ok;
                if (c.line.empty()) {
                    ok = on_line(p, c, std::string_view(begin, take));
                } else {
                    c.line.append(begin, take);
                    ok = on_line(p, c, std::string_view(c.line));
                    c.line.clear();
                }
                if (!ok) return pos;
                // Streaming: stop at the end of the head, so the caller sees it before any
                // body byte is consumed.
                if (c.stream_body && in_head && c.phase != Phase::header_line) return pos;
                break;
            }
            case Phase::body_length:
            case Phase::chunk_data: {
                std::size_t take =
                    std::size_t(std::min<std::uint64_t>(c.remaining, std::uint64_t(n - pos)));
                if (c.stream_body) {
                    c.body_piece = std::string_view(data + pos, take);
                } else {
                    p.body().append(data + pos, take);
                }
                pos += take;
                c.body_bytes += take;
                c.remaining -= take;
                if (c.remaining == 0) {
                    c.phase = c.phase == Phase::body_length ? Phase::done : Phase::chunk_data_end;
                }
                if (c.stream_body) return pos;  // the caller takes the piece first
                break;
            }
            case Phase::body_until_close: {
                std::size_t take = n - pos;
                if (take > p.limits_.max_body -
                               std::min<std::uint64_t>(c.body_bytes, p.limits_.max_body)) {
                    fail(c, 413, "body too large");
                    return pos;
                }
                if (c.stream_body) {
                    c.body_piece = std::string_view(data + pos, take);
                } else {
                    p.body().append(data + pos, take);
                }
                c.body_bytes += take;
                pos = n;
                if (c.stream_body) return pos;
                break;
            }
            case Phase::done:
            case Phase::error:
                return pos;
        }
    }
    return pos;
}

namespace {

ParseState state_of(const detail::ParseCore& c) noexcept {
    if (c.phase == Phase::done) return ParseState::done;
    if (c.phase == Phase::error) return ParseState::error;
    return ParseState::need_more;
}

bool head_complete(const detail::ParseCore& c) noexcept {
    return c.phase != Phase::start_line && c.phase != Phase::header_line && c.phase != Phase::error;
}

}  // namespace

// ---- RequestParser ----

std::size_t RequestParser::feed(std::string_view data) {
    return detail::ParserAccess::feed(*this, data);
}

ParseState RequestParser::state() const noexcept {
    return state_of(core_);
}

bool RequestParser::headers_complete() const noexcept {
    return head_complete(core_);
}

bool RequestParser::on_start_line(std::string_view line) {
    // request-line = method SP request-target SP HTTP-version, single spaces (RFC 9112 §3).
    std::size_t i = 0;
    const std::size_t n = line.size();
    while (i < n && has_class(line[i], c_token)) {
        ++i;
    }
    if (i == 0 || i == n || line[i] != ' ') return fail(core_, 400, "invalid method");
    request_.method.assign(line.substr(0, i));
    std::size_t t = ++i;
    i = std::min(line.find(' ', t), n);
    if (i == t || i == n || !all_vchar(line.substr(t, i - t))) {
        return fail(core_, 400, "invalid request target");
    }
    const std::string_view target = line.substr(t, i - t);
    // RFC 9112 §3.2.3: the authority form is for CONNECT, and CONNECT takes nothing else.
    const bool form_ok = request_.method == "CONNECT" ? valid_authority_form(target)
                                                      : target.front() == '/' || target == "*" ||
                                                            valid_absolute_form(target);
    if (!form_ok) return fail(core_, 400, "invalid request target");
    request_.target.assign(target);
    int st = parse_version(line.substr(i + 1), request_.version);
    if (st == 505) return fail(core_, 505, "unsupported HTTP version");
    if (st != 0) return fail(core_, 400, "invalid HTTP version");
    return true;
}

bool RequestParser::on_headers_done() {
    detail::ParseCore& c = core_;
    if (request_.version == Version::http_1_1 && c.host_count == 0) {
        return fail(c, 400, "missing Host");
    }
    if (c.host_count > 1) return fail(c, 400, "repeated Host");
    if (c.has_transfer_encoding) {
        if (c.has_content_length) return fail(c, 400, "Content-Length with Transfer-Encoding");
        // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means the framing cannot be trusted.
        if (request_.version == Version::http_1_0) {
            return fail(c, 400, "Transfer-Encoding in HTTP/1.0");
        }
        if (c.te_bad) return fail(c, 400, "invalid Transfer-Encoding");
        if (c.te_unknown) return fail(c, 501, "unknown transfer coding");
        if (c.te_chunked != 1 || !c.te_last_chunked) {
            return fail(c, 400, "chunked is not the last transfer coding");
        }
        c.phase = Phase::chunk_size;
        return true;
    }
    if (c.has_content_length) {
        return length_body(c, request_.body, limits_.max_body, 64 * 1024);
    }
    c.phase = Phase::done;  // a request without framing headers has no body
    return true;
}

ParsedRequest RequestParser::take_request() {
    return std::exchange(request_, ParsedRequest{});
}

void RequestParser::reset() noexcept {
    if (core_.phase == Phase::error) return;
    core_.clear_framing();
    request_.method.clear();
    request_.target.clear();
    request_.version = Version::http_1_1;
    request_.headers.clear();
    request_.trailers.clear();
    request_.body.clear();
    // Do not let one large upload pin a big buffer for the life of the connection.
    if (request_.body.capacity() > 64 * 1024) request_.body.shrink_to_fit();
}

// ---- ResponseParser ----

std::size_t ResponseParser::feed(std::string_view data) {
    return detail::ParserAccess::feed(*this, data);
}

ParseState ResponseParser::state() const noexcept {
    return state_of(core_);
}

bool ResponseParser::headers_complete() const noexcept {
    return head_complete(core_);
}

ParseState ResponseParser::finish_eof() noexcept {
    switch (core_.phase) {
        case Phase::body_until_close:
            core_.phase = Phase::done;
            break;
        case Phase::done:
        case Phase::error:
            break;
        case Phase::start_line:
            if (core_.line.empty()) {
                fail(core_, 400, "connection closed before a response");
                break;
            }
            [[fallthrough]];
        default:
            fail(core_, 400, "unexpected end of stream");
            break;
    }
    return state();
}

bool ResponseParser::on_start_line(std::string_view line) {
    // status-line = HTTP-version SP status-code SP [reason-phrase]; also accept a missing
    // final SP, which some servers send.
    if (line.size() < 12) return fail(core_, 400, "invalid status line");
    int st = parse_version(line.substr(0, 8), response_.version);
    if (st == 505) return fail(core_, 505, "unsupported HTTP version");
    if (st != 0 || line[8] != ' ' || !is_digit(line[9]) || !is_digit(line[10]) ||
        !is_digit(line[11])) {
        return fail(core_, 400, "invalid status line");
    }
    response_.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (response_.status < 100) return fail(core_, 400, "invalid status code");
    std::string_view reason;
    if (line.size() > 12) {
        if (line[12] != ' ') return fail(core_, 400, "invalid status line");
        reason = line.substr(13);
        if (!valid_field_value(reason)) return fail(core_, 400, "invalid reason phrase");
    }
    response_.reason.assign(reason);
    return true;
}

bool ResponseParser::on_headers_done() {
    detail::ParseCore& c = core_;
    const int status = response_.status;
    if (status < 200 && status != 101) {
        // An interim response (100 Continue, 103 Early Hints): the final one follows.
        continued_ = continued_ || status == 100;
        response_.headers.clear();
        response_.reason.clear();
        response_.status = 0;
        c.clear_framing();
        return true;
    }
    if (c.has_transfer_encoding) {
        if (c.has_content_length) return fail(c, 400, "Content-Length with Transfer-Encoding");
        if (response_.version == Version::http_1_0) {
            return fail(c, 400, "Transfer-Encoding in HTTP/1.0");
        }
        if (c.te_bad) return fail(c, 400, "invalid Transfer-Encoding");
        if (c.te_chunked > 1 || (c.te_chunked == 1 && !c.te_last_chunked)) {
            return fail(c, 400, "chunked is not the last transfer coding");
        }
    }
    if (head_request_ || status < 200 || status == 204 || status == 304) {
        c.phase = Phase::done;
        return true;
    }
    if (c.has_transfer_encoding) {
        if (c.te_chunked == 1) {
            c.phase = Phase::chunk_size;
        } else {
            // RFC 9112 §6.3: a final coding other than chunked is delimited by close.
            response_.until_close = true;
            c.phase = Phase::body_until_close;
        }
        return true;
    }
    if (c.has_content_length) {
        return length_body(c, response_.body, limits_.max_body, 256 * 1024);
    }
    response_.until_close = true;
    c.phase = Phase::body_until_close;
    return true;
}

ParsedResponse ResponseParser::take_response() {
    return std::exchange(response_, ParsedResponse{});
}

void ResponseParser::reset(bool head) noexcept {
    if (core_.phase == Phase::error) return;
    core_.clear_framing();
    head_request_ = head;
    continued_ = false;
    response_.version = Version::http_1_1;
    response_.status = 0;
    response_.reason.clear();
    response_.headers.clear();
    response_.trailers.clear();
    response_.body.clear();
    response_.until_close = false;
    if (response_.body.capacity() > 256 * 1024) response_.body.shrink_to_fit();
}

// ---- formatting ----

namespace {

void check_headers(std::span<const HeaderView> headers) {
    for (const HeaderView& h : headers) {
        if (!is_token(h.name)) throw std::invalid_argument("http: invalid header name");
        if (!valid_field_value(h.value)) {
            throw std::invalid_argument("http: invalid character in header value");
        }
    }
}

void append_headers(std::string& out, std::span<const HeaderView> headers) {
    for (const HeaderView& h : headers) {
        out.append(h.name);
        out.append(": ");
        out.append(h.value);
        out.append("\r\n");
    }
}

void append_number(std::string& out, std::uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

}  // namespace

void format_response_head(std::string& out, int status, std::string_view reason,
                          std::span<const HeaderView> headers,
                          std::optional<std::size_t> content_length, bool keep_alive,
                          Version client_version) {
    if (status < 100 || status > 999) throw std::invalid_argument("http: invalid status code");
    if (reason.empty()) reason = status_reason(status);
    if (!valid_field_value(reason)) throw std::invalid_argument("http: invalid reason");
    check_headers(headers);
    out.append("HTTP/1.1 ");
    append_number(out, std::uint64_t(status));
    out.push_back(' ');
    out.append(reason);
    out.append("\r\n");
    append_headers(out, headers);
    // RFC 9110 §8.6: no Content-Length in 1xx and 204 responses.
    if (content_length && status >= 200 && status != 204) {
        out.append("Content-Length: ");
        append_number(out, *content_length);
        out.append("\r\n");
    }
    if (!keep_alive) {
        out.append("Connection: close\r\n");
    } else if (client_version == Version::http_1_0) {
        out.append("Connection: keep-alive\r\n");
    }
    out.append("\r\n");
}

void format_response_head(std::string& out, int status, std::string_view reason,
                          std::initializer_list<HeaderView> headers,
                          std::optional<std::size_t> content_length, bool keep_alive,
                          Version client_version) {
    format_response_head(out, status, reason, std::span<const HeaderView>(headers), content_length,
                         keep_alive, client_version);
}

void format_request(std::string& out, std::string_view method, std::string_view target,
                    std::string_view host, std::span<const HeaderView> headers) {
    if (!is_token(method)) throw std::invalid_argument("http: invalid method");
    if (target.empty() || !all_of_class(target, c_target)) {
        throw std::invalid_argument("http: invalid request target");
    }
    if (!all_of_class(host, c_host)) throw std::invalid_argument("http: invalid host");
    check_headers(headers);
    out.append(method);
    out.push_back(' ');
    out.append(target);
    out.append(" HTTP/1.1\r\nHost: ");
    out.append(host);
    out.append("\r\n");
    append_headers(out, headers);
    out.append("\r\n");
}

void format_request(std::string& out, std::string_view method, std::string_view target,
                    std::string_view host, std::initializer_list<HeaderView> headers) {
    format_request(out, method, target, host, std::span<const HeaderView>(headers));
}

std::string_view status_reason(int status) noexcept {
    switch (status) {
        case 100:
            return "Continue";
        case 101:
            return "Switching Protocols";
        case 103:
            return "Early Hints";
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 202:
            return "Accepted";
        case 203:
            return "Non-Authoritative Information";
        case 204:
            return "No Content";
        case 205:
            return "Reset Content";
        case 206:
            return "Partial Content";
        case 300:
            return "Multiple Choices";
        case 301:
            return "Moved Permanently";
        case 302:
            return "Found";
        case 303:
            return "See Other";
        case 304:
            return "Not Modified";
        case 307:
            return "Temporary Redirect";
        case 308:
            return "Permanent Redirect";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 406:
            return "Not Acceptable";
        case 408:
            return "Request Timeout";
        case 409:
            return "Conflict";
        case 410:
            return "Gone";
        case 411:
            return "Length Required";
        case 412:
            return "Precondition Failed";
        case 413:
            return "Content Too Large";
        case 414:
            return "URI Too Long";
        case 415:
            return "Unsupported Media Type";
        case 416:
            return "Range Not Satisfiable";
        case 417:
            return "Expectation Failed";
        case 421:
            return "Misdirected Request";
        case 422:
            return "Unprocessable Content";
        case 426:
            return "Upgrade Required";
        case 428:
            return "Precondition Required";
        case 429:
            return "Too Many Requests";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        case 505:
            return "HTTP Version Not Supported";
        default:
            return "Unknown";
    }
}

std::optional<std::string> percent_decode(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c != '%') {
            out.push_back(c);
            continue;
        }
        if (i + 2 >= in.size()) return std::nullopt;
        int hi = hex_value(in[i + 1]);
        int lo = hex_value(in[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

std::string_view media_type(std::string_view content_type) noexcept {
    return ascii::trim_ows(content_type.substr(0, content_type.find(';')));
}

std::string_view mime_type_for(std::string_view path) noexcept {
    std::size_t slash = path.find_last_of('/');
    if (slash != std::string_view::npos) path.remove_prefix(slash + 1);
    std::size_t dot = path.find_last_of('.');
    if (dot == std::string_view::npos) return "application/octet-stream";
    std::string_view ext = path.substr(dot + 1);
    struct Entry {
        std::string_view ext;
        std::string_view type;
    };
    static constexpr Entry table[] = {
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"json", "application/json"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"svg", "image/svg+xml"},
        {"txt", "text/plain; charset=utf-8"},
        {"ico", "image/x-icon"},
        {"wasm", "application/wasm"},
        {"pdf", "application/pdf"},
    };
    for (const Entry& e : table) {
        if (iequals(ext, e.ext)) return e.type;
    }
    return "application/octet-stream";
}

bool valid_field_name(std::string_view name) noexcept {
    return is_token(name);
}

bool valid_field_value_text(std::string_view value) noexcept {
    return valid_field_value(value);
}

void format_chunk_header(std::string& out, std::size_t size) {
    char b[2 * sizeof(std::size_t) + 2];
    auto r = std::to_chars(b, b + sizeof b - 2, size, 16);
    *r.ptr++ = '\r';
    *r.ptr++ = '\n';
    out.append(b, r.ptr);
}

void format_chunk(std::string& out, std::string_view data) {
    if (data.empty()) return;
    format_chunk_header(out, data.size());
    out.append(data);
    out.append("\r\n");
}

void format_last_chunk(std::string& out) {
    out.append("0\r\n\r\n");
}

// ---- HTTP-dates (RFC 9110 §5.6.7) ----------------------------------------------------

namespace {

/// The value of the decimal digits `s`, or -1 when it holds anything else.
int date_digits(std::string_view s) noexcept {
    int v = 0;
    for (char ch : s) {
        if (ch < '0' || ch > '9') return -1;
        v = v * 10 + (ch - '0');
    }
    return s.empty() ? -1 : v;
}

/// The index of `s` in `names`, or -1. HTTP-date is case-sensitive.
template <std::size_t N>
int name_index(std::string_view s, const std::string_view (&names)[N]) noexcept {
    for (std::size_t i = 0; i < N; ++i) {
        if (s == names[i]) return int(i);
    }
    return -1;
}

constexpr std::string_view day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::string_view long_day_names[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                               "Thursday", "Friday", "Saturday"};
constexpr std::string_view month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/// "08:49:37" into `tm`; false when it is not a time of day.
bool parse_clock(std::string_view s, struct tm& tm) noexcept {
    if (s.size() != 8 || s[2] != ':' || s[5] != ':') return false;
    tm.tm_hour = date_digits(s.substr(0, 2));
    tm.tm_min = date_digits(s.substr(3, 2));
    tm.tm_sec = date_digits(s.substr(6, 2));
    // 60: a leap second, which the grammar allows.
    return tm.tm_hour >= 0 && tm.tm_hour < 24 && tm.tm_min >= 0 && tm.tm_min < 60 &&
           tm.tm_sec >= 0 && tm.tm_sec <= 60;
}

}  // namespace

std::size_t format_http_date(std::time_t t, char* out) noexcept {
    struct tm tm {};
    ::gmtime_r(&t, &tm);
    auto two = [&](std::size_t at, int v) {
        out[at] = char('0' + v / 10 % 10);
        out[at + 1] = char('0' + v % 10);
    };
    const std::string_view day = day_names[unsigned(tm.tm_wday) % 7];
    const std::string_view mon = month_names[unsigned(tm.tm_mon) % 12];
    std::memcpy(out, day.data(), 3);
    out[3] = ',';
    out[4] = ' ';
    two(5, tm.tm_mday);
    out[7] = ' ';
    std::memcpy(out + 8, mon.data(), 3);
    out[11] = ' ';
    const int year = tm.tm_year + 1900;
    two(12, year / 100);
    two(14, year % 100);
    out[16] = ' ';
    two(17, tm.tm_hour);
    out[19] = ':';
    two(20, tm.tm_min);
    out[22] = ':';
    two(23, tm.tm_sec);
    std::memcpy(out + 25, " GMT", 4);
    return http_date_size;
}

std::string format_http_date(std::time_t t) {
    char b[http_date_size];
    return std::string(b, format_http_date(t, b));
}

std::optional<std::time_t> parse_http_date(std::string_view s) noexcept {
    struct tm tm {};
    int mday = -1;
    if (s.size() == 29 && s.substr(3, 2) == ", " && s[7] == ' ' && s[11] == ' ' && s[16] == ' ' &&
        s.substr(25) == " GMT") {
        if (name_index(s.substr(0, 3), day_names) < 0) return std::nullopt;
        mday = date_digits(s.substr(5, 2));
        tm.tm_mon = name_index(s.substr(8, 3), month_names);
        tm.tm_year = date_digits(s.substr(12, 4)) - 1900;
        if (!parse_clock(s.substr(17, 8), tm)) return std::nullopt;
    } else if (std::size_t comma = s.find(", ");
               comma != std::string_view::npos && s.size() == comma + 24) {
        if (name_index(s.substr(0, comma), long_day_names) < 0) return std::nullopt;
        std::string_view d = s.substr(comma + 2);  // "06-Nov-94 08:49:37 GMT"
        if (d[2] != '-' || d[6] != '-' || d[9] != ' ' || d.substr(18) != " GMT") {
            return std::nullopt;
        }
        mday = date_digits(d.substr(0, 2));
        tm.tm_mon = name_index(d.substr(3, 3), month_names);
        int yy = date_digits(d.substr(7, 2));
        if (yy < 0 || !parse_clock(d.substr(10, 8), tm)) return std::nullopt;
        // A two-digit year more than 50 years ahead is in the past century.
        std::time_t now = ::time(nullptr);
        struct tm now_tm;
        ::gmtime_r(&now, &now_tm);
        int year = now_tm.tm_year + 1900;
        int y = year - year % 100 + yy;
        if (y > year + 50) y -= 100;
        tm.tm_year = y - 1900;
    } else if (s.size() == 24 && s[3] == ' ' && s[7] == ' ' && s[10] == ' ' && s[19] == ' ') {
        if (name_index(s.substr(0, 3), day_names) < 0) return std::nullopt;
        tm.tm_mon = name_index(s.substr(4, 3), month_names);
        mday = s[8] == ' ' ? date_digits(s.substr(9, 1)) : date_digits(s.substr(8, 2));
        if (!parse_clock(s.substr(11, 8), tm)) return std::nullopt;
        tm.tm_year = date_digits(s.substr(20, 4)) - 1900;
    } else {
        return std::nullopt;
    }
    if (tm.tm_mon < 0 || mday < 1 || mday > 31 || tm.tm_year < 0) return std::nullopt;
    tm.tm_mday = mday;
    std::time_t t = ::timegm(&tm);
    // timegm moves "31 Nov" to 1 Dec: no such day, no date.
    if (t == std::time_t(-1) || tm.tm_mday != mday) return std::nullopt;
    return t;
}

}  // namespace corio::http
