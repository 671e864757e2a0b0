#pragma once
// Pure HTTP/1.1 codec: incremental request and response parsers, head formatting, and small
// helpers (status reasons, percent decoding, MIME types). No I/O: bytes in, messages out.
//
// The parsers are strict on purpose (see PITFALLS.md, "HTTP servers that get smuggled
// through"): anything that two implementations could frame differently is an error, and an
// error is final for the parser.

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace corio::http {

/// The HTTP version of a message; the parsers accept no other.
enum class Version : std::uint8_t { http_1_0, http_1_1 };

/// The state of a parser after a feed: it wants more bytes, it holds a complete message, or
/// it met an error (which is final).
enum class ParseState : std::uint8_t { need_more, done, error };

/// One received header field: the name as sent (case kept) and the value without its
/// surrounding spaces and tabs.
struct Header {
    std::string name;   ///< as sent, case kept
    std::string value;  ///< without surrounding spaces and tabs
};

/// A header field handed to the formatting functions; it refers to, and does not own, its
/// name and value.
struct HeaderView {
    std::string_view name;   ///< the field name (a token)
    std::string_view value;  ///< the field value (no CR, LF or other control characters)
};

namespace detail {
struct ParserAccess;  // the parsing code shared by both parsers (codec.cpp)
}  // namespace detail

/// True when a and b are equal ignoring ASCII case.
bool iequals(std::string_view a, std::string_view b) noexcept;

/// Characters in an IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
inline constexpr std::size_t http_date_size = 29;
/// Writes `t` (UTC) as an IMF-fixdate, the form HTTP senders use (RFC 9110
/// §5.6.7), into `out` (room for http_date_size characters, no NUL); returns
/// http_date_size. English names whatever the program's locale (strftime's %a
/// and %b follow LC_TIME).
std::size_t format_http_date(std::time_t t, char* out) noexcept;
/// format_http_date() as a string.
std::string format_http_date(std::time_t t);
/// The time an HTTP-date names, or nullopt: any of the three formats a
/// recipient must accept (RFC 9110 §5.6.7): IMF-fixdate "Sun, 06 Nov 1994
/// 08:49:37 GMT", rfc850-date "Sunday, 06-Nov-94 08:49:37 GMT" (a two-digit
/// year more than 50 years ahead is in the past century) and asctime-date
/// "Sun Nov  6 08:49:37 1994". Names are case-sensitive; a day that does not
/// exist ("31 Nov") is no date. Independent of the locale.
std::optional<std::time_t> parse_http_date(std::string_view s) noexcept;

/// An ordered list of header fields with case-insensitive lookup. clear() keeps the strings'
/// storage, so a parser reused for the next request on a connection allocates nothing for
/// headers that fit in what earlier requests used.
class Headers {
public:
    /// Iterates over the fields in order.
    using const_iterator = std::vector<Header>::const_iterator;

    /// No fields.
    Headers() = default;
    /// Copies the fields (not the spare storage).
    Headers(const Headers& other);
    /// Replaces the fields with copies of `other`'s.
    Headers& operator=(const Headers& other);
    /// Takes `other`'s fields and storage.
    Headers(Headers&& other) noexcept;
    /// Takes `other`'s fields and storage.
    Headers& operator=(Headers&& other) noexcept;
    ~Headers() = default;

    /// Appends a field; no validation (the parsers validate before adding).
    void add(std::string_view name, std::string_view value);
    /// The value of the first field named `name` (any case), or nullopt.
    std::optional<std::string_view> get(std::string_view name) const noexcept;
    /// True when a field named `name` exists.
    bool contains(std::string_view name) const noexcept { return get(name).has_value(); }
    /// How many fields are named `name`.
    std::size_t count(std::string_view name) const noexcept;
    /// True when any field named `name` holds `token` (any case) in its comma-separated list:
    /// has_token("connection", "close").
    bool has_token(std::string_view name, std::string_view token) const noexcept;

    /// The number of fields.
    std::size_t size() const noexcept { return size_; }
    /// True when there is no field.
    bool empty() const noexcept { return size_ == 0; }
    /// Field `i` (in the order received or added); `i` < size().
    const Header& operator[](std::size_t i) const noexcept { return items_[i]; }
    /// The first field.
    const_iterator begin() const noexcept { return items_.begin(); }
    /// Past the last field.
    const_iterator end() const noexcept {
        return items_.begin() + static_cast<std::ptrdiff_t>(size_);
    }
    /// Removes all fields, keeping their storage for reuse.
    void clear() noexcept { size_ = 0; }

private:
    friend struct detail::ParserAccess;  // joins a response's obs-fold to the last field
    std::vector<Header> items_;          // items_[size_..] are spare storage
    std::size_t size_ = 0;
};

/// A parsed request. `target` is the request-target exactly as sent (not decoded). `body` is
/// the payload with any chunked framing removed; chunked trailer fields are in `trailers`.
struct ParsedRequest {
    std::string method;                   ///< as sent ("GET"); methods are case-sensitive
    std::string target;                   ///< the request-target as sent
    Version version = Version::http_1_1;  ///< the request's version
    Headers headers;                      ///< the header fields
    Headers trailers;                     ///< trailer fields of a chunked body
    std::string body;                     ///< the decoded body (empty when streamed)

    /// Whether the connection may carry another request: HTTP/1.1 unless a Connection field
    /// holds "close"; HTTP/1.0 only when a Connection field holds "keep-alive" and none holds
    /// "close".
    bool keep_alive() const noexcept;
};

/// A parsed response. `until_close` is set when the body was delimited by the end of the
/// connection (such a response never allows keep-alive).
struct ParsedResponse {
    Version version = Version::http_1_1;  ///< the response's version
    int status = 0;                       ///< the status code (100 to 999)
    std::string reason;                   ///< the reason phrase as sent (may be empty)
    Headers headers;                      ///< the header fields
    Headers trailers;                     ///< trailer fields of a chunked body
    std::string body;                     ///< the decoded body (empty when streamed)
    bool until_close = false;             ///< the body was delimited by the end of the connection

    /// Whether the connection may carry another request, by the same rules as
    /// ParsedRequest::keep_alive(), and never after a body delimited by close.
    bool keep_alive() const noexcept;
};

namespace detail {
/// Framing state shared by the two parsers; not API.
struct ParseCore {
    enum class Phase : std::uint8_t {
        start_line,
        header_line,
        body_length,
        body_until_close,
        chunk_size,
        chunk_data,
        chunk_data_end,
        trailer_line,
        done,
        error,
    };
    Phase phase = Phase::start_line;
    bool has_content_length = false;
    bool has_transfer_encoding = false;
    bool te_unknown = false;       // a coding other than the ones we know
    bool te_last_chunked = false;  // the last coding seen is "chunked"
    bool te_bad = false;           // an empty or malformed coding
    std::uint8_t te_chunked = 0;   // how many times "chunked" appeared (saturating)
    std::uint8_t host_count = 0;   // saturating
    int error_status = 0;
    std::string_view error_reason;  // always a string literal
    std::uint64_t content_length = 0;
    std::uint64_t remaining = 0;   // bytes left of the body or of the current chunk
    std::size_t start_bytes = 0;   // empty lines skipped before the start line
    std::size_t header_bytes = 0;  // header (and trailer) lines so far, CRLF included
    std::size_t header_count = 0;  // header and trailer fields so far
    std::uint64_t body_bytes = 0;  // decoded body bytes so far
    bool stream_body = false;      // hand body bytes out instead of collecting them
    std::string_view body_piece;   // streaming: the body bytes of the last feed
    std::string line;              // a line split across feeds

    void clear_framing() noexcept;
};
}  // namespace detail

/// Incremental, strict HTTP/1.1 request parser. Feed it bytes as they arrive, in any split
/// (one byte at a time gives the same result as one buffer). feed() consumes bytes up to the
/// end of one request and stops: leftover bytes belong to the next (pipelined) request, so
/// after take_request()/request(), call reset() and feed the rest again.
///
/// Errors set state() to error with error_status() and error_reason(): 400 for malformed or
/// ambiguous messages (Content-Length with Transfer-Encoding, Content-Length values that are
/// not numbers or differ (a list of equal values, RFC 9112 §6.3, is that value), chunked not last,
/// bad chunk sizes or malformed chunk extensions (well-formed ones, RFC 9112 §7.1.1, are accepted
/// and dropped), bare CR or LF, obs-fold, whitespace before a colon, control characters, bad
/// tokens, a request-target in no form of RFC 9112 §3.2 (the authority form "host:port" for CONNECT
/// and only there), HTTP/1.1 without one Host, Transfer-Encoding in HTTP/1.0), 501 for an unknown
/// transfer coding, 505 for a version other than 1.0/1.1, 414 for a request line over the limit,
/// 431 for too many or too large headers, 413 for a body over the limit. An error is final: feed()
/// then consumes nothing and reset() keeps the error; answer with the status and close the
/// connection.
class RequestParser {
public:
    /// Size limits; a message that exceeds one is an error (see the class comment).
    struct Limits {
        std::size_t max_request_line = 8 * 1024;   ///< request line with its CRLF
        std::size_t max_header_bytes = 16 * 1024;  ///< all header lines with their CRLFs
        std::size_t max_header_count = 100;        ///< header and trailer fields
        std::size_t max_body = 1024 * 1024;        ///< decoded body bytes
    };

    /// A parser with the default limits.
    RequestParser() noexcept : RequestParser(Limits{}) {}
    /// A parser with `limits`.
    explicit RequestParser(Limits limits) noexcept : limits_(limits) {}

    /// Parses from the start of `data`; returns how many bytes were consumed. Stops at the end
    /// of a request (state() == done) or at an error; otherwise consumes everything.
    std::size_t feed(std::string_view data);
    /// need_more, done (a complete request) or error (final).
    ParseState state() const noexcept;
    /// True once the head (request line and headers) is complete and valid: the moment to
    /// answer "Expect: 100-continue" before the body arrives.
    bool headers_complete() const noexcept;
    /// Streams the body instead of collecting it in body: from then on (the setting stays
    /// across reset()), feed() stops at the end of the head and after each run of body bytes,
    /// which body_piece() shows.
    void set_stream_body(bool on) noexcept { core_.stream_body = on; }
    /// Streaming: the body bytes found by the last feed() (a view into what was fed, valid
    /// until the next feed()); empty when it found none.
    std::string_view body_piece() const noexcept { return core_.body_piece; }
    /// Decoded body bytes so far (streamed or collected).
    std::uint64_t body_bytes() const noexcept { return core_.body_bytes; }
    /// The error status (400, 413, 414, 431, 501, 505), or 0 when there is no error.
    int error_status() const noexcept { return core_.error_status; }
    /// A short description of the error ("" when none), for logs, not for clients.
    std::string_view error_reason() const noexcept { return core_.error_reason; }
    /// The request being parsed; complete when state() == done.
    const ParsedRequest& request() const noexcept { return request_; }
    /// Moves the request out (its storage leaves with it; request() + reset() reuses it).
    ParsedRequest take_request();
    /// Prepares for the next request on the same connection, keeping storage. Does nothing
    /// after an error: the error is final.
    void reset() noexcept;
    /// The limits it enforces.
    const Limits& limits() const noexcept { return limits_; }

private:
    friend struct detail::ParserAccess;
    bool on_start_line(std::string_view line);
    bool on_headers_done();
    Headers& headers() noexcept { return request_.headers; }
    Headers& trailers() noexcept { return request_.trailers; }
    std::string& body() noexcept { return request_.body; }
    std::size_t max_start_line() const noexcept { return limits_.max_request_line; }
    static constexpr int start_line_too_long = 414;

    Limits limits_;
    detail::ParseCore core_;
    ParsedRequest request_;
};

/// Incremental, strict HTTP/1.1 response parser for clients: status line, headers, then a
/// body framed by Content-Length, chunked encoding, or the end of the connection (call
/// finish_eof() when the peer closes). Responses to HEAD (say so with reset(true) or
/// set_head_request()), 1xx, 204 and 304 have no body. Interim 1xx responses other than
/// 101 are skipped: the parser goes on to the final response. Framing rules are those of
/// RequestParser; a Transfer-Encoding whose last coding is not chunked means the body runs
/// until close (RFC 9112 §6.3). As a user agent must (RFC 9112 §5.2), it reads obs-fold as a
/// space, except in Content-Length and Transfer-Encoding. Errors are final; error_reason()
/// says what was wrong.
class ResponseParser {
public:
    /// Size limits; a response that exceeds one is an error.
    struct Limits {
        std::size_t max_status_line = 8 * 1024;    ///< status line with its CRLF
        std::size_t max_header_bytes = 64 * 1024;  ///< all header lines with their CRLFs
        std::size_t max_header_count = 200;        ///< header and trailer fields
        std::size_t max_body = 8 * 1024 * 1024;    ///< decoded body bytes
    };

    /// A parser with the default limits.
    ResponseParser() noexcept : ResponseParser(Limits{}) {}
    /// A parser with `limits`.
    explicit ResponseParser(Limits limits) noexcept : limits_(limits) {}

    /// As RequestParser::feed(): returns bytes consumed, stops at the end of the response.
    std::size_t feed(std::string_view data);
    /// The peer closed the connection: completes a body delimited by close, and is an error
    /// ("unexpected end of stream") anywhere else before the response is complete. Returns
    /// state().
    ParseState finish_eof() noexcept;
    /// need_more, done (a complete final response) or error (final).
    ParseState state() const noexcept;
    /// True once the head (status line and headers) of the final response is complete.
    bool headers_complete() const noexcept;
    /// Streams the body instead of collecting it in body: from then on (the setting stays
    /// across reset()), feed() stops at the end of the head and after each run of body bytes,
    /// which body_piece() shows.
    void set_stream_body(bool on) noexcept { core_.stream_body = on; }
    /// Streaming: the body bytes found by the last feed() (a view into what was fed, valid
    /// until the next feed()); empty when it found none.
    std::string_view body_piece() const noexcept { return core_.body_piece; }
    /// Decoded body bytes so far (streamed or collected).
    std::uint64_t body_bytes() const noexcept { return core_.body_bytes; }
    /// The body length the head announced with Content-Length (a list of equal values is
    /// one), once headers_complete(); nullopt when it announced none.
    std::optional<std::uint64_t> content_length() const noexcept {
        if (!core_.has_content_length) return std::nullopt;
        return core_.content_length;
    }
    /// A short description of the error ("" when none).
    std::string_view error_reason() const noexcept { return core_.error_reason; }
    /// True once a 100 Continue was skipped before the final response: a client that sent
    /// Expect: 100-continue sends its body then (RFC 9110 §10.1.1), not after another 1xx.
    bool continued() const noexcept { return continued_; }
    /// The response being parsed; complete when state() == done.
    const ParsedResponse& response() const noexcept { return response_; }
    /// Moves the response out (its storage leaves with it).
    ParsedResponse take_response();
    /// Declares whether the request being answered was HEAD (no body whatever the headers
    /// say). Call before feeding the response.
    void set_head_request(bool head) noexcept { head_request_ = head; }
    /// Prepares for the next response, keeping storage; `head` as for set_head_request().
    /// Does nothing after an error.
    void reset(bool head = false) noexcept;
    /// The limits it enforces.
    const Limits& limits() const noexcept { return limits_; }

private:
    friend struct detail::ParserAccess;
    bool on_start_line(std::string_view line);
    bool on_headers_done();
    Headers& headers() noexcept { return response_.headers; }
    Headers& trailers() noexcept { return response_.trailers; }
    std::string& body() noexcept { return response_.body; }
    std::size_t max_start_line() const noexcept { return limits_.max_status_line; }
    static constexpr int start_line_too_long = 400;

    Limits limits_;
    detail::ParseCore core_;
    ParsedResponse response_;
    bool continued_ = false;
    bool head_request_ = false;
};

/// Appends a response head to `out`: "HTTP/1.1 STATUS REASON", the given headers,
/// "Content-Length: N" when content_length is set (never for 1xx and 204), "Connection: close"
/// when !keep_alive, "Connection: keep-alive" when keep_alive and the client spoke
/// `client_version` 1.0, and the blank line. An empty reason becomes status_reason(status).
/// Throws std::invalid_argument when a name is not a token or a value or the reason holds
/// CR, LF or another control character (header injection is a bug in the caller).
void format_response_head(std::string& out, int status, std::string_view reason,
                          std::span<const HeaderView> headers,
                          std::optional<std::size_t> content_length, bool keep_alive,
                          Version client_version = Version::http_1_1);
/// As above, with headers as a braced list: {{"Content-Type", "text/plain"}}.
void format_response_head(std::string& out, int status, std::string_view reason,
                          std::initializer_list<HeaderView> headers,
                          std::optional<std::size_t> content_length, bool keep_alive,
                          Version client_version = Version::http_1_1);

/// Appends an HTTP/1.1 request head to `out`: "METHOD TARGET HTTP/1.1", "Host: HOST", the
/// given headers and the blank line (add Content-Length to `headers` when sending a body).
/// Throws std::invalid_argument on a method that is not a token, a target with spaces or
/// control characters, or header injection as for format_response_head().
void format_request(std::string& out, std::string_view method, std::string_view target,
                    std::string_view host, std::span<const HeaderView> headers);
/// As above, with headers as a braced list.
void format_request(std::string& out, std::string_view method, std::string_view target,
                    std::string_view host, std::initializer_list<HeaderView> headers = {});

/// True when `name` can be a header field name (a token, RFC 9110 §5.1).
bool valid_field_name(std::string_view name) noexcept;
/// True when `value` can be a header field value: no control character but HTAB, no DEL.
bool valid_field_value_text(std::string_view value) noexcept;

/// Appends one chunk of a chunked body to `out`: the size in hex, CRLF, `data`, CRLF. An empty
/// `data` appends nothing (an empty chunk would end the body).
void format_chunk(std::string& out, std::string_view data);
/// Appends a chunk header only (`"SIZE\r\n"`), for data sent separately, then followed by CRLF.
void format_chunk_header(std::string& out, std::size_t size);
/// Appends the last chunk and the end of the (empty) trailer section: `"0\r\n\r\n"`.
void format_last_chunk(std::string& out);

/// The standard reason phrase for a status ("Not Found"), or "Unknown" for a code without one.
std::string_view status_reason(int status) noexcept;

/// Decodes %XX escapes (either hex case). "+" stays "+". Returns nullopt when a '%' is not
/// followed by two hex digits. The result may hold any byte, NUL included: validate it.
std::optional<std::string> percent_decode(std::string_view in);

/// The Content-Type for a file path by its extension (any case): html/htm, css, js/mjs, json,
/// png, jpg/jpeg, gif, svg, txt, ico, wasm, pdf; text types carry "; charset=utf-8".
/// Anything else is "application/octet-stream".
std::string_view mime_type_for(std::string_view path) noexcept;

/// The media type of a Content-Type value without its parameters or surrounding whitespace
/// (RFC 9110 §8.3.1): "text/html" for "text/html; charset=utf-8". Compare it with iequals():
/// type and subtype are case-insensitive.
std::string_view media_type(std::string_view content_type) noexcept;

}  // namespace corio::http
