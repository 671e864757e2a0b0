// StaticFiles: paths to files under a root, the per-loop cache of small
// files, conditional requests and byte ranges.
#include <corio/http/static_files.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <corio/fs/ops.hpp>
#include <corio/http/ascii.hpp>
#include <corio/http/content_coding.hpp>
#include <corio/http/file_ops.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/sim_io.hpp>

namespace corio::http {
namespace detail {
namespace {

struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    time_t mtime = 0;
    long mtime_ns = 0;
    bool operator==(const FileId&) const = default;
};

FileId id_of(const struct stat& st) noexcept {
    return FileId{st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
}

/// The date in the only field named `name`, or nullopt when it is absent,
/// not an HTTP-date, or sent more than once (a list of dates is invalid).
std::optional<std::time_t> date_field(const Request& req, std::string_view name) {
    auto v = req.header(name);
    if (!v || req.headers().count(name) != 1) return std::nullopt;
    return parse_http_date(*v);
}

/// `gz`: the tag of a precompressed variant, marked so that it differs from the
/// plain file's even when `gzip -k` kept the mtime.
std::string etag_of(const FileId& id, bool gz = false) {
    char b[80];
    int n =
        std::snprintf(b, sizeof b, "\"%llx-%llx-%lx%s\"", static_cast<unsigned long long>(id.size),
                      static_cast<unsigned long long>(id.mtime), id.mtime_ns, gz ? "-gz" : "");
    return std::string(b, std::size_t(n));
}

/// The cache key of NAME's precompressed variant: NAME and a NUL, which no
/// key of a path holds (path_to_key refuses it), then "gz".
constexpr std::string_view gz_suffix("\0gz", 3);

/// Turns a request path into the key of what it names: "/" and the decoded
/// segments joined by '/', a trailing '/' kept ("/", "/a/b.html", "/dir/").
/// Gives 0, or the status to answer: 400 for a bad escape, a NUL or a target
/// that is not a path; 403 for ".." (plain or encoded) and encoded slashes.
int path_to_key(std::string_view path, std::string& key) {
    if (path.empty() || path.front() != '/') return 400;
    key.assign("/");
    std::size_t pos = 1;
    while (pos <= path.size()) {
        std::size_t end = path.find('/', pos);
        if (end == std::string_view::npos) end = path.size();
        std::string_view seg = path.substr(pos, end - pos);
        std::optional<std::string> decoded;
        if (seg.find('%') != std::string_view::npos) {
            decoded = percent_decode(seg);
            if (!decoded) return 400;
            if (decoded->find('\0') != std::string::npos) return 400;
            if (decoded->find('/') != std::string::npos) return 403;
            seg = *decoded;
        }
        if (seg == "..") return 403;
        if (!seg.empty() && seg != ".") {
            key.append(seg);
            key.push_back('/');
        }
        pos = end + 1;
    }
    if (key.size() > 1 && path.back() != '/') key.pop_back();
    return 0;
}

/// Percent-encodes a key for a Location header: unreserved characters, '/'
/// and a few safe sub-delimiters stay, everything else (controls, spaces,
/// '%', non-ASCII) is escaped, so no header can be injected.
std::string encode_path(std::string_view key) {
    std::string out;
    for (unsigned char ch : key) {
        bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') ||
                    std::string_view("-._~/!$&'()*+,;=:@").find(char(ch)) != std::string_view::npos;
        if (keep) {
            out.push_back(char(ch));
        } else {
            ascii::append_percent(ch, out);
        }
    }
    return out;
}

/// fstat(2); on a simulated host the simulated kernel's statx of the
/// descriptor (its disk has no devices and no timestamps: both stay 0).
int stat_fd(int fd, struct stat& st) noexcept {
    if (corio::detail::SimIo* sim = corio::detail::current_sim()) {
        struct statx sx;
        if (int r = sim->statx(fd, "", AT_EMPTY_PATH, &sx); r < 0) return r;
        st = {};
        st.st_mode = sx.stx_mode;
        st.st_size = off_t(sx.stx_size);
        st.st_ino = ino_t(sx.stx_ino);
        st.st_mtim.tv_sec = time_t(sx.stx_mtime.tv_sec);
        st.st_mtim.tv_nsec = long(sx.stx_mtime.tv_nsec);
        return 0;
    }
    return ::fstat(fd, &st) == 0 ? 0 : -errno;
}

int status_for_open_error(std::error_code ec) noexcept {
    switch (ec.value()) {
        case ENOENT:
        case ENOTDIR:
            return 404;
        case EXDEV:  // RESOLVE_BENEATH: the path leads out of the root
        case ELOOP:
        case EACCES:
        case EPERM:
        case ENXIO:  // a socket
        case ENODEV:
            return 403;
        case ENAMETOOLONG:
            return 414;
        default:
            return 500;
    }
}

/// What a file's responses share: the 200 head fields and body, the 304 head
/// fields, and the validators.
struct Entry {
    FileId id{};
    std::shared_ptr<SharedBody> full;  // fields: type, length-free validators; body
    std::shared_ptr<SharedBody> not_modified;
    std::string last_modified;
    std::string etag;
    TimePoint checked{};
};

/// Which form of a file is sent, and whether the answer says it varies.
struct Variant {
    bool gzip = false;  // the .gz beside it: Content-Encoding, no ranges
    bool vary = false;  // Vary: Accept-Encoding (precompressed is on)
};

std::shared_ptr<Entry> make_entry(const FileId& id, std::string_view mime, Variant v) {
    auto e = std::make_shared<Entry>();
    e->id = id;
    e->last_modified = format_http_date(id.mtime);
    e->etag = etag_of(id, v.gzip);
    const std::string vary = v.vary ? "Vary: Accept-Encoding\r\n" : "";
    e->full = std::make_shared<SharedBody>();
    e->full->fields = "Content-Type: " + std::string(mime) +
                      "\r\nLast-Modified: " + e->last_modified + "\r\nETag: " + e->etag +
                      (v.gzip ? "\r\nContent-Encoding: gzip\r\n" : "\r\nAccept-Ranges: bytes\r\n") +
                      vary;
    e->not_modified = std::make_shared<SharedBody>();
    e->not_modified->fields =
        "Last-Modified: " + e->last_modified + "\r\nETag: " + e->etag + "\r\n" + vary;
    return e;
}

/// An entry that says "no such file" (a missing .gz), for cache_valid.
bool absent(const Entry& e) noexcept {
    return e.full == nullptr;
}

struct Cache {
    std::unordered_map<std::string, std::shared_ptr<Entry>> map;
    std::size_t total = 0;
    std::string key;  // scratch, reused per request

    // What an entry costs against cache_bytes: its body, or for a marker of a
    // missing .gz a guess at its map node (so that markers are evicted too).
    static std::size_t size_of(const Entry& e) noexcept {
        return absent(e) ? 256 : e.full->body.size();
    }

    void insert(const std::string& k, std::shared_ptr<Entry> e, std::size_t limit) {
        if (total + size_of(*e) > limit) {
            map.clear();  // crude but bounded; responses in flight hold their entry
            total = 0;
        }
        auto [it, fresh] = map.try_emplace(k, e);
        if (!fresh) {
            total -= size_of(*it->second);
            it->second = e;
        }
        total += size_of(*e);
    }
};

/// A parsed "Range: bytes=..." against a length: nullopt when absent or to
/// be ignored (several ranges, another unit, bad syntax); {0, 0, false} when
/// unsatisfiable.
struct ByteRange {
    std::uint64_t first = 0;
    std::uint64_t length = 0;
    bool satisfiable = true;
};

std::optional<std::uint64_t> parse_u64(std::string_view s) {
    std::uint64_t v = 0;
    if (s.empty()) return std::nullopt;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

std::optional<ByteRange> parse_range(std::string_view v, std::uint64_t size) {
    if (!ascii::istarts_with(v, "bytes=")) return std::nullopt;
    v = ascii::trim_ows(v.substr(6));
    if (v.find(',') != std::string_view::npos) return std::nullopt;  // one range only
    std::size_t dash = v.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    std::string_view a = v.substr(0, dash);
    std::string_view b = v.substr(dash + 1);
    ByteRange r;
    if (a.empty()) {  // suffix: the last n bytes
        auto n = parse_u64(b);
        if (!n) return std::nullopt;
        if (*n == 0 || size == 0) return ByteRange{0, 0, false};
        r.length = std::min(*n, size);
        r.first = size - r.length;
        return r;
    }
    auto first = parse_u64(a);
    if (!first) return std::nullopt;
    std::uint64_t last = size == 0 ? 0 : size - 1;
    if (!b.empty()) {
        auto l = parse_u64(b);
        if (!l || *l < *first) return std::nullopt;
        last = std::min(*l, last);
    }
    if (*first >= size) return ByteRange{0, 0, false};
    r.first = *first;
    r.length = last - *first + 1;
    return r;
}

/// True when an entity tag in the lists of the fields named `name` matches
/// `etag` (a strong one), or a list is "*". Weak comparison (If-None-Match)
/// ignores a "W/" prefix; strong comparison (If-Match) never matches a weak
/// tag (RFC 9110 §8.8.3.2). Several field lines make one list.
bool etag_listed(const Request& req, std::string_view name, std::string_view etag, bool weak) {
    for (const Header& h : req.headers()) {
        if (!iequals(h.name, name)) continue;
        std::string_view list = h.value;
        std::size_t pos = 0;
        while (pos < list.size()) {
            std::size_t end = list.find(',', pos);
            if (end == std::string_view::npos) end = list.size();
            std::string_view t = ascii::trim_ows(list.substr(pos, end - pos));
            if (t == "*") return true;
            if (weak && t.size() > 2 && t.substr(0, 2) == "W/") t.remove_prefix(2);
            if (t == etag) return true;
            pos = end + 1;
        }
    }
    return false;
}

struct Resolved {
    int status = 0;  // 200, 301, an error status; -1: cancelled
    FileFd file;
    FileId id{};
    std::string_view mime;
};

}  // namespace

struct StaticCore {
    StaticOptions opts;
    FileFd root;
    std::mutex mu;  // guards `caches` (one short lookup per request)
    std::vector<std::pair<Loop*, std::unique_ptr<Cache>>> caches;

    Cache& cache_for(Loop& loop) {
        std::lock_guard lk(mu);
        for (auto& [l, c] : caches) {
            if (l == &loop) return *c;
        }
        caches.emplace_back(&loop, std::make_unique<Cache>());
        return *caches.back().second;
    }
};

namespace {

/// Opens what `key` names under the root (never outside it) and says how to
/// answer: a regular file (200), a directory without its slash (301), or an
/// error status.
Task<Resolved> resolve(StaticCore* core, std::string key) {
    Resolved r;
    std::string rel = key.size() == 1 ? std::string(".") : key.substr(1);
    auto fd = co_await run(OpenBeneath(core->root.get(), std::move(rel), O_RDONLY | O_NONBLOCK));
    if (!fd) {
        r.status =
            fd.error() == std::errc::operation_canceled ? -1 : status_for_open_error(fd.error());
        co_return r;
    }
    r.file.reset(*fd);
    struct stat st;
    if (stat_fd(r.file.get(), st) != 0) {
        r.status = 500;
        co_return r;
    }
    std::string_view name = key;
    if (S_ISDIR(st.st_mode)) {
        if (key.back() != '/') {
            r.status = 301;
            co_return r;
        }
        auto idx = co_await run(OpenBeneath(r.file.get(), core->opts.index, O_RDONLY | O_NONBLOCK));
        if (!idx) {
            if (idx.error() == std::errc::operation_canceled) {
                r.status = -1;
            } else {
                // No index: no listing either (as nginx without autoindex).
                r.status = idx.error() == std::errc::no_such_file_or_directory
                               ? 403
                               : status_for_open_error(idx.error());
            }
            co_return r;
        }
        r.file.reset(*idx);
        if (stat_fd(r.file.get(), st) != 0) {
            r.status = 500;
            co_return r;
        }
        name = core->opts.index;
    }
    if (!S_ISREG(st.st_mode)) {
        r.status = 403;
        co_return r;
    }
    r.status = 200;
    r.id = id_of(st);
    r.mime = mime_type_for(name);
    co_return r;
}

/// Reads up to `size` bytes of `fd` into `out` (page cache first). False on
/// a read error.
Task<bool> read_file(int fd, std::uint64_t size, std::string* out) {
    out->resize(std::size_t(size));
    std::size_t got = 0;
    static const std::string subject = "(served file)";
    while (got < out->size()) {
        auto span = std::as_writable_bytes(std::span(out->data() + got, out->size() - got));
        auto n = co_await run(fs::ReadAt{fd, span, got, &subject});
        if (!n) co_return false;
        if (*n == 0) break;  // the file shrank: serve what is there
        got += *n;
    }
    out->resize(got);
    co_return true;
}

/// The preconditions of RFC 9110 §13.2.2, in its order: 412 when If-Match
/// (else If-Unmodified-Since) fails, 304 when If-None-Match (else
/// If-Modified-Since) says the client's copy is current, else 0. Only GET and
/// HEAD get here.
int precondition(const Request& req, std::string_view etag, std::time_t mtime) {
    if (req.header("If-Match")) {
        if (!etag_listed(req, "If-Match", etag, false)) return 412;
    } else if (auto t = date_field(req, "If-Unmodified-Since"); t && mtime > *t) {
        return 412;
    }
    if (req.header("If-None-Match")) return etag_listed(req, "If-None-Match", etag, true) ? 304 : 0;
    auto t = date_field(req, "If-Modified-Since");
    return t && mtime <= *t ? 304 : 0;
}

/// The range to send, or nullopt for the whole file: If-Range must name the
/// current validator for Range to count.
std::optional<ByteRange> wanted_range(const Request& req, std::uint64_t size, std::string_view etag,
                                      std::string_view last_modified) {
    if (req.method() != "GET") return std::nullopt;
    auto range = req.header("Range");
    if (!range) return std::nullopt;
    if (auto ir = req.header("If-Range"); ir && *ir != etag && *ir != last_modified) {
        return std::nullopt;
    }
    return parse_range(*range, size);
}

void add_content_range(Response& r, const ByteRange& br, std::uint64_t size) {
    std::string v = "bytes ";
    if (br.satisfiable) {
        v += std::to_string(br.first) + "-" + std::to_string(br.first + br.length - 1);
    } else {
        v += "*";
    }
    v += "/" + std::to_string(size);
    r.set("Content-Range", v);
}

/// The answer from a cached entry: 200, 304, 206 or 416. (A gzip variant is
/// only asked for without Range: always 200 or 304.)
Response from_entry(const Request& req, const std::shared_ptr<Entry>& e) {
    if (int st = precondition(req, e->etag, e->id.mtime); st == 304) {
        return Response::shared(304, e->not_modified);
    } else if (st == 412) {
        return Response::error(412);
    }
    const std::uint64_t size = e->full->body.size();
    if (auto br = wanted_range(req, size, e->etag, e->last_modified)) {
        if (!br->satisfiable) {
            Response r = Response::error(416);
            add_content_range(r, *br, size);
            return r;
        }
        Response r =
            Response::shared(206, e->full, std::size_t(br->first), std::size_t(br->length));
        add_content_range(r, *br, size);
        return r;
    }
    return Response::shared(200, e->full);
}

/// 301 to `location` (a directory's path with its slash), the query kept.
Response moved_to_dir(const Request& req, std::string location) {
    if (!req.query().empty()) {
        location += '?';
        location += req.query();
    }
    Response resp = Response::error(301);
    resp.set("Location", location);
    return resp;
}

/// The answer for a regular file `r` (cache key `name`), sent as `mime`: from the
/// cache (read into it when small enough), or from the file. 200, 304, 412, or
/// for the plain form 206 and 416 too.
Task<Response> answer(StaticCore* core, Cache& cache, const Request& req, std::string name,
                      Resolved r, std::string_view mime, Variant v) {
    Loop& loop = Loop::current();
    const std::uint64_t size = std::uint64_t(r.id.size);
    if (core->opts.cache_valid.count() > 0 && size <= core->opts.cache_max_file) {
        std::shared_ptr<Entry> e;
        // The cache may have changed while we waited: look again.
        if (auto again = cache.map.find(name);
            again != cache.map.end() && !absent(*again->second) && again->second->id == r.id) {
            e = again->second;
        } else {
            e = make_entry(r.id, mime, v);
            const bool ok = co_await read_file(r.file.get(), size, &e->full->body);
            if (!ok) co_return Response::error(500);
            cache.insert(name, e, core->opts.cache_bytes);
        }
        e->checked = loop.now();
        co_return from_entry(req, e);
    }
    // Too large for the cache: straight from the file.
    const std::string last_modified = format_http_date(r.id.mtime);
    const std::string etag = etag_of(r.id, v.gzip);
    if (int st = precondition(req, etag, r.id.mtime); st == 304) {
        Response resp(304);
        resp.set("Last-Modified", last_modified).set("ETag", etag);
        if (v.vary) resp.set("Vary", "Accept-Encoding");
        co_return resp;
    } else if (st == 412) {
        co_return Response::error(412);
    }
    FileBody body{std::move(r.file), 0, size};
    int status = 200;
    std::optional<ByteRange> br;
    if (!v.gzip) br = wanted_range(req, size, etag, last_modified);
    if (br && !br->satisfiable) {
        Response resp = Response::error(416);
        add_content_range(resp, *br, size);
        co_return resp;
    }
    if (br) {
        status = 206;
        body.offset = br->first;
        body.length = br->length;
    }
    Response resp = Response::file(status, std::move(body));
    resp.set("Content-Type", mime).set("Last-Modified", last_modified).set("ETag", etag);
    resp.set(v.gzip ? "Content-Encoding" : "Accept-Ranges", v.gzip ? "gzip" : "bytes");
    if (v.vary) resp.set("Vary", "Accept-Encoding");
    if (br) add_content_range(resp, *br, size);
    co_return resp;
}

}  // namespace

void close_file(int fd) noexcept {
    if (fd < corio::detail::sim_fd_base) {
        ::close(fd);
    } else if (corio::detail::SimIo* sim = corio::detail::current_sim()) {
        // A simulated descriptor: never a real close(2) on that number. With
        // no simulated host current its world is gone, and the file with it.
        (void)sim->close(fd);
    }
}

}  // namespace detail

Result<StaticFiles> StaticFiles::open(const std::string& root, StaticOptions opts) {
    int fd = -1;
    if (corio::detail::SimIo* sim = corio::detail::current_sim()) {
        // A simulated host serves from its simulated disk.
        fd = sim->openat(AT_FDCWD, root.c_str(), O_RDONLY | O_DIRECTORY, 0);
        if (fd < 0) return sys_error(-fd);
    } else {
        fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) return sys_error(errno);
    }
    auto core = std::make_shared<detail::StaticCore>();
    core->opts = std::move(opts);
    core->root.reset(fd);
    return StaticFiles(std::move(core));
}

Task<Response> StaticFiles::operator()(Request& req) const {
    using namespace detail;
    StaticCore* core = core_.get();
    if (req.method() != "GET" && req.method() != "HEAD") {
        Response r = Response::error(405);
        r.set("Allow", "GET, HEAD");
        co_return r;
    }
    if (req.subpath() == "/" && !req.path().ends_with('/')) {
        // The mount point itself ("/static", whose subpath is "/" as for
        // "/static/"): its index's relative links need the slash.
        co_return moved_to_dir(req, std::string(req.path()) + "/");
    }
    Loop& loop = Loop::current();
    Cache& cache = core->cache_for(loop);
    std::string& key = cache.key;
    if (int bad = path_to_key(req.subpath(), key); bad != 0) co_return Response::error(bad);
    const bool caching = core->opts.cache_valid.count() > 0;
    const bool vary = core->opts.precompressed;
    // The .gz beside the file, to a client that takes gzip (not for ranges or an index).
    bool gzip = vary && key.back() != '/' && !req.header("Range") && accepts_gzip(req.headers());
    if (gzip && caching) {
        key += gz_suffix;
        auto it = cache.map.find(key);
        key.resize(key.size() - gz_suffix.size());
        if (it != cache.map.end() && loop.now() - it->second->checked < core->opts.cache_valid) {
            if (!absent(*it->second)) co_return from_entry(req, it->second);
            gzip = false;  // known to have none
        }
    }
    if (!gzip && caching) {
        auto it = cache.map.find(key);
        if (it != cache.map.end() && !absent(*it->second) &&
            loop.now() - it->second->checked < core->opts.cache_valid) {
            co_return from_entry(req, it->second);  // the hot path
        }
    }
    const std::string name = key;  // `key` is shared scratch: other requests run while we wait
    Resolved r = co_await resolve(core, name);
    if (r.status < 0) co_return Response::error(503);
    if (r.status == 301) {
        // The prefix the router matched, as sent, then the path as we understood it.
        std::string_view full = req.path();
        std::string_view prefix = full.substr(0, full.size() - req.subpath().size());
        co_return moved_to_dir(req, std::string(prefix) + encode_path(name) + "/");
    }
    if (r.status != 200) co_return Response::error(r.status);
    if (gzip) {  // the file is there: is its .gz?
        Resolved gz = co_await resolve(core, name + ".gz");
        if (gz.status < 0) co_return Response::error(503);
        if (gz.status == 200) {
            co_return co_await answer(core, cache, req, name + std::string(gz_suffix),
                                      std::move(gz), r.mime, Variant{true, true});
        }
        if (caching) {  // none: remembered for cache_valid
            auto none = std::make_shared<Entry>();
            none->checked = loop.now();
            cache.insert(name + std::string(gz_suffix), std::move(none), core->opts.cache_bytes);
        }
    }
    const std::string_view mime = r.mime;
    co_return co_await answer(core, cache, req, name, std::move(r), mime, Variant{false, vary});
}

}  // namespace corio::http
