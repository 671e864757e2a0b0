#include "html.hpp"

#include <algorithm>
#include <cstdint>

#include <corio/http/ascii.hpp>

namespace corio::examples::html {
namespace {

using namespace http::ascii;
constexpr std::size_t npos = std::string_view::npos;

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
    return iequals(s.substr(0, prefix.size()), prefix);
}

// Where h[from...] first holds none of `set` (skip) or one of `set` (upto), or h.size().
std::size_t skip(std::string_view h, std::size_t from, std::string_view set) noexcept {
    return std::min(h.size(), h.find_first_not_of(set, from));
}
std::size_t upto(std::string_view h, std::size_t from, std::string_view set) noexcept {
    return std::min(h.size(), h.find_first_of(set, from));
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
    const int more = cp < 0x80 ? 0 : cp < 0x800 ? 1 : cp < 0x10000 ? 2 : 3;  // continuation bytes
    out.push_back(char(more == 0 ? cp : (0xff00 >> (more + 1)) | (cp >> (6 * more))));
    for (int k = more - 1; k >= 0; --k) {
        out.push_back(char(0x80 | ((cp >> (6 * k)) & 0x3f)));
    }
}

// Decodes the reference at t[i] == '&' into `out`; returns the length consumed, or 0 when it
// is not one we know (the caller then copies the '&').
std::size_t decode_one(std::string_view t, std::size_t i, std::string& out) {
    static constexpr std::pair<std::string_view, std::string_view> named[] = {
        {"amp;", "&"},   {"lt;", "<"},   {"gt;", ">"},
        {"quot;", "\""}, {"apos;", "'"}, {"nbsp;", "\xc2\xa0"},
    };
    if (t.substr(i + 1, 1) != "#") {
        for (const auto& [name, text] : named) {
            if (!istarts_with(t.substr(i + 1), name)) continue;
            out.append(text);
            return 1 + name.size();
        }
        return 0;
    }
    std::size_t j = i + 2;
    const bool hex = t.substr(j, 1) == "x" || t.substr(j, 1) == "X";
    if (hex) ++j;
    const std::size_t digits = j;
    std::uint32_t cp = 0;
    for (; j < t.size(); ++j) {
        const int v = hex ? hex_value(t[j]) : is_digit(t[j]) ? t[j] - '0' : -1;
        if (v < 0) break;
        cp = cp > 0x10ffff ? cp : cp * (hex ? 16 : 10) + std::uint32_t(v);  // saturates
    }
    if (j == digits || t.substr(j, 1) != ";") return 0;
    append_utf8(out, cp);
    return j + 1 - i;
}

void add_link(std::vector<std::string>& out, std::string_view raw) {
    std::string v = decode_entities(raw);
    std::erase_if(v, [](char c) { return c == '\t' || c == '\n' || c == '\r'; });
    const auto blank = [](char c) { return static_cast<unsigned char>(c) <= 0x20; };
    v.erase(std::find_if_not(v.rbegin(), v.rend(), blank).base(), v.end());
    v.erase(v.begin(), std::find_if_not(v.begin(), v.end(), blank));
    if (v.empty() || v[0] == '#' || istarts_with(v, "javascript:") || istarts_with(v, "mailto:") ||
        istarts_with(v, "data:")) {
        return;
    }
    out.push_back(std::move(v));
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
            i = std::min(n - 3, h.find("-->", i + 1)) + 3;
            continue;
        }
        if (h[i] == '!' || h[i] == '?' || h[i] == '/') {  // doctype, instruction, end tag
            i = std::min(n, h.find('>', i)) + 1;
            continue;
        }
        if (!is_alpha(h[i])) continue;  // a '<' in text
        const std::size_t tag_start = i;
        i = upto(h, i, " \t\n\r\f/>");
        const std::string_view tag = h.substr(tag_start, i - tag_start);
        bool closed = false;
        while ((i = skip(h, i, " \t\n\r\f/")) < n && !(closed = h[i] == '>')) {
            const std::size_t attr_start = i;  // its first character may be '=' (HTML §13.2.5.32)
            i = upto(h, i + 1, " \t\n\r\f/>=");
            const std::string_view attr = h.substr(attr_start, i - attr_start);
            if ((i = skip(h, i, " \t\n\r\f")) >= n || h[i] != '=') continue;
            i = skip(h, i + 1, " \t\n\r\f");
            const bool quoted = i < n && (h[i] == '"' || h[i] == '\'');
            const std::size_t end =
                quoted ? std::min(n, h.find(h[i], i + 1)) : upto(h, i, " \t\n\r\f>");
            i += quoted;
            if (iequals(attr, "href") || iequals(attr, "src")) add_link(out, h.substr(i, end - i));
            i = end + (quoted && end < n);
        }
        if (!closed) break;
        ++i;
        // Raw text and escapable raw text: markup inside is not markup.
        for (std::string_view raw : {"script", "style", "textarea", "title"}) {
            if (!iequals(tag, raw)) continue;
            while ((i = h.find("</", i)) != npos && !istarts_with(h.substr(i + 2), raw)) {
                i += 2;
            }
            i = std::min(i, n);
            break;
        }
    }
    return out;
}

}  // namespace corio::examples::html
