// corio's TLS against OpenSSL's own command line tools, on the backend of
// this run: a corio client talks to `openssl s_server -rev` (which answers
// each line reversed), and `openssl s_client` talks to a corio server. The
// tools run as child processes; without the `openssl` command the tests WARN
// and return.
#include <algorithm>
#include <string>

#include <corio/net/tcp.hpp>
#include <corio/runtime/deadline.hpp>

#include "tls_support.hpp"

namespace tls_openssl_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

Task<void> client_to_s_server(const test::TlsFiles* f, int port, std::string* answer,
                              std::string* alpn) {
    auto addr = net::Address::parse("127.0.0.1:" + std::to_string(port));
    REQUIRE(addr);
    auto tcp = co_await net::TcpStream::connect(*addr, 5s);
    REQUIRE(tcp);
    auto s = tls::Stream::client(test::client_context(*f), std::move(*tcp), "localhost");
    REQUIRE(s);
    auto h = co_await s->handshake(Deadline::after(5s));
    INFO(h.error().message());
    REQUIRE(h);
    *alpn = std::string(s->alpn());
    auto ok30 = co_await s->send_all(std::string_view("hello corio\n"));
    REQUIRE(ok30);
    std::array<std::byte, 256> buf;
    while (answer->find('\n') == std::string::npos) {
        auto n = co_await with_timeout(s->recv(buf), 5s);
        REQUIRE(n);
        if (*n == 0) break;
        answer->append(test::chars(std::span(buf).first(*n)));
    }
    auto ok38 = co_await s->close_notify();
    REQUIRE(ok38);
}

}  // namespace

TEST_CASE("tls: corio client -> openssl s_server", "[tls][openssl]") {
    NEED_TLS_FILES(f);
    test::site::Child server(
        "openssl",
        {"s_server", "-accept", "127.0.0.1:0", "-cert", f->cert("server"), "-key", f->key("server"),
         "-naccept", "1", "-rev", "-alpn", "http/1.1"},
        60, true);
    int port = 0;
    for (int i = 0; i < 10 && port == 0; ++i) {
        auto line = server.read_line(10s);
        REQUIRE(line);
        if (line->rfind("ACCEPT 127.0.0.1:", 0) == 0) port = std::atoi(line->c_str() + 17);
    }
    REQUIRE(port > 0);
    std::string answer, alpn;
    test::run([&](Loop&) { return client_to_s_server(f, port, &answer, &alpn); });
    CHECK(answer == "oiroc olleh\n");
    CHECK(alpn == "http/1.1");
    CHECK(server.wait(10s) == 0);
}

namespace {

struct SClientRun {
    std::string alpn;
    std::string output;
    int status = -1;
};

// Starts s_client against a listener of ours and serves its connection:
// reads a line, answers it reversed, closes with close_notify.
Task<void> s_client_to_corio(const test::TlsFiles* f, SClientRun* run) {
    auto l = net::TcpListener::bind(net::Address::loopback_v4(0));
    REQUIRE(l);
    const int port = l->local_address().value("getsockname").port();
    // -quiet implies -ign_eof: s_client stays until the server closes, and
    // -verify_return_error makes a failed verification fatal.
    const std::string cmd =
        "echo 'hello corio' | openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
        " -CAfile " + f->ca() + " -servername localhost -verify_return_error -alpn http/1.1 -quiet";
    test::site::Child client("sh", {"-c", cmd}, 60, true);
    {
        auto tcp = co_await with_timeout(l->accept(), 10s);
        REQUIRE(tcp);
        auto s = tls::Stream::server(test::server_context(*f), std::move(*tcp));
        REQUIRE(s);
        auto h = co_await s->handshake(Deadline::after(10s));
        INFO(h.error().message());
        REQUIRE(h);
        run->alpn = std::string(s->alpn());
        std::string line;
        std::array<std::byte, 256> buf;
        while (line.find('\n') == std::string::npos) {
            auto n = co_await with_timeout(s->recv(buf), 10s);
            REQUIRE(n);
            REQUIRE(*n > 0);
            line.append(test::chars(std::span(buf).first(*n)));
        }
        line.pop_back();
        std::reverse(line.begin(), line.end());
        line += '\n';
        auto ok104 = co_await s->send_all(line);
        REQUIRE(ok104);
        auto ok105 = co_await s->close_notify();
        REQUIRE(ok105);
        // s_client leaves once it has read close_notify (blocking here is fine:
        // nothing else runs on this loop).
        run->output = client.read_all();
        run->status = client.wait(10s);
    }
}

}  // namespace

TEST_CASE("tls: openssl s_client -> corio server", "[tls][openssl]") {
    NEED_TLS_FILES(f);
    SClientRun run;
    test::run([&](Loop&) { return s_client_to_corio(f, &run); }, 20s);
    CHECK(run.output == "oiroc olleh\n");
    CHECK(run.status == 0);
    CHECK(run.alpn == "http/1.1");
}

}  // namespace tls_openssl_test
