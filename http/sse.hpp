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
// which flushes every write). Reconnecting is the caller's: open() again
// with reader.last_event_id(), after reader.retry() or a delay of one's own.

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <corio/http/client.hpp>
#include <corio/http/message.hpp>
#include <corio/http/sse_codec.hpp>
#include <corio/runtime/result.hpp>
#include <corio/runtime/task.hpp>

namespace corio::http::sse {

/// Sends events on a streamed response (see response()). One call at a
/// time: a producer that also wants a heartbeat waits for its next event with
/// a timeout (when_any with sleep_for) and sends comment() when it fires,
/// rather than running a second task on the same Writer.
class Writer {
public:
    /// A writer on `body`.
    explicit Writer(BodyWriter& body) noexcept : body_(&body) {}

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

private:
    BodyWriter* body_;
    std::string buf_;
};

/// Writes the events of one response; returning ends the stream. Copyable (a
/// std::function): hold move-only state through a shared_ptr. It gets no
/// signal when the server drains: an endless stream is cancelled after the
/// server's grace.
using Producer = std::function<Task<Result<void>>(Writer&)>;

/// A 200 response whose body is the event stream `producer` writes, with
/// Content-Type: text/event-stream and Cache-Control: no-cache.
Response response(Producer producer);

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
    /// A reader of `stream` (which must outlive it), parsing within `limits`.
    explicit Reader(ResponseStream& stream, Parser::Limits limits = {});

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

}  // namespace corio::http::sse
