// Fuzz target for application/x-www-form-urlencoded (http/form.hpp). Checks that the
// fields parse_form() reads survive format_form() then parse_form(), that form_value()
// gives each name's first value, and that nothing is read past the input. Violations call
// abort().
#include <corio/http/form.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

using corio::http::FormField;

namespace {

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const std::vector<FormField> fields = corio::http::parse_form(text);
    std::size_t bytes = 0;
    for (const FormField& f : fields)
        bytes += f.name.size() + f.value.size();
    require(bytes <= size, "decoding never grows the text");
    require(corio::http::parse_form(corio::http::format_form(fields)) == fields,
            "format_form() then parse_form() changes the fields");
    for (std::size_t i = 0; i < fields.size() && i < 8; ++i) {
        std::size_t first = 0;
        while (fields[first].name != fields[i].name)
            ++first;
        const auto v = corio::http::form_value(text, fields[i].name);
        require(v.has_value() && *v == fields[first].value, "form_value() is not the first");
    }
    return 0;
}
