// The chunked writer (format_chunk, format_last_chunk) read back by the strict
// parsers, for many random splits; and the framing of request heads.
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include <corio/http/codec.hpp>

namespace http_chunked_test {

using namespace corio::http;

TEST_CASE("chunked writer output parses back to the same body", "[http][chunked]") {
    std::mt19937_64 rng(17);
    for (int round = 0; round < 300; ++round) {
        std::string body;
        std::string wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        const int pieces = int(rng() % 8);
        for (int i = 0; i < pieces; ++i) {
            std::string piece(rng() % 5000, '\0');
            for (char& ch : piece)
                ch = char(rng());
            body += piece;
            format_chunk(wire, piece);  // an empty piece writes nothing
        }
        format_last_chunk(wire);
        // Fed in random slices, collected or streamed.
        for (bool stream : {false, true}) {
            ResponseParser p;
            p.set_stream_body(stream);
            std::string got;
            std::size_t pos = 0;
            while (p.state() == ParseState::need_more && pos < wire.size()) {
                std::size_t n = 1 + rng() % 700;
                pos += p.feed(std::string_view(wire).substr(pos, n));
                got += p.body_piece();
            }
            INFO("round " << round << " stream " << stream);
            REQUIRE(p.state() == ParseState::done);
            CHECK(pos == wire.size());
            CHECK((stream ? got : p.response().body) == body);
        }
    }
}

TEST_CASE("chunk headers are lowercase hex without padding", "[http][chunked]") {
    std::string s;
    format_chunk_header(s, 0x1aF);
    CHECK(s == "1af\r\n");
    s.clear();
    format_chunk(s, "hello");
    CHECK(s == "5\r\nhello\r\n");
    s.clear();
    format_chunk(s, "");
    CHECK(s.empty());
    format_last_chunk(s);
    CHECK(s == "0\r\n\r\n");
}

}  // namespace http_chunked_test
