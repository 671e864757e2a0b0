// asio_echo.cpp - a Boost.Asio C++20-coroutine TCP echo server, the coroutine
// library baseline corio's echo benchmark is compared with (see README.md).
//
// The standard Asio pattern: one io_context run by one thread, one coroutine
// per connection spawned with co_spawn, async_read_some then async_write with
// use_awaitable. Errors come back as values (as_tuple) instead of exceptions,
// so a closing connection does not pay for a throw.
#include <sys/resource.h>

#include <boost/asio.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

// The comparison is against Asio's default Linux reactor, which is epoll.
// Asio switches to io_uring only when BOOST_ASIO_HAS_IO_URING is defined.
#if !defined(BOOST_ASIO_HAS_EPOLL) || defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#error "expected Boost.Asio's epoll reactor; do not define BOOST_ASIO_HAS_IO_URING"
#endif

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr const char* prog = "peer_asio_echo";
constexpr auto nothrow_awaitable = asio::as_tuple(asio::use_awaitable);

asio::awaitable<void> echo(tcp::socket sock, std::size_t buf_size) {
    // One allocation per connection (the size is a run-time option); the
    // loop itself allocates nothing per message.
    std::unique_ptr<char[]> buf(new char[buf_size]);
    for (;;) {
        auto [rec, n] =
            co_await sock.async_read_some(asio::buffer(buf.get(), buf_size), nothrow_awaitable);
        if (rec) co_return;  // EOF, reset, or shutdown: the socket closes with the frame
        // async_write loops over short writes; Asio passes MSG_NOSIGNAL.
        auto [wec, w] =
            co_await asio::async_write(sock, asio::buffer(buf.get(), n), nothrow_awaitable);
        if (wec) co_return;
    }
}

asio::awaitable<void> listen(tcp::acceptor acceptor, std::size_t buf_size) {
    auto ex = co_await asio::this_coro::executor;
    for (;;) {
        auto [ec, sock] = co_await acceptor.async_accept(nothrow_awaitable);
        if (ec) {
            if (ec == asio::error::operation_aborted) co_return;
            // Out of descriptors: retrying at once would spin.
            std::fprintf(stderr, "%s: accept: %s\n", prog, ec.message().c_str());
            asio::steady_timer t(ex, std::chrono::milliseconds(10));
            co_await t.async_wait(nothrow_awaitable);
            continue;
        }
        asio::co_spawn(ex, echo(std::move(sock), buf_size), asio::detached);
    }
}

void usage(std::FILE* f) {
    std::fprintf(f,
                 "usage: %s [--host ADDR] [--port PORT] [--buf-size BYTES]\n"
                 "Single-threaded Boost.Asio (C++20 coroutines, epoll) TCP echo server (a "
                 "benchmark baseline).\n"
                 "  --host ADDR       numeric IPv4/IPv6 address to listen on (default 127.0.0.1)\n"
                 "  --port PORT       port to listen on; 0 picks a free one (default 0)\n"
                 "  --buf-size BYTES  per-connection receive buffer (default 4096)\n"
                 "Prints 'listening HOST:PORT backend=asio loops=1' when ready; exits 0 on "
                 "SIGINT/SIGTERM.\n",
                 prog);
}

[[noreturn]] void bad_usage(const char* msg, std::string_view arg) {
    std::fprintf(stderr, "%s: %s '%.*s' (try --help)\n", prog, msg, int(arg.size()), arg.data());
    std::exit(2);
}

// Accepts "--name value" and "--name=value"; returns the value or nullptr.
const char* opt_value(int argc, char** argv, int& i, std::string_view name) {
    std::string_view a = argv[i];
    if (a.substr(0, name.size()) != name) return nullptr;
    if (a.size() > name.size() && a[name.size()] == '=') return argv[i] + name.size() + 1;
    if (a.size() != name.size()) return nullptr;
    if (i + 1 >= argc) bad_usage("missing value for", name);
    return argv[++i];
}

unsigned long parse_num(const char* v, bool is_port, unsigned long min, unsigned long max) {
    char* end;
    errno = 0;
    unsigned long x = std::strtoul(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || x < min || x > max)
        bad_usage(is_port ? "bad port" : "bad buffer size", v);
    return x;
}

}  // namespace

int main(int argc, char** argv) {
    const char* host = "127.0.0.1";
    unsigned short port = 0;
    std::size_t buf_size = 4096;
    for (int i = 1; i < argc; i++) {
        const char* v;
        if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if ((v = opt_value(argc, argv, i, "--host"))) {
            host = v;
        } else if ((v = opt_value(argc, argv, i, "--port"))) {
            port = static_cast<unsigned short>(parse_num(v, true, 0, 65535));
        } else if ((v = opt_value(argc, argv, i, "--buf-size"))) {
            buf_size = parse_num(v, false, 1, 1u << 24);
        } else {
            bad_usage("unknown option", argv[i]);
        }
    }
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    if (ec) bad_usage("not a numeric IPv4/IPv6 address", host);

    // 10k+ connections need more than the usual soft limit of 1024.
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    try {
        // Concurrency hint 1: one thread runs this context, as in the other peers.
        asio::io_context ctx(1);
        asio::signal_set signals(ctx, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code&, int) { ctx.stop(); });

        tcp::endpoint ep(addr, port);
        tcp::acceptor acceptor(ctx);
        acceptor.open(ep.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        // Accepted sockets inherit TCP_NODELAY from the listener, as in the C peers.
        acceptor.set_option(tcp::no_delay(true));
        acceptor.bind(ep);
        acceptor.listen(asio::socket_base::max_listen_connections);
        ep = acceptor.local_endpoint();

        std::string name = ep.address().to_string();
        if (ep.address().is_v6()) name = "[" + name + "]";
        std::fprintf(stderr, "%s: reactor=epoll buf_size=%zu\n", prog, buf_size);
        std::printf("listening %s:%u backend=asio loops=1\n", name.c_str(), unsigned(ep.port()));
        std::fflush(stdout);

        asio::co_spawn(ctx, listen(std::move(acceptor), buf_size), asio::detached);
        ctx.run();
        // Leaving this scope destroys the context, which destroys every
        // suspended coroutine frame and so closes every connection.
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", prog, e.what());
        return 1;
    }
    return 0;
}
