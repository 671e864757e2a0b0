// Fuzz target for the multipart parser (http/multipart_codec.hpp). Checks that the events do
// not depend on how the body is split between feed() calls (whole, and pieces of a size the
// input picks), that no delimiter reaches the body bytes, and that a parser that reported
// the end or an error stays there. Violations call abort().
#include <corio/http/multipart_codec.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

using corio::http::MultipartParser;

namespace {

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

// The events of `body` fed `piece` bytes at a time, data joined, as one string.
std::string events(std::string_view body, std::size_t piece) {
    MultipartParser::Limits limits;
    limits.max_head = 256;
    limits.max_parts = 16;
    MultipartParser p("b0undary", limits);
    std::string out;
    std::size_t at = 0, data = 0;
    bool in_data = false;
    for (;;) {
        auto ev = p.next();
        if (!ev) {
            out += "|error:" + ev.error().message();
            require(p.next().error() == ev.error(), "an error is given again");
            break;
        }
        if (*ev == MultipartParser::Event::need_more) {
            if (at >= body.size()) {
                out += p.finish() ? "|finished" : "|cut off";
                break;
            }
            p.feed(body.substr(at, piece));
            at += piece;
            continue;
        }
        if (*ev == MultipartParser::Event::data) {
            require(!p.data().empty(), "data events carry bytes");
            data += p.data().size();
            if (!in_data) out += "|data:";
            out += p.data();
            in_data = true;
            continue;
        }
        in_data = false;
        if (*ev == MultipartParser::Event::head) {
            out += "|head:" + p.head().name + ":" + p.head().filename.value_or("-") + ":" +
                   std::to_string(p.head().headers.size());
        } else if (*ev == MultipartParser::Event::part_end) {
            out += "|part_end";
        } else {
            out += "|end";
            require(p.finish().has_value(), "finish() after the end");
            require(*p.next() == MultipartParser::Event::end, "the end stays");
            break;
        }
    }
    require(data <= body.size(), "no more body bytes than fed");
    require(out.find("\r\n--b0undary") == std::string::npos, "a delimiter in the body bytes");
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(bytes), size);
    const std::string whole = events(body, body.size() + 1);
    const std::size_t piece = size == 0 ? 1 : 1 + bytes[0] % 13;
    require(events(body, piece) == whole, "the split changes the events");
    return 0;
}
