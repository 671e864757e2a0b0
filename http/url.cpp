#include <corio/http/url.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>

#include <corio/http/ascii.hpp>

namespace corio::http {
namespace {

using ascii::hex_value;
using ascii::is_alpha;
using ascii::to_lower;

enum : std::uint8_t {
    u_unreserved = 1,  // ALPHA DIGIT - . _ ~
    u_sub_delim = 2,   // ! $ & ' ( ) * + , ; =
    u_path = 4,        // pchar (less pct-encoded) and '/'
    u_query = 8,       // path characters and '?'
    u_scheme = 16,     // ALPHA DIGIT + - .
};

constexpr std::array<std::uint8_t, 256> make_classes() {
    std::array<std::uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        std::uint8_t v = 0;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        bool digit = c >= '0' && c <= '9';
        if (alpha || digit || c == '-' || c == '.' || c == '_' || c == '~') v |= u_unreserved;
        for (char s : std::string_view("!$&'()*+,;=")) {
            if (c == s) v |= u_sub_delim;
        }
        if ((v & (u_unreserved | u_sub_delim)) != 0 || c == ':' || c == '@' || c == '/') {
            v |= u_path | u_query;
        }
        if (c == '?') v |= u_query;
        if (alpha || digit || c == '+' || c == '-' || c == '.') v |= u_scheme;
        t[static_cast<std::size_t>(c)] = v;
    }
    return t;
}
constexpr auto classes = make_classes();

inline bool has_class(char c, std::uint8_t cls) noexcept {
    return (classes[static_cast<unsigned char>(c)] & cls) != 0;
}

void append_escape(std::string& out, unsigned char b) {
    ascii::append_percent(b, out);
}

// The byte of a valid "%XX" at s[i], or -1.
int escape_at(std::string_view s, std::size_t i) noexcept {
    if (i + 2 >= s.size()) return -1;
    int hi = hex_value(s[i + 1]);
    int lo = hex_value(s[i + 2]);
    return (hi < 0 || lo < 0) ? -1 : hi * 16 + lo;
}

// RFC 3986 §6.2.2: escapes in uppercase, escapes of unreserved characters decoded. Characters
// outside `allowed` (and a '%' that starts no escape) are percent-encoded, so the result is
// always a valid URI component.
std::string normalize_component(std::string_view in, std::uint8_t allowed) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c == '%') {
            int b = escape_at(in, i);
            if (b < 0) {
                append_escape(out, '%');
            } else if (has_class(char(b), u_unreserved)) {
                out.push_back(char(b));
                i += 2;
            } else {
                append_escape(out, static_cast<unsigned char>(b));
                i += 2;
            }
        } else if (has_class(c, allowed)) {
            out.push_back(c);
        } else {
            append_escape(out, static_cast<unsigned char>(c));
        }
    }
    return out;
}

// reg-name = *( unreserved / pct-encoded / sub-delims ), lowercased; nullopt if invalid or
// empty (http URLs need a host).
std::optional<std::string> normalize_reg_name(std::string_view in) {
    if (in.empty()) return std::nullopt;
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c == '%') {
            int b = escape_at(in, i);
            if (b < 0) return std::nullopt;
            if (has_class(char(b), u_unreserved)) {
                out.push_back(to_lower(char(b)));
            } else {
                append_escape(out, static_cast<unsigned char>(b));
            }
            i += 2;
        } else if (has_class(c, u_unreserved | u_sub_delim)) {
            out.push_back(to_lower(c));
        } else {
            return std::nullopt;
        }
    }
    return out;
}

// "[...]" content: an IPv6 address, in the canonical text form of RFC 5952 (what inet_ntop
// prints), so "[0:0::1]" and "[::1]" deduplicate.
std::optional<std::string> normalize_ipv6(std::string_view in) {
    if (in.empty() || in.size() > 45) return std::nullopt;
    char buf[64];
    std::memcpy(buf, in.data(), in.size());
    buf[in.size()] = '\0';
    in6_addr addr;
    if (inet_pton(AF_INET6, buf, &addr) != 1) return std::nullopt;
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, &addr, text, sizeof text) == nullptr) return std::nullopt;
    return "[" + std::string(text) + "]";
}

std::uint16_t default_port(std::string_view scheme) noexcept {
    return scheme == "https" ? 443 : 80;
}

// Drops surrounding whitespace and every tab and newline, as browsers do with hrefs.
std::string_view clean_input(std::string_view s, std::string& storage) {
    while (!s.empty() && static_cast<unsigned char>(s.front()) <= 0x20) {
        s.remove_prefix(1);
    }
    while (!s.empty() && static_cast<unsigned char>(s.back()) <= 0x20) {
        s.remove_suffix(1);
    }
    if (s.find_first_of("\t\r\n") == std::string_view::npos) return s;
    storage.clear();
    for (char c : s) {
        if (c != '\t' && c != '\r' && c != '\n') storage.push_back(c);
    }
    return storage;
}

bool valid_scheme(std::string_view s) noexcept {
    if (s.empty() || !is_alpha(s[0])) return false;
    for (char c : s) {
        if (!has_class(c, u_scheme)) return false;
    }
    return true;
}

// The five components of a URI reference (RFC 3986 Appendix B); `has_*` tell an absent
// component from an empty one.
struct Parts {
    std::string_view scheme, authority, path, query, fragment;
    bool has_scheme = false, has_authority = false, has_query = false, has_fragment = false;
};

Parts split(std::string_view s) {
    Parts p;
    std::size_t i = s.find_first_of(":/?#");
    if (i != std::string_view::npos && s[i] == ':' && valid_scheme(s.substr(0, i))) {
        p.scheme = s.substr(0, i);
        p.has_scheme = true;
        s.remove_prefix(i + 1);
    }
    if (s.substr(0, 2) == "//") {
        s.remove_prefix(2);
        std::size_t j = std::min(s.find_first_of("/?#"), s.size());
        p.authority = s.substr(0, j);
        p.has_authority = true;
        s.remove_prefix(j);
    }
    std::size_t j = std::min(s.find_first_of("?#"), s.size());
    p.path = s.substr(0, j);
    s.remove_prefix(j);
    if (!s.empty() && s[0] == '?') {
        std::size_t h = std::min(s.find('#'), s.size());
        p.query = s.substr(1, h - 1);
        p.has_query = true;
        s.remove_prefix(h);
    }
    if (!s.empty() && s[0] == '#') {
        p.fragment = s.substr(1);
        p.has_fragment = true;
    }
    return p;
}

// Removes the last segment and its preceding '/' (if any) from the output buffer.
void pop_segment(std::string& out) {
    std::size_t slash = out.rfind('/');
    out.resize(slash == std::string::npos ? 0 : slash);
}

}  // namespace

std::string remove_dot_segments(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    while (!in.empty()) {
        if (in.substr(0, 3) == "../") {
            in.remove_prefix(3);
        } else if (in.substr(0, 2) == "./") {
            in.remove_prefix(2);
        } else if (in.substr(0, 3) == "/./") {
            in.remove_prefix(2);
        } else if (in == "/.") {
            in = "/";
        } else if (in.substr(0, 4) == "/../") {
            in.remove_prefix(3);
            pop_segment(out);
        } else if (in == "/..") {
            in = "/";
            pop_segment(out);
        } else if (in == "." || in == "..") {
            in = {};
        } else {
            std::size_t end = std::min(in.find('/', in[0] == '/' ? 1 : 0), in.size());
            out.append(in.substr(0, end));
            in.remove_prefix(end);
        }
    }
    return out;
}

std::string resolve_reference(std::string_view base_text, std::string_view reference) {
    Parts r = split(reference);
    Parts b = split(base_text);
    Parts t;
    std::string path;
    if (r.has_scheme) {
        t = r;
        path = remove_dot_segments(r.path);
    } else {
        if (r.has_authority) {
            t.authority = r.authority;
            t.has_authority = true;
            path = remove_dot_segments(r.path);
            t.query = r.query;
            t.has_query = r.has_query;
        } else {
            if (r.path.empty()) {
                path = b.path;
                if (r.has_query) {
                    t.query = r.query;
                    t.has_query = true;
                } else {
                    t.query = b.query;
                    t.has_query = b.has_query;
                }
            } else {
                if (r.path[0] == '/') {
                    path = remove_dot_segments(r.path);
                } else {
                    // Merge (§5.2.3): the base path up to its last '/', then the reference.
                    std::string merged;
                    if (b.has_authority && b.path.empty()) {
                        merged = "/";
                    } else {
                        std::size_t slash = b.path.rfind('/');
                        if (slash != std::string_view::npos) merged = b.path.substr(0, slash + 1);
                    }
                    merged.append(r.path);
                    path = remove_dot_segments(merged);
                }
                t.query = r.query;
                t.has_query = r.has_query;
            }
            t.authority = b.authority;
            t.has_authority = b.has_authority;
        }
        t.scheme = b.scheme;
        t.has_scheme = b.has_scheme;
    }
    t.fragment = r.fragment;
    t.has_fragment = r.has_fragment;

    // Recomposition (§5.3).
    std::string out;
    out.reserve(base_text.size() + reference.size());
    if (t.has_scheme) {
        out.append(t.scheme);
        out.push_back(':');
    }
    if (t.has_authority) {
        out.append("//");
        out.append(t.authority);
    }
    out.append(path);
    if (t.has_query) {
        out.push_back('?');
        out.append(t.query);
    }
    if (t.has_fragment) {
        out.push_back('#');
        out.append(t.fragment);
    }
    return out;
}

std::optional<Url> Url::parse(std::string_view text) {
    std::string storage;
    std::string_view s = clean_input(text, storage);

    std::size_t colon = s.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    Url u;
    for (char c : s.substr(0, colon)) {
        u.scheme_.push_back(to_lower(c));
    }
    if (u.scheme_ != "http" && u.scheme_ != "https") return std::nullopt;
    s.remove_prefix(colon + 1);
    if (s.substr(0, 2) != "//") return std::nullopt;
    s.remove_prefix(2);

    std::size_t auth_end = std::min(s.find_first_of("/?#"), s.size());
    std::string_view authority = s.substr(0, auth_end);
    s.remove_prefix(auth_end);
    // User info is refused rather than dropped: "http://good.example@evil.example/" is a
    // phishing classic, and crawlers have no use for credentials in links.
    if (authority.find('@') != std::string_view::npos) return std::nullopt;

    std::string_view port_text;
    bool has_port = false;
    if (!authority.empty() && authority[0] == '[') {
        std::size_t close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        auto host = normalize_ipv6(authority.substr(1, close - 1));
        if (!host) return std::nullopt;
        u.host_ = std::move(*host);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':') return std::nullopt;
            port_text = after.substr(1);
            has_port = true;
        }
    } else {
        std::size_t pc = authority.find(':');
        auto host = normalize_reg_name(authority.substr(0, pc));
        if (!host) return std::nullopt;
        u.host_ = std::move(*host);
        if (pc != std::string_view::npos) {
            port_text = authority.substr(pc + 1);
            has_port = true;
        }
    }
    u.port_ = default_port(u.scheme_);
    if (has_port && !port_text.empty()) {  // RFC 3986 §3.2.3: an empty port is the default
        unsigned value = 0;
        for (char c : port_text) {
            if (c < '0' || c > '9') return std::nullopt;
            value = value * 10 + unsigned(c - '0');
            if (value > 65535) return std::nullopt;
        }
        if (value == 0) return std::nullopt;
        u.port_ = static_cast<std::uint16_t>(value);
    }

    std::size_t path_end = std::min(s.find_first_of("?#"), s.size());
    u.path_ = remove_dot_segments(normalize_component(s.substr(0, path_end), u_path));
    if (u.path_.empty()) u.path_ = "/";
    s.remove_prefix(path_end);
    if (!s.empty() && s[0] == '?') {
        std::size_t hash = std::min(s.find('#'), s.size());
        u.query_ = normalize_component(s.substr(1, hash - 1), u_query);
    }
    return u;
}

std::optional<Url> Url::resolve(const Url& base, std::string_view reference) {
    std::string storage;
    std::string_view ref = clean_input(reference, storage);
    return parse(resolve_reference(base.normalized(), ref));
}

std::string_view Url::host_name() const noexcept {
    std::string_view h = host_;
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    return h;
}

bool Url::has_default_port() const noexcept {
    return port_ == default_port(scheme_);
}

std::string Url::target() const {
    std::string out = path_;
    if (!query_.empty()) {
        out.push_back('?');
        out.append(query_);
    }
    return out;
}

std::string Url::authority() const {
    std::string out = host_;
    if (!has_default_port()) {
        out.push_back(':');
        out.append(std::to_string(port_));
    }
    return out;
}

std::string Url::normalized() const {
    std::string out;
    out.reserve(scheme_.size() + host_.size() + path_.size() + query_.size() + 10);
    out.append(scheme_);
    out.append("://");
    out.append(authority());
    out.append(target());
    return out;
}

Origin Url::origin() const {
    return Origin{scheme_, host_, port_};
}

bool Url::same_origin(const Url& other) const noexcept {
    return port_ == other.port_ && scheme_ == other.scheme_ && host_ == other.host_;
}

}  // namespace corio::http
