#include <corio/tls/https.hpp>

#include <string>
#include <utility>

#include <corio/runtime/log.hpp>

namespace corio::tls {
namespace {

// The only protocol http::Client and http::Server speak, whatever else the
// context's ALPN list names (a context may be shared with an h2 stack).
constexpr std::string_view http11[] = {"http/1.1"};

Task<Result<http::Stream>> connect_https(Context ctx, http::Origin origin, Deadline deadline,
                                         net::Resolver* resolver) {
    if (origin.scheme == "http")
        co_return co_await http::connect_tcp_using(std::move(origin), deadline, resolver);
    if (origin.scheme != "https") co_return std::errc::protocol_not_supported;
    http::Origin tcp_origin = origin;
    tcp_origin.scheme = "http";  // the same TCP connection, then TLS on it
    auto plain = co_await http::connect_tcp_using(std::move(tcp_origin), deadline, resolver);
    if (!plain) co_return plain.error();
    net::TcpStream* tcp = plain->get<net::TcpStream>();
    if (tcp == nullptr) co_return std::errc::protocol_not_supported;
    auto s = Stream::client(ctx, std::move(*tcp), origin.host,
                            origin.host + ":" + std::to_string(origin.port), http11);
    if (!s) co_return s.error();
    auto h = co_await s->handshake(deadline);
    if (!h) co_return h.error();
    co_return http::Stream(std::move(*s));
}

Task<Result<http::Stream>> accept_https(Context ctx, net::TcpStream tcp, Deadline deadline) {
    auto s = Stream::server(ctx, std::move(tcp), http11);
    if (!s) co_return s.error();
    auto h = co_await s->handshake(deadline);
    if (!h) co_return h.error();
    co_return http::Stream(std::move(*s));
}

}  // namespace

http::Connector https_connector(Context ctx) {
    return [ctx = std::move(ctx)](http::Origin origin, Deadline deadline) {
        return connect_https(ctx, std::move(origin), deadline, nullptr);
    };
}

http::Connector https_connector(Context ctx, net::Resolver& resolver) {
    return [ctx = std::move(ctx), &resolver](http::Origin origin, Deadline deadline) {
        return connect_https(ctx, std::move(origin), deadline, &resolver);
    };
}

http::ConnectionWrapper https_wrapper(Context ctx) {
    return [ctx = std::move(ctx)](net::TcpStream s, Deadline deadline) {
        return accept_https(ctx, std::move(s), deadline);
    };
}

}  // namespace corio::tls
