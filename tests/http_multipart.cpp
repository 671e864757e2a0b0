// multipart/form-data: the boundary of a Content-Type, the parser (preamble,
// parts, bodies that hold near-delimiters, the close delimiter and the
// epilogue, any split of the input, malformed bodies, limits, a cut-off
// body), format_multipart() read back, and uploads through http::Server
// and MultipartReader on the backend of this run (fields and a 1 MiB file
// read in pieces, a part skipped, a malformed upload and a body that is not
// multipart answered 400).
#include <catch2/catch.hpp>

#include <random>

#include <corio/http/multipart.hpp>

#include "http_support.hpp"

namespace http_multipart_test {

using namespace corio;
using http::MultipartParser;
using test::LocalServer;
using Strings = std::vector<std::string>;

namespace {

// The events of `body` fed in pieces of `piece` bytes, one string each: "head NAME FILE
// TYPE", "data BYTES" (adjacent data joined), "end-part", "end"; "error MESSAGE" last
// when it fails, "cut off" when the input ends first.
Strings events(std::string_view body, std::string_view boundary, std::size_t piece = 1 << 20,
               MultipartParser::Limits limits = {}) {
    MultipartParser p(boundary, limits);
    Strings out;
    std::size_t at = 0;
    for (;;) {
        auto ev = p.next();
        if (!ev) {
            out.push_back("error " + ev.error().message());
            return out;
        }
        switch (*ev) {
            case MultipartParser::Event::need_more:
                if (at >= body.size()) {
                    out.push_back(p.finish() ? "finished" : "cut off");
                    return out;
                }
                p.feed(body.substr(at, piece));
                at += piece;
                break;
            case MultipartParser::Event::head:
                out.push_back("head " + p.head().name + " " + p.head().filename.value_or("-") +
                              " " + std::string(p.head().content_type()));
                break;
            case MultipartParser::Event::data:
                if (!out.empty() && out.back().starts_with("data ")) {
                    out.back() += p.data();
                } else {
                    out.push_back("data " + std::string(p.data()));
                }
                break;
            case MultipartParser::Event::part_end:
                out.push_back("end-part");
                break;
            case MultipartParser::Event::end:
                out.push_back("end");
                CHECK(p.finish());
                return out;
        }
    }
}

// RFC 7578 §4's shape, with a preamble, a file, a part without a head and an epilogue.
const std::string form_body =
    "this preamble is skipped\r\n"
    "--AaB03x\r\n"
    "Content-Disposition: form-data; name=\"submit-name\"\r\n"
    "\r\n"
    "Larry\r\n"
    "--AaB03x  \t\r\n"  // transport padding
    "content-disposition: form-data; name=\"files\"; filename=\"file1.txt\"\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "... contents of file1.txt ...\r\n--AaB03 is not the boundary\r\n--AaB03xx neither?\r\n"
    "--AaB03x\r\n"
    "\r\n"
    "no head\r\n"
    "--AaB03x--\r\n"
    "and this epilogue is ignored --AaB03x\r\n";

}  // namespace

TEST_CASE("multipart: the boundary of a Content-Type", "[http][multipart]") {
    using http::multipart_boundary;
    CHECK(multipart_boundary("multipart/form-data; boundary=AaB03x") == "AaB03x");
    CHECK(multipart_boundary("Multipart/Mixed;charset=x; BOUNDARY=\"a b:c?\"") == "a b:c?");
    CHECK(multipart_boundary("multipart/form-data; boundary=" + std::string(70, 'x')));
    CHECK_FALSE(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'x')));
    CHECK_FALSE(multipart_boundary("multipart/form-data; boundary=\"ends with space \""));
    CHECK_FALSE(multipart_boundary("multipart/form-data; boundary=\"\""));
    CHECK_FALSE(multipart_boundary("multipart/form-data; boundary=a\x01"));
    CHECK_FALSE(multipart_boundary("multipart/form-data"));
    CHECK_FALSE(multipart_boundary("text/plain; boundary=AaB03x"));
}

TEST_CASE("multipart: parts, heads, bodies with near-delimiters, any split", "[http][multipart]") {
    const Strings want = {
        "head submit-name - text/plain",
        "data Larry",
        "end-part",
        "head files file1.txt text/plain",
        "data ... contents of file1.txt ...\r\n--AaB03 is not the boundary\r\n--AaB03xx neither?",
        "end-part",
        "head  - text/plain",
        "data no head",
        "end-part",
        "end",
    };
    // "--AaB03xx" starts with the delimiter: RFC 2046 forbids a boundary inside a part, so
    // that line is refused whole; without it the body reads as above.
    std::string body = form_body;
    body.erase(body.find("\r\n--AaB03xx neither?"),
               std::string_view("\r\n--AaB03xx neither?").size());
    Strings want_ok = want;
    want_ok[4] = "data ... contents of file1.txt ...\r\n--AaB03 is not the boundary";
    for (std::size_t piece = 1; piece <= body.size(); ++piece) {
        INFO("pieces of " << piece);
        REQUIRE(events(body, "AaB03x", piece) == want_ok);
    }
    const Strings refused = events(form_body, "AaB03x");
    REQUIRE(!refused.empty());
    CHECK(refused.back() == "error " + std::make_error_code(std::errc::bad_message).message());
}

TEST_CASE("multipart: parts without a body, names as browsers send them", "[http][multipart]") {
    // The head's blank line may be the next delimiter's CRLF (RFC 2046: body-part :=
    // MIME-part-headers [CRLF *OCTET]).
    const Strings empty = {"head  - text/plain", "end-part", "end"};
    const Strings headed = {"head n - text/plain", "end-part", "end"};
    for (std::size_t piece = 1; piece < 40; ++piece) {
        INFO("pieces of " << piece);
        CHECK(events("--b\r\n\r\n--b--", "b", piece) == empty);
        CHECK(events("--b\r\nContent-Disposition: form-data; name=n\r\n\r\n--b--", "b", piece) ==
              headed);
        CHECK(events("--b\r\n\r\n\r\n--b--", "b", piece) ==
              Strings{"head  - text/plain", "end-part", "end"});
    }
    // No backslash escapes (a Windows path stays whole); %22, %0D, %0A decoded; a parameter
    // without a value skipped.
    const Strings got = events(
        "--b\r\nContent-Disposition: form-data; flag; name=\"a%22b%0D%0Ac\"; "
        "filename=\"C:\\dir\\x.txt\"\r\n\r\nv\r\n--b--",
        "b");
    REQUIRE(!got.empty());
    CHECK(got.front() == "head a\"b\r\nc C:\\dir\\x.txt text/plain");
}

TEST_CASE("multipart: malformed bodies, limits, a cut-off body", "[http][multipart]") {
    const std::string bad = "error " + std::make_error_code(std::errc::bad_message).message();
    const std::string limit = "error " + make_error_code(Errc::limit_exceeded).message();
    const auto last = [](const Strings& s) { return s.empty() ? std::string() : s.back(); };
    CHECK(last(events("--b\r\nno colon\r\n\r\nx\r\n--b--", "b")) == bad);
    CHECK(last(events("--b\r\nA: 1\r\n folded\r\n\r\nx\r\n--b--", "b")) == bad);
    CHECK(last(events("--b\r\nBad Name: 1\r\n\r\nx\r\n--b--", "b")) == bad);
    CHECK(last(events("--b\r\nA: \x01\r\n\r\nx\r\n--b--", "b")) == bad);
    CHECK(last(events("--b junk\r\n\r\nx\r\n--b--", "b")) == bad);
    CHECK(last(events("--b\r\n\r\nx\r\n--b" + std::string(300, ' '), "b")) == bad);
    for (std::size_t piece : {std::size_t(1), std::size_t(7), std::size_t(1) << 20}) {
        CHECK(last(events("--b" + std::string(300, ' ') + "\r\n\r\nx\r\n--b--", "b", piece)) ==
              bad);
    }
    MultipartParser::Limits small;
    small.max_head = 32;
    small.max_parts = 2;
    CHECK(last(events("--b\r\nA: " + std::string(40, 'a') + "\r\n\r\nx\r\n--b--", "b", 1 << 20,
                      small)) == limit);
    CHECK(last(events("--b\r\nA: " + std::string(40, 'a'), "b", 1, small)) == limit);
    CHECK(last(events("--b\r\n\r\n1\r\n--b\r\n\r\n2\r\n--b\r\n\r\n3\r\n--b--", "b", 1 << 20,
                      small)) == limit);
    CHECK(last(events("--b\r\n\r\n1\r\n--b\r\n\r\n2\r\n--b--", "b", 1 << 20, small)) == "end");
    // Cut off: in a body, in a head, in the preamble.
    CHECK(last(events("--b\r\n\r\npartial", "b")) == "cut off");
    CHECK(last(events("--b\r\nA: 1\r\n", "b")) == "cut off");
    CHECK(last(events("no delimiter at all", "b")) == "cut off");
    CHECK(last(events("", "b")) == "cut off");
}

TEST_CASE("multipart: format_multipart is read back as it was written", "[http][multipart]") {
    std::mt19937_64 rng(20261205);
    static constexpr char letters[] = "ab\r\n-\"% \x00\xff";
    const std::string alphabet(letters, sizeof letters - 1);
    for (int round = 0; round < 300; ++round) {
        std::vector<http::FormPart> parts(rng() % 4);
        Strings want;
        for (std::size_t i = 0; i < parts.size(); ++i) {
            http::FormPart& p = parts[i];
            p.name = "field\"" + std::to_string(i) + "\\\r\n";
            if (rng() % 2) p.filename = "C:\\f" + std::to_string(i) + ".bin";
            if (rng() % 2) p.content_type = "application/octet-stream";
            for (std::size_t n = rng() % 40; n > 0; --n)
                p.body.push_back(alphabet[rng() % alphabet.size()]);
            want.push_back("head " + p.name + " " + p.filename.value_or("-") + " " +
                           (p.content_type.empty() ? "text/plain" : p.content_type));
            if (!p.body.empty()) want.push_back("data " + p.body);
            want.push_back("end-part");
        }
        want.push_back("end");
        const http::MultipartBody m = http::format_multipart(parts);
        const auto boundary = http::multipart_boundary(m.content_type);
        REQUIRE(boundary);
        REQUIRE(events(m.body, *boundary, 1 + rng() % 16) == want);
    }
    // Quotes and line breaks in names go out as browsers send them.
    std::vector<http::FormPart> odd(1);
    odd[0].name = "a\"b\r\nc";
    odd[0].filename = "x\".txt";
    const http::MultipartBody m = http::format_multipart(odd);
    CHECK(m.body.find("name=\"a%22b%0D%0Ac\"; filename=\"x%22.txt\"") != std::string::npos);
    std::vector<http::FormPart> bad_type(1);
    bad_type[0].content_type = "text/plain\r\nX: y";
    CHECK_THROWS_AS(http::format_multipart(bad_type), std::invalid_argument);
}

namespace {

// Reads every part of an upload: "name|filename|type|size|first bytes" per part; the part
// named "skip" is skipped unread, "big" is read 1000 bytes at a time.
Task<http::Response> upload(http::Request& req) {
    auto parts = http::MultipartReader::make(req);
    if (!parts) co_return http::Response::text(400, "not multipart\n");
    std::string summary;
    for (;;) {
        auto part = co_await parts->next_part();
        if (!part) co_return http::Response::text(400, part.error().message() + "\n");
        if (!*part) break;
        const http::PartHead& h = **part;
        summary += h.name + "|" + h.filename.value_or("-") + "|" + std::string(h.content_type());
        if (h.name == "skip") {
            summary += "|skipped\n";
            continue;
        }
        if (h.name == "title") {  // read_all for a short field
            auto all = co_await parts->read_all(100);
            if (!all) co_return http::Response::text(400, all.error().message() + "\n");
            summary += "|" + std::to_string(all->size()) + "|" + *all + "\n";
            continue;
        }
        std::size_t size = 0;
        std::uint64_t sum = 14695981039346656037ull;  // FNV-1a of the whole body
        std::string first;
        std::array<std::byte, 1000> buf;
        for (;;) {
            auto n = co_await parts->read(buf);
            if (!n) co_return http::Response::text(400, n.error().message() + "\n");
            if (*n == 0) break;
            if (first.size() < 8) {
                first.append(reinterpret_cast<const char*>(buf.data()),
                             std::min<std::size_t>(*n, 8 - first.size()));
            }
            for (std::size_t i = 0; i < *n; ++i)
                sum = (sum ^ std::to_integer<std::uint8_t>(buf[i])) * 1099511628211ull;
            size += *n;
        }
        auto after = co_await parts->read(buf);  // the part is over
        if (!after || *after != 0) co_return http::Response::text(500, "read after the end\n");
        summary += "|" + std::to_string(size) + "|" + first + "|" + std::to_string(sum) + "\n";
    }
    co_return http::Response::text(200, summary);
}

Task<Result<http::ClientResponse>> post(http::Client& client, std::string url,
                                        std::string content_type, std::string body) {
    http::ClientRequest req;
    req.method = "POST";
    req.url = std::move(url);
    req.headers.emplace_back("Content-Type", std::move(content_type));
    req.body = std::move(body);
    co_return co_await client.fetch(std::move(req));
}

}  // namespace

TEST_CASE("multipart: uploads through the server, read part by part", "[http][multipart]") {
    test::run([](Loop&) -> Task<void> {
        http::Router router;
        router.post("/upload", upload);
        http::ServerOptions so;
        so.limits.max_body = 4 << 20;
        LocalServer srv(router, so);
        http::Client client;

        std::vector<http::FormPart> parts(4);
        parts[0].name = "title";
        parts[0].body = "holiday";
        parts[1].name = "skip";
        parts[1].body = std::string(50000, 's');
        parts[2].name = "big";
        parts[2].filename = "big.bin";
        parts[2].content_type = "application/octet-stream";
        parts[2].body = std::string(1 << 20, '\0');
        for (std::size_t i = 0; i < parts[2].body.size(); ++i)
            parts[2].body[i] = static_cast<char>('a' + i % 26);
        parts[3].name = "empty";
        const http::MultipartBody m = http::format_multipart(parts);
        auto r = co_await post(client, srv.url("/upload"), m.content_type, m.body);
        REQUIRE(r);
        CHECK(r->status == 200);
        const auto fnv = [](std::string_view s) {
            std::uint64_t sum = 14695981039346656037ull;
            for (const char c : s)
                sum = (sum ^ static_cast<unsigned char>(c)) * 1099511628211ull;
            return std::to_string(sum);
        };
        CHECK(r->body ==
              "title|-|text/plain|7|holiday\n"
              "skip|-|text/plain|skipped\n"
              "big|big.bin|application/octet-stream|1048576|abcdefgh|" +
                  fnv(parts[2].body) + "\nempty|-|text/plain|0||" + fnv("") + "\n");

        // Not multipart; malformed; cut off before the close delimiter.
        r = co_await post(client, srv.url("/upload"), "text/plain", "x");
        REQUIRE(r);
        CHECK(r->status == 400);
        CHECK(r->body == "not multipart\n");
        r = co_await post(client, srv.url("/upload"), "multipart/form-data; boundary=b",
                          "--b\r\nno colon\r\n\r\nx\r\n--b--\r\n");
        REQUIRE(r);
        CHECK(r->status == 400);
        CHECK(r->body == std::make_error_code(std::errc::bad_message).message() + "\n");
        r = co_await post(client, srv.url("/upload"), "multipart/form-data; boundary=b",
                          "--b\r\n\r\nx\r\n");
        REQUIRE(r);
        CHECK(r->status == 400);
        CHECK(r->body == make_error_code(Errc::eof).message() + "\n");
        co_await srv.stop();
    });
}

}  // namespace http_multipart_test
