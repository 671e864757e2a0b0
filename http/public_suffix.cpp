#include <corio/http/public_suffix.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <utility>
#include <vector>

#include <corio/http/ascii.hpp>

namespace corio::http {
namespace {

// RFC 3492 §5's parameters for Punycode.
constexpr std::uint32_t base = 36, tmin = 1, tmax = 26, skew = 38, damp = 700;
constexpr std::uint32_t initial_bias = 72, initial_n = 0x80;

// RFC 3492 §6.1: the bias after a code point is encoded.
std::uint32_t adapt(std::uint32_t delta, std::uint32_t points, bool first) {
    delta = first ? delta / damp : delta / 2;
    delta += delta / points;
    std::uint32_t k = 0;
    while (delta > ((base - tmin) * tmax) / 2) {
        delta /= base - tmin;
        k += base;
    }
    return k + (base - tmin + 1) * delta / (delta + skew);
}

char digit(std::uint32_t d) {
    return static_cast<char>(d < 26 ? 'a' + d : '0' + (d - 26));
}

// The code points of well-formed UTF-8 (no overlong forms, no surrogates), or false.
bool decode_utf8(std::string_view s, std::vector<std::uint32_t>& out) {
    for (std::size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        // Bytes after the first: 0xc0, 0xc1 and 0xf5 up never start a sequence.
        int more = -1;
        if (b < 0x80) {
            more = 0;
        } else if (b >= 0xc2 && b < 0xe0) {
            more = 1;
        } else if (b >= 0xe0 && b < 0xf0) {
            more = 2;
        } else if (b >= 0xf0 && b < 0xf5) {
            more = 3;
        }
        if (more < 0 || s.size() - i <= std::size_t(more)) return false;
        std::uint32_t cp = more == 0 ? b : b & (0x3fu >> more);
        for (int k = 1; k <= more; ++k) {
            const auto c = static_cast<unsigned char>(s[i + k]);
            if ((c & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (c & 0x3f);
        }
        static constexpr std::uint32_t least[] = {0, 0x80, 0x800, 0x10000};
        if (cp < least[more] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        out.push_back(cp);
        i += 1 + std::size_t(more);
    }
    return true;
}

// RFC 3492 §6.3, for one label's code points; false on overflow.
bool punycode(const std::vector<std::uint32_t>& in, std::string& out) {
    std::uint32_t n = initial_n, delta = 0, bias = initial_bias, b = 0;
    for (std::uint32_t c : in) {
        if (c < 0x80) {
            out += static_cast<char>(c);  // the basic code points first, in order
            ++b;
        }
    }
    std::uint32_t h = b;  // code points handled
    if (b > 0) out += '-';
    constexpr std::uint32_t max = UINT32_MAX;
    while (h < in.size()) {
        std::uint32_t m = max;
        for (std::uint32_t c : in) {
            if (c >= n && c < m) m = c;
        }
        if (m - n > (max - delta) / (h + 1)) return false;
        delta += (m - n) * (h + 1);
        n = m;
        for (std::uint32_t c : in) {
            if (c < n && ++delta == 0) return false;
            if (c != n) continue;
            std::uint32_t q = delta;
            for (std::uint32_t k = base;; k += base) {
                const std::uint32_t t = k <= bias ? tmin : k >= bias + tmax ? tmax : k - bias;
                if (q < t) break;
                out += digit(t + (q - t) % (base - t));
                q = (q - t) / (base - t);
            }
            out += digit(q);
            bias = adapt(delta, h + 1, h == b);
            delta = 0;
            ++h;
        }
        ++delta;
        ++n;
    }
    return true;
}

// Non-empty labels only, and not an address: an IPv6 literal, or a last label of digits
// (an IPv4 address, as URL parsers take a host that ends in a number).
bool is_name(std::string_view d) noexcept {
    if (d.empty() || d.front() == '.' || d.back() == '.' || d.find("..") != d.npos) return false;
    if (d.find_first_of("[:") != d.npos) return false;
    const std::string_view last = d.substr(d.rfind('.') + 1);  // npos + 1 is 0
    return !std::ranges::all_of(last, [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

bool append_idna_label(std::string& out, std::string_view label) {
    if (std::ranges::all_of(label, [](char c) { return static_cast<unsigned char>(c) < 0x80; })) {
        out += label;
        return true;
    }
    std::vector<std::uint32_t> points;
    std::string encoded = "xn--";
    // Each code point takes at least a byte: more than 59 cannot fit in a label's 63 (and
    // Punycode's time grows with the square of their number).
    if (!decode_utf8(label, points) || points.size() > 59 || !punycode(points, encoded) ||
        encoded.size() > 63) {
        return false;
    }
    out += encoded;
    return true;
}

PublicSuffixList::PublicSuffixList() : rules_(std::make_shared<const Rules>()) {}

PublicSuffixList PublicSuffixList::parse(std::string_view text) {
    // Letters, digits and hyphens, or non-ASCII text to encode.
    const auto rule_char = [](char c) {
        return static_cast<unsigned char>(c) >= 0x80 || ascii::is_alpha(c) || ascii::is_digit(c) ||
               c == '-';
    };
    auto rules = std::make_shared<Rules>();
    if (text.starts_with("\xef\xbb\xbf")) text.remove_prefix(3);  // a byte order mark
    while (!text.empty()) {
        const std::size_t eol = std::min(text.find('\n'), text.size());
        std::string_view line = text.substr(0, eol);
        text.remove_prefix(std::min(text.size(), eol + 1));
        line = line.substr(0, std::min(line.size(), line.find_first_of(" \t\r\f\v")));
        if (line.empty() || line.starts_with("//")) continue;
        Set* into = &rules->exact;
        if (line.starts_with('!')) {
            into = &rules->exception;
            line.remove_prefix(1);
        } else if (line.starts_with("*.")) {
            into = &rules->wildcard;
            line.remove_prefix(2);
        }
        std::string rule;
        std::size_t labels = 0;
        bool ok = is_name(line);
        for (std::size_t from = 0; ok && from <= line.size(); ++labels) {
            const std::size_t dot = std::min(line.find('.', from), line.size());
            std::string label(line.substr(from, dot - from));
            for (char& c : label)
                c = ascii::to_lower(c);
            if (!rule.empty()) rule += '.';
            ok = std::ranges::all_of(label, rule_char) && append_idna_label(rule, label);
            from = dot + 1;
        }
        // An exception names a domain under a wildcard: at least two labels.
        if (!ok || (into == &rules->exception && labels < 2)) {
            ++rules->skipped;
            continue;
        }
        into->insert(std::move(rule));
    }
    PublicSuffixList list;
    list.rules_ = std::move(rules);
    return list;
}

Result<PublicSuffixList> PublicSuffixList::load(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return std::error_code(errno, std::system_category());
    std::string text;
    char buf[65536];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
        text.append(buf, n);
    const bool failed = std::ferror(f) != 0;
    const int err = errno;
    std::fclose(f);
    if (failed) return std::error_code(err != 0 ? err : EIO, std::system_category());
    PublicSuffixList list = parse(text);
    // An empty file or another kind (an HTML error page) would quietly protect nothing.
    if (list.rules() == 0) return std::errc::bad_message;
    return list;
}

std::string_view PublicSuffixList::public_suffix(std::string_view domain) const {
    if (!is_name(domain)) return {};
    std::string folded;  // lookups in lower case (the rules are)
    std::string_view d = domain;
    if (std::ranges::any_of(domain, [](char c) { return c >= 'A' && c <= 'Z'; })) {
        folded.assign(domain);
        for (char& c : folded)
            c = ascii::to_lower(c);
        d = folded;
    }
    // From the last label leftwards: `s` starts the suffix looked at, `shorter` the one a
    // label shorter. The most labels a rule matches wins; an exception wins over all, and
    // takes its leftmost label off.
    const std::size_t last_dot = d.rfind('.');
    std::size_t s = last_dot == d.npos ? 0 : last_dot + 1, shorter = d.npos;
    std::size_t result = s;  // the implicit "*" rule: the last label
    for (;;) {
        const std::string_view suffix = d.substr(s);
        if (shorter != d.npos && rules_->exception.contains(suffix)) {
            return domain.substr(shorter);
        }
        if (rules_->exact.contains(suffix) ||
            (shorter != d.npos && rules_->wildcard.contains(d.substr(shorter)))) {
            result = s;
        }
        if (s == 0) break;
        shorter = s;
        const std::size_t dot = d.rfind('.', s - 2);  // s - 1 is a dot, s - 2 in a label
        s = dot == d.npos ? 0 : dot + 1;
    }
    return domain.substr(result);
}

bool PublicSuffixList::is_public_suffix(std::string_view domain) const {
    const std::string_view ps = public_suffix(domain);
    return !ps.empty() && ps.size() == domain.size();
}

std::string_view PublicSuffixList::registrable_domain(std::string_view domain) const {
    const std::string_view ps = public_suffix(domain);
    if (ps.empty() || ps.size() == domain.size()) return {};
    const std::size_t start = domain.size() - ps.size();  // domain[start - 1] is a dot
    const std::size_t dot = start >= 2 ? domain.rfind('.', start - 2) : domain.npos;
    return domain.substr(dot == domain.npos ? 0 : dot + 1);
}

std::size_t PublicSuffixList::rules() const noexcept {
    return rules_->exact.size() + rules_->wildcard.size() + rules_->exception.size();
}

std::size_t PublicSuffixList::skipped() const noexcept {
    return rules_->skipped;
}

std::function<bool(std::string_view)> PublicSuffixList::checker() const {
    return [list = *this](std::string_view domain) { return list.is_public_suffix(domain); };
}

std::function<std::string(std::string_view)> PublicSuffixList::site_of() const {
    return [list = *this](std::string_view domain) {
        return std::string(list.registrable_domain(domain));
    };
}

}  // namespace corio::http
