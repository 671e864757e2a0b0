// The static file server: connections, requests, the small-file cache and
// file transfers. See server.hpp for the shape, main.cpp for the flags.
//
// One coroutine per connection reads into a fixed buffer, feeds the strict
// request parser, and answers every complete request in the buffer before it
// sends: pipelined requests get their responses in order, in one send. A
// cached file costs no system call but that send; a file too large for the
// cache goes out without passing through user space (io_uring: splice
// through a pipe; epoll: sendfile).
//
// Timeouts cost nothing on the hot path: each connection writes its current
// deadline into its record, and a per-loop reaper walks the records a few
// times a second and stops the connections whose deadline passed (their
// pending receive or send is cancelled).
#include "server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <coroutine>
#include <ctime>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <corio/fs/ops.hpp>
#include <corio/net/address.hpp>
#include <corio/net/http.hpp>
#include <corio/runtime/log.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/ops.hpp>
#include <corio/runtime/task_group.hpp>
#include <corio/runtime/timer.hpp>

#include "ops.hpp"

namespace corio::examples::http {
namespace {

namespace h = corio::net::http;

constexpr std::size_t in_buf_size = 8 * 1024;  // per connection; the parser keeps partial lines
constexpr std::size_t inline_body_max = 16 * 1024;  // bodies up to this are copied after their head
constexpr std::size_t read_body_max =
    64 * 1024;                               // uncached files up to this are read, not streamed
constexpr std::size_t flush_at = 64 * 1024;  // pending output sent before parsing further
constexpr int pipe_size = 256 * 1024;        // splice chunk on io_uring
constexpr std::uint64_t sendfile_chunk = 1u << 20;  // epoll: progress is checked per chunk

// ---- files -----------------------------------------------------------------

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

/// "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 IMF-fixdate; the C locale's names).
std::size_t format_http_date(std::time_t t, char* out, std::size_t cap) noexcept {
    struct tm tm;
    ::gmtime_r(&t, &tm);
    return std::strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

std::string http_date(std::time_t t) {
    char b[64];
    return std::string(b, format_http_date(t, b, sizeof b));
}

/// Owns a descriptor of a regular file or a directory (never registered with
/// epoll, so a plain close).
class FileFd {
public:
    FileFd() noexcept = default;
    FileFd(FileFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    FileFd& operator=(FileFd&& o) noexcept {
        reset(std::exchange(o.fd_, -1));
        return *this;
    }
    ~FileFd() { reset(); }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }
    int get() const noexcept { return fd_; }

private:
    int fd_ = -1;
};

/// A pipe for splicing, made on a connection's first large file.
struct Pipe {
    int r = -1;
    int w = -1;
    unsigned cap = 0;
    Pipe() = default;
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    ~Pipe() { discard(); }
    bool open() noexcept {
        if (r >= 0) return true;
        int p[2];
        if (::pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) return false;
        r = p[0];
        w = p[1];
        (void)::fcntl(w, F_SETPIPE_SZ, pipe_size);
        int got = ::fcntl(w, F_GETPIPE_SZ);
        cap = got > 0 ? unsigned(got) : 65536u;
        return true;
    }
    /// Closes the pipe (it may hold bytes of an aborted transfer).
    void discard() noexcept {
        if (r >= 0) ::close(r);
        if (w >= 0) ::close(w);
        r = w = -1;
    }
};

/// A small file held in memory, with the header lines that describe it.
struct CacheEntry {
    FileId id{};
    std::string fixed;          // Content-Type, Content-Length and Last-Modified lines
    std::string last_modified;  // If-Modified-Since is compared with it
    std::string body;
    TimePoint checked{};
};

// ---- per-loop state ------------------------------------------------------

struct Conn;

struct LoopServer {
    explicit LoopServer(Shared* s) : sh(s), cfg(s->cfg), loop(&Loop::current()) {}
    LoopServer(const LoopServer&) = delete;
    LoopServer& operator=(const LoopServer&) = delete;

    Shared* sh;
    const Config& cfg;
    Loop* loop;
    Conn* conns = nullptr;  // every open connection of this loop
    bool draining = false;  // shutting down: no keep-alive, no new requests
    std::unordered_map<std::string, std::shared_ptr<CacheEntry>> cache;
    std::size_t cache_total = 0;
    std::time_t date_sec = -1;
    std::size_t date_len = 0;
    char date[64] = {};

    std::string_view date_now() noexcept {
        std::time_t t = ::time(nullptr);
        if (t != date_sec) {
            date_sec = t;
            date_len = format_http_date(t, date, sizeof date);
        }
        return {date, date_len};
    }
    void close_idle() noexcept;
    void insert(const std::string& key, std::shared_ptr<CacheEntry> e) {
        if (cache_total + e->body.size() > cfg.cache_bytes) {
            cache.clear();  // crude but bounded; responses in flight hold their entry
            cache_total = 0;
        }
        auto [it, fresh] = cache.try_emplace(key, e);
        if (!fresh) {
            cache_total -= it->second->body.size();
            it->second = e;
        }
        cache_total += e->body.size();
    }
};

/// What the reaper and the shutdown know of a connection.
struct Conn {
    enum class Phase : std::uint8_t { idle, request, sending };
    Conn(LoopServer* s, StopToken parent) : srv(s), stop(parent) {
        next = srv->conns;
        if (next != nullptr) next->prev = this;
        srv->conns = this;
    }
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;
    ~Conn() {
        if (prev != nullptr) {
            prev->next = next;
        } else {
            srv->conns = next;
        }
        if (next != nullptr) next->prev = prev;
        srv->sh->conns.fetch_sub(1, std::memory_order_relaxed);
    }

    LoopServer* srv;
    Conn* prev = nullptr;
    Conn* next = nullptr;
    LinkedStopSource stop;  // stopping it cancels what the connection waits for
    TimePoint deadline = TimePoint::max();
    Phase phase = Phase::idle;
    bool timed_out = false;
};

void LoopServer::close_idle() noexcept {
    for (Conn* c = conns; c != nullptr;) {
        Conn* next = c->next;  // stopping only schedules: the list stays as it is
        if (c->phase == Conn::Phase::idle) c->stop.request_stop();
        c = next;
    }
}

Task<void> reaper(LoopServer* srv, Duration tick) {
    for (;;) {
        const bool slept = co_await sleep_for(tick);
        if (!slept) co_return;
        const TimePoint now = srv->loop->now();
        for (Conn* c = srv->conns; c != nullptr;) {
            Conn* next = c->next;
            if (c->deadline <= now) {
                c->deadline = TimePoint::max();
                c->timed_out = true;
                c->stop.request_stop();
            }
            c = next;
        }
    }
}

// ---- requests --------------------------------------------------------------

bool known_method(std::string_view m) noexcept {
    for (std::string_view k : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"}) {
        if (m == k) return true;
    }
    return false;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && h::iequals(s.substr(0, prefix.size()), prefix);
}

/// The path part of a request-target (origin or absolute form) and its query.
/// Empty path: not a form we serve.
void split_target(std::string_view target, std::string_view& path, std::string_view& query) {
    for (std::string_view scheme : {"http://", "https://"}) {
        if (starts_with_nocase(target, scheme)) {
            std::size_t slash = target.find('/', scheme.size());
            std::size_t q = target.find('?', scheme.size());
            if (slash == std::string_view::npos || (q != std::string_view::npos && q < slash)) {
                path = "/";
                query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
                return;
            }
            target = target.substr(slash);
            break;
        }
    }
    std::size_t q = target.find('?');
    path = target.substr(0, q);
    query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

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
            decoded = h::percent_decode(seg);
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
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char ch : key) {
        bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') ||
                    std::string_view("-._~/!$&'()*+,;=:@").find(char(ch)) != std::string_view::npos;
        if (keep) {
            out.push_back(char(ch));
        } else {
            out.push_back('%');
            out.push_back(hex[ch >> 4]);
            out.push_back(hex[ch & 15]);
        }
    }
    return out;
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

// ---- responses -------------------------------------------------------------

/// Output waiting to be sent: heads and small bodies in `buf`, larger cached
/// bodies referenced (and kept alive) rather than copied.
struct Output {
    struct Seg {
        std::size_t off;
        std::size_t len;
        const std::string* ext;  // null: bytes of buf
    };
    std::string buf;
    std::vector<Seg> segs;
    std::size_t seg_start = 0;  // bytes of buf not yet described by segs
    std::vector<std::shared_ptr<CacheEntry>> holds;
    std::vector<std::span<const std::byte>> spans;

    bool empty() const noexcept { return buf.empty() && segs.empty(); }
    std::size_t pending() const noexcept {
        std::size_t n = buf.size();
        for (const Seg& s : segs) {
            if (s.ext != nullptr) n += s.len;
        }
        return n;
    }
    void add_external(std::shared_ptr<CacheEntry> e) {
        segs.push_back({seg_start, buf.size() - seg_start, nullptr});
        seg_start = buf.size();
        segs.push_back({0, e->body.size(), &e->body});
        holds.push_back(std::move(e));
    }
    std::span<const std::span<const std::byte>> gather() {
        spans.clear();
        for (const Seg& s : segs) {
            const char* p = s.ext != nullptr ? s.ext->data() : buf.data() + s.off;
            if (s.len > 0) spans.push_back(std::as_bytes(std::span(p, s.len)));
        }
        if (seg_start < buf.size()) {
            spans.push_back(
                std::as_bytes(std::span(buf.data() + seg_start, buf.size() - seg_start)));
        }
        return spans;
    }
    void clear() noexcept {
        buf.clear();
        segs.clear();
        seg_start = 0;
        holds.clear();
    }
};

void append_number(std::string& out, std::uint64_t v) {
    char b[24];
    auto r = std::to_chars(b, b + sizeof b, v);
    out.append(b, r.ptr);
}

void append_status(std::string& out, LoopServer* srv, int status) {
    out += "HTTP/1.1 ";
    append_number(out, unsigned(status));
    out += ' ';
    out += h::status_reason(status);
    out += "\r\nServer: corio\r\nDate: ";
    out += srv->date_now();
    out += "\r\n";
}

/// The Connection line (if any) and the blank line ending the head.
void end_head(std::string& out, bool keep_alive, h::Version v) {
    if (!keep_alive) {
        out += "Connection: close\r\n\r\n";
    } else if (v == h::Version::http_1_0) {
        out += "Connection: keep-alive\r\n\r\n";
    } else {
        out += "\r\n";
    }
}

void append_error(Output& o, LoopServer* srv, int status, bool head, bool keep_alive, h::Version v,
                  std::string_view extra = {}) {
    std::string& out = o.buf;
    append_status(out, srv, status);
    std::string_view reason = h::status_reason(status);
    const std::size_t body_len = 3 + 1 + reason.size() + 1;  // "404 Not Found\n"
    out += "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ";
    append_number(out, body_len);
    out += "\r\n";
    out += extra;
    end_head(out, keep_alive, v);
    if (head) return;
    append_number(out, unsigned(status));
    out += ' ';
    out += reason;
    out += '\n';
}

void append_redirect(Output& o, LoopServer* srv, const std::string& key, std::string_view query,
                     bool head, bool keep_alive, h::Version v) {
    std::string loc = "Location: " + encode_path(key) + "/";
    if (!query.empty()) {
        loc += '?';
        loc += query;
    }
    loc += "\r\n";
    append_error(o, srv, 301, head, keep_alive, v, loc);
}

void append_entry(Output& o, LoopServer* srv, const std::shared_ptr<CacheEntry>& e,
                  const h::Request& req, bool head, bool keep_alive) {
    std::string& out = o.buf;
    if (auto ims = req.headers.get("If-Modified-Since"); ims && *ims == e->last_modified) {
        append_status(out, srv, 304);
        out += "Last-Modified: ";
        out += e->last_modified;
        out += "\r\n";
        end_head(out, keep_alive, req.version);
        return;
    }
    append_status(out, srv, 200);
    out += e->fixed;
    end_head(out, keep_alive, req.version);
    if (head) return;
    if (e->body.size() <= inline_body_max) {
        out += e->body;
    } else {
        o.add_external(e);
    }
}

std::string fixed_headers(std::string_view mime, std::uint64_t length,
                          const std::string& last_modified) {
    std::string s = "Content-Type: ";
    s += mime;
    s += "\r\nContent-Length: ";
    append_number(s, length);
    s += "\r\nLast-Modified: ";
    s += last_modified;
    s += "\r\n";
    return s;
}

// ---- resolving and reading files ---------------------------------------------

struct Resolved {
    int status = 0;  // 200, 301, an error status; -1: the connection was stopped
    FileFd file;
    FileId id{};
    std::string_view mime;
};

/// Opens what `key` names under the root (never outside it) and says how to
/// answer: a regular file (200), a directory without its slash (301), or an
/// error status.
Task<Resolved> resolve(LoopServer* srv, std::string key) {
    Resolved r;
    std::string rel = key.size() == 1 ? std::string(".") : key.substr(1);
    auto fd = co_await run(OpenBeneath(srv->sh->root_fd, std::move(rel), O_RDONLY | O_NONBLOCK));
    if (!fd) {
        r.status =
            fd.error() == std::errc::operation_canceled ? -1 : status_for_open_error(fd.error());
        co_return r;
    }
    r.file.reset(*fd);
    struct stat st;
    if (::fstat(r.file.get(), &st) != 0) {
        r.status = 500;
        co_return r;
    }
    std::string_view name = key;
    if (S_ISDIR(st.st_mode)) {
        if (key.back() != '/') {
            r.status = 301;
            co_return r;
        }
        auto idx = co_await run(OpenBeneath(r.file.get(), "index.html", O_RDONLY | O_NONBLOCK));
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
        if (::fstat(r.file.get(), &st) != 0) {
            r.status = 500;
            co_return r;
        }
        name = "index.html";
    }
    if (!S_ISREG(st.st_mode)) {
        r.status = 403;
        co_return r;
    }
    r.status = 200;
    r.id = id_of(st);
    r.mime = h::mime_type_for(name);
    co_return r;
}

/// Reads up to `size` bytes of `fd` into `out` (page cache first). Gives
/// false on a read error.
Task<bool> read_body(int fd, std::uint64_t size, std::string* out) {
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

/// Sends `size` bytes of `file` on `s` without copying them through user
/// space where the backend allows, else through a bounded buffer. Refreshes
/// the connection's send deadline as it goes. False: the connection must
/// close (peer gone, timed out, file shrank).
Task<bool> stream_file(Conn* c, net::TcpStream* s, int file, std::uint64_t size, Pipe* pipe) {
    Loop& loop = *c->srv->loop;
    const Duration send_timeout = c->srv->cfg.send_timeout;
    std::uint64_t off = 0;
    if (loop.kind() == BackendKind::epoll) {
        while (off < size) {
            std::uint64_t n = std::min(sendfile_chunk, size - off);
            c->deadline = loop.now() + send_timeout;
            auto r = co_await run(SendFile{s->fd(), file, off_t(off), n});
            if (!r) {
                if (off == 0 && (r.error() == std::errc::invalid_argument ||
                                 r.error() == std::errc::function_not_supported)) {
                    break;  // this file system cannot: the buffered path below
                }
                co_return false;
            }
            off += n;
        }
    } else if (pipe->open()) {
        // io_uring: file -> pipe with IORING_OP_SPLICE (a disk read happens in
        // the kernel's worker), pipe -> socket with a non-blocking splice
        // here and a POLLOUT wait when the socket is full (an io_uring splice
        // into a full socket only comes back with EAGAIN).
        while (off < size) {
            const unsigned len = unsigned(std::min<std::uint64_t>(size - off, pipe->cap));
            c->deadline = loop.now() + send_timeout;
            auto n = co_await run(SpliceToPipe{file, std::int64_t(off), pipe->w, len});
            if (!n || *n == 0) {
                if (off == 0 && !n && n.error() == std::errc::invalid_argument) break;
                pipe->discard();
                co_return false;
            }
            std::size_t in_pipe = *n;
            const bool more = off + *n < size;
            while (in_pipe > 0) {
                ssize_t m =
                    ::splice(pipe->r, nullptr, s->fd(), nullptr, in_pipe,
                             SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (more ? SPLICE_F_MORE : 0));
                if (m > 0) {
                    in_pipe -= std::size_t(m);
                    c->deadline = loop.now() + send_timeout;
                    continue;
                }
                if (m < 0 && errno == EAGAIN) {
                    auto p = co_await corio::poll(s->fd(), POLLOUT);
                    if (p) continue;
                }
                pipe->discard();
                co_return false;
            }
            off += *n;
        }
    }
    if (off == size) co_return true;
    // Bounded buffer: 64 KiB at a time.
    constexpr std::size_t chunk = 64 * 1024;
    std::unique_ptr<std::byte[]> buf(new std::byte[chunk]);
    static const std::string subject = "(served file)";
    while (off < size) {
        std::size_t want = std::size_t(std::min<std::uint64_t>(chunk, size - off));
        auto n = co_await run(fs::ReadAt{file, std::span(buf.get(), want), off, &subject});
        if (!n || *n == 0) co_return false;
        c->deadline = loop.now() + send_timeout;
        auto w = co_await s->send_all(std::span<const std::byte>(buf.get(), *n));
        if (!w) co_return false;
        off += *n;
    }
    co_return true;
}

// ---- connections -----------------------------------------------------------

/// Best effort, never waits: a timed-out or refused client may not read.
void try_send(int fd, std::string_view text) noexcept {
    (void)::send(fd, text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

// Sends everything `out` holds and empties it, under the send timeout (the
// reaper watches c.deadline in the sending phase); false when the connection
// is gone.
Task<bool> flush(Conn& c, net::TcpStream& s, Output& out) {
    c.phase = Conn::Phase::sending;
    c.deadline = c.srv->loop->now() + c.srv->cfg.send_timeout;
    bool sent;
    if (out.segs.empty()) {
        sent = (co_await s.send_all(std::as_bytes(std::span(out.buf)))).has_value();
    } else {
        sent = (co_await s.send_all(out.gather())).has_value();
    }
    if (sent) out.clear();
    co_return sent;
}

Task<void> serve_conn(LoopServer* srv, net::TcpStream s) {
    StopToken parent = co_await this_task::stop_token();
    Conn c(srv, parent);
    // Everything this connection awaits from here on is cancelled by c.stop
    // (the reaper's timeouts, the shutdown) as well as by the group's stop.
    co_await corio::detail::SetStopToken{c.stop.token()};

    const Config& cfg = srv->cfg;
    Loop& loop = *srv->loop;
    h::RequestParser::Limits limits;
    limits.max_request_line = cfg.max_request_line;
    limits.max_header_bytes = cfg.max_header_bytes;
    limits.max_body = cfg.max_body;
    h::RequestParser parser(limits);
    std::unique_ptr<char[]> in(new char[in_buf_size]);
    std::size_t begin = 0;
    std::size_t end = 0;
    Output out;
    std::string key;
    std::string scratch;
    Pipe pipe;
    TimePoint request_deadline{};
    bool in_request = false;   // bytes of a request not yet answered were read
    bool close_after = false;  // close once the output is sent
    bool linger = false;       // unread input may remain: close gently

    for (;;) {
        while (begin < end && !close_after) {
            if (!in_request) {
                in_request = true;
                c.phase = Conn::Phase::request;
                request_deadline = loop.now() + cfg.header_timeout;
                c.deadline = request_deadline;
            }
            begin += parser.feed(std::string_view(in.get() + begin, end - begin));
            const h::ParseState st = parser.state();
            if (st == h::ParseState::need_more) break;
            if (st == h::ParseState::error) {
                append_error(out, srv, parser.error_status(), false, false, h::Version::http_1_1);
                close_after = true;
                linger = true;
                break;
            }

            const h::Request& req = parser.request();
            const bool head = req.method == "HEAD";
            const bool keep_alive = req.keep_alive() && !srv->draining;
            std::string_view path, query;
            split_target(req.target, path, query);
            if (!head && req.method != "GET") {
                if (known_method(req.method)) {
                    append_error(out, srv, 405, false, keep_alive, req.version,
                                 "Allow: GET, HEAD\r\n");
                } else {
                    append_error(out, srv, 501, false, keep_alive, req.version);
                }
            } else if (int bad = path_to_key(path, key); bad != 0) {
                append_error(out, srv, bad, head, keep_alive, req.version);
            } else {
                auto it = srv->cache.find(key);
                if (it != srv->cache.end() && loop.now() - it->second->checked < cfg.cache_valid) {
                    append_entry(out, srv, it->second, req, head, keep_alive);  // the hot path
                } else {
                    Resolved r = co_await resolve(srv, key);
                    if (r.status < 0) co_return;
                    if (r.status == 301) {
                        append_redirect(out, srv, key, query, head, keep_alive, req.version);
                    } else if (r.status != 200) {
                        append_error(out, srv, r.status, head, keep_alive, req.version);
                    } else if (cfg.cache_valid.count() > 0 &&
                               std::uint64_t(r.id.size) <= cfg.cache_max_file) {
                        // The cache may have changed while we waited: look again.
                        std::shared_ptr<CacheEntry> e;
                        if (auto again = srv->cache.find(key);
                            again != srv->cache.end() && again->second->id == r.id) {
                            e = again->second;
                        } else {
                            e = std::make_shared<CacheEntry>();
                            const bool ok = co_await read_body(r.file.get(),
                                                               std::uint64_t(r.id.size), &e->body);
                            if (!ok) {
                                append_error(out, srv, 500, head, false, req.version);
                                close_after = true;
                                break;
                            }
                            e->id = r.id;
                            e->last_modified = http_date(r.id.mtime);
                            e->fixed = fixed_headers(r.mime, e->body.size(), e->last_modified);
                            srv->insert(key, e);
                        }
                        e->checked = loop.now();
                        append_entry(out, srv, e, req, head, keep_alive);
                    } else if (std::uint64_t(r.id.size) <= read_body_max) {
                        const bool ok =
                            co_await read_body(r.file.get(), std::uint64_t(r.id.size), &scratch);
                        if (!ok) {
                            append_error(out, srv, 500, head, false, req.version);
                            close_after = true;
                            break;
                        }
                        append_status(out.buf, srv, 200);
                        out.buf += fixed_headers(r.mime, scratch.size(), http_date(r.id.mtime));
                        end_head(out.buf, keep_alive, req.version);
                        if (!head) out.buf += scratch;
                    } else {
                        append_status(out.buf, srv, 200);
                        out.buf +=
                            fixed_headers(r.mime, std::uint64_t(r.id.size), http_date(r.id.mtime));
                        end_head(out.buf, keep_alive, req.version);
                        if (!head) {
                            c.phase = Conn::Phase::sending;
                            c.deadline = loop.now() + cfg.send_timeout;
                            auto w = co_await s.send_all(std::as_bytes(std::span(out.buf)));
                            if (!w) co_return;
                            out.clear();
                            const bool ok = co_await stream_file(&c, &s, r.file.get(),
                                                                 std::uint64_t(r.id.size), &pipe);
                            if (!ok) co_return;
                        }
                    }
                }
            }
            parser.reset();
            in_request = false;
            c.phase = Conn::Phase::idle;
            if (!keep_alive) {
                close_after = true;
                linger = begin < end;
                break;
            }
            if (out.pending() >= flush_at) {
                bool sent = co_await flush(c, s, out);
                if (!sent) co_return;
                c.phase = Conn::Phase::idle;
            }
        }

        if (!out.empty()) {
            bool sent = co_await flush(c, s, out);
            if (!sent) co_return;
        }
        if (close_after) {
            if (linger) {
                // Closing with unread input makes the kernel send RST, which
                // can destroy the response before the client reads it: send
                // FIN, then read and drop what comes for a moment.
                (void)s.shutdown(SHUT_WR);
                c.phase = Conn::Phase::sending;
                c.deadline =
                    loop.now() + std::min<Duration>(cfg.header_timeout, std::chrono::seconds(1));
                for (std::size_t dropped = 0; dropped < 256 * 1024;) {
                    auto n =
                        co_await s.recv(std::as_writable_bytes(std::span(in.get(), in_buf_size)));
                    if (!n || *n == 0) break;
                    dropped += *n;
                }
            }
            co_return;
        }
        begin = end = 0;
        if (in_request) {
            c.phase = Conn::Phase::request;
            c.deadline = request_deadline;
        } else {
            if (srv->draining) co_return;
            c.phase = Conn::Phase::idle;
            c.deadline = loop.now() + cfg.idle_timeout;
        }
        auto n = co_await s.recv(std::as_writable_bytes(std::span(in.get(), in_buf_size)));
        if (!n) {
            if (c.timed_out && in_request) {
                try_send(s.fd(),
                         "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                         "Content-Length: 0\r\n\r\n");
            }
            co_return;
        }
        if (*n == 0) co_return;
        end = *n;
    }
}

Task<void> accept_loop(LoopServer* srv, net::TcpListener* l, TaskGroup* conns) {
    for (;;) {
        auto s = co_await l->accept();
        if (!s) {
            if (s.error() == std::errc::operation_canceled) co_return;
            log_warn("http_server: accept: {}", s.error().message());
            const bool slept = co_await sleep_for(std::chrono::milliseconds(10));
            if (!slept) co_return;
            continue;
        }
        if (srv->sh->conns.fetch_add(1, std::memory_order_relaxed) >= srv->cfg.max_conns) {
            srv->sh->conns.fetch_sub(1, std::memory_order_relaxed);
            try_send(s->fd(),
                     "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
                     "Content-Length: 0\r\n\r\n");
            continue;  // closes it
        }
        (void)s->set_nodelay();
        conns->spawn(serve_conn(srv, std::move(*s)));
    }
}

/// Resumes when `stop` (or the awaiting task's own token) is stopped.
class StopWait {
public:
    explicit StopWait(StopToken t) noexcept : token_(t) {}
    StopWait(const StopWait&) = delete;
    StopWait& operator=(const StopWait&) = delete;
    ~StopWait() {
        a_.unlink();
        b_.unlink();
    }
    bool await_ready() const noexcept { return token_.stop_requested(); }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        h_ = h;
        loop_ = &Loop::current();
        StopToken own = corio::detail::stop_token_of(h);
        if (own.stop_requested()) return false;
        a_.self = b_.self = this;
        a_.fn = b_.fn = [](StopCallbackBase* n) noexcept {
            StopWait* w = static_cast<Node*>(n)->self;
            if (w->woken_) return;
            w->woken_ = true;
            w->loop_->schedule(w->h_);
        };
        token_.add(a_);
        own.add(b_);
        return true;
    }
    void await_resume() noexcept {
        a_.unlink();
        b_.unlink();
    }

private:
    struct Node : StopCallbackBase {
        StopWait* self = nullptr;
    };
    StopToken token_;
    std::coroutine_handle<> h_{};
    Loop* loop_ = nullptr;
    Node a_;
    Node b_;
    bool woken_ = false;
};

}  // namespace

Task<void> serve(Shared* shared, net::TcpListener listener, StopToken stop) {
    LoopServer srv(shared);
    const Config& cfg = shared->cfg;
    Duration shortest = std::min(
        {Duration(cfg.idle_timeout), Duration(cfg.header_timeout), Duration(cfg.send_timeout)});
    Duration tick = std::clamp<Duration>(shortest / 8, std::chrono::milliseconds(5),
                                         std::chrono::milliseconds(500));
    TaskGroup conns;
    TaskGroup background;
    background.spawn(accept_loop(&srv, &listener, &conns));
    background.spawn(reaper(&srv, tick));
    co_await StopWait(stop);
    background.cancel();  // stop accepting
    co_await background.wait();
    listener.close();
    srv.draining = true;
    srv.close_idle();
    (void)co_await with_timeout(conns.wait(), cfg.grace);
}

}  // namespace corio::examples::http
