// The simulated network against the kernel's loopback: scripted TCP and UDP
// scenarios whose outcome does not depend on timing (each step waits for
// what it needs) run on the real backend (io_uring or epoll, as meson
// registers the file) and on a simulated host, and their transcripts must be
// the same, error for error: refused connections, ports in use and shared,
// addresses, accepts after the client's data or the listener's close,
// half-close, resets from unread data and from SO_LINGER, what a socket
// reports after a reset, sends after shutdown, EOF in read_exact, timeouts,
// and datagrams (limits, a connected socket's filter, unreachable ports).
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <corio/net/tcp.hpp>
#include <corio/net/udp.hpp>
#include <corio/runtime/timer.hpp>

#include "sim_support.hpp"
#include "support.hpp"

namespace sim_net_diff_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

// What a transcript says of an outcome.
template <class T>
std::string said(const Result<T>& r) {
    if (r) return "ok";
    return r.error().message();
}

std::string text(std::span<const std::byte> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// A listener on 127.0.0.1 and a connection to it: {listener, client, server}.
struct Pair {
    net::TcpListener listener;
    net::TcpStream client;
    net::TcpStream server;
};

Task<Result<Pair>> connected() {
    auto l = net::TcpListener::bind(net::Address::parse("127.0.0.1:0").value("addr"));
    if (!l) co_return l.error();
    auto at = l->local_address();
    if (!at) co_return at.error();
    auto c = co_await net::TcpStream::connect(*at);
    if (!c) co_return c.error();
    auto s = co_await l->accept();
    if (!s) co_return s.error();
    co_return Pair{std::move(*l), std::move(*c), std::move(*s)};
}

using Scenario = std::function<Task<std::string>()>;

// Each scenario gives its transcript, one outcome after another.
const std::vector<std::pair<const char*, Scenario>>& scenarios() {
    static const std::vector<std::pair<const char*, Scenario>> all = {
        {"connect to a port nobody listens on",
         []() -> Task<std::string> {
             auto l = net::TcpListener::bind(net::Address::parse("127.0.0.1:0").value("addr"));
             if (!l) co_return "bind: " + said(l);
             auto at = l->local_address().value("local address");
             l->close();
             auto c = co_await net::TcpStream::connect(at);
             co_return "connect: " + said(c);
         }},
        {"a port in use, and one shared with SO_REUSEPORT",
         []() -> Task<std::string> {
             std::string t;
             auto any = net::Address::parse("127.0.0.1:0").value("addr");
             auto a = net::TcpListener::bind(any, {.reuse_addr = true});
             if (!a) co_return "bind a: " + said(a);
             auto at = a->local_address().value("local address");
             auto b = net::TcpListener::bind(at, {.reuse_addr = true});
             t += "same port: " + said(b);
             auto c = net::TcpListener::bind(any, {.reuse_port = true});
             if (!c) co_return t + "; bind c: " + said(c);
             auto d =
                 net::TcpListener::bind(c->local_address().value("local"), {.reuse_port = true});
             t += "; both reuse_port: " + said(d);
             co_return t;
         }},
        {"addresses: loopback beyond 127.0.0.1, a wildcard's port, an address not here",
         []() -> Task<std::string> {
             auto wild = net::TcpListener::bind(net::Address::parse("0.0.0.0:0").value("addr"));
             if (!wild) co_return "bind: " + said(wild);
             const std::uint16_t port = wild->local_address().value("local").port();
             auto at = [](const char* ip, std::uint16_t p) {
                 return net::Address::parse(std::string(ip) + ":" + std::to_string(p)).value("a");
             };
             std::string t = "127.0.0.2 to a wildcard: " +
                             said(co_await net::TcpStream::connect(at("127.0.0.2", port)));
             t += "; 127.0.0.1 beside the wildcard: " +
                  said(net::TcpListener::bind(at("127.0.0.1", port)));
             auto one = net::TcpListener::bind(at("127.0.0.1", 0));
             if (!one) co_return t + "; bind: " + said(one);
             const std::uint16_t p1 = one->local_address().value("local").port();
             t += "; 127.0.0.2 to 127.0.0.1's listener: " +
                  said(co_await net::TcpStream::connect(at("127.0.0.2", p1)));
             t += "; an address not here: " + said(net::TcpListener::bind(at("10.255.255.1", 0)));
             co_return t;
         }},
        {"a listener closed with connections not yet accepted",
         []() -> Task<std::string> {
             auto l = net::TcpListener::bind(net::Address::parse("127.0.0.1:0").value("addr"));
             if (!l) co_return "bind: " + said(l);
             auto c = co_await net::TcpStream::connect(l->local_address().value("local"));
             if (!c) co_return "connect: " + said(c);
             l->close();
             std::array<std::byte, 4> buf;
             auto r = co_await c->recv(buf);
             co_return "recv: " + (r ? std::to_string(*r) : said(r));
         }},
        {"data and FIN before the accept",
         []() -> Task<std::string> {
             auto l = net::TcpListener::bind(net::Address::parse("127.0.0.1:0").value("addr"));
             if (!l) co_return "bind: " + said(l);
             auto c = co_await net::TcpStream::connect(l->local_address().value("local"));
             if (!c) co_return "connect: " + said(c);
             std::string t = "send: " + said(co_await c->send_all(std::string_view("early")));
             c->close();
             auto s = co_await l->accept();
             if (!s) co_return t + "; accept: " + said(s);
             std::array<std::byte, 5> five;
             auto r = co_await s->read_exact(five);
             t += "; read: " + (r ? text(five) : said(r));
             auto n = co_await s->recv(five);
             t += "; recv: " + (n ? std::to_string(*n) : said(n));
             co_return t;
         }},
        {"shutdown of both directions; a reset from the client's side",
         []() -> Task<std::string> {
             auto p = co_await connected();
             if (!p) co_return "connect: " + said(p);
             std::string t = "shutdown: " + said(p->client.shutdown(SHUT_RDWR));
             std::array<std::byte, 4> buf;
             auto r = co_await p->client.recv(buf);
             t += "; recv: " + (r ? std::to_string(*r) : said(r));
             t += "; send: " + said(co_await p->client.send(std::string_view("a")));
             auto eof = co_await p->server.recv(buf);
             t += "; server recv: " + (eof ? std::to_string(*eof) : said(eof));
             auto q = co_await connected();
             if (!q) co_return t + "; connect: " + said(q);
             t += "; linger: " + said(q->client.set_linger_reset());
             q->client.close();
             auto reset = co_await q->server.recv(buf);
             t += "; recv after reset: " + (reset ? std::to_string(*reset) : said(reset));
             for (int i = 0; i < 2; ++i) {
                 t += "; send: " + said(co_await q->server.send(std::string_view("b")));
             }
             co_return t;
         }},
        {"datagram limits and a connected socket's filter",
         []() -> Task<std::string> {
             auto any = net::Address::parse("127.0.0.1:0").value("addr");
             auto a = net::UdpSocket::bind(any);
             auto b = net::UdpSocket::bind(any);
             auto c = net::UdpSocket::bind(any);
             if (!a || !b || !c) co_return "bind failed";
             const auto at = a->local_address().value("a");
             const auto bt = b->local_address().value("b");
             std::string big(65507, 'x');
             std::string t =
                 "65507 bytes: " + said(co_await b->send_to(net::as_send_bytes(big), at));
             big.push_back('x');
             t += "; 65508: " + said(co_await b->send_to(net::as_send_bytes(big), at));
             std::vector<std::byte> buf(70000);
             auto d = co_await a->recv_from(buf);
             t += "; got " + (d ? std::to_string(d->size) : said(d));
             t += "; to port 0: " +
                  said(co_await b->send_to(net::as_send_bytes(std::string_view("z")),
                                           net::Address::parse("127.0.0.1:0").value("zero")));
             // Connected to b, `a` takes nothing from c.
             t += "; connect: " + said(a->connect(bt));
             t += "; from c: " +
                  said(co_await c->send_to(net::as_send_bytes(std::string_view("c")), at));
             t += "; from b: " +
                  said(co_await b->send_to(net::as_send_bytes(std::string_view("b")), at));
             auto first = co_await a->recv(buf);
             t += "; a got " + (first ? text(std::span(buf).first(*first)) : said(first));
             co_return t;
         }},
        {"connect to port 0",
         []() -> Task<std::string> {
             auto c =
                 co_await net::TcpStream::connect(net::Address::parse("127.0.0.1:0").value("a"));
             co_return "connect: " + said(c);
         }},
        {"net::idle_and_open: nothing pending, bytes waiting, the peer's FIN",
         []() -> Task<std::string> {
             auto p = co_await connected();
             if (!p) co_return "connect: " + said(p);
             auto idle = [&p] { return net::idle_and_open(p->client.fd()) ? "idle" : "not idle"; };
             std::string t = std::string("fresh: ") + idle();
             t += "; send: " + said(co_await p->server.send_all(std::string_view("ab")));
             std::array<std::byte, 1> one;
             auto a = co_await p->client.read_exact(one);
             t += "; read: " + (a ? text(one) : said(a)) + ", " + idle();
             auto b = co_await p->client.read_exact(one);
             t += "; read: " + (b ? text(one) : said(b)) + ", " + idle();
             t += "; shutdown: " + said(p->server.shutdown(SHUT_WR));
             auto eof = co_await p->client.recv(one);
             t += "; recv: " + (eof ? std::to_string(*eof) : said(eof)) + ", " + idle();
             co_return t;
         }},
        {"half-close both ways",
         []() -> Task<std::string> {
             auto p = co_await connected();
             if (!p) co_return "connect: " + said(p);
             std::string t;
             t += "send: " + said(co_await p->client.send_all(std::string_view("hello")));
             std::array<std::byte, 5> five;
             auto r = co_await p->server.read_exact(five);
             t += "; read: " + (r ? text(five) : said(r));
             t += "; shutdown: " + said(p->client.shutdown(SHUT_WR));
             std::array<std::byte, 16> buf;
             auto eof = co_await p->server.recv(buf);
             t += "; server recv: " + (eof ? std::to_string(*eof) : said(eof));
             t += "; send back: " + said(co_await p->server.send_all(std::string_view("bye")));
             std::array<std::byte, 3> three;
             auto back = co_await p->client.read_exact(three);
             t += "; client read: " + (back ? text(three) : said(back));
             auto again = co_await p->client.send(std::string_view("x"));
             t += "; send after shutdown: " + said(again);
             p->server.close();
             auto end = co_await p->client.recv(buf);
             t += "; client recv: " + (end ? std::to_string(*end) : said(end));
             co_return t;
         }},
        {"a close with unread data resets; what the peer sees after",
         []() -> Task<std::string> {
             auto p = co_await connected();
             if (!p) co_return "connect: " + said(p);
             std::string t;
             t += "send: " + said(co_await p->client.send_all(std::string_view("xy")));
             std::array<std::byte, 1> one;
             auto r = co_await p->server.read_exact(one);
             t += "; read: " + (r ? text(one) : said(r));
             p->server.close();  // "y" unread: RST
             std::array<std::byte, 16> buf;
             for (int i = 0; i < 2; ++i) {
                 auto n = co_await p->client.recv(buf);
                 t += "; recv: " + (n ? std::to_string(*n) : said(n));
             }
             for (int i = 0; i < 2; ++i) {
                 t += "; send: " + said(co_await p->client.send(std::string_view("z")));
             }
             co_return t;
         }},
        {"SO_LINGER 0 resets; a reset peer's read_exact",
         []() -> Task<std::string> {
             auto p = co_await connected();
             if (!p) co_return "connect: " + said(p);
             std::string t;
             t += "linger: " + said(p->server.set_linger_reset());
             t += "; send: " + said(co_await p->server.send_all(std::string_view("ab")));
             std::array<std::byte, 2> two;
             auto r = co_await p->client.read_exact(two);
             t += "; read: " + (r ? text(two) : said(r));
             p->server.close();
             std::array<std::byte, 4> four;
             auto cut = co_await p->client.read_exact(four);
             t += "; read_exact: " + said(cut);
             co_return t;
         }},
        {"read_exact meets EOF part way",
         []() -> Task<std::string> {
             auto p = co_await connected();
             if (!p) co_return "connect: " + said(p);
             std::string t;
             t += "send: " + said(co_await p->client.send_all(std::string_view("abc")));
             p->client.close();
             std::array<std::byte, 5> five;
             auto r = co_await p->server.read_exact(five);
             t += "; read_exact: " + said(r);
             std::array<std::byte, 5> more;
             auto n = co_await p->server.recv(more);
             t += "; recv: " + (n ? std::to_string(*n) : said(n));
             co_return t;
         }},
        {"timeouts of a receive and of an accept",
         []() -> Task<std::string> {
             auto p = co_await connected();
             if (!p) co_return "connect: " + said(p);
             std::array<std::byte, 4> buf;
             auto r = co_await p->client.recv(buf).timeout(20ms);
             std::string t = "recv: " + said(r);
             auto a = co_await with_timeout(p->listener.accept(), 20ms);
             t += "; accept: " + std::string(a ? "done" : "timed out");
             t += "; send after: " + said(co_await p->client.send_all(std::string_view("q")));
             auto got = co_await p->server.recv(buf);
             t += "; " + (got ? text(std::span(buf).first(*got)) : said(got));
             co_return t;
         }},
        {"datagrams: sender's address, a connected socket, a port nobody bound",
         []() -> Task<std::string> {
             auto any = net::Address::parse("127.0.0.1:0").value("addr");
             auto a = net::UdpSocket::bind(any);
             auto b = net::UdpSocket::bind(any);
             if (!a || !b) co_return "bind failed";
             const auto at = a->local_address().value("a");
             const auto bt = b->local_address().value("b");
             std::string t = "send_to: " + said(co_await b->send_to(
                                               net::as_send_bytes(std::string_view("ping")), at));
             std::array<std::byte, 16> buf;
             auto d = co_await a->recv_from(buf);
             if (!d) co_return t + "; recv_from: " + said(d);
             t += "; got " + text(std::span(buf).first(d->size)) +
                  (d->from == bt ? " from b" : " from elsewhere");
             // A datagram longer than the buffer: truncated to it.
             t += "; long: " +
                  said(co_await b->send_to(net::as_send_bytes(std::string_view("0123456789")), at));
             std::array<std::byte, 4> small;
             auto cut = co_await a->recv_from(small);
             t +=
                 "; " + (cut ? std::to_string(cut->size) + " of " + std::to_string(cut->full_size) +
                                   " " + text(small) + (cut->truncated ? " truncated" : "")
                             : said(cut));
             // A port nobody bound: the kernel's ICMP answer fails the next receive.
             auto c = net::UdpSocket::bind(any);
             if (!c) co_return t + "; bind c failed";
             const auto ct = c->local_address().value("c");
             c->close();
             auto u = net::UdpSocket::open();
             if (!u) co_return t + "; open failed";
             t += "; connect: " + said(u->connect(ct));
             t += "; send: " + said(co_await u->send(net::as_send_bytes(std::string_view("x"))));
             auto refused = co_await u->recv(buf).timeout(200ms);
             t += "; recv: " + said(refused);
             co_return t;
         }},
    };
    return all;
}

std::string run_real(const Scenario& s) {
    std::string out;
    test::run([&](Loop&) -> Task<void> { out = co_await s(); });
    return out;
}

std::string run_sim(const Scenario& s) {
    sim::World w({.seed = 1, .use_env = false});
    auto& h = w.add_host("host");
    return w.block_on(h, s());
}

}  // namespace

TEST_CASE("sim network and kernel loopback give the same transcripts", "[sim][net][diff]") {
    for (const auto& [name, scenario] : scenarios()) {
        const std::string real = run_real(scenario);
        const std::string simulated = run_sim(scenario);
        INFO(name);
        CHECK(real == simulated);
        if (std::string_view(name).starts_with("net::idle_and_open")) {
            CHECK(real ==
                  "fresh: idle; send: ok; read: a, not idle; read: b, idle; shutdown: ok; "
                  "recv: 0, not idle");
        }
    }
}

}  // namespace sim_net_diff_test
