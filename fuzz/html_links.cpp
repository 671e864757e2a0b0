// Fuzz target for html::extract_links and decode_entities: no crash, no read out of bounds,
// and the crawl fetches nothing the scanner used to drop: a link that, with tabs and newlines
// taken out and blanks trimmed, is empty, fragment-only or javascript:, mailto: or data:
// resolves to nothing or to the page itself. Violations call abort().
#include "../examples/crawler/html.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <corio/http/url.hpp>

namespace {

// What extract_links() left out before Url::resolve() did it: after taking out tabs and
// newlines and trimming bytes up to 0x20, an empty value, a fragment, or one of three schemes.
bool used_to_drop(std::string v) {
    std::erase_if(v, [](char c) { return c == '\t' || c == '\n' || c == '\r'; });
    const auto blank = [](char c) { return static_cast<unsigned char>(c) <= 0x20; };
    while (!v.empty() && blank(v.back()))
        v.pop_back();
    while (!v.empty() && blank(v.front()))
        v.erase(v.begin());
    for (char& c : v) {
        if (c >= 'A' && c <= 'Z') c = char(c + 32);
    }
    return v.empty() || v.starts_with('#') || v.starts_with("javascript:") ||
           v.starts_with("mailto:") || v.starts_with("data:");
}

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::size_t total = 0;
    static const auto base = *corio::http::Url::parse("http://example.com/dir/page.html");
    for (const std::string& link : corio::examples::html::extract_links(in)) {
        const auto to = corio::http::Url::resolve(base, link);
        if (used_to_drop(link)) {
            require(!to || to->normalized() == base.normalized(),
                    "a link the scanner used to drop leads somewhere new");
        }
        total += link.size();
    }
    // Decoding never lengthens text, and every link is a decoded slice of the input.
    require(total <= in.size(), "links longer than the input");
    require(corio::examples::html::decode_entities(in).size() <= in.size(),
            "decoding grew the text");
    return 0;
}
