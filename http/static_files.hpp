#pragma once
// StaticFiles: a handler that serves a directory tree, for Router::mount().
//
//   auto files = http::StaticFiles::open("/srv/www").value("static root");
//   router.mount("/static", files);      // GET /static/a.css -> /srv/www/a.css
//
// What it does: Content-Type by extension; "index.html" for a directory
// ("/dir/"), 301 to "/dir/" for "/dir" (and for the mount point itself);
// nothing outside the root is reachable ("..", encoded or not, and symlinks
// leading out give 403; openat2 with RESOLVE_BENEATH where the kernel has it);
// Last-Modified and a strong ETag, with the preconditions of RFC 9110 §13 in
// its order (If-Match, If-Unmodified-Since: 412; If-None-Match,
// If-Modified-Since: 304; dates in all three HTTP-date formats); one byte
// range of a GET ("Range: bytes=a-b", "a-", "-n") answered 206 (416 when it
// lies past the end; several ranges get the whole file; If-Range honoured;
// HEAD ignores Range); small files are kept in memory per loop and sent from
// there (a cached hit allocates nothing), larger ones go out with
// splice/sendfile. With StaticOptions::precompressed, "a.css.gz" beside
// "a.css" is sent (Content-Encoding: gzip) to requests that accept gzip.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include <corio/http/message.hpp>
#include <corio/runtime/clock.hpp>
#include <corio/runtime/result.hpp>

namespace corio::http {

/// How StaticFiles serves.
struct StaticOptions {
    /// The file served for a directory.
    std::string index = "index.html";
    /// Files up to this size are kept in memory.
    std::size_t cache_max_file = 256 * 1024;
    /// Memory for cached files, per loop.
    std::size_t cache_bytes = std::size_t(64) << 20;
    /// A cached file is checked again after this; zero: no cache.
    Duration cache_valid = std::chrono::seconds(1);
    /// Serve "NAME.gz", when there is one beside the file NAME, to a GET or
    /// HEAD of NAME whose Accept-Encoding takes gzip (not for a Range request
    /// or a directory's index): with NAME's Content-Type, Content-Encoding:
    /// gzip and the .gz file's own Last-Modified and ETag (the tag marked
    /// "-gz"). The 200, 206 and 304 answers then carry Vary:
    /// Accept-Encoding. A request for "NAME.gz" itself gets that file as it
    /// is. (nginx's gzip_static; the .gz files are yours to make, e.g.
    /// `gzip -k`.)
    bool precompressed = false;
};

namespace detail {
struct StaticCore;
}

/// A Handler serving the files under a directory (see the file comment):
/// mount it on a Router. Copies share the root and the caches.
class StaticFiles {
public:
    /// Serves the directory `root`. Errors: the open(2) of the root (ENOENT,
    /// ENOTDIR, EACCES).
    static Result<StaticFiles> open(const std::string& root, StaticOptions opts = {});

    /// Answers GET and HEAD for Request::subpath() under the root; other
    /// methods get 405.
    Task<Response> operator()(Request& req) const;

private:
    explicit StaticFiles(std::shared_ptr<detail::StaticCore> c) : core_(std::move(c)) {}
    std::shared_ptr<detail::StaticCore> core_;
};

}  // namespace corio::http
