#include <corio/http/websocket.hpp>

#include <pthread.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>
#include <random>
#include <utility>

#include <corio/http/ascii.hpp>
#include <corio/runtime/deadline.hpp>
#include <corio/runtime/log.hpp>
#include <corio/runtime/resilience.hpp>
#include <corio/runtime/sim_io.hpp>
#include <corio/runtime/sync.hpp>
#include <corio/runtime/task_group.hpp>
#include <corio/runtime/timer.hpp>

namespace corio::http::websocket {

namespace {

constexpr std::size_t read_chunk = 16 * 1024;

std::string be16(std::uint16_t v) {
    return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
}

// Which error a close code the reader found stands for.
std::error_code error_for(std::uint16_t code) noexcept {
    switch (code) {
        case close_code::invalid_data:
            return std::make_error_code(std::errc::illegal_byte_sequence);
        case close_code::too_big:
            return Errc::limit_exceeded;
        case close_code::internal_error:
            return std::make_error_code(std::errc::not_enough_memory);
        default:
            return std::make_error_code(std::errc::protocol_error);
    }
}

bool transient(const std::error_code& ec) noexcept {
    return ec == std::errc::operation_canceled || ec == std::errc::timed_out;
}

class Category final : public std::error_category {
public:
    const char* name() const noexcept override { return "corio.websocket"; }
    std::string message(int c) const override {
        switch (static_cast<Error>(c)) {
            case Error::closed:
                return "WebSocket closed";
            case Error::idle_timeout:
                return "WebSocket peer silent for the idle timeout";
        }
        return "Unknown WebSocket error";
    }
};

}  // namespace

const std::error_category& error_category() noexcept {
    static const Category c;
    return c;
}

// ---- WebSocket ----------------------------------------------------------------------

struct WebSocket::State {
    State(Stream st, Role r, Options o, std::string buffered, std::string proto,
          std::optional<DeflateParams> d)
        : s(std::move(st)),
          role(r),
          opts(std::move(o)),
          protocol(std::move(proto)),
          deflate(d),
          reader(r == Role::server, opts.max_message),
          in(new char[std::max(read_chunk, buffered.size())]),
          in_size(std::max(read_chunk, buffered.size())),
          end(buffered.size()) {
        std::memcpy(in.get(), buffered.data(), buffered.size());
        if (!deflate) return;
        reader.enable_deflate();
        // Our compressor: within the window the answer allows us (none below 9, which
        // zlib cannot make: such a side sends its messages uncompressed), fresh for
        // each message when the answer or our options say so.
        const bool server = r == Role::server;
        const int allowed =
            server ? d->server_max_window_bits : std::max(0, d->client_max_window_bits);
        window_bits =
            std::min(std::clamp(opts.deflate.window_bits, 9, 15), allowed > 0 ? allowed : 15);
        no_context_takeover =
            opts.deflate.no_context_takeover ||
            (server ? d->server_no_context_takeover : d->client_no_context_takeover);
    }

    // The payload to send for a data message: `data` itself, or its compressed form
    // in `deflated` (then `compressed` is set). Called with write_mu held.
    std::string_view outgoing(std::string_view data, Compression c, bool& compressed) {
        compressed = false;
        if (!deflate || c == Compression::never || window_bits < 9 ||
            data.size() < opts.deflate.min_size) {
            return data;
        }
        if (!deflater) {
            deflater = std::make_unique<Deflater>(opts.deflate.level, window_bits,
                                                  opts.deflate.mem_level, no_context_takeover);
        }
        deflated.clear();
        try {
            if (!deflater->compress(data, deflated)) return data;
        } catch (...) {
            // Part of the message may be in the compressor's window, but not in the
            // peer's: a fresh compressor keeps the two in step.
            deflater.reset();
            throw;
        }
        compressed = true;
        return deflated;
    }

    // Closes the stream; called with write_mu held, so that no send is in flight.
    void close_stream() noexcept {
        if (!s.is_open()) return;
        (void)s.shutdown(SHUT_WR);
        s.close();
    }

    Stream s;
    Role role;
    Options opts;
    std::string protocol;
    std::optional<DeflateParams> deflate;  // agreed in the handshake
    int window_bits = 0;                   // our compressor's (below 9: we do not compress)
    bool no_context_takeover = false;
    std::unique_ptr<Deflater> deflater;  // made at the first compressed send
    std::string deflated;                // a compressed payload
    Reader reader;
    std::unique_ptr<char[]> in;  // in[begin, end): bytes read and not yet fed
    std::size_t in_size;
    std::size_t begin = 0;
    std::size_t end;
    Mutex write_mu;
    std::string scratch;  // a client's masked frame
    bool close_sent = false;
    bool close_received = false;
    bool reading = false;                  // a task is in receive() (or close() reads the rest)
    bool closing = false;                  // close() took over reading
    TimePoint last_input{};  // idle_timeout counts from here (a receive's start, bytes in)
    bool pinged = false;     // keepalive: the ping of this silence went out
    bool idle = false;       // idle_timeout passed: the connection fails
    std::optional<std::string> owed_pong;  // a ping's answer not sent yet
    std::error_code failed;  // sticky: the connection is done
    std::uint16_t peer_code = 0;
    std::string peer_reason;
};

WebSocket::WebSocket(Stream s, Role role, Options opts, std::string buffered, std::string protocol,
                     std::optional<DeflateParams> deflate)
    : st_(std::make_unique<State>(std::move(s), role, std::move(opts), std::move(buffered),
                                  std::move(protocol), deflate)) {}
WebSocket::WebSocket(WebSocket&&) noexcept = default;
WebSocket& WebSocket::operator=(WebSocket&&) noexcept = default;
WebSocket::~WebSocket() = default;

// A moved-from WebSocket reads as closed; its operations give EBADF.
std::uint16_t WebSocket::close_code() const noexcept {
    return st_ ? st_->peer_code : close_code::abnormal;
}
const std::string& WebSocket::close_reason() const noexcept {
    static const std::string none;
    return st_ ? st_->peer_reason : none;
}
const std::string& WebSocket::protocol() const noexcept {
    static const std::string none;
    return st_ ? st_->protocol : none;
}
const std::optional<DeflateParams>& WebSocket::deflate() const noexcept {
    static const std::optional<DeflateParams> none;
    return st_ ? st_->deflate : none;
}
bool WebSocket::is_open() const noexcept {
    return st_ && !st_->close_sent && !st_->close_received && !st_->failed;
}

Task<Result<void>> WebSocket::send_frame(Opcode op, std::string_view payload, Compression c) {
    if (!st_) co_return std::errc::bad_file_descriptor;
    State& st = *st_;
    auto guard = co_await st.write_mu.lock();
    if (!guard) co_return guard.error();  // cancelled before anything went out
    if (st.failed) co_return st.failed;
    if (st.close_sent || !st.s.is_open()) co_return Error::closed;
    if (op == Opcode::close) st.close_sent = true;
    bool compressed = false;
    if (op == Opcode::text || op == Opcode::binary) payload = st.outgoing(payload, c, compressed);
    Result<void> r;
    if (st.role == Role::server) {
        std::array<char, 14> head{};
        const std::size_t n =
            frame_header(head, op, true, payload.size(), std::nullopt, compressed);
        const std::span<const std::byte> parts[] = {
            std::as_bytes(std::span(head.data(), n)),
            std::as_bytes(std::span(payload.data(), payload.size()))};
        r = co_await st.s.send_all(std::span<const std::span<const std::byte>>(parts));
    } else {
        st.scratch.clear();
        std::uint32_t mask = 0;
        detail::secure_random(&mask, sizeof mask);
        append_frame(st.scratch, op, true, payload, mask, compressed);
        r = co_await st.s.send_all(std::as_bytes(std::span(st.scratch)));
    }
    // A large message's buffers are not kept for the small ones that follow.
    constexpr std::size_t keep = std::size_t(1) << 20;
    if (st.scratch.capacity() > keep) std::string().swap(st.scratch);
    if (st.deflated.capacity() > keep) std::string().swap(st.deflated);
    if (!r) {
        // Part of a frame may have gone out: the stream cannot carry another. The
        // caller gets what cut it off; later calls get connection_aborted, and the
        // peer sees the end at once rather than waiting on half a frame.
        st.failed =
            transient(r.error()) ? std::make_error_code(std::errc::connection_aborted) : r.error();
        if (st.peer_code == 0) st.peer_code = close_code::abnormal;
        (void)st.s.shutdown(SHUT_RDWR);
    }
    co_return r;
}

// Reads and drops what the peer sends, up to `limit` bytes, until its end or an error.
Task<Result<void>> WebSocket::drop_input(std::size_t limit) {
    State& st = *st_;
    for (std::size_t dropped = 0; dropped < limit;) {
        auto n = co_await st.s.recv(std::as_writable_bytes(std::span(st.in.get(), st.in_size)));
        if (!n || *n == 0) break;
        dropped += *n;
    }
    co_return Result<void>{};
}

// Closes the stream once no other task is sending on it; the caller is the only
// reader. `linger`: after a failure, the peer may still be sending: half-close,
// then read and drop its bytes for a while, so that closing does not reset the
// connection and destroy the close frame sent last. A client after a closing handshake
// first waits (until `fin_by`, within close_timeout) for the server to close. A cancelled
// caller leaves the stream to the destructor.
Task<void> WebSocket::end_stream(bool linger, TimePoint fin_by) {
    State& st = *st_;
    if (!linger && st.role == Role::client && st.close_sent && st.close_received &&
        st.s.is_open()) {
        // RFC 6455 §5.5.1, §7.1.1: after the closing handshake the server closes the TCP
        // connection first (so that TIME_WAIT is the server's, not the client's); the client
        // waits for that, within close_timeout, before closing its own end. Nothing but the
        // end should come now: what does is dropped. Nothing is written after both close
        // frames, so this waits without the write lock: a send meanwhile gets Error::closed
        // at once.
        const TimePoint by = std::min(fin_by, Loop::current().now() + st.opts.close_timeout);
        (void)co_await with_deadline(drop_input(64 * 1024), by);
    }
    auto guard = co_await st.write_mu.lock();
    if (!guard || !st.s.is_open()) co_return;
    if (linger) {
        (void)st.s.shutdown(SHUT_WR);
        (void)co_await with_timeout(
            drop_input(1024 * 1024),
            std::min<Duration>(st.opts.close_timeout, std::chrono::seconds(2)));
    }
    st.close_stream();
}

Task<Result<void>> WebSocket::fail(std::error_code ec, std::uint16_t code, std::string_view why) {
    State& st = *st_;
    log_debug("websocket: failing the connection ({}): {}", code, why);
    if (!st.close_sent && !st.failed) {
        const std::string payload = be16(code);
        (void)co_await send_frame(Opcode::close, payload);
    }
    if (!st.failed) st.failed = ec;
    co_await end_stream(true);
    co_return ec;
}

// The close frame owed to a peer whose close arrived: its code echoed (RFC 6455
// §5.5.1), none for a close without one. Then the stream ends.
Task<void> WebSocket::answer_close() {
    State& st = *st_;
    if (!st.close_sent) {
        const std::string echo = st.peer_code == close_code::no_status ? "" : be16(st.peer_code);
        auto sent = co_await send_frame(Opcode::close, echo);
        if (!sent && transient(sent.error()) && !st.failed) co_return;  // still owed
    }
    co_await end_stream(false);
}

Task<Result<Message>> WebSocket::receive() {
    if (!st_) co_return std::errc::bad_file_descriptor;
    State& st = *st_;
    if (st.closing) co_return Error::closed;  // close() reads the rest
    if (st.reading) co_return std::errc::operation_in_progress;
    st.reading = true;
    struct Done {
        bool& reading;
        ~Done() { reading = false; }
    } done{st.reading};
    co_return co_await next_message();
}

// The reader's side of receive(): the caller is the only reader.
Task<Result<Message>> WebSocket::next_message() {
    State& st = *st_;
    if (st.failed) co_return st.failed;
    if (st.close_received) {
        co_await answer_close();  // a cancelled receive may have left it owed
        co_return Error::closed;
    }
    if (!st.s.is_open()) co_return Error::closed;
    if (st.owed_pong && !st.close_sent) {
        auto sent = co_await send_frame(Opcode::pong, *st.owed_pong);
        if (!sent) co_return sent.error();
    }
    st.owed_pong.reset();
    st.last_input = Loop::current().now();  // the idle timeout counts while we wait
    st.pinged = false;
    for (;;) {
        while (st.begin < st.end) {
            st.begin += st.reader.feed(std::string_view(st.in.get() + st.begin, st.end - st.begin));
            switch (st.reader.event()) {
                case Reader::Event::none:
                    break;
                case Reader::Event::text:
                    co_return Message{MessageType::text, st.reader.take_message()};
                case Reader::Event::binary:
                    co_return Message{MessageType::binary, st.reader.take_message()};
                case Reader::Event::ping: {
                    if (st.close_sent) break;
                    // Owed until sent: a receive cancelled on the way leaves it to the next.
                    st.owed_pong = std::string(st.reader.payload());
                    auto sent = co_await send_frame(Opcode::pong, *st.owed_pong);
                    if (!sent) co_return sent.error();
                    st.owed_pong.reset();
                    break;
                }
                case Reader::Event::pong:
                    break;
                case Reader::Event::close: {
                    st.close_received = true;
                    st.peer_code = st.reader.code();
                    st.peer_reason = std::string(st.reader.payload());
                    co_await answer_close();
                    co_return Error::closed;
                }
                case Reader::Event::error: {
                    const std::uint16_t c = st.reader.code();
                    auto r = co_await fail(error_for(c), c, st.reader.reason());
                    co_return r.error();
                }
            }
        }
        st.begin = st.end = 0;
        Result<std::size_t> n = std::errc::operation_canceled;
        if (st.opts.idle_timeout > Duration::zero()) {
            n = co_await idle_recv();
        } else {
            n = co_await st.s.recv(std::as_writable_bytes(std::span(st.in.get(), st.in_size)));
        }
        if (st.idle) {
            if (st.peer_code == 0) st.peer_code = close_code::abnormal;
            auto r = co_await fail(Error::idle_timeout, close_code::going_away, "idle timeout");
            co_return r.error();
        }
        if (n) st.end = *n;
        if (!n || *n == 0) {
            // A cancelled or timed-out receive took nothing: the connection goes on.
            const std::error_code ec = n ? std::error_code(Errc::eof) : n.error();
            if (transient(ec) && !st.failed) co_return ec;
            if (!st.failed) st.failed = ec;
            if (st.peer_code == 0) st.peer_code = close_code::abnormal;
            co_await end_stream(false);
            co_return st.failed;
        }
    }
}

// A receive bounded by Options::idle_timeout from the last bytes that came in; with
// keepalive, a ping goes out when half of it has passed. Sets st.idle when it ran out.
Task<Result<std::size_t>> WebSocket::idle_recv() {
    State& st = *st_;
    const StopToken caller = co_await this_task::stop_token();
    for (;;) {
        const Duration idle = st.opts.idle_timeout;
        const bool ping_first = st.opts.keepalive && !st.pinged && !st.close_sent;
        const TimePoint until = st.last_input + (ping_first ? idle / 2 : idle);
        auto n = co_await with_deadline(
            st.s.recv(std::as_writable_bytes(std::span(st.in.get(), st.in_size))), until);
        if (n) {
            st.last_input = Loop::current().now();
            st.pinged = false;
            co_return n;
        }
        // A timeout of the caller's own (or its cancel) leaves the connection as it is.
        if (n.error() != std::errc::timed_out || caller.stop_requested()) co_return n;
        if (!ping_first) {
            st.idle = true;
            co_return n;
        }
        st.pinged = true;
        auto sent = co_await send_frame(Opcode::ping, {});
        if (!sent) co_return sent.error();
    }
}

Task<Result<void>> WebSocket::send(std::string_view data, MessageType type, Compression c) {
    return send_frame(type == MessageType::text ? Opcode::text : Opcode::binary, data, c);
}

Task<Result<void>> WebSocket::send(std::span<const std::byte> data, Compression c) {
    return send_frame(Opcode::binary,
                      std::string_view(reinterpret_cast<const char*>(data.data()), data.size()), c);
}

Task<Result<void>> WebSocket::ping(std::string payload) {
    if (payload.size() > max_control_payload) co_return std::errc::invalid_argument;
    co_return co_await send_frame(Opcode::ping, payload);
}

Task<Result<void>> WebSocket::close(std::uint16_t code, std::string reason) {
    if (!st_) co_return std::errc::bad_file_descriptor;
    State& st = *st_;
    if (!valid_close_code(code) || reason.size() > max_control_payload - 2) {
        co_return std::errc::invalid_argument;
    }
    if (st.close_received) {  // the peer closed first: what is owed, if anything
        if (!st.reading) co_await answer_close();
        co_return Result<void>{};
    }
    if (st.failed) co_return st.failed;
    // The whole handshake is bounded: our frame may queue behind a large message to a
    // peer that stopped reading.
    const TimePoint deadline = Loop::current().now() + st.opts.close_timeout;
    if (!st.close_sent) {
        std::string payload = be16(code);
        payload += reason;
        auto sent = co_await with_deadline(send_frame(Opcode::close, payload), deadline);
        if (!sent && sent.error() != Error::closed) {
            if (!st.reading) co_await end_stream(false);
            co_return sent;
        }
    }
    if (st.reading) co_return Result<void>{};  // that receive() sees the peer's answer
    // From here this call is the reader: a receive() started now gives Error::closed.
    st.closing = true;
    st.reading = true;
    struct Done {
        bool& reading;
        ~Done() { reading = false; }
    } done{st.reading};
    if (!st.close_received && st.s.is_open()) {
        // Skip what the peer still sends until its close frame (or the deadline).
        auto drain = [](WebSocket* ws) -> Task<Result<void>> {
            for (;;) {
                auto m = co_await ws->next_message();
                if (!m) co_return m.error();
            }
        };
        (void)co_await with_deadline(drain(this), deadline);
        if (!st.close_received && st.peer_code == 0) st.peer_code = close_code::abnormal;
    }
    co_await end_stream(false, deadline);
    co_return Result<void>{};
}

// ---- the server's side of the handshake ---------------------------------------------

bool is_upgrade(const Request& req) noexcept {
    return req.method() == "GET" && req.headers().has_token("upgrade", "websocket") &&
           req.headers().has_token("connection", "upgrade");
}

namespace {

Task<void> guarded(const Session* session, WebSocket* ws, bool* threw) {
    try {
        co_await (*session)(*ws);
    } catch (const std::exception& e) {
        log_warn("websocket: session: {}", e.what());
        *threw = true;
    }
}

// Runs the session until it returns, or until the server drains (then it is
// cancelled and the connection closed with 1001), and closes what it left open.
Task<void> run_session(Stream s, StopToken draining, Session session, Options opts,
                       std::string protocol, std::optional<DeflateParams> deflate) {
    WebSocket ws(std::move(s), WebSocket::Role::server, std::move(opts), {}, std::move(protocol),
                 deflate);
    bool threw = false;
    bool drained = false;
    {
        TaskGroup g;
        g.spawn(guarded(&session, &ws, &threw));
        StopCallback on_drain(draining, [&g, &drained] {
            drained = true;
            g.cancel();
        });
        co_await g.wait();
    }
    const std::uint16_t code = threw     ? close_code::internal_error
                               : drained ? close_code::going_away
                                         : close_code::normal;
    (void)co_await ws.close(code);
}

// The first protocol the client offers (in its order) that the server speaks.
std::string pick_protocol(const Headers& h, const std::vector<std::string>& ours) {
    for (const Header& f : h) {
        if (!ascii::iequals(f.name, "sec-websocket-protocol")) continue;
        std::string_view v = f.value;
        while (!v.empty()) {
            const std::size_t comma = std::min(v.find(','), v.size());
            const std::string_view p = ascii::trim_ows(v.substr(0, comma));
            if (std::find(ours.begin(), ours.end(), p) != ours.end()) return std::string(p);
            v.remove_prefix(std::min(v.size(), comma + 1));
        }
    }
    return {};
}

// The values of every line of field `name`, joined with ", " (RFC 9110 §5.3).
std::string joined(const Headers& h, std::string_view name) {
    std::string v;
    for (const Header& f : h) {
        if (!ascii::iequals(f.name, name)) continue;
        if (!v.empty()) v += ", ";
        v += f.value;
    }
    return v;
}

}  // namespace

Response accept(const Request& req, Session session, Options opts) {
    const auto key = req.header("sec-websocket-key");
    if (!is_upgrade(req) || req.version() != Version::http_1_1 ||
        req.headers().count("sec-websocket-key") != 1 || !valid_key(ascii::trim_ows(*key))) {
        return Response::text(400, "not a WebSocket opening handshake\n");
    }
    const auto version = req.header("sec-websocket-version");
    if (!version || ascii::trim_ows(*version) != "13") {
        Response r = Response::error(426);  // RFC 9110 §15.5.22: names the protocol
        r.set("Upgrade", "websocket");
        r.set("Sec-WebSocket-Version", "13");
        return r;
    }
    std::string protocol = pick_protocol(req.headers(), opts.protocols);
    Response r(101);
    r.set("Upgrade", "websocket");
    r.set("Sec-WebSocket-Accept", accept_key(ascii::trim_ows(*key)));
    if (!protocol.empty()) r.set("Sec-WebSocket-Protocol", protocol);
    const auto deflate = deflate_accept(
        deflate_offers(joined(req.headers(), "sec-websocket-extensions")), opts.deflate);
    if (deflate) r.set("Sec-WebSocket-Extensions", deflate_format(*deflate));
    // A plain function makes the coroutine, so that its arguments live in its frame
    // (a coroutine lambda's captures would die with the std::function).
    r.upgrade = [session = std::move(session), opts = std::move(opts),
                 protocol = std::move(protocol), deflate](Stream s, StopToken draining) {
        return run_session(std::move(s), draining, session, opts, protocol, deflate);
    };
    return r;
}

// ---- the client's side ------------------------------------------------------------

namespace {

Task<Result<WebSocket>> open_websocket(Url url, ConnectOptions opts, Deadline deadline) {
    Connector connector = opts.connect ? std::move(opts.connect) : Connector(connect_tcp);
    auto s = co_await connector(url.origin(), deadline);
    if (!s) co_return s.error();

    std::array<unsigned char, 16> nonce{};
    detail::secure_random(nonce.data(), nonce.size());
    const std::string key = make_key(nonce);
    std::string offered;
    for (const std::string& p : opts.options.protocols) {
        if (!offered.empty()) offered += ", ";
        offered += p;
    }
    std::vector<HeaderView> fields = {{"Upgrade", "websocket"},
                                      {"Connection", "Upgrade"},
                                      {"Sec-WebSocket-Key", key},
                                      {"Sec-WebSocket-Version", "13"}};
    if (!offered.empty()) fields.push_back({"Sec-WebSocket-Protocol", offered});
    const std::string deflate_offered =
        opts.options.deflate.enabled ? deflate_offer(opts.options.deflate) : std::string();
    if (!deflate_offered.empty()) fields.push_back({"Sec-WebSocket-Extensions", deflate_offered});
    for (const Header& h : opts.headers)
        fields.push_back({h.name, h.value});
    std::string request;
    try {
        format_request(request, "GET", url.target(), url.authority(), fields);
    } catch (const std::invalid_argument&) {
        co_return std::errc::invalid_argument;
    }
    auto sent = co_await s->send_all(std::as_bytes(std::span(request)));
    if (!sent) co_return sent.error();

    ResponseParser parser;
    std::string buf(read_chunk, '\0');
    std::string rest;
    while (!parser.headers_complete()) {
        auto n = co_await s->recv(std::as_writable_bytes(std::span(buf)));
        if (!n) co_return n.error();
        if (*n == 0) co_return std::errc::protocol_error;
        const std::string_view got(buf.data(), *n);
        const std::size_t used = parser.feed(got);
        if (parser.state() == ParseState::error) co_return std::errc::protocol_error;
        if (parser.headers_complete()) rest = std::string(got.substr(used));
    }
    const ParsedResponse& resp = parser.response();
    const auto accept = resp.headers.get("sec-websocket-accept");
    const auto chosen = resp.headers.get("sec-websocket-protocol");
    const auto& ours = opts.options.protocols;
    // An extension answer must be to what we offered: permessage-deflate, if anything.
    std::optional<DeflateParams> deflate;
    const bool extension = resp.headers.contains("sec-websocket-extensions");
    if (extension && !deflate_offered.empty()) {
        deflate = deflate_check_answer(joined(resp.headers, "sec-websocket-extensions"));
    }
    if (resp.status != 101 || !resp.headers.has_token("upgrade", "websocket") ||
        !resp.headers.has_token("connection", "upgrade") || !accept ||
        ascii::trim_ows(*accept) != accept_key(key) || (extension && !deflate) ||
        (chosen && std::find(ours.begin(), ours.end(), ascii::trim_ows(*chosen)) == ours.end())) {
        log_debug("websocket: {} refused the handshake ({})", url.normalized(), resp.status);
        co_return std::errc::protocol_error;
    }
    std::string protocol = chosen ? std::string(ascii::trim_ows(*chosen)) : std::string();
    co_return WebSocket(std::move(*s), WebSocket::Role::client, std::move(opts.options),
                        std::move(rest), std::move(protocol), deflate);
}

}  // namespace

Task<Result<WebSocket>> connect(std::string url, ConnectOptions opts) {
    std::string http_url;
    if (ascii::istarts_with(url, "ws://")) {
        http_url = "http://" + url.substr(5);
    } else if (ascii::istarts_with(url, "wss://")) {
        http_url = "https://" + url.substr(6);
    }
    auto parsed = Url::parse(http_url);
    if (!parsed) co_return std::errc::invalid_argument;
    if (opts.timeout <= Duration::zero()) {
        co_return co_await open_websocket(std::move(*parsed), std::move(opts), Deadline::never());
    }
    const Deadline d = Deadline::after(opts.timeout);
    co_return co_await with_deadline(open_websocket(std::move(*parsed), std::move(opts), d),
                                     d.when());
}

namespace detail {

namespace {

// Bumped in the child of every fork: a child drops the random bytes it inherited.
std::atomic<unsigned> random_fork_generation{1};

// Fills `out` from getrandom(2) (blocking only until the kernel's pool is first ready, at
// boot); where that fails (no such call), from std::random_device.
void kernel_random(unsigned char* out, std::size_t n) noexcept {
    std::size_t got = 0;
    while (got < n) {
        const ssize_t r = ::getrandom(out + got, n - got, 0);
        if (r > 0) {
            got += std::size_t(r);
        } else if (r < 0 && errno != EINTR) {
            break;
        }
    }
    if (got == n) return;
    try {
        std::random_device rd;  // /dev/urandom
        for (; got < n; ++got)
            out[got] = static_cast<unsigned char>(rd());
    } catch (...) {
        // Nothing better left: the clock and the generator of last resort.
        std::uint64_t v = corio::detail::random_seed();
        for (; got < n; ++got, v = (v >> 8) | (v << 56))
            out[got] = static_cast<unsigned char>(v);
    }
}

}  // namespace

void secure_random(void* out, std::size_t n) noexcept {
    auto* bytes = static_cast<unsigned char*>(out);
    if (corio::detail::current_sim() != nullptr) {  // replayable on a simulated host
        for (std::size_t i = 0; i < n; i += 8) {
            const std::uint64_t v = corio::detail::random_seed();
            std::memcpy(bytes + i, &v, std::min<std::size_t>(8, n - i));
        }
        return;
    }
    static const bool watching_forks = [] {
        ::pthread_atfork(nullptr, nullptr,
                         [] { random_fork_generation.fetch_add(1, std::memory_order_relaxed); });
        return true;
    }();
    (void)watching_forks;
    thread_local std::array<unsigned char, 256> pool;
    thread_local std::size_t left = 0;
    thread_local unsigned drawn_in = 0;
    const unsigned now = random_fork_generation.load(std::memory_order_relaxed);
    if (now != drawn_in) left = 0;
    while (n > 0) {
        if (left == 0) {
            kernel_random(pool.data(), pool.size());
            left = pool.size();
            drawn_in = now;
        }
        const std::size_t take = std::min(n, left);
        std::memcpy(bytes, pool.data() + (pool.size() - left), take);
        // Used bytes are not kept: a later look at memory cannot tell what was sent.
        std::memset(pool.data() + (pool.size() - left), 0, take);
        left -= take;
        bytes += take;
        n -= take;
    }
}

}  // namespace detail

}  // namespace corio::http::websocket
