// Synchronous vs asynchronous calls: inside a task, co_await waits without
// blocking the thread (other tasks run meanwhile); from plain synchronous
// code (main, a callback of a library that knows no coroutines), block_on
// runs a loop until the task is done and returns its value.
#include <cstdio>
#include <string>

#include <corio/runtime/loop.hpp>
#include <corio/runtime/task.hpp>
#include <corio/runtime/timer.hpp>

using namespace corio;
using namespace std::chrono_literals;

Task<std::string> greet(std::string name) {
    co_await sleep_for(5ms);  // asynchronous: the loop may run other tasks
    co_return "hello, " + name;
}

// Asynchronous caller: co_await.
Task<std::string> greet_both() {
    std::string a = co_await greet("async");
    std::string b = co_await greet("world");
    co_return a + " / " + b;
}

// Synchronous caller: block_on (never from inside a running loop: that would
// block every task of that loop; co_await there instead).
std::string greet_sync(const std::string& name) {
    return block_on(greet(name));
}

int main() {
    std::printf("%s\n", greet_sync("sync").c_str());
    std::printf("%s\n", block_on(greet_both()).c_str());
    return 0;
}
