// http::compress() on the backend of this run: which responses it compresses
// (Accept-Encoding with q-values, media types, sizes, statuses, a coding of
// the handler's own, no-transform), the fields it sets (Content-Encoding,
// Vary, a weak ETag), HEAD's Content-Length, a streamed body flushed write by
// write, and http::Client reading it back; GzipEncoder and accepts_gzip().
#include <zlib.h>

#include <catch2/catch.hpp>

#include <random>

#include <fmt/core.h>

#include <corio/http/compress.hpp>
#include <corio/http/content_coding.hpp>

#include "http_support.hpp"

namespace http_compress_test {

using namespace corio;
using test::LocalServer;
using test::RawClient;

namespace {

// Text that compresses well, above min_length.
std::string page() {
    std::string s;
    for (int i = 0; i < 200; ++i)
        s += "<li>item " + std::to_string(i) + " of the list</li>\n";
    return s;
}

// Bytes gzip cannot shrink.
std::string noise(std::size_t n) {
    std::mt19937 rng(7);
    std::string s(n, '\0');
    for (char& c : s)
        c = char(rng());
    return s;
}

Task<http::Response> text(int status, std::string body, std::string type) {
    co_return http::Response::text(status, std::move(body), type);
}

// The handler's response to `fields` (one request, no server), compressed with `o`.
Task<http::Response> answer(http::Handler h, std::vector<http::Header> fields,
                            std::string method = "GET") {
    http::ParsedRequest msg;
    msg.method = std::move(method);
    msg.target = "/";
    for (const auto& f : fields)
        msg.headers.add(f.name, f.value);
    http::Request req(msg);
    co_return co_await h(req);
}

std::vector<http::Header> accept(std::string v) {
    return {http::Header{"Accept-Encoding", std::move(v)}};
}

http::Header if_none_match(std::string v) {
    return http::Header{"If-None-Match", std::move(v)};
}

std::string field(const http::Response& r, std::string_view name) {
    return std::string(r.headers.get(name).value_or("(none)"));
}

// Inflates gzip bytes as they come (sync-flushed pieces decode at once).
class Inflater {
public:
    Inflater() { REQUIRE(inflateInit2(&z_, 15 + 16) == Z_OK); }
    ~Inflater() { inflateEnd(&z_); }
    // Decodes `in`; the output so far. ended(): the member's end was seen.
    const std::string& feed(std::string_view in) {
        z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        z_.avail_in = uInt(in.size());
        // Until the input is in and zlib holds nothing back (room left over).
        bool full = true;
        while ((z_.avail_in > 0 || full) && !ended_) {
            char buf[4096];
            z_.next_out = reinterpret_cast<Bytef*>(buf);
            z_.avail_out = sizeof buf;
            const int rc = inflate(&z_, Z_NO_FLUSH);
            REQUIRE((rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR));
            out_.append(buf, sizeof buf - z_.avail_out);
            full = z_.avail_out == 0;
            ended_ = rc == Z_STREAM_END;
            if (rc == Z_BUF_ERROR) break;
        }
        return out_;
    }
    bool ended() const noexcept { return ended_; }

private:
    z_stream z_{};
    std::string out_;
    bool ended_ = false;
};

// Takes the chunks of a chunked body from the front of `raw` into `out`; true at the last one.
bool dechunk(std::string& raw, std::string& out) {
    for (;;) {
        const std::size_t eol = raw.find("\r\n");
        if (eol == std::string::npos) return false;
        const std::size_t n = std::stoul(raw.substr(0, eol), nullptr, 16);
        if (raw.size() < eol + 2 + n + 2) return false;
        out += raw.substr(eol + 2, n);
        raw.erase(0, eol + 2 + n + 2);
        if (n == 0) return true;
    }
}

// Receives more bytes into raw.buffered(); false when the peer closed.
Task<bool> more(RawClient& raw) {
    std::array<std::byte, 4096> b;
    auto n = co_await raw.stream().recv(b);
    if (!n || *n == 0) co_return false;
    raw.buffered().append(reinterpret_cast<const char*>(b.data()), *n);
    co_return true;
}

}  // namespace

TEST_CASE("gzip encoder: flushed pieces decode as they come; one member in the end",
          "[http][compress]") {
    http::GzipEncoder enc(9);
    Inflater inf;
    std::string wire, all;
    for (std::string piece : {std::string("first piece, "), page(), std::string("last")}) {
        std::string out;
        enc.write(piece, out);
        CHECK_FALSE(out.empty());
        all += piece;
        wire += out;
        CHECK(inf.feed(out) == all);  // everything written so far, at once
    }
    std::string tail;
    enc.write("", tail);
    CHECK(tail.empty());
    enc.finish("", tail);
    wire += tail;
    inf.feed(tail);
    CHECK(inf.ended());
    CHECK(http::decode_content("gzip", wire, 1 << 20).value() == all);
    CHECK_THROWS_AS(enc.write("more", tail), std::logic_error);
    CHECK(http::decode_content("gzip", http::gzip(""), 10).value().empty());
    // Deflate streams are reused per thread: after one abandoned half-way (never finished),
    // encoders at two levels, in turn, each write a whole member of their own.
    {
        http::GzipEncoder half(6);
        std::string ignored;
        half.write(page(), ignored);
    }
    for (int i = 0; i < 12; ++i) {
        const std::string text = std::to_string(i) + page();
        const std::string z = http::gzip(text, i % 3 == 0 ? 1 : 6);
        CHECK(http::decode_content("gzip", z, 1 << 20).value() == text);
    }
    CHECK(http::decode_content("gzip", http::gzip(page(), 1), 1 << 20).value() == page());
}

TEST_CASE("accepts_gzip: q-values, x-gzip, *, several fields", "[http][compress]") {
    const auto takes = [](std::vector<std::string> values) {
        http::Headers h;
        for (const auto& v : values)
            h.add("accept-encoding", v);
        return http::accepts_gzip(h);
    };
    CHECK(takes({"gzip"}));
    CHECK(takes({"br, GZIP;q=0.5"}));
    CHECK(takes({"x-gzip"}));
    CHECK(takes({"*"}));
    CHECK(takes({"identity", "gzip"}));
    CHECK_FALSE(takes({}));
    CHECK_FALSE(takes({"identity"}));
    CHECK_FALSE(takes({"gzip;q=0"}));
    CHECK_FALSE(takes({"gzip; q=0.000"}));
    CHECK_FALSE(takes({"*, gzip;q=0"}));
    CHECK_FALSE(takes({"br;q=1, deflate"}));
    CHECK(takes({"gzip;q=0.001"}));
}

TEST_CASE("compress: which responses, and the fields of the compressed copy", "[http][compress]") {
    test::run([](Loop&) -> Task<void> {
        const std::string body = page();
        const http::Handler html = http::compress([&body](http::Request&) -> Task<http::Response> {
            auto r = http::Response::text(200, body, "text/html; charset=utf-8");
            r.set("ETag", "\"v1\"");
            co_return r;
        });

        auto r = co_await answer(html, accept("gzip, br"));
        CHECK(field(r, "Content-Encoding") == "gzip");
        CHECK(field(r, "Vary") == "Accept-Encoding");
        CHECK(field(r, "ETag") == "W/\"v1\"");
        CHECK(r.body.size() < body.size() / 3);
        CHECK(http::decode_content("gzip", r.body, 1 << 20).value() == body);
        // HEAD: the same compressed length for the server's Content-Length.
        const auto head = co_await answer(html, accept("gzip"), "HEAD");
        CHECK(head.body.size() == r.body.size());

        // Not asked, or refused: the plain body, which still varies.
        for (std::vector<http::Header> fields :
             {std::vector<http::Header>{}, accept("gzip;q=0"), accept("identity")}) {
            r = co_await answer(html, fields);
            CHECK(field(r, "Content-Encoding") == "(none)");
            CHECK(field(r, "Vary") == "Accept-Encoding");
            CHECK(field(r, "ETag") == "\"v1\"");
            CHECK(r.body == body);
        }

        // Left alone entirely (no Vary): each reason on its own.
        struct Case {
            const char* why;
            int status;
            std::string body;
            std::string type;
            std::string field_name, field_value;
        };
        const std::vector<Case> alone = {
            {"short", 200, std::string(1023, 'a'), "text/plain", "", ""},
            {"a type not listed", 200, body, "image/png", "", ""},
            {"no Content-Type", 200, body, "", "", ""},
            {"coded already", 200, body, "text/html", "Content-Encoding", "br"},
            {"no-transform", 200, body, "text/html", "Cache-Control", "public, no-transform"},
            {"204", 204, body, "text/html", "", ""},
            {"206", 206, body, "text/html", "Content-Range", "bytes 0-9/100"},
            {"304", 304, body, "text/html", "", ""},
        };
        for (const Case& c : alone) {
            INFO(c.why);
            const http::Handler h = http::compress([&c](http::Request&) -> Task<http::Response> {
                auto resp = http::Response::text(c.status, c.body, c.type);
                if (!c.field_name.empty()) resp.set(c.field_name, c.field_value);
                co_return resp;
            });
            r = co_await answer(h, accept("gzip"));
            CHECK(r.body == c.body);
            CHECK(field(r, "Vary") == "(none)");
            CHECK(r.headers.count("Content-Encoding") == (c.field_name == "Content-Encoding"));
        }

        // Gzip would not make it smaller: plain, but it varies (another body might).
        const std::string random = noise(4096);
        const http::Handler bin = http::compress([&random](http::Request&) -> Task<http::Response> {
            co_return http::Response::text(200, random, "application/json");
        });
        r = co_await answer(bin, accept("gzip"));
        CHECK(r.body == random);
        CHECK(field(r, "Content-Encoding") == "(none)");
        CHECK(field(r, "Vary") == "Accept-Encoding");

        // A 304 for the compressed copy's weak tag carries that tag and Vary; others are left.
        const http::Handler cond =
            http::compress([&body](http::Request& q) -> Task<http::Response> {
                http::Response resp(304);
                if (!q.header("If-None-Match")) resp = http::Response::text(200, body, "text/html");
                resp.set("ETag", "\"v1\"");
                co_return resp;
            });
        std::vector<http::Header> fields = accept("gzip");
        fields.push_back(if_none_match("\"v0\", W/\"v1\""));
        r = co_await answer(cond, fields);
        CHECK(r.status == 304);
        CHECK(field(r, "ETag") == "W/\"v1\"");
        CHECK(field(r, "Vary") == "Accept-Encoding");
        CHECK(field(r, "Content-Encoding") == "(none)");
        fields.assign(1, if_none_match("\"v1\""));
        r = co_await answer(cond, fields);
        CHECK(r.status == 304);
        CHECK(field(r, "ETag") == "\"v1\"");
        CHECK(field(r, "Vary") == "(none)");

        // Options: a type of one's own ("type/*"), a lower min_length; an existing Vary kept.
        http::CompressOptions o;
        o.types = {"application/*"};
        o.min_length = 10;
        const http::Handler own = http::compress(
            [](http::Request&) -> Task<http::Response> {
                auto resp = http::Response::text(200, std::string(64, 'x'), "Application/X-Mine");
                resp.set("Vary", "Origin");
                co_return resp;
            },
            o);
        r = co_await answer(own, accept("gzip"));
        CHECK(field(r, "Content-Encoding") == "gzip");
        CHECK(r.headers.count("Vary") == 2);
        CHECK(http::decode_content("gzip", r.body, 100).value() == std::string(64, 'x'));
        r = co_await answer(
            http::compress([](http::Request&) { return text(200, page(), "text/css"); }, o),
            accept("gzip"));
        CHECK(field(r, "Content-Encoding") == "(none)");  // text/* is not in o.types
    });
}

TEST_CASE("compress: over a connection, read back by http::Client and raw", "[http][compress]") {
    test::run([](Loop&) -> Task<void> {
        const std::string body = page();
        http::Router router;
        router.get("/page", [&body](http::Request&) { return text(200, body, "text/html"); });
        LocalServer srv(http::compress(router));

        http::Client c;  // asks for gzip and decodes (ClientOptions::decompress)
        auto r = co_await c.get(srv.url("/page"));
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->decoded);
        CHECK(r->body == body);
        // A route that is not there: the router's 404, through compress() unchanged.
        r = co_await c.get(srv.url("/nothing"));
        REQUIRE(r);
        CHECK(r->status == 404);
        CHECK_FALSE(r->decoded);

        auto raw = co_await RawClient::connect(srv.address());
        const bool sent = co_await raw.send(
            "GET /page HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"
            "HEAD /page HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"
            "GET /page HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK(sent);
        auto got = co_await raw.response();
        REQUIRE(got);
        CHECK(got->headers.get("Content-Encoding").value_or("") == "gzip");
        const std::string length(got->headers.get("Content-Length").value_or(""));
        CHECK(length == std::to_string(got->body.size()));
        CHECK(http::decode_content("gzip", got->body, 1 << 20).value() == body);
        got = co_await raw.response(true);
        REQUIRE(got);
        CHECK(got->headers.get("Content-Length").value_or("") == length);
        CHECK(got->body.empty());
        got = co_await raw.response();
        REQUIRE(got);
        CHECK_FALSE(got->headers.contains("Content-Encoding"));
        CHECK(got->body == body);
        co_await srv.stop();
    });
}

TEST_CASE("compress: a streamed body reaches the client write by write", "[http][compress]") {
    test::run([](Loop&) -> Task<void> {
        Event second;  // set by the client once it has decoded the first write
        http::Router router;
        router.get("/events", [&second](http::Request&) -> Task<http::Response> {
            auto resp =
                http::Response::stream(200, [&second](http::BodyWriter& w) -> Task<Result<void>> {
                    auto ok = co_await w.write("event: one\n\n");
                    if (!ok) co_return ok;
                    (void)co_await second.wait();
                    co_return co_await w.write("event: two\n\n");
                });
            resp.set("Content-Type", "text/event-stream");
            co_return resp;
        });
        LocalServer srv(http::compress(router));

        auto raw = co_await RawClient::connect(srv.address());
        const bool sent =
            co_await raw.send("GET /events HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n");
        CHECK(sent);
        const bool head_came = co_await raw.wait_for("\r\n\r\n");
        REQUIRE(head_came);
        std::string& buf = raw.buffered();
        const std::size_t head_end = buf.find("\r\n\r\n") + 4;
        const std::string head = buf.substr(0, head_end);
        buf.erase(0, head_end);
        CHECK(head.find("Content-Encoding: gzip\r\n") != std::string::npos);
        CHECK(head.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
        CHECK(head.find("Vary: Accept-Encoding\r\n") != std::string::npos);

        Inflater inf;
        std::string coded;
        bool last = false;
        // The first write decodes before the producer goes on (it waits for `second`):
        // without a flush per write this waits until test::run's cap.
        while (inf.feed(std::exchange(coded, {})) != "event: one\n\n") {
            REQUIRE_FALSE(last);
            last = dechunk(buf, coded);
            if (coded.empty() && !last) {
                const bool got = co_await more(raw);
                REQUIRE(got);
            }
        }
        second.set();
        while (!last) {
            last = dechunk(buf, coded);
            if (!last) {
                const bool got = co_await more(raw);
                REQUIRE(got);
            }
        }
        CHECK(inf.feed(coded) == "event: one\n\nevent: two\n\n");
        CHECK(inf.ended());
        co_await srv.stop();
    });
}

namespace {

// The raw DEFLATE and zlib forms of `text` (zlib's own deflate, window_bits -15 or 15).
std::string deflated(std::string_view text, int window_bits) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&z, uLong(text.size())) + 16, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    z.avail_in = uInt(text.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = uInt(out.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

// Decodes `coded` in pieces of `piece` bytes into an output buffer of `room` bytes.
Result<std::string> stream_decode(std::string_view coding, std::string_view coded,
                                  std::size_t piece, std::size_t room) {
    auto d = http::ContentDecoder::make(coding);
    if (!d) return d.error();
    std::string out;
    std::vector<std::byte> buf(room);
    for (std::size_t at = 0;;) {
        const std::string_view in = coded.substr(at, piece);
        std::size_t used = 0;
        for (;;) {  // all of `in`, then what a full buffer held back
            auto step = d->decode(in.substr(used), buf);
            if (!step) return step.error();
            REQUIRE((step->used > 0 || step->written > 0 || used == in.size()));  // progress
            used += step->used;
            out.append(reinterpret_cast<const char*>(buf.data()), step->written);
            if (used == in.size() && step->written < room) break;
        }
        at += in.size();
        if (at >= coded.size()) break;
    }
    if (auto f = d->finish(); !f) return f.error();
    return out;
}

}  // namespace

TEST_CASE("content decoder: any split of the input, any output size", "[http][compress]") {
    const std::string text = page();
    const std::string two_members = http::gzip("first member, ") + http::gzip(text, 1);
    struct Form {
        const char* coding;
        std::string coded;
        std::string plain;
    };
    const std::vector<Form> forms = {
        {"gzip", http::gzip(text), text},       {"x-gzip", two_members, "first member, " + text},
        {"deflate", deflated(text, 15), text},   // the zlib format
        {"Deflate", deflated(text, -15), text},  // raw DEFLATE under that name
        {"gzip", http::gzip(""), ""},
    };
    for (const Form& f : forms) {
        INFO(f.coding << " " << f.coded.size() << " bytes");
        for (std::size_t piece :
             {std::size_t(1), std::size_t(2), std::size_t(3), std::size_t(100), f.coded.size()}) {
            for (std::size_t room : {std::size_t(1), std::size_t(7), std::size_t(65536)}) {
                INFO("piece " << piece << " room " << room);
                CHECK(stream_decode(f.coding, f.coded, piece, room).value() == f.plain);
            }
        }
    }
    const std::string gz = http::gzip(text);
    const auto bad = std::errc::illegal_byte_sequence;
    CHECK(stream_decode("gzip", gz.substr(0, gz.size() - 1), 5, 64).error() == bad);  // cut short
    CHECK(stream_decode("gzip", gz + "junk", 5, 64).error() == bad);  // not another member
    CHECK(stream_decode("deflate", deflated(text, 15) + "x", 5, 64).error() == bad);
    CHECK(stream_decode("deflate", "x", 1, 64).error() == bad);  // one byte: no format yet
    CHECK(stream_decode("gzip", "", 1, 64).error() == bad);      // as decode_content
    CHECK(stream_decode("gzip", "not gzip at all", 3, 64).error() == bad);
    // A bad CRC at the end: the text comes first, the error after it (here: from finish()).
    std::string bad_crc = gz;
    bad_crc[bad_crc.size() - 5] ^= 1;
    {
        auto dec = http::ContentDecoder::make("gzip").value();
        std::vector<std::byte> all(text.size() + 100);
        auto step = dec.decode(bad_crc, all);
        REQUIRE(step);
        CHECK(step->written == text.size());
        auto again = dec.decode("", all);
        CHECK(again.error() == bad);
        CHECK(dec.finish().error() == bad);
    }
    CHECK(stream_decode("gzip", bad_crc, 64, 64).error() == bad);
    CHECK(http::decode_content("gzip", bad_crc, 1 << 20).error() == bad);
    // Too long and broken: the limit is what it meets first (as before ContentDecoder).
    CHECK(http::decode_content("gzip", bad_crc, 100).error() == Errc::limit_exceeded);
    CHECK(http::ContentDecoder::make("br").error() == std::errc::not_supported);
    CHECK(http::ContentDecoder::make("gzip, gzip").error() == std::errc::not_supported);
    // A failed decoder stays failed.
    auto d = http::ContentDecoder::make("gzip").value();
    std::array<std::byte, 64> buf;
    CHECK(d.decode("garbage!!", buf).error() == bad);
    CHECK(d.decode(gz, buf).error() == bad);
}

TEST_CASE("client open(): a compressed body decoded as it is read", "[http][compress]") {
    test::run([](Loop&) -> Task<void> {
        const std::string body = page();
        http::Router router;
        router.get("/page", [&body](http::Request&) { return text(200, body, "text/html"); });
        router.get("/stream", [&body](http::Request&) -> Task<http::Response> {
            auto resp =
                http::Response::stream(200, [&body](http::BodyWriter& w) -> Task<Result<void>> {
                    for (std::size_t at = 0; at < body.size(); at += 1000) {
                        auto ok = co_await w.write(std::string_view(body).substr(at, 1000));
                        if (!ok) co_return ok;
                    }
                    co_return Result<void>{};
                });
            resp.set("Content-Type", "text/plain");
            co_return resp;
        });
        router.get("/broken", [](http::Request&) -> Task<http::Response> {
            auto resp = http::Response::text(200, "this is not gzip", "text/plain");
            resp.set("Content-Encoding", "gzip");
            co_return resp;
        });
        router.get("/empty", [](http::Request&) -> Task<http::Response> {
            auto resp = http::Response::text(200, "", "text/plain");
            resp.set("Content-Encoding", "gzip");
            co_return resp;
        });
        LocalServer srv(http::compress(router));
        http::Client c;
        for (std::string path : {std::string("/page"), std::string("/stream")}) {
            INFO(path);
            http::ClientRequest req;
            req.url = srv.url(path);
            auto rs = co_await c.open(std::move(req));
            REQUIRE(rs);
            CHECK(rs->status() == 200);
            CHECK(rs->decoded());
            CHECK_FALSE(rs->headers().contains("Content-Encoding"));
            CHECK_FALSE(rs->headers().contains("Content-Length"));
            CHECK(rs->headers().get("Vary").value_or("") == "Accept-Encoding");
            std::string got;
            std::array<std::byte, 7> small;  // a few bytes at a time
            for (int reads = 1;; ++reads) {
                auto n = co_await rs->read(small);
                REQUIRE(n);
                if (*n == 0) break;
                got.append(reinterpret_cast<const char*>(small.data()), *n);
                // Reads served from decoded bytes complete without suspending: below -O2
                // each one stacks frames (README, Limits), so the loop suspends now and then.
                if (reads % 64 == 0) co_await yield();
            }
            CHECK(got == body);
        }
        CHECK(c.stats().connects == 1);  // read to the end: the connection went back

        http::ClientRequest req;
        req.url = srv.url("/page");
        auto rs = co_await c.open(std::move(req));
        REQUIRE(rs);
        auto all = co_await rs->read_all(body.size() - 1);  // the decoded size counts
        CHECK(all.error() == Errc::limit_exceeded);

        req = {};
        req.url = srv.url("/broken");
        rs = co_await c.open(std::move(req));
        REQUIRE(rs);
        CHECK(rs->decoded());
        all = co_await rs->read_all(1 << 20);
        CHECK(all.error() == std::errc::illegal_byte_sequence);

        // An empty body is left as it came, as fetch() leaves it.
        req = {};
        req.url = srv.url("/empty");
        rs = co_await c.open(std::move(req));
        REQUIRE(rs);
        CHECK_FALSE(rs->decoded());
        CHECK(rs->headers().get("Content-Encoding").value_or("") == "gzip");
        all = co_await rs->read_all(100);
        CHECK(all.value().empty());

        // Not asked: the body as sent.
        http::ClientOptions plain;
        plain.decompress = false;
        http::Client c2(plain);
        req = {};
        req.url = srv.url("/page");
        rs = co_await c2.open(std::move(req));
        REQUIRE(rs);
        CHECK_FALSE(rs->decoded());
        CHECK_FALSE(rs->headers().contains("Content-Encoding"));
        all = co_await rs->read_all(1 << 20);
        CHECK(all.value() == body);
        // A caller's own Accept-Encoding: asked by the caller, so not decoded.
        req = {};
        req.url = srv.url("/page");
        req.headers.emplace_back("Accept-Encoding", "gzip");
        rs = co_await c.open(std::move(req));
        REQUIRE(rs);
        CHECK_FALSE(rs->decoded());
        CHECK(rs->headers().get("Content-Encoding").value_or("") == "gzip");
        all = co_await rs->read_all(1 << 20);
        CHECK(http::decode_content("gzip", all.value(), 1 << 20).value() == body);
        co_await srv.stop();
    });
}

TEST_CASE("client open(): a decoded read that is cancelled can be read again", "[http][compress]") {
    test::run([](Loop&) -> Task<void> {
        Event gate;
        http::Router router;
        router.get("/two", [&gate](http::Request&) -> Task<http::Response> {
            auto resp =
                http::Response::stream(200, [&gate](http::BodyWriter& w) -> Task<Result<void>> {
                    auto ok = co_await w.write("part one;");
                    if (!ok) co_return ok;
                    (void)co_await gate.wait();
                    co_return co_await w.write("part two.");
                });
            resp.set("Content-Type", "text/plain");
            co_return resp;
        });
        LocalServer srv(http::compress(router));
        http::Client c;
        http::ClientRequest req;
        req.url = srv.url("/two");
        auto rs = co_await c.open(std::move(req));
        REQUIRE(rs);
        REQUIRE(rs->decoded());
        std::string got;
        std::array<std::byte, 64> buf;
        while (got != "part one;") {  // flushed by compress(): it comes before `gate`
            auto n = co_await rs->read(buf);
            REQUIRE(n);
            REQUIRE(*n > 0);
            got.append(reinterpret_cast<const char*>(buf.data()), *n);
        }
        // A read waiting for part two, cancelled (a deadline, a when_any that lost).
        auto raced = co_await when_any(rs->read(buf), test::yield_turns(3));
        REQUIRE(raced.index() == 1);
        REQUIRE(raced.loser<0>());
        CHECK(raced.loser<0>()->error() == std::errc::operation_canceled);
        gate.set();
        auto rest = co_await rs->read_all(1000);
        CHECK(rest.value() == "part two.");
        co_await srv.stop();
    });
}

TEST_CASE("client open(): a decoded chunked body keeps its trailer fields", "[http][compress]") {
    test::run([](Loop&) -> Task<void> {
        auto l = net::TcpListener::bind(net::Address::loopback_v4(0)).value("bind");
        const net::Address at = l.local_address().value("local_address");
        const std::string coded = http::gzip("trailed body");
        TaskGroup g;
        g.spawn([](net::TcpListener lis, std::string gz) -> Task<void> {
            auto s = co_await lis.accept();
            if (!s) co_return;
            std::string in;
            std::array<std::byte, 1024> b;
            while (in.find("\r\n\r\n") == std::string::npos) {
                auto n = co_await s->recv(b);
                if (!n || *n == 0) co_return;
                in.append(reinterpret_cast<const char*>(b.data()), *n);
            }
            std::string out =
                "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"
                "Trailer: X-Sum\r\n\r\n";
            out += fmt::format("{:x}\r\n", gz.size()) + gz + "\r\n0\r\nX-Sum: 42\r\n\r\n";
            (void)co_await s->send_all(std::string_view(out));
            (void)co_await s->recv(b);  // until the client closes
        }(std::move(l), coded));
        http::Client c;
        {
            http::ClientRequest req;
            req.url = "http://" + at.to_string() + "/";
            auto rs = co_await c.open(std::move(req));
            REQUIRE(rs);
            CHECK(rs->decoded());
            auto all = co_await rs->read_all(1000);
            CHECK(all.value() == "trailed body");
            CHECK(rs->head().trailers.get("X-Sum").value_or("") == "42");
        }
        c.close_idle();  // read to the end, the connection was pooled: closed now
        co_await g.wait();
    });
}

}  // namespace http_compress_test
