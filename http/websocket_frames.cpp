#include <corio/http/websocket_frames.hpp>

#include <algorithm>
#include <cstring>
#include <span>

#include <corio/http/websocket_deflate.hpp>

namespace corio::http::websocket {

namespace {

constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::string_view b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// ---- SHA-1 (FIPS 180-4), only for the handshake's accept key ----------------

std::uint32_t rotl(std::uint32_t x, int n) noexcept {
    return (x << n) | (x >> (32 - n));
}

std::array<unsigned char, 20> sha1(std::string_view msg) noexcept {
    std::uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    // The message, 0x80, zeros to 56 mod 64, then its length in bits (big-endian).
    const std::uint64_t bits = std::uint64_t(msg.size()) * 8;
    const std::size_t total = (msg.size() + 8) / 64 * 64 + 64;
    std::array<unsigned char, 64> block{};
    for (std::size_t at = 0; at < total; at += 64) {
        for (std::size_t i = 0; i < 64; ++i) {
            const std::size_t k = at + i;
            unsigned char c = 0;
            if (k < msg.size()) {
                c = static_cast<unsigned char>(msg[k]);
            } else if (k == msg.size()) {
                c = 0x80;
            } else if (k >= total - 8) {
                c = static_cast<unsigned char>(bits >> (8 * (total - 1 - k)));
            }
            block[i] = c;
        }
        std::uint32_t w[80];
        for (int i = 0; i < 16; ++i) {
            w[i] = std::uint32_t(block[4 * i]) << 24 | std::uint32_t(block[4 * i + 1]) << 16 |
                   std::uint32_t(block[4 * i + 2]) << 8 | std::uint32_t(block[4 * i + 3]);
        }
        for (int i = 16; i < 80; ++i)
            w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; ++i) {
            std::uint32_t f, k;
            if (i < 20) {
                f = (b & c) | (~b & d), k = 0x5a827999;
            } else if (i < 40) {
                f = b ^ c ^ d, k = 0x6ed9eba1;
            } else if (i < 60) {
                f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdc;
            } else {
                f = b ^ c ^ d, k = 0xca62c1d6;
            }
            const std::uint32_t t = rotl(a, 5) + f + e + k + w[i];
            e = d, d = c, c = rotl(b, 30), b = a, a = t;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
    }
    std::array<unsigned char, 20> out{};
    for (int i = 0; i < 20; ++i)
        out[i] = static_cast<unsigned char>(h[i / 4] >> (24 - 8 * (i % 4)));
    return out;
}

std::string base64(std::span<const unsigned char> in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); i += 3) {
        const std::size_t n = std::min<std::size_t>(3, in.size() - i);
        std::uint32_t v = std::uint32_t(in[i]) << 16;
        if (n > 1) v |= std::uint32_t(in[i + 1]) << 8;
        if (n > 2) v |= in[i + 2];
        for (std::size_t k = 0; k < 4; ++k)
            out += k <= n ? b64[(v >> (18 - 6 * k)) & 63] : '=';
    }
    return out;
}

}  // namespace

// ---- the pure parts ---------------------------------------------------------------

bool valid_close_code(std::uint16_t code) noexcept {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

namespace {

// The length of the longest prefix of `s` made of whole, valid UTF-8 characters.
// `bad` is set when what follows it cannot begin a valid character (an error
// whatever comes next); else what follows is the start of one, cut short.
std::size_t utf8_prefix(std::string_view s, bool& bad) noexcept {
    const auto* start = reinterpret_cast<const unsigned char*>(s.data());
    const auto* p = start;
    const auto* end = p + s.size();
    while (p < end) {
        if (*p < 0x80) {
            ++p;
            continue;
        }
        // The lead byte gives the sequence's length and the range of its second byte
        // (which rules out overlong forms, surrogates and code points past U+10FFFF).
        const unsigned char c = *p;
        std::ptrdiff_t more;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            more = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            if (c == 0xe0) lo = 0xa0;
            if (c == 0xed) hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            if (c == 0xf0) lo = 0x90;
            if (c == 0xf4) hi = 0x8f;
        } else {
            bad = true;
            return std::size_t(p - start);
        }
        const std::ptrdiff_t have = std::min(more, end - p - 1);
        bool ok = have < 1 || (p[1] >= lo && p[1] <= hi);
        for (std::ptrdiff_t k = 2; ok && k <= have; ++k)
            ok = (p[k] & 0xc0) == 0x80;
        if (!ok) bad = true;
        if (!ok || have < more) return std::size_t(p - start);
        p += more + 1;
    }
    return s.size();
}

}  // namespace

bool valid_utf8(std::string_view s) noexcept {
    bool bad = false;
    return utf8_prefix(s, bad) == s.size();
}

bool valid_key(std::string_view key) noexcept {
    // 16 bytes: 22 characters, the last of which carries 2 bits (its low 4 bits zero), "==".
    if (key.size() != 24 || key.substr(22) != "==") return false;
    for (std::size_t i = 0; i < 22; ++i) {
        if (b64.find(key[i]) == std::string_view::npos) return false;
    }
    return (b64.find(key[21]) & 15) == 0;
}

std::string make_key(const std::array<unsigned char, 16>& nonce) {
    return base64(nonce);
}

std::string accept_key(std::string_view key) {
    std::string text(key);
    text += guid;
    return base64(sha1(text));
}

std::size_t frame_header(std::array<char, 14>& out, Opcode op, bool fin, std::uint64_t length,
                         std::optional<std::uint32_t> mask, bool compressed) noexcept {
    out[0] = static_cast<char>((fin ? 0x80 : 0) | (compressed ? 0x40 : 0) | static_cast<int>(op));
    const char masked = mask ? char(0x80) : char(0);
    std::size_t n = 2;
    if (length < 126) {
        out[1] = static_cast<char>(masked | char(length));
    } else if (length <= 0xffff) {
        out[1] = static_cast<char>(masked | 126);
        out[2] = static_cast<char>(length >> 8);
        out[3] = static_cast<char>(length);
        n = 4;
    } else {
        out[1] = static_cast<char>(masked | 127);
        for (int i = 0; i < 8; ++i)
            out[2 + i] = static_cast<char>(length >> (56 - 8 * i));
        n = 10;
    }
    if (mask) {
        for (int i = 0; i < 4; ++i)
            out[n + i] = static_cast<char>(*mask >> (24 - 8 * i));
        n += 4;
    }
    return n;
}

void append_frame(std::string& out, Opcode op, bool fin, std::string_view payload,
                  std::optional<std::uint32_t> mask, bool compressed) {
    std::array<char, 14> head{};
    const std::size_t n = frame_header(head, op, fin, payload.size(), mask, compressed);
    out.append(head.data(), n);
    const std::size_t at = out.size();
    out += payload;
    if (mask) {
        const char* key = head.data() + n - 4;
        for (std::size_t i = 0; i < payload.size(); ++i)
            out[at + i] ^= key[i % 4];
    }
}

Reader::Reader(bool server, std::size_t max_message) noexcept
    : server_(server), max_message_(max_message) {}
Reader::~Reader() = default;
Reader::Reader(Reader&&) noexcept = default;
Reader& Reader::operator=(Reader&&) noexcept = default;

bool Reader::fail(std::uint16_t code, std::string_view why) noexcept {
    event_ = Event::error;
    code_ = code;
    reason_ = why;
    return false;
}

// The first two bytes are in: checks what they decide, and how long the header is.
bool Reader::header_done() {
    const unsigned char b0 = head_[0], b1 = head_[1];
    const unsigned len7 = b1 & 0x7f;
    if (head_need_ == 2) {
        fin_ = (b0 & 0x80) != 0;
        const unsigned op = b0 & 0x0f;
        // RSV1 marks a compressed message's first frame, where permessage-deflate was agreed.
        const unsigned rsv = b0 & 0x70;
        if (rsv != 0 && !(rsv == 0x40 && deflate_ && (op == 1 || op == 2))) {
            return fail(close_code::protocol_error, "reserved bits set");
        }
        if (op > 2 && (op < 8 || op > 10))
            return fail(close_code::protocol_error, "reserved opcode");
        op_ = static_cast<Opcode>(op);
        const bool masked = (b1 & 0x80) != 0;
        if (server_ && !masked) return fail(close_code::protocol_error, "unmasked client frame");
        if (!server_ && masked) return fail(close_code::protocol_error, "masked server frame");
        if (op >= 8 && (!fin_ || len7 > max_control_payload)) {
            return fail(close_code::protocol_error, "fragmented or long control frame");
        }
        if (op_ == Opcode::continuation && message_op_ == Opcode::continuation) {
            return fail(close_code::protocol_error, "continuation without a message");
        }
        if (op != 0 && op < 8 && message_op_ != Opcode::continuation) {
            return fail(close_code::protocol_error, "new message inside a fragmented one");
        }
        head_need_ = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked ? 4 : 0);
        if (head_need_ > 2) return true;  // more header to come
    }
    std::size_t at = 2;
    if (len7 < 126) {
        left_ = len7;
    } else {
        const std::size_t n = len7 == 126 ? 2 : 8;
        left_ = 0;
        for (std::size_t i = 0; i < n; ++i)
            left_ = left_ << 8 | head_[at + i];
        if ((left_ >> 63) != 0) return fail(close_code::protocol_error, "length's top bit set");
        at += n;
    }
    if (server_) std::copy_n(head_.begin() + static_cast<std::ptrdiff_t>(at), 4, mask_.begin());
    mask_pos_ = 0;
    if (op_ == Opcode::text || op_ == Opcode::binary) {
        message_op_ = op_;
        message_.clear();
        utf8_ok_ = 0;
        compressed_ = (b0 & 0x40) != 0;
        compressed_in_ = 0;
    }
    if (static_cast<unsigned>(op_) >= 8) {
        control_.clear();
    } else if (compressed_) {
        // Its limit is checked on what it decompresses to; what comes in is bounded too
        // (a peer could keep a message open forever with empty blocks): by the limit
        // and a quarter more, far more than DEFLATE's worst case adds.
        const std::uint64_t cap = max_message_ + std::min<std::uint64_t>(max_message_ / 4 + 4096,
                                                                         UINT64_MAX - max_message_);
        if (left_ > cap - std::min(cap, compressed_in_)) {
            return fail(close_code::too_big, "compressed message too big");
        }
        compressed_in_ += left_;
    } else if (left_ > max_message_ - std::min(max_message_, message_.size())) {
        return fail(close_code::too_big, "message too big");
    }
    head_len_ = 0;
    head_need_ = 2;
    in_payload_ = true;
    return true;
}

void Reader::payload_done() {
    in_payload_ = false;
    switch (op_) {
        case Opcode::ping:
            event_ = Event::ping;
            return;
        case Opcode::pong:
            event_ = Event::pong;
            return;
        case Opcode::close: {
            if (control_.empty()) {
                code_ = close_code::no_status;
            } else if (control_.size() == 1) {
                fail(close_code::protocol_error, "close frame of one byte");
                return;
            } else {
                code_ = std::uint16_t(static_cast<unsigned char>(control_[0]) << 8 |
                                      static_cast<unsigned char>(control_[1]));
                if (!valid_close_code(code_)) {
                    fail(close_code::protocol_error, "invalid close code");
                    return;
                }
                control_.erase(0, 2);
                if (!valid_utf8(control_)) {
                    fail(close_code::invalid_data, "close reason not UTF-8");
                    return;
                }
            }
            event_ = Event::close;
            return;
        }
        default:
            break;
    }
    if (!fin_) return;  // more fragments to come
    if (compressed_ && !inflate({}, true)) return;
    compressed_ = false;
    if (message_op_ == Opcode::text && utf8_ok_ != message_.size()) {
        fail(close_code::invalid_data, "text not UTF-8");  // it ends inside a character
        return;
    }
    event_ = message_op_ == Opcode::text ? Event::text : Event::binary;
    message_op_ = Opcode::continuation;
}

std::size_t Reader::feed(std::string_view in) {
    if (event_ == Event::error) return 0;
    event_ = Event::none;
    std::size_t used = 0;
    for (;;) {
        if (!in_payload_) {
            const std::size_t take = std::min(head_need_ - head_len_, in.size() - used);
            std::memcpy(head_.data() + head_len_, in.data() + used, take);
            head_len_ += take;
            used += take;
            if (head_len_ < head_need_) return used;
            if (!header_done()) return used;
            if (!in_payload_) continue;  // the rest of the header
        }
        const std::size_t take = std::size_t(std::min<std::uint64_t>(left_, in.size() - used));
        const bool control = static_cast<unsigned>(op_) >= 8;
        // Unmasked into the message (or control payload), or into scratch_ on its way
        // through the decompressor.
        std::string& to = control ? control_ : compressed_ ? scratch_ : message_;
        if (&to == &scratch_) scratch_.clear();
        const std::size_t at = to.size();
        to.append(in.data() + used, take);
        if (server_) {
            for (std::size_t i = at; i < to.size(); ++i) {
                to[i] = static_cast<char>(to[i] ^ mask_[mask_pos_++ & 3]);
            }
        }
        used += take;
        left_ -= take;
        if (&to == &scratch_ ? !inflate(scratch_, false) : !control && !check_text()) {
            return used;
        }
        if (left_ != 0) return used;
        payload_done();
        if (event_ != Event::none || used == in.size()) return used;
    }
}

// Text is checked as it arrives: invalid text fails at once, not at the message's end.
bool Reader::check_text() noexcept {
    if (message_op_ != Opcode::text) return true;
    bool bad = false;
    utf8_ok_ += utf8_prefix(std::string_view(message_).substr(utf8_ok_), bad);
    return !bad || fail(close_code::invalid_data, "text not UTF-8");
}

// Decompresses the next part of a compressed message (`last`: its end) into message_.
bool Reader::inflate(std::string_view in, bool last) {
    Inflater::Status st;
    try {
        if (!inflater_) inflater_ = std::make_unique<Inflater>();
        st = last ? inflater_->finish(message_, max_message_)
                  : inflater_->feed(in, message_, max_message_);
    } catch (const std::bad_alloc&) {
        // The frame is half read and the decompressor's state lost: the connection is over.
        return fail(close_code::internal_error, "out of memory decompressing");
    }
    if (st == Inflater::Status::too_big) return fail(close_code::too_big, "message too big");
    if (st == Inflater::Status::bad_data) {
        return fail(close_code::invalid_data, "invalid compressed data");
    }
    return check_text();
}

}  // namespace corio::http::websocket
