// Fuzz target for the DNS response reader (net/dns_message). Any bytes: no read past the
// message, and what comes back is consistent (addresses of the asked type's size, none when
// truncated). The input's first byte also picks a name to build a query for: a valid name's
// query, turned into a response (QR set), must read back as an empty answer for that name.
// Violations call abort().
#include <corio/net/dns_message.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

namespace dns = corio::net::dns;

namespace {

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> msg(data, size);
    const std::uint16_t id = size >= 2 ? std::uint16_t((data[0] << 8) | data[1]) : 0;
    for (const dns::Type t : {dns::Type::a, dns::Type::aaaa}) {
        for (const char* name : {"www.example.com", "a", "WWW.Example.COM."}) {
            dns::Response r;
            const dns::Parse p = dns::parse_response(msg, id, name, t, r);
            if (p != dns::Parse::ok) continue;
            const std::size_t want = t == dns::Type::a ? 4 : 16;
            for (const auto& a : r.addresses)
                require(a.size == want, "address size");
            require(!r.truncated || r.addresses.empty(), "addresses from a truncated answer");
            require(r.canonical.size() <= 4 * 255, "canonical name length");
        }
    }
    // The input as a name: a valid one makes a query that reads back as a bodiless answer.
    const std::string text(reinterpret_cast<const char*>(data), std::min<std::size_t>(size, 300));
    if (dns::valid_name(text)) {
        std::string q = dns::encode_query(id, text, dns::Type::aaaa, size % 2 == 0);
        q[2] = char(q[2] | 0x80);  // QR: a response
        dns::Response r;
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(q.data());
        const dns::Parse p =
            dns::parse_response(std::span(bytes, q.size()), id, text, dns::Type::aaaa, r);
        require(p == dns::Parse::ok, "own query does not read back");
        require(r.addresses.empty() && !r.truncated, "own query has answers");
        require(r.canonical == dns::canonical_name(text), "canonical name of own query");
    }
    return 0;
}
