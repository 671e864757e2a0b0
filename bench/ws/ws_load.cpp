// ws_load: the WebSocket benchmark's load generator (bench/ws/run.sh). Opens
// --conns WebSocket connections to --url with corio's client, and on each one
// sends a --size-byte binary message and waits for its echo, over and over.
// After --warmup seconds it counts for --duration seconds and prints
//
//   msgs=N secs=S msgs_per_sec=R [server_cpu_us=C cpu_us_per_msg=X]
//
// where the server's CPU time (with --server-pid) is the sum of its threads'
// on-CPU time from /proc/PID/task/*/schedstat over the counted seconds. Every
// echo is checked (size and bytes); a wrong one is an error (exit 1).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <corio/corio.hpp>

using namespace corio;
namespace ws = corio::http::websocket;

namespace {

struct Shared {
    std::uint64_t count = 0;   // echoes received
    std::uint64_t wrong = 0;   // echoes that were not the message
    std::uint64_t failed = 0;  // connections that failed
};

// Nanoseconds the process `pid` has run, over all its threads.
std::uint64_t cpu_ns(long pid) {
    std::uint64_t total = 0;
    const std::string dir = "/proc/" + std::to_string(pid) + "/task";
    std::error_code ec;
    for (const auto& t : std::filesystem::directory_iterator(dir, ec)) {
        std::ifstream f(t.path() / "schedstat");
        std::uint64_t ns = 0;
        if (f >> ns) total += ns;
    }
    return total;
}

// --deflate's messages: JSON records, so that there is something to compress; each
// message differs from the one before (its sequence number), as a feed's would.
std::string json_message(std::size_t size, std::uint64_t seq) {
    std::string m = "{\"seq\":" + std::to_string(seq) + ",\"items\":[";
    for (std::uint64_t i = 0; m.size() < size; ++i) {
        m += "{\"id\":" + std::to_string(seq * 31 + i) + ",\"name\":\"item " +
             std::to_string(i % 97) + "\",\"price\":" + std::to_string((seq + i) % 1000) +
             ".25,\"tags\":[\"new\",\"sale\"]},";
    }
    m.resize(size);
    return m;
}

Task<void> client(std::string url, std::size_t size, bool deflate, Shared* sh) {
    ws::ConnectOptions o;
    o.options.deflate.enabled = deflate;
    auto c = co_await ws::connect(url, o);
    if (!c) {
        ++sh->failed;
        std::fprintf(stderr, "ws_load: connect: %s\n", c.error().message().c_str());
        co_return;
    }
    if (deflate && !c->deflate()) {
        ++sh->failed;
        std::fprintf(stderr, "ws_load: the server did not agree to permessage-deflate\n");
        co_return;
    }
    std::string msg(size, 'x');
    for (std::size_t i = 0; i < size; ++i)
        msg[i] = char('a' + i % 26);
    for (std::uint64_t seq = 0;; ++seq) {
        if (deflate) msg = json_message(size, seq);
        auto sent =
            co_await c->send(msg, deflate ? ws::MessageType::text : ws::MessageType::binary);
        if (!sent) break;
        auto m = co_await c->receive();
        if (!m) break;
        if (m->data != msg) ++sh->wrong;
        ++sh->count;
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string url;
    std::size_t conns = 50, size = 64;
    bool deflate = false;
    double duration = 3, warmup = 1;
    long server_pid = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (a == "--help" || a == "-h") {
            std::printf(
                "usage: ws_load --url ws://HOST:PORT/ [--conns 50] [--size 64] [--duration 3] "
                "[--warmup 1] [--server-pid PID] [--deflate]\n"
                "--deflate: offers permessage-deflate and sends JSON text messages\n");
            return 0;
        }
        if (a == "--deflate") {
            deflate = true;
            continue;
        }
        if (v == nullptr) {
            std::fprintf(stderr, "ws_load: '%s' needs a value (try --help)\n", argv[i]);
            return 2;
        }
        ++i;
        if (a == "--url") {
            url = v;
        } else if (a == "--conns") {
            conns = std::strtoul(v, nullptr, 10);
        } else if (a == "--size") {
            size = std::strtoul(v, nullptr, 10);
        } else if (a == "--duration") {
            duration = std::strtod(v, nullptr);
        } else if (a == "--warmup") {
            warmup = std::strtod(v, nullptr);
        } else if (a == "--server-pid") {
            server_pid = std::strtol(v, nullptr, 10);
        } else {
            std::fprintf(stderr, "ws_load: unknown option '%s' (try --help)\n", argv[i - 1]);
            return 2;
        }
    }
    if (url.empty() || conns == 0 || duration <= 0) {
        std::fprintf(stderr, "ws_load: --url is required; --conns and --duration > 0\n");
        return 2;
    }
    Loop loop;
    Shared sh;
    std::uint64_t msgs = 0, server_ns = 0;
    double secs = 0;
    loop.block_on([&]() -> Task<void> {
        TaskGroup g;
        for (std::size_t i = 0; i < conns; ++i)
            g.spawn(client(url, size, deflate, &sh));
        co_await sleep_for(std::chrono::duration<double>(warmup));
        const std::uint64_t c0 = sh.count, s0 = server_pid ? cpu_ns(server_pid) : 0;
        const TimePoint t0 = Loop::current().now();
        co_await sleep_for(std::chrono::duration<double>(duration));
        msgs = sh.count - c0;
        server_ns = server_pid ? cpu_ns(server_pid) - s0 : 0;
        secs = std::chrono::duration<double>(Loop::current().now() - t0).count();
        g.cancel();
        co_await g.wait();
    }());
    std::printf("msgs=%llu secs=%.3f msgs_per_sec=%.0f", static_cast<unsigned long long>(msgs),
                secs, double(msgs) / secs);
    if (server_pid != 0 && msgs != 0) {
        std::printf(" server_cpu_us=%.0f cpu_us_per_msg=%.3f", double(server_ns) / 1e3,
                    double(server_ns) / 1e3 / double(msgs));
    }
    std::printf("\n");
    if (sh.wrong != 0 || sh.failed != 0 || msgs == 0) {
        std::fprintf(stderr, "ws_load: %llu wrong echoes, %llu failed connections\n",
                     static_cast<unsigned long long>(sh.wrong),
                     static_cast<unsigned long long>(sh.failed));
        return 1;
    }
    return 0;
}
