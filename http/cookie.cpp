#include <corio/http/cookie.hpp>

#include <algorithm>
#include <stdexcept>

#include <corio/http/ascii.hpp>

namespace corio::http {

namespace {

// RFC 6265 §4.1.1 cookie-octet: visible ASCII but '"', ',', ';' and '\'.
bool cookie_octet(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x21 && u <= 0x7e && c != '"' && c != ',' && c != ';' && c != '\\';
}

// An attribute value (Path, Domain): no control character, no ';'.
bool attribute_value(std::string_view v) noexcept {
    return std::all_of(v.begin(), v.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u >= 0x20 && u != 0x7f && c != ';';
    });
}

template <class F>
void for_each_cookie(const Headers& headers, F f) {
    for (const Header& h : headers) {
        if (!ascii::iequals(h.name, "cookie")) continue;
        std::string_view list = h.value;
        while (!list.empty()) {
            const std::size_t semi = std::min(list.find(';'), list.size());
            const std::string_view piece = ascii::trim_ows(list.substr(0, semi));
            list.remove_prefix(std::min(list.size(), semi + 1));
            const std::size_t eq = piece.find('=');
            if (eq == std::string_view::npos) continue;
            const std::string_view name = ascii::trim_ows(piece.substr(0, eq));
            std::string_view value = ascii::trim_ows(piece.substr(eq + 1));
            if (name.empty()) continue;
            if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
                value = value.substr(1, value.size() - 2);
            }
            if (!f(CookiePair{name, value})) return;
        }
    }
}

}  // namespace

std::vector<CookiePair> parse_cookies(const Headers& headers) {
    std::vector<CookiePair> out;
    for_each_cookie(headers, [&out](CookiePair p) {
        out.push_back(p);
        return true;
    });
    return out;
}

std::optional<std::string_view> cookie(const Headers& headers, std::string_view name) {
    std::optional<std::string_view> found;
    for_each_cookie(headers, [&found, name](CookiePair p) {
        if (p.name != name) return true;
        found = p.value;
        return false;
    });
    return found;
}

std::string format_set_cookie(const SetCookie& c) {
    if (!valid_field_name(c.name)) {
        throw std::invalid_argument("Set-Cookie: name '" + c.name + "' is not a token");
    }
    if (!std::all_of(c.value.begin(), c.value.end(), cookie_octet)) {
        throw std::invalid_argument("Set-Cookie: the value of '" + c.name +
                                    "' holds a character a cookie cannot");
    }
    if (!attribute_value(c.path) || !attribute_value(c.domain)) {
        throw std::invalid_argument("Set-Cookie: a Path or Domain with ';' or a control character");
    }
    if (c.same_site == SameSite::none && !c.secure) {
        throw std::invalid_argument("Set-Cookie: SameSite=None needs Secure");
    }
    std::string out = c.name + "=" + c.value;
    if (c.max_age) out += "; Max-Age=" + std::to_string(std::max<long long>(0, c.max_age->count()));
    if (!c.path.empty()) out += "; Path=" + c.path;
    if (!c.domain.empty()) out += "; Domain=" + c.domain;
    if (c.secure) out += "; Secure";
    if (c.http_only) out += "; HttpOnly";
    switch (c.same_site) {
        case SameSite::unset:
            break;
        case SameSite::lax:
            out += "; SameSite=Lax";
            break;
        case SameSite::strict:
            out += "; SameSite=Strict";
            break;
        case SameSite::none:
            out += "; SameSite=None";
            break;
    }
    return out;
}

}  // namespace corio::http
