#pragma once
// Server-sent events (the text/event-stream format of the HTML standard,
// §9.2) without I/O: events written as the format wants them, and a parser
// that takes the bytes of a stream in any pieces and gives whole events.
// <corio/http/sse.hpp> puts them on a server's response and a client's
// ResponseStream.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <corio/runtime/result.hpp>

namespace corio::http::sse {

/// One event.
struct Event {
    /// The event type ("event" field); a parsed event without one has
    /// "message", as browsers' EventSource gives it.
    std::string type;
    /// The data: the "data" lines joined with '\n'.
    std::string data;
    /// The last event ID: sent as an "id" field when set (writing; "" resets
    /// the client's). A parsed event always has one: the stream's last event
    /// ID when it ended, "" before any id came (it persists from one event to
    /// the next, as the standard says).
    std::optional<std::string> id;
    /// A reconnection time for the client ("retry" field), when set (parsed:
    /// when the event's own lines had one).
    std::optional<std::chrono::milliseconds> retry;
};

/// Appends `e` in the event-stream format to `out`: its fields, a "data"
/// line per line of `e.data` (split at "\r\n", "\n" or "\r"; one empty line
/// for empty data), then the blank line that ends it. Errors:
/// std::errc::invalid_argument, `out` unchanged, when `type` holds CR or LF
/// (it would make fields of its own), when `id` holds a control character
/// (CR, LF and NUL break the format; the others could not go back in a
/// Last-Event-ID field) or begins or ends with a space or tab (a server's
/// field parsing would trim it), or when `retry` is negative.
Result<void> format_event(const Event& e, std::string& out);

namespace detail {
/// Not API: format_event() from views of the fields (Writer::send copies no data into an
/// Event first).
Result<void> format_fields(std::string_view type, std::string_view data,
                           std::optional<std::string_view> id,
                           std::optional<std::chrono::milliseconds> retry, std::string& out);
}  // namespace detail

/// Appends a comment line (": text"; "\r" and "\n" in `text` become spaces):
/// ignored by parsers, it keeps idle connections from looking dead to
/// proxies.
void format_comment(std::string_view text, std::string& out);

/// Parses an event stream as it arrives.
class Parser {
public:
    /// Bounds on what a peer can make it hold.
    struct Limits {
        std::size_t max_line = 64 * 1024;    ///< bytes in one line
        std::size_t max_data = 1024 * 1024;  ///< bytes in one event's data
    };

    /// A parser with the default limits.
    Parser() noexcept = default;
    /// A parser with `limits`.
    explicit Parser(Limits limits) noexcept : limits_(limits) {}
    /// A parser with `limits` that goes on from `last_event_id` (the ID of the
    /// last event of an earlier connection to the same stream): events without
    /// an "id" field carry it, as a browser's EventSource gives them.
    Parser(Limits limits, std::string last_event_id)
        : limits_(limits), id_(last_event_id), last_id_(std::move(last_event_id)) {}

    /// Takes the next bytes of the stream (any split: a line, or its CR LF,
    /// may span calls) and appends the events they complete to `out`. A
    /// leading byte order mark is skipped; comments, unknown fields, a
    /// "retry" that is not all digits and an "id" holding NUL are ignored, as
    /// the standard says. Bytes are taken as they are (invalid UTF-8 is not
    /// replaced). Errors: Errc::limit_exceeded past a limit (the parser stays
    /// failed; events completed before it are in `out`).
    Result<void> feed(std::string_view bytes, std::vector<Event>& out);

    /// The stream's last event ID so far: an "id" field counts once the
    /// blank line after it came (an event cut off before it is not seen, and
    /// its id must not be resumed from). For Last-Event-ID when reconnecting.
    const std::string& last_event_id() const noexcept { return last_id_; }
    /// The last reconnection time the stream asked for, if any.
    std::optional<std::chrono::milliseconds> retry() const noexcept { return retry_; }

private:
    void line(std::string_view l, std::vector<Event>& out);

    Limits limits_;
    std::string partial_;      // a line not yet ended
    std::string type_, data_;  // the event being built
    std::string id_;           // the last event ID buffer: the last "id" field's value
    bool retry_set_ = false;   // a "retry" field came for it
    std::string last_id_;      // as of the last blank line
    std::optional<std::chrono::milliseconds> retry_;
    bool started_ = false;   // past a possible byte order mark
    bool after_cr_ = false;  // the last byte was a CR: a LF next is its pair
    bool failed_ = false;
};

}  // namespace corio::http::sse
