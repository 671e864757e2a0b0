// Fuzz target for the WebSocket frame reader (http/websocket_frames), with or without
// permessage-deflate (http/websocket_deflate). Any bytes, read as a server (masked frames) or
// a client, compressed messages allowed or not, in pieces whose size the first byte picks: the
// events must be the same as when the bytes come one at a time; a reader never takes more than it
// is given, takes nothing after an error, and gives only what the protocol allows (text that is
// UTF-8, control payloads of at most 125 bytes, messages within the limit, close codes that
// may be sent). Each message, written again with append_frame (compressed where deflate is
// on), must read back the same.
// Violations call abort().
#include <corio/http/websocket_deflate.hpp>
#include <corio/http/websocket_frames.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace ws = corio::http::websocket;

namespace {

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

constexpr std::size_t limit = 4096;

struct Seen {
    ws::Reader::Event event;
    std::string data;
    std::uint16_t code;
    bool operator==(const Seen&) const = default;
};

std::vector<Seen> read_all(bool server, bool deflate, std::string_view wire, std::size_t step) {
    ws::Reader r(server, limit);
    if (deflate) r.enable_deflate();
    std::vector<Seen> out;
    for (std::size_t at = 0; at < wire.size();) {
        const std::string_view piece = wire.substr(at, std::min(step, wire.size() - at));
        std::size_t used = 0;
        while (used < piece.size()) {
            const std::size_t n = r.feed(piece.substr(used));
            require(n <= piece.size() - used, "took more than it was given");
            used += n;
            using E = ws::Reader::Event;
            const E e = r.event();
            if (e == E::error) {
                require(r.feed(piece) == 0, "took bytes after an error");
                // With deflate, which of two faults in one piece shows first (bad
                // compressed data, or the text it gave so far) depends on the split:
                // the code is the same (1007), the reason may differ.
                out.push_back({e, deflate ? std::string() : std::string(r.reason()), r.code()});
                return out;
            }
            if (e == E::none) {
                require(used == piece.size(), "stopped early without an event");
                continue;
            }
            if (e == E::text || e == E::binary) {
                std::string m = r.take_message();
                require(m.size() <= limit, "message over the limit");
                require(e != E::text || ws::valid_utf8(m), "text that is not UTF-8");
                out.push_back({e, std::move(m), 0});
            } else {
                require(r.payload().size() <= ws::max_control_payload, "long control payload");
                require(e != E::close || r.code() == ws::close_code::no_status ||
                            ws::valid_close_code(r.code()),
                        "close code that may not be sent");
                out.push_back(
                    {e, std::string(r.payload()), e == E::close ? r.code() : std::uint16_t(0)});
            }
        }
        at += piece.size();
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const bool server = (data[0] & 0x80) != 0;
    const bool deflate = (data[0] & 0x40) != 0;
    const std::size_t step = 1 + (data[0] & 0x3f);
    const std::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);
    const auto pieces = read_all(server, deflate, wire, step);
    const auto bytes = read_all(server, deflate, wire, 1);
    require(pieces == bytes, "events depend on how the bytes are split");
    for (const Seen& s : pieces) {
        using E = ws::Reader::Event;
        if (s.event != E::text && s.event != E::binary) continue;
        std::string payload;
        bool compressed = false;
        if (deflate) {
            ws::Deflater d(1 + s.data.size() % 9, 9 + s.data.size() % 7, 8, true);
            compressed = d.compress(s.data, payload);
        }
        if (!compressed) payload = s.data;
        std::string again;
        ws::append_frame(again, s.event == E::text ? ws::Opcode::text : ws::Opcode::binary, true,
                         payload, server ? std::optional<std::uint32_t>(0x5eed1234u) : std::nullopt,
                         compressed);
        const auto back = read_all(server, deflate, again, step);
        require(back.size() == 1 && back[0] == s, "a message did not read back the same");
    }
    return 0;
}
