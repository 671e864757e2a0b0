#pragma once
// An HTTP/1.1 client: keep-alive connections pooled per origin, a deadline
// per request, redirects, bodies collected (with a cap) or streamed, and
// hooks for runtime/resilience.hpp's retry policy and circuit breaker.
//
//   http::Client client;
//   auto r = co_await client.get("http://127.0.0.1:8080/index.html");
//   if (r) fmt::print("{} {} bytes\n", r->status, r->body.size());
//
// A Client belongs to the loop it is used on (no locks); make one per loop.
// It must outlive the requests and ResponseStreams it made.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <corio/http/codec.hpp>
#include <corio/http/content_coding.hpp>
#include <corio/http/cookie_jar.hpp>
#include <corio/http/message.hpp>
#include <corio/http/stream.hpp>
#include <corio/http/url.hpp>
#include <corio/net/dns.hpp>
#include <corio/runtime/clock.hpp>
#include <corio/runtime/deadline.hpp>
#include <corio/runtime/resilience.hpp>
#include <corio/runtime/result.hpp>
#include <corio/runtime/task.hpp>

namespace corio::http {

/// Opens a byte stream to an origin before `deadline`: the transport hook.
/// The default connects over TCP for "http" and refuses other schemes with
/// std::errc::protocol_not_supported; a TLS connector answers "https".
using Connector = std::function<Task<Result<Stream>>(Origin origin, Deadline deadline)>;

/// The default Connector: TCP for http (IP literals directly, names through
/// net::resolve, each address in turn), TCP_NODELAY set.
Task<Result<Stream>> connect_tcp(Origin origin, Deadline deadline);

/// connect_tcp with names looked up by `resolver` (on the loop, within the
/// deadline) instead of net::resolve (getaddrinfo on the blocking pool);
/// null: net::resolve. `resolver` must outlive the connection attempt.
Task<Result<Stream>> connect_tcp_using(Origin origin, Deadline deadline, net::Resolver* resolver);
/// A Connector doing connect_tcp_using(origin, deadline, &resolver), for
/// ClientOptions::connect; `resolver` must outlive the client.
Connector tcp_connector(net::Resolver& resolver);

/// How a Client behaves.
struct ClientOptions {
    /// Idle keep-alive connections kept per origin (more are closed).
    std::size_t max_idle_per_origin = 8;
    /// Connections open at once per origin, in use and idle; 0: no limit. A
    /// request that finds them all in use waits (first come, first served)
    /// for one to come back to the pool or to close, within its deadline
    /// (std::errc::timed_out) and cancellable; ClientStats::waits counts them.
    /// A ResponseStream (open()) holds its connection until its body has been
    /// read to the end or the stream is dropped.
    std::size_t max_connections_per_origin = 0;
    /// A pooled connection idle longer than this is closed rather than reused.
    Duration idle_timeout = std::chrono::seconds(30);
    /// Default deadline of a request (redirects, retries and, for fetch(),
    /// the body included); zero: none.
    Duration timeout = std::chrono::seconds(30);
    /// Redirects followed per request; 0 returns 3xx responses as they are.
    int max_redirects = 5;
    /// Largest body fetch() collects (Errc::limit_exceeded beyond, at once when the
    /// Content-Length says so). open() has no cap.
    std::size_t max_body = std::size_t(8) << 20;
    /// Response head limits (their max_body is not used: see max_body).
    ResponseParser::Limits limits{};
    /// Sent as User-Agent unless the request has one; empty: none.
    std::string user_agent = "corio";
    /// Hook: retry each hop with this policy (transient errors by
    /// policy.retryable, 408 answers to idempotent requests, and 5xx answers
    /// to idempotent requests when retry_server_errors). Unset: no retries.
    std::optional<RetryPolicy> retry{};
    /// With `retry`: also retry 5xx answers to idempotent requests.
    bool retry_server_errors = true;
    /// Hook: a circuit breaker per origin ("http://host:port") with these
    /// options; errors per options' is_failure and 5xx answers count as
    /// failures; an open breaker fails calls with Errc::circuit_open.
    std::optional<BreakerOptions> breaker{};
    /// Hook: how to open a stream to an origin (default connect_tcp).
    Connector connect{};
    /// fetch(): ask for compressed bodies (Accept-Encoding: gzip, deflate)
    /// and decode the final response's (decode_content), within max_body
    /// (Errc::limit_exceeded; a broken body gives
    /// std::errc::illegal_byte_sequence), unless the request is a HEAD or
    /// has its own Accept-Encoding or a Range. A decoded response has no
    /// Content-Encoding or Content-Length field and is marked
    /// ClientResponse::decoded; a body in another coding (or several) is
    /// left as it came. open() asks alike and its ResponseStream decodes as
    /// it reads (ResponseStream::decoded(); read_all's `max` bounds the
    /// decoded size), unless the head announces an empty body (Content-Length:
    /// 0, 204, 304).
    bool decompress = true;
    /// Cookies: with a jar, every hop (redirects and retries included, and
    /// open()) sends the jar's Cookie field for its URL, unless the request
    /// has a Cookie field of its own, and stores the response's Set-Cookie
    /// fields, the redirects' too. A hop with a Host field of the caller's
    /// does neither (the jar knows sites by the URL's host). Null: cookies
    /// are neither sent nor kept.
    std::shared_ptr<CookieJar> cookies{};
};

/// A request for Client::fetch() and Client::open().
struct ClientRequest {
    std::string method = "GET";  ///< the request method
    std::string url;             ///< an absolute http (or https, with a connector) URL
    /// Extra header fields. Content-Length and Transfer-Encoding are the client's, a second
    /// Host is one too many, and a name that is not a token or a value with CR, LF or another
    /// control character would break the head: fetch() and open() fail such a request with
    /// std::errc::invalid_argument and send nothing. A Host here is sent instead of the URL's
    /// authority (a virtual host on an address), and dropped on a redirect to another origin,
    /// like Authorization, Proxy-Authorization and Cookie.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;  ///< the body; Content-Length is sent with one (and for POST, PUT, PATCH)
    /// A body produced as it is sent, for uploads too large to hold: each
    /// write() of the producer goes out as it comes, as a chunk
    /// (Transfer-Encoding: chunked), or as it is when `body_length` is set
    /// (Content-Length). Instead of `body`: with both, or a `body_length`
    /// without a producer, fetch() and open() fail with
    /// std::errc::invalid_argument and send nothing. Such a request goes once:
    /// no retries, no second try on a new connection once its body began (a
    /// pooled connection the server closed just then fails the request), and
    /// a redirect that keeps the method (307, 308, a 301/302 but after a
    /// POST) is the answer, there being no body to send again; one that makes
    /// it a GET (303, or 301/302 after a POST) is followed without the body.
    /// A producer's error, or a length other than `body_length`, fails the
    /// request with that error (std::errc::invalid_argument for the length),
    /// closes the connection and does not count against the origin's
    /// breaker; after a failed write, later ones fail too. The writer's
    /// draining() is stopped at the deadline or when the request is
    /// cancelled. The answer is read after the body; when a send of the body
    /// fails because the server closed (a 413 for a body too large), an
    /// answer it sent before closing is the response, else the send's error
    /// is. A server that answers early and keeps the connection without
    /// reading is not watched for while the body goes (the send waits, up to
    /// the deadline): `expect_continue` asks first.
    BodyProducer body_producer{};
    /// With body_producer: the body's length, sent as Content-Length.
    std::optional<std::uint64_t> body_length{};
    /// Non-zero, for a request with content (a body, or a producer not told
    /// body_length 0): sends `Expect: 100-continue` (RFC 9110 §10.1.1) and
    /// waits up to this long for the server's answer before sending the
    /// body. After 100 Continue, or no answer in time (a server that ignores
    /// Expect), the body goes; another 1xx (103) does not let it go. A final
    /// answer instead (401, 413, ...; also one that came with the 100) is the
    /// response: the body is neither sent nor produced, and the connection
    /// closes after the response. A 417 (Expectation Failed) before the body
    /// sends the request again at once without Expect, on a new connection.
    /// Until the body begins, a pooled connection the server had closed is
    /// replaced as for any request that may be sent again, a produced body's
    /// included. A caller's own Expect field is sent as it is (and dropped
    /// with the body by a redirect to GET); without this wait it is not
    /// waited on.
    Duration expect_continue = Duration::zero();
    /// Overrides ClientOptions::timeout when set.
    std::optional<Deadline> deadline;
};

/// A complete response: the parsed message, the URL that gave it (after
/// redirects) and how many redirects led there.
struct ClientResponse : ParsedResponse {
    std::string url;       ///< the URL that gave this response (normalized)
    int redirects = 0;     ///< redirects followed to get here
    bool decoded = false;  ///< the body came compressed and was decoded (ClientOptions::decompress)
};

/// Counters a Client keeps.
struct ClientStats {
    std::uint64_t requests = 0;   ///< requests sent (each hop and retry counts)
    std::uint64_t connects = 0;   ///< connections opened
    std::uint64_t reuses = 0;     ///< requests sent on a pooled connection
    std::uint64_t redirects = 0;  ///< redirects followed
    std::uint64_t retries = 0;    ///< attempts beyond the first of each hop
    std::uint64_t waits = 0;      ///< sends that waited for max_connections_per_origin
};

namespace detail {
struct ClientConn;
}
class Client;

/// A response whose body is read as a stream (Client::open()). When the body
/// has been read to its end the connection goes back to the pool; dropping
/// the stream earlier closes it. Move-only; a moved-from one has status 0
/// and no fields, and its reads give std::errc::bad_file_descriptor.
class ResponseStream {
public:
    /// Takes over the other stream's connection.
    ResponseStream(ResponseStream&&) noexcept;
    /// Closes the connection held (as the destructor does) and takes the other's.
    ResponseStream& operator=(ResponseStream&&) noexcept;
    /// Closes the connection, unless the body was read to its end (it is back
    /// in the pool then).
    ~ResponseStream();

    /// The status code.
    int status() const noexcept { return head().status; }
    /// The header fields (without Content-Encoding and Content-Length when
    /// decoded()).
    const Headers& headers() const noexcept { return head().headers; }
    /// The response head (version, status, reason, headers).
    const ParsedResponse& head() const noexcept {
        return decoded_head_ ? *decoded_head_ : parser_ ? parser_->response() : moved_from_head();
    }
    /// True when the body came compressed and read() gives it decoded
    /// (ClientOptions::decompress).
    bool decoded() const noexcept { return decoder_.has_value(); }
    /// Some body bytes into `buf`: the count, 0 at the end of the body.
    /// Errors: the connection's, std::errc::bad_message for bad framing,
    /// Errc::eof when the connection ended inside the body; when decoded(),
    /// std::errc::illegal_byte_sequence for a body not in its coding.
    Task<Result<std::size_t>> read(std::span<std::byte> buf);
    /// The rest of the body, at most `max` bytes (Errc::limit_exceeded beyond).
    Task<Result<std::string>> read_all(std::size_t max);

private:
    friend class Client;
    ResponseStream(Client* c, BulkheadPermit slot, std::unique_ptr<detail::ClientConn> conn,
                   std::unique_ptr<ResponseParser> p) noexcept;
    void finish() noexcept;
    Task<Result<std::size_t>> read_raw(std::span<std::byte> buf);
    static const ParsedResponse& moved_from_head() noexcept;

    Client* client_ = nullptr;
    BulkheadPermit slot_;  // max_connections_per_origin: given back after conn_ is settled
    std::unique_ptr<detail::ClientConn> conn_;
    std::unique_ptr<ResponseParser> parser_;
    bool done_ = false;
    bool request_close_ = false;  // the request said "Connection: close": never pooled
    // decoded(): the body as sent goes through decoder_, coded_[coded_pos_..coded_len_) not
    // yet in.
    std::optional<ContentDecoder> decoder_;
    std::unique_ptr<ParsedResponse> decoded_head_;  // head() without the coding's fields
    std::unique_ptr<std::byte[]> coded_;            // 16 KiB, made at the first decoded read
    std::size_t coded_pos_ = 0, coded_len_ = 0;
    bool coded_end_ = false;  // the body as sent is over
    bool coded_any_ = false;  // and was not empty
};

/// An HTTP/1.1 client for one loop: pooled keep-alive connections per origin,
/// deadlines, redirects, retries and circuit breakers (see ClientOptions).
class Client {
public:
    /// A client with `opts`; opens nothing until the first request.
    explicit Client(ClientOptions opts = {});
    /// Closes the pooled connections.
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    /// GET `url`, body collected.
    Task<Result<ClientResponse>> get(std::string url);
    /// Sends `req` and collects the response body (at most options().max_body),
    /// following redirects (301/302 turn POST into GET, 303 turns anything but
    /// HEAD into GET; a GET made so drops the body and its Content-* fields;
    /// 307/308 keep method and body; Authorization, Proxy-Authorization and
    /// Cookie are dropped when the origin changes, https to http included,
    /// which is followed; 300, 304, 305, 306 and a Location that is not an
    /// http(s) URL are answers) and applying the retry and breaker hooks.
    /// Fragments are never sent and ClientResponse::url has none. Errors:
    /// std::errc::invalid_argument for a URL that is not http(s) or refused
    /// header fields (see ClientRequest::headers),
    /// std::errc::too_many_links past max_redirects,
    /// std::errc::timed_out at the deadline, std::errc::bad_message for a
    /// malformed response, Errc::circuit_open, or the connection's error.
    Task<Result<ClientResponse>> fetch(ClientRequest req);
    /// Sends `req` and gives the response once its head has arrived; the body
    /// is read from the ResponseStream. Redirects are not followed and there
    /// are no retries (a streamed exchange cannot be replayed); the deadline
    /// bounds the head only.
    Task<Result<ResponseStream>> open(ClientRequest req);

    /// Its counters.
    const ClientStats& stats() const noexcept { return stats_; }
    /// The options it was made with.
    const ClientOptions& options() const noexcept { return opts_; }
    /// Idle pooled connections, over all origins.
    std::size_t idle_connections() const noexcept;
    /// Closes every idle pooled connection.
    void close_idle() noexcept;

private:
    friend class ResponseStream;
    struct Hop;
    Task<Result<ClientResponse>> fetch_hops(ClientRequest req, Url url, bool decode);
    Task<Result<ClientResponse>> attempt(const Hop& hop);
    Task<Result<ClientResponse>> exchange(const Hop& hop);
    Result<ClientResponse> finish(ClientResponse r, const Hop& hop, int hops) const;
    Task<Result<ResponseStream>> send(const Hop& hop);
    std::unique_ptr<detail::ClientConn> take_idle(const std::string& key);
    void put_idle(std::unique_ptr<detail::ClientConn> c);

    ClientOptions opts_;
    ClientStats stats_;
    std::map<std::string, std::vector<std::unique_ptr<detail::ClientConn>>, std::less<>> idle_;
    // max_connections_per_origin: a permit per connection in use, by origin (never erased,
    // like the breakers: one small entry per origin contacted; map nodes do not move).
    std::map<std::string, Bulkhead, std::less<>> slots_;
    std::unique_ptr<CircuitBreakerMap> breakers_;
};

}  // namespace corio::http
