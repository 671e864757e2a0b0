#include <corio/http/sse.hpp>

#include <algorithm>
#include <utility>

#include <corio/http/ascii.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/sync.hpp>
#include <corio/runtime/timer.hpp>
#include <corio/runtime/when_any.hpp>

namespace corio::http::sse {

Task<Result<void>> Writer::send(std::string_view data, std::string_view type,
                                std::optional<std::string_view> id) {
    buf_.clear();
    auto ok = detail::format_fields(type, data, id, std::nullopt, buf_);
    if (!ok) co_return ok;
    co_return co_await write();
}

Task<Result<void>> Writer::send(const Event& e) {
    buf_.clear();
    auto ok = format_event(e, buf_);
    if (!ok) co_return ok;
    co_return co_await write();
}

Task<Result<void>> Writer::comment(std::string_view text) {
    buf_.clear();
    format_comment(text, buf_);
    co_return co_await write();
}

Task<Result<void>> Writer::write() {
    auto r = co_await body_->write(buf_);
    if (!r && !failed_) failed_ = r.error();
    co_return r;
}

namespace {

Task<Result<void>> until_set(corio::Event* e) {
    co_return co_await e->wait();
}

// The body of an event stream: `producer` on a Writer over `body`, until it returns or the
// server drains. `producer` is a copy: the response's may be called on a temporary.
Task<Result<void>> run(Producer producer, BodyWriter& body) {
    Writer w(body);
    const StopToken draining = body.draining();
    if (!draining.stop_possible()) co_return co_await producer(w);
    corio::Event drained;
    StopCallback on_drain(draining, [&drained] { drained.set(); });
    auto r = co_await when_any(producer(w), until_set(&drained));
    if (r.index() == 0) co_return std::move(std::get<0>(r));
    if (auto e = r.loser_exception(0)) std::rethrow_exception(e);
    // Drained: the producer stopped where it waited. A send it left half done breaks the
    // chunked framing, so the connection ends; otherwise the stream ends cleanly.
    if (w.failed()) co_return w.failed();
    co_return Result<void>{};
}

}  // namespace

Response response(Producer producer) {
    Response r =
        Response::stream(200, [p = std::move(producer)](BodyWriter& body) { return run(p, body); });
    r.set("Content-Type", "text/event-stream");
    r.set("Cache-Control", "no-cache");
    return r;
}

Task<Result<ResponseStream>> open(Client& client, std::string url, std::string_view last_event_id) {
    ClientRequest req;
    req.url = std::move(url);
    req.headers.emplace_back("Accept", "text/event-stream");
    req.headers.emplace_back("Cache-Control", "no-cache");
    if (!last_event_id.empty() && valid_field_value_text(last_event_id)) {
        req.headers.emplace_back("Last-Event-ID", last_event_id);
    }
    auto s = co_await client.open(std::move(req));
    if (!s) co_return s.error();
    const auto type = media_type(s->headers().get("Content-Type").value_or(""));
    if (s->status() != 200 || !ascii::iequals(type, "text/event-stream")) {
        co_return std::errc::protocol_error;
    }
    co_return s;
}

Reader::Reader(ResponseStream& stream, Parser::Limits limits, std::string last_event_id)
    : stream_(&stream),
      parser_(limits, last_event_id),
      given_id_(std::move(last_event_id)),
      buf_(std::make_unique<std::array<std::byte, 4096>>()) {}

Task<Result<std::optional<Event>>> Reader::next() {
    while (next_ == ready_.size()) {
        if (error_) co_return error_;
        if (ended_) co_return std::optional<Event>();
        ready_.clear();
        next_ = 0;
        auto n = co_await stream_->read(*buf_);
        if (!n) {
            // A cancelled read can be retried (the stream keeps nothing half-read).
            if (n.error() != std::errc::operation_canceled) error_ = n.error();
            co_return n.error();
        }
        if (*n == 0) {
            ended_ = true;
            co_return std::optional<Event>();
        }
        auto fed =
            parser_.feed(std::string_view(reinterpret_cast<const char*>(buf_->data()), *n), ready_);
        if (!fed) error_ = fed.error();
    }
    Event& e = ready_[next_++];
    given_id_ = e.id.value_or(std::string());
    co_return std::optional<Event>(std::move(e));
}

EventSource::EventSource(Client& client, std::string url, SourceOptions options)
    : client_(&client),
      url_(std::move(url)),
      opts_(std::move(options)),
      last_id_(opts_.last_event_id),
      retry_(opts_.retry) {}

Task<Result<Event>> EventSource::next() {
    for (;;) {
        if (error_) co_return error_;
        if (!reader_) {
            if (Loop::current().now() < reconnect_at_) {
                const bool waited = co_await sleep_until(reconnect_at_);
                if (!waited) co_return std::errc::operation_canceled;
            }
            auto s = co_await open(*client_, url_, last_id_);
            if (!s) {
                if (s.error() == std::errc::operation_canceled) co_return s.error();
                // Not an event stream: the standard's "fail the connection", no reconnect.
                if (s.error() == std::errc::protocol_error) error_ = s.error();
                dropped(s.error(), false);
                continue;
            }
            ++connections_;
            stream_ = std::make_unique<ResponseStream>(std::move(*s));
            reader_.emplace(*stream_, opts_.limits, last_id_);
        }
        auto e = co_await reader_->next();
        if (!e && e.error() == std::errc::operation_canceled) co_return e.error();
        last_id_ = reader_->last_event_id();
        if (const auto asked = reader_->retry()) retry_ = *asked;
        if (e && *e) co_return std::move(**e);
        // The stream ended or broke: the next attempt goes on from last_id_. A line or event
        // past the limits would come again.
        if (!e && e.error() == Errc::limit_exceeded) error_ = e.error();
        reader_.reset();
        stream_.reset();
        dropped(e ? std::error_code(Errc::eof) : e.error(), true);
    }
}

void EventSource::dropped(std::error_code why, bool opened) {
    if (error_) return;
    std::chrono::milliseconds wait = retry_;
    if (opened) {
        failures_ = 0;
        backoff_.reset();
    } else {
        ++failures_;
        if (opts_.max_failures > 0 && failures_ >= opts_.max_failures) {
            error_ = why;
            return;
        }
        if (!backoff_) {
            RetryPolicy p;
            p.initial_backoff = std::max<Duration>(retry_, std::chrono::milliseconds(100));
            p.max_backoff = std::max<Duration>(opts_.max_retry, std::chrono::milliseconds(0));
            p.jitter = Jitter::equal;
            backoff_.emplace(p);
        }
        wait = std::chrono::duration_cast<std::chrono::milliseconds>(backoff_->next());
    }
    reconnect_at_ = Loop::current().now() + wait;
}

}  // namespace corio::http::sse
