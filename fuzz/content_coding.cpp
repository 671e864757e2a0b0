// Fuzz target for http/content_coding: any bytes decoded as gzip, deflate or x-gzip (the first
// byte picks the coding and a limit of 0 to 8,191 bytes). It must not crash or read past its
// input, give at most `limit` bytes, fail only with the documented errors, and a body it
// decodes, gzipped again (at once and as a GzipEncoder stream), must decode to the same. The
// streaming ContentDecoder, fed in pieces into a small buffer (sizes from the second byte),
// must agree with decode_content. Violations call abort().
#include <corio/http/content_coding.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace {

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

// ContentDecoder over `body` in pieces of `piece` bytes into a `room`-byte buffer; at most
// `limit` bytes (more: Errc::limit_exceeded, as decode_content).
corio::Result<std::string> stream_decode(std::string_view coding, std::string_view body,
                                         std::size_t piece, std::size_t room, std::size_t limit) {
    auto d = corio::http::ContentDecoder::make(coding);
    if (!d) return d.error();
    std::string out;
    std::byte buf[16];
    for (std::size_t at = 0;;) {
        const std::string_view in = body.substr(at, piece);
        std::size_t used = 0;
        for (;;) {
            auto step = d->decode(in.substr(used), std::span(buf, room));
            if (!step) return step.error();
            used += step->used;
            out.append(reinterpret_cast<const char*>(buf), step->written);
            if (out.size() > limit) return corio::Errc::limit_exceeded;
            if (used == in.size() && step->written < room) break;
        }
        at += in.size();
        if (at >= body.size()) break;
    }
    if (auto f = d->finish(); !f) return f.error();
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    static constexpr std::string_view codings[] = {"gzip", "deflate", "x-gzip", "Deflate"};
    const std::string_view coding = codings[data[0] & 3];
    const std::size_t limit = (std::size_t(data[0] >> 2) << 7) | (data[1] & 0x7f);
    const std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);
    auto r = corio::http::decode_content(coding, body, limit);
    const auto streamed =
        stream_decode(coding, body, 1 + data[1] % 7, 1 + (data[1] >> 3) % 13, limit);
    require(streamed.has_value() == r.has_value(), "ContentDecoder and decode_content disagree");
    require(!r || *streamed == *r, "ContentDecoder gave other bytes");
    if (!r) {
        const std::error_code ec = r.error();
        require(ec == std::errc::illegal_byte_sequence || ec == corio::Errc::limit_exceeded,
                "an error decode_content does not document");
        return 0;
    }
    require(r->size() <= limit, "decoded past the limit");
    auto again = corio::http::decode_content("gzip", corio::http::gzip(*r, 1 + data[1] % 9), limit);
    require(again && *again == *r, "gzip did not decode back to the same");
    corio::http::GzipEncoder enc(1 + data[1] % 9);
    std::string coded;
    const std::size_t half = r->size() / 2;
    enc.write(std::string_view(*r).substr(0, half), coded);
    enc.finish(std::string_view(*r).substr(half), coded);
    again = corio::http::decode_content("gzip", coded, limit);
    require(again && *again == *r, "GzipEncoder did not decode back to the same");
    return 0;
}
