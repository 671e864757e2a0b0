// DNS messages and resolver configuration: net/dns_message.hpp's query encoder
// and response reader on hand-made bytes (well-formed, hostile and cut), and
// DnsConfig::parse on resolv.conf and hosts text. No I/O.
#include <arpa/inet.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <corio/net/dns.hpp>

namespace net_dns_message_test {

using namespace corio;
using namespace corio::net;

namespace {

void put16(std::string& s, unsigned v) {
    s.push_back(char(v >> 8));
    s.push_back(char(v & 0xff));
}
void put32(std::string& s, std::uint32_t v) {
    put16(s, v >> 16);
    put16(s, v & 0xffff);
}
std::string wire_name(std::string_view name) {
    std::string out;
    std::size_t start = 0;
    while (start < name.size()) {
        std::size_t dot = std::min(name.size(), name.find('.', start));
        out.push_back(char(dot - start));
        out.append(name.substr(start, dot - start));
        start = dot + 1;
    }
    out.push_back('\0');
    return out;
}
std::string header(unsigned id, unsigned flags, unsigned qd, unsigned an) {
    std::string s;
    put16(s, id);
    put16(s, flags);
    put16(s, qd);
    put16(s, an);
    put16(s, 0);
    put16(s, 0);
    return s;
}
std::string question(std::string_view name, unsigned type) {
    std::string s = wire_name(name);
    put16(s, type);
    put16(s, 1);
    return s;
}
// A record with an uncompressed owner (or `owner_wire` as given).
std::string record(const std::string& owner_wire, unsigned type, std::uint32_t ttl,
                   const std::string& rdata) {
    std::string s = owner_wire;
    put16(s, type);
    put16(s, 1);
    put32(s, ttl);
    put16(s, unsigned(rdata.size()));
    s += rdata;
    return s;
}
std::string ipv4(const char* text) {
    std::string s(4, '\0');
    REQUIRE(::inet_pton(AF_INET, text, s.data()) == 1);
    return s;
}
std::string ipv6(const char* text) {
    std::string s(16, '\0');
    REQUIRE(::inet_pton(AF_INET6, text, s.data()) == 1);
    return s;
}
dns::Parse parse(const std::string& m, unsigned id, std::string_view name, dns::Type t,
                 dns::Response& out) {
    return dns::parse_response(std::span(reinterpret_cast<const std::uint8_t*>(m.data()), m.size()),
                               std::uint16_t(id), name, t, out);
}
std::string text(const dns::IpAddress& ip) {
    char buf[INET6_ADDRSTRLEN];
    ::inet_ntop(ip.size == 4 ? AF_INET : AF_INET6, ip.bytes.data(), buf, sizeof buf);
    return buf;
}

}  // namespace

TEST_CASE("dns: names that can be asked", "[dns]") {
    CHECK(dns::valid_name("example.com"));
    CHECK(dns::valid_name("example.com."));
    CHECK(dns::valid_name("a"));
    CHECK(dns::valid_name("_srv.x-y.example"));
    CHECK(dns::valid_name(std::string(63, 'a') + ".com"));
    CHECK_FALSE(dns::valid_name(std::string(64, 'a') + ".com"));
    CHECK_FALSE(dns::valid_name(""));
    CHECK_FALSE(dns::valid_name("."));
    CHECK_FALSE(dns::valid_name("a..b"));
    CHECK_FALSE(dns::valid_name(".a"));
    CHECK_FALSE(dns::valid_name("a b"));
    CHECK_FALSE(dns::valid_name("a\\.b"));
    CHECK_FALSE(dns::valid_name(std::string("a\0b", 3)));
    std::string long_name;
    while (long_name.size() < 250)
        long_name += "abcdefghi.";
    long_name += "xyz";  // 253 bytes
    CHECK(long_name.size() == 253);
    CHECK(dns::valid_name(long_name));
    CHECK_FALSE(dns::valid_name(long_name + "w"));
}

TEST_CASE("dns: a query's bytes", "[dns]") {
    const std::string q = dns::encode_query(0xbeef, "www.Example.com.", dns::Type::aaaa);
    const std::string want = header(0xbeef, 0x0100, 1, 0) + question("www.Example.com", 28);
    CHECK(q == want);
    const std::string e = dns::encode_query(7, "a.b", dns::Type::a, true);
    std::string opt = std::string(1, '\0');
    put16(opt, 41);
    put16(opt, dns::edns_payload);
    put32(opt, 0);
    put16(opt, 0);
    std::string want_e = header(7, 0x0100, 1, 0) + question("a.b", 1) + opt;
    want_e[11] = 1;  // one additional record
    CHECK(e == want_e);
}

TEST_CASE("dns: an answer with addresses, its chain and its TTL", "[dns]") {
    dns::Response r;
    SECTION("A records, case aside") {
        const std::string m = header(9, 0x8180, 1, 2) + question("WWW.example.com", 1) +
                              record(wire_name("www.example.COM"), 1, 300, ipv4("192.0.2.7")) +
                              record("\xc0\x0c", 1, 60, ipv4("192.0.2.8"));  // owner: the question
        REQUIRE(parse(m, 9, "www.example.com.", dns::Type::a, r) == dns::Parse::ok);
        CHECK(r.rcode == dns::Rcode::noerror);
        CHECK_FALSE(r.truncated);
        REQUIRE(r.addresses.size() == 2);
        CHECK(text(r.addresses[0]) == "192.0.2.7");
        CHECK(text(r.addresses[1]) == "192.0.2.8");
        CHECK(r.ttl == 60);
        CHECK(r.canonical == "www.example.com");
    }
    SECTION("a CNAME chain given out of order, compressed") {
        // The question's name sits at offset 12; "cdn.example.net" is the
        // first record's owner (offset 12 + question size).
        const std::string q = question("www.example.com", 28);
        const std::size_t cdn_at = 12 + q.size();
        std::string ptr_cdn = {char(0xc0 | (cdn_at >> 8)), char(cdn_at & 0xff)};
        const std::string m = header(1, 0x8180, 1, 3) + q +
                              record(wire_name("cdn.example.net"), 28, 30, ipv6("2001:db8::1")) +
                              record("\xc0\x0c", 5, 600, wire_name("edge.example.org")) +
                              record(wire_name("edge.example.org"), 5, 100, ptr_cdn);
        REQUIRE(parse(m, 1, "www.example.com", dns::Type::aaaa, r) == dns::Parse::ok);
        REQUIRE(r.addresses.size() == 1);
        CHECK(text(r.addresses[0]) == "2001:db8::1");
        CHECK(r.canonical == "cdn.example.net");
        CHECK(r.ttl == 30);
    }
    SECTION("records of other names, types and classes are left out") {
        std::string chaos = wire_name("www.example.com");
        put16(chaos, 1);
        put16(chaos, 3);  // class CH
        put32(chaos, 5);
        put16(chaos, 4);
        chaos += ipv4("192.0.2.99");
        const std::string m = header(2, 0x8180, 1, 3) + question("www.example.com", 1) +
                              record(wire_name("evil.example.com"), 1, 5, ipv4("192.0.2.66")) +
                              chaos + record(wire_name("www.example.com"), 1, 5, ipv4("192.0.2.1"));
        REQUIRE(parse(m, 2, "www.example.com", dns::Type::a, r) == dns::Parse::ok);
        REQUIRE(r.addresses.size() == 1);
        CHECK(text(r.addresses[0]) == "192.0.2.1");
    }
    SECTION("a label holding a dot is not the dotted name") {
        std::string owner =
            "\x07www.exa\x03"
            "com";  // one label "www.exa"
        owner.push_back('\0');
        const std::string m = header(3, 0x8180, 1, 1) + question("www.exa.com", 1) +
                              record(owner, 1, 5, ipv4("192.0.2.66"));
        REQUIRE(parse(m, 3, "www.exa.com", dns::Type::a, r) == dns::Parse::ok);
        CHECK(r.addresses.empty());
    }
    SECTION("a TTL with its top bit set counts as 0") {
        const std::string m = header(4, 0x8180, 1, 1) + question("a.test", 1) +
                              record("\xc0\x0c", 1, 0x80000010u, ipv4("192.0.2.1"));
        REQUIRE(parse(m, 4, "a.test", dns::Type::a, r) == dns::Parse::ok);
        CHECK(r.ttl == 0);
    }
}

TEST_CASE("dns: codes, truncation and other queries' answers", "[dns]") {
    dns::Response r;
    const std::string q = question("a.test", 1);
    CHECK(parse(header(5, 0x8183, 1, 0) + q, 5, "a.test", dns::Type::a, r) == dns::Parse::ok);
    CHECK(r.rcode == dns::Rcode::nxdomain);
    CHECK(parse(header(5, 0x8182, 0, 0), 5, "a.test", dns::Type::a, r) == dns::Parse::ok);
    CHECK(r.rcode == dns::Rcode::servfail);
    // NXDOMAIN must say for which question: without one it is not taken.
    CHECK(parse(header(5, 0x8183, 0, 0), 5, "a.test", dns::Type::a, r) == dns::Parse::malformed);
    // Truncated: the records are not read (they may be cut anywhere).
    CHECK(parse(header(5, 0x8380, 1, 3) + q + "\x01", 5, "a.test", dns::Type::a, r) ==
          dns::Parse::ok);
    CHECK(r.truncated);
    CHECK(r.addresses.empty());
    // Not ours: another id, a query, another question, another type, too short.
    CHECK(parse(header(6, 0x8180, 1, 0) + q, 5, "a.test", dns::Type::a, r) == dns::Parse::foreign);
    CHECK(parse(header(5, 0x0100, 1, 0) + q, 5, "a.test", dns::Type::a, r) == dns::Parse::foreign);
    CHECK(parse(header(5, 0x8180, 1, 0) + question("b.test", 1), 5, "a.test", dns::Type::a, r) ==
          dns::Parse::foreign);
    CHECK(parse(header(5, 0x8180, 1, 0) + q, 5, "a.test", dns::Type::aaaa, r) ==
          dns::Parse::foreign);
    CHECK(parse(std::string("\0\5\x81", 3), 5, "a.test", dns::Type::a, r) == dns::Parse::foreign);
}

TEST_CASE("dns: hostile and cut responses are malformed, never read past", "[dns]") {
    dns::Response r;
    const std::string q = question("a.test", 1);
    const std::string good =
        header(8, 0x8180, 1, 1) + q + record("\xc0\x0c", 1, 5, ipv4("10.0.0.1"));
    REQUIRE(parse(good, 8, "a.test", dns::Type::a, r) == dns::Parse::ok);
    // Every cut of a good answer inside its record is malformed.
    for (std::size_t n = 12 + q.size(); n < good.size(); ++n) {
        INFO(n);
        CHECK(parse(good.substr(0, n), 8, "a.test", dns::Type::a, r) == dns::Parse::malformed);
    }
    // A pointer to itself, a pointer forwards, a pointer past the end.
    const std::size_t at = 12 + q.size();
    std::string self = {char(0xc0 | (at >> 8)), char(at & 0xff)};
    CHECK(parse(header(8, 0x8180, 1, 1) + q + record(self, 1, 5, ipv4("10.0.0.1")), 8, "a.test",
                dns::Type::a, r) == dns::Parse::malformed);
    CHECK(parse(header(8, 0x8180, 1, 1) + q + record("\xc0\xf0", 1, 5, ipv4("10.0.0.1")), 8,
                "a.test", dns::Type::a, r) == dns::Parse::malformed);
    // Forwards, within the message: the second record's owner, named by the
    // first record's owner pointer.
    {
        const std::size_t first = 12 + q.size();
        const std::size_t second = first + 2 + 10 + 4;
        std::string fwd = {char(0xc0 | (second >> 8)), char(second & 0xff)};
        const std::string m = header(8, 0x8180, 1, 2) + q + record(fwd, 1, 5, ipv4("10.0.0.1")) +
                              record(wire_name("a.test"), 1, 5, ipv4("10.0.0.2"));
        CHECK(parse(m, 8, "a.test", dns::Type::a, r) == dns::Parse::malformed);
    }
    // A maze: a chain of 100 pointers, each to the one before it.
    {
        std::string m = header(8, 0x8180, 1, 1) + q;
        const std::size_t rdata_at = m.size() + 2 + 10;
        std::string maze = wire_name("x");
        for (int i = 0; i < 100; ++i) {
            const std::size_t to = rdata_at + (i == 0 ? 0 : 3 + 2 * (i - 1));
            maze += {char(0xc0 | (to >> 8)), char(to & 0xff)};
        }
        m += record("\xc0\x0c", 5, 5, maze);  // a CNAME whose RDATA holds the maze
        const std::size_t last = rdata_at + 3 + 2 * 99;
        m += record({char(0xc0 | (last >> 8)), char(last & 0xff)}, 1, 5, ipv4("10.0.0.3"));
        m[7] = 2;
        CHECK(parse(m, 8, "a.test", dns::Type::a, r) == dns::Parse::malformed);
    }
    // Two questions; a reserved label type; an A record of 5 bytes.
    CHECK(parse(header(8, 0x8180, 2, 0) + q + q, 8, "a.test", dns::Type::a, r) ==
          dns::Parse::malformed);
    CHECK(parse(header(8, 0x8180, 1, 1) + q + record("\x41", 1, 5, ipv4("10.0.0.1")), 8, "a.test",
                dns::Type::a, r) == dns::Parse::malformed);
    CHECK(parse(header(8, 0x8180, 1, 1) + q + record("\xc0\x0c", 1, 5, ipv4("10.0.0.1") + "x"), 8,
                "a.test", dns::Type::a, r) == dns::Parse::malformed);
    // A name longer than 255 bytes on the wire.
    std::string huge;
    for (int i = 0; i < 5; ++i)
        huge += '\x3f' + std::string(63, 'a');
    huge.push_back('\0');
    CHECK(parse(header(8, 0x8180, 1, 1) + q + record(huge, 1, 5, ipv4("10.0.0.1")), 8, "a.test",
                dns::Type::a, r) == dns::Parse::malformed);
    // A CNAME whose target runs past its RDATA.
    CHECK(parse(header(8, 0x8180, 1, 1) + q +
                    record("\xc0\x0c", 5, 5,
                           "\x03"
                           "abc"),
                8, "a.test", dns::Type::a, r) == dns::Parse::malformed);
}

TEST_CASE("dns: a CNAME loop ends after its hops, with no address", "[dns]") {
    dns::Response r;
    const std::string m = header(1, 0x8180, 1, 3) + question("a.test", 1) +
                          record(wire_name("a.test"), 5, 5, wire_name("b.test")) +
                          record(wire_name("b.test"), 5, 5, wire_name("a.test")) +
                          record(wire_name("c.test"), 1, 5, ipv4("10.0.0.9"));  // off the chain
    REQUIRE(parse(m, 1, "a.test", dns::Type::a, r) == dns::Parse::ok);
    CHECK(r.addresses.empty());
    // Sixteen hops from a.test: back at a.test.
    CHECK(r.canonical == "a.test");
}

TEST_CASE("dns: a negative answer's lifetime from its SOA", "[dns]") {
    dns::Response r;
    const std::string q = question("gone.test", 1);
    std::string soa_data = wire_name("ns.test") + wire_name("admin.test");
    for (std::uint32_t v : {1u, 2u, 3u, 4u, 45u})
        put32(soa_data, v);  // MINIMUM 45
    std::string m = header(1, 0x8183, 1, 0) + q + record(wire_name("test"), 6, 600, soa_data);
    m[9] = 1;  // one authority record
    REQUIRE(parse(m, 1, "gone.test", dns::Type::a, r) == dns::Parse::ok);
    CHECK(r.rcode == dns::Rcode::nxdomain);
    CHECK(r.soa);
    CHECK(r.negative_ttl == 45);
    std::string short_ttl =
        header(1, 0x8183, 1, 0) + q + record(wire_name("test"), 6, 20, soa_data);
    short_ttl[9] = 1;
    REQUIRE(parse(short_ttl, 1, "gone.test", dns::Type::a, r) == dns::Parse::ok);
    CHECK(r.negative_ttl == 20);
    // No SOA, or one cut short: the answer stands, with no lifetime.
    REQUIRE(parse(header(1, 0x8183, 1, 0) + q, 1, "gone.test", dns::Type::a, r) == dns::Parse::ok);
    CHECK_FALSE(r.soa);
    std::string cut = header(1, 0x8183, 1, 0) + q +
                      record(wire_name("test"), 6, 600, soa_data.substr(0, soa_data.size() - 4));
    cut[9] = 1;
    REQUIRE(parse(cut, 1, "gone.test", dns::Type::a, r) == dns::Parse::ok);
    CHECK_FALSE(r.soa);
    std::string missing = header(1, 0x8183, 1, 0) + q;
    missing[9] = 1;  // says one authority record, has none
    REQUIRE(parse(missing, 1, "gone.test", dns::Type::a, r) == dns::Parse::ok);
    CHECK_FALSE(r.soa);
}

TEST_CASE("dns: resolv.conf and hosts text", "[dns]") {
    const auto c = DnsConfig::parse(
        "# a comment\n"
        "nameserver 192.0.2.53\n"
        "nameserver 2001:db8::53 ; trailing comment\n"
        "nameserver not-an-address\n"
        "nameserver 192.0.2.54\n"
        "nameserver 192.0.2.55\n"  // a fourth: libc takes three
        "domain first.example\n"
        "search corp.example. lab.example\n"
        "options ndots:3 timeout:99 attempts:0 rotate edns0 unknown:1\n",
        "127.0.0.1 localhost\n"
        "::1 localhost ip6-localhost   # comment\n"
        "192.0.2.10 Web.Example.  web\n"
        "bogus line\n"
        "\n");
    REQUIRE(c.servers.size() == 3);
    CHECK(c.servers[0].to_string() == "192.0.2.53:53");
    CHECK(c.servers[1].to_string() == "[2001:db8::53]:53");
    CHECK(c.servers[2].to_string() == "192.0.2.54:53");
    CHECK(c.search == std::vector<std::string>{"corp.example", "lab.example"});
    CHECK(c.ndots == 3);
    CHECK(c.timeout == std::chrono::seconds(30));
    CHECK(c.attempts == 1);
    CHECK(c.rotate);
    CHECK(c.edns);
    REQUIRE(c.hosts.size() == 5);
    CHECK(c.hosts[0].name == "localhost");
    CHECK(c.hosts[0].ip.to_string() == "127.0.0.1:0");
    CHECK(c.hosts[2].name == "ip6-localhost");
    CHECK(c.hosts[3].name == "web.example");
    CHECK(c.hosts[4].name == "web");

    CHECK(DnsConfig::parse("domain a.example b.example\n").search ==
          std::vector<std::string>{"a.example"});  // domain takes one name

    // Without search or domain, the host name's domain (after its first dot) is searched;
    // a search or domain line wins over it, and a name without a dot gives none.
    CHECK(DnsConfig::parse("", "", "box.Lab.Example").search ==
          std::vector<std::string>{"lab.example"});
    CHECK(DnsConfig::parse("search corp.example\n", "", "box.lab.example").search ==
          std::vector<std::string>{"corp.example"});
    CHECK(DnsConfig::parse("domain d.example\n", "", "box.lab.example").search ==
          std::vector<std::string>{"d.example"});
    CHECK(DnsConfig::parse("", "", "box").search.empty());
    CHECK(DnsConfig::parse("", "", "box.").search.empty());

    const auto empty = DnsConfig::parse("");
    REQUIRE(empty.servers.size() == 1);
    CHECK(empty.servers[0].to_string() == "127.0.0.1:53");
    CHECK(empty.search.empty());
    CHECK(empty.ndots == 1);
    CHECK(empty.hosts.empty());

    const auto missing = DnsConfig::system("/nonexistent/resolv.conf", "/nonexistent/hosts");
    CHECK(missing.servers.size() == 1);

    // system() reads the two files it is given.
    char dir[] = "/tmp/corio-dns-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    const std::string resolv = std::string(dir) + "/resolv.conf";
    const std::string hosts = std::string(dir) + "/hosts";
    std::FILE* f = std::fopen(resolv.c_str(), "w");
    REQUIRE(f != nullptr);
    std::fputs("nameserver 192.0.2.9\noptions ndots:2\n", f);
    std::fclose(f);
    f = std::fopen(hosts.c_str(), "w");
    REQUIRE(f != nullptr);
    std::fputs("192.0.2.10 files.test\n", f);
    std::fclose(f);
    const auto files = DnsConfig::system(resolv, hosts);
    std::remove(resolv.c_str());
    std::remove(hosts.c_str());
    ::rmdir(dir);
    REQUIRE(files.servers.size() == 1);
    CHECK(files.servers[0].to_string() == "192.0.2.9:53");
    CHECK(files.ndots == 2);
    REQUIRE(files.hosts.size() == 1);
    CHECK(files.hosts[0].name == "files.test");
}

}  // namespace net_dns_message_test
