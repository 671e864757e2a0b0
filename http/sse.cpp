#include <corio/http/sse.hpp>

#include <algorithm>
#include <utility>

#include <corio/http/ascii.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/resilience.hpp>
#include <corio/runtime/sync.hpp>
#include <corio/runtime/timer.hpp>
#include <corio/runtime/when_any.hpp>

namespace corio::http::sse {

Task<Result<void>> Writer::send(std::string_view data, std::string_view type,
                                std::optional<std::string_view> id) {
    auto guard = co_await mu_.lock();
    if (!guard) co_return guard.error();
    buf_.clear();
    auto ok = detail::format_fields(type, data, id, std::nullopt, buf_);
    if (!ok) co_return ok;
    co_return co_await write();
}

Task<Result<void>> Writer::send(const Event& e) {
    auto guard = co_await mu_.lock();
    if (!guard) co_return guard.error();
    buf_.clear();
    auto ok = format_event(e, buf_);
    if (!ok) co_return ok;
    co_return co_await write();
}

Task<Result<void>> Writer::comment(std::string_view text) {
    auto guard = co_await mu_.lock();
    if (!guard) co_return guard.error();
    buf_.clear();
    format_comment(text, buf_);
    co_return co_await write();
}

Task<Result<void>> Writer::write() {
    // Refused, with nothing sent and nothing failed: after close(), once the server drains
    // (a send under way when it began finishes: cancelling it could cut a chunk in half), and
    // for a task already asked to stop.
    if (closed_ || (drain_ != nullptr && drain_->requested)) {
        co_return std::errc::operation_canceled;
    }
    const StopToken stop = co_await this_task::stop_token();
    if (stop.stop_requested()) co_return std::errc::operation_canceled;
    if (drain_ != nullptr) drain_->writing = true;
    auto r = co_await body_->write(buf_);
    if (drain_ != nullptr) {
        drain_->writing = false;
        if (drain_->requested) drain_->drained.set();  // deferred by this send
    }
    if (!r && !failed_) failed_ = r.error();
    if (r) last_write_ = Loop::current().now();
    co_return r;
}

Task<void> Writer::close() {
    auto guard = co_await mu_.lock();  // after a send under way (a heartbeat's, say)
    closed_ = true;
}

Task<Result<void>> Writer::heartbeat(std::chrono::milliseconds every) {
    every = std::clamp(every, std::chrono::milliseconds(1),
                       std::chrono::milliseconds(std::chrono::hours(24)));
    for (;;) {
        const TimePoint due = last_write_ + every;
        if (Loop::current().now() < due) {
            const bool slept = co_await sleep_until(due);
            if (!slept) co_return std::errc::operation_canceled;
            continue;  // a send may have gone out meanwhile
        }
        auto guard = co_await mu_.lock();
        if (!guard) co_return guard.error();
        if (Loop::current().now() < last_write_ + every) continue;  // one went out meanwhile
        buf_.clear();
        format_comment({}, buf_);
        auto ok = co_await write();
        if (!ok) co_return ok;
        ++heartbeats_;
    }
}

namespace {

Task<Result<void>> until_set(corio::Event* e) {
    co_return co_await e->wait();
}

// The body of an event stream: `producer` on a Writer over `body`, until it returns or the
// server drains. `producer` is a copy: the response's may be called on a temporary.
Task<Result<void>> run(Producer producer, BodyWriter& body, std::chrono::milliseconds heartbeat) {
    const StopToken draining = body.draining();
    if (!draining.stop_possible()) {  // not from a server (a BodyWriter on a sink)
        Writer w(body);
        co_return co_await producer(w);
    }
    if (draining.stop_requested()) co_return Result<void>{};  // begun during a drain: ends now
    detail::WriterDrain drain;
    Writer w(body, &drain);
    StopCallback on_drain(draining, [&drain] {
        drain.requested = true;
        if (!drain.writing) drain.drained.set();  // else when the send is over
    });
    // A heartbeat, when asked for, beside the producer: it ends only when a comment cannot
    // be sent (the client is gone, or the drain refuses it).
    corio::Event never;  // without a heartbeat: a waiter only the race's end stops
    auto beat = [](Writer* w, std::chrono::milliseconds every,
                   corio::Event* none) -> Task<Result<void>> {
        if (every.count() <= 0) co_return co_await none->wait();
        co_return co_await w->heartbeat(every);
    };
    // The producer's slot ends after close(): no send of the heartbeat's is under way then,
    // or can start, so winning the race cuts none.
    auto produce = [](Producer* p, Writer* w) -> Task<Result<void>> {
        auto r = co_await (*p)(*w);
        co_await w->close();
        co_return r;
    };
    auto r = co_await when_any(produce(&producer, &w), until_set(&drain.drained),
                               beat(&w, heartbeat, &never));
    for (std::size_t i = 0; i < 3; ++i) {
        if (auto e = r.loser_exception(i)) std::rethrow_exception(e);
    }
    // A send cut short (a client gone, a timeout, a cancel) breaks the chunked framing.
    if (w.failed()) co_return w.failed();
    // Drained: the producer stopped where it waited, or had a send refused: a clean end.
    if (drain.requested) co_return Result<void>{};
    Result<void>* mine = r.result<0>();
    if (r.index() == 0) co_return std::move(*mine);
    // A heartbeat that could not be sent: the connection is broken.
    if (r.index() == 2 && std::get<2>(r).error() != std::errc::operation_canceled) {
        co_return std::move(std::get<2>(r));
    }
    // The connection itself was stopped: the producer's outcome.
    if (mine != nullptr && !*mine) co_return std::move(*mine);
    co_return std::errc::operation_canceled;
}

// The request of an event stream from `url`, going on from `last_event_id`.
ClientRequest stream_request(std::string url, std::string_view last_event_id) {
    ClientRequest req;
    req.url = std::move(url);
    req.headers.emplace_back("Accept", "text/event-stream");
    req.headers.emplace_back("Cache-Control", "no-cache");
    if (!last_event_id.empty() && valid_field_value_text(last_event_id)) {
        req.headers.emplace_back("Last-Event-ID", last_event_id);
    }
    return req;
}

bool is_event_stream(const ResponseStream& s) {
    const auto type = media_type(s.headers().get("Content-Type").value_or(""));
    return s.status() == 200 && ascii::iequals(type, "text/event-stream");
}

}  // namespace

Response response(Producer producer, std::chrono::milliseconds heartbeat) {
    Response r = Response::stream(200, [p = std::move(producer), heartbeat](BodyWriter& body) {
        return run(p, body, heartbeat);
    });
    r.set("Content-Type", "text/event-stream");
    r.set("Cache-Control", "no-cache");
    return r;
}

Task<Result<ResponseStream>> open(Client& client, std::string url, std::string_view last_event_id) {
    auto s = co_await client.open(stream_request(std::move(url), last_event_id));
    if (!s) co_return s.error();
    if (!is_event_stream(*s)) co_return std::errc::protocol_error;
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

namespace {

constexpr std::chrono::milliseconds min_backoff{100};
// A reconnection time beyond this (a day) is taken as this: the waits stay far from the
// clock's range.
constexpr std::chrono::milliseconds max_wait = std::chrono::hours(24);

std::chrono::milliseconds clamped(std::chrono::milliseconds d) {
    return std::clamp(d, std::chrono::milliseconds(0), max_wait);
}

}  // namespace

EventSource::EventSource(Client& client, std::string url, SourceOptions options)
    : client_(&client),
      url_(std::move(url)),
      opts_(std::move(options)),
      last_id_(opts_.last_event_id),
      retry_(clamped(opts_.retry)),
      rng_(corio::detail::random_seed()) {}

Task<Result<ResponseStream>> EventSource::connect() {
    std::string url = url_;
    for (int hops = 0;; ++hops) {
        auto s = co_await client_->open(stream_request(url, last_id_));
        if (!s) co_return s.error();  // no answer: worth another attempt
        const int status = s->status();
        const auto location = s->headers().get("Location");
        if ((status == 301 || status == 302 || status == 303 || status == 307 || status == 308) &&
            location) {
            // A GET with no body: every redirect keeps it as it is. Later connections start
            // from url_ again, as a browser's EventSource does.
            const auto base = Url::parse(url);
            auto to = base ? Url::resolve(*base, *location) : std::nullopt;
            if (!to) co_return error_ = std::make_error_code(std::errc::protocol_error);
            if (hops >= client_->options().max_redirects)
                co_return error_ = std::make_error_code(std::errc::too_many_links);
            url = to->normalized();
            continue;
        }
        // Not an event stream: the standard's "fail the connection", no reconnect.
        if (!is_event_stream(*s))
            co_return error_ = std::make_error_code(std::errc::protocol_error);
        co_return s;
    }
}

Task<Result<Event>> EventSource::next() {
    for (;;) {
        if (error_) co_return error_;
        if (!reader_) {
            if (Loop::current().now() < reconnect_at_) {
                const bool waited = co_await sleep_until(reconnect_at_);
                if (!waited) co_return std::errc::operation_canceled;
            }
            auto s = co_await connect();
            if (!s) {
                if (s.error() == std::errc::operation_canceled && !error_) co_return s.error();
                dropped(s.error(), Drop::no_stream);
                continue;
            }
            ++connections_;
            open_failures_ = 0;
            got_event_ = false;
            stream_ = std::make_unique<ResponseStream>(std::move(*s));
            reader_.emplace(*stream_, opts_.limits, last_id_);
        }
        auto e = co_await reader_->next();
        if (!e && e.error() == std::errc::operation_canceled) co_return e.error();
        last_id_ = reader_->last_event_id();
        if (const auto asked = reader_->retry()) retry_ = clamped(*asked);
        if (e && *e) {
            got_event_ = true;
            co_return std::move(**e);
        }
        // The stream ended or broke: the next attempt goes on from last_id_. A line or event
        // past the limits would come again.
        if (!e && e.error() == Errc::limit_exceeded) error_ = e.error();
        reader_.reset();
        stream_.reset();
        dropped(e ? std::error_code(Errc::eof) : e.error(),
                got_event_ ? Drop::after_events : Drop::empty_stream);
    }
}

void EventSource::dropped(std::error_code why, Drop how) {
    if (error_) return;
    using std::chrono::milliseconds;
    if (how == Drop::no_stream && ++open_failures_ >= opts_.max_failures &&
        opts_.max_failures > 0) {
        error_ = why;
        return;
    }
    milliseconds wait = retry_;
    if (how == Drop::after_events) {
        failures_ = 0;
    } else {
        // Doubling from the reconnection time (at least min_backoff) up to max_retry, but
        // never below the reconnection time.
        const milliseconds cap =
            std::max(std::clamp(opts_.max_retry, min_backoff, max_wait), retry_);
        wait = std::max(retry_, min_backoff);
        for (int i = 0; i < failures_ && wait < cap; ++i)
            wait *= 2;
        wait = std::min(wait, cap);
        ++failures_;
    }
    // Upward jitter of up to half the wait, so that clients dropped together (by a server
    // that drained) do not come back together.
    wait += milliseconds(rng_() % std::uint64_t(wait.count() / 2 + 1));
    reconnect_at_ = Loop::current().now() + wait;
}

}  // namespace corio::http::sse
