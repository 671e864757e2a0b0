#include <corio/http/form.hpp>

#include <algorithm>

#include <corio/http/ascii.hpp>

namespace corio::http {

namespace {

// Appends `in` decoded: '+' as a space, %XX as its byte, any other '%' as it is.
void decode_onto(std::string_view in, std::string& out) {
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '+') {
            out.push_back(' ');
            continue;
        }
        if (c == '%' && i + 2 < in.size()) {
            const int hi = ascii::hex_value(in[i + 1]), lo = ascii::hex_value(in[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(c);
    }
}

// Calls `f(name, value)` (still encoded) for each non-empty field of `text` until it
// returns false.
template <class F>
void for_each_field(std::string_view text, F f) {
    while (!text.empty()) {
        const std::size_t amp = std::min(text.find('&'), text.size());
        const std::string_view field = text.substr(0, amp);
        text.remove_prefix(std::min(text.size(), amp + 1));
        if (field.empty()) continue;
        const std::size_t eq = field.find('=');
        const std::string_view value =
            eq == std::string_view::npos ? std::string_view() : field.substr(eq + 1);
        if (!f(field.substr(0, eq), value)) return;
    }
}

}  // namespace

std::vector<FormField> parse_form(std::string_view text) {
    std::vector<FormField> out;
    for_each_field(text, [&out](std::string_view name, std::string_view value) {
        FormField& f = out.emplace_back();
        decode_onto(name, f.name);
        decode_onto(value, f.value);
        return true;
    });
    return out;
}

std::optional<std::string> form_value(std::string_view text, std::string_view name) {
    std::optional<std::string> found;
    std::string decoded;
    for_each_field(text, [&](std::string_view n, std::string_view value) {
        decoded.clear();
        decode_onto(n, decoded);
        if (decoded != name) return true;
        decode_onto(value, found.emplace());
        return false;
    });
    return found;
}

void form_encode(std::string_view s, std::string& out) {
    for (const char c : s) {
        const bool plain = ascii::is_alpha(c) || ascii::is_digit(c) || c == '*' || c == '-' ||
                           c == '.' || c == '_';
        if (plain) {
            out.push_back(c);
        } else if (c == ' ') {
            out.push_back('+');
        } else {
            ascii::append_percent(static_cast<unsigned char>(c), out);
        }
    }
}

std::string format_form(const std::vector<FormField>& fields) {
    std::string out;
    for (const FormField& f : fields) {
        if (!out.empty()) out.push_back('&');
        form_encode(f.name, out);
        out.push_back('=');
        form_encode(f.value, out);
    }
    return out;
}

}  // namespace corio::http
