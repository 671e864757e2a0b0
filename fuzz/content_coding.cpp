// Fuzz target for http/content_coding: any bytes decoded as gzip, deflate or x-gzip (the first
// byte picks the coding and a limit of 0 to 8,191 bytes). It must not crash or read past its
// input, give at most `limit` bytes, fail only with the documented errors, and a body it
// decodes, gzipped again, must decode to the same. Violations call abort().
#include <corio/http/content_coding.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <system_error>

namespace {

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    static constexpr std::string_view codings[] = {"gzip", "deflate", "x-gzip", "Deflate"};
    const std::string_view coding = codings[data[0] & 3];
    const std::size_t limit = (std::size_t(data[0] >> 2) << 7) | (data[1] & 0x7f);
    const std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);
    auto r = corio::http::decode_content(coding, body, limit);
    if (!r) {
        const std::error_code ec = r.error();
        require(ec == std::errc::illegal_byte_sequence || ec == corio::Errc::limit_exceeded,
                "an error decode_content does not document");
        return 0;
    }
    require(r->size() <= limit, "decoded past the limit");
    auto again = corio::http::decode_content("gzip", corio::http::gzip(*r, 1 + data[1] % 9), limit);
    require(again && *again == *r, "gzip did not decode back to the same");
    return 0;
}
