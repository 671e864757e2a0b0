// Fire-and-forget: spawn a task and do not wait for it; hand it work through
// a channel. The producer goes on at once (until the bounded channel is
// full: then send waits, which is backpressure, not loss).
#include <cstdio>
#include <string>

#include <corio/runtime/channel.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/task.hpp>
#include <corio/runtime/timer.hpp>

using namespace corio;
using namespace std::chrono_literals;

// Writes log lines as they come, until the channel is closed and drained.
Task<int> log_writer(Channel<std::string> lines) {
    int n = 0;
    for (;;) {
        auto line = co_await lines.recv();
        if (!line) co_return n;  // Errc::channel_closed: no more lines
        std::printf("log: %s\n", line->c_str());
        ++n;
    }
}

Task<int> handle_requests() {
    Channel<std::string> lines(64);
    JoinHandle<int> writer = spawn(log_writer(lines));  // fire...
    for (int i = 0; i < 3; ++i) {
        co_await sleep_for(1ms);  // the request's real work
        (void)co_await lines.send("request " + std::to_string(i) + " done");  // ...and forget
    }
    lines.close();
    co_return co_await writer;  // here we do wait, to end the program cleanly
}

int main() {
    return block_on(handle_requests()) == 3 ? 0 : 1;
}
