// Fuzz target for html::extract_links and decode_entities: no crash, no read out of bounds,
// and what the crawl makes of each link holds: Url::resolve() refuses it or gives an http(s)
// URL without whitespace or control characters. Violations call abort().
#include "../examples/crawler/html.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <corio/http/url.hpp>

namespace {

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
        if (const auto to = corio::http::Url::resolve(base, link)) {
            const std::string url = to->normalized();
            require(url.starts_with("http://") || url.starts_with("https://"), "not http(s)");
            for (char c : url) {
                require(static_cast<unsigned char>(c) > 0x20 && c != 0x7f, "blank in a URL");
            }
        }
        total += link.size();
    }
    // Decoding never lengthens text, and every link is a decoded slice of the input.
    require(total <= in.size(), "links longer than the input");
    require(corio::examples::html::decode_entities(in).size() <= in.size(),
            "decoding grew the text");
    return 0;
}
