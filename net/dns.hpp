#pragma once
// net::Resolver: a stub resolver that runs on the loop. It asks the name
// servers of /etc/resolv.conf over UDP (TCP when an answer is truncated) with
// corio's own socket operations, so a lookup takes no thread, can be cancelled
// and bounded like any other operation, and runs on io_uring, epoll and the
// simulation alike. net::resolve() (getaddrinfo on the blocking pool) stays
// the default: it honours nsswitch.conf (mDNS, LDAP, ...), which this does not.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <corio/net/address.hpp>
#include <corio/net/dns_message.hpp>
#include <corio/net/resolve.hpp>
#include <corio/runtime/clock.hpp>
#include <corio/runtime/result.hpp>
#include <corio/runtime/task.hpp>

namespace corio::net {

/// One line's worth of a hosts file: a name and its address (port 0).
struct HostsEntry {
    std::string name;  ///< lower case, without a final dot
    Address ip;        ///< port 0
};

/// Where and how a Resolver asks (resolv.conf(5) and hosts(5) in a struct).
struct DnsConfig {
    /// The name servers, tried in this order (port 53 from resolv.conf).
    /// None: only numeric names and the hosts table resolve.
    std::vector<Address> servers{};
    /// Domains tried after a name with fewer than `ndots` dots (see Resolver).
    std::vector<std::string> search{};
    /// A name with at least this many dots is first tried as it is.
    int ndots = 1;
    /// How long one query waits for one server's answer.
    std::chrono::milliseconds timeout{5000};
    /// Rounds over all the servers before a query fails.
    int attempts = 2;
    /// Start each query at the next server in turn instead of the first.
    bool rotate = false;
    /// Offer EDNS0 (UDP answers up to dns::edns_payload bytes instead of 512).
    bool edns = false;
    /// Names answered without asking, in file order (a hosts file).
    std::vector<HostsEntry> hosts{};
    /// Names whose answers are kept (for their TTL, at most `max_ttl`; negative
    /// ones as `max_negative_ttl` says); 0: no cache.
    std::size_t cache_entries = 1024;
    /// The longest an answer is kept, whatever its TTL.
    std::chrono::seconds max_ttl{300};
    /// The longest a negative answer (NXDOMAIN, or no address of a family) is
    /// kept; only one that came with an SOA record is, for at most the time
    /// the SOA gives (RFC 2308). 0: none is.
    std::chrono::seconds max_negative_ttl{60};

    /// Reads resolv.conf text (`nameserver`, at most three; `search`,
    /// `domain` (one name); `options ndots:N timeout:N attempts:N rotate edns0`, capped
    /// as resolv.conf(5) says) and hosts text (`IP NAME ALIASES...`). Unknown
    /// lines and bad addresses are skipped. No nameserver: 127.0.0.1:53, as
    /// libc does. Without a `search` or `domain` line the search list is
    /// `host_name`'s domain (after its first dot), as resolv.conf(5) says.
    static DnsConfig parse(std::string_view resolv_conf, std::string_view hosts = {},
                           std::string_view host_name = {});
    /// parse() of the two files and the machine's host name (gethostname); a
    /// missing file counts as empty. It reads the files with
    /// blocking calls: make it before the loop runs, or on the blocking pool.
    static DnsConfig system(const std::string& resolv_conf = "/etc/resolv.conf",
                            const std::string& hosts = "/etc/hosts");
};

/// What a Resolver did, for tests and monitoring.
struct ResolverStats {
    std::uint64_t lookups = 0;      ///< resolve() calls
    std::uint64_t hosts_hits = 0;   ///< answered from the hosts table
    std::uint64_t cache_hits = 0;   ///< answered from the cache (no query)
    std::uint64_t shared = 0;       ///< answered by another caller's lookup of the name in flight
    std::uint64_t queries = 0;      ///< queries sent over UDP
    std::uint64_t tcp_queries = 0;  ///< queries sent again over TCP (a truncated answer)
    std::uint64_t timeouts = 0;     ///< queries a server did not answer in time
    std::uint64_t ignored = 0;      ///< datagrams that answered no query of ours
    std::uint64_t failures = 0;     ///< server failures: SERVFAIL, REFUSED, unreadable answers, ...
};

/// A stub resolver. Lives on one loop (not thread-safe: make one per loop);
/// must outlive the lookups it runs.
///
/// resolve(host, port) gives the addresses of `host`: a numeric address as it
/// is; a name from the hosts table when it is there (for the asked family);
/// otherwise from DNS: A and AAAA queries (both at once for AF_UNSPEC) for
/// the name, tried first as it is when it has at least `ndots` dots (or ends
/// with a dot, which means "no search"), else after the `search` domains.
/// Each query goes to the servers in order, `timeout` each, `attempts`
/// rounds; a server that fails (SERVFAIL, REFUSED, no answer, an unreadable
/// answer, ICMP unreachable) passes the query to the next one, NXDOMAIN ends
/// the name. CNAME chains are followed within the answer. Answers are cached
/// per name for their TTL, negative ones (with an SOA) too, so a name of the
/// search list that does not exist is not asked again at once. A lookup of a name
/// that is already being looked up (for the same families or more) waits for
/// that one's answer instead of asking again. Each query has a
/// random id and its own connected socket (so a random source port); a
/// datagram with another id or question is ignored. IPv4 addresses come
/// first, then IPv6, each in the server's order.
///
/// Errors, as net::resolve()'s (resolve_category(), describe() names the
/// host): EAI_NONAME when no name of the search exists, EAI_NODATA when one
/// exists without an address of the asked family, EAI_AGAIN when a server
/// failed along the way and no address came (a server that answers nothing
/// at all ends the search there, as libc's does: a name further down the
/// list must not stand in for one that could not be asked), EAI_ADDRFAMILY
/// for a numeric address of the other family; operation_canceled when the
/// lookup was cancelled. ResolveOptions::socktype is not used (addresses
/// only). A server that answers FORMERR or NOTIMP to a query with EDNS0 is
/// asked again without it.
class Resolver {
public:
    /// A resolver with `cfg` (by default the system's files).
    explicit Resolver(DnsConfig cfg = DnsConfig::system());
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    /// The addresses of `host` with `port` (see the class comment).
    Task<Result<std::vector<Address>>> resolve(std::string host, std::uint16_t port,
                                               ResolveOptions opts = {});

    /// The configuration it runs with.
    const DnsConfig& config() const noexcept { return cfg_; }
    /// What it has done so far.
    const ResolverStats& stats() const noexcept { return stats_; }
    /// Forgets every cached answer.
    void clear_cache() noexcept { cache_.clear(); }

private:
    struct Query;
    struct Lookup;
    struct Flight;
    struct Cached {
        std::vector<dns::IpAddress> v4, v6;
        bool have4 = false, have6 = false;
        bool nxdomain = false;
        TimePoint expires{};
    };
    Task<Lookup> lookup_shared(std::string name, bool want4, bool want6);
    Task<Lookup> lookup(std::string name, bool want4, bool want6);
    Task<Query> query(std::string name, dns::Type type);
    Task<Result<dns::Response>> exchange(Address server, std::string name, dns::Type type,
                                         bool edns);
    Task<Result<dns::Response>> exchange_tcp(Address server, std::string name, dns::Type type,
                                             TimePoint end);
    void remember(const std::string& name, const Lookup& l, bool want4, bool want6);

    DnsConfig cfg_;
    ResolverStats stats_;
    std::unordered_map<std::string, Cached> cache_;
    std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;  // lookups under way
    unsigned next_server_ = 0;  // rotate
};

}  // namespace corio::net
