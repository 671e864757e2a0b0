#include <corio/http/websocket_deflate.hpp>

#include <zlib.h>

#include <algorithm>
#include <new>
#include <stdexcept>
#include <utility>

#include <corio/http/ascii.hpp>

namespace corio::http::websocket {

namespace {

// ---- Sec-WebSocket-Extensions (RFC 6455 §9.1) -----------------------------------

struct Param {
    std::string_view name;
    std::optional<std::string> value;  // unquoted
};
struct Extension {
    std::string_view name;
    std::vector<Param> params;
};

bool is_tchar(char c) noexcept {
    return ascii::is_alpha(c) || ascii::is_digit(c) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

class ListParser {
public:
    explicit ListParser(std::string_view s) noexcept : s_(s) {}

    // extension-list = 1#( extension-token *( OWS ";" OWS extension-param ) ), with
    // empty list elements allowed (RFC 9110 §5.6.1.2).
    std::optional<std::vector<Extension>> parse() {
        std::vector<Extension> out;
        for (;;) {
            while (at('\t') || at(' ') || at(','))
                ++i_;
            if (i_ == s_.size()) return out;
            Extension e;
            e.name = token();
            if (e.name.empty()) return std::nullopt;
            for (ows(); at(';'); ows()) {
                ++i_;
                ows();
                Param p;
                p.name = token();
                if (p.name.empty()) return std::nullopt;
                ows();
                if (at('=')) {
                    ++i_;
                    ows();
                    p.value = at('"') ? quoted() : std::optional<std::string>(token());
                    if (!p.value || p.value->empty()) return std::nullopt;
                }
                e.params.push_back(std::move(p));
            }
            if (i_ != s_.size() && !at(',')) return std::nullopt;
            out.push_back(std::move(e));
        }
    }

private:
    bool at(char c) const noexcept { return i_ < s_.size() && s_[i_] == c; }
    void ows() noexcept {
        while (at(' ') || at('\t'))
            ++i_;
    }
    std::string_view token() noexcept {
        const std::size_t start = i_;
        while (i_ < s_.size() && is_tchar(s_[i_]))
            ++i_;
        return s_.substr(start, i_ - start);
    }
    // A quoted-string (RFC 9110 §5.6.4), its escapes undone; nullopt when unterminated.
    std::optional<std::string> quoted() {
        std::string v;
        for (++i_; i_ < s_.size(); ++i_) {
            char c = s_[i_];
            if (c == '"') {
                ++i_;
                return v;
            }
            if (c == '\\') {
                if (++i_ == s_.size()) break;
                c = s_[i_];
            }
            if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) break;
            v += c;
        }
        return std::nullopt;
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

// 8 to 15, written without a leading zero; 0 for anything else.
int window_bits(std::string_view v) noexcept {
    if (v.empty() || v.size() > 2 || v[0] == '0') return 0;
    int n = 0;
    for (const char c : v) {
        if (!ascii::is_digit(c)) return 0;
        n = n * 10 + (c - '0');
    }
    return n >= 8 && n <= 15 ? n : 0;
}

// A permessage-deflate element's parameters; nullopt when one is unknown, repeated or
// out of range. `answer`: client_max_window_bits needs a value.
std::optional<DeflateParams> params_of(const Extension& e, bool answer) {
    DeflateParams p;
    bool seen[4] = {};
    for (const Param& q : e.params) {
        int which;
        if (ascii::iequals(q.name, "server_no_context_takeover")) {
            which = 0;
            if (q.value) return std::nullopt;
            p.server_no_context_takeover = true;
        } else if (ascii::iequals(q.name, "client_no_context_takeover")) {
            which = 1;
            if (q.value) return std::nullopt;
            p.client_no_context_takeover = true;
        } else if (ascii::iequals(q.name, "server_max_window_bits")) {
            which = 2;
            p.server_max_window_bits = q.value ? window_bits(*q.value) : 0;
            if (p.server_max_window_bits == 0) return std::nullopt;
        } else if (ascii::iequals(q.name, "client_max_window_bits")) {
            which = 3;
            p.client_max_window_bits = q.value ? window_bits(*q.value) : answer ? 0 : -1;
            if (p.client_max_window_bits == 0) return std::nullopt;
        } else {
            return std::nullopt;
        }
        if (std::exchange(seen[which], true)) return std::nullopt;
    }
    return p;
}

}  // namespace

std::vector<DeflateParams> deflate_offers(std::string_view extensions) {
    std::vector<DeflateParams> out;
    const auto list = ListParser(extensions).parse();
    if (!list) return out;
    for (const Extension& e : *list) {
        if (!ascii::iequals(e.name, "permessage-deflate")) continue;
        if (auto p = params_of(e, false)) out.push_back(*p);
    }
    return out;
}

std::optional<DeflateParams> deflate_accept(const std::vector<DeflateParams>& offers,
                                            const DeflateOptions& ours) {
    if (!ours.enabled || offers.empty()) return std::nullopt;
    const DeflateParams& offer = offers.front();  // each one left is one we can take
    DeflateParams answer;
    answer.server_no_context_takeover =
        offer.server_no_context_takeover || ours.no_context_takeover;
    const int mine = std::clamp(ours.window_bits, 9, 15);
    if (offer.server_max_window_bits != 0) {
        answer.server_max_window_bits = std::min(mine, offer.server_max_window_bits);
    } else if (mine < 15) {
        answer.server_max_window_bits = mine;
    }
    return answer;
}

std::string deflate_offer(const DeflateOptions& ours) {
    std::string s = "permessage-deflate; client_max_window_bits";
    if (ours.no_context_takeover) s += "; client_no_context_takeover";
    return s;
}

std::optional<DeflateParams> deflate_check_answer(std::string_view extensions) {
    const auto list = ListParser(extensions).parse();
    if (!list || list->size() != 1 || !ascii::iequals(list->front().name, "permessage-deflate")) {
        return std::nullopt;
    }
    return params_of(list->front(), true);
}

std::string deflate_format(const DeflateParams& p) {
    std::string s = "permessage-deflate";
    if (p.server_no_context_takeover) s += "; server_no_context_takeover";
    if (p.client_no_context_takeover) s += "; client_no_context_takeover";
    if (p.server_max_window_bits > 0) {
        s += "; server_max_window_bits=" + std::to_string(p.server_max_window_bits);
    }
    if (p.client_max_window_bits > 0) {
        s += "; client_max_window_bits=" + std::to_string(p.client_max_window_bits);
    } else if (p.client_max_window_bits < 0) {
        s += "; client_max_window_bits";
    }
    return s;
}

// ---- zlib ----------------------------------------------------------------------------

namespace {

constexpr std::string_view flush_tail("\x00\x00\xff\xff", 4);
// zlib counts in uInt: larger inputs go in pieces.
constexpr std::size_t max_piece = std::size_t(1) << 30;

Bytef* bytes(const char* p) noexcept {
    return reinterpret_cast<Bytef*>(const_cast<char*>(p));
}

}  // namespace

struct Deflater::Z {
    z_stream s{};
};

Deflater::Deflater(int level, int window_bits, int mem_level, bool no_context_takeover)
    : z_(std::make_unique<Z>()), no_context_takeover_(no_context_takeover) {
    const int rc =
        deflateInit2(&z_->s, std::clamp(level, 1, 9), Z_DEFLATED, -std::clamp(window_bits, 9, 15),
                     std::clamp(mem_level, 1, 9), Z_DEFAULT_STRATEGY);
    if (rc == Z_MEM_ERROR) throw std::bad_alloc();
    if (rc != Z_OK) throw std::invalid_argument("websocket: deflateInit2 failed");
}

Deflater::~Deflater() {
    deflateEnd(&z_->s);
}

bool Deflater::compress(std::string_view message, std::string& out) {
    z_stream& z = z_->s;
    const std::size_t start = out.size();
    std::size_t left = message.size();
    z.next_in = bytes(message.data());
    z.avail_in = 0;
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
        const int rc = deflate(&z, left == 0 ? Z_SYNC_FLUSH : Z_NO_FLUSH);
        out.resize(out.size() - z.avail_out);
        if (rc == Z_STREAM_ERROR) throw std::logic_error("websocket: deflate state broken");
        // Done when all input is in and the flush did not run out of room.
        if (left == 0 && z.avail_in == 0 && z.avail_out != 0) break;
    }
    // A sync flush ends in an empty stored block: 00 00 ff ff, which the peer adds back.
    // zlib writes no second flush when nothing came in since the last one (an empty
    // message): then the payload is the 00 that starts an empty stored block.
    if (std::string_view(out).substr(start).ends_with(flush_tail)) {
        out.resize(out.size() - 4);
    } else {
        out += '\0';
    }
    if (!no_context_takeover_) return true;
    deflateReset(&z);
    if (out.size() - start < message.size()) return true;
    out.resize(start);
    return false;
}

// Output is inflated into a buffer of this size, then appended to the message (room
// made in the message itself would be zero-filled first, whatever little comes out).
constexpr std::size_t inflate_chunk = 16 * 1024;
// Bytes a message may carry after a final block (RFC 7692 §7.2.3.4's example has one).
constexpr std::size_t after_final_max = 8;

struct Inflater::Z {
    z_stream s{};
    Bytef buf[inflate_chunk];
};

Inflater::Inflater() : z_(std::make_unique<Z>()) {
    const int rc = inflateInit2(&z_->s, -15);  // 15 reads any window size
    if (rc == Z_MEM_ERROR) throw std::bad_alloc();
    if (rc != Z_OK) throw std::invalid_argument("websocket: inflateInit2 failed");
}

Inflater::~Inflater() {
    inflateEnd(&z_->s);
}

Inflater::Status Inflater::feed(std::string_view in, std::string& out, std::size_t limit) {
    if (failed_ != Status::ok) return failed_;
    if (ended_) {  // after a final block: a little padding, no more
        after_final_ += in.size();
        return after_final_ <= after_final_max ? Status::ok : (failed_ = Status::bad_data);
    }
    z_stream& z = z_->s;
    z.next_in = bytes(in.data());
    z.avail_in = 0;
    std::size_t left = in.size();
    message_in_ += in.size();
    for (;;) {
        if (z.avail_in == 0 && left > 0) {
            z.avail_in = uInt(std::min(left, max_piece));
            left -= z.avail_in;
        }
        // Room up to one byte past the limit (out.size() <= limit here): output that
        // reaches it is too much.
        const std::size_t room = std::min(inflate_chunk - 1, limit - out.size()) + 1;
        z.next_out = z_->buf;
        z.avail_out = uInt(room);
        const int rc = inflate(&z, Z_SYNC_FLUSH);
        out.append(reinterpret_cast<const char*>(z_->buf), room - z.avail_out);
        if (out.size() > limit) return failed_ = Status::too_big;
        switch (rc) {
            case Z_OK:
            case Z_BUF_ERROR:  // no progress: more input needed, or more room (the loop gives it)
                break;
            case Z_STREAM_END:
                ended_ = true;
                after_final_ = z.avail_in + left;
                return after_final_ <= after_final_max ? Status::ok : (failed_ = Status::bad_data);
            case Z_MEM_ERROR:
                failed_ = Status::bad_data;
                throw std::bad_alloc();
            default:  // Z_DATA_ERROR, Z_NEED_DICT
                return failed_ = Status::bad_data;
        }
        // Done when all input is in and the output did not fill its room (nothing pending).
        if (z.avail_in == 0 && left == 0 && z.avail_out != 0) return Status::ok;
    }
}

Inflater::Status Inflater::finish(std::string& out, std::size_t limit) {
    if (failed_ != Status::ok) return failed_;
    // A compressed message of no bytes at all is an empty one (RFC 7692 §7.2.3.6 sends
    // a 00, but the tail alone would leave the stream inside a block).
    if (std::exchange(message_in_, 0) == 0 && !ended_) return Status::ok;
    z_stream& z = z_->s;
    // At a block boundary already: a sender that did not take the tail off (RFC 7692
    // says to). The message is whole as it is.
    if (!ended_ && (z.data_type & 128) != 0) return Status::ok;
    if (!ended_) {
        const Status st = feed(flush_tail, out, limit);
        message_in_ = 0;
        if (st != Status::ok) return st;
    }
    if (ended_) {
        // The next message starts a new stream, with this one's window: unless the
        // peer said no_context_takeover it may refer back to it (RFC 7692 §7.2.2).
        std::vector<Bytef> window(std::size_t(1) << 15);
        uInt n = 0;
        inflateGetDictionary(&z, window.data(), &n);
        inflateReset(&z);
        inflateSetDictionary(&z, window.data(), n);
        ended_ = false;
        after_final_ = 0;
        return Status::ok;
    }
    // The empty stored block just fed must have ended at a block boundary; otherwise
    // the message stopped inside a block and its data would run into the next one.
    if ((z.data_type & 128) == 0) return failed_ = Status::bad_data;
    return Status::ok;
}

}  // namespace corio::http::websocket
