#include "html.hpp"

#include <algorithm>
#include <cstdint>

#include <corio/http/ascii.hpp>

namespace corio::examples::html {
namespace {

using http::ascii::hex_value;
using http::ascii::iequals;
using http::ascii::is_digit;

constexpr std::size_t npos = std::string_view::npos;
constexpr std::string_view space = " \t\n\r\f";

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// Where h[from...] holds none of `set`, or h.size().
std::size_t skip(std::string_view h, std::size_t from, std::string_view set) noexcept {
    return std::min(h.size(), h.find_first_not_of(set, from));
}

// Where h[from...] first holds one of `set`, or h.size().
std::size_t upto(std::string_view h, std::size_t from, std::string_view set) noexcept {
    return std::min(h.size(), h.find_first_of(set, from));
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
    if (cp < 0x80) {
        out.push_back(char(cp));
        return;
    }
    const int more = cp < 0x800 ? 1 : cp < 0x10000 ? 2 : 3;            // continuation bytes
    out.push_back(char((0xff00 >> (more + 1)) | (cp >> (6 * more))));  // 110x, 1110x, 11110x
    for (int k = more - 1; k >= 0; --k) {
        out.push_back(char(0x80 | ((cp >> (6 * k)) & 0x3f)));
    }
}

// Decodes the reference at text[i] == '&' into `out`; returns the length consumed, or 0 when
// it is not one we know (the caller then copies the '&').
std::size_t decode_one(std::string_view text, std::size_t i, std::string& out) {
    std::size_t j = i + 1;
    if (j < text.size() && text[j] == '#') {
        const bool hex = ++j < text.size() && (text[j] == 'x' || text[j] == 'X');
        if (hex) ++j;
        const std::size_t digits = j;
        std::uint32_t cp = 0;
        for (; j < text.size(); ++j) {
            const int v = hex ? hex_value(text[j]) : is_digit(text[j]) ? text[j] - '0' : -1;
            if (v < 0) break;
            // Saturate above the Unicode range; append_utf8() turns it into U+FFFD.
            cp = cp > 0x10ffff ? cp : cp * (hex ? 16 : 10) + std::uint32_t(v);
        }
        if (j == digits || j >= text.size() || text[j] != ';') return 0;
        append_utf8(out, cp);
        return j + 1 - i;
    }
    static constexpr std::pair<std::string_view, std::string_view> named[] = {
        {"amp;", "&"},   {"lt;", "<"},   {"gt;", ">"},
        {"quot;", "\""}, {"apos;", "'"}, {"nbsp;", "\xc2\xa0"},
    };
    for (const auto& [name, text_of] : named) {
        if (!istarts_with(text.substr(j), name)) continue;
        out.append(text_of);
        return 1 + name.size();
    }
    return 0;
}

void add_link(std::vector<std::string>& out, std::string_view raw) {
    std::string v;
    for (char c : decode_entities(raw)) {
        if (c != '\t' && c != '\n' && c != '\r') v.push_back(c);
    }
    std::string_view s = v;
    while (!s.empty() && static_cast<unsigned char>(s.front()) <= 0x20)
        s.remove_prefix(1);
    while (!s.empty() && static_cast<unsigned char>(s.back()) <= 0x20)
        s.remove_suffix(1);
    if (s.empty() || s[0] == '#') return;
    for (std::string_view skipped : {"javascript:", "mailto:", "data:"}) {
        if (istarts_with(s, skipped)) return;
    }
    out.emplace_back(s);
}

}  // namespace

std::string decode_entities(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t used = text[i] == '&' ? decode_one(text, i, out) : 0;
        if (used == 0) out.push_back(text[i]);
        i += std::max<std::size_t>(used, 1);
    }
    return out;
}

std::vector<std::string> extract_links(std::string_view h) {
    std::vector<std::string> out;
    const std::size_t n = h.size();
    std::size_t i = 0;
    while ((i = h.find('<', i)) != npos && ++i < n) {
        if (h.substr(i, 3) == "!--") {  // a comment ends at the first "-->", even in "<!-->"
            const std::size_t end = h.find("-->", i + 1);
            i = end == npos ? n : end + 3;
            continue;
        }
        if (h[i] == '!' || h[i] == '?' ||
            h[i] == '/') {  // doctype, processing instruction, end tag
            i = std::min(n, h.find('>', i)) + 1;
            continue;
        }
        if (!http::ascii::is_alpha(h[i])) continue;  // a '<' in text
        const std::size_t tag_start = i;
        i = upto(h, i, " \t\n\r\f/>");
        const std::string_view tag = h.substr(tag_start, i - tag_start);
        bool closed = false;
        while ((i = skip(h, i, " \t\n\r\f/")) < n && !(closed = h[i] == '>')) {
            const std::size_t attr_start = i;  // its first character may be '=' (HTML §13.2.5.32)
            i = upto(h, i + 1, " \t\n\r\f/>=");
            const std::string_view attr = h.substr(attr_start, i - attr_start);
            if ((i = skip(h, i, space)) >= n || h[i] != '=') continue;
            i = skip(h, i + 1, space);
            std::size_t end;
            if (i < n && (h[i] == '"' || h[i] == '\'')) {
                const char quote = h[i++];
                end = std::min(n, h.find(quote, i));
            } else {
                end = upto(h, i, " \t\n\r\f>");
            }
            if (iequals(attr, "href") || iequals(attr, "src")) add_link(out, h.substr(i, end - i));
            i = end + (end < n && (h[end] == '"' || h[end] == '\''));
        }
        if (!closed) break;
        ++i;
        // Raw text and escapable raw text: markup inside is not markup.
        for (std::string_view raw : {"script", "style", "textarea", "title"}) {
            if (!iequals(tag, raw)) continue;
            while ((i = h.find("</", i)) != npos && !istarts_with(h.substr(i + 2), raw))
                i += 2;
            i = std::min(i, n);
            break;
        }
    }
    return out;
}

}  // namespace corio::examples::html
