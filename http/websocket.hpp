#pragma once
// WebSocket (RFC 6455) over corio's HTTP server and client: the opening
// handshake as an HTTP upgrade, then messages both ways on the same stream.
//
//   // Server: a route whose handler accepts the upgrade.
//   router.get("/echo", [](http::Request& req) -> Task<http::Response> {
//       co_return http::websocket::accept(req, [](http::websocket::WebSocket& ws) -> Task<void> {
//           for (;;) {
//               auto m = co_await ws.receive();   // Error::closed when the peer closes
//               if (!m) co_return;
//               auto sent = co_await ws.send(m->data, m->type);
//               if (!sent) co_return;
//           }
//       });
//   });
//
//   // Client.
//   auto ws = co_await http::websocket::connect("ws://127.0.0.1:8080/echo");
//   auto sent = co_await ws->send("hello");
//   auto reply = co_await ws->receive();
//   auto closed = co_await ws->close();
//
// Pings are answered, a peer's close is answered, and every violation of the
// protocol (RFC 6455 §5, §7, §8) fails the connection with the close code the
// RFC names. permessage-deflate (RFC 7692) when both ends enable it
// (Options::deflate); no other extension.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <corio/http/client.hpp>
#include <corio/http/message.hpp>
#include <corio/http/stream.hpp>
#include <corio/http/websocket_deflate.hpp>
#include <corio/http/websocket_frames.hpp>
#include <corio/runtime/clock.hpp>
#include <corio/runtime/result.hpp>
#include <corio/runtime/task.hpp>

namespace corio::http::websocket {

/// Errors of a WebSocket beyond the stream's own: see WebSocket::receive().
enum class Error {
    closed = 1,  ///< the closing handshake took place (close_code() says why)
    /// Nothing came from the peer for Options::idle_timeout: the connection
    /// was failed (closed with 1001 going away).
    idle_timeout,
};
/// The category of websocket::Error.
const std::error_category& error_category() noexcept;
/// Lets `std::error_code ec = Error::closed;` compile.
inline std::error_code make_error_code(Error e) noexcept {
    return {static_cast<int>(e), error_category()};
}

}  // namespace corio::http::websocket

/// Marks websocket::Error as an error code enum.
template <>
struct std::is_error_code_enum<corio::http::websocket::Error> : std::true_type {};

namespace corio::http::websocket {

/// What a message is.
enum class MessageType : std::uint8_t {
    text = 1,    ///< UTF-8 text
    binary = 2,  ///< bytes
};

/// Whether send() may compress a message (when permessage-deflate was agreed).
enum class Compression : std::uint8_t {
    allowed,  ///< compressed when it is at least DeflateOptions::min_size long
    never,    ///< sent as it is (a message that holds a secret beside text an attacker chooses)
};

/// A whole message, its fragments joined.
struct Message {
    MessageType type = MessageType::text;  ///< text or binary
    std::string data;                      ///< the payload
};

/// How a WebSocket behaves.
struct Options {
    /// The largest message received (its fragments together); a larger one
    /// fails the connection with 1009 and receive() with Errc::limit_exceeded.
    std::size_t max_message = 16 * 1024 * 1024;
    /// close(): the longest the closing handshake takes (our close frame
    /// going out, then the peer's coming back).
    Duration close_timeout = std::chrono::seconds(5);
    /// While a receive() waits: the longest the peer may send nothing at
    /// all (no frame, no byte); then the connection is failed with
    /// Error::idle_timeout. Zero: no limit. A server session without one
    /// waits on a silent peer until the server drains.
    Duration idle_timeout = Duration::zero();
    /// With idle_timeout: a ping goes out when half of it has passed in
    /// silence, so a live peer (which answers pings) keeps the connection
    /// open and a dead one is found within idle_timeout.
    bool keepalive = false;
    /// Subprotocols (Sec-WebSocket-Protocol): a server picks the first the
    /// client offers that is in this list (none when none is); a client
    /// offers these, in order, and fails when the server picks another.
    std::vector<std::string> protocols{};
    /// permessage-deflate (RFC 7692): off unless enabled here, and used only
    /// when the other end agrees. See DeflateOptions for its memory and the
    /// compression of secrets.
    DeflateOptions deflate{};
};

/// One end of a WebSocket connection, made by accept() (server) or connect()
/// (client). One task receives while others send; sends are whole frames,
/// in the order their tasks reached them. Move-only; a moved-from one reads
/// as closed and its operations give std::errc::bad_file_descriptor.
///
/// Errors: those of the stream (a reset, a timeout, cancellation);
/// Error::closed once the closing handshake is done (by either side);
/// Errc::eof when the stream ended without one (close_code() is then
/// 1006); std::errc::protocol_error, std::errc::illegal_byte_sequence (text
/// or a close reason that is not UTF-8, or invalid compressed data) and
/// Errc::limit_exceeded (a message above Options::max_message) when the
/// peer broke the rules: corio has then sent the matching close frame and
/// the connection is done; std::errc::not_enough_memory when there was no
/// memory to decompress (closed with 1011);
/// Error::idle_timeout when the peer was silent for Options::idle_timeout;
/// std::errc::connection_aborted after a send was cut off mid-frame;
/// std::errc::operation_in_progress for a second receive() at once.
class WebSocket {
public:
    /// Which end this is.
    enum class Role : std::uint8_t {
        client,  ///< masks what it sends
        server,  ///< expects masked frames
    };

    /// A WebSocket over `s`, the handshake done; `buffered` are bytes read
    /// past the handshake (the start of the peer's first frames), `protocol`
    /// the agreed subprotocol, `deflate` the agreed permessage-deflate
    /// parameters (the server's answer), if any.
    WebSocket(Stream s, Role role, Options opts = {}, std::string buffered = {},
              std::string protocol = {}, std::optional<DeflateParams> deflate = std::nullopt);
    /// Moves the connection (no operation may be pending on `o`).
    WebSocket(WebSocket&&) noexcept;
    /// Closes the stream; no operation may be pending. Call close() first
    /// for a clean end (accept() does for its session).
    ~WebSocket();
    /// Moves the connection (no operation may be pending on either).
    WebSocket& operator=(WebSocket&&) noexcept;

    /// The next message. Pings are answered and pongs skipped on the way; a
    /// close frame is answered and ends it with Error::closed. One receive
    /// at a time (another gives std::errc::operation_in_progress). A receive
    /// cut off by a timeout or a cancel takes nothing with it: a message
    /// half read stays for the next call, and an answer it owed (a pong, the
    /// close echo) is sent by the next receive() or close(). A client's
    /// receive() that gets the server's close returns once the server has
    /// closed the TCP connection too, or after Options::close_timeout.
    Task<Result<Message>> receive();
    /// Sends one message (one frame): text must be UTF-8 (not checked).
    /// With permessage-deflate agreed it goes compressed, unless `c` is
    /// never, it is shorter than DeflateOptions::min_size, this side may
    /// not compress (a window of 256 bytes was asked for, which zlib cannot
    /// write), or, without context takeover, compressing would not make it
    /// shorter.
    /// `data` must live until the send completes (a temporary in the
    /// co_await expression does). A send cut off by a timeout or a cancel
    /// may have sent part of its frame: the connection then ends (later
    /// calls give std::errc::connection_aborted).
    Task<Result<void>> send(std::string_view data, MessageType type = MessageType::text,
                            Compression c = Compression::allowed);
    /// Sends a binary message (as send(std::string_view, ...)).
    Task<Result<void>> send(std::span<const std::byte> data, Compression c = Compression::allowed);
    /// Sends a ping (at most 125 bytes of payload, else std::errc::invalid_argument).
    Task<Result<void>> ping(std::string payload = {});
    /// The closing handshake: sends a close frame with `code` and `reason`
    /// (at most 123 bytes; a code that may not be sent gives
    /// std::errc::invalid_argument), then, unless another task is in
    /// receive() (which will see the answer), reads until the peer's close
    /// frame comes, skipping messages (a receive() meanwhile gives
    /// Error::closed), and closes the stream. The whole of it takes at most
    /// Options::close_timeout: a close frame that could not go out in time
    /// ends the connection with std::errc::timed_out; a peer that does not
    /// answer in time leaves close_code() at abnormal. A client then waits,
    /// within the same time, for the server to close the TCP connection
    /// first (RFC 6455 §7.1.1: TIME_WAIT is the server's). After the peer's
    /// close: sends the echo still owed, if any. Succeeds once our close
    /// frame is sent.
    Task<Result<void>> close(std::uint16_t code = close_code::normal, std::string reason = {});

    /// The peer's close code once the connection ended: its close frame's
    /// code, no_status for a close frame without one, abnormal when the
    /// stream ended without a close frame (or close() stopped waiting for
    /// one); 0 before.
    std::uint16_t close_code() const noexcept;
    /// The reason in the peer's close frame.
    const std::string& close_reason() const noexcept;
    /// The subprotocol agreed in the handshake ("" for none).
    const std::string& protocol() const noexcept;
    /// The permessage-deflate parameters agreed in the handshake (the
    /// server's answer); nullopt when messages are not compressed.
    const std::optional<DeflateParams>& deflate() const noexcept;
    /// True until either side has sent a close frame or the connection failed.
    bool is_open() const noexcept;

private:
    struct State;
    Task<Result<void>> send_frame(Opcode op, std::string_view payload,
                                  Compression c = Compression::allowed);
    Task<Result<void>> fail(std::error_code ec, std::uint16_t code, std::string_view why);
    Task<void> end_stream(bool linger, TimePoint fin_by = TimePoint::max());
    Task<Result<void>> drop_input(std::size_t limit);
    Task<void> answer_close();
    Task<Result<Message>> next_message();
    Task<Result<std::size_t>> idle_recv();
    std::unique_ptr<State> st_;
};

/// What a server runs on an accepted WebSocket. When it returns (or throws),
/// the connection is closed: with its own close() if it made one, else with
/// 1000 (1011 after an exception). When the server starts to drain (its
/// shutdown), the session is cancelled and the connection closed with 1001.
using Session = std::function<Task<void>(WebSocket&)>;

/// True when `req` asks for a WebSocket: GET with `Upgrade: websocket` and
/// `Connection: upgrade` (tokens, any case).
bool is_upgrade(const Request& req) noexcept;

/// The answer to a request for a WebSocket (a route's handler returns it):
/// 101 Switching Protocols, after which the server runs `session` on the
/// connection, or, for a request that is not a valid opening handshake
/// (RFC 6455 §4.2.1), 400, or 426 with `Sec-WebSocket-Version: 13` for
/// another version. The session runs on the server's connection: it counts
/// toward max_connections, ends with the server's drain (see Session), and
/// has no timeouts of the server's (Options::idle_timeout and keepalive
/// bound its waits).
Response accept(const Request& req, Session session, Options opts = {});

/// How connect() opens a connection.
struct ConnectOptions {
    Options options{};  ///< the WebSocket's
    /// Opens the stream: unset, plain TCP for ws:// (connect_tcp); wss://
    /// needs a TLS connector (tls::https_connector), which sees the
    /// origin's scheme as "https".
    Connector connect{};
    /// The handshake, connection included; zero: none.
    Duration timeout = std::chrono::seconds(10);
    /// Extra request header fields (Origin, Authorization, ...); the
    /// handshake's own are the library's.
    Headers headers{};
};

/// Opens a WebSocket to `url` (ws:// or wss://, as http:// and https://)
/// and makes the opening handshake. Errors: std::errc::invalid_argument
/// for a URL that is neither; the connector's; std::errc::protocol_error
/// when the server does not accept (a status other than 101, a wrong
/// Sec-WebSocket-Accept, an extension or subprotocol not asked for, a
/// permessage-deflate answer that RFC 7692 §7.1 does not allow);
/// std::errc::timed_out after ConnectOptions::timeout.
Task<Result<WebSocket>> connect(std::string url, ConnectOptions opts = {});

namespace detail {
/// Not API (tested directly): `n` bytes from the kernel's CSPRNG (getrandom),
/// drawn 256 bytes at a time per thread; a forked child never reuses what
/// its parent drew. On a simulated host, from the world's seed (a run
/// replays). The client's masking keys (RFC 6455 §5.3: "derived from a strong
/// source of entropy") and handshake nonces.
void secure_random(void* out, std::size_t n) noexcept;
}  // namespace detail

}  // namespace corio::http::websocket
