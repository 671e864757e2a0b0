// Fuzz target for RequestParser. Besides "no crash, no sanitizer report", it checks:
// - feeding the same bytes whole, in random-sized pieces and one byte at a time gives the
//   same transcript (requests parsed with pipelining, then the final state and error);
// - feed() never consumes more than it is given, and consumes everything while it needs more;
// - a complete request respects the limits and holds no CR, LF or NUL in its fields, and
//   every Content-Length it kept says its body's size;
// - after an error, feed() consumes nothing.
// Any violation calls abort().
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

RequestParser::Limits small_limits() {
    // Small, so that the fuzzer reaches every limit quickly.
    RequestParser::Limits l;
    l.max_request_line = 256;
    l.max_header_bytes = 512;
    l.max_header_count = 8;
    l.max_body = 1024;
    return l;
}

void append_field(std::string& log, std::string_view s) {
    log += std::to_string(s.size());
    log += ':';
    log += s;
    log += ';';
}

bool clean(std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// True when every element of a Content-Length list (RFC 9112 §6.3: several are allowed only
// when they are equal) is the decimal number n.
bool length_list_is(std::string_view v, std::size_t n) {
    const std::string want = std::to_string(n);
    bool any = false;
    while (!v.empty()) {
        std::size_t comma = v.find(',');
        std::string_view e = v.substr(0, comma);
        v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
        while (!e.empty() && (e.front() == ' ' || e.front() == '\t'))
            e.remove_prefix(1);
        while (!e.empty() && (e.back() == ' ' || e.back() == '\t'))
            e.remove_suffix(1);
        if (e.empty()) continue;
        while (e.size() > 1 && e.front() == '0')
            e.remove_prefix(1);
        if (e != want) return false;
        any = true;
    }
    return any;
}

void record(std::string& log, const RequestParser& p) {
    const ParsedRequest& r = p.request();
    const auto& lim = p.limits();
    require(!r.method.empty() && clean(r.method), "method");
    require(!r.target.empty() && clean(r.target), "target");
    require(r.body.size() <= lim.max_body, "body limit");
    require(r.headers.size() + r.trailers.size() <= lim.max_header_count, "header count");
    require(!(r.headers.contains("content-length") && r.headers.contains("transfer-encoding")),
            "Content-Length with Transfer-Encoding");
    for (const Header& h : r.headers) {
        if (iequals(h.name, "content-length")) {
            require(length_list_is(h.value, r.body.size()), "Content-Length list");
        }
    }
    require(r.version == Version::http_1_0 || r.headers.count("host") == 1, "Host");
    require(p.headers_complete(), "headers_complete when done");
    log += "request ";
    append_field(log, r.method);
    append_field(log, r.target);
    log += r.version == Version::http_1_1 ? "1.1;" : "1.0;";
    for (const Header& h : r.headers) {
        require(clean(h.name) && clean(h.value), "header field");
        append_field(log, h.name);
        append_field(log, h.value);
    }
    log += "trailers;";
    for (const Header& h : r.trailers) {
        require(clean(h.name) && clean(h.value), "trailer field");
        append_field(log, h.name);
        append_field(log, h.value);
    }
    append_field(log, r.body);
    log += r.keep_alive() ? "keep\n" : "close\n";
}

// Feeds `data` in pieces of next_size() bytes, parsing pipelined requests until the data ends
// or an error; returns the transcript.
template <class NextSize>
std::string run(std::string_view data, NextSize next_size) {
    RequestParser p(small_limits());
    std::string log;
    std::size_t pos = 0;
    while (pos < data.size()) {
        std::size_t k = std::min(next_size(), data.size() - pos);
        std::string_view piece = data.substr(pos, k);
        pos += k;
        for (;;) {
            std::size_t used = p.feed(piece);
            require(used <= piece.size(), "consumed more than given");
            piece.remove_prefix(used);
            if (p.state() == ParseState::done) {
                record(log, p);
                p.reset();
                require(p.state() == ParseState::need_more, "state after reset");
                require(!p.headers_complete(), "headers_complete after reset");
                if (piece.empty()) break;
                continue;
            }
            if (p.state() == ParseState::error) {
                require(p.error_status() >= 400 && p.error_status() <= 505, "error status");
                require(!p.error_reason().empty(), "error reason");
                require(p.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n") == 0, "feed after error");
                p.reset();
                require(p.state() == ParseState::error, "error is final");
                log += "error " + std::to_string(p.error_status()) + " ";
                log += p.error_reason();
                return log;
            }
            require(piece.empty(), "need_more left bytes unconsumed");
            break;
        }
    }
    log += p.headers_complete() ? "need_more body" : "need_more head";
    return log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::uint64_t seed = 1469598103934665603ull;  // FNV-1a of the input picks the splits
    for (std::size_t i = 0; i < size; ++i) {
        seed = (seed ^ data[i]) * 1099511628211ull;
    }

    std::string whole = run(in, [] { return std::size_t(-1); });
    std::string random = run(in, [&] {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        return std::size_t(1 + (seed >> 33) % 17);
    });
    std::string bytes = run(in, [] { return std::size_t(1); });
    require(whole == random, "whole vs random split");
    require(whole == bytes, "whole vs byte at a time");
    return 0;
}
