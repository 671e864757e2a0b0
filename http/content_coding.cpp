#include <corio/http/content_coding.hpp>

#include <zlib.h>

#include <algorithm>
#include <memory>
#include <new>
#include <stdexcept>

#include <corio/http/ascii.hpp>

namespace corio::http {

namespace {

// zlib counts in uInt: larger inputs go in pieces.
constexpr std::size_t max_piece = std::size_t(1) << 30;
constexpr std::size_t chunk = 16 * 1024;

Bytef* bytes(const char* p) noexcept {
    return reinterpret_cast<Bytef*>(const_cast<char*>(p));
}

struct Inflate {
    z_stream z{};
    bool ok = false;
    explicit Inflate(int window_bits) {
        const int rc = inflateInit2(&z, window_bits);
        if (rc == Z_MEM_ERROR) throw std::bad_alloc();
        ok = rc == Z_OK;
    }
    ~Inflate() {
        if (ok) inflateEnd(&z);
    }
    Inflate(const Inflate&) = delete;
    Inflate& operator=(const Inflate&) = delete;
};

// Inflates all of `in` with `window_bits` (zlib's: 15 the zlib format, -15 raw,
// 31 gzip), into at most `max` bytes. gzip: members one after another.
Result<std::string> inflate_all(std::string_view in, int window_bits, std::size_t max) {
    Inflate f(window_bits);
    if (!f.ok) throw std::logic_error("content coding: inflateInit2 refused its arguments");
    z_stream& z = f.z;
    std::string out;
    auto buf = std::make_unique<Bytef[]>(chunk);
    z.next_in = bytes(in.data());
    std::size_t left = in.size();
    for (;;) {
        if (z.avail_in == 0 && left > 0) {
            z.avail_in = uInt(std::min(left, max_piece));
            left -= z.avail_in;
        }
        // Room up to one byte past the limit: output that reaches it is too much.
        const std::size_t room = std::min(chunk - 1, max - std::min(max, out.size())) + 1;
        z.next_out = buf.get();
        z.avail_out = uInt(room);
        const int rc = inflate(&z, Z_NO_FLUSH);
        out.append(reinterpret_cast<const char*>(buf.get()), room - z.avail_out);
        if (out.size() > max) return Errc::limit_exceeded;
        switch (rc) {
            case Z_OK:
                break;
            case Z_BUF_ERROR:  // no progress: with no input left, the body ended inside
                if (z.avail_in == 0 && left == 0 && z.avail_out != 0) {
                    return std::errc::illegal_byte_sequence;
                }
                break;
            case Z_STREAM_END: {
                if (z.avail_in == 0 && left == 0) return out;
                // gzip: another member may follow (RFC 1952 §2.2); anything else is an error.
                const std::string_view rest = in.substr(in.size() - left - z.avail_in);
                if (window_bits <= 15 || rest.size() < 2 || rest[0] != '\x1f' ||
                    rest[1] != '\x8b') {
                    return std::errc::illegal_byte_sequence;
                }
                inflateReset(&z);
                break;
            }
            case Z_MEM_ERROR:
                throw std::bad_alloc();
            default:  // Z_DATA_ERROR, Z_NEED_DICT
                return std::errc::illegal_byte_sequence;
        }
        if (z.avail_in == 0 && left == 0 && z.avail_out != 0 && rc == Z_OK) {
            // All input in, nothing pending, and no end of stream: cut short.
            return std::errc::illegal_byte_sequence;
        }
    }
}

}  // namespace

Result<std::string> decode_content(std::string_view coding, std::string_view body,
                                   std::size_t max) {
    coding = ascii::trim_ows(coding);
    if (ascii::iequals(coding, "gzip") || ascii::iequals(coding, "x-gzip")) {
        return inflate_all(body, 15 + 16, max);
    }
    if (ascii::iequals(coding, "deflate")) {
        // The zlib format starts with CMF FLG: method 8 with a window of at most 32 KiB
        // (CINFO 7), and a multiple of 31 together.
        const bool zlib =
            body.size() >= 2 && (static_cast<unsigned char>(body[0]) & 0x0f) == 8 &&
            (static_cast<unsigned char>(body[0]) >> 4) <= 7 &&
            (static_cast<unsigned char>(body[0]) * 256u + static_cast<unsigned char>(body[1])) %
                    31 ==
                0;
        return inflate_all(body, zlib ? 15 : -15, max);
    }
    return std::errc::not_supported;
}

std::string gzip(std::string_view body, int level) {
    z_stream z{};
    const int rc =
        deflateInit2(&z, std::clamp(level, 1, 9), Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (rc == Z_MEM_ERROR) throw std::bad_alloc();
    if (rc != Z_OK) throw std::invalid_argument("gzip: deflateInit2 failed");
    struct End {
        z_stream* z;
        ~End() { deflateEnd(z); }
    } end{&z};
    std::string out;
    z.next_in = bytes(body.data());
    std::size_t left = body.size();
    for (;;) {
        if (z.avail_in == 0 && left > 0) {
            z.avail_in = uInt(std::min(left, max_piece));
            left -= z.avail_in;
        }
        const std::size_t have = out.size();
        const std::size_t room =
            std::min<std::size_t>(max_piece, deflateBound(&z, z.avail_in) + 64);
        out.resize(have + room);
        z.next_out = bytes(out.data() + have);
        z.avail_out = uInt(room);
        const int r = deflate(&z, left == 0 ? Z_FINISH : Z_NO_FLUSH);
        out.resize(out.size() - z.avail_out);
        if (r == Z_STREAM_END) return out;
        if (r == Z_STREAM_ERROR) throw std::logic_error("gzip: deflate state broken");
    }
}

}  // namespace corio::http
