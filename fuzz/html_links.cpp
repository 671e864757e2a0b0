// Fuzz target for html::extract_links and decode_entities: no crash, no read out of bounds,
// and the documented guarantees on each link hold. Violations call abort().
#include "../examples/crawler/html.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

bool starts_with_nocase(std::string_view s, std::string_view p) {
    if (s.size() < p.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = char(c + 32);
        if (c != p[i]) return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::size_t total = 0;
    for (const std::string& link : corio::examples::html::extract_links(in)) {
        require(!link.empty(), "empty link");
        require(link[0] != '#', "fragment-only link");
        require(static_cast<unsigned char>(link.front()) > 0x20 &&
                    static_cast<unsigned char>(link.back()) > 0x20,
                "untrimmed link");
        require(link.find_first_of("\t\r\n") == std::string::npos, "tab or newline in link");
        require(!starts_with_nocase(link, "javascript:") && !starts_with_nocase(link, "mailto:") &&
                    !starts_with_nocase(link, "data:"),
                "filtered scheme");
        total += link.size();
    }
    // Decoding never lengthens text, and every link is a decoded slice of the input.
    require(total <= in.size(), "links longer than the input");
    require(corio::examples::html::decode_entities(in).size() <= in.size(),
            "decoding grew the text");
    return 0;
}
