#pragma once
// The static file server behind examples/http_server: what one loop runs.
//
// Every loop serves its own listener (SO_REUSEPORT when there are several)
// and its own connections, with its own small-file cache: nothing is shared
// between loops but the configuration, the root directory's descriptor and
// the count of open connections (for --max-conns).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include <corio/net/tcp.hpp>
#include <corio/runtime/cancel.hpp>
#include <corio/runtime/task.hpp>

namespace corio::examples::http {

/// What the command line sets.
struct Config {
    std::string root;
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    unsigned loops = 1;
    bool pin = false;
    std::size_t max_conns = 10000;
    std::chrono::milliseconds idle_timeout{60000};    ///< between requests
    std::chrono::milliseconds header_timeout{10000};  ///< first byte to end of request
    std::chrono::milliseconds send_timeout{60000};    ///< one response's transfer
    std::chrono::milliseconds grace{2000};            ///< shutdown: in-flight work
    std::size_t max_request_line = 8 * 1024;
    std::size_t max_header_bytes = 16 * 1024;
    std::size_t max_body = 64 * 1024;
    std::size_t cache_max_file = 256 * 1024;      ///< files up to this size are cached
    std::size_t cache_bytes = 64u << 20;          ///< per loop
    std::chrono::milliseconds cache_valid{1000};  ///< re-check a cached file after; 0 = no cache
};

/// Shared by every loop.
struct Shared {
    Config cfg;
    int root_fd = -1;  ///< O_PATH | O_DIRECTORY descriptor of the root
    std::atomic<std::size_t> conns{0};
};

/// Serves HTTP on the current loop: accepts on `listener` until `stop` is
/// stopped, then stops accepting, closes idle keep-alive connections, lets
/// requests in progress finish within cfg.grace and cancels what is left.
Task<void> serve(Shared* shared, net::TcpListener listener, StopToken stop);

}  // namespace corio::examples::http
