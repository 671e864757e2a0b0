#pragma once
// http::compress(): gzip on the fly for the responses a handler makes, to the
// clients that ask for it (nginx's gzip, tower-http's CompressionLayer).
//
//   http::Server srv(http::compress(router));
//
// A response is compressed when the request's Accept-Encoding takes gzip
// (accepts_gzip()) and the response
//   - has a buffer body of at least CompressOptions::min_length bytes, or a
//     streamed one (CompressOptions::streams), and
//   - a Content-Type whose media type is in CompressOptions::types, and
//   - no Content-Encoding of its own and no `Cache-Control: no-transform`,
//     and a status that carries content (not 1xx, 204, 206 or 304).
// Such a response varies with Accept-Encoding, so it gets `Vary:
// Accept-Encoding` whether or not this client's copy is compressed. The
// compressed copy gets `Content-Encoding: gzip` and its ETag made weak
// (W/"x": equivalent to the plain copy, not byte for byte the same; the
// handler's If-None-Match checks still match under weak comparison). A buffer
// that gzip would not make smaller goes out plain. A streamed body is
// compressed write by write and flushed each time (what a write() sends
// reaches the client at once, as without compression).
//
// A 304 whose request's If-None-Match names the weak tag of the compressed
// copy gets that tag and the Vary too (the 200 it stands for had them). A
// client that takes gzip cannot resume a download with If-Range (a weak tag
// never matches there).
//
// Compression runs on the loop, in the request's turn (a large body at a high
// level holds the loop that long); a HEAD is compressed for its length too.
// Shared and file bodies (StaticFiles) are left alone: static files have
// StaticOptions::precompressed, which costs no CPU per request.

#include <cstddef>
#include <string>
#include <vector>

#include <corio/http/router.hpp>

namespace corio::http {

/// What http::compress() compresses, and how hard.
struct CompressOptions {
    /// zlib's level: 1 fastest, 9 smallest (clamped).
    int level = 6;
    /// A buffer body shorter than this goes out as it is (gzip's framing costs
    /// 18 bytes, and a short body saves little).
    std::size_t min_length = 1024;
    /// Media types compressed: "type/subtype", or "type/*" for all of a type;
    /// any case. A response without Content-Type is not compressed.
    std::vector<std::string> types = {
        "text/*",          "application/json",      "application/javascript",
        "application/xml", "application/xhtml+xml", "application/manifest+json",
        "image/svg+xml",   "application/wasm",
    };
    /// Compress streamed bodies (Response::stream) too.
    bool streams = true;
};

/// A handler answering as `inner` does, with the responses compressed as the
/// file comment says. Wrap a Router, or one route's handler.
Handler compress(Handler inner, CompressOptions opts = {});

}  // namespace corio::http
