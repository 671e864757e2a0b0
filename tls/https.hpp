#pragma once
// https for corio::http: the client's Connector and the server's
// ConnectionWrapper over tls::Stream. The one place where tls/ knows http/
// (the arrow is tls -> http; http/ knows only its own Stream and hooks).
//
//   auto ctx = tls::Context::client().value("tls");   // verifies by default
//   http::ClientOptions o;
//   o.connect = tls::https_connector(ctx);
//   http::Client client(o);                             // http:// and https://
//
//   http::ServerOptions so;
//   so.wrap_connection = tls::https_wrapper(server_ctx);

#include <corio/http/client.hpp>
#include <corio/http/server.hpp>
#include <corio/tls/context.hpp>
#include <corio/tls/stream.hpp>

namespace corio::tls {

/// A Connector for http::ClientOptions: "http" over plain TCP
/// (http::connect_tcp), "https" over TLS with `ctx` (a client context): SNI
/// and name verification for the origin's host, sessions resumed per
/// host:port, the handshake within the request's deadline. Every connection
/// offers ALPN "http/1.1" alone, whatever `ctx`'s list says: the client speaks
/// nothing else, so a server cannot pick h2 from a shared context's list.
/// Handshake failures are the tls errors ("certificate verify failed: ...").
http::Connector https_connector(Context ctx);
/// https_connector(ctx), with names looked up by `resolver` (see
/// http::tcp_connector); `resolver` must outlive the client.
http::Connector https_connector(Context ctx, net::Resolver& resolver);

/// A ConnectionWrapper for http::ServerOptions: the TLS handshake with `ctx`
/// (a server context) within the deadline. It accepts ALPN "http/1.1" alone,
/// whatever `ctx`'s list says: a client offering h2 and http/1.1 gets
/// http/1.1, one offering neither goes on without ALPN. (A select callback
/// of the program's own, set on the context through native_handle(),
/// replaces corio's and this with it.)
http::ConnectionWrapper https_wrapper(Context ctx);

}  // namespace corio::tls
