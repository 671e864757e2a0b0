// The client: connections per origin, one exchange, redirects and the
// resilience hooks around each hop.
#include <corio/http/client.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <utility>

#include <corio/http/ascii.hpp>
#include <corio/http/content_coding.hpp>
#include <corio/net/resolve.hpp>
#include <corio/net/tcp.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/timer.hpp>

#include "read_all.hpp"

namespace corio::http {
namespace detail {

constexpr std::size_t client_buf_size = 16 * 1024;

/// A connection to one origin, with what was read and not yet parsed.
struct ClientConn {
    Stream s;
    std::string key;  // "http://host:port"
    std::unique_ptr<char[]> in{new char[client_buf_size]};
    std::size_t begin = 0;
    std::size_t end = 0;
    TimePoint idle_since{};

    // The client's one receive path: into the (emptied) buffer.
    Task<Result<std::size_t>> receive() {
        begin = end = 0;
        auto n = co_await s.recv(std::as_writable_bytes(std::span(in.get(), client_buf_size)));
        if (n) end = *n;
        co_return n;
    }
};

}  // namespace detail

namespace {

std::string origin_key(const Url& u) {
    return u.scheme() + "://" + u.host() + ":" + std::to_string(u.port());
}

// The field Expect: 100-continue adds, last before the head's end.
constexpr std::string_view expect_field = "Expect: 100-continue\r\n";

bool idempotent(std::string_view m) noexcept {
    return m == "GET" || m == "HEAD" || m == "PUT" || m == "DELETE" || m == "OPTIONS" ||
           m == "TRACE";
}

bool is_redirect(int status) noexcept {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

bool stale_connection_error(std::error_code ec) noexcept {
    return ec == std::errc::connection_reset || ec == std::errc::broken_pipe ||
           ec == std::errc::connection_aborted;
}

/// What read_head() saw besides the head.
struct HeadRead {
    bool got_any = false;  ///< a byte of the response came
    bool stale = false;    ///< EOF or a stale connection's error before any byte (may_resend)
};

/// Reads `conn` into `parser` until the final response's head is complete (true), or, with
/// `until_continue`, until a 100 Continue came and nothing more is at hand (false: a final
/// answer in the same read still wins; another 1xx does not let the body go). With a `wait`,
/// gives false when none of that happened by then. EOF or a stale connection's error before
/// any byte sets `st->stale` (and gives false) when `may_resend`.
Task<Result<bool>> read_head(detail::ClientConn* conn, ResponseParser* parser, HeadRead* st,
                             bool may_resend, bool until_continue, Duration wait) {
    Loop& loop = Loop::current();
    const TimePoint until = loop.now() + wait;
    for (;;) {
        if (conn->begin < conn->end) {
            st->got_any = true;
            conn->begin += parser->feed(
                std::string_view(conn->in.get() + conn->begin, conn->end - conn->begin));
            if (parser->state() == ParseState::error) co_return std::errc::bad_message;
            if (parser->headers_complete()) co_return true;
            continue;
        }
        if (until_continue && parser->continued()) co_return false;
        const bool waits = wait > Duration::zero();
        auto n = waits ? co_await with_deadline(conn->receive(), until) : co_await conn->receive();
        if (!n && waits && n.error() == std::errc::timed_out && loop.now() >= until) {
            co_return false;  // no word in time: the body goes
        }
        if (!n || *n == 0) {
            if (may_resend && !st->got_any && (!n ? stale_connection_error(n.error()) : true)) {
                st->stale = true;
                co_return false;
            }
            if (!n) co_return n.error();
            parser->finish_eof();
            co_return std::errc::bad_message;
        }
    }
}

/// After a send of the body failed on the connection: the server may have answered before it
/// closed (a 413 for a body too large; RFC 9112 §9.5 asks clients to watch for it). True when
/// that answer's head is here: it is the response, else the send's error is the request's.
Task<bool> answered_anyway(detail::ClientConn* conn, ResponseParser* parser, HeadRead* st,
                           std::error_code send_error) {
    if (!stale_connection_error(send_error)) co_return false;
    auto head = co_await read_head(conn, parser, st, false, false, Duration::zero());
    co_return head.value_or(false);
}

Result<std::size_t> framing_error() {
    return std::make_error_code(std::errc::bad_message);
}

// The body's framing is the client's to send: a caller's copy would put Transfer-Encoding
// beside Content-Length, or two lengths (RFC 9112 §6.3: a request to reject, or worse, one
// that a proxy and a server frame differently). At most one Host, which then replaces the
// URL's authority in the Host field.
bool caller_fields_ok(const std::vector<std::pair<std::string, std::string>>& headers) noexcept {
    int hosts = 0;
    for (const auto& [n, v] : headers) {
        if (iequals(n, "content-length") || iequals(n, "transfer-encoding")) return false;
        if (iequals(n, "host") && ++hosts > 1) return false;
    }
    return true;
}

// A produced body's fields are checked as the caller's: one body, a length only with a producer.
bool body_ok(const ClientRequest& req) noexcept {
    return req.body_producer ? req.body.empty() : !req.body_length;
}

// One write of a produced body: a chunk, or (with a length) the bytes as they are, refused
// past the length. The first error is kept in `*failed` and refuses every later write, so a
// producer that goes on after one cannot make a body with a hole in it look whole.
Task<Result<void>> send_piece(Stream* s, std::string* frame, std::string_view data,
                              std::optional<std::uint64_t> length, std::uint64_t* sent,
                              std::error_code* failed) {
    if (*failed) co_return *failed;
    Result<void> r;
    if (length) {
        if (data.size() > *length - *sent) {
            r = std::errc::invalid_argument;
        } else {
            r = co_await s->send_all(std::as_bytes(std::span(data)));
        }
    } else {
        frame->clear();
        format_chunk_header(*frame, data.size());
        const std::array<std::span<const std::byte>, 3> parts = {
            std::as_bytes(std::span(*frame)), std::as_bytes(std::span(data)),
            std::as_bytes(std::span(std::string_view("\r\n")))};
        r = co_await s->send_all(std::span<const std::span<const std::byte>>(parts));
    }
    if (!r) {
        *failed = r.error();
        co_return r;
    }
    *sent += data.size();
    co_return r;
}

// Runs a request's body producer onto `s`, then ends the body (the last chunk, or a check
// that `length` bytes went). The writer's draining() is the request's stop token: a producer
// that watches it ends at the deadline. `*wire` says whether an error is the connection's
// (a send that failed) rather than the producer's or the length's.
Task<Result<void>> send_produced(Stream* s, BodyProducer produce,
                                 std::optional<std::uint64_t> length, bool* wire) {
    *wire = false;
    std::string frame;
    std::uint64_t sent = 0;
    std::error_code failed;
    const StopToken stop = co_await this_task::stop_token();
    BodyWriter w(
        [s, &frame, length, &sent, &failed](std::string_view data) {
            return send_piece(s, &frame, data, length, &sent, &failed);
        },
        stop);
    auto r = co_await produce(w);
    if (failed) {                                       // whatever the producer made of it
        *wire = failed != std::errc::invalid_argument;  // not a length passed
        co_return failed;
    }
    if (!r) co_return r;
    if (length) {
        if (sent != *length) co_return std::errc::invalid_argument;
        co_return Result<void>{};
    }
    frame.clear();
    format_last_chunk(frame);
    auto end = co_await s->send_all(std::as_bytes(std::span(frame)));
    *wire = !end;
    co_return end;
}

// RFC 9110 §15.4: when a redirect turns the request into a GET, the content goes and with it
// the fields that describe it (the Fetch standard's list, and the framing).
bool content_field(std::string_view name) noexcept {
    return iequals(name, "content-type") || iequals(name, "content-length") ||
           iequals(name, "content-encoding") || iequals(name, "content-language") ||
           iequals(name, "content-location") || iequals(name, "transfer-encoding");
}

// A pooled connection the server has closed, or written to unasked, cannot carry the next
// exchange. A peek finds both before anything is sent, so that any request, not only an
// idempotent one, can go on a new connection instead. A stream that keeps its socket to itself
// (TLS without kernel TLS) cannot be asked: it is tried as before.
bool idle_usable(const Stream& s) noexcept {
    const int fd = s.native_socket();
    return fd < 0 || net::idle_and_open(fd);
}

}  // namespace

struct Client::Hop {
    std::string method;
    Url url;
    std::string key;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    Deadline deadline;
    bool decode = false;                    // we asked for a compressed body: decode it
    BodyProducer producer{};                // a body produced as it is sent (no retries)
    std::optional<std::uint64_t> length{};  // with `producer`: Content-Length, else chunked
    Duration expect{};                      // > 0: Expect: 100-continue, waiting this long
};

// ---- transport --------------------------------------------------------------

Task<Result<Stream>> connect_tcp_using(Origin origin, Deadline deadline, net::Resolver* resolver) {
    if (origin.scheme != "http") co_return std::errc::protocol_not_supported;
    Loop& loop = Loop::current();
    std::vector<net::Address> addrs;
    if (auto lit = net::Address::parse(origin.host + ":" + std::to_string(origin.port))) {
        addrs.push_back(*lit);
    } else {
        std::string name = origin.host;
        if (name.size() > 2 && name.front() == '[') name = name.substr(1, name.size() - 2);
        Result<std::vector<net::Address>> r = std::errc::operation_canceled;
        if (resolver == nullptr) {
            r = co_await net::resolve(std::move(name), origin.port);
        } else if (deadline.is_never()) {
            r = co_await resolver->resolve(std::move(name), origin.port);
        } else {
            r = co_await with_timeout(resolver->resolve(std::move(name), origin.port),
                                      deadline.remaining(loop));
        }
        if (!r) co_return r.error();
        addrs = std::move(*r);
    }
    std::error_code last = std::make_error_code(std::errc::address_not_available);
    for (const net::Address& a : addrs) {
        if (deadline.expired(loop)) co_return std::errc::timed_out;
        const Duration left = deadline.is_never() ? Duration::zero() : deadline.remaining(loop);
        auto s = co_await net::TcpStream::connect(a, left);
        if (s) {
            (void)s->set_nodelay();
            co_return Stream(std::move(*s));
        }
        last = s.error();
        if (last == std::errc::operation_canceled) break;
    }
    co_return last;
}

Task<Result<Stream>> connect_tcp(Origin origin, Deadline deadline) {
    return connect_tcp_using(std::move(origin), deadline, nullptr);
}

Connector tcp_connector(net::Resolver& resolver) {
    return [&resolver](Origin origin, Deadline deadline) {
        return connect_tcp_using(std::move(origin), deadline, &resolver);
    };
}

// ---- content codings ------------------------------------------------------------

namespace {

// ClientOptions::decompress for `req`: asks for compressed bodies (true) unless the
// caller speaks of codings or ranges itself, or asks for a HEAD (whose fields would then
// describe a compressed body).
bool ask_for_codings(ClientRequest& req, bool decompress) {
    const bool ask = decompress && req.method != "HEAD" &&
                     std::none_of(req.headers.begin(), req.headers.end(), [](const auto& h) {
                         return iequals(h.first, "accept-encoding") || iequals(h.first, "range");
                     });
    if (ask) req.headers.emplace_back("Accept-Encoding", "gzip, deflate");
    return ask;
}

// The coding to undo: one Content-Encoding field that is not "identity"; several fields
// (a list of codings applied in turn) are left as they came.
std::optional<std::string_view> coding_of(const Headers& h) {
    const auto coding = h.get("content-encoding");
    if (!coding || h.count("content-encoding") != 1 ||
        iequals(ascii::trim_ows(*coding), "identity")) {
        return std::nullopt;
    }
    return coding;
}

// The fields without those that described the body as sent.
Headers without_coding(const Headers& h) {
    Headers kept;
    for (const Header& f : h) {
        if (!iequals(f.name, "content-encoding") && !iequals(f.name, "content-length")) {
            kept.add(f.name, f.value);
        }
    }
    return kept;
}

}  // namespace

// ---- ResponseStream -----------------------------------------------------------

ResponseStream::ResponseStream(Client* c, BulkheadPermit slot,
                               std::unique_ptr<detail::ClientConn> conn,
                               std::unique_ptr<ResponseParser> p) noexcept
    : client_(c), slot_(std::move(slot)), conn_(std::move(conn)), parser_(std::move(p)) {}
// A moved-from stream has no parser (its reads check that first), no decoder and no head.
ResponseStream::ResponseStream(ResponseStream&& o) noexcept {
    *this = std::move(o);
}
ResponseStream& ResponseStream::operator=(ResponseStream&& o) noexcept {
    if (this == &o) return *this;
    client_ = std::exchange(o.client_, nullptr);
    conn_ = std::move(o.conn_);  // the connection held is closed before its slot is given back
    slot_ = std::move(o.slot_);
    parser_ = std::move(o.parser_);
    done_ = o.done_;
    request_close_ = o.request_close_;
    decoder_ = std::exchange(o.decoder_, std::nullopt);
    decoded_head_ = std::move(o.decoded_head_);
    coded_ = std::move(o.coded_);
    coded_pos_ = o.coded_pos_;
    coded_len_ = o.coded_len_;
    coded_end_ = o.coded_end_;
    coded_any_ = o.coded_any_;
    return *this;
}

const ParsedResponse& ResponseStream::moved_from_head() noexcept {
    static const ParsedResponse none{};
    return none;
}
ResponseStream::~ResponseStream() = default;

void ResponseStream::finish() noexcept {
    done_ = true;
    if (decoded_head_) {  // what the parser learnt after the head (trailers, until_close)
        decoded_head_->trailers = parser_->response().trailers;
        decoded_head_->until_close = parser_->response().until_close;
    }
    // Bytes after the response mean the server sent something we did not ask
    // for: such a connection is not reused.
    // RFC 9112 §9.6: after a request that said "Connection: close", no other request
    // goes on the connection, whatever the response says; after 101 it is no longer HTTP.
    if (conn_ && client_ != nullptr && !request_close_ && parser_->response().status != 101 &&
        parser_->response().keep_alive() && conn_->begin == conn_->end) {
        client_->put_idle(std::move(conn_));
    }
    conn_.reset();
    slot_.release();  // after the connection is pooled: the next waiter takes it
}

Task<Result<std::size_t>> ResponseStream::read(std::span<std::byte> buf) {
    if (!parser_) co_return std::errc::bad_file_descriptor;  // moved from
    if (!decoder_) co_return co_await read_raw(buf);
    if (buf.empty()) co_return std::size_t(0);
    constexpr std::size_t coded_size = 16 * 1024;
    for (;;) {
        const std::string_view coded(reinterpret_cast<const char*>(coded_.get()) + coded_pos_,
                                     coded_len_ - coded_pos_);
        auto step = decoder_->decode(coded, buf);
        if (!step) co_return step.error();
        coded_pos_ += step->used;
        if (step->written > 0) co_return step->written;
        // No output with room for it: every coded byte is in (the decoder takes all
        // it is given until `buf` fills); else it would be lost below.
        if (coded_pos_ != coded_len_) co_return std::errc::illegal_byte_sequence;
        if (coded_end_) {  // the body as sent is over; an empty one has nothing to decode
            if (!coded_any_) co_return std::size_t(0);
            auto f = decoder_->finish();
            if (!f) co_return f.error();
            co_return std::size_t(0);
        }
        // Nothing is pending while we wait: a failed or cancelled read can be retried.
        coded_pos_ = coded_len_ = 0;
        if (!coded_) coded_ = std::make_unique_for_overwrite<std::byte[]>(coded_size);
        auto n = co_await read_raw(std::span(coded_.get(), coded_size));
        if (!n) co_return n.error();
        coded_len_ = *n;
        coded_end_ = *n == 0;
        coded_any_ = coded_any_ || *n > 0;
    }
}

Task<Result<std::size_t>> ResponseStream::read_raw(std::span<std::byte> buf) {
    if (done_ || buf.empty()) co_return std::size_t(0);
    detail::ClientConn& c = *conn_;
    for (;;) {
        if (c.begin < c.end) {
            const std::size_t avail = std::min(c.end - c.begin, buf.size());
            c.begin += parser_->feed(std::string_view(c.in.get() + c.begin, avail));
            if (parser_->state() == ParseState::error) co_return framing_error();
            std::string_view piece = parser_->body_piece();
            if (parser_->state() == ParseState::done && piece.empty()) {
                finish();
                co_return std::size_t(0);
            }
            if (!piece.empty()) {
                std::memcpy(buf.data(), piece.data(), piece.size());
                if (parser_->state() == ParseState::done) finish();
                co_return piece.size();
            }
            continue;
        }
        auto n = co_await c.receive();
        if (!n) co_return n.error();
        if (*n == 0) {
            if (parser_->finish_eof() == ParseState::done) {  // a body delimited by close
                finish();
                co_return std::size_t(0);
            }
            co_return Errc::eof;
        }
    }
}

Task<Result<std::string>> ResponseStream::read_all(std::size_t max) {
    return detail::read_all([this](std::span<std::byte> b) { return read(b); }, max);
}

// ---- Client ----------------------------------------------------------------------

Client::Client(ClientOptions opts) : opts_(std::move(opts)) {
    if (!opts_.connect) opts_.connect = connect_tcp;
    if (opts_.breaker) breakers_ = std::make_unique<CircuitBreakerMap>(*opts_.breaker);
}

Client::~Client() = default;

std::size_t Client::idle_connections() const noexcept {
    std::size_t n = 0;
    for (const auto& [k, v] : idle_)
        n += v.size();
    return n;
}

void Client::close_idle() noexcept {
    idle_.clear();
}

std::unique_ptr<detail::ClientConn> Client::take_idle(const std::string& key) {
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    const TimePoint now = Loop::current().now();
    while (!it->second.empty()) {
        std::unique_ptr<detail::ClientConn> c = std::move(it->second.back());
        it->second.pop_back();
        if (now - c->idle_since <= opts_.idle_timeout && idle_usable(c->s)) return c;
        // else closed here
    }
    return nullptr;
}

void Client::put_idle(std::unique_ptr<detail::ClientConn> c) {
    auto& v = idle_[c->key];
    if (v.size() >= opts_.max_idle_per_origin) return;  // closes it
    c->idle_since = Loop::current().now();
    v.push_back(std::move(c));
}

Task<Result<ResponseStream>> Client::send(const Hop& hop) {
    std::string head;
    Headers connection;  // the request's Connection fields
    // The jar keys cookies by the URL's host: a request with a Host of the caller's (another
    // site on that address) neither sends nor stores them.
    CookieJar* jar = opts_.cookies.get();
    // RFC 9110 §10.1.1: no Expect on a request without content.
    const bool has_body = !hop.body.empty() || (hop.producer && hop.length.value_or(1) > 0);
    bool expecting = hop.expect > Duration::zero() && has_body;
    bool added_expect = false;  // the Expect field is ours (not the caller's)
    try {
        std::vector<HeaderView> fields;
        bool has_agent = false, has_cookie = false, has_expect = false;
        std::string host = hop.url.authority();
        for (const auto& [n, v] : hop.headers) {
            if (iequals(n, "host")) {
                host = v;  // the caller's Host stands for the URL's (virtual hosts)
                jar = nullptr;
                continue;
            }
            fields.push_back({n, v});
            if (iequals(n, "user-agent")) has_agent = true;
            if (iequals(n, "cookie")) has_cookie = true;
            if (iequals(n, "expect")) has_expect = true;
            if (iequals(n, "connection")) connection.add(n, v);
        }
        if (!has_agent && !opts_.user_agent.empty())
            fields.push_back({"User-Agent", opts_.user_agent});
        std::string cookies;
        if (jar != nullptr && !has_cookie) cookies = jar->header_for(hop.url);
        if (!cookies.empty()) fields.push_back({"Cookie", cookies});
        const std::string length = std::to_string(hop.length.value_or(hop.body.size()));
        if (hop.producer && !hop.length) {
            fields.push_back({"Transfer-Encoding", "chunked"});
        } else if (hop.producer || !hop.body.empty() || hop.method == "POST" ||
                   hop.method == "PUT" || hop.method == "PATCH") {
            fields.push_back({"Content-Length", length});
        }
        // Last, so that a 417 can take it off the head's end again.
        added_expect = expecting && !has_expect;
        if (added_expect) fields.push_back({"Expect", "100-continue"});
        format_request(head, hop.method, hop.url.target(), host, fields);
    } catch (const std::invalid_argument&) {
        co_return std::errc::invalid_argument;
    }
    // With max_connections_per_origin, a permit per connection in use: a holder takes an idle
    // connection or, when there is none, opens one; so in use + idle never passes the limit.
    BulkheadPermit slot;
    if (opts_.max_connections_per_origin > 0) {
        Bulkhead& b = slots_.try_emplace(hop.key, opts_.max_connections_per_origin).first->second;
        if (std::optional<BulkheadPermit> now = b.try_acquire()) {
            slot = std::move(*now);
        } else {
            ++stats_.waits;
            auto permit = co_await b.acquire();
            if (!permit) co_return permit.error();  // cancelled (at the deadline: timed_out)
            slot = std::move(*permit);
        }
    }
    const bool may_replay = idempotent(hop.method);
    bool replaced_stale = false;  // a pooled connection the server had closed was replaced
    bool fresh = false;           // the next round takes a new connection (after a 417)
    for (;;) {
        std::unique_ptr<detail::ClientConn> conn = fresh ? nullptr : take_idle(hop.key);
        const bool reused = conn != nullptr;
        if (reused) {
            ++stats_.reuses;
        } else {
            auto s = co_await opts_.connect(hop.url.origin(), hop.deadline);
            if (!s) co_return s.error();
            conn = std::make_unique<detail::ClientConn>();
            conn->s = std::move(*s);
            conn->key = hop.key;
            ++stats_.connects;
        }
        ++stats_.requests;
        // A pooled connection the server closed meanwhile fails at once (or gives EOF before
        // any byte): then once more on a new connection, for requests that may be replayed.
        // The origin's other idle connections are older (the pool is last in, first out), so
        // an idle timeout closed them too, and with a stream the peek cannot see through (TLS)
        // nothing would tell: they go, and the request takes a new connection.
        const bool may_retry = reused && may_replay && !replaced_stale;
        const auto replace_stale = [&] {
            idle_.erase(hop.key);
            replaced_stale = true;
        };
        // The body's cap is the caller's: max_body for fetch(), none for a stream.
        ResponseParser::Limits limits = opts_.limits;
        limits.max_body = std::numeric_limits<std::size_t>::max();
        auto parser = std::make_unique<ResponseParser>(limits);
        parser->set_stream_body(true);
        parser->set_head_request(hop.method == "HEAD");
        HeadRead st;
        bool close_after = false;  // the body did not (all) go: the connection cannot go on
        // With Expect: 100-continue the body waits for the server's word.
        const bool body_now = !expecting && !hop.body.empty();
        const std::array<std::span<const std::byte>, 2> parts = {
            std::as_bytes(std::span(head)), std::as_bytes(std::span(hop.body))};
        auto w = co_await conn->s.send_all(
            std::span<const std::span<const std::byte>>(parts.data(), body_now ? 2 : 1));
        if (!w) {
            if (may_retry && stale_connection_error(w.error())) {
                replace_stale();
                continue;
            }
            if (!body_now) co_return w.error();
            close_after = co_await answered_anyway(conn.get(), parser.get(), &st, w.error());
            if (!close_after) co_return w.error();
        }
        if (!close_after && expecting) {
            // Nothing of the body went yet: a stale connection may be replaced even for a
            // produced body.
            auto early =
                co_await read_head(conn.get(), parser.get(), &st, may_retry, true, hop.expect);
            if (!early) co_return early.error();
            if (st.stale) {
                replace_stale();
                continue;
            }
            if (*early && parser->response().status == 417 && added_expect) {
                // Expectation Failed: the same request at once without Expect (RFC 9110
                // §15.5.18), on a new connection (this one waits for a body we never send).
                if (jar != nullptr) jar->store(hop.url, parser->response().headers);
                expecting = false;
                fresh = true;
                head.erase(head.size() - 2 - expect_field.size(), expect_field.size());
                continue;
            }
            if (*early) {
                close_after = true;  // the body was never sent: the connection cannot go on
            } else if (!hop.body.empty()) {
                auto b = co_await conn->s.send_all(std::as_bytes(std::span(hop.body)));
                if (!b) {
                    close_after =
                        co_await answered_anyway(conn.get(), parser.get(), &st, b.error());
                    if (!close_after) co_return b.error();
                }
            }
        }
        if (!close_after && hop.producer) {
            // A produced body goes once: from here on no second try.
            bool wire = false;
            auto b = co_await send_produced(&conn->s, hop.producer, hop.length, &wire);
            if (!b && !wire) co_return b.error();  // the producer's: the connection closes
            if (!b) {
                close_after = co_await answered_anyway(conn.get(), parser.get(), &st, b.error());
                if (!close_after) co_return b.error();
            }
        }
        if (!parser->headers_complete()) {
            const bool may_resend = may_retry && !hop.producer;  // once a produced body went
            auto done = co_await read_head(conn.get(), parser.get(), &st, may_resend, false,
                                           Duration::zero());
            if (!done) co_return done.error();
            if (st.stale) {
                replace_stale();
                continue;
            }
        }
        if (jar != nullptr) jar->store(hop.url, parser->response().headers);
        ResponseStream rs(this, std::move(slot), std::move(conn), std::move(parser));
        rs.request_close_ = close_after || connection.has_token("connection", "close");
        if (rs.parser_->state() == ParseState::done) rs.finish();
        co_return rs;
    }
}

Task<Result<ClientResponse>> Client::exchange(const Hop& hop) {
    auto rs = co_await send(hop);
    if (!rs) co_return rs.error();
    // A body announced over the cap is refused before it is read.
    if (!rs->done_) {
        auto length = rs->parser_->content_length();
        if (length && *length > opts_.max_body) co_return Errc::limit_exceeded;
    }
    auto body = co_await rs->read_all(opts_.max_body);
    if (!body) co_return body.error();
    ClientResponse out;
    static_cast<ParsedResponse&>(out) = rs->parser_->take_response();
    out.body = std::move(*body);
    co_return out;
}

// The answer of fetch(): where it came from, and its body decoded when we asked for a
// coding (Hop::decode): one Content-Encoding field of gzip, x-gzip or deflate; another
// coding, or several fields, leave it as it came.
Result<ClientResponse> Client::finish(ClientResponse r, const Hop& hop, int hops) const {
    r.url = hop.url.normalized();
    r.redirects = hops;
    const auto coding = coding_of(r.headers);
    if (!hop.decode || !coding || r.body.empty()) return r;
    auto decoded = decode_content(*coding, r.body, opts_.max_body);
    if (!decoded) {
        if (decoded.error() == std::errc::not_supported) return r;
        return decoded.error();
    }
    r.body = std::move(*decoded);
    r.decoded = true;
    r.headers = without_coding(r.headers);
    return r;
}

Task<Result<ClientResponse>> Client::attempt(const Hop& hop) {
    CircuitBreaker* br = breakers_ ? &breakers_->get(hop.key) : nullptr;
    bool (*error_fails)(std::error_code) =
        br != nullptr && br->options().is_failure ? br->options().is_failure : &counts_as_failure;
    // A produced body's own errors (its producer's, a length not kept to) are the caller's:
    // only the transport's count against the origin then.
    const bool produced = static_cast<bool>(hop.producer);
    auto is_failure = [error_fails, produced](const Result<ClientResponse>& r) {
        if (r) return r->status >= 500;
        return error_fails(r.error()) && (!produced || is_transient_error(r.error()));
    };
    auto once = [this, &hop] { return exchange(hop); };
    auto guarded = [br, &once, &is_failure]() -> Task<Result<ClientResponse>> {
        if (br != nullptr) return br->call(once, is_failure);
        return once();
    };
    if (!opts_.retry || hop.producer) co_return co_await guarded();  // a produced body goes once
    const bool idem = idempotent(hop.method);
    const bool retry_5xx = opts_.retry_server_errors && idem;
    bool (*retryable)(std::error_code) = opts_.retry->retryable;
    // 408: the server gave up waiting for the request and closed; it did not act on it, so
    // an idempotent request may be sent again (RFC 9110 §15.5.9).
    auto should_retry = [retry_5xx, idem, retryable](const Result<ClientResponse>& r) {
        if (r) return (retry_5xx && r->status >= 500) || (idem && r->status == 408);
        return idem && retryable != nullptr && retryable(r.error());
    };
    auto rr = co_await retry(opts_.retry->until(hop.deadline), guarded, should_retry);
    if (rr.attempts > 1) stats_.retries += std::uint64_t(rr.attempts - 1);
    co_return std::move(rr.result);
}

Task<Result<ClientResponse>> Client::fetch_hops(ClientRequest req, Url url, bool decode) {
    Hop hop{std::move(req.method),
            url,
            origin_key(url),
            std::move(req.headers),
            std::move(req.body),
            Deadline::never(),
            decode,
            std::move(req.body_producer),
            req.body_length,
            req.expect_continue};
    if (req.deadline) hop.deadline = *req.deadline;
    for (int hops = 0;; ++hops) {
        auto r = co_await attempt(hop);
        if (!r) co_return r;
        auto loc = r->headers.get("Location");
        if (opts_.max_redirects == 0 || !is_redirect(r->status) || !loc) {
            co_return finish(std::move(*r), hop, hops);
        }
        if (hops >= opts_.max_redirects) co_return std::errc::too_many_links;
        auto next = Url::resolve(hop.url, *loc);
        if (!next) co_return finish(std::move(*r), hop, hops);  // nowhere we can go: the answer
        // RFC 9110 §15.4: 303 asks for a GET (HEAD stays HEAD); 301 and 302
        // turn POST into GET as every browser does; 307 and 308 repeat the
        // request as it was.
        const bool to_get = (r->status == 303 && hop.method != "HEAD") ||
                            ((r->status == 301 || r->status == 302) && hop.method == "POST");
        // A produced body cannot be sent again: a redirect that keeps it is the answer.
        if (hop.producer && !to_get) co_return finish(std::move(*r), hop, hops);
        if (to_get) {
            hop.method = "GET";
            hop.body.clear();
            hop.producer = nullptr;
            hop.length.reset();
            std::erase_if(hop.headers, [](const auto& h) {
                return content_field(h.first) || iequals(h.first, "expect");  // no content now
            });
        }
        if (!next->same_origin(hop.url)) {
            std::erase_if(hop.headers, [](const auto& h) {
                return iequals(h.first, "authorization") || iequals(h.first, "cookie") ||
                       iequals(h.first, "proxy-authorization") || iequals(h.first, "host");
            });
        }
        hop.url = std::move(*next);
        hop.key = origin_key(hop.url);
        ++stats_.redirects;
    }
}

Task<Result<ClientResponse>> Client::get(std::string url) {
    ClientRequest req;
    req.url = std::move(url);
    co_return co_await fetch(std::move(req));
}

Task<Result<ClientResponse>> Client::fetch(ClientRequest req) {
    auto url = Url::parse(req.url);
    if (!url || !caller_fields_ok(req.headers) || !body_ok(req)) {
        co_return std::errc::invalid_argument;
    }
    Deadline d = req.deadline                       ? *req.deadline
                 : opts_.timeout > Duration::zero() ? Deadline::after(opts_.timeout)
                                                    : Deadline::never();
    req.deadline = d;
    const bool decode = ask_for_codings(req, opts_.decompress);
    if (d.is_never()) co_return co_await fetch_hops(std::move(req), std::move(*url), decode);
    co_return co_await with_deadline(fetch_hops(std::move(req), std::move(*url), decode), d.when());
}

Task<Result<ResponseStream>> Client::open(ClientRequest req) {
    auto url = Url::parse(req.url);
    if (!url || !caller_fields_ok(req.headers) || !body_ok(req)) {
        co_return std::errc::invalid_argument;
    }
    Deadline d = req.deadline                       ? *req.deadline
                 : opts_.timeout > Duration::zero() ? Deadline::after(opts_.timeout)
                                                    : Deadline::never();
    const bool decode = ask_for_codings(req, opts_.decompress);
    Hop hop{std::move(req.method),
            *url,
            origin_key(*url),
            std::move(req.headers),
            std::move(req.body),
            d,
            false,
            std::move(req.body_producer),
            req.body_length,
            req.expect_continue};
    Result<ResponseStream> rs = std::errc::invalid_argument;
    if (d.is_never()) {
        rs = co_await send(hop);
    } else {
        rs = co_await with_deadline(send(hop), d.when());
    }
    if (!rs || !decode) co_return rs;
    // As fetch(): an empty body is left as it came (fields included).
    const auto coding = coding_of(rs->headers());
    const auto length = rs->headers().get("content-length");
    if (!coding || rs->status() == 204 || rs->status() == 304 || (length && *length == "0")) {
        co_return rs;
    }
    auto decoder = ContentDecoder::make(*coding);
    if (!decoder) co_return rs;  // another coding: the body as it came
    auto head = std::make_unique<ParsedResponse>(rs->head());
    head->headers = without_coding(head->headers);
    rs->decoder_.emplace(std::move(*decoder));
    rs->decoded_head_ = std::move(head);
    co_return rs;
}

}  // namespace corio::http
