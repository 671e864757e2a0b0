#include <corio/sim/world.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <utility>

#include <fmt/format.h>

#include <corio/runtime/log.hpp>
#include <corio/runtime/sim_io.hpp>

namespace corio::sim {

using detail::OpList;
using detail::OpState;

namespace {

constexpr std::uint32_t net_base = 0xC0000200u;  // 192.0.2.0 (TEST-NET-1)
constexpr std::uint32_t loopback_ip = 0x7f000001u;
constexpr std::uint16_t first_ephemeral = 40000;

std::uint32_t ip_of(std::uint32_t index) noexcept {
    return net_base + index + 1;
}
bool is_loopback(std::uint32_t ip) noexcept {
    return (ip >> 24) == 127;
}

std::uint64_t mix64(std::uint64_t x) noexcept {
    // splitmix64's finaliser: every input bit reaches every output bit.
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

struct Dgram {
    std::uint32_t ip;
    std::uint16_t port;
    std::vector<std::byte> data;
};

enum class SockState : std::uint8_t { fresh, listening, connecting, connected, closed };

struct Sock {
    int fd = -1;
    bool stream = true;
    SockState st = SockState::fresh;
    std::uint32_t lip = 0;
    std::uint16_t lport = 0;
    bool bound = false;
    std::uint32_t rip = 0;
    std::uint16_t rport = 0;
    bool has_peer = false;
    // listening
    int backlog = 0;
    std::deque<int> acceptq;
    // a connection's end
    std::uint64_t conn = 0;
    int side = 0;
    std::deque<std::byte> rx;
    bool rx_fin = false;
    bool rd_shut = false;
    bool wr_shut = false;
    bool reset = false;
    bool reset_reported = false;
    std::size_t credit = 0;
    int connect_err = 0;
    bool linger_reset = false;
    bool reuse_port = false;  // SO_REUSEPORT: shares its port with others that set it
    std::map<std::pair<int, int>, int> options;  // (level, name) -> value set, for getsockopt
    int so_error = 0;         // datagrams: a port-unreachable answer, reported once
    // datagrams
    std::deque<Dgram> dgrams;
    OpList readers;
    OpList writers;
};

// The disk: inodes with what a crash keeps (`synced`, `synced_entries`)
// beside what the program sees. A file's data is durable after its fsync; a
// name (creation, rename, unlink) after its directory's fsync, as POSIX
// promises and no more.
struct Inode {
    bool dir = false;
    unsigned mode = 0644;
    std::vector<std::byte> data;
    std::vector<std::byte> synced;
    std::map<std::string, std::uint64_t> entries;
    std::map<std::string, std::uint64_t> synced_entries;
};

struct Disk {
    std::map<std::uint64_t, Inode> inodes;
    std::uint64_t next_ino = 2;
    std::size_t capacity = std::size_t(-1);
    int error = 0;  // writes and fsyncs fail with it while set (EIO, ENOSPC)
    Disk() {
        inodes[1].dir = true;
        inodes[1].mode = 0755;
    }
    std::size_t used() const {
        std::size_t n = 0;
        for (auto& [ino, i] : inodes)
            n += i.data.size();
        return n;
    }
};

struct OpenFile {
    std::uint64_t ino = 0;
    int flags = 0;
};

struct HostState {
    bool down = false;
    std::map<std::uint64_t, OpState*> deferred;  // disk calls waiting for their time
    Disk disk;
    std::map<int, OpenFile> files;
    std::map<int, std::unique_ptr<Sock>> socks;
    std::uint16_t next_port = first_ephemeral;
    std::unique_ptr<detail::SimIo> io;
    std::uint32_t boots = 0;
};

enum class Kind : std::uint8_t {
    syn,
    synack,
    refuse,
    data,
    fin,
    rst,
    window,
    dgram,
    action,
    unreachable,  // ICMP port unreachable, back to a datagram's sender
};

struct Event {
    TimePoint at{};
    Kind kind = Kind::action;
    std::uint32_t src = 0;
    std::uint32_t dst = 0;
    std::uint64_t conn = 0;
    int side = 0;  // the side of the connection the event goes to
    std::size_t n = 0;
    std::vector<std::byte> data;
    std::uint32_t sip = 0;
    std::uint16_t sport = 0;
    std::uint32_t dip = 0;
    std::uint16_t dport = 0;
    std::function<void()> fn;
    // Segments of a connection carry a number per direction and are taken
    // in that order, as TCP does, whatever the path did to them.
    bool ordered = false;
    std::uint64_t seqno = 0;
};

struct Conn {
    std::uint32_t host[2] = {0, 0};
    int fd[2] = {-1, -1};
    TimePoint last[2] = {};                   // latest arrival time scheduled toward each side
    std::uint64_t sent[2] = {0, 0};           // segments numbered toward each side
    std::uint64_t expect[2] = {0, 0};         // the next one each side takes
    std::map<std::uint64_t, Event> early[2];  // arrived before an earlier one
};

}  // namespace

struct World::Impl {
    World& w;
    std::vector<HostState> hs;
    std::map<std::uint64_t, Conn> conns;
    std::uint64_t next_conn = 1;
    std::uint64_t next_deferred = 1;
    // Descriptor numbers are unique in the world, not per host: one used on
    // the wrong host's loop by mistake says EBADF instead of naming another
    // socket.
    int next_fd = detail::sim_fd_base;
    std::map<std::pair<std::int64_t, std::uint64_t>, Event> queue;
    std::uint64_t seq = 0;
    std::vector<Event> held;  // TCP segments on a cut link or to a host that is down
    std::set<std::pair<std::uint32_t, std::uint32_t>> cuts;
    std::map<std::pair<std::uint32_t, std::uint32_t>, Duration> latency;
    std::vector<std::uint32_t> order;

    explicit Impl(World& world) : w(world) {}

    void mix(std::uint64_t v) noexcept { w.hash_ = mix64(w.hash_ ^ v); }

    Sock* find(std::uint32_t host, int fd) noexcept {
        if (host >= hs.size()) return nullptr;
        auto& m = hs[host].socks;
        auto it = m.find(fd);
        return it == m.end() ? nullptr : it->second.get();
    }

    // ---- time and links ----
    static std::pair<std::uint32_t, std::uint32_t> link(std::uint32_t a, std::uint32_t b) noexcept {
        return a < b ? std::pair(a, b) : std::pair(b, a);
    }
    bool cut(std::uint32_t a, std::uint32_t b) const noexcept {
        return a != b && cuts.contains(link(a, b));
    }
    Duration link_latency(std::uint32_t a, std::uint32_t b) {
        if (a == b) return std::chrono::microseconds(10);
        auto [it, fresh] = latency.try_emplace(link(a, b), Duration{});
        if (fresh) {
            const auto lo = w.opts_.min_latency.count();
            const auto hi = std::max(lo, w.opts_.max_latency.count());
            it->second = Duration(lo + static_cast<Duration::rep>(
                                           w.rng_() % static_cast<std::uint64_t>(hi - lo + 1)));
        }
        return it->second;
    }
    TimePoint arrival(std::uint32_t a, std::uint32_t b) {
        const Duration lat = link_latency(a, b);
        const auto j = static_cast<std::uint64_t>(lat.count() / 4 + 1);
        return w.now() + lat + Duration(static_cast<Duration::rep>(w.rng_() % j));
    }
    // In order within one direction of a connection, as TCP delivers.
    TimePoint ordered_arrival(std::uint32_t a, std::uint32_t b, Conn& c, int to_side) {
        TimePoint t = std::max(arrival(a, b), c.last[to_side]);
        c.last[to_side] = t;
        return t;
    }

    void push(Event e) {
        const std::uint64_t s = seq++;
        queue.emplace(std::pair(e.at.time_since_epoch().count(), s), std::move(e));
    }
    void emit(Event e) {
        // A host that is down says nothing.
        if (e.kind != Kind::action && hs[e.src].down) return;
        push(std::move(e));
    }

    // A segment of connection `c` toward `to_side`.
    void segment(std::uint64_t cid, int to_side, Kind kind, std::vector<std::byte> data = {},
                 std::size_t n = 0) {
        auto it = conns.find(cid);
        if (it == conns.end()) return;
        Conn& c = it->second;
        // A host that is down says nothing (and numbers nothing: a gap
        // would hold up the direction for good).
        if (hs[c.host[1 - to_side]].down) return;
        Event e;
        e.kind = kind;
        e.src = c.host[1 - to_side];
        e.dst = c.host[to_side];
        e.conn = cid;
        e.side = to_side;
        e.n = n;
        e.data = std::move(data);
        e.ordered = true;
        e.seqno = c.sent[to_side]++;
        e.at = ordered_arrival(e.src, e.dst, c, to_side);
        emit(std::move(e));
    }

    // ---- waiters ----
    void complete(OpState& st, int r) noexcept {
        if (st.pending) ++st.loop->mutable_stats().completed;
        st.pending = false;
        st.on_complete(&st, *st.loop, r, 0);
    }
    void run_list(OpList& list) noexcept {
        OpList again;
        while (OpState* st = list.pop()) {
            int r = st->retry(st);
            if (r == -EAGAIN) {
                again.push(*st);
                continue;
            }
            complete(*st, r);
        }
        // Those still waiting go first, then any that came meanwhile.
        while (OpState* st = list.pop())
            again.push(*st);
        list = again;
    }
    void wake(std::uint32_t host, int fd, bool readers, bool writers) noexcept {
        Loop* l = w.hosts_[host]->loop_if_up();
        Loop* saved = detail::t_current_loop;
        if (l != nullptr) detail::t_current_loop = l;
        if (Sock* s = find(host, fd); s != nullptr && readers) run_list(s->readers);
        if (Sock* s = find(host, fd); s != nullptr && writers) run_list(s->writers);
        detail::t_current_loop = saved;
    }
    void cancel_all(Sock& s) noexcept {
        while (OpState* st = s.readers.pop())
            complete(*st, -ECANCELED);
        while (OpState* st = s.writers.pop())
            complete(*st, -ECANCELED);
    }

    // ---- sockets ----
    int alloc_fd(std::uint32_t host, bool stream) {
        HostState& h = hs[host];
        int fd = next_fd++;
        auto s = std::make_unique<Sock>();
        s->fd = fd;
        s->stream = stream;
        h.socks.emplace(fd, std::move(s));
        return fd;
    }
    // Whether binding ip:port would clash; sockets that both set SO_REUSEPORT
    // (on the same address) share it.
    bool port_taken(std::uint32_t host, bool stream, std::uint32_t ip, std::uint16_t port,
                    bool reuse_port = false) {
        for (auto& [fd, s] : hs[host].socks) {
            if (s->bound && s->stream == stream && s->lport == port && s->conn == 0 &&
                (s->lip == ip || s->lip == 0 || ip == 0) &&
                !(reuse_port && s->reuse_port && s->lip == ip)) {
                return true;
            }
        }
        return false;
    }
    std::uint16_t ephemeral(std::uint32_t host, bool stream) {
        HostState& h = hs[host];
        for (int i = 0; i < 20000; ++i) {
            std::uint16_t p = h.next_port;
            h.next_port = h.next_port >= 60999 ? first_ephemeral : std::uint16_t(h.next_port + 1);
            if (!port_taken(host, stream, 0, p)) return p;
        }
        return 0;
    }
    // The host an address names from `from`: -1 if none.
    int route(std::uint32_t from, std::uint32_t ip) const noexcept {
        if (is_loopback(ip)) return static_cast<int>(from);
        if (ip < net_base + 1 || ip > net_base + hs.size()) return -1;
        return static_cast<int>(ip - net_base - 1);
    }
    // The socket that takes a SYN (stream) or a datagram for ip:port, or null.
    // Several sharing the port with SO_REUSEPORT: one chosen by the sender's
    // address, as the kernel hashes it (the same sender, the same socket).
    Sock* receiver(std::uint32_t host, bool stream, std::uint32_t ip, std::uint16_t port,
                   std::uint32_t sip, std::uint16_t sport) noexcept {
        Sock* found[16];
        std::size_t n = 0;
        for (auto& [fd, s] : hs[host].socks) {
            // A connected datagram socket takes only what its peer sends (Linux).
            const bool takes = stream ? s->stream && s->st == SockState::listening
                                      : !s->stream && s->bound &&
                                            (!s->has_peer || (s->rip == sip && s->rport == sport));
            // A socket bound to one address takes only what is sent to it: one
            // bound to 127.0.0.1 does not answer 127.0.0.2 (Linux).
            if (takes && s->lport == port && (s->lip == 0 || s->lip == ip)) {
                if (n < std::size(found)) found[n++] = s.get();
            }
        }
        if (n == 0) return nullptr;
        return found[mix64((std::uint64_t(sip) << 16) ^ sport) % n];
    }

    void send_syn(std::uint32_t host, int fd, std::uint64_t cid, int attempt) {
        Sock* s = find(host, fd);
        if (s == nullptr) return;
        Conn& c = conns[cid];
        Event e;
        e.kind = Kind::syn;
        e.src = host;
        e.dst = c.host[1];
        e.conn = cid;
        e.side = 1;
        e.sip = s->lip;
        e.sport = s->lport;
        e.dip = s->rip;
        e.dport = s->rport;
        e.at = arrival(e.src, e.dst);
        emit(std::move(e));
        // Linux retransmits a SYN after 1, 2, 4, ... s and gives up after six.
        Event t;
        t.at = w.now() + std::chrono::seconds(1) * (1 << attempt);
        t.src = host;
        t.fn = [this, host, fd, cid, attempt] {
            Sock* s = find(host, fd);
            if (s == nullptr || s->conn != cid || s->st != SockState::connecting) return;
            if (attempt >= 5) {
                s->st = SockState::closed;
                s->connect_err = ETIMEDOUT;
                drop_end(cid, 0);
                wake(host, fd, true, true);
                return;
            }
            send_syn(host, fd, cid, attempt + 1);
        };
        push(std::move(t));
    }

    void drop_end(std::uint64_t cid, int side) {
        auto it = conns.find(cid);
        if (it == conns.end()) return;
        it->second.fd[side] = -1;
        if (it->second.fd[0] < 0 && it->second.fd[1] < 0) conns.erase(it);
    }

    // Closes `s` of `host` as close(2) does: FIN after the data, or RST when
    // unread data is dropped or SO_LINGER 0 asks for it.
    void close_sock(std::uint32_t host, int fd) {
        Sock* s = find(host, fd);
        if (s == nullptr) return;
        cancel_all(*s);
        if (s->st == SockState::listening) {
            // Connections nobody accepted are reset, as Linux does.
            std::deque<int> pending = std::move(s->acceptq);
            for (int c : pending) {
                if (Sock* x = find(host, c)) x->linger_reset = true;
                close_sock(host, c);
            }
        } else if (s->st == SockState::connected && s->stream) {
            if (!s->reset) {
                if (s->linger_reset || !s->rx.empty()) {
                    segment(s->conn, 1 - s->side, Kind::rst);
                } else if (!s->wr_shut) {
                    segment(s->conn, 1 - s->side, Kind::fin);
                }
            }
        }
        if (s->conn != 0) drop_end(s->conn, s->side);
        hs[host].socks.erase(fd);
    }

    void send_rst_back(const Event& e) {
        if (e.kind == Kind::rst) return;
        segment(e.conn, 1 - e.side, Kind::rst);
    }

    // ---- delivery ----
    void deliver(Event& e) {
        ++w.events_;
        mix(e.at.time_since_epoch().count());
        mix((std::uint64_t(e.kind) << 56) ^ (std::uint64_t(e.src) << 40) ^
            (std::uint64_t(e.dst) << 24) ^ e.conn);
        mix(e.n ^ (e.data.size() << 20));
        if (e.kind == Kind::action) {
            e.fn();
            return;
        }
        if (hs[e.dst].down || cut(e.src, e.dst)) {
            // A connection's segments are retransmitted once the path is
            // back; connection attempts retry by themselves; datagrams are lost.
            if (e.ordered) held.push_back(std::move(e));
            return;
        }
        auto it = e.ordered ? conns.find(e.conn) : conns.end();
        if (it == conns.end()) {
            dispatch(e);
            return;
        }
        const std::uint64_t cid = e.conn;
        const int side = e.side;
        if (e.seqno != it->second.expect[side]) {
            it->second.early[side].emplace(e.seqno, std::move(e));  // an earlier one is late
            return;
        }
        ++it->second.expect[side];
        dispatch(e);
        // Those that waited for it.
        for (;;) {
            auto c = conns.find(cid);
            if (c == conns.end()) return;
            auto& early = c->second.early[side];
            auto next = early.find(c->second.expect[side]);
            if (next == early.end()) return;
            Event ev = std::move(next->second);
            early.erase(next);
            ++c->second.expect[side];
            dispatch(ev);
        }
    }

    void dispatch(Event& e) {
        switch (e.kind) {
            case Kind::syn:
                on_syn(e);
                return;
            case Kind::synack: {
                auto it = conns.find(e.conn);
                int fd = it == conns.end() ? -1 : it->second.fd[0];
                Sock* s = fd >= 0 ? find(e.dst, fd) : nullptr;
                if (s == nullptr) {
                    send_rst_back(e);  // the connecting socket is gone
                    return;
                }
                if (s->st == SockState::connecting) {
                    s->st = SockState::connected;
                    s->credit = w.opts_.window;
                    wake(e.dst, fd, true, true);
                }
                return;
            }
            case Kind::refuse: {
                auto it = conns.find(e.conn);
                int fd = it == conns.end() ? -1 : it->second.fd[0];
                Sock* s = fd >= 0 ? find(e.dst, fd) : nullptr;
                if (s == nullptr || s->st != SockState::connecting) return;
                s->st = SockState::closed;
                s->connect_err = ECONNREFUSED;
                drop_end(e.conn, 0);
                wake(e.dst, fd, true, true);
                return;
            }
            case Kind::dgram: {
                Sock* s = receiver(e.dst, false, e.dip, e.dport, e.sip, e.sport);
                if (s == nullptr) {
                    // Port unreachable: the datagram is gone, and the kernel
                    // answers with ICMP.
                    Event r;
                    r.kind = Kind::unreachable;
                    r.src = e.dst;
                    r.dst = e.src;
                    r.sip = e.dip;
                    r.sport = e.dport;
                    r.dip = e.sip;
                    r.dport = e.sport;
                    r.at = arrival(e.dst, e.src);
                    emit(std::move(r));
                    return;
                }
                if (s->dgrams.size() >= 256) return;  // receive buffer full
                s->dgrams.push_back(Dgram{e.sip, e.sport, std::move(e.data)});
                wake(e.dst, s->fd, true, false);
                return;
            }
            case Kind::unreachable: {
                // Only a connected socket hears of it (Linux without IP_RECVERR),
                // as an error of its next receive or send.
                for (auto& [fd, s] : hs[e.dst].socks) {
                    if (!s->stream && s->bound && s->lport == e.dport && s->has_peer &&
                        s->rip == e.sip && s->rport == e.sport) {
                        s->so_error = ECONNREFUSED;
                        wake(e.dst, fd, true, true);
                    }
                }
                return;
            }
            default:
                break;
        }
        // Segments of an established connection.
        auto it = conns.find(e.conn);
        int fd = it == conns.end() ? -1 : it->second.fd[e.side];
        Sock* s = fd >= 0 ? find(e.dst, fd) : nullptr;
        if (s == nullptr) {
            send_rst_back(e);  // nobody there any more: the kernel answers RST
            return;
        }
        if (s->reset) return;
        switch (e.kind) {
            case Kind::data:
                if (s->rd_shut) return;
                s->rx.insert(s->rx.end(), e.data.begin(), e.data.end());
                wake(e.dst, fd, true, false);
                return;
            case Kind::fin:
                s->rx_fin = true;
                wake(e.dst, fd, true, false);
                return;
            case Kind::rst:
                s->reset = true;
                wake(e.dst, fd, true, true);
                return;
            case Kind::window:
                s->credit += e.n;
                wake(e.dst, fd, false, true);
                return;
            default:
                return;
        }
    }

    void on_syn(Event& e) {
        auto cit = conns.find(e.conn);
        if (cit == conns.end()) return;  // the client gave up
        Conn& c = cit->second;
        if (c.fd[1] >= 0) {
            // A retransmitted SYN: the SYN-ACK was lost or late; answer again.
            segment(e.conn, 0, Kind::synack);
            return;
        }
        Sock* l = receiver(e.dst, true, e.dip, e.dport, e.sip, e.sport);
        if (l == nullptr) {
            Event r;
            r.kind = Kind::refuse;
            r.src = e.dst;
            r.dst = e.src;
            r.conn = e.conn;
            r.at = arrival(e.dst, e.src);
            emit(std::move(r));
            return;
        }
        if (static_cast<int>(l->acceptq.size()) >= l->backlog) {
            mix(0xb4c10c);  // backlog full: the SYN is dropped, the client retries
            return;
        }
        const int lfd = l->fd;
        int fd = alloc_fd(e.dst, true);
        Sock* s = find(e.dst, fd);
        s->st = SockState::connected;
        s->bound = true;
        s->lip = e.dip;
        s->lport = e.dport;
        s->rip = e.sip;
        s->rport = e.sport;
        s->has_peer = true;
        s->conn = e.conn;
        s->side = 1;
        s->credit = w.opts_.window;
        Sock* lis = find(e.dst, lfd);
        s->options = lis->options;  // TCP_NODELAY, SO_KEEPALIVE, ... as Linux copies them
        s->linger_reset = lis->linger_reset;
        c.fd[1] = fd;
        find(e.dst, lfd)->acceptq.push_back(fd);
        segment(e.conn, 0, Kind::synack);
        wake(e.dst, lfd, true, false);
    }

    void requeue_held() {
        std::vector<Event> keep;
        std::vector<Event> go;
        for (Event& e : held) {
            if (hs[e.dst].down || cut(e.src, e.dst)) {
                keep.push_back(std::move(e));
            } else {
                go.push_back(std::move(e));
            }
        }
        held = std::move(keep);
        for (Event& e : go) {
            auto it = conns.find(e.conn);
            if (it != conns.end()) {
                e.at = ordered_arrival(e.src, e.dst, it->second, e.side);
            } else {
                e.at = arrival(e.src, e.dst);
            }
            push(std::move(e));
        }
    }

    // Every socket of a host that is down goes without a word; its disk
    // keeps what was synced.
    void wipe(std::uint32_t host) {
        auto& m = hs[host].socks;
        for (auto& [fd, s] : m) {
            cancel_all(*s);
            if (s->conn != 0) drop_end(s->conn, s->side);
        }
        m.clear();
        hs[host].files.clear();
        for (auto& [ino, i] : hs[host].disk.inodes) {
            if (i.data != i.synced) {
                // Data not fsynced: the seed decides how much of it the
                // kernel had written back (none, a prefix at a new size as
                // after a committed truncate, or all).
                switch (w.rng_() % 3) {
                    case 0:
                        i.data = i.synced;
                        break;
                    case 1:
                        i.data.resize(std::size_t(w.rng_() % (i.data.size() + 1)));
                        break;
                    default:
                        break;
                }
                i.synced = i.data;
            }
            // Names not fsynced in their directory are gone: the most POSIX
            // allows, and what write_file_atomic must survive.
            i.entries = i.synced_entries;
        }
    }

    // ---- the disk's names ----
    // The directory `path` is relative to (its inode), or -errno.
    long long base_dir(std::uint32_t host, int dirfd, const char* path) {
        if (path != nullptr && path[0] == '/') return 1;
        if (dirfd == AT_FDCWD) return 1;
        auto it = hs[host].files.find(dirfd);
        if (it == hs[host].files.end()) return -EBADF;
        if (!hs[host].disk.inodes[it->second.ino].dir) return -ENOTDIR;
        return static_cast<long long>(it->second.ino);
    }
    // Splits `path` into its parent directory's inode and its last name
    // (empty for the directory itself: "/", ".").
    int parent_of(std::uint32_t host, int dirfd, const char* path, std::uint64_t& parent,
                  std::string& name) {
        if (path == nullptr) path = "";
        long long b = base_dir(host, dirfd, path);
        if (b < 0) return static_cast<int>(b);
        std::vector<std::uint64_t> stack{static_cast<std::uint64_t>(b)};
        std::vector<std::string> parts;
        std::string cur;
        for (const char* p = path;; ++p) {
            if (*p == '/' || *p == '\0') {
                if (!cur.empty() && cur != ".") parts.push_back(cur);
                cur.clear();
                if (*p == '\0') break;
            } else {
                cur += *p;
            }
        }
        Disk& d = hs[host].disk;
        name.clear();
        for (std::size_t i = 0; i < parts.size(); ++i) {
            if (parts[i] == "..") {
                if (stack.size() > 1) stack.pop_back();
                continue;
            }
            if (i + 1 == parts.size()) {
                name = parts[i];
                break;
            }
            Inode& dir = d.inodes[stack.back()];
            auto e = dir.entries.find(parts[i]);
            if (e == dir.entries.end()) return -ENOENT;
            if (!d.inodes[e->second].dir) return -ENOTDIR;
            stack.push_back(e->second);
        }
        parent = stack.back();
        return 0;
    }
    // The inode `path` names, or -errno.
    long long lookup(std::uint32_t host, int dirfd, const char* path) {
        std::uint64_t parent = 0;
        std::string name;
        if (int r = parent_of(host, dirfd, path, parent, name); r < 0) return r;
        if (name.empty()) return static_cast<long long>(parent);
        Inode& dir = hs[host].disk.inodes[parent];
        auto e = dir.entries.find(name);
        if (e == dir.entries.end()) return -ENOENT;
        return static_cast<long long>(e->second);
    }
    // Whether directory `ino` is `top` or lies under it.
    bool within(std::uint32_t host, std::uint64_t ino, std::uint64_t top) {
        if (ino == top) return true;
        for (const auto& [name, child] : hs[host].disk.inodes[top].entries) {
            if (hs[host].disk.inodes[child].dir && within(host, ino, child)) return true;
        }
        return false;
    }

    void reset_sock(std::uint32_t host, Sock& s) {
        segment(s.conn, 1 - s.side, Kind::rst);
        s.reset = true;
        wake(host, s.fd, true, true);
    }
};

}  // namespace corio::sim

namespace corio::sim {
struct WorldAccess {
    static World::Impl& impl(World& w) { return *w.impl_; }
};
}  // namespace corio::sim

namespace corio::detail {

namespace {

using sim::Dgram;
using sim::Kind;
using sim::Sock;
using sim::SockState;

bool read_in(const sockaddr* a, socklen_t len, std::uint32_t& ip, std::uint16_t& port) {
    if (a == nullptr || len < static_cast<socklen_t>(sizeof(sockaddr_in)) ||
        a->sa_family != AF_INET) {
        return false;
    }
    sockaddr_in in{};
    std::memcpy(&in, a, sizeof in);
    ip = ntohl(in.sin_addr.s_addr);
    port = ntohs(in.sin_port);
    return true;
}

void write_in(sockaddr* a, socklen_t* len, std::uint32_t ip, std::uint16_t port) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(ip);
    in.sin_port = htons(port);
    if (a != nullptr && len != nullptr) {
        std::memcpy(a, &in, std::min<std::size_t>(*len, sizeof in));
    }
    if (len != nullptr) *len = sizeof in;
}

}  // namespace

#define CORIO_SIM_IMPL sim::World::Impl& m = sim::WorldAccess::impl(*world_)

int SimIo::socket(int family, int type) noexcept {
    CORIO_SIM_IMPL;
    if (family != AF_INET) return -EAFNOSUPPORT;
    const int base = type & 0xf;
    if (base != SOCK_STREAM && base != SOCK_DGRAM) return -EPROTONOSUPPORT;
    return m.alloc_fd(host_, base == SOCK_STREAM);
}

int SimIo::bind(int fd, const sockaddr* addr, socklen_t len) noexcept {
    CORIO_SIM_IMPL;
    Sock* s = m.find(host_, fd);
    if (s == nullptr) return -EBADF;
    std::uint32_t ip = 0;
    std::uint16_t port = 0;
    if (!read_in(addr, len, ip, port)) return -EAFNOSUPPORT;
    if (s->bound) return -EINVAL;
    if (ip != 0 && !sim::is_loopback(ip) && ip != sim::ip_of(host_)) return -EADDRNOTAVAIL;
    if (port == 0) {
        port = m.ephemeral(host_, s->stream);
        if (port == 0) return -EADDRINUSE;
    } else if (m.port_taken(host_, s->stream, ip, port, s->reuse_port)) {
        return -EADDRINUSE;
    }
    s->lip = ip;
    s->lport = port;
    s->bound = true;
    return 0;
}

int SimIo::listen(int fd, int backlog) noexcept {
    CORIO_SIM_IMPL;
    Sock* s = m.find(host_, fd);
    if (s == nullptr) return -EBADF;
    if (!s->stream || s->conn != 0) return -EINVAL;
    if (!s->bound) {
        s->lport = m.ephemeral(host_, true);
        s->bound = true;
    }
    s->st = SockState::listening;
    s->backlog = std::clamp(backlog, 1, 4096);
    return 0;
}

int SimIo::connect(int fd, const sockaddr* addr, socklen_t len) noexcept {
    CORIO_SIM_IMPL;
    Sock* s = m.find(host_, fd);
    if (s == nullptr) return -EBADF;
    std::uint32_t ip = 0;
    std::uint16_t port = 0;
    if (!read_in(addr, len, ip, port)) return -EAFNOSUPPORT;
    const int dst = m.route(host_, ip);
    if (!s->stream) {
        if (dst < 0) return -ENETUNREACH;
        s->rip = ip;
        s->rport = port;
        s->has_peer = true;
        if (!s->bound) {
            s->lip = sim::is_loopback(ip) ? sim::loopback_ip : sim::ip_of(host_);
            s->lport = m.ephemeral(host_, false);
            s->bound = true;
        }
        return 0;
    }
    if (s->st == SockState::connecting) return -EALREADY;
    if (s->st == SockState::connected) return -EISCONN;
    if (s->st != SockState::fresh) return -EINVAL;
    if (dst < 0) return -ENETUNREACH;
    if (!s->bound) {
        s->lport = m.ephemeral(host_, true);
        s->bound = true;
    }
    if (s->lip == 0) s->lip = sim::is_loopback(ip) ? sim::loopback_ip : sim::ip_of(host_);
    s->rip = ip;
    s->rport = port;
    s->has_peer = true;
    const std::uint64_t cid = m.next_conn++;
    sim::Conn& c = m.conns[cid];
    c.host[0] = host_;
    c.host[1] = static_cast<std::uint32_t>(dst);
    c.fd[0] = fd;
    s->conn = cid;
    s->side = 0;
    s->st = SockState::connecting;
    m.send_syn(host_, fd, cid, 0);
    return -EAGAIN;
}

int SimIo::connect_status(int fd) noexcept {
    CORIO_SIM_IMPL;
    Sock* s = m.find(host_, fd);
    if (s == nullptr) return -EBADF;
    switch (s->st) {
        case SockState::connecting:
            return -EAGAIN;
        case SockState::connected:
            return 0;
        default:
            return s->connect_err != 0 ? -s->connect_err : -ENOTCONN;
    }
}

int SimIo::accept(int fd) noexcept {
    CORIO_SIM_IMPL;
    Sock* s = m.find(host_, fd);
    if (s == nullptr) return -EBADF;
    if (s->st != SockState::listening) return -EINVAL;
    if (s->acceptq.empty()) return -EAGAIN;
    int c = s->acceptq.front();
    s->acceptq.pop_front();
    return c;
}

int SimIo::recv(int fd, std::span<std::byte> buf, int flags) noexcept {
    CORIO_SIM_IMPL;
    Sock* s = m.find(host_, fd);
    if (s == nullptr) return -EBADF;
    if (!s->stream) {
        if (s->so_error != 0) return -std::exchange(s->so_error, 0);  // before any datagram
        if (s->dgrams.empty()) return -EAGAIN;
        Dgram& d = s->dgrams.front();
        const std::size_t n = std::min(buf.size(), d.data.size());
        std::copy_n(d.data.begin(), n, buf.begin());
        const int full = static_cast<int>(d.data.size());
        if ((flags & MSG_PEEK) == 0) s->dgrams.pop_front();
        return (flags & MSG_TRUNC) != 0 ? full : static_cast<int>(n);
    }
    if (s->st != SockState::connected) return -ENOTCONN;
    if (!s->rx.empty() && !buf.empty()) {
        const std::size_t n = std::min({buf.size(), s->rx.size(), std::size_t(0x7fffffff)});
        std::copy_n(s->rx.begin(), n, buf.begin());
        if ((flags & MSG_PEEK) == 0) {
            s->rx.erase(s->rx.begin(), s->rx.begin() + static_cast<std::ptrdiff_t>(n));
            // The window opens again: the sender hears it after a latency.
            if (!s->reset) m.segment(s->conn, 1 - s->side, Kind::window, {}, n);
        }
        return static_cast<int>(n);
    }
    if (buf.empty() || s->rx_fin || s->rd_shut) return 0;
    if (s->reset) {
        if (s->reset_reported) return 0;
        s->reset_reported = true;
        return -ECONNRESET;
    }
    return -EAGAIN;
}

int SimIo::send(int fd, std::span<const std::byte> buf, int flags) noexcept {
    (void)flags;
    CORIO_SIM_IMPL;
    Sock* s = m.find(host_, fd);
    if (s == nullptr) return -EBADF;
    if (!s->stream) {
        if (!s->has_peer) return -EDESTADDRREQ;
        sockaddr_in to{};
        socklen_t len = sizeof to;
        write_in(reinterpret_cast<sockaddr*>(&to), &len, s->rip, s->rport);
        iovec iov{const_cast<std::byte*>(buf.data()), buf.size()};
        msghdr msg{};
        msg.msg_name = &to;
        msg.msg_namelen = len;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        return sendmsg(fd, &msg, flags);
    }
    if (s->st == SockState::connecting) return -EAGAIN;
    if (s->st != SockState::connected) return s->st == SockState::fresh ? -ENOTCONN : -EPIPE;
    if (s->reset) {
        if (!s->reset_reported) {
            s->reset_reported = true;
            return -ECONNRESET;
        }
        return -EPIPE;
    }
    if (s->wr_shut) return -EPIPE;
    if (buf.empty()) return 0;
    if (s->credit == 0) return -EAGAIN;
    const std::size_t n = std::min({buf.size(), s->credit, std::size_t(0x7fffffff)});
    s->credit -= n;
    // Cut into segments of drawn sizes: the reader sees partial reads.
    std::size_t off = 0;
    const std::size_t mss = std::max<std::size_t>(1, world_->opts_.max_segment);
    while (off < n) {
        const std::size_t k = std::min(n - off, 1 + std::size_t(world_->rng_() % mss));
        m.segment(s->conn, 1 - s->side, Kind::data,
                  std::vector<std::byte>(buf.begin() + static_cast<std::ptrdiff_t>(off),
                                         buf.begin() + static_cast<std::ptrdiff_t>(off + k)));
        off += k;
    }
    return static_cast<int>(n);
}

int SimIo::sendmsg(int fd, const msghdr* msg, int flags) noexcept {
    CORIO_SIM_IMPL;
    Sock* s = m.find(host_, fd);
    if (s == nullptr) return -EBADF;
    // A stream takes what its window allows: gather no more than that (at
    // least a byte, so that a closed window still says EAGAIN), or a big
    // vectored send_all copies all its bytes once per window.
    std::size_t room = std::size_t(-1);
    if (s->stream) room = std::max<std::size_t>(1, s->credit);
    std::vector<std::byte> all;
    for (std::size_t i = 0; i < msg->msg_iovlen && all.size() < room; ++i) {
        const auto* p = static_cast<const std::byte*>(msg->msg_iov[i].iov_base);
        const std::size_t k = std::min(msg->msg_iov[i].iov_len, room - all.size());
        all.insert(all.end(), p, p + k);
    }
    if (s->stream) return send(fd, all, flags);
    if (s->so_error != 0) return -std::exchange(s->so_error, 0);  // as sock_alloc_send_skb
    std::uint32_t ip = s->rip;
    std::uint16_t port = s->rport;
    if (msg->msg_name != nullptr) {
        if (!read_in(static_cast<const sockaddr*>(msg->msg_name), msg->msg_namelen, ip, port)) {
            return -EAFNOSUPPORT;
        }
    } else if (!s->has_peer) {
        return -EDESTADDRREQ;
    }
    if (all.size() > 65507) return -EMSGSIZE;
    if (port == 0) return -EINVAL;  // as udp_sendmsg
    const int dst = m.route(host_, ip);
    if (dst < 0) return -ENETUNREACH;
    if (!s->bound) {
        s->lip = 0;
        s->lport = m.ephemeral(host_, false);
        s->bound = true;
    }
    const std::uint32_t sip =
        s->lip != 0 ? s->lip : (sim::is_loopback(ip) ? sim::loopback_ip : sim::ip_of(host_));
    const sim::WorldOptions& o = world_->opts_;
    std::mt19937_64& rng = world_->rng_;
    auto draw = [&rng] { return double(rng() >> 11) * 0x1.0p-53; };
    int copies = 1;
    if (o.udp_loss > 0 && draw() < o.udp_loss) copies = 0;
    if (copies == 1 && o.udp_duplicate > 0 && draw() < o.udp_duplicate) copies = 2;
    for (int i = 0; i < copies; ++i) {
        sim::Event e;
        e.kind = Kind::dgram;
        e.src = host_;
        e.dst = static_cast<std::uint32_t>(dst);
        e.sip = sip;
        e.sport = s->lport;
        e.dip = ip;
        e.dport = port;
        e.n = all.size();
        e.data = all;
        e.at = m.arrival(e.src, e.dst);  // not ordered: datagrams may overtake
        m.emit(std::move(e));
    }
    return static_cast<int>(all.size());
}

int SimIo::recvmsg(int fd, msghdr* msg, int flags) noexcept {
    CORIO_SIM_IMPL;
    Sock* s = m.find(host_, fd);
    if (s == nullptr) return -EBADF;
    if (s->stream) {
        if (msg->msg_iovlen == 0) return 0;
        auto* p = static_cast<std::byte*>(msg->msg_iov[0].iov_base);
        return recv(fd, std::span(p, msg->msg_iov[0].iov_len), flags);
    }
    if (s->so_error != 0) return -std::exchange(s->so_error, 0);  // before any datagram
    if (s->dgrams.empty()) return -EAGAIN;
    Dgram d = std::move(s->dgrams.front());
    s->dgrams.pop_front();
    std::size_t off = 0;
    for (std::size_t i = 0; i < msg->msg_iovlen && off < d.data.size(); ++i) {
        const std::size_t k = std::min(msg->msg_iov[i].iov_len, d.data.size() - off);
        std::memcpy(msg->msg_iov[i].iov_base, d.data.data() + off, k);
        off += k;
    }
    if (msg->msg_name != nullptr) {
        write_in(static_cast<sockaddr*>(msg->msg_name), &msg->msg_namelen, d.ip, d.port);
    }
    msg->msg_flags = off < d.data.size() ? MSG_TRUNC : 0;
    return (flags & MSG_TRUNC) != 0 ? static_cast<int>(d.data.size()) : static_cast<int>(off);
}

int SimIo::shutdown(int fd, int how) noexcept {
    CORIO_SIM_IMPL;
    Sock* s = m.find(host_, fd);
    if (s == nullptr) return -EBADF;
    if (!s->stream || s->st != SockState::connected) return -ENOTCONN;
    if ((how == SHUT_WR || how == SHUT_RDWR) && !s->wr_shut) {
        s->wr_shut = true;
        if (!s->reset) m.segment(s->conn, 1 - s->side, Kind::fin);
    }
    if (how == SHUT_RD || how == SHUT_RDWR) {
        s->rd_shut = true;
        m.wake(host_, fd, true, false);
    }
    return 0;
}

int SimIo::getsockname(int fd, sockaddr* addr, socklen_t* len) noexcept {
    CORIO_SIM_IMPL;
    Sock* s = m.find(host_, fd);
    if (s == nullptr) return -EBADF;
    write_in(addr, len, s->lip, s->lport);
    return 0;
}

int SimIo::getpeername(int fd, sockaddr* addr, socklen_t* len) noexcept {
    CORIO_SIM_IMPL;
    Sock* s = m.find(host_, fd);
    if (s == nullptr) return -EBADF;
    if (!s->has_peer || (s->stream && s->st != SockState::connected)) return -ENOTCONN;
    write_in(addr, len, s->rip, s->rport);
    return 0;
}

int SimIo::setsockopt(int fd, int level, int name, const void* value, socklen_t len) noexcept {
    CORIO_SIM_IMPL;
    Sock* s = m.find(host_, fd);
    if (s == nullptr) return -EBADF;
    if (level == SOL_SOCKET && name == SO_LINGER && len >= socklen_t(sizeof(linger))) {
        linger lg{};
        std::memcpy(&lg, value, sizeof lg);
        s->linger_reset = lg.l_onoff != 0 && lg.l_linger == 0;
    }
    if (len >= socklen_t(sizeof(int))) {
        int v = 0;
        std::memcpy(&v, value, sizeof v);  // SO_LINGER: l_onoff
        s->options[{level, name}] = v;
        if (level == SOL_SOCKET && name == SO_REUSEPORT) s->reuse_port = v != 0;
    }
    // Other options (NODELAY, KEEPALIVE, REUSEADDR, ...) change nothing the
    // simulation models.
    return 0;
}

int SimIo::getsockopt(int fd, int level, int name, int* value) noexcept {
    CORIO_SIM_IMPL;
    Sock* s = m.find(host_, fd);
    if (s == nullptr) return -EBADF;
    auto set = s->options.find({level, name});
    *value = set != s->options.end() ? set->second : 0;
    if (level == SOL_SOCKET && name == SO_ERROR) {
        *value = s->stream ? std::exchange(s->connect_err, 0) : std::exchange(s->so_error, 0);
    }
    if (level == SOL_SOCKET && name == SO_TYPE) *value = s->stream ? SOCK_STREAM : SOCK_DGRAM;
    return 0;
}

int SimIo::poll(int fd, unsigned events) noexcept {
    CORIO_SIM_IMPL;
    Sock* s = m.find(host_, fd);
    if (s == nullptr) return POLLNVAL;
    unsigned r = 0;
    const bool readable = !s->rx.empty() || s->rx_fin || s->reset || !s->acceptq.empty() ||
                          !s->dgrams.empty() || s->so_error != 0;
    const bool writable = !s->stream ||
                          (s->st == SockState::connected && (s->credit > 0 || s->reset)) ||
                          s->st == SockState::closed;
    if (readable) r |= POLLIN;
    if (writable) r |= POLLOUT;
    if (s->reset) r |= POLLERR | POLLHUP;
    if (s->so_error != 0) r |= POLLERR;
    r &= events | POLLERR | POLLHUP;
    return r != 0 ? static_cast<int>(r) : -EAGAIN;
}

int SimIo::close(int fd) noexcept {
    CORIO_SIM_IMPL;
    if (m.hs[host_].files.erase(fd) > 0) return 0;
    if (m.find(host_, fd) == nullptr) return -EBADF;
    m.close_sock(host_, fd);
    return 0;
}

// ---- the disk ----

int SimIo::openat(int dirfd, const char* path, int flags, unsigned mode) noexcept {
    CORIO_SIM_IMPL;
    sim::HostState& h = m.hs[host_];
    sim::Disk& d = h.disk;
    std::uint64_t parent = 0;
    std::string name;
    if (int r = m.parent_of(host_, dirfd, path, parent, name); r < 0) return r;
    std::uint64_t ino = parent;
    if (!name.empty()) {
        auto& entries = d.inodes[parent].entries;
        auto e = entries.find(name);
        if (e != entries.end()) {
            if ((flags & O_CREAT) != 0 && (flags & O_EXCL) != 0) return -EEXIST;
            if ((flags & O_CREAT) != 0 && d.inodes[e->second].dir) return -EISDIR;
            ino = e->second;
        } else {
            if ((flags & O_CREAT) == 0) return -ENOENT;
            if (d.error == ENOSPC) return -ENOSPC;
            ino = d.next_ino++;
            d.inodes[ino].mode = mode & 07777;
            entries[name] = ino;
        }
    }
    sim::Inode& i = d.inodes[ino];
    if ((flags & O_DIRECTORY) != 0 && !i.dir) return -ENOTDIR;
    // O_TRUNC asks for write access, and truncates even with O_RDONLY (Linux).
    if (i.dir && ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0)) return -EISDIR;
    if (!i.dir && (flags & O_TRUNC) != 0) i.data.clear();
    int fd = m.next_fd++;
    h.files[fd] = sim::OpenFile{ino, flags};
    return fd;
}

int SimIo::pread(int fd, std::span<std::byte> buf, std::uint64_t offset) noexcept {
    CORIO_SIM_IMPL;
    auto it = m.hs[host_].files.find(fd);
    if (it == m.hs[host_].files.end()) return -EBADF;
    if ((it->second.flags & O_ACCMODE) == O_WRONLY) return -EBADF;
    sim::Inode& i = m.hs[host_].disk.inodes[it->second.ino];
    if (buf.empty()) return 0;  // as readv(2) and io_uring's read: before any other check
    if (i.dir) return -EISDIR;
    if (offset >= i.data.size()) return 0;
    const std::size_t n =
        std::min({buf.size(), i.data.size() - std::size_t(offset), std::size_t(1) << 30});
    std::copy_n(i.data.begin() + static_cast<std::ptrdiff_t>(offset), n, buf.begin());
    return static_cast<int>(n);
}

int SimIo::pwrite(int fd, std::span<const std::byte> buf, std::uint64_t offset) noexcept {
    CORIO_SIM_IMPL;
    auto it = m.hs[host_].files.find(fd);
    if (it == m.hs[host_].files.end()) return -EBADF;
    if ((it->second.flags & O_ACCMODE) == O_RDONLY) return -EBADF;
    if (buf.empty()) return 0;  // writes nothing, does not extend the file
    sim::Disk& d = m.hs[host_].disk;
    if (d.error != 0) return -d.error;
    sim::Inode& i = d.inodes[it->second.ino];
    if ((it->second.flags & O_APPEND) != 0) offset = i.data.size();
    std::size_t n = std::min(buf.size(), std::size_t(1) << 30);
    const std::size_t end = std::size_t(offset) + n;
    if (end > i.data.size()) {
        const std::size_t used = d.used();
        const std::size_t room = d.capacity > used ? d.capacity - used : 0;
        const std::size_t grow = end - i.data.size();
        if (grow > room) {
            // As the kernel does: what fits is written, then ENOSPC.
            if (room == 0 || std::size_t(offset) > i.data.size() + room) return -ENOSPC;
            n = i.data.size() + room - std::size_t(offset);
        }
        i.data.resize(std::size_t(offset) + n);
    }
    std::copy_n(buf.begin(), n, i.data.begin() + static_cast<std::ptrdiff_t>(offset));
    return static_cast<int>(n);
}

int SimIo::fsync(int fd) noexcept {
    CORIO_SIM_IMPL;
    auto it = m.hs[host_].files.find(fd);
    if (it == m.hs[host_].files.end()) return -EBADF;
    sim::Disk& d = m.hs[host_].disk;
    if (d.error == EIO) return -EIO;
    sim::Inode& i = d.inodes[it->second.ino];
    i.synced = i.data;
    if (i.dir) i.synced_entries = i.entries;
    world_->note(0xf5 ^ (std::uint64_t(host_) << 32) ^ it->second.ino);
    return 0;
}

int SimIo::fchmod(int fd, unsigned mode) noexcept {
    CORIO_SIM_IMPL;
    auto it = m.hs[host_].files.find(fd);
    if (it == m.hs[host_].files.end()) return -EBADF;
    m.hs[host_].disk.inodes[it->second.ino].mode = mode & 07777;
    return 0;
}

int SimIo::ftruncate(int fd, std::uint64_t length) noexcept {
    CORIO_SIM_IMPL;
    auto it = m.hs[host_].files.find(fd);
    if (it == m.hs[host_].files.end()) return -EBADF;
    sim::Disk& d = m.hs[host_].disk;
    sim::Inode& i = d.inodes[it->second.ino];
    if (i.dir || (it->second.flags & O_ACCMODE) == O_RDONLY) return -EINVAL;  // as Linux says
    if (length > (std::uint64_t(1) << 40)) return -EFBIG;  // the simulation holds data in memory
    if (d.error == EIO) return -EIO;
    // Extending makes a hole on a real file system (no space taken): no ENOSPC here either.
    i.data.resize(std::size_t(length));
    return 0;
}

int SimIo::fallocate(int fd, int mode, std::uint64_t offset, std::uint64_t len) noexcept {
    CORIO_SIM_IMPL;
    auto it = m.hs[host_].files.find(fd);
    if (it == m.hs[host_].files.end()) return -EBADF;
    if (len == 0 || offset >= (std::uint64_t(1) << 62) || len >= (std::uint64_t(1) << 62)) {
        return -EINVAL;  // before the access mode, as Linux
    }
    if ((it->second.flags & O_ACCMODE) == O_RDONLY) return -EBADF;
    if (mode != 0 && mode != FALLOC_FL_KEEP_SIZE) return -EOPNOTSUPP;  // holes are not modelled
    sim::Disk& d = m.hs[host_].disk;
    sim::Inode& i = d.inodes[it->second.ino];
    if (d.error != 0) return -d.error;
    const std::uint64_t end = offset + len;
    if (end <= i.data.size()) return 0;
    const std::size_t used = d.used();
    const std::size_t room = d.capacity > used ? d.capacity - used : 0;
    if (end - i.data.size() > room) return -ENOSPC;
    if (end > (std::uint64_t(1) << 40)) return -EFBIG;
    // The space counts once the size covers it; KEEP_SIZE reserves nothing the
    // simulation can hold apart from the data, so it only checks the room.
    if (mode == 0) i.data.resize(std::size_t(end));
    return 0;
}

int SimIo::linkat(int olddirfd, const char* from, int newdirfd, const char* to,
                  int flags) noexcept {
    CORIO_SIM_IMPL;
    if ((flags & ~AT_SYMLINK_FOLLOW) != 0) return -EINVAL;
    sim::Disk& d = m.hs[host_].disk;
    const long long ino = m.lookup(host_, olddirfd, from);
    if (ino < 0) return static_cast<int>(ino);
    std::uint64_t parent = 0;
    std::string name;
    if (int r = m.parent_of(host_, newdirfd, to, parent, name); r < 0) return r;
    if (name.empty() || d.inodes[parent].entries.contains(name)) return -EEXIST;
    if (d.inodes[std::uint64_t(ino)].dir) return -EPERM;  // after the new name, as Linux
    if (d.error == ENOSPC) return -ENOSPC;
    d.inodes[parent].entries[name] = std::uint64_t(ino);
    return 0;
}

int SimIo::symlinkat(const char* target, int dirfd, const char* path) noexcept {
    CORIO_SIM_IMPL;
    if (target == nullptr || target[0] == '\0') return -ENOENT;
    std::uint64_t parent = 0;
    std::string name;
    if (int r = m.parent_of(host_, dirfd, path, parent, name); r < 0) return r;
    if (name.empty() || m.hs[host_].disk.inodes[parent].entries.contains(name)) return -EEXIST;
    return -EPERM;
}

int SimIo::resolve_host(const char* name, std::string& out) {
    std::string_view n(name);
    if (n.ends_with('.')) n.remove_suffix(1);
    const auto same = [n](std::string_view other) {
        return other.size() == n.size() &&
               std::equal(n.begin(), n.end(), other.begin(), [](char a, char b) {
                   return std::tolower(static_cast<unsigned char>(a)) ==
                          std::tolower(static_cast<unsigned char>(b));
               });
    };
    if (same("localhost")) {
        out = "127.0.0.1";
        return 0;
    }
    for (std::size_t i = 0; i < world_->hosts(); ++i) {
        if (same(world_->host(i).name())) {
            out = world_->host(i).ip();
            return 0;
        }
    }
    return -ENOENT;
}

int SimIo::readlinkat(int dirfd, const char* path, std::string& out) noexcept {
    CORIO_SIM_IMPL;
    out.clear();
    const long long ino = m.lookup(host_, dirfd, path);
    return ino < 0 ? static_cast<int>(ino) : -EINVAL;
}

int SimIo::statx(int dirfd, const char* path, int flags, struct ::statx* out) noexcept {
    CORIO_SIM_IMPL;
    long long ino = 0;
    if ((flags & AT_EMPTY_PATH) != 0 && (path == nullptr || path[0] == '\0')) {
        auto it = m.hs[host_].files.find(dirfd);
        if (it == m.hs[host_].files.end()) return -EBADF;
        ino = static_cast<long long>(it->second.ino);
    } else {
        ino = m.lookup(host_, dirfd, path);
        if (ino < 0) return static_cast<int>(ino);
    }
    const sim::Inode& i = m.hs[host_].disk.inodes[static_cast<std::uint64_t>(ino)];
    std::memset(out, 0, sizeof *out);
    out->stx_mask = STATX_BASIC_STATS;
    out->stx_mode = static_cast<std::uint16_t>((i.dir ? S_IFDIR : S_IFREG) | i.mode);
    out->stx_size = i.dir ? 4096 : i.data.size();
    out->stx_blocks = (out->stx_size + 511) / 512;
    out->stx_ino = static_cast<std::uint64_t>(ino);
    out->stx_nlink = 1;
    if (!i.dir) {  // the names it has (hard links)
        out->stx_nlink = 0;
        for (const auto& [n, dir] : m.hs[host_].disk.inodes) {
            for (const auto& [name, child] : dir.entries) {
                out->stx_nlink += child == std::uint64_t(ino);
            }
        }
    }
    out->stx_blksize = 4096;
    return 0;
}

int SimIo::mkdirat(int dirfd, const char* path, unsigned mode) noexcept {
    CORIO_SIM_IMPL;
    sim::Disk& d = m.hs[host_].disk;
    std::uint64_t parent = 0;
    std::string name;
    if (int r = m.parent_of(host_, dirfd, path, parent, name); r < 0) return r;
    if (name.empty() || d.inodes[parent].entries.contains(name)) return -EEXIST;
    if (d.error == ENOSPC) return -ENOSPC;
    const std::uint64_t ino = d.next_ino++;
    d.inodes[ino].dir = true;
    d.inodes[ino].mode = mode & 07777;
    d.inodes[parent].entries[name] = ino;
    return 0;
}

int SimIo::unlinkat(int dirfd, const char* path, int flags) noexcept {
    CORIO_SIM_IMPL;
    sim::Disk& d = m.hs[host_].disk;
    std::uint64_t parent = 0;
    std::string name;
    if (int r = m.parent_of(host_, dirfd, path, parent, name); r < 0) return r;
    if (name.empty()) return -EBUSY;
    auto& entries = d.inodes[parent].entries;
    auto e = entries.find(name);
    if (e == entries.end()) return -ENOENT;
    const sim::Inode& i = d.inodes[e->second];
    if ((flags & AT_REMOVEDIR) != 0) {
        if (!i.dir) return -ENOTDIR;
        if (!i.entries.empty()) return -ENOTEMPTY;
    } else if (i.dir) {
        return -EISDIR;
    }
    entries.erase(e);
    return 0;
}

int SimIo::renameat(int olddirfd, const char* from, int newdirfd, const char* to,
                    unsigned flags) noexcept {
    CORIO_SIM_IMPL;
    sim::Disk& d = m.hs[host_].disk;
    std::uint64_t p1 = 0;
    std::uint64_t p2 = 0;
    std::string n1;
    std::string n2;
    if (int r = m.parent_of(host_, olddirfd, from, p1, n1); r < 0) return r;
    if (int r = m.parent_of(host_, newdirfd, to, p2, n2); r < 0) return r;
    if (n1.empty() || n2.empty()) return -EBUSY;
    auto& e1 = d.inodes[p1].entries;
    auto& e2 = d.inodes[p2].entries;
    auto src = e1.find(n1);
    if (src == e1.end()) return -ENOENT;
    auto dst = e2.find(n2);
    const bool exchange = (flags & RENAME_EXCHANGE) != 0;
    if (exchange && dst == e2.end()) return -ENOENT;
    if (!exchange && dst != e2.end() && (flags & RENAME_NOREPLACE) != 0) return -EEXIST;
    // Before the kinds are compared, as Linux: a directory cannot go under
    // itself (EINVAL), and a target that holds the source is not empty.
    if (d.inodes[src->second].dir && m.within(host_, p2, src->second)) return -EINVAL;
    if (dst != e2.end() && d.inodes[dst->second].dir && m.within(host_, p1, dst->second)) {
        return exchange ? -EINVAL : -ENOTEMPTY;
    }
    if (exchange) {
        std::swap(src->second, dst->second);
        return 0;
    }
    if (dst != e2.end()) {
        if (dst->second == src->second) return 0;
        const bool sdir = d.inodes[src->second].dir;
        const sim::Inode& t = d.inodes[dst->second];
        if (t.dir && !sdir) return -EISDIR;
        if (!t.dir && sdir) return -ENOTDIR;
        if (t.dir && !t.entries.empty()) return -ENOTEMPTY;
    }
    const std::uint64_t ino = src->second;
    e1.erase(src);
    e2[n2] = ino;
    return 0;
}

int SimIo::list_dir(int dirfd, const char* path,
                    std::vector<std::pair<std::string, bool>>& out) noexcept {
    CORIO_SIM_IMPL;
    long long ino = m.lookup(host_, dirfd, path);
    if (ino < 0) return static_cast<int>(ino);
    sim::Disk& d = m.hs[host_].disk;
    const sim::Inode& dir = d.inodes[static_cast<std::uint64_t>(ino)];
    if (!dir.dir) return -ENOTDIR;
    out.clear();
    for (auto& [name, child] : dir.entries)
        out.emplace_back(name, d.inodes[child].dir);
    return 0;
}

std::uint64_t SimIo::random() noexcept {
    return world_->rng_();
}

void SimIo::wait(OpState& st) noexcept {
    CORIO_SIM_IMPL;
    Sock* s = m.find(host_, st.fd);
    if (s == nullptr) {
        m.complete(st, -EBADF);
        return;
    }
    st.pending = true;
    // Counted as on epoll: an operation that had to wait.
    ++st.loop->mutable_stats().submitted[static_cast<std::size_t>(st.kind)];
    if (st.interest == Interest::write) {
        s->writers.push(st);
    } else {
        s->readers.push(st);
    }
}

void SimIo::defer(OpState& st) noexcept {
    CORIO_SIM_IMPL;
    st.pending = true;
    ++st.loop->mutable_stats().submitted[static_cast<std::size_t>(st.kind)];
    const std::uint64_t id = m.next_deferred++;
    m.hs[host_].deferred[id] = &st;
    const auto max = static_cast<std::uint64_t>(world_->opts_.disk_latency.count());
    sim::Event e;
    e.at = world_->now() + Duration(static_cast<Duration::rep>(world_->rng_() % (max + 1)));
    e.src = host_;
    e.fn = [&m, host = host_, id] {
        auto& d = m.hs[host].deferred;
        auto it = d.find(id);
        if (it == d.end()) return;  // cancelled meanwhile
        OpState* s = it->second;
        d.erase(it);
        Loop* saved = t_current_loop;
        t_current_loop = s->loop;
        int r = s->retry(s);
        m.complete(*s, r);
        t_current_loop = saved;
    };
    m.push(std::move(e));
}

void SimIo::cancel(Loop& loop, OpState& st) noexcept {
    (void)loop;
    CORIO_SIM_IMPL;
    if (!st.pending) return;
    auto& deferred = m.hs[host_].deferred;
    for (auto it = deferred.begin(); it != deferred.end(); ++it) {
        if (it->second == &st) {
            deferred.erase(it);
            m.complete(st, -ECANCELED);
            return;
        }
    }
    if (Sock* s = m.find(host_, st.fd)) {
        if (s->readers.contains(st)) {
            s->readers.erase(st);
        } else if (s->writers.contains(st)) {
            s->writers.erase(st);
        }
    }
    m.complete(st, -ECANCELED);
}

void SimIo::release(int fd) noexcept {
    CORIO_SIM_IMPL;
    if (Sock* s = m.find(host_, fd)) m.cancel_all(*s);
}

void SimIo::cancel_everything(Loop& loop) noexcept {
    (void)loop;
    CORIO_SIM_IMPL;
    for (auto& [fd, s] : m.hs[host_].socks)
        m.cancel_all(*s);
    auto deferred = std::move(m.hs[host_].deferred);
    m.hs[host_].deferred.clear();
    for (auto& [id, st] : deferred)
        m.complete(*st, -ECANCELED);
}

#undef CORIO_SIM_IMPL

}  // namespace corio::detail

namespace corio::sim {

// ---- the world ----

Loop& Host::loop() const {
    if (!loop_) throw std::logic_error("sim: host " + name_ + " is down");
    return *loop_;
}

std::optional<std::uint64_t> seed_from_env() noexcept {
    const char* s = std::getenv("CORIO_SIM_SEED");
    if (s == nullptr || *s == '\0') return std::nullopt;
    char* end = nullptr;
    unsigned long long v = std::strtoull(s, &end, 0);
    if (end == s || *end != '\0') {
        log_warn("CORIO_SIM_SEED={}: not a number, ignored", s);
        return std::nullopt;
    }
    return v;
}

World::World(WorldOptions opts)
    : opts_(std::move(opts)),
      seed_(opts_.seed),
      start_(clock_.now()),
      impl_(std::make_unique<Impl>(*this)) {
    if (opts_.use_env) {
        if (auto s = seed_from_env()) seed_ = *s;
    }
    rng_.seed(seed_);
    note(seed_);
}

World::~World() {
    // Loops first (their tasks unwind into the simulated kernel), then the
    // kernel.
    for (auto& h : hosts_) {
        impl_->hs[h->index_].down = true;
    }
    for (auto& h : hosts_) {
        h->loop_.reset();
    }
}

Host& World::add_host(std::string name, Host::Boot boot_fn) {
    auto h = std::make_unique<Host>();
    h->index_ = static_cast<std::uint32_t>(hosts_.size());
    h->name_ = std::move(name);
    h->boot_ = std::move(boot_fn);
    in_addr a{};
    a.s_addr = htonl(ip_of(h->index_));
    char buf[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &a, buf, sizeof buf);
    h->ip_text_ = buf;
    impl_->hs.emplace_back();
    impl_->hs.back().io = std::make_unique<detail::SimIo>(*this, h->index_);
    hosts_.push_back(std::move(h));
    Host& ref = *hosts_.back();
    boot(ref);
    return ref;
}

void World::boot(Host& h) {
    HostState& hs = impl_->hs[h.index_];
    hs.down = false;
    LoopOptions o;
    o.sim = hs.io.get();
    o.clock = &clock_;
    o.use_env = false;
    o.shuffle_seed = mix64(seed_ ^ (std::uint64_t(h.index_) << 32) ^ hs.boots);
    ++hs.boots;
    Loop* saved = detail::t_current_loop;
    h.loop_ = std::make_unique<Loop>(o);
    detail::t_current_loop = saved;
    note(0xb007 ^ (std::uint64_t(h.index_) << 16));
    if (h.boot_) h.loop_->spawn(h.boot_()).detach();
}

bool World::step(TimePoint limit) {
    Impl& m = *impl_;
    bool progressed = false;
    // The hosts run in an order drawn from the seed.
    m.order.resize(hosts_.size());
    for (std::uint32_t i = 0; i < m.order.size(); ++i)
        m.order[i] = i;
    for (std::size_t i = m.order.size(); i > 1; --i) {
        std::swap(m.order[i - 1], m.order[rng_() % i]);
    }
    for (std::uint32_t i : m.order) {
        Host& h = *hosts_[i];
        if (!h.loop_ || h.stalled_until_ > now()) continue;
        if (h.loop_->run_once()) {
            progressed = true;
            note((std::uint64_t(i) << 48) ^ h.loop_->stats().tasks_run);
        }
    }
    // What is due now.
    while (!m.queue.empty() && m.queue.begin()->first.first <= now().time_since_epoch().count()) {
        auto node = m.queue.extract(m.queue.begin());
        m.deliver(node.mapped());
        progressed = true;
    }
    if (progressed) return true;
    // Idle everywhere: jump to the next thing that can happen.
    std::optional<TimePoint> next;
    auto consider = [&](TimePoint t) {
        if (!next || t < *next) next = t;
    };
    if (!m.queue.empty()) consider(TimePoint(Duration(m.queue.begin()->first.first)));
    for (auto& h : hosts_) {
        if (!h->loop_) continue;
        if (h->stalled_until_ > now()) consider(h->stalled_until_);
        if (!h->loop_->timers().empty()) {
            consider(std::max(h->loop_->timers().next_deadline(), h->stalled_until_));
        }
    }
    if (!next) return false;
    if (*next > limit) {
        // Nothing before the caller's horizon: stop there.
        clock_.set(limit);
        return true;
    }
    if (*next > now()) {
        clock_.set(*next);
        note(0x71e ^ static_cast<std::uint64_t>(now().time_since_epoch().count()));
    }
    return true;
}

void World::run_for(Duration d) {
    const TimePoint end = now() + d;
    while (now() < end) {
        if (!step(end)) {
            clock_.set(end);
            return;
        }
    }
}

void World::cut(Host& a, Host& b) {
    ++faults_;
    note(0xc07 ^ (std::uint64_t(a.index_) << 8) ^ b.index_);
    impl_->cuts.insert(Impl::link(a.index_, b.index_));
}

void World::restore(Host& a, Host& b) {
    note(0x4e57 ^ (std::uint64_t(a.index_) << 8) ^ b.index_);
    impl_->cuts.erase(Impl::link(a.index_, b.index_));
    impl_->requeue_held();
}

void World::partition(const std::vector<Host*>& a, const std::vector<Host*>& b) {
    for (Host* x : a) {
        for (Host* y : b) {
            if (x != y) impl_->cuts.insert(Impl::link(x->index_, y->index_));
        }
    }
    ++faults_;
    note(0x9a27 ^ (std::uint64_t(a.size()) << 8) ^ b.size());
}

void World::heal() {
    note(0x4ea1);
    impl_->cuts.clear();
    impl_->requeue_held();
}

void World::set_latency(Host& a, Host& b, Duration d) {
    impl_->latency[Impl::link(a.index_, b.index_)] = d;
}

std::size_t World::reset_connections(Host& h) {
    Impl& m = *impl_;
    std::vector<int> fds;
    for (auto& [fd, s] : m.hs[h.index_].socks) {
        if (s->stream && s->st == SockState::connected && !s->reset) fds.push_back(fd);
    }
    for (int fd : fds) {
        if (Sock* s = m.find(h.index_, fd)) m.reset_sock(h.index_, *s);
    }
    faults_ += fds.size();
    note(0x7e5e7 ^ fds.size());
    return fds.size();
}

bool World::reset_one_connection(Host& h) {
    Impl& m = *impl_;
    std::vector<int> fds;
    for (auto& [fd, s] : m.hs[h.index_].socks) {
        if (s->stream && s->st == SockState::connected && !s->reset) fds.push_back(fd);
    }
    if (fds.empty()) return false;
    int fd = fds[rng_() % fds.size()];
    ++faults_;
    note(0x7e5e1 ^ static_cast<std::uint64_t>(fd));
    m.reset_sock(h.index_, *m.find(h.index_, fd));
    return true;
}

void World::disk_error(Host& h, int err) {
    if (err != 0) ++faults_;
    note(0xd15c ^ static_cast<std::uint64_t>(err));
    impl_->hs[h.index_].disk.error = err;
}

void World::disk_capacity(Host& h, std::size_t bytes) {
    impl_->hs[h.index_].disk.capacity = bytes;
}

void World::stall(Host& h, Duration d) {
    ++faults_;
    note(0x57a11 ^ static_cast<std::uint64_t>(d.count()));
    h.stalled_until_ = std::max(h.stalled_until_, now() + d);
}

void World::crash(Host& h) {
    if (!h.loop_) return;
    ++faults_;
    note(0xc4a54 ^ h.index_);
    Impl& m = *impl_;
    m.hs[h.index_].down = true;
    h.loop_.reset();  // its tasks unwind; nothing they do reaches the network
    m.wipe(h.index_);
    h.stalled_until_ = TimePoint{};
}

void World::restart(Host& h) {
    if (h.loop_) return;
    note(0x4e57a47 ^ h.index_);
    boot(h);
    impl_->requeue_held();
}

void World::at(Duration delay, std::function<void()> fn) {
    Event e;
    e.at = now() + std::max(Duration{}, delay);
    e.kind = Kind::action;
    e.fn = std::move(fn);
    impl_->push(std::move(e));
}

void World::note(std::uint64_t v) noexcept {
    hash_ = mix64(hash_ ^ v);
}

std::string World::summary() const {
    const double secs = std::chrono::duration<double>(elapsed()).count();
    return fmt::format("seed={} events={} sim_seconds={:.3f} hash={:016x}", seed_, events_, secs,
                       hash_);
}

std::optional<std::uint64_t> find_failing_seed(const std::function<bool(std::uint64_t)>& scenario,
                                               std::uint64_t first, std::uint64_t count) {
    auto one = [&](std::uint64_t s) {
        try {
            return scenario(s);
        } catch (const std::exception& e) {
            log_warn("sim: seed {} threw: {}", s, e.what());
            return false;
        }
    };
    if (auto env = seed_from_env()) {
        if (!one(*env)) return *env;
        return std::nullopt;
    }
    for (std::uint64_t s = first; s < first + count; ++s) {
        if (!one(s)) return s;
    }
    return std::nullopt;
}

}  // namespace corio::sim
