// Sequential: each co_await waits for one step before the next starts.
// Three 20 ms steps take about 60 ms.
#include <chrono>
#include <cstdio>

#include <corio/runtime/loop.hpp>
#include <corio/runtime/task.hpp>
#include <corio/runtime/timer.hpp>

using namespace corio;
using namespace std::chrono_literals;

// A stand-in for a call to another machine: 20 ms, then an answer.
Task<int> lookup(int key) {
    co_await sleep_for(20ms);
    co_return key * 10;
}

Task<int> pipeline() {
    int a = co_await lookup(1);      // waits for the first answer...
    int b = co_await lookup(a);      // ...uses it for the second...
    int c = co_await lookup(b + 1);  // ...and so on: one after another
    co_return c;
}

int main() {
    auto t0 = Clock::now();
    int c = block_on(pipeline());
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    std::printf("sequential: %d after %lld ms (3 steps of 20 ms)\n", c, static_cast<long long>(ms));
    return c == 1010 ? 0 : 1;
}
