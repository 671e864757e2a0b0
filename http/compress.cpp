#include <corio/http/compress.hpp>

#include <memory>
#include <utility>

#include <corio/http/ascii.hpp>
#include <corio/http/content_coding.hpp>

namespace corio::http {

namespace {

using ascii::iequals;

struct CompressState {
    Handler inner;
    CompressOptions opts;
};

bool type_listed(std::string_view type, const std::vector<std::string>& types) noexcept {
    for (const std::string& t : types) {
        if (t.size() >= 2 && t.ends_with("/*")) {
            const std::size_t n = t.size() - 1;  // "text/"
            if (type.size() > n && iequals(type.substr(0, n), std::string_view(t).substr(0, n))) {
                return true;
            }
        } else if (iequals(type, t)) {
            return true;
        }
    }
    return false;
}

// Whether `r` is a response compress() handles (before asking the client).
bool eligible(const Response& r, const CompressOptions& o) noexcept {
    if (r.kind == Response::Kind::buffer) {
        if (r.body.size() < o.min_length) return false;
    } else if (r.kind != Response::Kind::stream || !o.streams) {
        return false;
    }
    if (r.status < 200 || r.status == 204 || r.status == 206 || r.status == 304 || r.upgrade) {
        return false;
    }
    if (r.headers.contains("Content-Encoding") ||
        r.headers.has_token("Cache-Control", "no-transform")) {
        return false;
    }
    const auto type = r.headers.get("Content-Type");
    return type && type_listed(media_type(*type), o.types);
}

// `r`'s fields with Vary: Accept-Encoding (unless a Vary names it or "*"); when `weak`, the
// ETag made weak; when `gzipped`, Content-Encoding: gzip.
Headers rewrite(const Headers& h, bool weak, bool gzipped) {
    Headers out;
    for (const Header& f : h) {
        if (weak && iequals(f.name, "ETag") && !f.value.starts_with("W/")) {
            out.add(f.name, "W/" + f.value);
        } else {
            out.add(f.name, f.value);
        }
    }
    if (!h.has_token("Vary", "accept-encoding") && !h.has_token("Vary", "*")) {
        out.add("Vary", "Accept-Encoding");
    }
    if (gzipped) out.add("Content-Encoding", "gzip");
    return out;
}

// The body of a compressed stream: `inner`'s writes, each compressed and flushed to `out`.
// `inner` is a copy: the producer may be called on a temporary.
Task<Result<void>> gzip_stream(BodyProducer inner, int level, BodyWriter& out) {
    GzipEncoder enc(level);
    std::string buf;
    BodyWriter in(
        [&enc, &buf, &out](std::string_view data) {
            buf.clear();
            enc.write(data, buf);
            return out.write(buf);
        },
        out.draining());
    auto r = co_await inner(in);
    if (!r) co_return r;
    buf.clear();
    enc.finish({}, buf);
    co_return co_await out.write(buf);
}

// A 304 for the compressed copy's validator (If-None-Match names the weak tag we gave
// out): it carries that tag and Vary, as the 200 it stands for would (RFC 9110 §15.4.5).
bool not_modified_gzip(const Request& req, const Response& r) {
    if (r.status != 304 || !accepts_gzip(req.headers())) return false;
    const auto etag = r.headers.get("ETag");
    const auto inm = req.header("If-None-Match");
    if (!etag || !inm || etag->starts_with("W/")) return false;
    return inm->find("W/" + std::string(*etag)) != std::string_view::npos;
}

Response apply(const Request& req, Response r, const CompressOptions& o) {
    if (not_modified_gzip(req, r)) {
        r.headers = rewrite(r.headers, true, false);
        return r;
    }
    if (!eligible(r, o)) return r;
    bool gzipped = accepts_gzip(req.headers());
    if (gzipped && r.kind == Response::Kind::buffer) {
        std::string packed = gzip(r.body, o.level);
        gzipped = packed.size() < r.body.size();
        if (gzipped) r.body = std::move(packed);
    } else if (gzipped) {
        r.produce = [inner = std::move(r.produce), level = o.level](BodyWriter& w) {
            return gzip_stream(inner, level, w);
        };
    }
    r.headers = rewrite(r.headers, gzipped, gzipped);
    return r;
}

Task<Response> compressed(std::shared_ptr<const CompressState> s, Request& req) {
    Response r = co_await s->inner(req);
    co_return apply(req, std::move(r), s->opts);
}

}  // namespace

Handler compress(Handler inner, CompressOptions opts) {
    auto s =
        std::make_shared<const CompressState>(CompressState{std::move(inner), std::move(opts)});
    return [s = std::move(s)](Request& req) { return compressed(s, req); };
}

}  // namespace corio::http
