// application/x-www-form-urlencoded: parse_form() against the URL standard's
// parser (splits, '+', escapes kept when they are not ones, empty fields,
// repeats), form_value(), form_encode() and format_form(), and that any
// fields survive format_form() then parse_form().
#include <catch2/catch.hpp>

#include <random>

#include <corio/http/form.hpp>

namespace http_form_test {

using corio::http::FormField;
using corio::http::parse_form;
using Fields = std::vector<FormField>;

namespace {

FormField field(std::string name, std::string value) {
    return FormField{std::move(name), std::move(value)};
}

}  // namespace

TEST_CASE("form: parse_form reads fields as the URL standard does", "[http][form]") {
    CHECK(parse_form("") == Fields{});
    CHECK(parse_form("a=1&b=2") == Fields{field("a", "1"), field("b", "2")});
    CHECK(parse_form("q=coroutine+io&page=2") ==
          Fields{field("q", "coroutine io"), field("page", "2")});
    CHECK(parse_form("a%20b=c%2Bd%3d") == Fields{field("a b", "c+d=")});
    // Empty fields are skipped; a field without '=' has an empty value; only the first '='
    // splits.
    CHECK(parse_form("&&a&=&b=&=x&c=d=e&") ==
          Fields{field("a", ""), field("", ""), field("b", ""), field("", "x"), field("c", "d=e")});
    // A '%' that starts no escape is kept as it is.
    CHECK(parse_form("a=%zz%4&b=%&c=100%") ==
          Fields{field("a", "%zz%4"), field("b", "%"), field("c", "100%")});
    // Names repeat, in order; decoded bytes may be anything.
    CHECK(parse_form("x=1&x=2") == Fields{field("x", "1"), field("x", "2")});
    CHECK(parse_form("n=%00%FF%c3%a9") == Fields{field("n", std::string("\0\xff\xc3\xa9", 4))});
}

TEST_CASE("form: form_value gives the first value of a name", "[http][form]") {
    using corio::http::form_value;
    CHECK(form_value("q=a+b&q=c", "q") == "a b");
    CHECK(form_value("x=1&na%6De=v", "name") == "v");  // names are compared decoded
    CHECK(form_value("flag&other=1", "flag") == "");
    CHECK_FALSE(form_value("a=1&b=2", "c"));
    CHECK_FALSE(form_value("", "a"));
}

TEST_CASE("form: form_encode and format_form", "[http][form]") {
    std::string out;
    corio::http::form_encode("AZaz09*-._ ~&=+%/\xc3\xa9", out);
    CHECK(out == "AZaz09*-._+%7E%26%3D%2B%25%2F%C3%A9");
    CHECK(corio::http::format_form({field("q", "a&b c"), field("", ""), field("k", "")}) ==
          "q=a%26b+c&=&k=");
    CHECK(corio::http::format_form({}) == "");
}

TEST_CASE("form: any fields survive format_form then parse_form", "[http][form]") {
    std::mt19937_64 rng(20261205);
    static constexpr char letters[] = "ab=&+% \x00\xff\r\n%2";
    const std::string alphabet(letters, sizeof letters - 1);
    for (int round = 0; round < 2000; ++round) {
        Fields fields(rng() % 4);
        for (FormField& f : fields) {
            for (std::string* s : {&f.name, &f.value}) {
                for (std::size_t n = rng() % 6; n > 0; --n)
                    s->push_back(alphabet[rng() % alphabet.size()]);
            }
        }
        const std::string text = corio::http::format_form(fields);
        INFO(text);
        REQUIRE(parse_form(text) == fields);
    }
}

}  // namespace http_form_test
