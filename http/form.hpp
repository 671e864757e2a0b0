#pragma once
// application/x-www-form-urlencoded: query strings and HTML form bodies (the
// WHATWG URL standard, §5), parsed into decoded name/value pairs and encoded
// back.
//
//   // GET /search?q=coroutine+io&page=2
//   const auto q = http::form_value(req.query(), "q");  // "coroutine io"
//   for (const http::FormField& f : http::parse_form(req.query())) { ... }
//
//   const std::string url = "http://127.0.0.1:8080/search?" +
//                           http::format_form({{"q", "a&b c"}});  // ...?q=a%26b+c

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corio::http {

/// A name and its value from a form or query string, decoded.
struct FormField {
    std::string name;   ///< decoded (any bytes)
    std::string value;  ///< decoded (any bytes); empty for a field without '='
    /// Equal when the names and the values are.
    friend bool operator==(const FormField&, const FormField&) = default;
};

/// Parses `text`, a query string (Request::query(), without the '?') or a
/// form body, as the URL standard's application/x-www-form-urlencoded parser
/// does, but without its UTF-8 decoding (bytes are kept as they are): fields
/// split at '&', name and value at the first '=' (a field
/// without one has an empty value), '+' read as a space, %XX escapes decoded
/// (either hex case), a '%' that starts no escape kept as it is, empty fields
/// skipped. Fields keep their order and a name may repeat. Decoded names and
/// values may hold any byte (NUL, invalid UTF-8): check what you use.
std::vector<FormField> parse_form(std::string_view text);

/// The value of the first field named `name` in `text`, read as parse_form()
/// reads it, or nullopt when there is none.
std::optional<std::string> form_value(std::string_view text, std::string_view name);

/// Appends `s` encoded as a form name or value: ASCII letters, digits and
/// "*-._" as they are, a space as '+', every other byte as %XX (uppercase).
void form_encode(std::string_view s, std::string& out);

/// `fields` encoded as a form body or query string: name=value pairs joined
/// by '&', each part encoded by form_encode(). parse_form() gives back the
/// same fields.
std::string format_form(const std::vector<FormField>& fields);

}  // namespace corio::http
