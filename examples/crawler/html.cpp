#include "html.hpp"

#include <cstdint>

#include <corio/http/ascii.hpp>

namespace corio::examples::html {
namespace {

using http::ascii::hex_value;
using http::ascii::iequals;
using http::ascii::is_alpha;
using http::ascii::is_digit;

inline bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// Case-insensitive find of "</" + tag from `from`; npos when absent.
std::size_t find_end_tag(std::string_view h, std::string_view tag, std::size_t from) noexcept {
    for (;;) {
        std::size_t lt = h.find("</", from);
        if (lt == std::string_view::npos) return lt;
        if (istarts_with(h.substr(lt + 2), tag)) return lt;
        from = lt + 2;
    }
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
    if (cp < 0x80) {
        out.push_back(char(cp));
    } else if (cp < 0x800) {
        out.push_back(char(0xc0 | (cp >> 6)));
        out.push_back(char(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        out.push_back(char(0xe0 | (cp >> 12)));
        out.push_back(char(0x80 | ((cp >> 6) & 0x3f)));
        out.push_back(char(0x80 | (cp & 0x3f)));
    } else {
        out.push_back(char(0xf0 | (cp >> 18)));
        out.push_back(char(0x80 | ((cp >> 12) & 0x3f)));
        out.push_back(char(0x80 | ((cp >> 6) & 0x3f)));
        out.push_back(char(0x80 | (cp & 0x3f)));
    }
}

// Decodes the reference at text[i] == '&' into `out`; returns the length consumed, or 0 when
// it is not one we know (the caller then copies the '&').
std::size_t decode_one(std::string_view text, std::size_t i, std::string& out) {
    std::size_t j = i + 1;
    if (j < text.size() && text[j] == '#') {
        ++j;
        bool hex = j < text.size() && (text[j] == 'x' || text[j] == 'X');
        if (hex) ++j;
        std::size_t digits = j;
        std::uint32_t cp = 0;
        while (j < text.size()) {
            int v = hex ? hex_value(text[j]) : (is_digit(text[j]) ? text[j] - '0' : -1);
            if (v < 0) break;
            // Saturate above the Unicode range; append_utf8() turns it into U+FFFD.
            cp = cp > 0x10ffff ? cp : cp * (hex ? 16 : 10) + std::uint32_t(v);
            ++j;
        }
        if (j == digits || j >= text.size() || text[j] != ';') return 0;
        append_utf8(out, cp);
        return j + 1 - i;
    }
    struct Named {
        std::string_view name;
        std::string_view text;
    };
    static constexpr Named named[] = {
        {"amp;", "&"},   {"lt;", "<"},   {"gt;", ">"},
        {"quot;", "\""}, {"apos;", "'"}, {"nbsp;", "\xc2\xa0"},
    };
    std::string_view rest = text.substr(j);
    for (const Named& n : named) {
        if (istarts_with(rest, n.name)) {
            out.append(n.text);
            return 1 + n.name.size();
        }
    }
    return 0;
}

void add_link(std::vector<std::string>& out, std::string_view raw) {
    std::string decoded = decode_entities(raw);
    std::string v;
    v.reserve(decoded.size());
    for (char c : decoded) {
        if (c != '\t' && c != '\n' && c != '\r') v.push_back(c);
    }
    std::size_t b = 0;
    std::size_t e = v.size();
    while (b < e && static_cast<unsigned char>(v[b]) <= 0x20) {
        ++b;
    }
    while (e > b && static_cast<unsigned char>(v[e - 1]) <= 0x20) {
        --e;
    }
    std::string_view s(v.data() + b, e - b);
    if (s.empty() || s[0] == '#') return;
    if (istarts_with(s, "javascript:") || istarts_with(s, "mailto:") || istarts_with(s, "data:")) {
        return;
    }
    out.emplace_back(s);
}

}  // namespace

std::string decode_entities(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t amp = text.find('&', i);
        if (amp == std::string_view::npos) {
            out.append(text.substr(i));
            break;
        }
        out.append(text.substr(i, amp - i));
        std::size_t used = decode_one(text, amp, out);
        if (used == 0) {
            out.push_back('&');
            used = 1;
        }
        i = amp + used;
    }
    return out;
}

std::vector<std::string> extract_links(std::string_view h) {
    std::vector<std::string> out;
    const std::size_t n = h.size();
    std::size_t i = 0;
    while (i < n) {
        std::size_t lt = h.find('<', i);
        if (lt == std::string_view::npos || lt + 1 >= n) break;
        i = lt + 1;
        char c = h[i];
        if (c == '!' && h.substr(i, 3) == "!--") {
            // A comment ends at the first "-->", which may overlap its opening ("<!-->").
            std::size_t end = h.find("-->", i + 1);
            if (end == std::string_view::npos) break;
            i = end + 3;
            continue;
        }
        if (c == '!' || c == '?' || c == '/') {  // doctype, processing instruction, end tag
            std::size_t gt = h.find('>', i);
            if (gt == std::string_view::npos) break;
            i = gt + 1;
            continue;
        }
        if (!is_alpha(c)) continue;  // a '<' in text

        std::size_t name_start = i;
        while (i < n && !is_space(h[i]) && h[i] != '/' && h[i] != '>') {
            ++i;
        }
        std::string_view tag = h.substr(name_start, i - name_start);
        bool closed = false;
        while (i < n) {
            while (i < n && (is_space(h[i]) || h[i] == '/')) {
                ++i;
            }
            if (i >= n) break;
            if (h[i] == '>') {
                ++i;
                closed = true;
                break;
            }
            std::size_t attr_start = i++;  // the first character may be '=' (HTML §13.2.5.32)
            while (i < n && !is_space(h[i]) && h[i] != '/' && h[i] != '>' && h[i] != '=') {
                ++i;
            }
            std::string_view attr = h.substr(attr_start, i - attr_start);
            while (i < n && is_space(h[i])) {
                ++i;
            }
            if (i >= n || h[i] != '=') continue;
            ++i;
            while (i < n && is_space(h[i])) {
                ++i;
            }
            std::string_view value;
            if (i < n && (h[i] == '"' || h[i] == '\'')) {
                char quote = h[i++];
                std::size_t end = h.find(quote, i);
                if (end == std::string_view::npos) end = n;
                value = h.substr(i, end - i);
                i = end < n ? end + 1 : n;
            } else {
                std::size_t start = i;
                while (i < n && !is_space(h[i]) && h[i] != '>') {
                    ++i;
                }
                value = h.substr(start, i - start);
            }
            if (iequals(attr, "href") || iequals(attr, "src")) add_link(out, value);
        }
        if (!closed) break;
        // Raw text and escapable raw text: markup inside is not markup.
        for (std::string_view raw : {"script", "style", "textarea", "title"}) {
            if (iequals(tag, raw)) {
                std::size_t end = find_end_tag(h, raw, i);
                i = end == std::string_view::npos ? n : end;
                break;
            }
        }
    }
    return out;
}

}  // namespace corio::examples::html
