#pragma once
// What a server handler sees and gives back: Request (the parsed head, the
// router's captures, the body as a stream) and Response (a status, header
// fields, and a body that is a buffer, a shared pre-formatted buffer, a file
// or a stream written in chunks).
//
//   Task<http::Response> hello(http::Request& req) {
//       co_return http::Response::text(200, "hello " + std::string(req.param("name")) + "\n");
//   }

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <corio/http/codec.hpp>
#include <corio/http/stream.hpp>
#include <corio/net/address.hpp>
#include <corio/runtime/cancel.hpp>
#include <corio/runtime/result.hpp>
#include <corio/runtime/task.hpp>

namespace corio::http {

namespace detail {
class Connection;
/// Closes a descriptor FileFd owns: close(2), or on a simulated host the
/// simulated kernel's close (see runtime/sim_io.hpp).
void close_file(int fd) noexcept;
}  // namespace detail

/// Owns a descriptor of a regular file (or directory): closed when destroyed.
/// Never registered with a backend, so a plain close(2). Move-only.
class FileFd {
public:
    /// No descriptor.
    FileFd() noexcept = default;
    /// Owns `fd`.
    explicit FileFd(int fd) noexcept : fd_(fd) {}
    /// Takes over `o`'s descriptor; `o` holds none.
    FileFd(FileFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    /// Closes the descriptor held (if any) and takes over `o`'s.
    FileFd& operator=(FileFd&& o) noexcept {
        reset(std::exchange(o.fd_, -1));
        return *this;
    }
    /// Closes the descriptor.
    ~FileFd() { reset(); }
    /// Closes the current descriptor (if any) and owns `fd`.
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) detail::close_file(fd_);
        fd_ = fd;
    }
    /// The descriptor, or -1.
    int get() const noexcept { return fd_; }
    /// True while it owns a descriptor.
    explicit operator bool() const noexcept { return fd_ >= 0; }

private:
    int fd_ = -1;
};

/// Router captures: the `{name}` segments of the matched pattern, as views
/// into the request's path (still percent-encoded; see percent_decode()).
struct Param {
    std::string_view name;   ///< the name between the braces
    std::string_view value;  ///< the segment it matched
};

/// A request as a handler sees it. The head (method, target, headers) is
/// complete; the body is read on demand with read_body() or read_body_all(),
/// so a handler may refuse a large upload without receiving it (with
/// `Expect: 100-continue` the server sends "100 Continue" only when the
/// handler starts reading). Valid until the handler's Task completes; views
/// it gives are valid as long.
class Request {
public:
    /// No request behind it (the server binds one; accessors need one).
    Request() = default;
    /// A request over `msg` with no connection behind it (its body is
    /// msg.body): for tests and for calling handlers directly.
    explicit Request(const ParsedRequest& msg) { bind(&msg, nullptr); }

    /// The method as sent ("GET", "POST", ...).
    std::string_view method() const noexcept { return msg_->method; }
    /// The request-target as sent (origin form "/a?b", or absolute form).
    std::string_view target() const noexcept { return msg_->target; }
    /// The path of the target, as sent (escapes kept): "/a" for "/a?b" and
    /// for "http://host/a?b"; "" for the asterisk and authority forms.
    std::string_view path() const noexcept { return path_; }
    /// The query without its '?', "" when there is none.
    std::string_view query() const noexcept { return query_; }
    /// HTTP/1.0 or HTTP/1.1.
    Version version() const noexcept { return msg_->version; }
    /// All header fields.
    const Headers& headers() const noexcept { return msg_->headers; }
    /// The first field named `name` (any case).
    std::optional<std::string_view> header(std::string_view name) const noexcept {
        return msg_->headers.get(name);
    }
    /// The client's address: the connection's TCP peer (under TLS too), or
    /// what the socket says for other sockets (a Unix socket's peer is
    /// usually unnamed, "unix:"); nullopt for a stream without a socket and
    /// a Request with no connection. Asked of the kernel (getpeername) once
    /// per connection: at the first call, or at accept for a wrapped (TLS)
    /// connection, whose stream may not show its socket later.
    std::optional<net::Address> peer() const;
    /// True for HEAD: the server sends no body, whatever the response holds.
    bool is_head() const noexcept { return msg_->method == "HEAD"; }
    /// The value of the router capture `{name}`, "" when there is none.
    std::string_view param(std::string_view name) const noexcept;
    /// Under Router::mount(prefix, ...): the path below the prefix, starting
    /// with '/' ("/a.txt" for "/static/a.txt" under "/static"); else path().
    std::string_view subpath() const noexcept { return subpath_; }

    /// Reads some body bytes into `buf`: the count, 0 at the end of the body
    /// (or when there is none). Errors: the connection's (reset, timed_out),
    /// Errc::limit_exceeded past the server's body limit, std::errc::bad_message
    /// for malformed chunked framing; after an error the server answers with
    /// the matching status (413, 400) and closes, whatever the handler returns.
    Task<Result<std::size_t>> read_body(std::span<std::byte> buf);
    /// The whole body, at most `max` bytes (Errc::limit_exceeded beyond).
    Task<Result<std::string>> read_body_all(std::size_t max);

    /// Not API: set up by the server and the router.
    void bind(const ParsedRequest* msg, detail::Connection* conn) noexcept;
    /// Not API: the router's captures, filled by Router::match().
    std::vector<Param>& params() noexcept { return params_; }
    /// Not API: set by the router for a mount (see subpath()).
    void set_subpath(std::string_view s) noexcept { subpath_ = s; }

private:
    const ParsedRequest* msg_ = nullptr;
    detail::Connection* conn_ = nullptr;
    std::string_view path_;
    std::string_view query_;
    std::string_view subpath_;
    std::vector<Param> params_;
    std::size_t body_pos_ = 0;  // without a connection: bytes of msg_->body handed out
};

/// An immutable pre-formatted response part that many responses share
/// without copying (a cache entry): header lines, each `"Name: value\r\n"`,
/// already validated and none of the server's (see Response; they are sent
/// as they are, unchecked), and the body.
struct SharedBody {
    std::string fields;  ///< header lines, each `"Name: value\r\n"`
    std::string body;    ///< the body bytes
};

/// A body sent from a file: `length` bytes from `offset`. The response owns
/// the descriptor. The server sends it with splice (io_uring) or sendfile
/// (epoll) when the stream is a plain socket, else through a buffer. Those
/// calls cannot suppress SIGPIPE, so before the first one the server sets
/// SIGPIPE to "ignore" if it still has its default action.
struct FileBody {
    FileFd fd;                 ///< the open file
    std::uint64_t offset = 0;  ///< where the body starts in the file
    std::uint64_t length = 0;  ///< how many bytes are sent
};

class BodyWriter;
/// Writes a streamed response body; returning ends it. An error ends the
/// connection.
using BodyProducer = std::function<Task<Result<void>>(BodyWriter&)>;
/// Takes over a connection after a 101 (Switching Protocols) response: it is
/// given the connection's stream, whose first bytes are any the client sent
/// after the request, and a token the server stops when it starts to drain
/// (its shutdown: end the protocol politely now; the server cancels the
/// connection after its grace). The connection ends when it returns. See
/// Response::upgrade and websocket::accept().
using Upgrade = std::function<Task<void>(Stream, StopToken)>;

/// A response: a status, header fields, and one kind of body. The server adds
/// Date, Server, the framing (Content-Length, or Transfer-Encoding: chunked
/// for a stream on HTTP/1.1; never to HTTP/1.0, whose stream ends with the
/// connection) and Connection. The framing and Connection are the server's:
/// a response whose `headers` hold Content-Length or Transfer-Encoding (any
/// case), or Connection with anything but `close`, is a bug; the server logs
/// it, sends 500 in its place and closes the connection, as when the handler
/// throws. `Connection: close` is `close = true`: the server sends its one
/// Connection field and closes after the response. A handler's Date or Server
/// goes out in place of the server's (neither is sent twice). Responses to
/// HEAD, 1xx, 204 and 304 go out without a body whatever they hold. A 101
/// must carry `upgrade` (and only a 101 may), answer an HTTP/1.1 request
/// whose body was read, and name its protocol in an Upgrade field; the
/// server adds `Connection: Upgrade`, sends it after the responses before
/// it, and hands the connection to `upgrade`.
class Response {
public:
    /// Which body the response carries.
    enum class Kind : std::uint8_t {
        empty,   ///< no body
        buffer,  ///< `body`
        shared,  ///< a range of `share->body`
        file,    ///< `file_body`
        stream   ///< produced by `produce`, sent chunked
    };

    /// 200 with no body.
    Response() = default;
    /// `status_code` with no body.
    explicit Response(int status_code) noexcept : status(status_code) {}

    /// `body` with a Content-Type.
    static Response text(int status, std::string body,
                         std::string_view content_type = "text/plain; charset=utf-8");
    /// `length` bytes of `b->body` from `offset`, after b->fields.
    static Response shared(int status, std::shared_ptr<const SharedBody> b, std::size_t offset,
                           std::size_t length) noexcept;
    /// All of b->body after b->fields.
    static Response shared(int status, std::shared_ptr<const SharedBody> b) noexcept;
    /// A file body.
    static Response file(int status, FileBody f) noexcept;
    /// A body produced as it goes, sent chunked (HTTP/1.1) or until close (1.0).
    static Response stream(int status, BodyProducer p);
    /// A short text body `"STATUS Reason\n"`, as the server's own error answers.
    static Response error(int status);

    /// Adds a header field (checked when the handler returns: a name that is
    /// not a token, a value with CR/LF, or one of the server's fields is a
    /// bug, answered with 500 as above).
    Response& set(std::string_view name, std::string_view value) {
        headers.add(name, value);
        return *this;
    }
    /// The body length when it is known before sending (not for a stream).
    std::uint64_t body_length() const noexcept;

    int status = 200;                         ///< the status code
    Headers headers;                          ///< the handler's header fields
    Kind kind = Kind::empty;                  ///< which body is sent
    std::string body;                         ///< Kind::buffer
    std::shared_ptr<const SharedBody> share;  ///< Kind::shared (fields are sent for any kind)
    std::size_t share_offset = 0;             ///< Kind::shared: first byte of share->body sent
    std::size_t share_length = 0;             ///< Kind::shared: bytes sent
    FileBody file_body;                       ///< Kind::file
    BodyProducer produce;                     ///< Kind::stream
    Upgrade upgrade;                          ///< status 101: what takes the connection over
    bool close = false;                       ///< close the connection after this response
};

/// The sink of a streamed response body (see Response::stream). Each write()
/// goes out as one chunk at once; nothing is buffered.
class BodyWriter {
public:
    /// Where a writer made from a function sends each piece.
    using Sink = std::function<Task<Result<void>>(std::string_view)>;

    /// A writer that hands each write() to `sink`: to run a BodyProducer
    /// without a server (a test collecting the body), or to put a filter in
    /// front of another writer (http::compress() does, passing on the other's
    /// draining()). Its draining() is `draining`.
    explicit BodyWriter(Sink sink, StopToken draining = {}) noexcept
        : sink_(std::move(sink)), draining_(draining) {}

    /// Sends `data` (nothing for an empty one). Errors: the connection's, or
    /// the sink's.
    Task<Result<void>> write(std::string_view data);

    /// A token the server stops when it starts to drain (its shutdown): a
    /// body that could go on for long (a feed, a log tail) ends itself then,
    /// or is cancelled after the server's grace. Stopped from the start for
    /// a response begun while the server drains. sse::response() ends its
    /// streams this way by itself.
    StopToken draining() const noexcept;

    /// Not API: made by the server.
    BodyWriter(detail::Connection* c, bool chunked) noexcept : conn_(c), chunked_(chunked) {}

private:
    detail::Connection* conn_ = nullptr;
    bool chunked_ = false;
    std::string frame_;
    Sink sink_;
    StopToken draining_;
};

}  // namespace corio::http
