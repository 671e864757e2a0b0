#pragma once
// A scripted DNS name server for tests (net_dns, http_client): UDP on
// 127.0.0.1 and TCP on the same port, answering each question as a script
// says (records, codes, truncation, forged ids and questions, silence) and
// logging what it was asked.
#include <arpa/inet.h>

#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "net_support.hpp"

#include <corio/net/dns.hpp>

namespace test_dns {

using namespace corio;

inline void put16(std::string& s, unsigned v) {
    s.push_back(char(v >> 8));
    s.push_back(char(v & 0xff));
}

// What a scripted server was asked.
struct Asked {
    unsigned id = 0;
    std::string name;  // as sent (dotted)
    unsigned type = 0;
    bool tcp = false;
    bool edns = false;     // an additional record (the EDNS0 OPT) came with it
    std::string question;  // the question section's bytes
};

inline bool read_query(std::string_view q, Asked& a) {
    if (q.size() < 17) return false;
    a.id = (unsigned(std::uint8_t(q[0])) << 8) | std::uint8_t(q[1]);
    std::size_t p = 12;
    while (p < q.size() && q[p] != 0) {
        const std::size_t len = std::uint8_t(q[p]);
        if (!a.name.empty()) a.name += '.';
        a.name.append(q.substr(p + 1, len));
        p += 1 + len;
    }
    if (p + 5 > q.size()) return false;
    a.type = (unsigned(std::uint8_t(q[p + 1])) << 8) | std::uint8_t(q[p + 2]);
    a.edns = q[10] != 0 || q[11] != 0;
    a.question = std::string(q.substr(12, p + 5 - 12));
    return true;
}

// An answer to `a`: `rcode`, the TC bit, and records (owner: the question's name).
struct Reply {
    unsigned rcode = 0;
    bool truncated = false;
    std::vector<std::pair<unsigned, std::string>> records;  // type, RDATA
    std::vector<std::string> owners;  // record i's owner name ("": the question's name)
    int id_delta = 0;                 // a forged id
    std::string question;             // another question
    bool truncated_tcp = false;       // TC over TCP too (by default TCP answers whole)
    unsigned ttl = 60;                // of every record in `records`
    // With soa_ttl > 0: an SOA record of "test" in the authority section
    // (how long a negative answer may be kept: the lower of the two).
    std::uint32_t soa_ttl = 0;
    std::uint32_t soa_minimum = 0;
};

inline std::string name_rdata(std::string_view name) {
    std::string out;
    std::size_t start = 0;
    while (start < name.size()) {
        const std::size_t dot = std::min(name.size(), name.find('.', start));
        out.push_back(char(dot - start));
        out.append(name.substr(start, dot - start));
        start = dot + 1;
    }
    out.push_back('\0');
    return out;
}

inline std::string encode(const Asked& a, const Reply& r) {
    std::string m;
    put16(m, unsigned(int(a.id) + r.id_delta) & 0xffff);
    put16(m, 0x8180 | (r.truncated ? 0x0200 : 0) | r.rcode);
    put16(m, 1);
    put16(m, unsigned(r.records.size()));
    put16(m, r.soa_ttl != 0 ? 1 : 0);
    put16(m, 0);
    m += r.question.empty() ? a.question : r.question;
    for (std::size_t i = 0; i < r.records.size(); ++i) {
        const auto& [type, data] = r.records[i];
        m += i < r.owners.size() && !r.owners[i].empty() ? name_rdata(r.owners[i]) : "\xc0\x0c";
        put16(m, type);
        put16(m, 1);
        put16(m, r.ttl >> 16);
        put16(m, r.ttl & 0xffff);
        put16(m, unsigned(data.size()));
        m += data;
    }
    if (r.soa_ttl != 0) {
        m += name_rdata("test");
        put16(m, 6);  // SOA
        put16(m, 1);
        put16(m, r.soa_ttl >> 16);
        put16(m, r.soa_ttl & 0xffff);
        std::string data = name_rdata("ns.test") + name_rdata("admin.test");
        data += std::string(16, '\1');  // serial, refresh, retry, expire
        put16(data, r.soa_minimum >> 16);
        put16(data, r.soa_minimum & 0xffff);
        put16(m, unsigned(data.size()));
        m += data;
    }
    return m;
}

inline std::string v4(const char* text) {
    std::string s(4, '\0');
    ::inet_pton(AF_INET, text, s.data());
    return s;
}
inline std::string v6(const char* text) {
    std::string s(16, '\0');
    ::inet_pton(AF_INET6, text, s.data());
    return s;
}

// The datagrams (or TCP messages) to send for one question; none: silence.
using Script = std::function<std::vector<Reply>(const Asked&)>;

// A name server on 127.0.0.1 (UDP, and TCP on the same port) answering by
// `script` and logging every question, until stop().
class Server {
public:
    Server(Script script) : script_(std::move(script)) {}

    // TCP takes a free port, then UDP the same number; another test's UDP
    // socket may hold it, so a few tries.
    Result<void> start() {
        std::error_code last;
        for (int attempt = 0; attempt < 50; ++attempt) {
            auto t = net::TcpListener::bind(net::Address::loopback_v4(0));
            if (!t) return t.error();
            auto a = t->local_address();
            if (!a) return a.error();
            auto u = net::UdpSocket::bind(*a);
            if (!u) {
                last = u.error();
                continue;
            }
            tcp_ = std::move(*t);
            udp_ = std::move(*u);
            addr_ = *a;
            tasks_.spawn(serve_udp());
            tasks_.spawn(serve_tcp());
            return {};
        }
        return last;
    }
    Task<void> stop() {
        tasks_.cancel();
        co_await tasks_.wait();
    }
    const net::Address& address() const { return addr_; }
    const std::vector<Asked>& log() const { return log_; }

private:
    Task<void> serve_udp() {
        std::array<std::byte, 1500> buf;
        for (;;) {
            auto d = co_await udp_.recv_from(buf);
            if (!d) co_return;
            Asked a;
            if (!read_query(test::chars(std::span(buf).first(d->size)), a)) continue;
            log_.push_back(a);
            for (const Reply& r : script_(a)) {
                const std::string m = encode(a, r);
                auto sent = co_await udp_.send_to(test::bytes(m), d->from);
                if (!sent) co_return;
            }
        }
    }
    Task<void> serve_tcp() {
        for (;;) {
            auto s = co_await tcp_.accept();
            if (!s) co_return;
            std::array<std::byte, 2> len;
            auto got = co_await s->read_exact(len);
            if (!got) continue;
            const std::size_t size = (std::size_t(len[0]) << 8) | std::size_t(len[1]);
            std::string q(size, '\0');
            got = co_await s->read_exact(std::as_writable_bytes(std::span(q)));
            if (!got) continue;
            Asked a;
            a.tcp = true;
            if (!read_query(q, a)) continue;
            log_.push_back(a);
            for (Reply r : script_(a)) {
                r.truncated = r.truncated_tcp;
                std::string m;
                const std::string body = encode(a, r);
                put16(m, unsigned(body.size()));
                m += body;
                auto sent = co_await s->send_all(test::bytes(m));
                if (!sent) break;
            }
        }
    }

    Script script_;
    net::UdpSocket udp_;
    net::TcpListener tcp_;
    net::Address addr_;
    std::vector<Asked> log_;
    TaskGroup tasks_;
};

// Answers "NAME" with 192.0.2.1 and 2001:db8::1 for every name in `names`,
// NXDOMAIN for others.
inline Script zone(std::vector<std::string> names) {
    return [names](const Asked& a) -> std::vector<Reply> {
        Reply r;
        if (std::find(names.begin(), names.end(), a.name) == names.end()) {
            r.rcode = 3;
        } else if (a.type == 1) {
            r.records = {{1, v4("192.0.2.1")}};
        } else {
            r.records = {{28, v6("2001:db8::1")}};
        }
        return {r};
    };
}

}  // namespace test_dns
