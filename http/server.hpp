#pragma once
// An HTTP/1.1 server: a handler (often a Router) behind connections that
// keep alive, answer pipelined requests in order, stream bodies both ways,
// and cut off slow or idle peers.
//
//   http::Router r;
//   r.get("/hello", [](http::Request&) -> Task<http::Response> {
//       co_return http::Response::text(200, "hello\n");
//   });
//   http::Server srv(r);
//   auto addr = rt.block_on(srv.serve(rt, net::Address::loopback_v4(8080))).value("serve");
//   rt.run_until_signal();
//
// Timeouts cost nothing per request: each connection notes its deadline and
// a per-loop reaper walks the connections a few times a second and stops
// those whose deadline passed (what they wait for is cancelled). A request
// whose head does not arrive in time gets 408.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <corio/http/codec.hpp>
#include <corio/http/message.hpp>
#include <corio/http/router.hpp>
#include <corio/http/stream.hpp>
#include <corio/net/address.hpp>
#include <corio/net/server.hpp>
#include <corio/net/tcp.hpp>
#include <corio/runtime/cancel.hpp>
#include <corio/runtime/clock.hpp>
#include <corio/runtime/deadline.hpp>
#include <corio/runtime/runtime.hpp>
#include <corio/runtime/task.hpp>

namespace corio::http {

/// Turns an accepted TCP connection into the stream to serve, before
/// `deadline` (a TLS handshake, for instance; see tls/https.hpp); an error
/// drops the connection. The server's transport hook, as Connector is the
/// client's. Called on the accepting loop; shared by every loop.
using ConnectionWrapper = std::function<Task<Result<Stream>>(net::TcpStream s, Deadline deadline)>;

/// One request as the server answered it (ServerOptions::access_log).
struct AccessEntry {
    /// The method as sent; as far as it was read for a request the server
    /// refused while parsing it (400, 414, 431), "" when nothing of it was.
    std::string_view method;
    /// The request-target as sent; as far as it was read, as for `method`.
    std::string_view target;
    /// The request's version.
    Version version = Version::http_1_1;
    /// The status sent: the handler's, or the server's own (400, 408, 413,
    /// 431, 500, 503); 0 when the connection ended (a timeout, the client
    /// left, a shutdown's cancel) before an answer went out.
    int status = 0;
    /// Body bytes written or queued: the head and chunk framing are not
    /// counted, a HEAD's is 0, a file's or stream's counts what went out.
    std::uint64_t body_bytes = 0;
    /// From when the server began on the request (its first byte, or the
    /// turn it was taken from the input behind an earlier one) to its
    /// response written, or queued (responses to pipelined requests and
    /// buffered answers go out together, at the next send).
    Duration duration{};
    /// False when a file or stream body was cut short (the client stopped
    /// reading, a send timeout) or there was no answer. A buffered answer
    /// counts as complete once queued whole: a send that fails after that
    /// ends the connection without another entry.
    bool complete = true;
    /// The client's address (Request::peer()).
    std::optional<net::Address> peer;
};

/// Called with each request's AccessEntry once the server is done with it,
/// on the connection's loop (with serve(), on many loops at once: make it
/// thread-safe). It runs on the request's path: it must not block (queue
/// the line to a writer of its own, or use a buffered stdio stream). An
/// exception it throws is logged and dropped.
using AccessLog = std::function<void(const AccessEntry&)>;

/// How a Server treats its connections.
struct ServerOptions {
    /// Request line, header and body limits (414, 431, 413). max_body also
    /// bounds bodies read as a stream.
    RequestParser::Limits limits{};
    /// From the first byte of a request to the end of its head (then 408).
    Duration header_timeout = std::chrono::seconds(10);
    /// A request body that makes no progress for this long ends the connection.
    Duration body_timeout = std::chrono::seconds(30);
    /// A keep-alive connection idle this long between requests is closed.
    Duration idle_timeout = std::chrono::seconds(60);
    /// A response that makes no progress for this long ends the connection.
    Duration send_timeout = std::chrono::seconds(60);
    /// run(): time left to requests in progress when it stops.
    Duration grace = std::chrono::seconds(2);
    /// Open connections at most, over all loops; one more gets 503 and is closed.
    std::size_t max_connections = 10000;
    /// io_uring: plain TCP connections read through one multishot receive into
    /// a per-loop buffer ring (256 x 4 KiB) rather than one receive per read;
    /// false turns it off (for comparison). Ignored on epoll, on kernels
    /// without multishot receive, and for wrapped (TLS) streams.
    bool multishot_receive = true;
    /// The Server field of every response; empty: none.
    std::string server_name = "corio";
    /// Hook: run on each connection run() and serve() accept, within
    /// header_timeout, before the first request is read (TLS). Unset: plain TCP.
    ConnectionWrapper wrap_connection{};
    /// Hook: each request as answered (see AccessLog). Unset: nothing is
    /// measured. Connections refused at max_connections carry no request
    /// and are not logged.
    AccessLog access_log{};
};

namespace detail {
struct ServerCore;
}

/// Serves HTTP/1.1 with `handler` on any number of connections and loops.
/// The Server must outlive every connection it serves (run() and serve()
/// see to that for theirs).
class Server {
public:
    /// A server answering every request with `handler` (a Router, say).
    explicit Server(Handler handler, ServerOptions opts = {});
    /// Destroys the server: every connection it serves must be over by then.
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Serves one connection over any ByteStream until the peer closes, an
    /// error or timeout ends it, or the server drains. Completes when the
    /// connection is closed; never fails (errors end the connection).
    Task<void> serve_connection(Stream s);
    /// serve_connection(Stream) for any ByteStream (a net::TcpStream, a TLS
    /// stream), wrapped in a Stream.
    template <ByteStream S>
    requires(!std::same_as<S, Stream>) Task<void> serve_connection(S s) {
        return serve_connection(Stream(std::move(s)));
    }

    /// Accepts on `listener` and serves each connection on this loop until
    /// `stop` is requested (or the calling task is cancelled); then stops
    /// accepting, closes idle keep-alive connections, lets requests in
    /// progress finish within options().grace, cancels the rest and returns.
    Task<void> run(net::TcpListener listener, StopToken stop);

    /// One listener per loop of `rt` through net::serve (SO_REUSEPORT); the
    /// bound address. With the runtime's graceful shutdown, idle keep-alive
    /// connections close at once and busy ones close after their response.
    Task<Result<net::Address>> serve(Runtime& rt, net::Address addr, net::ServeOptions o = {});

    /// Connections open now, over all loops.
    std::size_t connections() const noexcept;
    /// The options it was made with.
    const ServerOptions& options() const noexcept;

private:
    std::shared_ptr<detail::ServerCore> core_;
};

}  // namespace corio::http
