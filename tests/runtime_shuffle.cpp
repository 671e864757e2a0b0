// CORIO_SHUFFLE: ready coroutines run in a seeded random order per turn.
#include <vector>

#include "support.hpp"

namespace runtime_shuffle_test {

using namespace corio;

namespace {
std::vector<int> run_order(std::optional<std::uint64_t> seed) {
    LoopOptions o;
    o.use_env = false;
    o.shuffle_seed = seed;
    Loop loop(o);
    std::vector<int> order;
    auto body = [](Loop& l, std::vector<int>* out) -> Task<void> {
        std::vector<JoinHandle<void>> hs;
        for (int i = 0; i < 64; ++i) {
            hs.push_back(l.spawn([](std::vector<int>* o, int id) -> Task<void> {
                o->push_back(id);
                co_return;
            }(out, i)));
        }
        for (auto& h : hs) co_await h;
    };
    loop.block_on(body(loop, &order));
    return order;
}
}  // namespace

TEST_CASE("without shuffling, spawned tasks start in spawn order", "[shuffle]") {
    auto o = run_order(std::nullopt);
    REQUIRE(o.size() == 64);
    for (int i = 0; i < 64; ++i) CHECK(o[std::size_t(i)] == i);
}

TEST_CASE("one seed gives one order; different seeds give different orders", "[shuffle]") {
    auto a1 = run_order(1);
    auto a2 = run_order(1);
    auto b = run_order(2);
    auto c = run_order(3);
    CHECK(a1 == a2);
    CHECK(a1 != b);
    CHECK(b != c);
    std::vector<int> sorted = a1;
    std::sort(sorted.begin(), sorted.end());
    for (int i = 0; i < 64; ++i) CHECK(sorted[std::size_t(i)] == i);  // nothing lost
}

}  // namespace runtime_shuffle_test
