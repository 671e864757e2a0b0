#pragma once
// Never co_await inside REQUIRE/CHECK: Catch evaluates the expression again in a
// short-circuited condition, which g++ 12 turns into a second co_await.
// Helpers for the http/ tests: a server on 127.0.0.1:0 on the test's loop,
// and a raw client that sends exact bytes and parses what comes back.

#include <optional>
#include <string>
#include <string_view>

#include <corio/http/client.hpp>
#include <corio/http/codec.hpp>
#include <corio/http/router.hpp>
#include <corio/http/server.hpp>
#include <corio/net/tcp.hpp>
#include <corio/runtime/task_group.hpp>

#include "net_support.hpp"
#include "support.hpp"

namespace corio::test {

/// A Server running on this loop until stop() (or the end of the scope, which
/// must be preceded by `co_await stop()`).
class LocalServer {
public:
    explicit LocalServer(http::Handler h, http::ServerOptions o = {})
        : srv_(std::move(h), std::move(o)) {
        auto l = net::TcpListener::bind(net::Address::loopback_v4(0)).value("bind");
        addr_ = l.local_address().value("local_address");
        group_.spawn(srv_.run(std::move(l), stop_.token()));
    }
    const net::Address& address() const noexcept { return addr_; }
    std::string url(std::string_view path) const {
        return "http://" + addr_.to_string() + std::string(path);
    }
    http::Server& server() noexcept { return srv_; }
    Task<void> stop() {
        stop_.request_stop();
        co_await group_.wait();
    }

private:
    http::Server srv_;
    net::Address addr_;
    StopSource stop_;
    TaskGroup group_;
};

/// A client speaking raw bytes over one TCP connection.
class RawClient {
public:
    static Task<RawClient> connect(net::Address a) {
        RawClient c;
        c.s_ = (co_await net::TcpStream::connect(a)).value("connect");
        co_return c;
    }
    Task<bool> send(std::string text) {
        co_return (co_await s_.send_all(std::as_bytes(std::span(text)))).has_value();
    }
    /// The next response, parsed (nullopt on a parse error or a close first).
    Task<std::optional<http::ParsedResponse>> response(bool head = false) {
        http::ResponseParser p;
        p.set_head_request(head);
        for (;;) {
            if (!buf_.empty()) {
                std::size_t used = p.feed(buf_);
                buf_.erase(0, used);
                if (p.state() == http::ParseState::done) co_return p.take_response();
                if (p.state() == http::ParseState::error) co_return std::nullopt;
            }
            const bool got = co_await more();  // not in the if: GCC 12 coroutine bug
            if (!got) {
                if (p.finish_eof() == http::ParseState::done) co_return p.take_response();
                co_return std::nullopt;
            }
        }
    }
    /// Everything until the peer closes (what was buffered included).
    Task<std::string> until_close() {
        for (;;) {
            const bool got = co_await more();
            if (!got) break;
        }
        co_return std::exchange(buf_, {});
    }
    /// Receives until `buf` holds `text` (true) or the peer closes (false).
    Task<bool> wait_for(std::string_view text) {
        while (buf_.find(text) == std::string::npos) {
            const bool got = co_await more();
            if (!got) co_return false;
        }
        co_return true;
    }
    std::string& buffered() noexcept { return buf_; }
    net::TcpStream& stream() noexcept { return s_; }

private:
    Task<bool> more() {
        std::array<std::byte, 16384> b;
        auto n = co_await s_.recv(b);
        if (!n || *n == 0) co_return false;
        buf_.append(reinterpret_cast<const char*>(b.data()), *n);
        co_return true;
    }
    net::TcpStream s_;
    std::string buf_;
};

}  // namespace corio::test
