#include <corio/net/tcp.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include <corio/runtime/log.hpp>
#include <corio/runtime/timer.hpp>

namespace corio::net {

// ---- Socket / Stream ----

Result<Socket> Socket::open(int family, int type, int protocol) noexcept {
    int fd = ::socket(family, type | socket_flags, protocol);
    if (fd < 0) return sys_error(errno);
    return Socket(fd);
}

Result<void> Socket::set_option(int level, int name, int value) noexcept {
    if (::setsockopt(fd(), level, name, &value, sizeof value) != 0) return sys_error(errno);
    return {};
}

Result<int> Socket::get_option(int level, int name) const noexcept {
    int v = 0;
    socklen_t len = sizeof v;
    if (::getsockopt(fd(), level, name, &v, &len) != 0) return sys_error(errno);
    return v;
}

Result<void> Stream::shutdown(int how) noexcept {
    if (::shutdown(fd(), how) != 0) return sys_error(errno);
    return {};
}

namespace detail {

// ---- listening ----

Result<int> bind_listen(const Address& addr, const ListenOptions& opts) {
    auto s = Socket::open(addr.family(), SOCK_STREAM);
    if (!s) return s.error();
    if (addr.is_ipv4() || addr.is_ipv6()) {
        if (opts.reuse_addr) {
            if (auto r = s->set_option(SOL_SOCKET, SO_REUSEADDR, 1); !r) return r.error();
        }
        if (opts.reuse_port) {
            if (auto r = s->set_option(SOL_SOCKET, SO_REUSEPORT, 1); !r) return r.error();
        }
        if (addr.is_ipv6()) {
            if (auto r = s->set_option(IPPROTO_IPV6, IPV6_V6ONLY, opts.v6_only ? 1 : 0); !r) {
                return r.error();
            }
        }
    }
    if (::bind(s->fd(), addr.sockaddr_ptr(), addr.size()) != 0) return sys_error(errno);
    if (::listen(s->fd(), opts.backlog) != 0) return sys_error(errno);
    return s->release();
}

Task<Result<int>> connect_stream(Address addr, std::chrono::nanoseconds timeout) {
    auto s = Socket::open(addr.family(), SOCK_STREAM);
    if (!s) co_return s.error();
    Result<void> r = timeout.count() > 0
                         ? co_await OpAwaiter<Connect>(Connect{s->fd(), addr}).timeout(timeout)
                         : co_await OpAwaiter<Connect>(Connect{s->fd(), addr});
    if (!r) co_return r.error();  // `s` closes the socket
    co_return s->release();
}

// ---- accepting ----
//
// On io_uring with multishot accept (5.19+) one request stays armed: each
// connection the kernel accepts goes to the first waiting accept() or, when
// nobody waits, into a small queue (past queue_limit the request is cancelled,
// leaving further connections in the kernel's backlog). The state lives on the
// heap, apart from the listener object: a listener may move, and one that is
// closed while its request is armed leaves the state behind ("orphaned") until
// the kernel's last completion for it arrives.

struct AcceptWaiter {
    std::coroutine_handle<> h{};
    AcceptWaiter* next = nullptr;
    AcceptWaiter* prev = nullptr;
    int res = 0;
};

struct AcceptState : corio::detail::OpState {
    static constexpr std::size_t queue_limit = 64;

    corio::detail::Fd lfd;
    int reserve = -1;  // spare descriptor, given up to shed load on EMFILE
    std::vector<int> queue;
    std::size_t qhead = 0;
    AcceptWaiter* whead = nullptr;
    AcceptWaiter* wtail = nullptr;
    int pending_err = 0;  // a terminal error no waiter has seen yet
    Duration backoff{};
    bool multishot_ok = true;
    bool ever_accepted = false;
    bool orphaned = false;
    bool logged_exhaustion = false;

    std::size_t queued() const noexcept { return queue.size() - qhead; }
    int pop() noexcept {
        int fd = queue[qhead++];
        if (qhead == queue.size()) {
            queue.clear();  // keeps its capacity: no allocation in steady state
            qhead = 0;
        }
        return fd;
    }
    void push_waiter(AcceptWaiter& w) noexcept {
        w.next = nullptr;
        w.prev = wtail;
        if (wtail != nullptr) {
            wtail->next = &w;
        } else {
            whead = &w;
        }
        wtail = &w;
    }
    void erase_waiter(AcceptWaiter& w) noexcept {
        if (w.prev != nullptr) {
            w.prev->next = w.next;
        } else {
            whead = w.next;
        }
        if (w.next != nullptr) {
            w.next->prev = w.prev;
        } else {
            wtail = w.prev;
        }
        w.next = w.prev = nullptr;
    }
    void wake(AcceptWaiter& w, int r) noexcept {
        erase_waiter(w);
        w.res = r;
        loop->schedule(std::exchange(w.h, {}));
    }
    void close_queued() noexcept {
        while (queued() > 0)
            ::close(pop());
    }

    void arm() noexcept {
        auto& u = loop->uring();
        io_uring_sqe* s = u.get_sqe();
        io_uring_prep_multishot_accept(s, lfd.get(), nullptr, nullptr, socket_flags);
        on_complete = &on_cqe;
        engine = Engine::uring;
        kind = OpKind::accept;
        cancel_requested = false;
        u.start(*this, s);
    }

    static void on_cqe(corio::detail::OpState* s, Loop& l, int r, std::uint32_t flags) noexcept;
};

namespace {

// Orphaned states of this thread: still reachable (for leak checkers) until
// their last completion frees them, or the thread ends.
struct Orphans {
    std::vector<AcceptState*> list;
    ~Orphans() {
        for (AcceptState* s : list) {
            s->close_queued();
            delete s;
        }
    }
};
thread_local Orphans t_orphans;

void free_orphan(AcceptState* st) {
    auto& v = t_orphans.list;
    v.erase(std::remove(v.begin(), v.end(), st), v.end());
    st->close_queued();
    delete st;
}

bool is_transient_accept_error(int e) {
    // accept(2): "treat these as EAGAIN" (the connection died before we took
    // it, or the network below went away for a moment).
    switch (e) {
        case EAGAIN:
        case ECONNABORTED:
        case EINTR:
        case EPROTO:
        case ENETDOWN:
        case ENOPROTOOPT:
        case EHOSTDOWN:
        case ENONET:
        case EHOSTUNREACH:
        case EOPNOTSUPP:
        case ENETUNREACH:
        case EPERM:
            return true;
        default:
            return false;
    }
}

}  // namespace

void AcceptState::on_cqe(corio::detail::OpState* s, Loop& l, int r, std::uint32_t flags) noexcept {
    auto* st = static_cast<AcceptState*>(s);
    const bool more = (flags & IORING_CQE_F_MORE) != 0;
    if (r >= 0) {
        st->ever_accepted = true;
        if (st->orphaned) {
            ::close(r);
        } else if (st->whead != nullptr) {
            st->wake(*st->whead, r);
        } else {
            st->queue.push_back(r);
            if (st->queued() >= queue_limit && more && !st->cancel_requested) l.cancel_op(*st);
        }
    } else if (r != -ECANCELED && !st->orphaned) {
        if (r == -EINVAL && !st->ever_accepted) {
            // The kernel does not take multishot accept: single accepts from now.
            st->multishot_ok = false;
            r = -EAGAIN;  // waiters retry
        }
        // A terminal error (EMFILE, ...) goes to every waiter: each backs off
        // and re-arms; with nobody waiting the next accept() sees it.
        if (st->whead == nullptr && r != -EAGAIN) st->pending_err = r;
        while (st->whead != nullptr)
            st->wake(*st->whead, r);
    }
    if (!more) {
        if (st->orphaned) {
            free_orphan(st);
            return;
        }
        // Ended by our own cancel (full queue) while someone started waiting.
        if (st->whead != nullptr && st->multishot_ok) st->arm();
    }
}

namespace {

/// Awaits the next connection of an armed multishot accept.
struct MultishotAccept {
    AcceptState* st;
    AcceptWaiter node{};
    struct StopNode : StopCallbackBase {
        MultishotAccept* self = nullptr;
    } stop{};
    bool suspended = false;

    bool await_ready() const noexcept { return st->queued() > 0 || st->pending_err != 0; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) noexcept {
        StopToken tok = corio::detail::stop_token_of(h);
        suspended = true;
        if (tok.stop_requested()) {
            node.res = -ECANCELED;
            return false;
        }
        node.h = h;
        st->push_waiter(node);
        if (!st->pending) st->arm();
        if (tok.stop_possible()) {
            stop.self = this;
            stop.fn = [](StopCallbackBase* b) noexcept {
                MultishotAccept* self = static_cast<StopNode*>(b)->self;
                if (self->node.h) self->st->wake(self->node, -ECANCELED);
            };
            tok.add(stop);
        }
        return true;
    }
    Result<int> await_resume() noexcept {
        stop.unlink();
        int r = node.res;
        if (!suspended) {
            r = st->queued() > 0 ? st->pop() : std::exchange(st->pending_err, 0);
        }
        if (r < 0) return sys_error(-r);
        return r;
    }
};

}  // namespace

Acceptor::Acceptor(int listen_fd) : st_(new AcceptState) {
    st_->lfd.reset(listen_fd);
    st_->loop = Loop::current_or_null();
    st_->queue.reserve(AcceptState::queue_limit * 2);
    st_->reserve = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

Acceptor::Acceptor(Acceptor&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}

Acceptor& Acceptor::operator=(Acceptor&& o) noexcept {
    if (this != &o) {
        close();
        st_ = std::exchange(o.st_, nullptr);
    }
    return *this;
}

Acceptor::~Acceptor() {
    close();
}

int Acceptor::fd() const noexcept {
    return st_ != nullptr ? st_->lfd.get() : -1;
}

void Acceptor::close() noexcept {
    AcceptState* st = std::exchange(st_, nullptr);
    if (st == nullptr) return;
    st->close_queued();
    st->lfd.reset();
    if (st->reserve >= 0) ::close(st->reserve);
    st->reserve = -1;
    if (st->pending && st->loop != nullptr) {
        // The kernel still holds the request: cancel it and let its last
        // completion free the state.
        st->orphaned = true;
        t_orphans.list.push_back(st);
        st->loop->cancel_op(*st);
        return;
    }
    delete st;
}

Task<Result<int>> Acceptor::accept() {
    AcceptState* st = st_;
    if (st == nullptr) co_return sys_error(EBADF);
    Loop& loop = Loop::current();
    st->loop = &loop;
    for (;;) {
        Result<int> r =
            loop.kind() == BackendKind::io_uring && loop.caps().multishot_accept && st->multishot_ok
                ? co_await MultishotAccept{st}
                : co_await OpAwaiter<Accept>(Accept{st->lfd.get()});
        if (r) {
            st->backoff = Duration{};
            co_return r;
        }
        std::error_code ec = r.error();
        int e = &ec.category() == &std::system_category() ? ec.value() : 0;
        if (e == ECANCELED) co_return r;
        if (is_transient_accept_error(e)) continue;
        if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM) co_return r;

        // Out of descriptors (or kernel memory). Left alone, the pending
        // connections hang in the backlog and every accept fails at once:
        // give up the reserve descriptor, take and reset what is pending, get
        // the reserve back, then wait a little before trying again.
        if (!st->logged_exhaustion) {
            st->logged_exhaustion = true;
            auto a = local_address_of(st->lfd.get());
            log_warn(
                "{}; resetting pending connections and backing off until descriptors "
                "are free",
                describe("accept", a ? *a : Address(), ec));
        }
        if (e == EMFILE || e == ENFILE) {
            if (st->reserve >= 0) {
                ::close(st->reserve);
                st->reserve = -1;
            }
            for (int i = 0; i < 1024; ++i) {
                int c = ::accept4(st->lfd.get(), nullptr, nullptr, SOCK_CLOEXEC);
                if (c < 0) break;
                linger lg{1, 0};  // RST: the client learns at once
                ::setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                ::close(c);
            }
            st->reserve = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        using namespace std::chrono_literals;
        st->backoff =
            st->backoff == Duration{} ? Duration(5ms) : std::min<Duration>(st->backoff * 2, 100ms);
        if (!co_await sleep_for(st->backoff)) co_return sys_error(ECANCELED);
    }
}

}  // namespace detail

// ---- TCP ----

Task<Result<TcpStream>> TcpStream::connect(Address addr, std::chrono::nanoseconds timeout) {
    auto fd = co_await detail::connect_stream(addr, timeout);
    if (!fd) co_return fd.error();
    co_return TcpStream(*fd);
}

Result<void> TcpStream::set_nodelay(bool on) noexcept {
    return set_option(IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}

Result<void> TcpStream::set_keepalive(bool on, std::chrono::seconds idle) noexcept {
    if (auto r = set_option(SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0); !r) return r;
    if (on && idle.count() > 0) {
        return set_option(IPPROTO_TCP, TCP_KEEPIDLE, static_cast<int>(idle.count()));
    }
    return {};
}

Result<void> TcpStream::set_linger_reset() noexcept {
    linger lg{1, 0};
    if (::setsockopt(fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0) return sys_error(errno);
    return {};
}

Result<TcpListener> TcpListener::bind(const Address& addr, ListenOptions opts) {
    if (!addr.is_ipv4() && !addr.is_ipv6()) return std::errc::address_family_not_supported;
    auto fd = detail::bind_listen(addr, opts);
    if (!fd) return fd.error();
    return TcpListener(*fd);
}

Task<Result<TcpStream>> TcpListener::accept() {
    auto fd = co_await acc_.accept();
    if (!fd) co_return fd.error();
    co_return TcpStream(*fd);
}

}  // namespace corio::net
