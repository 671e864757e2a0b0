#pragma once
// The WebSocket protocol (RFC 6455) without I/O: the opening handshake's keys,
// frames written and read, UTF-8 and close codes. websocket.hpp runs it over
// a connection; this part is what the fuzz target (fuzz/websocket_frames.cpp)
// exercises.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace corio::http::websocket {

/// A frame's opcode (RFC 6455 §5.2).
enum class Opcode : std::uint8_t {
    continuation = 0x0,  ///< the next fragment of a message
    text = 0x1,          ///< a text message (UTF-8)
    binary = 0x2,        ///< a binary message
    close = 0x8,         ///< the closing handshake
    ping = 0x9,          ///< a ping (answered with a pong)
    pong = 0xa,          ///< a pong
};

/// Close codes (RFC 6455 §7.4.1) corio sends or reports.
namespace close_code {
inline constexpr std::uint16_t normal = 1000;          ///< the purpose was fulfilled
inline constexpr std::uint16_t going_away = 1001;      ///< a server going down, a page left
inline constexpr std::uint16_t protocol_error = 1002;  ///< a frame broke the protocol
inline constexpr std::uint16_t unsupported = 1003;     ///< a type of data it cannot accept
inline constexpr std::uint16_t no_status = 1005;       ///< reported: the close frame had no code
inline constexpr std::uint16_t abnormal = 1006;        ///< reported: no close frame at all
inline constexpr std::uint16_t invalid_data = 1007;    ///< text that is not UTF-8
inline constexpr std::uint16_t policy = 1008;          ///< a message against the policy
inline constexpr std::uint16_t too_big = 1009;         ///< a message beyond the size limit
inline constexpr std::uint16_t internal_error = 1011;  ///< the endpoint failed
}  // namespace close_code

/// True when `code` may travel in a close frame: 1000-1003, 1007-1014 (the
/// ones IANA registered) and 3000-4999 (1004-1006 and 1015 are reserved;
/// the rest is unassigned).
bool valid_close_code(std::uint16_t code) noexcept;
/// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates,
/// nothing above U+10FFFF).
bool valid_utf8(std::string_view s) noexcept;
/// The largest payload of a control frame (ping, pong, close).
inline constexpr std::size_t max_control_payload = 125;

/// The Sec-WebSocket-Key for a 16-byte nonce (its base64); a client picks the
/// nonce at random for each handshake.
std::string make_key(const std::array<unsigned char, 16>& nonce);
/// True when `key` is a Sec-WebSocket-Key: base64 of 16 bytes (24 characters).
bool valid_key(std::string_view key) noexcept;
/// The Sec-WebSocket-Accept value for a Sec-WebSocket-Key: base64 of the
/// SHA-1 of the key followed by the protocol's GUID (RFC 6455 §4.2.2).
std::string accept_key(std::string_view key);

/// Appends one frame to `out`: the header (the payload length in the
/// shortest form), then `payload`, masked with `mask` when one is given
/// (a client's frames are masked, a server's are not). `compressed` sets
/// RSV1: the first frame of a message compressed by permessage-deflate.
void append_frame(std::string& out, Opcode op, bool fin, std::string_view payload,
                  std::optional<std::uint32_t> mask = std::nullopt, bool compressed = false);
/// The header alone of such a frame, into `out`; returns its length (2 to 14).
std::size_t frame_header(std::array<char, 14>& out, Opcode op, bool fin, std::uint64_t length,
                         std::optional<std::uint32_t> mask = std::nullopt,
                         bool compressed = false) noexcept;

class Inflater;

/// The receiving side of the protocol, without I/O: feed it bytes as they
/// arrive and it gives one event at a time (a whole message, a control
/// frame, or the error that fails the connection). It unmasks, joins
/// fragments, checks every rule of RFC 6455 §5 for the receiving end
/// (reserved bits and opcodes, masking by role, control frame size and
/// fragmentation, continuation order, the length's top bit), UTF-8 of text
/// (as it arrives: invalid text fails at its first bad byte, not at the end
/// of the message) and of close reasons, close codes, and the message size
/// limit. With permessage-deflate (enable_deflate()) it decompresses the
/// messages whose first frame has RSV1 set, and checks the limit and UTF-8
/// on what comes out.
class Reader {
public:
    /// What the last feed() completed.
    enum class Event : std::uint8_t {
        none,    ///< nothing yet: feed more bytes
        text,    ///< a text message: take_message()
        binary,  ///< a binary message: take_message()
        ping,    ///< a ping: payload()
        pong,    ///< a pong: payload()
        close,   ///< a close frame: code() (no_status when it had none), payload() the reason
        error,   ///< the peer broke the protocol: code() to close with, reason()
    };

    /// A reader for the server's side (`server`: frames must be masked) or
    /// the client's (they must not be), with messages of at most
    /// `max_message` bytes.
    Reader(bool server, std::size_t max_message) noexcept;
    ~Reader();
    /// Moves the reader and what it holds.
    Reader(Reader&&) noexcept;
    /// Moves the reader and what it holds.
    Reader& operator=(Reader&&) noexcept;

    /// Accepts messages compressed by permessage-deflate (negotiated in the
    /// handshake); without it RSV1 is a protocol error. Invalid compressed
    /// data fails with invalid_data (1007); a message whose compressed form
    /// passes max_message and a quarter, or whose output passes max_message,
    /// with too_big (1009); no memory for the decompressor with
    /// internal_error (1011).
    void enable_deflate() noexcept { deflate_ = true; }

    /// Consumes bytes of `in` up to the end of one event (or all of them);
    /// returns how many. After an error it consumes nothing.
    std::size_t feed(std::string_view in);
    /// The event the last feed() completed; none when it needs more bytes.
    Event event() const noexcept { return event_; }
    /// Moves out the message of a text or binary event.
    std::string take_message() noexcept { return std::move(message_); }
    /// The payload of a ping or pong, or the reason of a close (valid until
    /// the next feed()).
    std::string_view payload() const noexcept { return control_; }
    /// close: the peer's code; error: the code to close with.
    std::uint16_t code() const noexcept { return code_; }
    /// error: what was wrong.
    std::string_view reason() const noexcept { return reason_; }

private:
    bool fail(std::uint16_t code, std::string_view why) noexcept;
    bool header_done();
    void payload_done();
    bool inflate(std::string_view in, bool last);
    bool check_text() noexcept;

    bool server_;
    std::size_t max_message_;
    Event event_ = Event::none;
    // The frame being read.
    std::array<unsigned char, 14> head_{};
    std::size_t head_len_ = 0;
    std::size_t head_need_ = 2;
    bool in_payload_ = false;
    Opcode op_ = Opcode::continuation;
    bool fin_ = false;
    std::uint64_t left_ = 0;  // payload bytes still to come
    std::array<unsigned char, 4> mask_{};
    std::size_t mask_pos_ = 0;
    // A data message in progress (its first frame's opcode), and control payloads.
    Opcode message_op_ = Opcode::continuation;
    std::string message_;
    std::size_t utf8_ok_ = 0;  // text: message_[0, utf8_ok_) is whole, valid UTF-8
    bool deflate_ = false;     // permessage-deflate was agreed
    bool compressed_ = false;  // the message in progress is compressed
    std::uint64_t compressed_in_ = 0;     // its compressed bytes announced so far
    std::unique_ptr<Inflater> inflater_;  // made at the first compressed message
    std::string scratch_;                 // compressed bytes, unmasked
    std::string control_;
    std::uint16_t code_ = 0;
    std::string_view reason_;
};

}  // namespace corio::http::websocket
