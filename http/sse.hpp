#pragma once
// Server-sent events on corio::http: a route that streams events, and a
// client that reads them (the text/event-stream format of the HTML standard,
// §9.2; the format itself is in <corio/http/sse_codec.hpp>).
//
//   router.get("/ticks", [](http::Request&) -> Task<http::Response> {
//       co_return http::sse::response([](http::sse::Writer& w) -> Task<Result<void>> {
//           for (int i = 0;; ++i) {
//               auto sent = co_await w.send(std::to_string(i), "tick");
//               if (!sent) co_return sent;  // the client went away
//               (void)co_await sleep_for(std::chrono::seconds(1));
//           }
//       });
//   });
//
//   auto stream = co_await http::sse::open(client, "http://127.0.0.1:8080/ticks");
//   if (!stream) co_return;
//   http::sse::Reader events(*stream);
//   for (;;) {
//       auto e = co_await events.next();
//       if (!e || !*e) break;  // an error, or the end of the stream
//       fmt::print("{}: {}\n", (*e)->type, (*e)->data);
//   }
//
// Each event goes out as one chunk at once (through http::compress() too,
// which flushes every write). An EventSource reconnects by itself, as a
// browser's does; with open() and a Reader, reconnecting is the caller's.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <corio/http/client.hpp>
#include <corio/http/message.hpp>
#include <corio/http/sse_codec.hpp>
#include <corio/runtime/cancel.hpp>
#include <corio/runtime/clock.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/result.hpp>
#include <corio/runtime/sync.hpp>
#include <corio/runtime/task.hpp>

namespace corio::http::sse {

namespace detail {
/// Not API: how response() holds a drain back while a send is under way.
struct WriterDrain {
    corio::Event drained;    ///< set when the producer is to stop
    bool requested = false;  ///< the server drains
    bool writing = false;    ///< a send is under way
};
}  // namespace detail

/// Sends events on a streamed response (see response()). Calls from several
/// tasks of the producer go out one after another, each whole; those tasks
/// must be over when the producer returns (the Writer goes with it), so a
/// producer cancels and awaits the tasks it started (a TaskGroup's cancel()
/// and wait()). For a heartbeat, response()'s parameter does this already.
/// Lives on the response's loop.
class Writer {
public:
    /// A writer on `body`; `drain` is response()'s (not API).
    explicit Writer(BodyWriter& body, detail::WriterDrain* drain = nullptr) noexcept
        : body_(&body), drain_(drain) {}
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    /// Sends an event with `data` (several lines for a `data` with line
    /// breaks), of `type` (empty: none, which clients see as "message"), with
    /// `id` when given. Errors: the connection's; std::errc::invalid_argument
    /// for a `type` or `id` that format_event() refuses (nothing is sent).
    Task<Result<void>> send(std::string_view data, std::string_view type = {},
                            std::optional<std::string_view> id = std::nullopt);
    /// Sends `e`, as format_event() writes it.
    Task<Result<void>> send(const Event& e);
    /// Sends a comment line: clients ignore it; a proxy sees traffic (send
    /// one every 15-30 s on a quiet stream).
    Task<Result<void>> comment(std::string_view text = {});

    /// The server's drain signal (BodyWriter::draining()); response() acts
    /// on it by itself: from then on sends are refused with
    /// std::errc::operation_canceled and nothing goes out (a send under way
    /// finishes).
    StopToken draining() const noexcept { return body_->draining(); }
    /// The error of the first send that failed (none yet: empty): after it
    /// the stream cannot end cleanly.
    std::error_code failed() const noexcept { return failed_; }

    /// Sends an empty comment whenever nothing went out for `every` (taken
    /// between 1 ms and a day), until a send fails or is refused (its error)
    /// or the calling task is cancelled. response() runs it beside the
    /// producer when given a heartbeat.
    Task<Result<void>> heartbeat(std::chrono::milliseconds every);
    /// Refuses every later send (std::errc::operation_canceled, nothing
    /// sent), once a send under way is over. response() calls it when the
    /// producer returns.
    Task<void> close();
    /// Comments heartbeat() sent.
    std::uint64_t heartbeats() const noexcept { return heartbeats_; }

private:
    Task<Result<void>> write();

    BodyWriter* body_;
    detail::WriterDrain* drain_;
    Mutex mu_;  // one call at a time formats into buf_ and writes it
    std::string buf_;
    std::error_code failed_;
    bool closed_ = false;
    TimePoint last_write_ = start_time();  // the last send that went out, or the start
    static TimePoint start_time() noexcept {
        Loop* l = Loop::current_or_null();
        return l != nullptr ? l->now() : TimePoint{};
    }
    std::uint64_t heartbeats_ = 0;
};

/// Writes the events of one response; returning ends the stream. Copyable (a
/// std::function): hold move-only state through a shared_ptr.
using Producer = std::function<Task<Result<void>>(Writer&)>;

/// A 200 response whose body is the event stream `producer` writes, with
/// Content-Type: text/event-stream and Cache-Control: no-cache. When the
/// server starts to drain, the producer is cancelled where it waits
/// (std::errc::operation_canceled there; a send under way finishes first,
/// later ones are refused) and the stream ends cleanly at once, rather than
/// holding the server for its grace and then breaking: clients reconnect
/// after their reconnection time, to the server that takes over. With a
/// `heartbeat` above zero an empty comment goes out whenever the stream was
/// quiet that long (Writer::heartbeat(); proxies close connections idle for
/// about a minute: 15-30 s suits them); a heartbeat that cannot be sent ends
/// the stream (the client is gone).
Response response(Producer producer,
                  std::chrono::milliseconds heartbeat = std::chrono::milliseconds(0));

/// GETs `url` as an event stream: Accept: text/event-stream, Cache-Control:
/// no-cache, and Last-Event-ID when `last_event_id` is not empty (to resume
/// after a reconnect; left out when it could not be a field value). No
/// redirect is followed (EventSource does follow them: use Client::open()
/// with your own handling). The client's deadline bounds the head only. Errors:
/// the client's (Client::open()); std::errc::protocol_error for an answer
/// that is not a 200 of type text/event-stream (the standard's "fail the
/// connection": a server says "stop reconnecting" with 204). Use
/// Client::open() yourself to look at such an answer.
Task<Result<ResponseStream>> open(Client& client, std::string url,
                                  std::string_view last_event_id = {});

/// Reads the events of a response stream, one at a time.
class Reader {
public:
    /// A reader of `stream` (which must outlive it), parsing within `limits`,
    /// going on from `last_event_id` (see Parser's constructor).
    explicit Reader(ResponseStream& stream, Parser::Limits limits = {},
                    std::string last_event_id = {});

    /// The next event, or nullopt when the stream ended (an event cut off by
    /// the end is dropped, as the standard says; nullopt again after). Errors:
    /// the stream's; Errc::limit_exceeded for a line or event past the limits
    /// (after the events before it); an error is given again by later calls.
    Task<Result<std::optional<Event>>> next();

    /// The last event ID as of the events next() gave (for open() when
    /// reconnecting): events parsed but not yet given do not count, so a
    /// resume never skips one.
    const std::string& last_event_id() const noexcept {
        return next_ < ready_.size() ? given_id_ : parser_.last_event_id();
    }
    /// The reconnection time the stream asked for, if any.
    std::optional<std::chrono::milliseconds> retry() const noexcept { return parser_.retry(); }

private:
    ResponseStream* stream_;
    Parser parser_;
    std::vector<Event> ready_;
    std::size_t next_ = 0;
    std::error_code error_;  // the parser's or the stream's: given from then on
    bool ended_ = false;     // the stream ended: nullopt from then on
    std::string given_id_;   // the id of the last event given
    std::unique_ptr<std::array<std::byte, 4096>> buf_;
};

/// How an EventSource reconnects.
struct SourceOptions {
    /// The reconnection time until a stream sets its own ("retry" field; at
    /// most a day is taken): the wait after a stream that gave events ends or
    /// breaks, plus up to half of it at random (the standard leaves the
    /// default to the client; browsers wait about 3 s).
    std::chrono::milliseconds retry{3000};
    /// The longest wait after attempts that gave no event (no stream opened,
    /// or one that ended first): such waits double from the reconnection
    /// time (at least 100 ms) up to this (or the reconnection time when it
    /// is longer), plus up to half at random.
    std::chrono::milliseconds max_retry{60000};
    /// Attempts in a row that fail to open a stream before next() gives up
    /// with the last one's error; 0: it never gives up.
    int max_failures = 0;
    /// Sent as Last-Event-ID with the first request (to go on from a stream
    /// read before); later ones send the last event's ID.
    std::string last_event_id{};
    /// The parser's limits, on every connection.
    Parser::Limits limits{};
};

/// An event stream that reconnects by itself, as a browser's EventSource: a
/// stream that ends or breaks is opened again after the reconnection time,
/// with Last-Event-ID, and its events go on where the last one given left
/// off; an attempt that gives no event is made again after a growing wait.
/// Redirects (301, 302, 303, 307, 308) are followed, up to the client's
/// max_redirects; each reconnection starts from the URL it was given.
/// Lives on one loop; one next() at a time; it must not be moved or
/// destroyed while a next() is suspended.
class EventSource {
public:
    /// A source of the events at `url`, through `client` (which must outlive
    /// it). Nothing is sent until the first next().
    EventSource(Client& client, std::string url, SourceOptions options = {});

    /// The next event, connecting (again) first when no stream is open. It
    /// never ends by itself. Errors: std::errc::operation_canceled when the
    /// calling task is cancelled (the stream and any wait are kept: call it
    /// again to go on); and from then on, on every call:
    /// std::errc::protocol_error for an answer that is not a 200 event stream
    /// (a server stops its clients with 204, as the standard says) or a
    /// redirect to what is not an http(s) URL; std::errc::too_many_links past
    /// the client's max_redirects;
    /// Errc::limit_exceeded for a line or event past `limits` (reconnecting
    /// would bring it again); the last attempt's error after `max_failures`
    /// attempts in a row failed to open a stream.
    Task<Result<Event>> next();

    /// The ID of the last event next() gave (or SourceOptions::last_event_id):
    /// what the next connection sends as Last-Event-ID.
    const std::string& last_event_id() const noexcept { return last_id_; }
    /// The reconnection time: SourceOptions::retry, or the last one a stream set.
    std::chrono::milliseconds retry() const noexcept { return retry_; }
    /// Streams opened so far (a 200 event stream each).
    std::uint64_t connections() const noexcept { return connections_; }
    /// Whether a stream is open now.
    bool connected() const noexcept { return reader_.has_value(); }

private:
    enum class Drop : std::uint8_t { no_stream, empty_stream, after_events };
    Task<Result<ResponseStream>> connect();
    void dropped(std::error_code why, Drop how);

    Client* client_;
    std::string url_;
    SourceOptions opts_;
    std::string last_id_;
    std::chrono::milliseconds retry_;
    std::unique_ptr<ResponseStream> stream_;
    std::optional<Reader> reader_;    // on *stream_ (declared after it: destroyed first)
    std::mt19937_64 rng_;             // the waits' jitter
    int failures_ = 0;                // attempts in a row that gave no event: the backoff's step
    int open_failures_ = 0;           // attempts in a row that opened no stream: max_failures
    bool got_event_ = false;          // the open stream gave one
    TimePoint reconnect_at_{};        // no attempt before this
    std::error_code error_;           // the error that stopped it: given from then on
    std::uint64_t connections_ = 0;
};

}  // namespace corio::http::sse
