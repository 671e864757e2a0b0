// The WebSocket protocol without I/O: the handshake's keys, UTF-8 and close
// codes, frames written by append_frame() and read back by Reader in both
// roles, fed whole and byte by byte, and every rule RFC 6455 gives the
// receiving end, each with the close code it calls for.
#include <catch2/catch.hpp>

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

}  // namespace http_websocket_frames_test
