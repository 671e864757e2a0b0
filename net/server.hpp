#pragma once
// A TCP server on every loop of a Runtime: one listening socket per loop on
// the same address with SO_REUSEPORT, so the kernel spreads connections over
// the loops with no lock in user space, and each loop accepts and serves its
// own connections.
//
//   Runtime rt({.loops = 0});
//   auto addr = rt.block_on(net::serve(rt, net::Address::loopback_v4(8080),
//       [](net::TcpStream s) -> Task<void> { ... })).value("serve");
//   rt.run_until_signal();   // SIGINT/SIGTERM: graceful shutdown
//
// Graceful stop: when the runtime's shutdown starts, every loop stops
// accepting and closes its listener at once; connections already accepted run
// on until the shutdown deadline, then they are cancelled with the rest.

#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <corio/net/address.hpp>
#include <corio/net/tcp.hpp>
#include <corio/runtime/cancel.hpp>
#include <corio/runtime/log.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/result.hpp>
#include <corio/runtime/runtime.hpp>
#include <corio/runtime/task.hpp>

namespace corio::net {

/// How serve() listens.
struct ServeOptions {
    /// Socket options of every listener (`reuse_port` is always set).
    ListenOptions listen{};
};

namespace detail {

/// Listeners between the bind step and the accept step, one slot per loop;
/// slot i is only touched on loop i's thread.
struct ServeSlots {
    explicit ServeSlots(unsigned n) : listeners(n) {}
    std::vector<std::optional<TcpListener>> listeners;
};

inline Task<Result<Address>> bind_on_loop(std::shared_ptr<ServeSlots> slots, Address addr,
                                          ListenOptions opts) {
    opts.reuse_port = true;
    auto l = TcpListener::bind(addr, opts);
    if (!l) co_return l.error();
    auto local = l->local_address();
    if (!local) co_return local.error();
    slots->listeners[Runtime::current_index()].emplace(std::move(*l));
    co_return *local;
}

template <class Handler>
Task<void> accept_loop(TcpListener l, Handler handler, StopToken graceful) {
    Loop& loop = Loop::current();
    // Our own stop source: stopped by the task's token (cancel_all) and by
    // the start of the graceful shutdown, which must not stop the
    // connections we started.
    StopToken parent = co_await this_task::stop_token();
    LinkedStopSource src(parent);
    StopCallback on_shutdown(graceful, [&src] { src.request_stop(); });
    co_await corio::detail::SetStopToken{src.token()};
    while (!src.stop_requested()) {
        auto s = co_await l.accept();
        if (!s) {
            if (s.error() == std::errc::operation_canceled) break;
            log_warn("accept: {}", s.error().message());
            continue;
        }
        loop.spawn(handler(std::move(*s))).detach();
    }
    l.close();
}

template <class Handler>
Task<void> start_on_loop(std::shared_ptr<ServeSlots> slots, Handler handler, bool go) {
    Runtime* rt = Runtime::current();
    unsigned i = Runtime::current_index();
    std::optional<TcpListener> l = std::move(slots->listeners[i]);
    slots->listeners[i].reset();
    if (!go || !l) co_return;  // another loop failed to bind: close ours
    Loop::current()
        .spawn(accept_loop(std::move(*l), std::move(handler), rt->shutdown_token()))
        .detach();
}

}  // namespace detail

/// Opens a listener on `addr` on every loop of `rt` (SO_REUSEPORT; port 0
/// picks one free port for all) and serves each accepted connection with
/// `handler(stream)` (a callable returning Task<void>; copied to each loop)
/// as a task on the accepting loop. Completes once every loop listens, with
/// the bound address; if any loop cannot bind, none listens and the error is
/// returned (EADDRINUSE, EACCES, ...). The listeners stop when the runtime's
/// graceful shutdown starts; connections finish or are cancelled with it.
template <class Handler>
Task<Result<Address>> serve(Runtime& rt, Address addr, Handler handler, ServeOptions opts = {}) {
    auto slots = std::make_shared<detail::ServeSlots>(rt.loops());
    // Loop 0 first: with port 0 it picks the port the others then share.
    auto first = co_await rt.spawn_on(0, detail::bind_on_loop(slots, addr, opts.listen));
    Result<Address> bound = first;
    if (first) {
        std::vector<RemoteHandle<Result<Address>>> hs;
        for (unsigned i = 1; i < rt.loops(); ++i) {
            hs.push_back(rt.spawn_on(i, detail::bind_on_loop(slots, *first, opts.listen)));
        }
        for (auto& h : hs) {
            auto r = co_await h;
            if (!r && bound) bound = r.error();
        }
    }
    std::vector<RemoteHandle<void>> starts;
    for (unsigned i = 0; i < rt.loops(); ++i) {
        starts.push_back(rt.spawn_on(i, detail::start_on_loop(slots, handler, bool(bound))));
    }
    for (auto& s : starts)
        co_await s;
    co_return bound;
}

}  // namespace corio::net
