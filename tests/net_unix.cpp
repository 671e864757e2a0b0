// Unix stream sockets on both backends: path, abstract, socketpair.
#include <unistd.h>

#include <array>

#include <sys/socket.h>

#include "clock_support.hpp"
#include "net_support.hpp"

namespace net_unix_test {

using namespace corio;
using namespace std::chrono_literals;
using test::bytes;
using test::chars;

namespace {
Task<void> unix_echo_once(net::Address addr) {
    auto l = net::UnixListener::bind(addr);
    REQUIRE(l);
    CHECK(l->local_address().value() == addr);
    auto client = [](net::Address a) -> Task<std::string> {
        auto s = co_await net::UnixStream::connect(a);
        REQUIRE(s);
        auto w = co_await s->send_all(bytes("over unix"));
        REQUIRE(w);
        std::array<std::byte, 9> buf;
        auto r = co_await s->read_exact(buf);
        REQUIRE(r);
        co_return std::string(chars(buf));
    };
    auto server = [](net::UnixListener* l) -> Task<void> {
        auto s = co_await l->accept();
        REQUIRE(s);
        std::array<std::byte, 9> buf;
        auto r = co_await s->read_exact(buf);
        REQUIRE(r);
        auto w = co_await s->send_all(buf);
        REQUIRE(w);
    };
    auto [got, _] = co_await when_all(client(addr), server(&*l));
    CHECK(got == "over unix");
}
}  // namespace

TEST_CASE("Unix socket on a path", "[net][unix]") {
    test::run([](Loop&) -> Task<void> {
        std::string path = "/tmp/corio-test-" + std::to_string(::getpid()) + ".sock";
        ::unlink(path.c_str());
        auto addr = net::Address::unix_path(path).value();
        CHECK(addr.to_string() == "unix:" + path);
        co_await unix_echo_once(addr);
        ::unlink(path.c_str());
    });
}

TEST_CASE("Unix socket on an abstract name", "[net][unix]") {
    test::run([](Loop&) -> Task<void> {
        auto addr = net::Address::unix_abstract("corio-test-" + std::to_string(::getpid())).value();
        CHECK(addr.to_string().starts_with("unix:@corio-test-"));
        co_await unix_echo_once(addr);
    });
}

TEST_CASE("unix_pair, shutdown and refused connects", "[net][unix]") {
    test::run([](Loop&) -> Task<void> {
        auto p = net::unix_pair();
        REQUIRE(p);
        auto& [a, b] = *p;
        auto w = co_await a.send_all(bytes("pair"));
        REQUIRE(w);
        REQUIRE(a.shutdown(SHUT_WR));
        std::array<std::byte, 8> buf;
        auto n = co_await b.recv(buf);
        REQUIRE(n);
        CHECK(chars(std::span(buf).first(*n)) == "pair");
        auto z = co_await b.recv(buf);
        REQUIRE(z);
        CHECK(*z == 0);
        auto none = net::Address::unix_abstract("corio-nobody-listens").value();
        auto c = co_await net::UnixStream::connect(none);
        REQUIRE(!c);
        CHECK(c.error() == std::errc::connection_refused);
    });
}

namespace {
// Queues `chunk` on `fd` and moves the clock by `d`, in one step: the recv
// waiting on the other end and the timer become ready in the same turn.
Task<void> feed(int fd, std::span<const std::byte> chunk, ManualClock* clock, Duration d) {
    ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    REQUIRE(n == static_cast<ssize_t>(chunk.size()));
    clock->advance(d);
    co_return;
}
}  // namespace

TEST_CASE("when_any(recv, sleep) in a loop loses no byte", "[net][unix][when_any]") {
    test::manual_run([](Loop& loop) -> Task<void> {
        auto [a, b] = net::unix_pair().value("unix_pair");
        ManualClock* clock = loop.options().clock;
        constexpr int iterations = 4000;
        std::uint64_t sent = 0;
        std::uint64_t received = 0;
        std::uint64_t kept_from_losers = 0;  // bytes a recv got as the loser
        std::array<std::byte, 256> chunk;
        std::array<std::byte, 64> buf;
        auto take = [&](std::span<const std::byte> got) {
            for (std::byte x : got) {
                if (x != test::pattern_at(received)) {
                    FAIL("byte " << received << " out of order");
                }
                ++received;
            }
        };
        for (int i = 0; i < iterations; ++i) {
            std::size_t len = static_cast<std::size_t>(i % 50) + 1;
            for (std::size_t k = 0; k < len; ++k)
                chunk[k] = test::pattern_at(sent + k);
            std::span<const std::byte> c(chunk.data(), len);
            sent += len;
            // First half: the bytes arrive and the timer comes due in the same
            // turn, after both waited. Second half: the bytes are queued and
            // the timer is due before the race starts.
            const bool same_turn = i < iterations / 2;
            JoinHandle<void> fed;
            if (!same_turn) {
                // The bytes are already queued and the timer is due at once.
                ssize_t n = ::send(b.fd(), c.data(), c.size(), MSG_NOSIGNAL);
                REQUIRE(n == static_cast<ssize_t>(len));
            } else {
                fed = loop.spawn(feed(b.fd(), c, clock, 1ms));
            }
            auto r = co_await when_any(a.recv(buf), sleep_for(same_turn ? 1ms : 0ms));
            // (A recv that found older bytes may win before the feed ran.)
            if (same_turn) co_await fed;
            Result<std::size_t>* n = r.result<0>();
            REQUIRE(n != nullptr);
            if (*n) {
                take(std::span(buf).first(**n));
                if (r.index() == 1) kept_from_losers += **n;
            } else {
                CHECK(n->error() == std::errc::operation_canceled);
            }
            // A recv cancelled before it read anything left the bytes queued:
            // read them now, so every round starts with an empty socket.
            while (received < sent) {
                auto more = co_await a.recv(buf);
                REQUIRE(more);
                REQUIRE(*more > 0);
                take(std::span(buf).first(*more));
            }
        }
        CHECK(received == sent);
        INFO("bytes delivered by a recv that lost the race: " << kept_from_losers);
        // The race this test is about really happened (and lost nothing).
        CHECK(kept_from_losers > 0);
    });
}

}  // namespace net_unix_test
