#pragma once
// permessage-deflate (RFC 7692) for WebSocket, without I/O: what the opening
// handshake negotiates, and the compressor and decompressor of messages (zlib,
// raw DEFLATE). websocket.hpp uses it when Options::deflate enables it;
// Reader (websocket_frames.hpp) decompresses with it.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corio::http::websocket {

/// One side's wishes for permessage-deflate (Options::deflate).
///
/// Memory: a connection that received a compressed message holds a
/// decompressor (about 56 KiB); one that sent one holds a compressor of
/// 2^(window_bits+2) + 2^(mem_level+9) bytes (256 KiB at the defaults,
/// 12 KiB at window_bits 10 and mem_level 4). Neither exists before it is
/// used.
///
/// Compression and secrets: a message that mixes a secret with text an
/// attacker chooses leaks the secret through its compressed size (the
/// CRIME/BREACH attacks); send such messages uncompressed
/// (WebSocket::send's Compression::never; no_context_takeover alone does
/// not prevent it).
struct DeflateOptions {
    /// Offer it (client) or accept an offer (server). Off by default.
    bool enabled = false;
    /// zlib's compression level: 1 (fastest) to 9 (smallest).
    int level = 6;
    /// Our compressor's window: 2^window_bits bytes, 9 to 15. A server also
    /// tells the client (server_max_window_bits) when it is below 15.
    int window_bits = 15;
    /// zlib's memLevel (1 to 9): the compressor's other memory.
    int mem_level = 8;
    /// Compress each message on its own, without the ones before it (a
    /// worse ratio). A server says so in its answer
    /// (server_no_context_takeover); a client offers client_no_context_takeover.
    bool no_context_takeover = false;
    /// Messages shorter than this go out uncompressed.
    std::size_t min_size = 0;
};

/// The parameters of one permessage-deflate offer or answer (RFC 7692 §7.1).
struct DeflateParams {
    bool server_no_context_takeover = false;  ///< the server compresses each message alone
    bool client_no_context_takeover = false;  ///< the client compresses each message alone
    int server_max_window_bits = 0;           ///< 8-15; 0: not given
    int client_max_window_bits = 0;           ///< 8-15; -1: given without a value; 0: not given
    /// Equal when every parameter is.
    bool operator==(const DeflateParams&) const = default;
};

/// The permessage-deflate offers in a Sec-WebSocket-Extensions value (the
/// field's lines joined with ", "), in the client's order. An offer with an
/// unknown or repeated parameter, or a value out of range, is left out (the
/// server declines it, RFC 7692 §5); other extensions are skipped; a value
/// that does not parse gives none.
std::vector<DeflateParams> deflate_offers(std::string_view extensions);

/// The server's choice: its answer to the first offer it can accept, given
/// its options (nullopt when there is none, or when `ours` is not enabled).
/// The answer asks for server_no_context_takeover when the offer or `ours`
/// does, and gives server_max_window_bits when the offer asked for a
/// limit or `ours.window_bits` is below 15.
std::optional<DeflateParams> deflate_accept(const std::vector<DeflateParams>& offers,
                                            const DeflateOptions& ours);

/// The client's offer for `ours`: "permessage-deflate; client_max_window_bits"
/// (and client_no_context_takeover when `ours` asks for it).
std::string deflate_offer(const DeflateOptions& ours);

/// Checks the server's Sec-WebSocket-Extensions answer to deflate_offer()
/// (RFC 7692 §7.1): exactly one permessage-deflate with known parameters,
/// none repeated, values 8-15 (client_max_window_bits with one). nullopt
/// when the client must fail the connection.
std::optional<DeflateParams> deflate_check_answer(std::string_view extensions);

/// The Sec-WebSocket-Extensions value for `p` ("permessage-deflate; ...").
std::string deflate_format(const DeflateParams& p);

/// Compresses messages (RFC 7692 §7.2.1): raw DEFLATE flushed to a byte
/// boundary, its final 00 00 ff ff left out. Keeps its window between
/// messages unless made with no_context_takeover.
class Deflater {
public:
    /// `window_bits` 9 to 15, `level` 1 to 9, `mem_level` 1 to 9. Throws
    /// std::bad_alloc when zlib has no memory for it.
    Deflater(int level, int window_bits, int mem_level, bool no_context_takeover);
    ~Deflater();
    Deflater(const Deflater&) = delete;
    Deflater& operator=(const Deflater&) = delete;

    /// Appends the compressed form of `message` to `out`. Returns false,
    /// appending nothing, when it would not be shorter and sending the
    /// message as it is keeps both ends in step (only without context
    /// takeover: otherwise the peer's window must see every message).
    bool compress(std::string_view message, std::string& out);

private:
    struct Z;
    std::unique_ptr<Z> z_;
    bool no_context_takeover_;
};

/// Decompresses messages: any window size the peer used (8 to 15).
class Inflater {
public:
    /// How a feed() went. An error stays: later calls give it again.
    enum class Status : unsigned char {
        ok,        ///< the input was taken (after a final block: a few bytes skipped)
        too_big,   ///< the output would pass the limit
        bad_data,  ///< the input is not valid DEFLATE, or a message ended inside a block
    };
    /// Throws std::bad_alloc when zlib has no memory for it.
    Inflater();
    ~Inflater();
    Inflater(const Inflater&) = delete;
    Inflater& operator=(const Inflater&) = delete;

    /// Decompresses `in`, the next part of a message's payload, appending to
    /// `out` (at most `limit` bytes long), which may not grow past `limit`.
    /// Throws std::bad_alloc when zlib has no memory (the Inflater is then
    /// failed).
    Status feed(std::string_view in, std::string& out, std::size_t limit);
    /// Ends the message: feeds the 00 00 ff ff its sender left out, after
    /// which the message must end at a block boundary (a message of no
    /// bytes, or one already at a boundary, as from a sender that kept the
    /// 00 00 ff ff, needs none). A message that ended
    /// with a final block (BFINAL) has its own end (at most 8 bytes may
    /// follow it, ignored); the next message starts a new stream that keeps
    /// the window.
    Status finish(std::string& out, std::size_t limit);

private:
    struct Z;
    std::unique_ptr<Z> z_;
    bool ended_ = false;           // a final block came: the rest of the message is skipped
    std::size_t after_final_ = 0;  // bytes skipped after it
    std::size_t message_in_ = 0;   // bytes fed since the last finish()
    Status failed_ = Status::ok;   // sticky
};

}  // namespace corio::http::websocket
