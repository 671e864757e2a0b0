#include <corio/http/sse.hpp>

#include <utility>

#include <corio/http/ascii.hpp>

namespace corio::http::sse {

Task<Result<void>> Writer::send(std::string_view data, std::string_view type,
                                std::optional<std::string_view> id) {
    buf_.clear();
    auto ok = detail::format_fields(type, data, id, std::nullopt, buf_);
    if (!ok) co_return ok;
    co_return co_await body_->write(buf_);
}

Task<Result<void>> Writer::send(const Event& e) {
    buf_.clear();
    auto ok = format_event(e, buf_);
    if (!ok) co_return ok;
    co_return co_await body_->write(buf_);
}

Task<Result<void>> Writer::comment(std::string_view text) {
    buf_.clear();
    format_comment(text, buf_);
    co_return co_await body_->write(buf_);
}

namespace {

// The body of an event stream: `producer` on a Writer over `body`. `producer` is a copy:
// the response's may be called on a temporary.
Task<Result<void>> run(Producer producer, BodyWriter& body) {
    Writer w(body);
    co_return co_await producer(w);
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

Reader::Reader(ResponseStream& stream, Parser::Limits limits)
    : stream_(&stream), parser_(limits), buf_(std::make_unique<std::array<std::byte, 4096>>()) {}

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

}  // namespace corio::http::sse
