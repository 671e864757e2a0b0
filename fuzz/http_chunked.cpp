// Fuzz target for the chunked writer: the input is cut into pieces (each
// piece's length is taken from a leading byte), written with format_chunk()
// and format_last_chunk(), and read back by ResponseParser, collected and
// streamed, whole and byte by byte. The body must come back exactly and the
// whole output must be consumed. Any violation calls abort().
#include <corio/http/codec.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace corio::http;

namespace {

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

std::string read_back(std::string_view wire, bool stream, std::size_t step) {
    ResponseParser p;
    p.set_stream_body(stream);
    std::string got;
    std::size_t pos = 0;
    while (p.state() == ParseState::need_more && pos < wire.size()) {
        std::size_t used = p.feed(wire.substr(pos, step));
        got += p.body_piece();
        pos += used;
        require(used > 0 || p.state() != ParseState::need_more, "no progress");
    }
    require(p.state() == ParseState::done, "writer output did not parse");
    require(pos == wire.size(), "bytes left over");
    return stream ? got : p.response().body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    std::string body;
    std::size_t i = 0;
    while (i < size) {
        std::size_t n = std::size_t(data[i++]) * 7;
        n = std::min(n, size - i);
        std::string_view piece(reinterpret_cast<const char*>(data + i), n);
        format_chunk(wire, piece);
        body += piece;
        i += n;
    }
    format_last_chunk(wire);
    for (bool stream : {false, true}) {
        require(read_back(wire, stream, wire.size()) == body, "body changed (whole)");
        require(read_back(wire, stream, 1) == body, "body changed (byte by byte)");
        require(read_back(wire, stream, 1 + size % 13) == body, "body changed (split)");
    }
    return 0;
}
