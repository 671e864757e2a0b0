// Every options struct can be written with designated initializers naming only the fields a
// caller sets (`Runtime rt({.loops = 0})`, the README's idiom), without a warning under
// -Wall -Wextra -Werror: each field has a default member initializer, so GCC's
// -Wmissing-field-initializers has nothing to say. The suite is built with -Werror, so a
// field added without one fails this file's compile; the checks below see the values kept.
#include <catch2/catch.hpp>

#include <corio/corio.hpp>
#include <corio/sim/world.hpp>

namespace http_options_test {

using namespace corio;
using namespace std::chrono_literals;

TEST_CASE("options: designated initializers name only what is set", "[http][options]") {
    const RetryPolicy retry{.max_attempts = 2, .seed = 7};
    CHECK(retry.max_attempts == 2);
    CHECK(retry.seed == std::optional<std::uint64_t>(7));
    CHECK(retry.initial_backoff == 100ms);
    const BreakerOptions breaker{.failure_threshold = 0, .window = 20};
    CHECK(breaker.window == 20);
    CHECK(!breaker.on_state_change);
    const RuntimeConfig rc{.loops = 1};
    CHECK(rc.loops == 1);
    const LoopOptions lo{.backend = BackendChoice::epoll};
    CHECK(!lo.shuffle_seed);
    const net::ListenOptions listen{.reuse_addr = true};
    CHECK(listen.reuse_addr);
    const net::DnsConfig dns{.search = {"example.com"}};
    CHECK(dns.servers.empty());
    CHECK(dns.search.size() == 1);
    const http::ClientOptions client{.timeout = 1s, .max_redirects = 0};
    CHECK(client.max_redirects == 0);
    CHECK(!client.retry);
    CHECK(!client.connect);
    const http::ServerOptions server{.max_connections = 3};
    CHECK(server.max_connections == 3);
    CHECK(!server.access_log);
    CHECK(!server.wrap_connection);
    const http::sse::SourceOptions source{.last_event_id = "42"};
    CHECK(source.last_event_id == "42");
    const http::websocket::Options ws{.protocols = {"chat"}};
    CHECK(ws.protocols.size() == 1);
    const http::websocket::ConnectOptions wsc{.headers = {}};
    CHECK(!wsc.connect);
    const sim::WorldOptions world{.seed = 5};
    CHECK(world.seed == 5);
#if CORIO_HAS_TLS
    const tls::ContextOptions tls{.ca_file = "ca.pem", .verify_peer = false, .alpn = {"http/1.1"}};
    CHECK(tls.ca_file == "ca.pem");
    CHECK(tls.cert_file.empty());
    CHECK(tls.alpn.size() == 1);
#endif
}

}  // namespace http_options_test
