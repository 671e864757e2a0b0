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

/// Decodes the character references of an attribute value: &amp; &lt; &gt; &quot; &apos;
/// &nbsp; and numeric ones (as UTF-8, U+FFFD for no character). Unknown or malformed
/// references are kept as written.
inline std::string decode_entities(std::string_view t) {
    using http::ascii::istarts_with;
    static constexpr std::string_view named[][2] = {{"amp;", "&"},  {"lt;", "<"},
                                                    {"gt;", ">"},   {"quot;", "\""},
                                                    {"apos;", "'"}, {"nbsp;", "\xc2\xa0"}};
    std::string out;
    for (std::size_t amp; (amp = t.find('&')) != t.npos;) {
        out.append(t.substr(0, amp));
        t.remove_prefix(amp + 1);  // now what follows the '&'
        const auto* n = std::ranges::find_if(named, [t](auto& e) { return istarts_with(t, e[0]); });
        const bool hex = istarts_with(t, "#x");
        const char* digits = t.data() + (t.starts_with('#') ? 1 + hex : t.size());
        std::uint32_t cp = 0;
        const auto [end, ec] = std::from_chars(digits, t.data() + t.size(), cp, hex ? 16 : 10);
        if (n != std::end(named)) {
            out += (*n)[1];
            t.remove_prefix((*n)[0].size());
        } else if (end == digits || end == t.data() + t.size() || *end != ';') {
            out += '&';  // not a reference we know
        } else {
            const bool none = cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff);
            if (ec != std::errc{} || none) cp = 0xfffd;
            int more = cp < 0x80 ? 0 : cp < 0x800 ? 1 : cp < 0x10000 ? 2 : 3;  // UTF-8 tail bytes
            out += char(more == 0 ? cp : (0xff00 >> (more + 1)) | (cp >> (6 * more)));
            while (more-- > 0)
                out += char(0x80 | ((cp >> (6 * more)) & 0x3f));
            t.remove_prefix(std::size_t(end + 1 - t.data()));
        }
    }
    return out.append(t);
}

/// Returns the values of every href and src attribute in `html`, in document order, with
/// their character references decoded (see decode_entities()) and nothing else done to them:
/// tag and attribute names in any case, values double-quoted, single-quoted or unquoted. Skips
/// comments, other markup declarations and the contents of script, style, textarea and title
/// elements. Pass each value to Url::resolve() with the page's URL: it drops surrounding
/// whitespace, tabs, newlines and the fragment, and refuses javascript:, mailto:, data: and
/// any other scheme but http(s).
inline std::vector<std::string> extract_links(std::string_view h) {
    using namespace http::ascii;
    const std::size_t n = h.size();
    // Where h[from...] first holds one of `set`, or none of it (`in` false); n if nowhere.
    const auto find = [h, n](std::size_t from, std::string_view set, bool in = true) {
        return std::min(n, in ? h.find_first_of(set, from) : h.find_first_not_of(set, from));
    };
    std::vector<std::string> out;
    std::size_t i = 0;
    while ((i = h.find('<', i)) != h.npos && ++i < n) {
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
        i = find(i, " \t\n\r\f/>");
        const std::string_view tag = h.substr(tag_start, i - tag_start);
        bool closed = false;
        while ((i = find(i, " \t\n\r\f/", false)) < n && !(closed = h[i] == '>')) {
            const std::size_t attr_start = i;  // its first character may be '=' (HTML §13.2.5.32)
            i = find(i + 1, " \t\n\r\f/>=");
            const std::string_view attr = h.substr(attr_start, i - attr_start);
            if ((i = find(i, " \t\n\r\f", false)) >= n || h[i] != '=') continue;
            i = find(i + 1, " \t\n\r\f", false);
            const bool quoted = i < n && (h[i] == '"' || h[i] == '\'');
            const std::size_t end =
                quoted ? std::min(n, h.find(h[i], i + 1)) : find(i, " \t\n\r\f>");
            i += quoted;
            if (iequals(attr, "href") || iequals(attr, "src")) {
                out.push_back(decode_entities(h.substr(i, end - i)));
            }
            i = end + (quoted && end < n);
        }
        if (!closed) break;  // h[i] is the tag's '>'
        // Raw text and escapable raw text: markup inside is not markup.
        if (iequals(tag, "script") || iequals(tag, "style") || iequals(tag, "textarea") ||
            iequals(tag, "title")) {
            while ((i = h.find("</", i)) != h.npos && !istarts_with(h.substr(i + 2), tag))
                i += 2;
            i = std::min(i, n);
        }
    }
    return out;
}

}  // namespace corio::examples::html
