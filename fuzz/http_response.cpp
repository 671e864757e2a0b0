// Fuzz target for ResponseParser. Checks, as for requests, that whole, random-split and
// byte-at-a-time feeding (with pipelining, then finish_eof()) give the same transcript, that
// feed() consumes within bounds, that limits hold, and that responses without a body (HEAD,
// 1xx, 204, 304) have none. Any violation calls abort().
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

ResponseParser::Limits small_limits() {
    ResponseParser::Limits l;
    l.max_status_line = 256;
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

void record(std::string& log, const ResponseParser& p, bool head) {
    const ParsedResponse& r = p.response();
    require(r.status >= 100 && r.status <= 999, "status");
    require(r.status >= 200 || r.status == 101, "interim response returned");
    require(clean(r.reason), "reason");
    require(r.body.size() <= p.limits().max_body, "body limit");
    require(r.headers.size() + r.trailers.size() <= p.limits().max_header_count, "header count");
    if (head || r.status < 200 || r.status == 204 || r.status == 304) {
        require(r.body.empty() && !r.until_close, "body where none is allowed");
    }
    log += "response " + std::to_string(r.status) + ";";
    append_field(log, r.reason);
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

template <class NextSize>
std::string run(std::string_view data, bool head, NextSize next_size) {
    ResponseParser p(small_limits());
    p.set_head_request(head);
    std::string log;
    std::size_t pos = 0;
    auto error = [&] {
        require(!p.error_reason().empty(), "error reason");
        require(p.feed("HTTP/1.1 200 OK\r\n\r\n") == 0, "feed after error");
        require(p.finish_eof() == ParseState::error, "error is final");
        log += "error ";
        log += p.error_reason();
        return log;
    };
    while (pos < data.size()) {
        std::size_t k = std::min(next_size(), data.size() - pos);
        std::string_view piece = data.substr(pos, k);
        pos += k;
        for (;;) {
            std::size_t used = p.feed(piece);
            require(used <= piece.size(), "consumed more than given");
            piece.remove_prefix(used);
            if (p.state() == ParseState::done) {
                record(log, p, head);
                head = !head;  // alternate, to mix HEAD and GET answers on one connection
                p.reset(head);
                require(p.state() == ParseState::need_more, "state after reset");
                if (piece.empty()) break;
                continue;
            }
            if (p.state() == ParseState::error) return error();
            require(piece.empty(), "need_more left bytes unconsumed");
            break;
        }
    }
    ParseState s = p.finish_eof();
    if (s == ParseState::error) return error();
    require(s == ParseState::done, "finish_eof leaves done or error");
    record(log, p, head);
    return log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::uint64_t seed = 1469598103934665603ull;
    for (std::size_t i = 0; i < size; ++i) {
        seed = (seed ^ data[i]) * 1099511628211ull;
    }
    bool head = (seed & 1) != 0;

    std::string whole = run(in, head, [] { return std::size_t(-1); });
    std::string random = run(in, head, [&] {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        return std::size_t(1 + (seed >> 33) % 17);
    });
    std::string bytes = run(in, head, [] { return std::size_t(1); });
    require(whole == random, "whole vs random split");
    require(whole == bytes, "whole vs byte at a time");
    return 0;
}
