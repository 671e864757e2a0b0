// Registered descriptors: on io_uring a stream takes a slot of the loop's
// registered descriptor table and its operations name the slot. A full table
// falls back to the plain descriptor; a close under a pending operation ends
// it; thousands of connect/close cycles leave the table empty. On epoll there
// is no table and the same tests check that nothing is registered.
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "net_support.hpp"

namespace net_fixed_files_test {

using namespace corio;
using namespace std::chrono_literals;
using test::bytes;
using test::chars;

namespace {

Task<void> echo_once(net::TcpStream& a, net::TcpStream& b, std::string msg) {
    auto w = co_await a.send_all(bytes(msg));
    REQUIRE(w);
    std::string got(msg.size(), '\0');
    auto r = co_await b.read_exact(std::as_writable_bytes(std::span(got)));
    REQUIRE(r);
    CHECK(got == msg);
}

}  // namespace

TEST_CASE("an operation with a registered slot names the slot, not the descriptor",
          "[net][fixed]") {
    test::run([](Loop& loop) -> Task<void> {
        auto p = co_await test::tcp_pair();
        REQUIRE(p);
        auto& [c, s] = *p;
        if (loop.caps().fixed_files == 0) co_return;  // epoll: no table
        const int slot = s.registered_slot();
        REQUIRE(slot >= 0);
        auto w = co_await c.send_all(bytes(std::string("hi")));
        REQUIRE(w);
        // A descriptor that is no file at all: only the table can make this
        // receive work (IOSQE_FIXED_FILE); without it the kernel says EBADF.
        std::array<std::byte, 8> buf{};
        net::Recv op{-1, buf};
        op.slot = slot;
        auto r = co_await run(op);
        REQUIRE(r);
        CHECK(*r == 2);
        CHECK(chars(std::span(buf.data(), *r)) == "hi");
    });
}

TEST_CASE("a full descriptor table falls back to plain descriptors", "[net][fixed]") {
    LoopOptions opts = test::options();
    opts.fixed_files = 4;
    test::run(
        [](Loop& loop) -> Task<void> {
            const bool table = loop.caps().fixed_files > 0;
            if (loop.kind() == BackendKind::io_uring) CHECK(loop.caps().fixed_files == 4);
            std::vector<std::pair<net::TcpStream, net::TcpStream>> pairs;
            for (int i = 0; i < 6; ++i) {
                auto p = co_await test::tcp_pair();
                REQUIRE(p);
                pairs.push_back(std::move(*p));
            }
            int registered = 0;
            for (auto& [c, s] : pairs) {
                registered += c.registered_slot() >= 0;
                registered += s.registered_slot() >= 0;
            }
            CHECK(registered == (table ? 4 : 0));
            CHECK(loop.fixed_files_in_use() == unsigned(registered));
            // Registered or not, every stream works both ways.
            for (std::size_t i = 0; i < pairs.size(); ++i) {
                co_await echo_once(pairs[i].first, pairs[i].second, "ping " + std::to_string(i));
                co_await echo_once(pairs[i].second, pairs[i].first, "pong " + std::to_string(i));
            }
            pairs.clear();
            (void)co_await nop();
            CHECK(loop.fixed_files_in_use() == 0);
        },
        10s, opts);
}

TEST_CASE("closing a registered stream under a pending receive ends it", "[net][fixed]") {
    test::run([](Loop& loop) -> Task<void> {
        auto p = co_await test::tcp_pair();
        REQUIRE(p);
        auto& [c, s] = *p;
        if (loop.caps().fixed_files > 0) CHECK(s.registered_slot() >= 0);
        auto reader = [](net::TcpStream* x) -> Task<Result<std::size_t>> {
            std::array<std::byte, 64> buf{};
            co_return co_await x->recv(buf);
        };
        auto h = loop.spawn(reader(&s));
        co_await yield();
        co_await yield();
        CHECK(!h.done());
        s.close();
        auto r = co_await h;
        REQUIRE(!r);
        CHECK(r.error() == std::errc::operation_canceled);
        // The peer sees the end of the stream: nothing keeps the socket open.
        std::array<std::byte, 8> b{};
        auto e = co_await c.recv(b).timeout(5s);
        REQUIRE(e);
        CHECK(*e == 0);
        c.close();
        (void)co_await nop();
        CHECK(loop.fixed_files_in_use() == 0);
    });
}

TEST_CASE("10,000 connect/close cycles leave the descriptor table empty", "[net][fixed]") {
    test::run(
        [](Loop& loop) -> Task<void> {
            auto l = net::TcpListener::bind(net::Address::loopback_v4(0));
            REQUIRE(l);
            auto addr = *l->local_address();
            const int before = test::open_fds();
            unsigned peak = 0;
            for (int i = 0; i < 10000; ++i) {
                auto [c, s] = co_await when_all(net::TcpStream::connect(addr), l->accept());
                REQUIRE(c);
                REQUIRE(s);
                peak = std::max(peak, loop.fixed_files_in_use());
                if (i % 100 == 0) co_await echo_once(*c, *s, "cycle");
            }
            (void)co_await nop();
            CHECK(loop.fixed_files_in_use() == 0);
            if (loop.caps().fixed_files > 0) {
                CHECK(peak == 2);
            } else {
                CHECK(peak == 0);
            }
            CHECK(test::open_fds() == before);
        },
        60s);
}

// A slot belongs to one ring: streams that outlive their loop must not name
// their old slots in a loop made later at the same address (a temporary loop
// per corio::block_on call does that), where the numbers name other sockets.
TEST_CASE("streams from a loop that is gone use their descriptors on a new loop at its address",
          "[net][fixed]") {
    if (test::sim_requested()) return;  // real loops only
    using Pair = std::pair<net::TcpStream, net::TcpStream>;
    test::ReplacedLoop loop;
    Pair old = loop->block_on([]() -> Task<Pair> {
        auto p = co_await test::tcp_pair();
        REQUIRE(p);
        co_return std::move(*p);
    }());
    const bool table = loop->caps().fixed_files > 0;
    CHECK((old.second.registered_slot() >= 0) == table);
    loop.replace();
    CHECK(old.first.registered_slot() == -1);
    CHECK(old.second.registered_slot() == -1);
    loop->block_on([](Pair* old) -> Task<void> {
        // A new pair takes the first free slots of the new table: the
        // numbers the old loop gave `old`.
        auto p = co_await test::tcp_pair();
        REQUIRE(p);
        auto& [c, s] = *p;
        co_await echo_once(c, s, "new pair");
        co_await echo_once(old->first, old->second, "old pair");
        // With the new pair closed its slots are empty: an operation that
        // named one would fail with EBADF.
        c.close();
        s.close();
        (void)co_await nop();
        co_await echo_once(old->second, old->first, "old pair back");
    }(&old));
    loop.end();
}

}  // namespace net_fixed_files_test
