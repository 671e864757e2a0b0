#pragma once
// Helpers for tests on the simulation (sim::World): addresses of simulated
// hosts, an echo server and client written as ordinary corio code.

#include <catch2/catch.hpp>

#include <dirent.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <corio/net/tcp.hpp>
#include <corio/net/udp.hpp>
#include <corio/runtime/task_group.hpp>
#include <corio/runtime/timer.hpp>
#include <corio/runtime/when_all.hpp>
#include <corio/sim/world.hpp>

namespace corio::test {

/// HOST:PORT of a simulated host as a net::Address.
inline net::Address sim_addr(const sim::Host& h, std::uint16_t port) {
    return net::Address::parse(h.endpoint(port)).value("sim address");
}

/// Descriptors this process has open now (entries of /proc/self/fd).
inline int open_descriptors() {
    int n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (dirent* e = ::readdir(d)) {
            if (e->d_name[0] != '.') ++n;
        }
        ::closedir(d);
        --n;  // the directory stream's own descriptor
    }
    return n;
}

/// Echoes one connection until the peer closes or it fails.
inline Task<void> sim_echo_conn(net::TcpStream s) {
    std::array<std::byte, 4096> buf;
    for (;;) {
        auto n = co_await s.recv(buf);
        if (!n || *n == 0) co_return;
        if (!co_await s.send_all(std::span(buf).first(*n))) co_return;
    }
}

/// Serves echo on `port` of the host it runs on, until cancelled.
inline Task<void> sim_echo_server(std::uint16_t port) {
    auto l = net::TcpListener::bind(net::Address::any_v4(port));
    if (!l) co_return;
    TaskGroup g;
    for (;;) {
        auto s = co_await l->accept();
        if (!s) break;
        g.spawn(sim_echo_conn(std::move(*s)));
    }
    g.cancel();
    co_await g.wait();
}

/// A byte pattern that shows where a byte belongs: byte i of stream `tag`.
inline std::byte pattern(std::uint64_t tag, std::size_t i) {
    return std::byte(static_cast<unsigned char>((i * 131 + tag * 7 + (i >> 8)) & 0xff));
}

}  // namespace corio::test
