#include <corio/net/dns.hpp>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <exception>
#include <fstream>
#include <sstream>

#include <corio/net/tcp.hpp>
#include <corio/net/udp.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/resilience.hpp>
#include <corio/runtime/sync.hpp>
#include <corio/runtime/when_all.hpp>

namespace corio::net {

namespace {

std::error_code eai(int code) {
    return {code, resolve_category()};
}

std::vector<std::string_view> words(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        i = line.find_first_not_of(" \t\r", i);
        if (i == std::string_view::npos) break;
        const std::size_t end = std::min(line.size(), line.find_first_of(" \t\r", i));
        out.push_back(line.substr(i, end - i));
        i = end;
    }
    return out;
}

// The lines of `text` without comments (`#`, and `;` as resolv.conf allows).
template <class F>
void each_line(std::string_view text, F f) {
    while (!text.empty()) {
        const std::size_t nl = std::min(text.size(), text.find('\n'));
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(std::min(text.size(), nl + 1));
        line = line.substr(0, line.find_first_of("#;"));
        if (auto w = words(line); !w.empty()) f(w);
    }
}

// "ndots:3" -> 3 within [0, cap]; false when it is not that option.
bool option_value(std::string_view opt, std::string_view name, int cap, int& out) {
    if (!opt.starts_with(name) || opt.size() <= name.size() || opt[name.size()] != ':')
        return false;
    opt.remove_prefix(name.size() + 1);
    int v = 0;
    const auto [p, ec] = std::from_chars(opt.data(), opt.data() + opt.size(), v);
    if (ec != std::errc{} || p != opt.data() + opt.size() || v < 0) return false;
    out = std::min(v, cap);
    return true;
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return {};
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

Address to_address(const dns::IpAddress& ip, std::uint16_t port) {
    if (ip.size == 4) {
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        std::memcpy(&sa.sin_addr, ip.bytes.data(), 4);
        return Address(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
    }
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    std::memcpy(&sa.sin6_addr, ip.bytes.data(), 16);
    return Address(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
}

std::span<const std::byte> bytes_of(const std::string& s) noexcept {
    return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

std::uint16_t new_id() noexcept {
    return static_cast<std::uint16_t>(corio::detail::random_seed() >> 16);
}

}  // namespace

// ---- DnsConfig ----------------------------------------------------------------

DnsConfig DnsConfig::parse(std::string_view resolv_conf, std::string_view hosts,
                           std::string_view host_name) {
    DnsConfig c;
    each_line(resolv_conf, [&c](const std::vector<std::string_view>& w) {
        if (w[0] == "nameserver" && w.size() >= 2) {
            if (c.servers.size() >= 3) return;  // libc's MAXNS
            if (auto a = Address::from_ip(w[1], 53)) c.servers.push_back(*a);
        } else if ((w[0] == "search" || w[0] == "domain") && w.size() >= 2) {
            c.search.clear();  // the last search or domain line wins
            const std::size_t names = w[0] == "domain" ? 2 : w.size();  // domain: one name
            for (std::size_t i = 1; i < names; ++i) {
                if (dns::valid_name(w[i])) c.search.push_back(dns::canonical_name(w[i]));
            }
        } else if (w[0] == "options") {
            for (std::size_t i = 1; i < w.size(); ++i) {
                int v = 0;
                if (option_value(w[i], "ndots", 15, v)) {
                    c.ndots = v;
                } else if (option_value(w[i], "timeout", 30, v)) {
                    c.timeout = std::chrono::seconds(std::max(v, 1));
                } else if (option_value(w[i], "attempts", 5, v)) {
                    c.attempts = std::max(v, 1);
                } else if (w[i] == "rotate") {
                    c.rotate = true;
                } else if (w[i] == "edns0") {
                    c.edns = true;
                }
            }
        }
    });
    if (c.servers.empty()) c.servers.push_back(Address::loopback_v4(53));
    if (c.search.empty()) {
        // resolv.conf(5): without search or domain, the local domain is the
        // host name's part after its first dot.
        const std::size_t dot = host_name.find('.');
        if (dot != std::string_view::npos && dns::valid_name(host_name.substr(dot + 1))) {
            c.search.push_back(dns::canonical_name(host_name.substr(dot + 1)));
        }
    }
    each_line(hosts, [&c](const std::vector<std::string_view>& w) {
        auto ip = Address::from_ip(w[0], 0);
        if (!ip || w.size() < 2) return;
        for (std::size_t i = 1; i < w.size(); ++i) {
            if (dns::valid_name(w[i])) c.hosts.push_back(HostsEntry{dns::canonical_name(w[i]), *ip});
        }
    });
    return c;
}

DnsConfig DnsConfig::system(const std::string& resolv_conf, const std::string& hosts) {
    std::array<char, 256> h{};
    const bool named = ::gethostname(h.data(), h.size() - 1) == 0;
    return parse(read_file(resolv_conf), read_file(hosts), named ? h.data() : "");
}

// ---- Resolver -----------------------------------------------------------------

struct Resolver::Query {
    enum class Outcome { answer, nxdomain, failed, cancelled };
    Outcome outcome = Outcome::failed;
    bool unanswered = false;  // failed with no server answering at all (silence, unreachable)
    dns::Response response;
};

struct Resolver::Lookup {
    std::vector<dns::IpAddress> v4, v6;
    bool cancelled = false;
    // Per family (0: IPv4, 1: IPv6): whether the answer was NXDOMAIN, for how
    // many seconds it may be kept (0: not at all; a negative answer without
    // an SOA), and whether the query failed (unanswered: no server answered).
    std::array<bool, 2> nxdomain{}, failed{}, unanswered{};
    std::array<std::uint32_t, 2> keep{};

    // Whether `a` holds for a family asked for.
    static bool any(const std::array<bool, 2>& a, bool want4, bool want6) noexcept {
        return (want4 && a[0]) || (want6 && a[1]);
    }
    // Keeps only the families asked for.
    void narrow(bool want4, bool want6) {
        for (const std::size_t f : {std::size_t(0), std::size_t(1)}) {
            if (f == 0 ? want4 : want6) continue;
            (f == 0 ? v4 : v6).clear();
            nxdomain[f] = failed[f] = unanswered[f] = false;
        }
    }
};

// A lookup under way, which callers asking for the same name share.
struct Resolver::Flight {
    Event done;
    Lookup result;
    bool want4 = false, want6 = false;
};

Resolver::Resolver(DnsConfig cfg) : cfg_(std::move(cfg)) {
    cfg_.attempts = std::max(cfg_.attempts, 1);
    for (std::string& s : cfg_.search) {
        if (s.ends_with('.')) s.pop_back();
    }
}

Task<Result<std::vector<Address>>> Resolver::resolve(std::string host, std::uint16_t port,
                                                     ResolveOptions opts) {
    ++stats_.lookups;
    std::string_view h = host;
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    if (auto ip = Address::from_ip(h, port)) {
        if (opts.family != AF_UNSPEC && opts.family != ip->family()) co_return eai(EAI_ADDRFAMILY);
        co_return std::vector<Address>{*ip};
    }
    if (opts.numeric_only || !dns::valid_name(h)) co_return eai(EAI_NONAME);
    const bool absolute = h.ends_with('.');
    const std::string name = dns::canonical_name(h);
    const bool want4 = opts.family != AF_INET6;
    const bool want6 = opts.family != AF_INET;

    std::vector<Address> out;
    for (const HostsEntry& e : cfg_.hosts) {
        if (e.name == name && ((e.ip.is_ipv4() && want4) || (e.ip.is_ipv6() && want6))) {
            out.push_back(e.ip.with_port(port));
        }
    }
    if (!out.empty()) {
        ++stats_.hosts_hits;
        co_return out;
    }

    std::vector<std::string> names;
    const auto dots = std::count(name.begin(), name.end(), '.');
    if (absolute || dots >= cfg_.ndots) names.push_back(name);
    if (!absolute) {
        for (const std::string& domain : cfg_.search) {
            std::string full = name + "." + domain;
            if (dns::valid_name(full)) names.push_back(std::move(full));
        }
        if (dots < cfg_.ndots) names.push_back(name);
    }
    bool failed = false, nodata = false;
    for (const std::string& candidate : names) {
        Lookup l = co_await lookup_shared(candidate, want4, want6);
        if (l.cancelled) co_return std::make_error_code(std::errc::operation_canceled);
        for (const auto* v : {&l.v4, &l.v6}) {
            for (const dns::IpAddress& ip : *v) {
                Address a = to_address(ip, port);
                if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
            }
        }
        if (!out.empty()) co_return out;
        if (Lookup::any(l.failed, want4, want6)) {
            failed = true;
            // As libc's search: a server that failed (SERVFAIL) lets the next
            // name be tried; one that did not answer at all ends the search,
            // or a name further down could stand in for this one.
            if (Lookup::any(l.unanswered, want4, want6)) break;
        } else if (!Lookup::any(l.nxdomain, want4, want6)) {
            nodata = true;  // the name is there, without an address of the family
        }
    }
    co_return eai(failed ? EAI_AGAIN : nodata ? EAI_NODATA : EAI_NONAME);
}

Task<Resolver::Lookup> Resolver::lookup_shared(std::string name, bool want4, bool want6) {
    for (;;) {
        const auto hit = cache_.find(name);
        if (hit != cache_.end() && hit->second.expires > Loop::current().now() &&
            (!want4 || hit->second.have4) && (!want6 || hit->second.have6)) {
            ++stats_.cache_hits;
            const Cached& c = hit->second;
            Lookup l;
            l.v4 = c.v4;
            l.v6 = c.v6;
            for (const std::size_t f : {std::size_t(0), std::size_t(1)}) {
                l.nxdomain[f] = c.nxdomain;
            }
            l.narrow(want4, want6);
            co_return l;
        }
        if (auto f = flights_.find(name);
            f != flights_.end() && (!want4 || f->second->want4) && (!want6 || f->second->want6)) {
            const std::shared_ptr<Flight> flight = f->second;
            auto woke = co_await flight->done.wait();
            if (!woke) {
                Lookup l;
                l.cancelled = true;
                co_return l;
            }
            // Its first asker gave up: look again (the cache, another flight,
            // or a lookup of our own that the others then share).
            if (flight->result.cancelled) continue;
            ++stats_.shared;
            Lookup l = flight->result;
            l.narrow(want4, want6);
            co_return l;
        }
        // Ours to look up; whoever asks meanwhile waits for it. The guard
        // takes the flight off the table however this ends.
        struct Unlist {
            Resolver* self;
            const std::string& name;
            std::shared_ptr<Flight> flight;
            ~Unlist() {
                const auto it = self->flights_.find(name);
                if (it != self->flights_.end() && it->second == flight) self->flights_.erase(it);
            }
        } unlist{this, name, std::make_shared<Flight>()};
        const std::shared_ptr<Flight>& flight = unlist.flight;
        flight->want4 = want4;
        flight->want6 = want6;
        flight->result.cancelled = true;  // until it has a result
        flights_[name] = flight;
        Lookup l;
        try {
            l = co_await lookup(name, want4, want6);
        } catch (...) {
            flight->done.set();  // the waiters look up for themselves
            throw;
        }
        flight->result = l;
        flight->done.set();
        if (!l.cancelled) remember(name, l, want4, want6);
        co_return l;
    }
}

Task<Resolver::Lookup> Resolver::lookup(std::string name, bool want4, bool want6) {
    Lookup l;
    const auto take = [&l, &name](const Query& q, bool v4) {
        const std::size_t f = v4 ? 0 : 1;
        switch (q.outcome) {
            case Query::Outcome::cancelled:
                l.cancelled = true;
                return;
            case Query::Outcome::failed:
                l.failed[f] = true;
                l.unanswered[f] = q.unanswered;
                return;
            case Query::Outcome::nxdomain:
            case Query::Outcome::answer:
                break;
        }
        const dns::Response& r = q.response;
        l.nxdomain[f] = q.outcome == Query::Outcome::nxdomain;
        (v4 ? l.v4 : l.v6) = r.addresses;
        if (!r.addresses.empty()) {
            l.keep[f] = r.ttl;
        } else if (r.soa) {
            // Behind a CNAME, the negative answer is about the chain's end:
            // kept no longer than the chain.
            l.keep[f] = r.canonical != name ? std::min(r.negative_ttl, r.ttl) : r.negative_ttl;
        }
    };
    if (want4 && want6) {
        auto both = co_await when_all(query(name, dns::Type::a), query(name, dns::Type::aaaa));
        take(std::get<0>(both), true);
        take(std::get<1>(both), false);
    } else {
        Query q = co_await query(name, want4 ? dns::Type::a : dns::Type::aaaa);
        take(q, want4);
    }
    co_return l;
}

Task<Resolver::Query> Resolver::query(std::string name, dns::Type type) {
    Query q;
    const std::size_t n = cfg_.servers.size();
    if (n == 0) {
        q.outcome = Query::Outcome::nxdomain;  // no server: the hosts table is all there is
        co_return q;
    }
    bool answered = false;  // some server answered, if only with a failure
    const std::size_t first = cfg_.rotate && n > 0 ? next_server_++ % n : 0;
    for (int round = 0; round < cfg_.attempts; ++round) {
        for (std::size_t i = 0; i < n; ++i) {
            const Address& server = cfg_.servers[(first + i) % n];
            auto r = co_await exchange(server, name, type, cfg_.edns);
            if (r && cfg_.edns &&
                (r->rcode == dns::Rcode::formerr || r->rcode == dns::Rcode::notimp)) {
                // A server (or a box on the way) that does not know EDNS0:
                // ask it again without.
                r = co_await exchange(server, name, type, false);
            }
            if (!r && r.error() == std::errc::operation_canceled) {
                q.outcome = Query::Outcome::cancelled;
                co_return q;
            }
            if (!r) {
                if (r.error() == std::errc::timed_out) {
                    ++stats_.timeouts;
                } else {
                    ++stats_.failures;
                    answered = answered || r.error() == std::errc::bad_message;
                }
                continue;
            }
            answered = true;
            if (r->rcode == dns::Rcode::noerror || r->rcode == dns::Rcode::nxdomain) {
                q.outcome = r->rcode == dns::Rcode::noerror ? Query::Outcome::answer
                                                            : Query::Outcome::nxdomain;
                q.response = std::move(*r);
                co_return q;
            }
            ++stats_.failures;  // SERVFAIL, REFUSED, NOTIMP, FORMERR: ask the next one
        }
    }
    q.outcome = Query::Outcome::failed;
    q.unanswered = !answered;
    co_return q;
}

Task<Result<dns::Response>> Resolver::exchange(Address server, std::string name, dns::Type type,
                                               bool edns) {
    Loop& loop = Loop::current();
    const TimePoint end = loop.now() + cfg_.timeout;
    auto sock = UdpSocket::open(server.family());
    if (!sock) co_return sock.error();
    if (auto c = sock->connect(server); !c) co_return c.error();
    const std::uint16_t id = new_id();
    const std::string query = dns::encode_query(id, name, type, edns);
    ++stats_.queries;
    auto sent = co_await sock->send(bytes_of(query));
    if (!sent) co_return sent.error();
    // Room for more than the 512 (or edns_payload) bytes asked for: a server
    // that sends a longer datagram anyway is read, not cut.
    std::vector<std::uint8_t> buf(4096);
    const auto view = std::as_writable_bytes(std::span(buf));
    for (;;) {
        const Duration left = end - loop.now();
        if (left <= Duration::zero()) co_return std::make_error_code(std::errc::timed_out);
        auto n = co_await sock->recv(view).timeout(left);
        if (!n) co_return n.error();  // timed_out, ICMP unreachable, operation_canceled
        dns::Response resp;
        switch (dns::parse_response(std::span(buf).first(*n), id, name, type, resp)) {
            case dns::Parse::foreign:
                ++stats_.ignored;
                continue;
            case dns::Parse::malformed:
                co_return std::make_error_code(std::errc::bad_message);
            case dns::Parse::ok:
                break;
        }
        if (!resp.truncated) co_return resp;
        sock->close();
        co_return co_await exchange_tcp(server, std::move(name), type, end);
    }
}

Task<Result<dns::Response>> Resolver::exchange_tcp(Address server, std::string name, dns::Type type,
                                                   TimePoint end) {
    Loop& loop = Loop::current();
    const auto left = [&] { return std::max(Duration::zero(), end - loop.now()); };
    if (left() == Duration::zero()) co_return std::make_error_code(std::errc::timed_out);
    ++stats_.tcp_queries;
    auto s = co_await TcpStream::connect(server, left());
    if (!s) co_return s.error();
    const std::uint16_t id = new_id();
    const std::string query = dns::encode_query(id, name, type);
    std::string framed;
    framed.push_back(char(query.size() >> 8));
    framed.push_back(char(query.size() & 0xff));
    framed += query;
    auto sent = co_await s->send_all(bytes_of(framed)).timeout(left());
    if (!sent) co_return sent.error();
    std::array<std::uint8_t, 2> len{};
    auto got = co_await s->read_exact(std::as_writable_bytes(std::span(len))).timeout(left());
    if (!got) co_return got.error();
    std::vector<std::uint8_t> buf((std::size_t(len[0]) << 8) | len[1]);
    got = co_await s->read_exact(std::as_writable_bytes(std::span(buf))).timeout(left());
    if (!got) co_return got.error();
    dns::Response resp;
    // Truncated over TCP too: the records are not all there, which is no answer.
    if (dns::parse_response(buf, id, name, type, resp) != dns::Parse::ok || resp.truncated) {
        co_return std::make_error_code(std::errc::bad_message);
    }
    co_return resp;
}

void Resolver::remember(const std::string& name, const Lookup& l, bool want4, bool want6) {
    if (cfg_.cache_entries == 0 || l.cancelled || Lookup::any(l.failed, want4, want6)) return;
    const TimePoint now = Loop::current().now();
    // Kept only when every asked family's answer may be, for the shortest.
    TimePoint expires = TimePoint::max();
    for (const std::size_t f : {std::size_t(0), std::size_t(1)}) {
        if (!(f == 0 ? want4 : want6)) continue;
        // Every asked family has an answer here (none failed, none cancelled).
        const bool negative = (f == 0 ? l.v4 : l.v6).empty();
        const Duration cap = negative ? cfg_.max_negative_ttl : cfg_.max_ttl;
        const Duration keep = std::min<Duration>(std::chrono::seconds(l.keep[f]), cap);
        if (keep <= Duration::zero()) return;
        expires = std::min(expires, now + keep);
    }
    if (cache_.size() >= cfg_.cache_entries && cache_.find(name) == cache_.end()) {
        std::erase_if(cache_, [now](const auto& kv) { return kv.second.expires <= now; });
        if (cache_.size() >= cfg_.cache_entries) cache_.clear();
    }
    Cached& c = cache_[name];
    if (c.expires <= now) c = Cached{};
    if (want4) {
        c.v4 = l.v4;
        c.have4 = true;
    }
    if (want6) {
        c.v6 = l.v6;
        c.have6 = true;
    }
    c.nxdomain = Lookup::any(l.nxdomain, want4, want6);
    c.expires = c.expires == TimePoint{} ? expires : std::min(c.expires, expires);
}

}  // namespace corio::net
