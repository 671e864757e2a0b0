#include <corio/http/content_coding.hpp>

#include <zlib.h>

#include <algorithm>
#include <memory>
#include <new>
#include <stdexcept>
#include <vector>

#include <corio/http/ascii.hpp>
#include <corio/http/codec.hpp>

namespace corio::http {

namespace {

// zlib counts in uInt: larger inputs go in pieces.
constexpr std::size_t max_piece = std::size_t(1) << 30;
constexpr std::size_t chunk = 16 * 1024;

Bytef* bytes(const char* p) noexcept {
    return reinterpret_cast<Bytef*>(const_cast<char*>(p));
}

// The zlib format starts with CMF FLG: method 8 with a window of at most 32 KiB (CINFO 7),
// and a multiple of 31 together. Else "deflate" is taken as raw DEFLATE.
bool zlib_format(std::string_view two) noexcept {
    const auto b0 = static_cast<unsigned char>(two[0]), b1 = static_cast<unsigned char>(two[1]);
    return (b0 & 0x0f) == 8 && (b0 >> 4) <= 7 && (b0 * 256u + b1) % 31 == 0;
}

}  // namespace

struct ContentDecoder::State {
    z_stream z{};
    bool initialised = false;
    bool gzip = false;   // members may follow one another
    bool ended = false;  // the stream (a member) ended, and no byte came after it
    bool failed = false;
    bool fed = false;  // a byte came
    std::string head;  // deflate: the first two bytes, which tell the format
    std::size_t head_used = 0;

    State() = default;
    State(const State&) = delete;
    State& operator=(const State&) = delete;
    ~State() {
        if (initialised) inflateEnd(&z);
    }

    void init(int window_bits) {
        const int rc = inflateInit2(&z, window_bits);
        if (rc == Z_MEM_ERROR) throw std::bad_alloc();
        if (rc != Z_OK) throw std::logic_error("content coding: inflateInit2 failed");
        initialised = true;
    }

    // Inflates from `in` into `out` (both advanced) until one runs out; false on bytes
    // that are not in the coding.
    bool inflate_some(std::string_view& in, std::span<std::byte>& out, Step& step) {
        while (!out.empty()) {
            if (ended) {
                if (in.empty()) return true;
                if (!gzip) return false;  // bytes after the end
                inflateReset(&z);         // another member (zlib checks its magic)
                ended = false;
            }
            z.next_in = bytes(in.data());
            z.avail_in = uInt(std::min(in.size(), max_piece));
            z.next_out = reinterpret_cast<Bytef*>(out.data());
            z.avail_out = uInt(std::min(out.size(), max_piece));
            const uInt in_before = z.avail_in, out_before = z.avail_out;
            const int rc = inflate(&z, Z_NO_FLUSH);
            const std::size_t took = in_before - z.avail_in, gave = out_before - z.avail_out;
            in.remove_prefix(took);
            out = out.subspan(gave);
            step.used += took;
            step.written += gave;
            switch (rc) {
                case Z_STREAM_END:
                    ended = true;
                    break;
                case Z_OK:
                    if (in.empty() && z.avail_out != 0) return true;  // nothing held back
                    break;
                case Z_BUF_ERROR:  // no progress possible: it needs input (or room)
                    // With both at hand that cannot be: refuse rather than spin.
                    return in.empty() || out.empty();
                case Z_MEM_ERROR:
                    throw std::bad_alloc();
                default:  // Z_DATA_ERROR, Z_NEED_DICT
                    return false;
            }
        }
        return true;
    }
};

ContentDecoder::ContentDecoder(std::unique_ptr<State> s) noexcept : s_(std::move(s)) {}
ContentDecoder::~ContentDecoder() = default;
ContentDecoder::ContentDecoder(ContentDecoder&&) noexcept = default;
ContentDecoder& ContentDecoder::operator=(ContentDecoder&&) noexcept = default;

Result<ContentDecoder> ContentDecoder::make(std::string_view coding) {
    coding = ascii::trim_ows(coding);
    auto s = std::make_unique<State>();
    if (ascii::iequals(coding, "gzip") || ascii::iequals(coding, "x-gzip")) {
        s->gzip = true;
        s->init(15 + 16);
    } else if (!ascii::iequals(coding, "deflate")) {
        return std::errc::not_supported;
    }
    return ContentDecoder(std::move(s));
}

Result<ContentDecoder::Step> ContentDecoder::decode(std::string_view in, std::span<std::byte> out) {
    if (!s_) throw std::logic_error("ContentDecoder used after a move");
    State& s = *s_;
    if (s.failed) return std::errc::illegal_byte_sequence;
    Step step;
    s.fed = s.fed || !in.empty();
    if (!s.initialised) {  // deflate: the format is known after two bytes
        const std::size_t take = std::min(in.size(), 2 - s.head.size());
        s.head.append(in.substr(0, take));
        in.remove_prefix(take);
        step.used = take;
        if (s.head.size() < 2) return step;
        s.init(zlib_format(s.head) ? 15 : -15);
    }
    if (s.head_used < s.head.size()) {  // those two bytes go in first
        std::string_view head = std::string_view(s.head).substr(s.head_used);
        Step h;
        const bool ok = s.inflate_some(head, out, h);
        s.head_used += h.used;
        step.written += h.written;
        if (!ok) return fail(step);
        if (s.head_used < s.head.size()) return step;  // `out` is full
    }
    if (!s.inflate_some(in, out, step)) return fail(step);
    return step;
}

Result<ContentDecoder::Step> ContentDecoder::fail(Step step) noexcept {
    s_->failed = true;
    // What was decoded before the bad bytes is given first; the error comes next call.
    if (step.written > 0) return step;
    return std::errc::illegal_byte_sequence;
}

Result<void> ContentDecoder::finish() const {
    if (!s_) throw std::logic_error("ContentDecoder used after a move");
    const State& s = *s_;
    if (s.failed || !s.fed || !s.ended) return std::errc::illegal_byte_sequence;
    return {};
}

Result<std::string> decode_content(std::string_view coding, std::string_view body,
                                   std::size_t max) {
    auto d = ContentDecoder::make(coding);
    if (!d) return d.error();
    std::string out;
    auto buf = std::make_unique<std::byte[]>(chunk);
    for (;;) {
        // Room up to one byte past the limit: output that reaches it is too much.
        const std::size_t room = std::min(chunk - 1, max - std::min(max, out.size())) + 1;
        auto step = d->decode(body, std::span(buf.get(), room));
        if (!step) return step.error();
        body.remove_prefix(step->used);
        out.append(reinterpret_cast<const char*>(buf.get()), step->written);
        if (out.size() > max) return Errc::limit_exceeded;
        if (body.empty() && step->written < room) break;  // all in, nothing held back
    }
    if (auto f = d->finish(); !f) return f.error();
    return out;
}

namespace {
thread_local bool idle_gone = false;  // this thread's idle deflate streams are destroyed
}  // namespace

// A deflate stream. Streams are kept for reuse per thread (State::take, State::give):
// deflateInit2 costs about 200 µs here (its 256 KiB of state is mapped and faulted in each
// time), deflateReset next to nothing, and compress() makes one per response.
struct GzipEncoder::State {
    z_stream z{};
    int level = 6;
    bool finished = false;

    State() = default;
    State(const State&) = delete;
    State& operator=(const State&) = delete;
    ~State() { deflateEnd(&z); }

    // At most this many idle streams per thread (about 1 MiB).
    static constexpr std::size_t kept = 4;
    // This thread's idle streams; null once they are destroyed at its exit (an encoder
    // that outlives them, a static one, ends its stream itself).
    static std::vector<std::unique_ptr<State>>* idle() {
        struct Idle {
            std::vector<std::unique_ptr<State>> streams;
            ~Idle() { idle_gone = true; }
        };
        if (idle_gone) return nullptr;
        thread_local Idle i;
        return &i.streams;
    }

    static std::unique_ptr<State> take(int level) {
        level = std::clamp(level, 1, 9);
        if (auto* streams = idle()) {
            for (auto it = streams->begin(); it != streams->end(); ++it) {
                if ((*it)->level != level) continue;
                std::unique_ptr<State> s = std::move(*it);
                streams->erase(it);
                return s;
            }
        }
        auto s = std::make_unique<State>();
        const int rc = deflateInit2(&s->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        if (rc == Z_MEM_ERROR) {
            s->z = z_stream{};  // nothing to end
            throw std::bad_alloc();
        }
        if (rc != Z_OK) throw std::invalid_argument("gzip: deflateInit2 failed");
        s->level = level;
        return s;
    }

    static void give(std::unique_ptr<State> s) noexcept {
        auto* streams = idle();
        if (!streams || streams->size() >= kept || deflateReset(&s->z) != Z_OK) return;  // ended
        s->finished = false;
        try {
            streams->push_back(std::move(s));
        } catch (...) {  // no room to keep it: ended instead
        }
    }
};

GzipEncoder::GzipEncoder(int level) : z_(State::take(level)) {}

GzipEncoder::~GzipEncoder() {
    if (z_) State::give(std::move(z_));
}

GzipEncoder::GzipEncoder(GzipEncoder&&) noexcept = default;

GzipEncoder& GzipEncoder::operator=(GzipEncoder&& other) noexcept {
    if (this != &other) {
        if (z_) State::give(std::move(z_));
        z_ = std::move(other.z_);
    }
    return *this;
}

namespace {

// Runs deflate over all of `in` with `flush` (Z_SYNC_FLUSH or Z_FINISH) onto `out`.
void deflate_onto(z_stream& z, std::string_view in, int flush, std::string& out) {
    z.next_in = bytes(in.data());
    z.avail_in = 0;  // a stream given back after a throw below may still count old input
    std::size_t left = in.size();
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
        const int r = deflate(&z, left == 0 ? flush : Z_NO_FLUSH);
        out.resize(out.size() - z.avail_out);
        if (r == Z_STREAM_ERROR) throw std::logic_error("gzip: deflate state broken");
        if (r == Z_STREAM_END) return;
        // A flush is complete when deflate left output room unused with all input in.
        if (flush != Z_FINISH && left == 0 && z.avail_in == 0 && z.avail_out != 0) return;
    }
}

}  // namespace

void GzipEncoder::write(std::string_view in, std::string& out) {
    if (!z_ || z_->finished) throw std::logic_error("GzipEncoder::write after finish");
    if (!in.empty()) deflate_onto(z_->z, in, Z_SYNC_FLUSH, out);
}

void GzipEncoder::finish(std::string_view in, std::string& out) {
    if (!z_ || z_->finished) throw std::logic_error("GzipEncoder::finish twice");
    deflate_onto(z_->z, in, Z_FINISH, out);
    z_->finished = true;
}

std::string gzip(std::string_view body, int level) {
    std::string out;
    GzipEncoder(level).finish(body, out);
    return out;
}

bool accepts_gzip(const Headers& headers) noexcept {
    bool named = false, refused = false, star = false;
    for (const Header& h : headers) {
        if (!ascii::iequals(h.name, "accept-encoding")) continue;
        std::string_view list = h.value;
        while (!list.empty()) {
            const std::size_t comma = std::min(list.find(','), list.size());
            const std::string_view item = list.substr(0, comma);
            list.remove_prefix(std::min(list.size(), comma + 1));
            const std::size_t semi = std::min(item.find(';'), item.size());
            const std::string_view coding = ascii::trim_ows(item.substr(0, semi));
            // q=0 (0, 0., 0.0, 0.00, 0.000) refuses; anything else accepts.
            bool zero = false;
            std::string_view params = item.substr(semi);
            while (!params.empty()) {
                params.remove_prefix(1);  // the ';'
                const std::size_t next = std::min(params.find(';'), params.size());
                const std::string_view p = ascii::trim_ows(params.substr(0, next));
                params.remove_prefix(next);
                if (p.size() >= 2 && ascii::to_lower(p[0]) == 'q' && p[1] == '=') {
                    const std::string_view q = ascii::trim_ows(p.substr(2));
                    zero = !q.empty() && q[0] == '0' &&
                           q.find_first_not_of("0.", 1) == std::string_view::npos;
                }
            }
            if (ascii::iequals(coding, "gzip") || ascii::iequals(coding, "x-gzip")) {
                (zero ? refused : named) = true;
            } else if (coding == "*" && !zero) {
                star = true;
            }
        }
    }
    return named || (star && !refused);
}

}  // namespace corio::http
