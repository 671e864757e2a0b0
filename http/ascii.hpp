#pragma once
// ASCII character helpers shared by the HTTP, URL and HTML code (internal,
// not part of the API). Locale-free on purpose: protocol text is
// ASCII whatever the process locale says.
#include <string>
#include <string_view>

/// ASCII character helpers of http/ (internal; locale-free).
namespace corio::http::ascii {

/// True for A-Z and a-z.
inline bool is_alpha(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
/// True for 0-9.
inline bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}
/// A-Z to a-z; any other byte unchanged.
inline char to_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? char(c + 32) : c;
}
/// The value of a hex digit, -1 for anything else.
inline int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
/// Appends byte `b` percent-encoded: '%' and two uppercase hex digits.
inline void append_percent(unsigned char b, std::string& out) {
    static constexpr char digits[] = "0123456789ABCDEF";
    out.push_back('%');
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
}
/// `s` without the spaces and tabs (OWS, RFC 9110 §5.6.3) at its ends.
inline std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}
/// Equal ignoring ASCII case.
inline bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (to_lower(a[i]) != to_lower(b[i])) return false;
    }
    return true;
}
/// True when `s` begins with `prefix`, ignoring ASCII case.
inline bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
    return iequals(s.substr(0, prefix.size()), prefix);
}

}  // namespace corio::http::ascii
