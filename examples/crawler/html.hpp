#pragma once
// Link extraction from HTML for the crawler: a forgiving scanner, not a parser. It never fails
// and never reads past its input, whatever the bytes.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <corio/http/ascii.hpp>

namespace corio::examples::html {
namespace detail {

using namespace http::ascii;
constexpr std::size_t npos = std::string_view::npos;

// Where h[from...] first holds none of `set` (skip) or one of `set` (upto), or h.size().
inline std::size_t skip(std::string_view h, std::size_t from, std::string_view set) noexcept {
    return std::min(h.size(), h.find_first_not_of(set, from));
}
inline std::size_t upto(std::string_view h, std::size_t from, std::string_view set) noexcept {
    return std::min(h.size(), h.find_first_of(set, from));
}

// Appends what the character reference at the start of `t` stands for ("amp;", "#233;",
// "#xE9;"; as UTF-8, U+FFFD for no character); returns its length, 0 when `t` has none.
inline std::size_t reference(std::string_view t, std::string& out) {
    static constexpr std::string_view named[][2] = {
        {"amp;", "&"},   {"lt;", "<"},   {"gt;", ">"},
        {"quot;", "\""}, {"apos;", "'"}, {"nbsp;", "\xc2\xa0"},
    };
    for (const auto& [name, text] : named) {
        if (!istarts_with(t, name)) continue;
        out.append(text);
        return name.size();
    }
    if (!t.starts_with('#')) return 0;
    const bool hex = istarts_with(t, "#x");
    const char *digits = t.data() + 1 + hex, *end = t.data() + t.size();
    std::uint32_t cp = 0;
    const auto [p, ec] = std::from_chars(digits, end, cp, hex ? 16 : 10);
    if (p == digits || p == end || *p != ';') return 0;
    if (ec != std::errc{} || cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        cp = 0xfffd;
    }
    const int more = cp < 0x80 ? 0 : cp < 0x800 ? 1 : cp < 0x10000 ? 2 : 3;  // continuation bytes
    out.push_back(char(more == 0 ? cp : (0xff00 >> (more + 1)) | (cp >> (6 * more))));
    for (int k = more - 1; k >= 0; --k) {
        out.push_back(char(0x80 | ((cp >> (6 * k)) & 0x3f)));
    }
    return std::size_t(p + 1 - t.data());
}

}  // namespace detail

/// Decodes the character references of an attribute value (see extract_links()); unknown or
/// malformed references are kept as written.
inline std::string decode_entities(std::string_view t) {
    std::string out;
    out.reserve(t.size());
    for (std::size_t i = 0; i < t.size(); ++i) {
        const std::size_t used = t[i] == '&' ? detail::reference(t.substr(i + 1), out) : 0;
        if (used == 0) out.push_back(t[i]);
        i += used;
    }
    return out;
}

/// Returns the values of every href and src attribute in `html`, in document order: tag and
/// attribute names in any case, values double-quoted, single-quoted or unquoted, character
/// references decoded (&amp; &lt; &gt; &quot; &apos; &nbsp; and numeric ones), surrounding
/// whitespace and embedded tabs and newlines removed. Skips comments, other markup
/// declarations and the contents of script and style elements. Leaves out empty values,
/// fragment-only links ("#top") and javascript:, mailto: and data: URLs. The values are not
/// resolved: pass them to Url::resolve() with the page's URL.
inline std::vector<std::string> extract_links(std::string_view h) {
    using namespace detail;
    std::vector<std::string> out;
    const auto add_link = [&out](std::string_view raw) {
        std::string v = decode_entities(raw);
        std::erase_if(v, [](char c) { return c == '\t' || c == '\n' || c == '\r'; });
        const auto blank = [](char c) { return static_cast<unsigned char>(c) <= 0x20; };
        v.erase(std::find_if_not(v.rbegin(), v.rend(), blank).base(), v.end());
        v.erase(v.begin(), std::find_if_not(v.begin(), v.end(), blank));
        for (std::string_view left_out : {"#", "javascript:", "mailto:", "data:"}) {
            if (istarts_with(v, left_out)) return;
        }
        if (!v.empty()) out.push_back(std::move(v));
    };
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
            if (iequals(attr, "href") || iequals(attr, "src")) add_link(h.substr(i, end - i));
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
