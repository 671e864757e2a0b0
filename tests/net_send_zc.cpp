// Zero-copy send (IORING_OP_SEND_ZC): two completions per send, the awaiter
// resumes after the second; the bytes arrive intact. On epoll (and below the
// threshold) send_all copies as always: the same test passes there.
#include <string>
#include <vector>

#include "net_support.hpp"

namespace net_send_zc_test {

using namespace corio;
using namespace std::chrono_literals;

TEST_CASE("send_all above the zero-copy threshold delivers every byte", "[net][zc]") {
    net::set_zero_copy_threshold(4096);
    test::run([](Loop& loop) -> Task<void> {
        auto p = co_await test::tcp_pair();
        REQUIRE(p);
        auto& [c, s] = *p;
        std::vector<std::byte> data(1 << 20);
        for (std::size_t i = 0; i < data.size(); ++i)
            data[i] = std::byte(static_cast<unsigned char>(i * 131 + (i >> 12)));
        const auto sends_before = loop.stats().submitted[static_cast<std::size_t>(OpKind::send)];
        auto reader = [](net::TcpStream* x, std::size_t n) -> Task<std::vector<std::byte>> {
            std::vector<std::byte> got(n);
            auto r = co_await x->read_exact(got);
            REQUIRE(r);
            co_return got;
        };
        auto h = loop.spawn(reader(&s, data.size() * 4));
        for (int i = 0; i < 4; ++i) {
            auto w = co_await c.send_all(data);
            REQUIRE(w);
        }
        auto got = co_await h;
        for (int i = 0; i < 4; ++i) {
            CHECK(std::equal(data.begin(), data.end(),
                             got.begin() + i * std::ptrdiff_t(data.size())));
        }
        CHECK(loop.stats().submitted[static_cast<std::size_t>(OpKind::send)] > sends_before);
        if (loop.kind() == BackendKind::io_uring && loop.caps().send_zc) {
            CHECK(net::use_zero_copy(data.size()));
        } else {
            CHECK(!net::use_zero_copy(data.size()));
        }
        CHECK(!net::use_zero_copy(100));
    });
    net::set_zero_copy_threshold(0);
}

}  // namespace net_send_zc_test
