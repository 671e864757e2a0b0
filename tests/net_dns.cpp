// net::Resolver against scripted name servers on loopback (UDP, and TCP for
// truncated answers), on io_uring, epoll and the simulation: answers, CNAMEs,
// the search list and ndots, rotate and edns0, the cache (negative answers as
// their SOA says), lookups shared while in flight, failing, silent and
// unreachable servers, forged datagrams, cancellation, a full descriptor
// table, the hosts table and numeric names.
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "dns_support.hpp"

namespace net_dns_test {

using namespace corio;
using namespace std::chrono_literals;

using namespace test_dns;

namespace {

net::DnsConfig config_for(std::vector<net::Address> servers) {
    net::DnsConfig c;
    c.servers = std::move(servers);
    c.timeout = 10s;  // no answer in these tests comes late: only a silent server waits it out
    c.attempts = 1;
    return c;
}

// Silent for the first `n` questions, then answering as `then`.
Script silent_first(int n, Script then) {
    auto seen = std::make_shared<int>(0);
    return [n, seen, then = std::move(then)](const Asked& a) -> std::vector<Reply> {
        if (++*seen <= n) return {};
        return then(a);
    };
}

// Resolves `name` (both families) into *out.
Task<void> resolve_into(net::Resolver* r, std::string name,
                        Result<std::vector<net::Address>>* out) {
    *out = co_await r->resolve(std::move(name), 1);
}

std::vector<std::string> texts(const std::vector<net::Address>& v) {
    std::vector<std::string> out;
    for (const auto& a : v)
        out.push_back(a.to_string());
    return out;
}

}  // namespace

TEST_CASE("dns: A and AAAA, IPv4 first, then from the cache", "[net][dns]") {
    test::run([](Loop&) -> Task<void> {
        Server srv(zone({"www.example.test"}));
        REQUIRE(srv.start());
        net::Resolver r(config_for({srv.address()}));
        auto a = co_await r.resolve("WWW.example.test", 8080);
        REQUIRE(a);
        CHECK(texts(*a) == std::vector<std::string>{"192.0.2.1:8080", "[2001:db8::1]:8080"});
        CHECK(r.stats().queries == 2);
        CHECK(srv.log().size() == 2);
        net::ResolveOptions only6;
        only6.family = AF_INET6;
        auto b = co_await r.resolve("www.example.test.", 443, only6);
        REQUIRE(b);
        CHECK(texts(*b) == std::vector<std::string>{"[2001:db8::1]:443"});
        CHECK(r.stats().cache_hits == 1);
        CHECK(r.stats().queries == 2);  // no query: cached for the answer's TTL
        r.clear_cache();
        auto c = co_await r.resolve("www.example.test", 1, only6);
        REQUIRE(c);
        CHECK(r.stats().queries == 3);
        CHECK(srv.log().back().type == 28);
        co_await srv.stop();
    });
}

TEST_CASE("dns: a CNAME chain in the answer", "[net][dns]") {
    test::run([](Loop&) -> Task<void> {
        // alias -> edge -> cdn, given out of order, and an address of a name
        // outside the chain (which is not taken).
        Server srv([](const Asked& a) -> std::vector<Reply> {
            Reply r;
            if (a.name == "dangling.test") {
                r.records = {{5, name_rdata("nowhere.test")}};
                return {r};
            }
            if (a.type != 1) return {r};
            r.records = {{1, v4("192.0.2.9")},
                         {5, name_rdata("cdn.test")},
                         {1, v4("203.0.113.1")},
                         {5, name_rdata("edge.test")}};
            r.owners = {"cdn.test", "edge.test", "other.test", ""};
            return {r};
        });
        REQUIRE(srv.start());
        net::Resolver r(config_for({srv.address()}));
        net::ResolveOptions o;
        o.family = AF_INET;
        auto a = co_await r.resolve("alias.test", 80, o);
        REQUIRE(a);
        CHECK(texts(*a) == std::vector<std::string>{"192.0.2.9:80"});
        // A chain whose end has no address in the answer: the name is there,
        // without an address (EAI_NODATA, as getaddrinfo says it).
        auto none = co_await r.resolve("dangling.test", 80, o);
        REQUIRE(!none);
        CHECK(none.error() == std::error_code(EAI_NODATA, net::resolve_category()));
        co_await srv.stop();
    });
}

TEST_CASE("dns: NXDOMAIN, no records, and the search list", "[net][dns]") {
    test::run([](Loop&) -> Task<void> {
        Server srv(zone({"db.b.test", "x.y"}));
        REQUIRE(srv.start());
        auto cfg = config_for({srv.address()});
        cfg.search = {"a.test", "b.test"};
        net::Resolver r(cfg);
        net::ResolveOptions o;
        o.family = AF_INET;
        // No dot (fewer than ndots=1): the search domains first, then the name.
        auto db = co_await r.resolve("db", 5432, o);
        REQUIRE(db);
        CHECK(texts(*db) == std::vector<std::string>{"192.0.2.1:5432"});
        REQUIRE(srv.log().size() == 2);
        CHECK(srv.log()[0].name == "db.a.test");
        CHECK(srv.log()[1].name == "db.b.test");
        // A dotted name: as it is first.
        auto xy = co_await r.resolve("x.y", 1, o);
        REQUIRE(xy);
        CHECK(srv.log()[2].name == "x.y");
        // A final dot: no search at all.
        auto abs = co_await r.resolve("db.", 1, o);
        REQUIRE(!abs);
        CHECK(abs.error() == std::error_code(EAI_NONAME, net::resolve_category()));
        CHECK(srv.log().back().name == "db");
        const std::size_t before = srv.log().size();
        auto missing = co_await r.resolve("nowhere", 1, o);
        REQUIRE(!missing);
        CHECK(missing.error() == std::error_code(EAI_NONAME, net::resolve_category()));
        CHECK(net::describe("resolve", "nowhere:1", missing.error())
                  .starts_with("resolve nowhere:1: "));
        CHECK(srv.log().size() == before + 3);  // nowhere.a.test, nowhere.b.test, nowhere
        co_await srv.stop();
    });
}

TEST_CASE("dns: negative answers are kept as their SOA says", "[net][dns]") {
    test::run([](Loop&) -> Task<void> {
        // NXDOMAIN for every name but v4only.test; that one has an A record
        // and no AAAA (NODATA). Names under "soa." come with an SOA.
        Server srv([](const Asked& a) -> std::vector<Reply> {
            Reply r;
            const bool soa = a.name.starts_with("soa.");
            if (soa) {
                r.soa_ttl = 300;
                r.soa_minimum = 30;
            }
            if (a.name != "v4only.test" && a.name != "soa.v4only.test") {
                r.rcode = 3;
            } else if (a.type == 1) {
                r.records = {{1, v4("192.0.2.4")}};
            }
            return {r};
        });
        REQUIRE(srv.start());
        net::Resolver r(config_for({srv.address()}));
        const auto nxdomain = std::error_code(EAI_NONAME, net::resolve_category());
        // With an SOA: asked once, then answered from the cache.
        for (int i = 0; i < 3; ++i) {
            auto e = co_await r.resolve("soa.missing.test", 1);
            REQUIRE(!e);
            CHECK(e.error() == nxdomain);
        }
        CHECK(srv.log().size() == 2);
        CHECK(r.stats().cache_hits == 2);
        // Without one: asked every time (RFC 2308: not kept).
        for (int i = 0; i < 2; ++i) {
            auto e = co_await r.resolve("missing.test", 1);
            CHECK(!e);
        }
        CHECK(srv.log().size() == 6);
        // An A record and NODATA for AAAA with an SOA: the whole answer kept.
        auto a = co_await r.resolve("soa.v4only.test", 1);
        REQUIRE(a);
        CHECK(texts(*a) == std::vector<std::string>{"192.0.2.4:1"});
        auto b = co_await r.resolve("soa.v4only.test", 1);
        REQUIRE(b);
        CHECK(srv.log().size() == 8);
        // NODATA without an SOA: asked again (both families, as one lookup).
        auto c = co_await r.resolve("v4only.test", 1);
        auto d = co_await r.resolve("v4only.test", 1);
        REQUIRE(c);
        REQUIRE(d);
        CHECK(srv.log().size() == 12);
        // Behind a CNAME of TTL 0, a negative answer is kept no longer: not at all.
        const std::size_t before = srv.log().size();
        net::ResolveOptions o;
        o.family = AF_INET;
        Server alias([](const Asked&) -> std::vector<Reply> {
            Reply r;
            r.records = {{5, name_rdata("soa.gone.test")}};
            r.ttl = 0;
            r.soa_ttl = 300;
            r.soa_minimum = 300;
            return {r};
        });
        REQUIRE(alias.start());
        net::Resolver via(config_for({alias.address()}));
        for (int i = 0; i < 2; ++i) {
            auto e = co_await via.resolve("soa.alias.test", 1, o);
            REQUIRE(!e);
            CHECK(e.error() == std::error_code(EAI_NODATA, net::resolve_category()));
        }
        CHECK(alias.log().size() == 2);
        CHECK(via.stats().cache_hits == 0);
        co_await alias.stop();
        CHECK(srv.log().size() == before);
        // max_negative_ttl = 0: no negative answer is kept.
        auto cfg = config_for({srv.address()});
        cfg.max_negative_ttl = std::chrono::seconds(0);
        net::Resolver none(cfg);
        (void)co_await none.resolve("soa.missing.test", 1);
        (void)co_await none.resolve("soa.missing.test", 1);
        CHECK(none.stats().cache_hits == 0);
        CHECK(none.stats().queries == 4);
        co_await srv.stop();
    });
}

TEST_CASE("dns: rotate, edns0 and ndots", "[net][dns]") {
    test::run([](Loop&) -> Task<void> {
        Server one(zone({"r.test", "a.b.corp"}));
        Server two(zone({"r.test", "a.b.corp"}));
        REQUIRE(one.start());
        REQUIRE(two.start());
        auto cfg = config_for({one.address(), two.address()});
        cfg.rotate = true;
        cfg.edns = true;
        cfg.cache_entries = 0;  // every lookup asks
        net::Resolver r(cfg);
        net::ResolveOptions o;
        o.family = AF_INET;
        for (int i = 0; i < 4; ++i) {
            auto a = co_await r.resolve("r.test", 1, o);
            REQUIRE(a);
        }
        // Each query starts at the next server: two each.
        CHECK(one.log().size() == 2);
        CHECK(two.log().size() == 2);
        for (const auto* log : {&one.log(), &two.log()}) {
            for (const Asked& q : *log)
                CHECK(q.edns);
        }
        // ndots 2: a name with one dot goes through the search list first.
        auto nd = config_for({one.address()});
        nd.ndots = 2;
        nd.search = {"corp"};
        net::Resolver r2(nd);
        auto b = co_await r2.resolve("a.b", 1, o);
        REQUIRE(b);
        REQUIRE(one.log().size() == 3);
        CHECK(one.log()[2].name == "a.b.corp");
        CHECK_FALSE(one.log()[2].edns);
        co_await one.stop();
        co_await two.stop();
    });
}

TEST_CASE("dns: a server that does not answer ends the search list there", "[net][dns]") {
    test::run([](Loop&) -> Task<void> {
        // db.a.test exists but its server is silent; db.b.test is another host.
        auto answer = zone({"db.b.test"});
        Server srv([&](const Asked& a) -> std::vector<Reply> {
            if (a.name == "db.a.test") return {};
            return answer(a);
        });
        REQUIRE(srv.start());
        auto cfg = config_for({srv.address()});
        cfg.search = {"a.test", "b.test"};
        cfg.timeout = 200ms;  // only how long the silence lasts
        net::Resolver r(cfg);
        auto e = co_await r.resolve("db", 1);
        REQUIRE(!e);
        CHECK(e.error() == std::error_code(EAI_AGAIN, net::resolve_category()));
        for (const Asked& q : srv.log())
            CHECK(q.name == "db.a.test");
        // SERVFAIL, by contrast, lets the next name be tried (as libc does).
        Server failing([&](const Asked& a) -> std::vector<Reply> {
            Reply fail;
            fail.rcode = 2;
            if (a.name == "db.a.test") return {fail};
            return answer(a);
        });
        REQUIRE(failing.start());
        cfg.servers = {failing.address()};
        net::Resolver r2(cfg);
        auto ok = co_await r2.resolve("db", 1);
        REQUIRE(ok);
        CHECK(texts(*ok) == std::vector<std::string>{"192.0.2.1:1", "[2001:db8::1]:1"});
        co_await srv.stop();
        co_await failing.stop();
    });
}

TEST_CASE("dns: a server that refuses EDNS0 is asked again without it", "[net][dns]") {
    test::run([](Loop&) -> Task<void> {
        auto answer = zone({"old.test"});
        Server srv([&](const Asked& a) -> std::vector<Reply> {
            Reply formerr;
            formerr.rcode = 1;
            if (a.edns) return {formerr};
            return answer(a);
        });
        REQUIRE(srv.start());
        auto cfg = config_for({srv.address()});
        cfg.edns = true;
        net::Resolver r(cfg);
        net::ResolveOptions o;
        o.family = AF_INET;
        auto a = co_await r.resolve("old.test", 1, o);
        REQUIRE(a);
        CHECK(texts(*a) == std::vector<std::string>{"192.0.2.1:1"});
        REQUIRE(srv.log().size() == 2);
        CHECK(srv.log()[0].edns);
        CHECK_FALSE(srv.log()[1].edns);
        co_await srv.stop();
    });
}

TEST_CASE("dns: an answer truncated over TCP too is no answer", "[net][dns]") {
    test::run([](Loop&) -> Task<void> {
        Server srv([](const Asked&) -> std::vector<Reply> {
            Reply r;
            r.truncated = true;
            r.truncated_tcp = true;
            return {r};
        });
        REQUIRE(srv.start());
        net::Resolver r(config_for({srv.address()}));
        net::ResolveOptions o;
        o.family = AF_INET;
        auto a = co_await r.resolve("cut.test", 1, o);
        REQUIRE(!a);
        CHECK(a.error() == std::error_code(EAI_AGAIN, net::resolve_category()));
        CHECK(r.stats().tcp_queries == 1);
        CHECK(r.stats().failures == 1);
        co_await srv.stop();
    });
}

TEST_CASE("dns: a failing server passes the query on", "[net][dns]") {
    test::run([](Loop&) -> Task<void> {
        Server failing([](const Asked&) -> std::vector<Reply> {
            Reply r;
            r.rcode = 2;  // SERVFAIL
            return {r};
        });
        Server good(zone({"svc.test"}));
        REQUIRE(failing.start());
        REQUIRE(good.start());
        // An address where nothing listens: ICMP port unreachable (ECONNREFUSED).
        auto closed = net::UdpSocket::bind(net::Address::loopback_v4(0));
        REQUIRE(closed);
        const net::Address nobody = *closed->local_address();
        closed->close();
        net::Resolver r(config_for({nobody, failing.address(), good.address()}));
        net::ResolveOptions o;
        o.family = AF_INET;
        auto a = co_await r.resolve("svc.test", 1, o);
        REQUIRE(a);
        CHECK(texts(*a) == std::vector<std::string>{"192.0.2.1:1"});
        // Unreachable and SERVFAIL (should another process take the closed
        // port meanwhile, it is silent instead: a timeout).
        CHECK(r.stats().failures + r.stats().timeouts == 2);
        CHECK(r.stats().queries == 3);
        CHECK(failing.log().size() == 1);

        // Every server failing: EAI_AGAIN, a temporary failure, after
        // `attempts` rounds.
        auto cfg = config_for({failing.address()});
        cfg.attempts = 3;
        net::Resolver bad(cfg);
        auto e = co_await bad.resolve("svc.test", 1, o);
        REQUIRE(!e);
        CHECK(e.error() == std::error_code(EAI_AGAIN, net::resolve_category()));
        CHECK(bad.stats().failures == 3);
        co_await failing.stop();
        co_await good.stop();
    });
}

TEST_CASE("dns: a silent server times out, the next one answers", "[net][dns]") {
    test::run([](Loop&) -> Task<void> {
        Server silent([](const Asked&) { return std::vector<Reply>{}; });
        Server good(zone({"svc.test"}));
        REQUIRE(silent.start());
        REQUIRE(good.start());
        auto cfg = config_for({silent.address(), good.address()});
        cfg.timeout = 100ms;  // the silent server never answers: only how long the test takes
        net::Resolver r(cfg);
        net::ResolveOptions o;
        o.family = AF_INET;
        auto a = co_await r.resolve("svc.test", 1, o);
        CHECK(r.stats().timeouts >= 1);
        CHECK(silent.log().size() == 1);
        // In virtual time the good server answers within the 100 ms; on a
        // real backend a busy machine may make it late too, and then the
        // lookup fails with EAI_AGAIN (both right: the silent server was
        // waited out either way).
        if (test::sim_requested()) REQUIRE(a);
        if (a) {
            CHECK(texts(*a) == std::vector<std::string>{"192.0.2.1:1"});
            CHECK(r.stats().timeouts == 1);
        } else {
            CHECK(a.error() == std::error_code(EAI_AGAIN, net::resolve_category()));
        }
        co_await silent.stop();
        co_await good.stop();
    });
}

TEST_CASE("dns: forged and unreadable datagrams", "[net][dns]") {
    test::run([](Loop&) -> Task<void> {
        // Another id, another question, then the answer: the first two are ignored.
        Server srv([](const Asked& a) -> std::vector<Reply> {
            Reply forged_id;
            forged_id.id_delta = 1;
            forged_id.records = {{1, v4("203.0.113.66")}};
            Reply forged_q;
            forged_q.question = name_rdata("evil.test") + std::string("\0\1\0\1", 4);
            forged_q.records = {{1, v4("203.0.113.67")}};
            Reply real;
            if (a.type == 1) real.records = {{1, v4("192.0.2.5")}};
            return {forged_id, forged_q, real};
        });
        REQUIRE(srv.start());
        net::Resolver r(config_for({srv.address()}));
        net::ResolveOptions o;
        o.family = AF_INET;
        auto a = co_await r.resolve("host.test", 1, o);
        REQUIRE(a);
        CHECK(texts(*a) == std::vector<std::string>{"192.0.2.5:1"});
        CHECK(r.stats().ignored == 2);

        // An answer to our question that cannot be read (an A record of three
        // bytes): the server failed, the next one is asked.
        Server broken([](const Asked&) -> std::vector<Reply> {
            Reply r;
            r.records = {{1, "abc"}};
            return {r};
        });
        Server good(zone({"host.test"}));
        REQUIRE(broken.start());
        REQUIRE(good.start());
        net::Resolver r2(config_for({broken.address(), good.address()}));
        auto b = co_await r2.resolve("host.test", 1, o);
        REQUIRE(b);
        CHECK(r2.stats().failures == 1);
        co_await srv.stop();
        co_await broken.stop();
        co_await good.stop();
    });
}

TEST_CASE("dns: a truncated answer is asked again over TCP", "[net][dns]") {
    test::run([](Loop&) -> Task<void> {
        Server srv([](const Asked& a) -> std::vector<Reply> {
            Reply r;
            if (a.type != 1) return {r};
            for (int i = 1; i <= 40; ++i) {
                r.records.push_back({1, v4(("10.0.0." + std::to_string(i)).c_str())});
            }
            if (!a.tcp) {
                r.truncated = true;
                r.records.resize(3);  // what fits, cut
            }
            return {r};
        });
        REQUIRE(srv.start());
        net::Resolver r(config_for({srv.address()}));
        net::ResolveOptions o;
        o.family = AF_INET;
        auto a = co_await r.resolve("many.test", 7, o);
        REQUIRE(a);
        REQUIRE(a->size() == 40);
        CHECK((*a)[39].to_string() == "10.0.0.40:7");
        CHECK(r.stats().tcp_queries == 1);
        REQUIRE(srv.log().size() == 2);
        CHECK_FALSE(srv.log()[0].tcp);
        CHECK(srv.log()[1].tcp);
        co_await srv.stop();
    });
}

TEST_CASE("dns: a cancelled lookup ends at once and leaves the resolver usable", "[net][dns]") {
    test::run([](Loop&) -> Task<void> {
        // Silent for the first two questions (the cancelled lookup's).
        Server srv(silent_first(2, zone({"slow.test"})));
        REQUIRE(srv.start());
        auto cfg = config_for({srv.address()});
        cfg.timeout = 3600s;
        net::Resolver r(cfg);
        Result<std::vector<net::Address>> out = std::errc::io_error;
        TaskGroup g;
        g.spawn(resolve_into(&r, "slow.test", &out));
        // Both queries are out once the server has logged them.
        while (srv.log().size() < 2)
            co_await sleep_for(1ms);
        g.cancel();
        co_await g.wait();
        REQUIRE(!out);
        CHECK(out.error() == std::errc::operation_canceled);
        CHECK(r.stats().timeouts == 0);
        // The same resolver asks afresh: nothing of the cancelled lookup is
        // left to wait on, nothing of it was cached.
        auto a = co_await r.resolve("slow.test", 1);
        REQUIRE(a);
        CHECK(texts(*a) == std::vector<std::string>{"192.0.2.1:1", "[2001:db8::1]:1"});
        CHECK(r.stats().shared == 0);
        CHECK(r.stats().cache_hits == 0);
        CHECK(srv.log().size() == 4);
        co_await srv.stop();
    });
}

TEST_CASE("dns: lookups of one name at once share its queries", "[net][dns]") {
    test::run([](Loop&) -> Task<void> {
        Server srv(zone({"shared.test"}));
        REQUIRE(srv.start());
        net::Resolver r(config_for({srv.address()}));
        auto one = [](net::Resolver* r, net::ResolveOptions o) -> Task<std::vector<std::string>> {
            auto a = co_await r->resolve("shared.test", 80, o);
            co_return a ? texts(*a) : std::vector<std::string>{a.error().message()};
        };
        net::ResolveOptions only4;
        only4.family = AF_INET;
        std::vector<Task<std::vector<std::string>>> all;
        for (int i = 0; i < 4; ++i)
            all.push_back(one(&r, {}));
        all.push_back(one(&r, only4));  // a subset of the families: shares too
        auto got = co_await when_all(std::move(all));
        for (int i = 0; i < 4; ++i) {
            CHECK(got[i] == std::vector<std::string>{"192.0.2.1:80", "[2001:db8::1]:80"});
        }
        CHECK(got[4] == std::vector<std::string>{"192.0.2.1:80"});
        CHECK(srv.log().size() == 2);  // one A, one AAAA
        CHECK(r.stats().shared == 4);
        co_await srv.stop();
    });
}

TEST_CASE("dns: an asker of one family does not take the other family's failure", "[net][dns]") {
    test::run([](Loop&) -> Task<void> {
        // half.test: no A record (NODATA), AAAA fails (SERVFAIL).
        Server srv([](const Asked& a) -> std::vector<Reply> {
            Reply r;
            if (a.type == 28) r.rcode = 2;
            return {r};
        });
        REQUIRE(srv.start());
        net::Resolver r(config_for({srv.address()}));
        auto ask = [](net::Resolver* r, int family) -> Task<std::string> {
            net::ResolveOptions o;
            o.family = family;
            auto a = co_await r->resolve("half.test", 1, o);
            co_return a ? std::string("found") : a.error().message();
        };
        std::vector<Task<std::string>> both;
        both.push_back(ask(&r, AF_UNSPEC));
        both.push_back(ask(&r, AF_INET));  // shares the first one's lookup (or leads it)
        auto got = co_await when_all(std::move(both));
        CHECK(got[0] == std::error_code(EAI_AGAIN, net::resolve_category()).message());
        CHECK(got[1] == std::error_code(EAI_NODATA, net::resolve_category()).message());
        co_await srv.stop();
    });
}

TEST_CASE("dns: a lookup whose first asker is cancelled still ends", "[net][dns]") {
    test::run([](Loop&) -> Task<void> {
        // The first two questions (the first asker's) get no answer.
        Server srv(silent_first(2, zone({"late.test"})));
        REQUIRE(srv.start());
        auto cfg = config_for({srv.address()});
        cfg.timeout = 3600s;
        net::Resolver r(cfg);
        Result<std::vector<net::Address>> first = std::errc::io_error;
        Result<std::vector<net::Address>> second = std::errc::io_error;
        Result<std::vector<net::Address>> third = std::errc::io_error;
        TaskGroup g1, g2;
        g1.spawn(resolve_into(&r, "late.test", &first));
        while (srv.log().size() < 2)
            co_await sleep_for(1ms);
        // Two more askers wait for the first one's lookup.
        g2.spawn(resolve_into(&r, "late.test", &second));
        g2.spawn(resolve_into(&r, "late.test", &third));
        while (r.stats().lookups < 3)
            co_await sleep_for(1ms);
        g1.cancel();
        co_await g1.wait();
        co_await g2.wait();
        REQUIRE(!first);
        CHECK(first.error() == std::errc::operation_canceled);
        REQUIRE(second);
        REQUIRE(third);
        CHECK(texts(*second) == std::vector<std::string>{"192.0.2.1:1", "[2001:db8::1]:1"});
        CHECK(texts(*third) == texts(*second));
        // One of the two looked up again, the other shared that lookup.
        CHECK(srv.log().size() == 4);
        CHECK(r.stats().shared == 1);
        co_await srv.stop();
    });
}

TEST_CASE("dns: a full descriptor table fails the lookup, not the process", "[net][dns]") {
    test::run([](Loop&) -> Task<void> {
        if (test::sim_requested()) co_return;  // simulated descriptors have no limit
        Server srv(zone({"full.test"}));
        REQUIRE(srv.start());
        net::Resolver r(config_for({srv.address()}));
        rlimit old{};
        REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
        rlimit low = old;
        low.rlim_cur = rlim_t(test::open_fds() + 16);
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
        std::vector<int> filler;
        for (int fd; (fd = ::dup(0)) >= 0;)
            filler.push_back(fd);
        const int dup_errno = errno;
        auto full = co_await r.resolve("full.test", 1);
        for (int fd : filler)
            ::close(fd);
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &old) == 0);
        CHECK(dup_errno == EMFILE);
        REQUIRE(!full);
        CHECK(full.error() == std::error_code(EAI_AGAIN, net::resolve_category()));
        CHECK(r.stats().failures >= 1);
        CHECK(srv.log().empty());
        auto ok = co_await r.resolve("full.test", 1);
        REQUIRE(ok);
        CHECK(texts(*ok) == std::vector<std::string>{"192.0.2.1:1", "[2001:db8::1]:1"});
        co_await srv.stop();
    });
}

TEST_CASE("dns: numeric names, the hosts table and bad names ask nobody", "[net][dns]") {
    test::run([](Loop&) -> Task<void> {
        Server srv(zone({}));
        REQUIRE(srv.start());
        auto cfg = config_for({srv.address()});
        cfg.hosts = net::DnsConfig::parse("",
                                          "127.0.0.1 localhost\n::1 localhost\n"
                                          "192.0.2.44 Box.Lan box\n")
                        .hosts;
        net::Resolver r(cfg);
        auto a = co_await r.resolve("127.0.0.1", 80);
        REQUIRE(a);
        CHECK(texts(*a) == std::vector<std::string>{"127.0.0.1:80"});
        auto b = co_await r.resolve("[::1]", 80);
        REQUIRE(b);
        CHECK(texts(*b) == std::vector<std::string>{"[::1]:80"});
        net::ResolveOptions only4;
        only4.family = AF_INET;
        auto c = co_await r.resolve("::1", 80, only4);
        REQUIRE(!c);
        CHECK(c.error() == std::error_code(EAI_ADDRFAMILY, net::resolve_category()));
        auto local = co_await r.resolve("LOCALHOST", 9);
        REQUIRE(local);
        CHECK(texts(*local) == std::vector<std::string>{"127.0.0.1:9", "[::1]:9"});
        auto box = co_await r.resolve("box.lan.", 9, only4);
        REQUIRE(box);
        CHECK(texts(*box) == std::vector<std::string>{"192.0.2.44:9"});
        CHECK(r.stats().hosts_hits == 2);
        net::ResolveOptions numeric;
        numeric.numeric_only = true;
        auto d = co_await r.resolve("box", 9, numeric);
        CHECK(!d);
        auto e = co_await r.resolve("bad..name", 9);
        REQUIRE(!e);
        CHECK(e.error() == std::error_code(EAI_NONAME, net::resolve_category()));
        CHECK(srv.log().empty());
        CHECK(r.stats().queries == 0);
        co_await srv.stop();
    });
}

}  // namespace net_dns_test
