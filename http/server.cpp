// The server's connections: reading requests, calling the handler, writing
// responses in order, timeouts, limits and draining.
//
// One coroutine per connection reads into a fixed buffer, feeds the strict
// request parser, and answers every complete request in the buffer before it
// sends: pipelined requests get their responses in order, in one send. Small
// response bodies are copied after their head; large shared ones are sent by
// reference (gathered writes); files go out with splice/sendfile when the
// stream is a plain socket.
#include <corio/http/server.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <corio/fs/ops.hpp>
#include <corio/http/ascii.hpp>
#include <corio/http/file_ops.hpp>
#include <corio/net/buf_ring.hpp>
#include <corio/runtime/log.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/ops.hpp>
#include <corio/runtime/sim_io.hpp>
#include <corio/runtime/task_group.hpp>
#include <corio/runtime/timer.hpp>

#include "read_all.hpp"

namespace corio::http {
namespace detail {

using namespace std::string_view_literals;

namespace {

constexpr std::size_t in_buf_size = 16 * 1024;  // per connection; partial lines stay in the parser
// Multishot receive (io_uring): one buffer ring per loop, shared by its
// connections. A buffer is held only from the completion until the bytes are
// copied into the connection's input buffer, so a small ring serves many
// connections; 256 x 4 KiB (1 MiB) cycles through fewer cache lines than a
// large one. A connection queues at most recv_queue arrivals while it is busy
// (pipelining); beyond that the bytes wait in the socket (see
// runtime/multishot.hpp).
constexpr unsigned recv_ring_count = 256;
constexpr std::size_t recv_ring_buf = 4 * 1024;
constexpr std::size_t recv_queue = 4;
static_assert(recv_ring_buf <= in_buf_size, "one ring buffer fits the input buffer");
constexpr std::size_t inline_body_max = 16 * 1024;  // bodies up to this are copied after their head
constexpr std::size_t flush_at = 64 * 1024;         // pending output sent before parsing further
constexpr int pipe_size = 256 * 1024;               // splice chunk on io_uring
constexpr std::uint64_t sendfile_chunk = 1u << 20;  // epoll: progress is noted per chunk

void append_number(std::string& out, std::uint64_t v) {
    char b[24];
    auto r = std::to_chars(b, b + sizeof b, v);
    out.append(b, r.ptr);
}

// The status line and the Server and Date fields every response starts with (none when
// empty: the handler sent its own).
void append_start(std::string& out, int status, std::string_view server_name,
                  std::string_view date) {
    out += "HTTP/1.1 "sv;
    append_number(out, unsigned(status));
    out += ' ';
    out += status_reason(status);
    out += "\r\n"sv;
    if (!server_name.empty()) {
        out += "Server: "sv;
        out += server_name;
        out += "\r\n"sv;
    }
    if (!date.empty()) {
        out += "Date: "sv;
        out += date;
        out += "\r\n"sv;
    }
}

// The header fields the server sends itself, by what it does with a handler's.
enum class OwnField : std::uint8_t { none, framing, connection, date, server };

// Which of the server's singleton fields a handler's response sets itself: those go out
// in place of the server's (RFC 9110 §5.3: no second field line of a name whose value is
// not a list).
enum Replaces : unsigned { replaces_date = 1, replaces_server = 2 };

// Content-Length and Transfer-Encoding are the server's framing: a handler's copy would
// go out beside it (two lengths, or a length and chunked: RFC 9112 §6.3 makes a recipient
// reject that, and a proxy may read it differently: a smuggling shape), and
// Transfer-Encoding would reach HTTP/1.0 clients (§6.1). Connection is the server's
// too: it knows whether the connection stays open. Date and Server are the server's
// unless a handler sets its own (see Replaces). On the path of every response: the
// length decides for nearly every name, without a call.
OwnField own_field(std::string_view name) noexcept {
    switch (name.size()) {
        case 4:
            return ascii::iequals(name, "date") ? OwnField::date : OwnField::none;
        case 6:
            return ascii::iequals(name, "server") ? OwnField::server : OwnField::none;
        case 10:
            return ascii::iequals(name, "connection") ? OwnField::connection : OwnField::none;
        case 14:
            return ascii::iequals(name, "content-length") ? OwnField::framing : OwnField::none;
        case 17:
            return ascii::iequals(name, "transfer-encoding") ? OwnField::framing : OwnField::none;
        default:
            return OwnField::none;
    }
}

// What a handler returned, before any of it is queued: a response the server cannot send
// as it is throws std::invalid_argument, which run() answers as it does a handler's own
// exception (500, close), so that no part of it goes out. A handler's "Connection: close"
// is resp.close; the field is dropped, as the server writes the one Connection field.
// Returns the Replaces bits of the Date and Server fields the handler set.
unsigned check_response(Response& resp) {
    if (resp.status < 100 || resp.status > 999) {
        throw std::invalid_argument("http: invalid status code " + std::to_string(resp.status));
    }
    if ((resp.status == 101) != static_cast<bool>(resp.upgrade)) {
        throw std::invalid_argument(
            "http: a 101 response needs Response::upgrade (and only a 101 may have one)");
    }
    if (resp.upgrade && !resp.headers.contains("upgrade")) {
        throw std::invalid_argument("http: a 101 response names its protocol in Upgrade");
    }
    bool asks_close = false;
    bool drop_connection = false;
    unsigned replaces = 0;
    for (const Header& h : resp.headers) {
        if (!valid_field_name(h.name) || !valid_field_value_text(h.value)) {
            throw std::invalid_argument("http: invalid response header '" + h.name + "'");
        }
        switch (own_field(h.name)) {
            case OwnField::none:
                break;
            case OwnField::date:
                replaces |= replaces_date;
                break;
            case OwnField::server:
                replaces |= replaces_server;
                break;
            case OwnField::framing:
                throw std::invalid_argument("http: response header '" + h.name +
                                            "' is the server's (it frames the body)");
            case OwnField::connection: {
                // Response::set keeps the value as given: spaces around it are OWS. A
                // 101's own "Connection: Upgrade" is the one the server writes anyway.
                if (resp.upgrade && ascii::iequals(ascii::trim_ows(h.value), "upgrade")) {
                    drop_connection = true;
                    break;
                }
                if (!ascii::iequals(ascii::trim_ows(h.value), "close")) {
                    throw std::invalid_argument("http: response header '" + h.name +
                                                "' is the server's (a handler may only say close)");
                }
                asks_close = true;
                break;
            }
        }
    }
    if (asks_close || drop_connection) {
        Headers kept;
        for (const Header& h : resp.headers) {
            if (own_field(h.name) != OwnField::connection) kept.add(h.name, h.value);
        }
        resp.headers = std::move(kept);
        resp.close = resp.close || asks_close;
    }
    return replaces;
}

}  // namespace

class Connection;

/// What one loop knows of a server's connections. Shared by the reaper and
/// the connections, so that it outlives both.
struct LoopState {
    Loop* loop = nullptr;
    Connection* conns = nullptr;  // every open connection of this loop
    bool draining = false;        // no keep-alive, no new requests
    bool reaper_running = false;
    Duration tick{};
    std::time_t date_sec = -1;
    std::size_t date_len = 0;
    char date[64] = {};
    // The runtime whose loop this is (serve()), else null. Its graceful
    // shutdown is noticed by the reaper and by new connections rather than
    // by a callback, which could outlive the runtime with the server.
    Runtime* rt = nullptr;

    std::string_view date_now() noexcept {
        // A simulated host has no wall clock: its date is the world's
        // virtual time, counted from the epoch.
        std::time_t t = loop != nullptr && loop->kind() == BackendKind::sim
                            ? std::time_t(std::chrono::duration_cast<std::chrono::seconds>(
                                              loop->now().time_since_epoch())
                                              .count())
                            : ::time(nullptr);
        if (t != date_sec) {
            date_sec = t;
            date_len = format_http_date(t, date);
        }
        return {date, date_len};
    }
    // append_start() of a 200, as most responses start: made again when the
    // second changes.
    std::string head_200;
    std::time_t head_200_sec = -1;
    std::string_view head_200_now(std::string_view server_name) {
        std::string_view d = date_now();
        if (head_200_sec != date_sec) {
            head_200_sec = date_sec;
            head_200.clear();
            append_start(head_200, 200, server_name, d);
        }
        return head_200;
    }
    void drain() noexcept;
    bool shutting_down() noexcept { return rt != nullptr && rt->shutdown_token().stop_requested(); }

    // The loop's receive buffer ring, made when the first connection wants it
    // and freed with the last connection that uses it (not with this state,
    // which a Server may keep after its loop is gone). Null where the kernel
    // does not pick the buffers (epoll, no multishot receive, registration
    // refused): the first connection finds out, once per loop.
    std::weak_ptr<net::BufRing> ring;
    bool no_ring = false;
    std::shared_ptr<net::BufRing> recv_ring() {
        if (no_ring) return nullptr;
        auto r = ring.lock();
        if (!r) {
            if (loop->kind() == BackendKind::io_uring) {
                r = std::make_shared<net::BufRing>(*loop, recv_ring_count, recv_ring_buf);
            }
            if (!r || !r->kernel_selected()) {
                no_ring = true;
                return nullptr;
            }
            ring = r;
        }
        return r;
    }
};

struct ServerCore {
    Handler handler;
    ServerOptions opts;
    std::atomic<std::size_t> conns{0};
    std::mutex mu;  // guards `loops` (looked up once per connection)
    std::vector<std::pair<Loop*, std::shared_ptr<LoopState>>> loops;

    std::shared_ptr<LoopState> state_for(Loop& loop);
};

/// A pipe for splicing, made on a connection's first large file.
struct Pipe {
    int r = -1;
    int w = -1;
    unsigned cap = 0;
    Pipe() = default;
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    ~Pipe() { discard(); }
    bool open() noexcept {
        if (r >= 0) return true;
        int p[2];
        if (::pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) return false;
        r = p[0];
        w = p[1];
        (void)::fcntl(w, F_SETPIPE_SZ, pipe_size);
        int got = ::fcntl(w, F_GETPIPE_SZ);
        cap = got > 0 ? unsigned(got) : 65536u;
        return true;
    }
    /// Closes the pipe (it may hold bytes of an aborted transfer).
    void discard() noexcept {
        if (r >= 0) ::close(r);
        if (w >= 0) ::close(w);
        r = w = -1;
    }
};

/// Output waiting to be sent: heads and small bodies in `buf`, larger shared
/// bodies referenced (and kept alive) rather than copied.
struct Output {
    struct Seg {
        std::size_t off;
        std::size_t len;
        const char* ext;  // null: bytes of buf
    };
    std::string buf;
    std::vector<Seg> segs;
    std::size_t seg_start = 0;  // bytes of buf not yet described by segs
    std::vector<std::shared_ptr<const SharedBody>> holds;
    std::vector<std::span<const std::byte>> spans;
    std::size_t ext_bytes = 0;

    bool empty() const noexcept { return buf.empty() && segs.empty(); }
    std::size_t pending() const noexcept { return buf.size() + ext_bytes; }
    void add_external(const std::shared_ptr<const SharedBody>& b, std::size_t off, std::size_t n) {
        segs.push_back({seg_start, buf.size() - seg_start, nullptr});
        seg_start = buf.size();
        segs.push_back({0, n, b->body.data() + off});
        ext_bytes += n;
        holds.push_back(b);
    }
    std::span<const std::span<const std::byte>> gather() {
        spans.clear();
        for (const Seg& s : segs) {
            const char* p = s.ext != nullptr ? s.ext : buf.data() + s.off;
            if (s.len > 0) spans.push_back(std::as_bytes(std::span(p, s.len)));
        }
        if (seg_start < buf.size()) {
            spans.push_back(
                std::as_bytes(std::span(buf.data() + seg_start, buf.size() - seg_start)));
        }
        return spans;
    }
    void clear() noexcept {
        buf.clear();
        segs.clear();
        seg_start = 0;
        ext_bytes = 0;
        holds.clear();
    }
};

/// One connection: its state for the reaper and the shutdown, its buffers,
/// and the request being served.
class Connection {
public:
    enum class Phase : std::uint8_t { idle, head, body, handler, sending, upgraded };

    Connection(ServerCore* core, std::shared_ptr<LoopState> ls, Stream s, StopToken parent,
               std::optional<net::Address> peer)
        : core_(core),
          ls_(std::move(ls)),
          s_(std::move(s)),
          stop_(parent),
          peer_(std::move(peer)),
          peer_known_(peer_.has_value()),
          parser_(core->opts.limits),
          in_(new char[in_buf_size]),
          tcp_(s_.get<net::TcpStream>()) {
        parser_.set_stream_body(true);
        start_multishot();
        next_ = ls_->conns;
        if (next_ != nullptr) next_->prev_ = this;
        ls_->conns = this;
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection() {
        if (prev_ != nullptr) {
            prev_->next_ = next_;
        } else {
            ls_->conns = next_;
        }
        if (next_ != nullptr) next_->prev_ = prev_;
    }

    Task<void> run();
    Task<Result<std::size_t>> read_body(std::span<std::byte> buf);
    Task<Result<void>> write_chunk(std::string_view data, bool chunked, std::string& frame);

    // For the reaper and the shutdown.
    Connection* next() const noexcept { return next_; }
    bool idle() const noexcept { return phase_ == Phase::idle; }
    bool upgraded() const noexcept { return phase_ == Phase::upgraded; }
    // Tells a streamed body's producer, or the protocol the connection was handed to, that
    // the server drains.
    void drain() noexcept { drain_.request_stop(); }
    StopToken drain_token() noexcept { return drain_.token(); }
    void expire_if(TimePoint now) noexcept {
        if (deadline_ <= now) {
            deadline_ = TimePoint::max();
            timed_out_ = true;
            stop_.request_stop();
        }
    }
    void stop() noexcept { stop_.request_stop(); }
    StopToken stop_token() noexcept { return stop_.token(); }
    // The client's address (Request::peer()): given, or asked of the socket once.
    const std::optional<net::Address>& peer() {
        if (!peer_known_) {
            peer_known_ = true;
            if (const int fd = s_.native_socket(); fd >= 0) {
                auto a = net::peer_address_of(fd);
                if (a && a->family() != AF_UNSPEC) peer_ = std::move(*a);
            }
        }
        return peer_;
    }

private:
    void set_phase(Phase p, Duration timeout) noexcept {
        phase_ = p;
        deadline_ = ls_->loop->turn_now() + timeout;  // no clock read per request
    }
    // A handler may take as long as it likes; what it awaits of the
    // connection (body reads, chunk writes) has its own deadline.
    void in_handler() noexcept {
        phase_ = Phase::handler;
        deadline_ = TimePoint::max();
    }
    void start_multishot();
    Task<Result<std::size_t>> receive();
    Task<bool> flush();
    Task<bool> answer(Response& resp, bool head, bool keep_alive, Version v, bool framing = true,
                      unsigned replaces = 0);
    void append_head(const Response& resp, bool keep_alive, Version v, bool body_allowed,
                     unsigned replaces = 0);
    void append_error(int status, bool head, Version v);
    void log_access(int status, bool complete) noexcept;
    Task<bool> send_file(FileBody& f);
    Task<bool> send_stream(Response& resp, bool chunked);
    bool send_final(std::string_view text) noexcept;
    Task<bool> linger_close();
    Task<void> upgrade(Response& resp, Version v, unsigned replaces);

    ServerCore* core_;
    std::shared_ptr<LoopState> ls_;
    Stream s_;
    LinkedStopSource stop_;  // stopping it cancels what the connection waits for
    StopSource drain_;       // stopped when the server drains (BodyWriter::draining(), a 101)
    std::optional<net::Address> peer_;
    bool peer_known_ = false;      // peer_ is what it will be
    TimePoint started_{};          // the current request's first byte came (for the access log)
    std::uint64_t body_sent_ = 0;  // body bytes of the current response, written or queued
    Connection* prev_ = nullptr;
    Connection* next_ = nullptr;
    TimePoint deadline_ = TimePoint::max();
    Phase phase_ = Phase::idle;
    bool timed_out_ = false;

    RequestParser parser_;
    std::unique_ptr<char[]> in_;
    // The TCP stream inside s_ when it is one (not TLS or another wrapper):
    // reads and writes go to it directly, without the type-erased call and
    // its coroutine frame per operation.
    net::TcpStream* tcp_ = nullptr;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    Output out_;
    Request req_;
    Pipe pipe_;
    // Multishot receive: the ring first, so that the stream (and a buffer it
    // holds) goes before it.
    std::shared_ptr<net::BufRing> ring_;
    std::optional<net::RecvStream> recv_;
    bool expect_continue_ = false;  // 100 Continue owed before the body is read
    int body_error_ = 0;            // status owed for a failed body read
};

// ---- per-loop state -------------------------------------------------------

void LoopState::drain() noexcept {
    draining = true;
    for (Connection* c = conns; c != nullptr;) {
        Connection* n = c->next();  // stopping only schedules: the list stays as it is
        if (c->idle()) c->stop();
        c->drain();
        c = n;
    }
}

Task<void> reaper(std::shared_ptr<LoopState> ls) {
    // Cleared however the task ends (also when its loop is torn down).
    struct Running {
        LoopState* ls;
        ~Running() { ls->reaper_running = false; }
    } running{ls.get()};
    while (ls->conns != nullptr) {
        const bool slept = co_await sleep_for(ls->tick);
        if (!slept) break;
        // The runtime's graceful shutdown: idle connections close now, busy
        // ones after their response.
        if (!ls->draining && ls->shutting_down()) ls->drain();
        const TimePoint now = ls->loop->now();
        for (Connection* c = ls->conns; c != nullptr;) {
            Connection* n = c->next();
            c->expire_if(now);
            c = n;
        }
    }
}

std::shared_ptr<LoopState> ServerCore::state_for(Loop& loop) {
    std::lock_guard lk(mu);
    for (auto& [l, st] : loops) {
        if (l == &loop) return st;
    }
    auto st = std::make_shared<LoopState>();
    st->loop = &loop;
    Duration shortest =
        std::min({opts.idle_timeout, opts.header_timeout, opts.body_timeout, opts.send_timeout});
    st->tick = std::clamp<Duration>(shortest / 8, std::chrono::milliseconds(5),
                                    std::chrono::milliseconds(500));
    st->rt = Runtime::current();
    loops.emplace_back(&loop, st);
    return st;
}

// ---- the receive path -----------------------------------------------------

// A plain TCP connection on io_uring reads through one multishot receive
// into the loop's buffer ring (ServerOptions::multishot_receive): one request
// stays armed for the connection's life instead of one per read.
void Connection::start_multishot() {
    // TLS and other wrapped streams read through recv.
    if (!core_->opts.multishot_receive || tcp_ == nullptr) return;
    ring_ = ls_->recv_ring();
    if (ring_) recv_.emplace(tcp_->recv_stream(*ring_, recv_queue));
}

// Every byte the connection reads comes through here: into the free space of
// the input buffer (which the caller has emptied), one receive.
Task<Result<std::size_t>> Connection::receive() {
    begin_ = end_ = 0;
    if (recv_) {
        auto b = co_await recv_->next();
        if (!b) co_return b.error();
        // An empty buffer is the end of the stream (0); a buffer is at most
        // recv_ring_buf bytes, which the input buffer holds.
        if (!b->empty()) std::memcpy(in_.get(), b->data().data(), b->size());
        end_ = b->size();
        co_return end_;
    }
    const auto buf = std::as_writable_bytes(std::span(in_.get(), in_buf_size));
    Result<std::size_t> n = std::errc::operation_canceled;
    if (tcp_ != nullptr) {
        n = co_await tcp_->recv(buf);
    } else {
        n = co_await s_.recv(buf);
    }
    if (n) end_ = *n;
    co_return n;
}

// ---- request bodies -------------------------------------------------------

Task<Result<std::size_t>> Connection::read_body(std::span<std::byte> buf) {
    if (body_error_ != 0) {
        co_return body_error_ == 413 ? Result<std::size_t>(Errc::limit_exceeded)
                                     : Result<std::size_t>(std::errc::bad_message);
    }
    if (parser_.state() == ParseState::done || buf.empty()) co_return std::size_t(0);
    if (expect_continue_) {
        // The client waits for this before it sends the body; responses to
        // earlier pipelined requests go first.
        expect_continue_ = false;
        out_.buf += "HTTP/1.1 100 Continue\r\n\r\n";
        // Not `if (!co_await ...)`: g++ 12 skips the body of a coroutine whose
        // first co_await sits in an if condition.
        const bool sent = co_await flush();
        if (!sent) co_return std::errc::connection_aborted;
    }
    for (;;) {
        if (begin_ < end_) {
            const std::size_t avail = std::min(end_ - begin_, buf.size());
            begin_ += parser_.feed(std::string_view(in_.get() + begin_, avail));
            if (parser_.state() == ParseState::error) {
                body_error_ = parser_.error_status();
                co_return body_error_ == 413 ? Result<std::size_t>(Errc::limit_exceeded)
                                             : Result<std::size_t>(std::errc::bad_message);
            }
            std::string_view piece = parser_.body_piece();
            if (!piece.empty()) {
                std::memcpy(buf.data(), piece.data(), piece.size());
                co_return piece.size();
            }
            if (parser_.state() == ParseState::done) co_return std::size_t(0);
            continue;
        }
        set_phase(Phase::body, core_->opts.body_timeout);
        auto n = co_await receive();
        in_handler();
        if (!n) co_return n.error();
        if (*n == 0) {
            body_error_ = 400;  // the body ended early: nothing more can follow
            co_return Errc::eof;
        }
    }
}

// ---- responses ------------------------------------------------------------

// `resp` passed check_response (a handler's; `replaces` is what it returned) or is the
// server's own.
void Connection::append_head(const Response& resp, bool keep_alive, Version v, bool body_allowed,
                             unsigned replaces) {
    std::string& out = out_.buf;
    if (resp.status == 200 && replaces == 0) {
        out += ls_->head_200_now(core_->opts.server_name);
    } else {
        append_start(out, resp.status,
                     (replaces & replaces_server) != 0 ? ""sv : core_->opts.server_name,
                     (replaces & replaces_date) != 0 ? ""sv : ls_->date_now());
    }
    if (resp.share) out += resp.share->fields;
    for (const Header& h : resp.headers) {
        out += h.name;
        out += ": "sv;
        out += h.value;
        out += "\r\n"sv;
    }
    // RFC 9110 §8.6, §6.4.1: 1xx, 204 and 304 carry no body and 1xx/204 no
    // Content-Length; a HEAD answer says what a GET's would.
    const bool bodiless = resp.status < 200 || resp.status == 204 || resp.status == 304;
    if (!bodiless && body_allowed) {
        if (resp.kind == Response::Kind::stream) {
            if (v == Version::http_1_1) out += "Transfer-Encoding: chunked\r\n"sv;
        } else {
            out += "Content-Length: "sv;
            append_number(out, resp.body_length());
            out += "\r\n"sv;
        }
    }
    if (resp.upgrade) {
        out += "Connection: Upgrade\r\n\r\n"sv;
    } else if (!keep_alive) {
        out += "Connection: close\r\n\r\n"sv;
    } else if (v == Version::http_1_0) {
        out += "Connection: keep-alive\r\n\r\n"sv;
    } else {
        out += "\r\n"sv;
    }
}

// The server's own answer to the current request, with Connection: close; logged.
void Connection::append_error(int status, bool head, Version v) {
    Response r = Response::error(status);
    append_head(r, false, v, true);
    body_sent_ = head ? 0 : r.body.size();
    if (!head) out_.buf += r.body;
    log_access(status, true);
}

void Connection::log_access(int status, bool complete) noexcept {
    const AccessLog& log = core_->opts.access_log;
    if (!log) return;
    try {
        const ParsedRequest& msg = parser_.request();
        AccessEntry e;
        e.method = msg.method;
        e.target = msg.target;
        e.version = msg.version;
        e.status = status;
        e.body_bytes = body_sent_;
        e.duration = ls_->loop->now() - started_;
        e.complete = complete;
        e.peer = peer();
        log(e);
    } catch (const std::exception& ex) {
        log_warn("http: access log: {}", ex.what());
    } catch (...) {
        log_warn("http: access log: an exception that is not a std::exception");
    }
}

// Sends everything pending and empties it, under the send timeout; false
// when the connection is gone.
Task<bool> Connection::flush() {
    if (out_.empty()) co_return true;
    const Phase was = phase_;
    const TimePoint was_deadline = deadline_;
    set_phase(Phase::sending, core_->opts.send_timeout);
    bool sent;
    if (out_.segs.empty()) {
        const auto bytes = std::as_bytes(std::span(out_.buf));
        if (tcp_ != nullptr) {
            sent = (co_await tcp_->send_all(bytes)).has_value();
        } else {
            sent = (co_await s_.send_all(bytes)).has_value();
        }
    } else {
        const auto spans = out_.gather();
        if (tcp_ != nullptr) {
            sent = (co_await tcp_->send_all(spans)).has_value();
        } else {
            sent = (co_await s_.send_all(spans)).has_value();
        }
    }
    phase_ = was;
    deadline_ = was_deadline;
    if (sent) out_.clear();
    co_return sent;
}

// Queues (and for files and streams, sends) one response. False: the
// connection must close now.
Task<bool> Connection::answer(Response& resp, bool head, bool keep_alive, Version v, bool framing,
                              unsigned replaces) {
    const bool bodiless =
        head || !framing || resp.status < 200 || resp.status == 204 || resp.status == 304;
    const bool chunked = resp.kind == Response::Kind::stream && v == Version::http_1_1;
    append_head(resp, keep_alive, v, framing, replaces);
    if (bodiless) co_return true;
    switch (resp.kind) {
        case Response::Kind::empty:
            break;
        case Response::Kind::buffer:
            out_.buf += resp.body;
            body_sent_ = resp.body.size();
            break;
        case Response::Kind::shared: {
            const std::size_t off = std::min(resp.share_offset, resp.share->body.size());
            const std::size_t n = std::min(resp.share_length, resp.share->body.size() - off);
            body_sent_ = n;
            if (n <= inline_body_max) {
                out_.buf.append(resp.share->body, off, n);
            } else {
                out_.add_external(resp.share, off, n);
            }
            break;
        }
        case Response::Kind::file: {
            const bool sent = co_await flush();  // (not in the if: see read_body)
            if (!sent) co_return false;
            co_return co_await send_file(resp.file_body);
        }
        case Response::Kind::stream: {
            const bool sent = co_await flush();
            if (!sent) co_return false;
            co_return co_await send_stream(resp, chunked);
        }
    }
    co_return true;
}

Task<Result<void>> Connection::write_chunk(std::string_view data, bool chunked,
                                           std::string& frame) {
    if (data.empty()) co_return Result<void>{};
    set_phase(Phase::sending, core_->opts.send_timeout);
    Result<void> r;
    if (chunked) {
        frame.clear();
        format_chunk_header(frame, data.size());
        const std::array<std::span<const std::byte>, 3> parts = {
            std::as_bytes(std::span(frame)), std::as_bytes(std::span(data)),
            std::as_bytes(std::span("\r\n", 2))};
        r = co_await s_.send_all(std::span<const std::span<const std::byte>>(parts));
    } else {
        r = co_await s_.send_all(std::as_bytes(std::span(data)));
    }
    in_handler();
    if (r) body_sent_ += data.size();
    co_return r;
}

Task<bool> Connection::send_stream(Response& resp, bool chunked) {
    BodyWriter w(this, chunked);
    in_handler();
    auto r = co_await resp.produce(w);
    if (!r) co_return false;
    if (chunked) {
        out_.buf.clear();
        format_last_chunk(out_.buf);
        co_return co_await flush();
    }
    co_return true;
}

// ---- the raw socket: files and last words ----------------------------------
//
// The only code that uses the descriptor under the stream (native_socket()),
// for splice/sendfile and for a final answer that must not wait.

/// Best effort, never waits: a timed-out or refused client may not read.
/// Only a plain socket can be written without waiting; other streams get nothing.
// Whether all of `text` went out.
static bool send_now(Stream& s, std::string_view text) noexcept {
    const int fd = s.native_socket();
    if (fd < 0) return false;
    if (corio::detail::SimIo* sim = corio::detail::current_sim()) {
        return sim->send(fd, std::as_bytes(std::span(text.data(), text.size())),
                         MSG_DONTWAIT | MSG_NOSIGNAL) == ssize_t(text.size());
    }
    return ::send(fd, text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL) ==
           ssize_t(text.size());
}

bool Connection::send_final(std::string_view text) noexcept {
    return send_now(s_, text);
}

// splice(2) and sendfile(2) take no MSG_NOSIGNAL: into a closed connection
// they raise SIGPIPE, whose default action ends the process. Before the first
// one, a default disposition becomes "ignore" (a handler the program set is
// left alone); the error code says the same.
static void ignore_sigpipe_once() noexcept {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction old {};
        if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
            ::signal(SIGPIPE, SIG_IGN);
        }
    });
}

// Sends `f` without copying it through user space where the backend allows,
// else through a bounded buffer; refreshes the send deadline as it goes.
// False: the connection must close (peer gone, timed out, file shrank).
Task<bool> Connection::send_file(FileBody& f) {
    Loop& loop = *ls_->loop;
    const Duration send_timeout = core_->opts.send_timeout;
    const int sock = s_.native_socket();
    // A simulated host has no splice or sendfile: the buffered path below.
    if (sock >= 0 && loop.kind() != BackendKind::sim) ignore_sigpipe_once();
    const int file = f.fd.get();
    const std::uint64_t end = f.offset + f.length;
    std::uint64_t off = f.offset;
    // The access log's body bytes: what went out, however this ends.
    struct Counted {
        std::uint64_t& sent;
        const std::uint64_t& off;
        std::uint64_t from;
        ~Counted() { sent = off - from; }
    } counted{body_sent_, off, f.offset};
    if (sock >= 0 && loop.kind() == BackendKind::epoll) {
        while (off < end) {
            std::uint64_t n = std::min(sendfile_chunk, end - off);
            set_phase(Phase::sending, send_timeout);
            auto r = co_await corio::run(net::SendFile{sock, file, off_t(off), n});
            if (!r) {
                if (off == f.offset && (r.error() == std::errc::invalid_argument ||
                                        r.error() == std::errc::function_not_supported)) {
                    break;  // this file system cannot: the buffered path below
                }
                co_return false;
            }
            off += n;
        }
    } else if (sock >= 0 && loop.kind() == BackendKind::io_uring && pipe_.open()) {
        // io_uring: file -> pipe with IORING_OP_SPLICE (a disk read happens in
        // the kernel's worker), pipe -> socket with a non-blocking splice
        // here and a POLLOUT wait when the socket is full (an io_uring splice
        // into a full socket only comes back with EAGAIN).
        while (off < end) {
            const unsigned len = unsigned(std::min<std::uint64_t>(end - off, pipe_.cap));
            set_phase(Phase::sending, send_timeout);
            auto n = co_await corio::run(SpliceToPipe{file, std::int64_t(off), pipe_.w, len});
            if (!n || *n == 0) {
                if (off == f.offset && !n && n.error() == std::errc::invalid_argument) break;
                pipe_.discard();
                co_return false;
            }
            std::size_t in_pipe = *n;
            const bool more = off + *n < end;
            while (in_pipe > 0) {
                ssize_t m =
                    ::splice(pipe_.r, nullptr, sock, nullptr, in_pipe,
                             SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (more ? SPLICE_F_MORE : 0));
                if (m > 0) {
                    in_pipe -= std::size_t(m);
                    set_phase(Phase::sending, send_timeout);
                    continue;
                }
                if (m < 0 && errno == EAGAIN) {
                    auto p = co_await corio::poll(sock, POLLOUT);
                    if (p) continue;
                }
                pipe_.discard();
                co_return false;
            }
            off += *n;
        }
    }
    if (off == end) co_return true;
    // Through a bounded buffer: 64 KiB at a time.
    constexpr std::size_t chunk = 64 * 1024;
    std::unique_ptr<std::byte[]> buf(new std::byte[chunk]);
    static const std::string subject = "(served file)";
    while (off < end) {
        std::size_t want = std::size_t(std::min<std::uint64_t>(chunk, end - off));
        auto n = co_await corio::run(fs::ReadAt{file, std::span(buf.get(), want), off, &subject});
        if (!n || *n == 0) co_return false;
        set_phase(Phase::sending, send_timeout);
        auto w = co_await s_.send_all(std::span<const std::byte>(buf.get(), *n));
        if (!w) co_return false;
        off += *n;
    }
    co_return true;
}

// Closing with unread input makes the kernel send RST, which can destroy the
// response before the client reads it: send FIN, then read and drop what
// comes for a moment.
Task<bool> Connection::linger_close() {
    (void)s_.shutdown(SHUT_WR);
    set_phase(Phase::sending,
              std::min<Duration>(core_->opts.header_timeout, std::chrono::seconds(1)));
    for (std::size_t dropped = 0; dropped < 256 * 1024;) {
        auto n = co_await receive();
        if (!n || *n == 0) break;
        dropped += *n;
    }
    co_return true;
}

// ---- the connection -------------------------------------------------------

Task<void> Connection::run() {
    const ServerOptions& opts = core_->opts;
    TimePoint request_deadline{};
    bool in_request = false;   // bytes of a request not yet answered were read
    bool close_after = false;  // close once the output is sent
    bool linger = false;       // unread input may remain: close gently

    for (;;) {
        while (begin_ < end_ && !close_after) {
            if (!in_request) {
                in_request = true;
                set_phase(Phase::head, opts.header_timeout);
                request_deadline = deadline_;
                started_ = ls_->loop->turn_now();
                body_sent_ = 0;
            }
            begin_ += parser_.feed(std::string_view(in_.get() + begin_, end_ - begin_));
            if (parser_.state() == ParseState::error) {
                // RFC 9110 §9.3.2: an answer to HEAD has no content, even an error.
                append_error(parser_.error_status(), parser_.request().method == "HEAD",
                             Version::http_1_1);
                close_after = linger = true;
                break;
            }
            if (!parser_.headers_complete()) break;  // need more of the head

            const ParsedRequest& msg = parser_.request();
            const bool head = msg.method == "HEAD";
            expect_continue_ = msg.version == Version::http_1_1 &&
                               parser_.state() != ParseState::done &&
                               msg.headers.has_token("expect", "100-continue");
            body_error_ = 0;
            req_.bind(&msg, this);
            in_handler();
            Response resp;
            bool failed = false;
            unsigned replaces = 0;
            try {
                resp = co_await core_->handler(req_);
                replaces = check_response(resp);
            } catch (const std::exception& e) {
                log_warn("http: handler for {} {}: {}", msg.method, msg.target, e.what());
                failed = true;
            }
            if (stop_.stop_requested()) {  // timed out or cancelled: no answer
                log_access(0, false);
                co_return;
            }
            bool keep_alive = msg.keep_alive() && !ls_->draining && !resp.close && !failed;
            // A body the handler left unread: drained when the client is
            // sending it anyway; after an unanswered 100-continue, the
            // client may not send it at all, so the connection ends.
            if (body_error_ == 0 && parser_.state() != ParseState::done) {
                if (expect_continue_) {
                    keep_alive = false;
                } else {
                    std::array<std::byte, 4096> sink;
                    for (;;) {
                        auto n = co_await read_body(sink);
                        if (!n || *n == 0) break;
                    }
                    if (stop_.stop_requested()) {
                        log_access(0, false);
                        co_return;
                    }
                }
            }
            if (resp.kind == Response::Kind::stream && msg.version == Version::http_1_0) {
                keep_alive = false;  // the body ends with the connection
            }
            if (body_error_ != 0 || failed) {
                append_error(body_error_ != 0 ? body_error_ : 500, head, msg.version);
                close_after = linger = true;
                break;
            }
            if (resp.upgrade) {
                // RFC 9110 §7.8: a switch needs HTTP/1.1 and the whole request read; a
                // draining server starts no new sessions.
                const bool can = msg.version == Version::http_1_1 && !head &&
                                 parser_.state() == ParseState::done;
                if (!can) {
                    log_warn("http: {} {}: 101 to a request that cannot switch protocols",
                             msg.method, msg.target);
                }
                if (!can || ls_->draining) {
                    append_error(can ? 503 : 500, head, msg.version);
                    close_after = linger = true;
                    break;
                }
                co_await upgrade(resp, msg.version, replaces);
                co_return;
            }
            // RFC 9110 §9.3.6: a 2xx answer to CONNECT turns the connection into a
            // tunnel and carries no Content-Length or Transfer-Encoding. This server makes
            // no tunnels: such an answer goes out as its head alone, then the connection ends.
            const bool tunnel = msg.method == "CONNECT" && resp.status >= 200 && resp.status < 300;
            if (tunnel) keep_alive = false;
            bool ok;
            try {
                ok = co_await answer(resp, head, keep_alive, msg.version, !tunnel, replaces);
            } catch (const std::exception& e) {
                log_warn("http: response to {} {}: {}", msg.method, msg.target, e.what());
                ok = false;
            }
            log_access(resp.status, ok);
            if (!ok) co_return;
            parser_.reset();
            in_request = false;
            phase_ = Phase::idle;
            if (!keep_alive) {
                close_after = true;
                linger = begin_ < end_;
                break;
            }
            if (out_.pending() >= flush_at) {
                const bool sent = co_await flush();
                if (!sent) co_return;
            }
        }

        const bool sent = co_await flush();
        if (!sent) co_return;
        if (close_after) {
            if (linger) co_await linger_close();
            co_return;
        }
        if (in_request) {
            phase_ = Phase::head;
            deadline_ = request_deadline;
        } else {
            if (ls_->draining) co_return;
            set_phase(Phase::idle, opts.idle_timeout);
        }
        auto n = co_await receive();
        if (!n) {
            if (timed_out_ && in_request) {
                const bool told = send_final(
                    "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                    "Content-Length: 0\r\n\r\n");
                body_sent_ = 0;
                log_access(told ? 408 : 0, told);
            } else if (in_request) {
                log_access(0, false);  // a request cut off: the client left, or a shutdown
            }
            co_return;
        }
        if (*n == 0) {
            if (in_request) log_access(0, false);
            co_return;
        }
    }
}

// A connection handed over after a 101: the bytes read past the request come
// first, then the stream's own.
class UpgradedStream {
public:
    UpgradedStream(Stream s, std::string early, bool eof, std::error_code err)
        : s_(std::move(s)), early_(std::move(early)), eof_(eof), err_(err) {}
    UpgradedStream(UpgradedStream&&) noexcept = default;

    Task<Result<std::size_t>> recv(std::span<std::byte> buf) {
        if (pos_ < early_.size()) {
            const std::size_t n = std::min(buf.size(), early_.size() - pos_);
            std::memcpy(buf.data(), early_.data() + pos_, n);
            pos_ += n;
            co_return n;
        }
        if (err_) co_return std::exchange(err_, {});
        if (eof_) co_return std::size_t(0);
        co_return co_await s_.recv(buf);
    }
    Task<Result<void>> send_all(std::span<const std::byte> buf) { return s_.send_all(buf); }
    Task<Result<void>> send_all(std::span<const std::span<const std::byte>> bufs) {
        return s_.send_all(bufs);
    }
    Result<void> shutdown(int how) { return s_.shutdown(how); }
    int native_socket() const noexcept { return s_.native_socket(); }

private:
    Stream s_;
    std::string early_;
    std::size_t pos_ = 0;
    bool eof_;
    std::error_code err_;  // what the multishot receive had ended with
};

// Sends the 101 (after what is queued before it) and runs the response's
// upgrade on the connection until it returns. The server's timeouts stop here:
// the new protocol has its own; a drain stops drain_ for it.
Task<void> Connection::upgrade(Response& resp, Version v, unsigned replaces) {
    append_head(resp, true, v, false, replaces);
    const bool sent = co_await flush();
    log_access(101, sent);
    if (!sent) co_return;
    (void)peer();  // while the socket is at hand: Request::peer() after the 101 too
    phase_ = Phase::upgraded;
    deadline_ = TimePoint::max();
    // What the client sent behind its request: the rest of the input buffer, then
    // what the multishot receive holds. That receive stops here, so that a session,
    // which may read seldom, holds none of the loop's shared ring buffers.
    std::string early(in_.get() + begin_, end_ - begin_);
    bool eof = false;
    std::error_code err;
    if (recv_) {
        co_await recv_->stop();
        for (;;) {
            auto b = co_await recv_->next();
            if (!b) {
                if (b.error() != std::errc::operation_canceled) err = b.error();
                break;
            }
            if (b->empty()) {
                eof = true;
                break;
            }
            early.append(reinterpret_cast<const char*>(b->data().data()), b->size());
        }
        recv_.reset();
        ring_.reset();
    }
    Upgrade up = std::move(resp.upgrade);
    UpgradedStream us(std::move(s_), std::move(early), eof, err);
    tcp_ = nullptr;
    try {
        co_await up(Stream(std::move(us)), drain_.token());
    } catch (const std::exception& e) {
        log_warn("http: upgraded connection: {}", e.what());
    }
}

Task<void> serve_one(ServerCore* core, Stream s, std::optional<net::Address> peer) {
    // Counted before anything else, so that the limit holds under a burst.
    if (core->conns.fetch_add(1, std::memory_order_relaxed) >= core->opts.max_connections) {
        core->conns.fetch_sub(1, std::memory_order_relaxed);
        send_now(s,
                 "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
                 "Content-Length: 0\r\n\r\n");
        co_return;
    }
    struct Uncount {
        ServerCore* core;
        ~Uncount() { core->conns.fetch_sub(1, std::memory_order_relaxed); }
    } uncount{core};
    Loop& loop = Loop::current();
    auto ls = core->state_for(loop);
    if (ls->draining || ls->shutting_down()) co_return;
    if (auto* tcp = s.get<net::TcpStream>()) (void)tcp->set_nodelay();
    StopToken parent = co_await this_task::stop_token();
    Connection c(core, ls, std::move(s), parent, std::move(peer));
    if (!ls->reaper_running) {
        ls->reaper_running = true;
        loop.spawn(reaper(ls)).detach();
    }
    // Everything this connection awaits from here on is cancelled by its own
    // stop source (the reaper's timeouts, draining) as well as by the caller's.
    co_await corio::detail::SetStopToken{c.stop_token()};
    co_await c.run();
}

// An accepted TCP connection: wrapped first (TLS) when the options say so.
Task<void> serve_wrapped(ServerCore* core, net::TcpStream s) {
    (void)s.set_nodelay();
    // The wrapped stream (TLS) may not show its socket: the client's address is taken now.
    auto peer = s.peer_address();
    auto w = co_await core->opts.wrap_connection(std::move(s),
                                                 Deadline::after(core->opts.header_timeout));
    if (!w) {
        log_debug("http: connection setup: {}", w.error().message());
        co_return;
    }
    std::optional<net::Address> known;
    if (peer) known = std::move(*peer);
    co_await serve_one(core, std::move(*w), std::move(known));
}

Task<void> serve_accepted(ServerCore* core, net::TcpStream s) {
    if (core->opts.wrap_connection) return serve_wrapped(core, std::move(s));
    return serve_one(core, Stream(std::move(s)), std::nullopt);
}

}  // namespace detail

// ---- Request and BodyWriter -------------------------------------------------

void Request::bind(const ParsedRequest* msg, detail::Connection* conn) noexcept {
    msg_ = msg;
    conn_ = conn;
    params_.clear();
    body_pos_ = 0;
    std::string_view t = msg->target;
    // Absolute form (RFC 9112 §3.2.2): the path starts after the authority.
    if (t.size() > 7 && (t[0] == 'h' || t[0] == 'H')) {
        for (std::string_view scheme : {"http://", "https://"}) {
            if (ascii::istarts_with(t, scheme)) {
                std::size_t slash = t.find_first_of("/?", scheme.size());
                t = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
                if (!t.empty() && t.front() == '?') {
                    path_ = "/";
                    query_ = t.substr(1);
                    subpath_ = path_;
                    return;
                }
                break;
            }
        }
    }
    if (t.empty() || t.front() != '/') {  // asterisk or authority form
        path_ = {};
        query_ = {};
        subpath_ = {};
        return;
    }
    std::size_t q = t.find('?');
    path_ = t.substr(0, q);
    query_ = q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
    subpath_ = path_;
}

std::string_view Request::param(std::string_view name) const noexcept {
    for (const Param& p : params_) {
        if (p.name == name) return p.value;
    }
    return {};
}

Task<Result<std::size_t>> Request::read_body(std::span<std::byte> buf) {
    if (conn_ != nullptr) co_return co_await conn_->read_body(buf);
    const std::string& b = msg_->body;
    std::size_t n = std::min(buf.size(), b.size() - body_pos_);
    std::memcpy(buf.data(), b.data() + body_pos_, n);
    body_pos_ += n;
    co_return n;
}

Task<Result<std::string>> Request::read_body_all(std::size_t max) {
    return detail::read_all([this](std::span<std::byte> b) { return read_body(b); }, max);
}

StopToken BodyWriter::draining() const noexcept {
    return conn_ != nullptr ? conn_->drain_token() : draining_;
}

std::optional<net::Address> Request::peer() const {
    if (conn_ == nullptr) return std::nullopt;
    return conn_->peer();
}

Task<Result<void>> BodyWriter::write(std::string_view data) {
    if (conn_ == nullptr) {
        if (data.empty()) co_return Result<void>{};
        co_return co_await sink_(data);
    }
    co_return co_await conn_->write_chunk(data, chunked_, frame_);
}

Response Response::text(int status, std::string body, std::string_view content_type) {
    Response r(status);
    r.kind = Kind::buffer;
    r.body = std::move(body);
    if (!content_type.empty()) r.set("Content-Type", content_type);
    return r;
}

Response Response::shared(int status, std::shared_ptr<const SharedBody> b, std::size_t offset,
                          std::size_t length) noexcept {
    Response r(status);
    r.kind = Kind::shared;
    r.share = std::move(b);
    r.share_offset = offset;
    r.share_length = length;
    return r;
}

Response Response::shared(int status, std::shared_ptr<const SharedBody> b) noexcept {
    const std::size_t n = b->body.size();
    return shared(status, std::move(b), 0, n);
}

Response Response::file(int status, FileBody f) noexcept {
    Response r(status);
    r.kind = Kind::file;
    r.file_body = std::move(f);
    return r;
}

Response Response::stream(int status, BodyProducer p) {
    Response r(status);
    r.kind = Kind::stream;
    r.produce = std::move(p);
    return r;
}

Response Response::error(int status) {
    std::string body;
    body.reserve(32);
    detail::append_number(body, unsigned(status));
    body += ' ';
    body += status_reason(status);
    body += '\n';
    return text(status, std::move(body));
}

std::uint64_t Response::body_length() const noexcept {
    switch (kind) {
        case Kind::buffer:
            return body.size();
        case Kind::shared: {
            const std::size_t off = std::min(share_offset, share->body.size());
            return std::min(share_length, share->body.size() - off);
        }
        case Kind::file:
            return file_body.length;
        case Kind::empty:
        case Kind::stream:
            return 0;
    }
    return 0;
}

// ---- Router dispatch (here, so that router.cpp stays pure for fuzzing) ----

namespace {
Task<Response> route_error(int status, std::string allow) {
    Response r = Response::error(status);
    if (status == 405) r.set("Allow", allow);
    co_return r;
}
}  // namespace

// Not a coroutine: a matched request gets the handler's own task, so the
// router adds no frame and no move of the Response to each request.
Task<Response> Router::operator()(Request& req) const {
    RouteMatch m = match(req.method(), req.path(), req.params());
    if (m.handler != nullptr) {
        req.set_subpath(m.subpath);
        return (*m.handler)(req);
    }
    return route_error(m.status, std::move(m.allow));
}

// ---- Server -----------------------------------------------------------------

Server::Server(Handler handler, ServerOptions opts)
    : core_(std::make_shared<detail::ServerCore>()) {
    core_->handler = std::move(handler);
    core_->opts = std::move(opts);
}

Server::~Server() = default;

std::size_t Server::connections() const noexcept {
    return core_->conns.load(std::memory_order_relaxed);
}

const ServerOptions& Server::options() const noexcept {
    return core_->opts;
}

Task<void> Server::serve_connection(Stream s) {
    return detail::serve_one(core_.get(), std::move(s), std::nullopt);
}

namespace {

Task<void> accept_loop(detail::ServerCore* core, net::TcpListener* l, TaskGroup* conns) {
    for (;;) {
        auto s = co_await l->accept();
        if (!s) {
            if (s.error() == std::errc::operation_canceled) co_return;
            log_warn("http: accept: {}", s.error().message());
            const bool slept = co_await sleep_for(std::chrono::milliseconds(10));
            if (!slept) co_return;
            continue;
        }
        conns->spawn(detail::serve_accepted(core, std::move(*s)));
    }
}

}  // namespace

Task<void> Server::run(net::TcpListener listener, StopToken stop) {
    TaskGroup conns;
    TaskGroup background;
    auto ls = core_->state_for(Loop::current());
    {
        StopCallback on_stop(stop, [&background] { background.cancel(); });
        background.spawn(accept_loop(core_.get(), &listener, &conns));
        co_await background.wait();  // until `stop` (or our own cancellation)
    }
    listener.close();
    ls->drain();
    (void)co_await with_timeout(conns.wait(), core_->opts.grace);
    conns.cancel();
    co_await conns.wait();
}

Task<Result<net::Address>> Server::serve(Runtime& rt, net::Address addr, net::ServeOptions o) {
    detail::ServerCore* core = core_.get();
    co_return co_await net::serve(
        rt, addr, [core](net::TcpStream s) { return detail::serve_accepted(core, std::move(s)); },
        o);
}

}  // namespace corio::http
