// Fuzz target for Url and RFC 3986 resolution. Checks that the normal form is a fixed point
// (parse(normalized()) gives an equal Url), that resolving against a parsed URL yields URLs in
// normal form, and that dot-segment removal never grows a path. Violations call abort().
#include <corio/http/url.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

using corio::http::Url;

namespace {

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

void check_normal(const Url& u) {
    std::string n = u.normalized();
    auto again = Url::parse(n);
    require(again.has_value(), "normalized() does not parse");
    require(again->normalized() == n, "normalized() is not a fixed point");
    require(*again == u, "parse(normalized()) differs");
    require(!u.path().empty() && u.path()[0] == '/', "path starts with /");
    require(!u.host().empty(), "empty host");
    require(u.port() != 0, "port 0");
    require(u.target().size() <= n.size(), "target");
    require(n.find_first_of(" \t\r\n\"<>#") == std::string::npos, "invalid character in URL");
    auto self = Url::resolve(u, "");
    require(self && *self == u, "resolve(u, \"\") != u");
    auto abs = Url::resolve(u, n);
    require(abs && *abs == u, "resolve(u, normalized) != u");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);

    if (auto u = Url::parse(in)) check_normal(*u);

    require(corio::http::remove_dot_segments(in).size() <= in.size(), "dot removal grew");

    // Split at the first newline: base, then reference.
    std::size_t nl = in.find('\n');
    std::string_view base = in.substr(0, nl);
    std::string_view ref = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
    (void)corio::http::resolve_reference(base, ref);
    auto b = Url::parse(base);
    if (!b) b = Url::parse("http://a/b/c/d;p?q");
    if (auto r = Url::resolve(*b, ref)) check_normal(*r);
    return 0;
}
