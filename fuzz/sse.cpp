// Fuzz target for http/sse_codec: any bytes parsed as an event stream, whole and in pieces
// (sizes from the first byte). The pieces must give the same events and errors as the whole;
// no event may have CR or LF in its type; format_event may refuse a parsed event only for its
// id (control characters, blank ends), and events it writes must parse back to themselves.
// Violations call abort().
#include <corio/http/sse_codec.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using corio::http::sse::Event;
using corio::http::sse::Parser;

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

bool same(const std::vector<Event>& a, const std::vector<Event>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].type != b[i].type || a[i].data != b[i].data || a[i].id != b[i].id ||
            a[i].retry != b[i].retry) {
            return false;
        }
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t piece = 1 + data[0] % 16;
    const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    Parser::Limits limits;
    limits.max_line = 512;
    limits.max_data = 2048;

    Parser whole(limits);
    std::vector<Event> a;
    const bool a_ok = whole.feed(in, a).has_value();
    Parser split(limits);
    std::vector<Event> b;
    bool b_ok = true;
    for (std::size_t at = 0; at < in.size() && b_ok; at += piece) {
        b_ok = split.feed(in.substr(at, piece), b).has_value();
    }
    require(a_ok == b_ok, "the pieces failed where the whole did not, or the other way");
    require(same(a, b), "the pieces gave other events");
    require(!a_ok || whole.last_event_id() == split.last_event_id(), "other last event IDs");

    std::string wire;
    bool all_written = true;
    for (const Event& e : a) {
        require(e.type.find_first_of("\r\n") == std::string::npos, "a type with a line break");
        if (corio::http::sse::format_event(e, wire)) continue;
        // Refused: only for an id a Last-Event-ID field could not carry back.
        Event no_id = e;
        no_id.id.reset();
        std::string ignored;
        require(corio::http::sse::format_event(no_id, ignored).has_value(),
                "a parsed event refused for more than its id");
        all_written = false;
    }
    if (!all_written) return 0;
    Parser::Limits roomier;  // a field written again may gain the space after its colon
    roomier.max_line = 1024;
    roomier.max_data = 4096;
    Parser again(roomier);
    std::vector<Event> c;
    require(again.feed(wire, c).has_value(), "formatted events past the limits");
    require(same(a, c), "formatted events parsed to others");
    return 0;
}
