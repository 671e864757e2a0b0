#include <corio/net/dns_message.hpp>

#include <algorithm>

namespace corio::net::dns {

namespace {

constexpr std::uint16_t class_in = 1;
constexpr std::uint16_t type_opt = 41;
constexpr std::uint16_t type_soa = 6;
constexpr std::size_t header_size = 12;
constexpr std::size_t max_wire_name = 255;
constexpr int max_chain = 16;  // CNAME hops followed
constexpr int max_jumps = 64;  // compression pointers followed in one name

char lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
}

bool iequal(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view without_final_dot(std::string_view name) noexcept {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    return name;
}

std::uint16_t be16(std::span<const std::uint8_t> m, std::size_t at) noexcept {
    return std::uint16_t((m[at] << 8) | m[at + 1]);
}
std::uint32_t be32(std::span<const std::uint8_t> m, std::size_t at) noexcept {
    return (std::uint32_t(be16(m, at)) << 16) | be16(m, at + 2);
}
void put16(std::string& out, std::uint16_t v) {
    out.push_back(char(v >> 8));
    out.push_back(char(v & 0xff));
}

// Reads the name at m[pos...] (following compression pointers) into `out`,
// lower case, labels joined by dots; `pos` moves past the name as it sits
// there. A byte no valid name has (a dot inside a label, a space, a control
// character) is written as "\DDD", so that such a name never equals one we
// asked for. False when the name is malformed.
bool read_name(std::span<const std::uint8_t> m, std::size_t& pos, std::string& out) {
    out.clear();
    std::size_t p = pos;
    std::size_t run_start = pos;  // a pointer must point before the run it ends
    std::size_t wire = 1;         // the final zero
    bool jumped = false;
    int jumps = 0;  // a name needs few; a long chain of pointers is an attack on our time
    for (;;) {
        if (p >= m.size()) return false;
        const std::uint8_t len = m[p];
        if ((len & 0xc0) == 0xc0) {
            if (p + 1 >= m.size()) return false;
            const std::size_t to = (std::size_t(len & 0x3f) << 8) | m[p + 1];
            if (!jumped) pos = p + 2;
            if (to >= run_start || ++jumps > max_jumps) return false;  // forwards, a loop, a maze
            jumped = true;
            run_start = p = to;
            continue;
        }
        if ((len & 0xc0) != 0) return false;  // extended label types: not in use
        if (len == 0) {
            if (!jumped) pos = p + 1;
            return true;
        }
        if (p + 1 + len > m.size()) return false;
        wire += 1 + std::size_t(len);
        if (wire > max_wire_name) return false;
        if (!out.empty()) out.push_back('.');
        for (std::size_t i = p + 1; i <= p + len; ++i) {
            const char c = char(m[i]);
            if (c > ' ' && c < 0x7f && c != '.' && c != '\\') {
                out.push_back(lower(c));
            } else {
                out.push_back('\\');
                out.push_back(char('0' + m[i] / 100));
                out.push_back(char('0' + m[i] / 10 % 10));
                out.push_back(char('0' + m[i] % 10));
            }
        }
        p += 1 + len;
    }
}

struct Record {
    std::string owner;
    std::uint16_t type;
    std::uint16_t rclass;
    std::uint32_t ttl;
    std::size_t data;  // offset of the RDATA
    std::uint16_t size;
};

}  // namespace

std::string canonical_name(std::string_view name) {
    std::string out(without_final_dot(name));
    std::transform(out.begin(), out.end(), out.begin(), lower);
    return out;
}

bool valid_name(std::string_view name) noexcept {
    name = without_final_dot(name);
    if (name.empty() || name.size() > max_name) return false;
    std::size_t label = 0;
    for (const char c : name) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        if (c <= ' ' || c >= 0x7f || c == '\\') return false;
        if (++label > 63) return false;
    }
    return label != 0;
}

std::string encode_query(std::uint16_t id, std::string_view name, Type type, bool edns) {
    name = without_final_dot(name);
    std::string q;
    q.reserve(header_size + name.size() + 2 + 4 + (edns ? 11 : 0));
    put16(q, id);
    put16(q, 0x0100);  // a standard query, recursion desired
    put16(q, 1);       // one question
    put16(q, 0);
    put16(q, 0);
    put16(q, edns ? 1 : 0);
    std::size_t start = 0;
    while (start <= name.size()) {
        std::size_t dot = name.find('.', start);
        if (dot == std::string_view::npos) dot = name.size();
        q.push_back(char(dot - start));
        q.append(name.substr(start, dot - start));
        start = dot + 1;
    }
    q.push_back('\0');
    put16(q, static_cast<std::uint16_t>(type));
    put16(q, class_in);
    if (edns) {
        q.push_back('\0');  // the root
        put16(q, type_opt);
        put16(q, edns_payload);  // the class field: the payload we take
        put16(q, 0);             // extended RCODE and version 0
        put16(q, 0);             // no flags
        put16(q, 0);             // no options
    }
    return q;
}

Parse parse_response(std::span<const std::uint8_t> m, std::uint16_t id, std::string_view name,
                     Type type, Response& out) {
    out = Response{};
    if (m.size() < header_size || be16(m, 0) != id) return Parse::foreign;
    const std::uint16_t flags = be16(m, 2);
    if ((flags & 0x8000) == 0 || ((flags >> 11) & 0xf) != 0) return Parse::foreign;
    const std::uint16_t questions = be16(m, 4);
    const std::uint16_t answers = be16(m, 6);
    out.rcode = static_cast<Rcode>(flags & 0xf);
    out.truncated = (flags & 0x0200) != 0;
    // Some servers answer a query they refuse or cannot read without its
    // question: the id is all there is to match.
    if (questions == 0 && (out.rcode == Rcode::formerr || out.rcode == Rcode::servfail ||
                           out.rcode == Rcode::notimp || out.rcode == Rcode::refused)) {
        return Parse::ok;  // codes that only send the query elsewhere; never NXDOMAIN
    }
    if (questions != 1) return Parse::malformed;

    std::size_t pos = header_size;
    std::string qname;
    if (!read_name(m, pos, qname) || pos + 4 > m.size()) return Parse::malformed;
    const std::string_view asked = without_final_dot(name);
    if (!iequal(qname, asked) || be16(m, pos) != static_cast<std::uint16_t>(type) ||
        be16(m, pos + 2) != class_in) {
        return Parse::foreign;
    }
    pos += 4;
    out.canonical = canonical_name(asked);
    if (out.truncated) return Parse::ok;  // the records may be cut: TCP will tell

    std::vector<Record> records;
    records.reserve(
        std::min<std::size_t>(answers, (m.size() - pos) / 11));  // 11: the least a record takes
    for (std::uint16_t i = 0; i < answers; ++i) {
        Record r;
        if (!read_name(m, pos, r.owner) || pos + 10 > m.size()) return Parse::malformed;
        r.type = be16(m, pos);
        r.rclass = be16(m, pos + 2);
        const std::uint32_t ttl = be32(m, pos + 4);
        r.ttl = (ttl & 0x80000000u) != 0 ? 0 : ttl;  // RFC 2181 §8: the top bit set means 0
        r.size = be16(m, pos + 8);
        r.data = pos + 10;
        if (r.data + r.size > m.size()) return Parse::malformed;
        pos = r.data + r.size;
        if (r.rclass == class_in) records.push_back(std::move(r));
    }

    // The authority section's SOA, if any (a negative answer's lifetime). An
    // unreadable authority section leaves it out; the answer stands.
    const std::uint16_t authorities = be16(m, 8);
    std::string skip;
    for (std::uint16_t i = 0; i < authorities; ++i) {
        if (!read_name(m, pos, skip) || pos + 10 > m.size()) break;
        const std::uint16_t rtype = be16(m, pos);
        const std::uint16_t rclass = be16(m, pos + 2);
        const std::uint32_t raw_ttl = be32(m, pos + 4);
        const std::size_t data = pos + 10;
        const std::size_t size = be16(m, pos + 8);
        if (data + size > m.size()) break;
        pos = data + size;
        if (rtype != type_soa || rclass != class_in) continue;
        std::size_t at = data;  // MNAME, RNAME, then five 32-bit numbers
        if (!read_name(m, at, skip) || !read_name(m, at, skip) || at + 20 != data + size) break;
        const std::uint32_t ttl = (raw_ttl & 0x80000000u) != 0 ? 0 : raw_ttl;
        out.soa = true;
        out.negative_ttl = std::min(ttl, be32(m, at + 16));
        break;
    }

    // The chain from the asked name through its CNAMEs, in whatever order the
    // records came.
    bool have_ttl = false;
    const auto take_ttl = [&](std::uint32_t t) {
        out.ttl = have_ttl ? std::min(out.ttl, t) : t;
        have_ttl = true;
    };
    std::string target;
    for (int hop = 0; hop < max_chain; ++hop) {
        const auto alias = std::find_if(records.begin(), records.end(), [&](const Record& r) {
            return r.type == static_cast<std::uint16_t>(Type::cname) && r.owner == out.canonical;
        });
        if (alias == records.end()) break;
        std::size_t at = alias->data;
        if (!read_name(m, at, target) || at != alias->data + alias->size) return Parse::malformed;
        take_ttl(alias->ttl);
        out.canonical = target;
    }
    const std::uint8_t want = type == Type::a ? 4 : 16;
    for (const Record& r : records) {
        if (r.type != static_cast<std::uint16_t>(type) || r.owner != out.canonical) continue;
        if (r.size != want) return Parse::malformed;
        IpAddress a;
        a.size = want;
        std::copy_n(m.begin() + std::ptrdiff_t(r.data), want, a.bytes.begin());
        out.addresses.push_back(a);
        take_ttl(r.ttl);
    }
    return Parse::ok;
}

}  // namespace corio::net::dns
