// The WebSocket protocol without I/O: the handshake's keys, UTF-8 and close
// codes, frames written by append_frame() and read back by Reader in both
// roles, fed whole and byte by byte, and every rule RFC 6455 gives the
// receiving end, each with the close code it calls for. permessage-deflate
// (RFC 7692): the negotiation's rules, its examples byte for byte, RSV1's
// rules, the limit on what a message decompresses to, and round trips.
#include <zlib.h>
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <set>
#include <string>
#include <vector>

#include <corio/http/websocket.hpp>

namespace http_websocket_frames_test {

using namespace corio::http::websocket;
using Event = Reader::Event;

namespace {

struct Seen {
    Event event;
    std::string data;  // message, ping/pong payload, close reason, error reason
    std::uint16_t code = 0;
};

// Feeds `wire` in pieces of `step` bytes and collects every event.
std::vector<Seen> read_all(Reader& r, std::string_view wire, std::size_t step = 1 << 30) {
    std::vector<Seen> out;
    std::size_t at = 0;
    while (at < wire.size()) {
        const std::string_view piece = wire.substr(at, std::min(step, wire.size() - at));
        std::size_t used = 0;
        do {
            used += r.feed(piece.substr(used));
            switch (r.event()) {
                case Event::none:
                    break;
                case Event::text:
                case Event::binary:
                    out.push_back({r.event(), r.take_message()});
                    break;
                case Event::error:
                    out.push_back({r.event(), std::string(r.reason()), r.code()});
                    return out;
                default:
                    out.push_back({r.event(), std::string(r.payload()), r.code()});
            }
        } while (used < piece.size());
        at += piece.size();
    }
    return out;
}

std::string frame(Opcode op, std::string_view payload, bool fin = true, bool masked = true) {
    std::string out;
    append_frame(out, op, fin, payload,
                 masked ? std::optional<std::uint32_t>(0x37fa213d) : std::nullopt);
    return out;
}

// A server's reader (frames from a client, masked) with a 1 MiB limit.
Reader server_reader() {
    return Reader(true, 1 << 20);
}

std::uint16_t error_code_of(std::string_view wire, bool server = true, std::size_t max = 1 << 20) {
    Reader r(server, max);
    auto seen = read_all(r, wire);
    if (seen.empty() || seen.back().event != Event::error) return 0;
    return seen.back().code;
}

}  // namespace

TEST_CASE("websocket: the accept key of RFC 6455's example, and key checks", "[websocket]") {
    CHECK(accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK(valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
    CHECK_FALSE(valid_key("dGhlIHNhbXBsZSBub25jZQ="));     // short
    CHECK_FALSE(valid_key("dGhlIHNhbXBsZSBub25jZR=="));    // stray bits in the last character
    CHECK_FALSE(valid_key("dGhlIHNhbXBsZSBub25j!Q=="));    // not base64
    CHECK_FALSE(valid_key("dGhlIHNhbXBsZSBub25jZQ==AA"));  // long
}

TEST_CASE("websocket: UTF-8 validation", "[websocket]") {
    CHECK(valid_utf8(""));
    CHECK(valid_utf8("plain ascii"));
    CHECK(valid_utf8("\xc3\xa9t\xc3\xa9"));       // été
    CHECK(valid_utf8("\xe2\x82\xac"));            // €
    CHECK(valid_utf8("\xf0\x9f\x98\x80"));        // U+1F600
    CHECK(valid_utf8("\xf4\x8f\xbf\xbf"));        // U+10FFFF
    CHECK_FALSE(valid_utf8("\xc0\xaf"));          // overlong '/'
    CHECK_FALSE(valid_utf8("\xe0\x80\xaf"));      // overlong
    CHECK_FALSE(valid_utf8("\xed\xa0\x80"));      // a surrogate
    CHECK_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
    CHECK_FALSE(valid_utf8("\xe2\x82"));          // cut short
    CHECK_FALSE(valid_utf8("\x80"));              // a lone continuation
    CHECK_FALSE(valid_utf8("\xc3\x28"));          // a bad continuation
    CHECK_FALSE(valid_utf8("\xff"));
}

TEST_CASE("websocket: close codes that may be sent", "[websocket]") {
    for (std::uint16_t c :
         {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1014, 3000, 4999}) {
        CHECK(valid_close_code(c));
    }
    for (std::uint16_t c : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000}) {
        CHECK_FALSE(valid_close_code(c));
    }
}

TEST_CASE("websocket: frames round-trip in both roles, whole and byte by byte", "[websocket]") {
    const std::string big(70000, 'z');  // a 64-bit length field
    const std::string mid(300, 'm');    // a 16-bit one
    for (bool server : {true, false}) {
        std::string wire =
            frame(Opcode::text, "hello", true, server) + frame(Opcode::binary, mid, true, server) +
            frame(Opcode::binary, big, true, server) + frame(Opcode::text, "", true, server) +
            frame(Opcode::ping, "p", true, server) + frame(Opcode::pong, "", true, server) +
            frame(Opcode::close, std::string("\x03\xe8") + "bye", true, server);
        for (std::size_t step : {std::size_t(1), std::size_t(7), std::size_t(1) << 30}) {
            Reader r(server, 1 << 20);
            auto seen = read_all(r, wire, step);
            REQUIRE(seen.size() == 7);
            CHECK((seen[0].event == Event::text && seen[0].data == "hello"));
            CHECK((seen[1].event == Event::binary && seen[1].data == mid));
            CHECK((seen[2].event == Event::binary && seen[2].data == big));
            CHECK((seen[3].event == Event::text && seen[3].data.empty()));
            CHECK((seen[4].event == Event::ping && seen[4].data == "p"));
            CHECK((seen[5].event == Event::pong && seen[5].data.empty()));
            CHECK((seen[6].event == Event::close && seen[6].code == 1000 && seen[6].data == "bye"));
        }
    }
}

TEST_CASE("websocket: the header uses the shortest length form", "[websocket]") {
    std::array<char, 14> h{};
    CHECK(frame_header(h, Opcode::text, true, 125) == 2);
    CHECK(frame_header(h, Opcode::text, true, 126) == 4);
    CHECK(frame_header(h, Opcode::text, true, 65535) == 4);
    CHECK(frame_header(h, Opcode::text, true, 65536) == 10);
    CHECK(frame_header(h, Opcode::text, true, 65536, 1u) == 14);
    CHECK(static_cast<unsigned char>(h[0]) == 0x81);
    CHECK(static_cast<unsigned char>(h[1]) == (0x80 | 127));
}

TEST_CASE("websocket: fragments join, with control frames between them", "[websocket]") {
    Reader r = server_reader();
    const std::string wire = frame(Opcode::text, "frag", false) + frame(Opcode::ping, "mid") +
                             frame(Opcode::continuation, "men", false) +
                             frame(Opcode::continuation, "ted") + frame(Opcode::binary, "next");
    auto seen = read_all(r, wire, 3);
    REQUIRE(seen.size() == 3);
    CHECK((seen[0].event == Event::ping && seen[0].data == "mid"));
    CHECK((seen[1].event == Event::text && seen[1].data == "fragmented"));
    CHECK((seen[2].event == Event::binary && seen[2].data == "next"));
    // UTF-8 split between fragments is checked on the whole message.
    Reader r2 = server_reader();
    auto split =
        read_all(r2, frame(Opcode::text, "\xc3", false) + frame(Opcode::continuation, "\xa9"));
    REQUIRE(split.size() == 1);
    CHECK(split[0].data == "\xc3\xa9");
}

TEST_CASE("websocket: a close frame with no code, and bad close payloads", "[websocket]") {
    Reader r = server_reader();
    auto seen = read_all(r, frame(Opcode::close, ""));
    REQUIRE(seen.size() == 1);
    CHECK((seen[0].event == Event::close && seen[0].code == close_code::no_status));
    CHECK(error_code_of(frame(Opcode::close, "\x03")) == close_code::protocol_error);
    CHECK(error_code_of(frame(Opcode::close, "\x03\xed")) == close_code::protocol_error);  // 1005
    CHECK(error_code_of(frame(Opcode::close, std::string("\x03\xe8\xff", 3))) ==
          close_code::invalid_data);
}

TEST_CASE("websocket: each protocol violation fails with its close code", "[websocket]") {
    using namespace std::string_literals;
    const std::uint16_t proto = close_code::protocol_error;
    // Reserved bits, reserved opcodes.
    CHECK(error_code_of("\xc1\x80\0\0\0\0"s) == proto);  // RSV1
    CHECK(error_code_of("\x83\x80\0\0\0\0"s) == proto);  // opcode 3
    CHECK(error_code_of("\x8b\x80\0\0\0\0"s) == proto);  // opcode 11
    // Masking by role.
    CHECK(error_code_of(frame(Opcode::text, "x", true, false)) == proto);        // to a server
    CHECK(error_code_of(frame(Opcode::text, "x", true, true), false) == proto);  // to a client
    // Control frames: fragmented, or over 125 bytes.
    CHECK(error_code_of(frame(Opcode::ping, "x", false)) == proto);
    CHECK(error_code_of(frame(Opcode::ping, std::string(126, 'p'))) == proto);
    // Continuation order.
    CHECK(error_code_of(frame(Opcode::continuation, "x")) == proto);
    CHECK(error_code_of(frame(Opcode::text, "a", false) + frame(Opcode::text, "b")) == proto);
    // A 64-bit length with its top bit set.
    CHECK(error_code_of("\x82\xff\x80\0\0\0\0\0\0\0\0\0\0\0"s) == proto);
    // Text that is not UTF-8.
    CHECK(error_code_of(frame(Opcode::text, "\xff")) == close_code::invalid_data);
    // A message over the limit, in one frame or across fragments (refused at the header,
    // before its payload arrives).
    CHECK(error_code_of(frame(Opcode::binary, std::string(101, 'b')), true, 100) ==
          close_code::too_big);
    CHECK(error_code_of(frame(Opcode::binary, std::string(60, 'b'), false) +
                            frame(Opcode::continuation, std::string(41, 'b')),
                        true, 100) == close_code::too_big);
    CHECK(error_code_of(frame(Opcode::binary, std::string(100, 'b')), true, 100) == 0);
    // After an error the reader takes nothing more.
    Reader r = server_reader();
    (void)read_all(r, frame(Opcode::continuation, "x"));
    CHECK(r.feed(frame(Opcode::text, "ok")) == 0);
    CHECK(r.event() == Event::error);
}

TEST_CASE("websocket: invalid text fails at its first bad byte", "[websocket]") {
    // A first fragment with a bad byte: the error comes before the message goes on.
    Reader r = server_reader();
    auto seen = read_all(r, frame(Opcode::text, "ok \xff", false));
    REQUIRE(seen.size() == 1);
    CHECK((seen[0].event == Event::error && seen[0].code == close_code::invalid_data));
    // Within one frame, cut short: the bytes up to the bad one are enough.
    Reader r2 = server_reader();
    const std::string whole =
        frame(Opcode::text, std::string("abc\xc3\x28") + std::string(100, 'z'));
    r2.feed(whole.substr(0, whole.size() - 90));
    CHECK(r2.event() == Event::error);
    CHECK(r2.code() == close_code::invalid_data);
    // A character cut between fragments is not an error until the message ends inside it.
    Reader r3 = server_reader();
    auto cut =
        read_all(r3, frame(Opcode::text, "\xe2\x82", false) + frame(Opcode::continuation, "\xac"));
    REQUIRE(cut.size() == 1);
    CHECK(cut[0].data == "\xe2\x82\xac");
    Reader r4 = server_reader();
    auto ends_inside =
        read_all(r4, frame(Opcode::text, "\xe2\x82", false) + frame(Opcode::continuation, ""));
    REQUIRE(ends_inside.size() == 1);
    CHECK(ends_inside[0].code == close_code::invalid_data);
    // A bad second byte in a cut character fails at once too.
    Reader r5 = server_reader();
    auto early = read_all(r5, frame(Opcode::text, "\xe0\x80", false));
    REQUIRE(early.size() == 1);
    CHECK(early[0].event == Event::error);
}

TEST_CASE("websocket: a frame's header alone is enough to refuse an oversized message",
          "[websocket]") {
    using namespace std::string_literals;
    Reader r(true, 1000);
    // A masked binary frame announcing 2^40 bytes, and no payload.
    const std::string head = "\x82\xff\0\0\x01\0\0\0\0\0\x01\x02\x03\x04"s;
    CHECK(r.feed(head) == head.size());
    CHECK(r.event() == Event::error);
    CHECK(r.code() == close_code::too_big);
}

// ---- permessage-deflate (RFC 7692) ----------------------------------------------------

namespace {

DeflateParams params(bool snct, bool cnct, int smwb, int cmwb) {
    DeflateParams p;
    p.server_no_context_takeover = snct;
    p.client_no_context_takeover = cnct;
    p.server_max_window_bits = smwb;
    p.client_max_window_bits = cmwb;
    return p;
}

// A compressed message's frames: RSV1 on the first; masked when `masked`.
std::string compressed_frame(Opcode op, std::string_view payload, bool fin = true,
                             bool masked = false, bool first = true) {
    std::string out;
    append_frame(out, op, fin, payload,
                 masked ? std::optional<std::uint32_t>(0x1a2b3c4d) : std::nullopt, first);
    return out;
}

std::string deflated(Deflater& d, std::string_view message) {
    std::string out;
    const bool compressed = d.compress(message, out);
    CHECK(compressed);
    return out;
}

}  // namespace

TEST_CASE("permessage-deflate: offers parsed, the invalid ones declined", "[websocket]") {
    using V = std::vector<DeflateParams>;
    CHECK(deflate_offers("permessage-deflate") == V{DeflateParams{}});
    CHECK(deflate_offers("permessage-deflate; client_max_window_bits") ==
          V{params(false, false, 0, -1)});
    CHECK(deflate_offers("x-webkit-deflate-frame, permessage-deflate ; server_max_window_bits=10;"
                         "client_no_context_takeover") == V{params(false, true, 10, 0)});
    CHECK(deflate_offers("Permessage-Deflate; SERVER_NO_CONTEXT_TAKEOVER; "
                         "client_max_window_bits=\"12\"") == V{params(true, false, 0, 12)});
    // Two offers, in order; empty list elements are allowed.
    CHECK(deflate_offers(", permessage-deflate; server_max_window_bits=8,,permessage-deflate") ==
          V{params(false, false, 8, 0), DeflateParams{}});
    // Declined: values out of range or malformed, a value where none goes, none where
    // one must be, unknown or repeated parameters.
    for (const char* bad :
         {"permessage-deflate; server_max_window_bits=7",
          "permessage-deflate; server_max_window_bits=16",
          "permessage-deflate; server_max_window_bits=010",
          "permessage-deflate; server_max_window_bits=1x",
          "permessage-deflate; server_max_window_bits",
          "permessage-deflate; client_max_window_bits=",
          "permessage-deflate; server_no_context_takeover=1", "permessage-deflate; level=9",
          "permessage-deflate; client_no_context_takeover; "
          "client_no_context_takeover",
          "permessage-deflate; server_max_window_bits=9; "
          "server_max_window_bits=10"}) {
        INFO(bad);
        CHECK(deflate_offers(bad).empty());
    }
    // A value that does not parse at all gives nothing, even offers before the fault.
    for (const char* broken :
         {"permessage-deflate; =", "permessage-deflate; a=\"open", "permessage-deflate; ; x",
          "permessage-deflate x", "permessage-deflate; a=\"\x01\""}) {
        INFO(broken);
        CHECK(deflate_offers(broken).empty());
    }
    CHECK(deflate_offers("x-other; a=1, permessage-deflate; a=\"q\\\"\"").empty());
}

TEST_CASE("permessage-deflate: the server's answer and the client's check", "[websocket]") {
    DeflateOptions off;
    DeflateOptions on;
    on.enabled = true;
    CHECK_FALSE(deflate_accept({DeflateParams{}}, off));
    CHECK_FALSE(deflate_accept({}, on));
    // The first offer; the client's own parameters need no answer.
    CHECK(deflate_accept({params(false, true, 0, -1), params(true, false, 9, 0)}, on) ==
          DeflateParams{});
    CHECK(deflate_accept({params(true, false, 0, 0)}, on) == params(true, false, 0, 0));
    CHECK(deflate_accept({params(false, false, 10, 0)}, on) == params(false, false, 10, 0));
    // The server's own limits are said in the answer.
    DeflateOptions small = on;
    small.window_bits = 11;
    small.no_context_takeover = true;
    CHECK(deflate_accept({DeflateParams{}}, small) == params(true, false, 11, 0));
    CHECK(deflate_accept({params(false, false, 13, 0)}, small) == params(true, false, 11, 0));
    CHECK(deflate_accept({params(false, false, 8, 0)}, small) == params(true, false, 8, 0));

    CHECK(deflate_format(params(true, false, 11, 0)) ==
          "permessage-deflate; server_no_context_takeover; server_max_window_bits=11");
    CHECK(deflate_format(params(false, true, 0, 9)) ==
          "permessage-deflate; client_no_context_takeover; client_max_window_bits=9");
    CHECK(deflate_format(params(false, false, 0, -1)) ==
          "permessage-deflate; client_max_window_bits");
    CHECK(deflate_offer(on) == "permessage-deflate; client_max_window_bits");
    CHECK(deflate_offer(small) ==
          "permessage-deflate; client_max_window_bits; client_no_context_takeover");
    // What the server offered back parses as what it said.
    for (const DeflateParams& p : {DeflateParams{}, params(true, true, 12, 9)}) {
        CHECK(deflate_check_answer(deflate_format(p)) == p);
    }

    // Answers a client must fail: not exactly one permessage-deflate, unknown or
    // repeated parameters, client_max_window_bits without a value.
    for (const char* bad :
         {"", "x-other", "permessage-deflate, permessage-deflate", "permessage-deflate; foo",
          "permessage-deflate; client_max_window_bits",
          "permessage-deflate; server_max_window_bits=16",
          "permessage-deflate; server_no_context_takeover; server_no_context_takeover"}) {
        INFO(bad);
        CHECK_FALSE(deflate_check_answer(bad));
    }
}

TEST_CASE("permessage-deflate: RFC 7692's examples, byte for byte", "[websocket]") {
    // §7.2.3.1: "Hello" compressed, and §7.2.3.2: again, with the window of the first.
    const std::string hello("\xf2\x48\xcd\xc9\xc9\x07\x00", 7);
    const std::string again("\xf2\x00\x11\x00\x00", 5);
    Deflater d(6, 15, 8, false);
    CHECK(deflated(d, "Hello") == hello);
    CHECK(deflated(d, "Hello") == again);
    CHECK(deflated(d, "") == std::string(1, '\0'));  // §7.2.3.6: an empty message
    // Without context takeover each is the first; one too short to gain goes as it is.
    Deflater fresh(6, 15, 8, true);
    CHECK(deflated(fresh, "Hello Hello Hello Hello") == deflated(fresh, "Hello Hello Hello Hello"));
    std::string out = "kept";
    CHECK_FALSE(fresh.compress("Hello", out));
    CHECK(out == "kept");

    for (const std::size_t step : {std::size_t(1), std::size_t(1) << 30}) {
        Reader r(false, 1 << 20);
        r.enable_deflate();
        const std::string wire =
            compressed_frame(Opcode::text, hello) + compressed_frame(Opcode::text, again) +
            // §7.2.3.3: a stored (uncompressed) block.
            compressed_frame(Opcode::text, std::string("\x00\x05\x00\xfa\xff"
                                                       "Hello\x00",
                                                       11)) +
            // §7.2.3.5: two blocks.
            compressed_frame(Opcode::binary, std::string("\xf2\x48\x05\x00\x00\x00\xff\xff"
                                                         "\xca\xc9\xc9\x07\x00",
                                                         13)) +
            // §7.2.3.4: a final block (BFINAL): the next message starts a new stream.
            compressed_frame(Opcode::text, std::string("\xf3\x48\xcd\xc9\xc9\x07\x00\x00", 8)) +
            compressed_frame(Opcode::text, hello) +
            // A compressed message in fragments (RSV1 on the first only), a ping between.
            compressed_frame(Opcode::text, hello.substr(0, 3), false) +
            frame(Opcode::ping, "p", true, false) +
            compressed_frame(Opcode::continuation, hello.substr(3), true, false, false) +
            // An uncompressed message still reads as it is.
            frame(Opcode::text, "plain", true, false);
        INFO(step);
        auto seen = read_all(r, wire, step);
        REQUIRE(seen.size() == 9);
        for (int i : {0, 1, 2, 4, 5, 7}) {
            CHECK((seen[i].event == Event::text && seen[i].data == "Hello"));
        }
        CHECK((seen[3].event == Event::binary && seen[3].data == "Hello"));
        CHECK((seen[6].event == Event::ping && seen[6].data == "p"));
        CHECK((seen[8].event == Event::text && seen[8].data == "plain"));
    }
}

TEST_CASE("permessage-deflate: RSV1's rules, the limits, bad data", "[websocket]") {
    const std::string hello("\xf2\x48\xcd\xc9\xc9\x07\x00", 7);
    // Every event, read with deflate on (a client's reader unless `server`), 3 bytes at a time.
    const auto read_deflate = [](std::string_view wire, bool server = false,
                                 std::size_t max = 1 << 20) {
        Reader r(server, max);
        r.enable_deflate();
        return read_all(r, wire, 3);
    };
    const auto error_with_deflate = [&](std::string_view wire, bool server = false,
                                        std::size_t max = 1 << 20) {
        auto seen = read_deflate(wire, server, max);
        return seen.empty() || seen.back().event != Event::error ? std::uint16_t(0)
                                                                 : seen.back().code;
    };
    const auto one_message = [&](std::string_view wire, std::string_view want, bool server = false,
                                 std::size_t max = 1 << 20) {
        auto seen = read_deflate(wire, server, max);
        return seen.size() == 1 && seen[0].event == Event::text && seen[0].data == want;
    };
    // Not agreed: RSV1 is a reserved bit.
    CHECK(error_code_of(compressed_frame(Opcode::text, hello), false) ==
          close_code::protocol_error);
    // Agreed: RSV1 only on a data message's first frame; RSV2 and RSV3 never.
    CHECK(error_with_deflate(compressed_frame(Opcode::ping, "x")) == close_code::protocol_error);
    CHECK(error_with_deflate(frame(Opcode::text, "a", false, false) +
                             compressed_frame(Opcode::continuation, "b")) ==
          close_code::protocol_error);
    CHECK(error_with_deflate(std::string("\xa1\x01x", 3)) == close_code::protocol_error);
    CHECK(error_with_deflate(std::string("\x91\x01x", 3)) == close_code::protocol_error);
    // The masked form on a server's reader reads the same; no limit at all works too.
    CHECK(one_message(compressed_frame(Opcode::text, hello, true, true), "Hello", true));
    CHECK(one_message(compressed_frame(Opcode::text, hello), "Hello", false, SIZE_MAX));

    // The limit counts what comes out: 1 MiB of one letter is a 1 KiB frame.
    Deflater d(6, 15, 8, false);
    const std::string bomb = deflated(d, std::string(1 << 20, 'a'));
    CHECK(bomb.size() < 2048);
    CHECK(error_with_deflate(compressed_frame(Opcode::binary, bomb), false, 100000) ==
          close_code::too_big);
    // Exactly at the limit is fine.
    Deflater d2(6, 15, 8, false);
    CHECK(one_message(compressed_frame(Opcode::text, deflated(d2, std::string(5000, 'b'))),
                      std::string(5000, 'b'), false, 5000));
    // What comes in is bounded as well: a frame of 6,000 bytes of empty stored blocks
    // (nothing out) passes a 1,000-byte limit's allowance, and is refused at its header.
    // (A message that ends at a block boundary, as this one, needs no 00 00 ff ff.)
    std::string empty_blocks;
    for (int i = 0; i < 1200; ++i)
        empty_blocks += std::string("\x00\x00\x00\xff\xff", 5);
    const std::string blocks_frame = compressed_frame(Opcode::binary, empty_blocks);
    CHECK(error_with_deflate(blocks_frame.substr(0, 4), false, 1000) == close_code::too_big);
    CHECK(error_with_deflate(blocks_frame, false, 100000) == 0);

    // Not DEFLATE (block type 3), or text that decompresses to what is not UTF-8: 1007.
    CHECK(error_with_deflate(compressed_frame(Opcode::text, "\xff\xff")) ==
          close_code::invalid_data);
    Deflater d3(6, 15, 8, false);
    CHECK(error_with_deflate(compressed_frame(Opcode::text, deflated(d3, "ok \xff"))) ==
          close_code::invalid_data);
    // A message must end at a block boundary: one cut inside its block would run into
    // the next message. One of no bytes at all is an empty message.
    CHECK(error_with_deflate(compressed_frame(Opcode::text, hello.substr(0, 6))) ==
          close_code::invalid_data);
    auto empties =
        read_deflate(compressed_frame(Opcode::text, "") + compressed_frame(Opcode::text, hello) +
                     compressed_frame(Opcode::text, "") + compressed_frame(Opcode::text, hello));
    REQUIRE(empties.size() == 4);
    for (int i : {0, 2}) {
        CHECK((empties[i].event == Event::text && empties[i].data.empty()));
        CHECK(empties[i + 1].data == "Hello");
    }
    // A few bytes after a final block are padding (RFC 7692 §7.2.3.4 has one); more is not.
    const std::string final_hello("\xf3\x48\xcd\xc9\xc9\x07\x00", 7);
    CHECK(one_message(compressed_frame(Opcode::text, final_hello + std::string(8, '\0')), "Hello"));
    CHECK(error_with_deflate(compressed_frame(Opcode::text, final_hello + std::string(9, '\0'))) ==
          close_code::invalid_data);
}

TEST_CASE("permessage-deflate: after a final block the window is kept", "[websocket]") {
    // A sender that ends each message with a final block (Z_FINISH) and starts the next
    // stream with the previous message as its dictionary: the next refers back to it.
    const std::string text = "the quick brown fox jumps over the lazy dog";
    const auto compress = [&](bool with_dictionary, int flush) {
        z_stream z{};
        REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
        if (with_dictionary) {
            REQUIRE(deflateSetDictionary(&z, reinterpret_cast<const Bytef*>(text.data()),
                                         uInt(text.size())) == Z_OK);
        }
        std::string out(256, '\0');
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
        z.avail_in = uInt(text.size());
        z.next_out = reinterpret_cast<Bytef*>(out.data());
        z.avail_out = uInt(out.size());
        CHECK(deflate(&z, flush) != Z_STREAM_ERROR);
        out.resize(out.size() - z.avail_out);
        deflateEnd(&z);
        if (flush == Z_SYNC_FLUSH) out.resize(out.size() - 4);  // 00 00 ff ff
        return out;
    };
    const std::string first = compress(false, Z_FINISH);
    const std::string second = compress(true, Z_SYNC_FLUSH);
    CHECK(second.size() < first.size() / 2);  // it is all a back-reference
    Reader r(false, 1 << 20);
    r.enable_deflate();
    auto seen = read_all(
        r, compressed_frame(Opcode::text, first) + compressed_frame(Opcode::text, second), 5);
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].data == text);
    CHECK(seen[1].data == text);
}

TEST_CASE("permessage-deflate: messages round-trip, window kept or not", "[websocket]") {
    std::uint64_t x = 0x9e3779b97f4a7c15;
    const auto random_bytes = [&x](std::size_t n) {
        std::string s(n, '\0');
        for (char& c : s) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            c = static_cast<char>(x);
        }
        return s;
    };
    // Empty messages after others too: zlib writes nothing for them, and the payload
    // must still decompress (to nothing) and keep the windows in step.
    std::vector<std::string> messages = {
        "", "a", "", "", "Hello", std::string(100000, 'z'), random_bytes(70000), ""};
    for (int i = 0; i < 20; ++i) {
        messages.push_back("{\"id\": " + std::to_string(i) + ", \"name\": \"item\"}");
    }
    for (const bool takeover : {true, false}) {
        for (const int bits : {9, 12, 15}) {
            Deflater d(1 + bits % 9, bits, 8, !takeover);
            std::string wire;
            std::size_t raw = 0;
            for (const std::string& m : messages) {
                std::string z;
                const bool compressed = d.compress(m, z);
                CHECK((compressed || !takeover));
                const bool text = m.size() != 70000;
                const Opcode op = text ? Opcode::text : Opcode::binary;
                wire += compressed ? compressed_frame(op, z, true, true) : frame(op, m);
                raw += m.size();
            }
            INFO("takeover " << takeover << ", window bits " << bits);
            CHECK(wire.size() < raw / 2);
            Reader r(true, 1 << 20);
            r.enable_deflate();
            auto seen = read_all(r, wire, 777);
            REQUIRE(seen.size() == messages.size());
            for (std::size_t i = 0; i < messages.size(); ++i) {
                CHECK(seen[i].data == messages[i]);
            }
        }
    }
}

TEST_CASE("websocket: masking keys come from the kernel, and a forked child draws its own",
          "[websocket]") {
    std::set<std::uint32_t> keys;
    for (int i = 0; i < 1000; ++i) {
        std::uint32_t k = 0;
        detail::secure_random(&k, sizeof k);
        keys.insert(k);
    }
    CHECK(keys.size() > 990);  // a repeat among 1,000 draws of 32 bits: 1 in 8,600

    unsigned char first = 0;
    detail::secure_random(&first, 1);  // this thread's pool is filled now
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {  // the child's next bytes, to the parent
        std::array<unsigned char, 64> mine{};
        detail::secure_random(mine.data(), mine.size());
        const bool ok = ::write(fds[1], mine.data(), mine.size()) == ssize_t(mine.size());
        ::_exit(ok ? 0 : 1);
    }
    ::close(fds[1]);
    std::array<unsigned char, 64> theirs{}, mine{};
    std::size_t got = 0;
    while (got < theirs.size()) {
        const ssize_t r = ::read(fds[0], theirs.data() + got, theirs.size() - got);
        if (r < 0 && errno == EINTR) continue;
        REQUIRE(r > 0);
        got += std::size_t(r);
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    detail::secure_random(mine.data(), mine.size());
    CHECK(mine != theirs);  // the same pool in both: what the child sent, the parent draws
}

}  // namespace http_websocket_frames_test
