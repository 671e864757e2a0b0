// Kernel TLS (kTLS) of tls::Stream, on the backend of this run.
//
//  - The key material a stream would hand to the kernel (TLS_TX's
//    crypto_info: key, salt, iv, rec_seq) is checked without the kernel:
//    after a corio handshake the test encrypts the next record itself with
//    what crypto_info holds (AEAD with nonce = salt||iv XOR seq, the record
//    header as additional data, inner content type 0x17) and compares it byte
//    for byte with the record OpenSSL writes for the same plaintext; and it
//    decrypts records OpenSSL wrote (the server's session ticket, counted in
//    the sequence number, then data). For each TLS 1.3 suite the kernel has.
//    The streams run over a transport without a descriptor there, so that
//    OpenSSL makes the records on every kernel.
//  - Which path a stream takes and why (ktls_status), the backend report's
//    `ktls:` line, TLS 1.2 and ktls=off.
//  - send_file on a TLS stream (sendfile through the kernel with kTLS, read
//    and encrypted here without).
//  - The kernel path itself (a corio kTLS server against a corio client and
//    against `openssl s_client`): runs where the kernel offers the tls ULP,
//    and is skipped with the reason where it does not.
#include <fcntl.h>
#include <linux/tls.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <corio/http/stream.hpp>
#include <corio/net/tcp.hpp>
#include <corio/runtime/deadline.hpp>
#include <corio/tls/ktls.hpp>

#include "tls_support.hpp"

namespace tls_ktls_test {

using namespace corio;
using namespace std::chrono_literals;

namespace {

constexpr const char* no_ulp_status =
    "user space (no tls ULP in /proc/sys/net/ipv4/tcp_available_ulp)";

// ---- a transport without a descriptor -----------------------------------------

/// TCP behind an interface without fd(): the stream cannot hand anything to
/// the kernel, so OpenSSL makes every record, on any kernel.
struct Opaque {
    net::TcpStream t;
    auto recv(std::span<std::byte> b) noexcept { return t.recv(b); }
    auto send_all(std::span<const std::byte> b) noexcept { return t.send_all(b); }
    Result<void> shutdown(int how) { return t.shutdown(how); }
};
using OpaqueTls = tls::BasicStream<Opaque>;

struct OpaquePair {
    std::optional<OpaqueTls> client;
    std::optional<OpaqueTls> server;
};

Task<OpaquePair> opaque_pair(tls::Context cc, tls::Context sc) {
    OpaquePair out;
    auto tcp = co_await test::tcp_pair();
    REQUIRE(tcp);
    (void)tcp->first.set_nodelay();
    (void)tcp->second.set_nodelay();
    auto c = OpaqueTls::client(cc, Opaque{std::move(tcp->first)}, "localhost");
    auto s = OpaqueTls::server(sc, Opaque{std::move(tcp->second)});
    REQUIRE(c);
    REQUIRE(s);
    CHECK(c->ktls_status() == "not decided (the handshake is not done)");
    auto [hc, hs] = co_await when_all(c->handshake(), s->handshake());
    INFO("client: " << hc.error().message() << "; server: " << hs.error().message());
    REQUIRE(hc);
    REQUIRE(hs);
    out.client.emplace(std::move(*c));
    out.server.emplace(std::move(*s));
    co_return out;
}

// ---- what the kernel would get, read back from crypto_info's bytes --------------

struct KernelKeys {
    unsigned version = 0;
    unsigned cipher_type = 0;
    std::vector<unsigned char> key;
    std::array<unsigned char, 12> nonce_base{};  // salt || iv
    std::uint64_t seq = 0;
};

template <class Info>
KernelKeys read_info(const tls::detail::CryptoInfo& ci) {
    Info x;
    REQUIRE(ci.size == sizeof x);
    std::memcpy(&x, ci.bytes.data(), sizeof x);
    KernelKeys k;
    k.version = x.info.version;
    k.cipher_type = x.info.cipher_type;
    k.key.assign(x.key, x.key + sizeof x.key);
    constexpr std::size_t salt = sizeof(Info::salt);
    if constexpr (salt > 0) std::memcpy(k.nonce_base.data(), x.salt, salt);
    std::memcpy(k.nonce_base.data() + salt, x.iv, sizeof x.iv);
    for (unsigned char b : x.rec_seq)
        k.seq = k.seq << 8 | b;
    return k;
}

KernelKeys kernel_keys(const tls::detail::KtlsParams& p) {
    const tls::detail::CryptoInfo ci = tls::detail::crypto_info(p);
    tls_crypto_info head{};
    REQUIRE(ci.size >= sizeof head);
    std::memcpy(&head, ci.bytes.data(), sizeof head);
    switch (head.cipher_type) {
        case TLS_CIPHER_AES_GCM_128:
            return read_info<tls12_crypto_info_aes_gcm_128>(ci);
        case TLS_CIPHER_AES_GCM_256:
            return read_info<tls12_crypto_info_aes_gcm_256>(ci);
        case TLS_CIPHER_CHACHA20_POLY1305:
            return read_info<tls12_crypto_info_chacha20_poly1305>(ci);
    }
    FAIL("crypto_info has an unknown cipher type " << head.cipher_type);
    return {};
}

const EVP_CIPHER* aead(const KernelKeys& k) {
    switch (k.cipher_type) {
        case TLS_CIPHER_AES_GCM_128:
            return EVP_aes_128_gcm();
        case TLS_CIPHER_AES_GCM_256:
            return EVP_aes_256_gcm();
        case TLS_CIPHER_CHACHA20_POLY1305:
            return EVP_chacha20_poly1305();
    }
    return nullptr;
}

// RFC 8446 §5.3: the per-record nonce is the nonce base XOR the sequence
// number (big-endian, right-aligned).
std::array<unsigned char, 12> nonce(const KernelKeys& k, std::uint64_t seq) {
    auto n = k.nonce_base;
    for (int i = 0; i < 8; ++i)
        n[4 + i] ^= static_cast<unsigned char>(seq >> (56 - 8 * i));
    return n;
}

using Bytes = std::vector<unsigned char>;

/// The TLS 1.3 record a sender with `k` makes for `plain` of inner type
/// `type` as record number `seq`: header, ciphertext, tag.
Bytes seal(const KernelKeys& k, std::uint64_t seq, std::string_view plain,
           unsigned char type = 0x17) {
    Bytes inner(plain.begin(), plain.end());
    inner.push_back(type);
    const std::size_t len = inner.size() + 16;
    Bytes rec = {0x17, 0x03, 0x03, static_cast<unsigned char>(len >> 8),
                 static_cast<unsigned char>(len & 0xff)};
    const auto iv = nonce(k, seq);
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    REQUIRE(ctx != nullptr);
    int outl = 0;
    Bytes out(inner.size());
    unsigned char tag[16];
    const bool ok =
        EVP_EncryptInit_ex(ctx, aead(k), nullptr, nullptr, nullptr) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, nullptr) == 1 &&
        EVP_EncryptInit_ex(ctx, nullptr, nullptr, k.key.data(), iv.data()) == 1 &&
        EVP_EncryptUpdate(ctx, nullptr, &outl, rec.data(), 5) == 1 &&
        EVP_EncryptUpdate(ctx, out.data(), &outl, inner.data(), int(inner.size())) == 1 &&
        EVP_EncryptFinal_ex(ctx, out.data() + outl, &outl) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1;
    EVP_CIPHER_CTX_free(ctx);
    REQUIRE(ok);
    rec.insert(rec.end(), out.begin(), out.end());
    rec.insert(rec.end(), tag, tag + 16);
    return rec;
}

struct Opened {
    unsigned char type = 0;
    std::string plain;
};

/// Decrypts the whole record `rec` as record number `seq` with `k`; nullopt
/// when authentication fails.
std::optional<Opened> open_record(const KernelKeys& k, std::uint64_t seq, const Bytes& rec) {
    REQUIRE(rec.size() >= 5 + 16 + 1);
    const auto iv = nonce(k, seq);
    const std::size_t clen = rec.size() - 5 - 16;
    Bytes out(clen);
    Bytes tag(rec.end() - 16, rec.end());
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    REQUIRE(ctx != nullptr);
    int outl = 0, fin = 0;
    const bool ok = EVP_DecryptInit_ex(ctx, aead(k), nullptr, nullptr, nullptr) == 1 &&
                    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, nullptr) == 1 &&
                    EVP_DecryptInit_ex(ctx, nullptr, nullptr, k.key.data(), iv.data()) == 1 &&
                    EVP_DecryptUpdate(ctx, nullptr, &outl, rec.data(), 5) == 1 &&
                    EVP_DecryptUpdate(ctx, out.data(), &outl, rec.data() + 5, int(clen)) == 1 &&
                    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag.data()) == 1 &&
                    EVP_DecryptFinal_ex(ctx, out.data() + outl, &fin) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) return std::nullopt;
    while (!out.empty() && out.back() == 0)
        out.pop_back();  // padding
    if (out.empty()) return std::nullopt;
    Opened o;
    o.type = out.back();
    out.pop_back();
    o.plain.assign(out.begin(), out.end());
    return o;
}

/// Reads `count` whole records (header and body) from the raw socket.
Task<std::vector<Bytes>> raw_records(net::TcpStream* t, std::size_t count) {
    std::vector<Bytes> recs;
    Bytes pending;
    std::array<std::byte, 4096> buf;
    while (recs.size() < count) {
        while (pending.size() >= 5) {
            const std::size_t len = std::size_t(pending[3]) << 8 | pending[4];
            if (pending.size() < 5 + len) break;
            recs.emplace_back(pending.begin(), pending.begin() + long(5 + len));
            pending.erase(pending.begin(), pending.begin() + long(5 + len));
        }
        if (recs.size() >= count) break;
        auto n = co_await with_timeout(t->recv(buf), 5s);
        REQUIRE(n);
        REQUIRE(*n > 0);
        const auto* p = reinterpret_cast<const unsigned char*>(buf.data());
        pending.insert(pending.end(), p, p + *n);
    }
    CHECK(recs.size() == count);
    co_return recs;
}

// ---- the derivation, per suite -----------------------------------------------

struct SuiteCase {
    const char* name;
    std::uint16_t id;
    unsigned cipher_type;
};

Task<void> derivation(const test::TlsFiles* f, SuiteCase sc) {
    INFO(sc.name);
    tls::ContextOptions co;
    co.ciphersuites = sc.name;
    tls::ContextOptions so = co;
    // Contexts made before the co_await: g++ 12 mishandles temporaries with
    // by-value aggregates inside a co_await expression.
    tls::Context cctx = test::client_context(*f, co);
    tls::Context sctx = test::server_context(*f, "server", so);
    auto p = co_await opaque_pair(cctx, sctx);
    OpaqueTls& c = *p.client;
    OpaqueTls& s = *p.server;
    REQUIRE(c.protocol() == "TLSv1.3");
    REQUIRE(c.cipher() == sc.name);
    CHECK_FALSE(c.ktls_tx());
    CHECK(c.ktls_status() == "user space (the transport is not a socket)");
    CHECK(c.native_socket() == -1);

    // Client -> server: the client's next record, made here from crypto_info,
    // equals the one OpenSSL writes.
    auto cp = c.ktls_tx_params();
    INFO(cp.error().message());
    REQUIRE(cp);
    CHECK(cp->suite == sc.id);
    CHECK(cp->seq == 0);  // nothing sent under the application keys yet
    const KernelKeys ck = kernel_keys(*cp);
    CHECK(ck.version == TLS_1_3_VERSION);
    CHECK(ck.cipher_type == sc.cipher_type);
    CHECK(ck.key.size() == (sc.id == 0x1301 ? 16u : 32u));
    CHECK(ck.seq == 0);
    const std::string hello = "kernel TLS check: client to server";
    const Bytes expected = seal(ck, 0, hello);
    auto sent = co_await c.send_all(hello);
    REQUIRE(sent);
    auto got = co_await raw_records(&s.transport().t, 1);
    REQUIRE(got.size() == 1);
    CHECK(got[0] == expected);
    auto opened = open_record(ck, 0, got[0]);
    REQUIRE(opened);
    CHECK(opened->type == 0x17);
    CHECK(opened->plain == hello);

    // The count follows the records: 40,000 bytes are three records (16 KiB
    // each at most), numbers 1 to 3, and the next is 4.
    CHECK(c.ktls_tx_params()->seq == 1);
    std::string big(40000, '\0');
    for (std::size_t i = 0; i < big.size(); ++i)
        big[i] = char('a' + i % 26);
    auto sent_big = co_await c.send_all(big);
    REQUIRE(sent_big);
    auto three = co_await raw_records(&s.transport().t, 3);
    REQUIRE(three.size() == 3);
    std::string joined;
    for (std::size_t i = 0; i < 3; ++i) {
        auto o = open_record(ck, 1 + i, three[i]);
        REQUIRE(o);
        CHECK(o->type == 0x17);
        joined += o->plain;
    }
    CHECK(joined == big);
    auto cp4 = c.ktls_tx_params();
    REQUIRE(cp4);
    CHECK(cp4->seq == 4);
    CHECK(kernel_keys(*cp4).seq == 4);
    CHECK(kernel_keys(*cp4).key == ck.key);

    // Server -> client: the server wrote its session ticket under its
    // application keys already (record 0): the next record is number 1.
    auto sp = s.ktls_tx_params();
    REQUIRE(sp);
    CHECK(sp->seq == 1);
    const KernelKeys sk = kernel_keys(*sp);
    CHECK(sk.key != ck.key);
    const std::string answer = "kernel TLS check: server to client";
    auto sent2 = co_await s.send_all(answer);
    REQUIRE(sent2);
    auto recs = co_await raw_records(&c.transport().t, sp->seq + 1);
    REQUIRE(recs.size() == sp->seq + 1);
    auto ticket = open_record(sk, 0, recs[0]);
    REQUIRE(ticket);
    CHECK(ticket->type == 0x16);                                  // handshake
    CHECK(ticket->plain.substr(0, 1) == std::string(1, '\x04'));  // NewSessionTicket
    CHECK(recs[sp->seq] == seal(sk, sp->seq, answer));
    auto data = open_record(sk, sp->seq, recs[sp->seq]);
    REQUIRE(data);
    CHECK(data->type == 0x17);
    CHECK(data->plain == answer);
    // A wrong sequence number does not authenticate: the check above is not
    // vacuous.
    CHECK_FALSE(open_record(sk, sp->seq + 1, recs[sp->seq]));
}

}  // namespace

TEST_CASE("tls: kernel TLS key material encrypts as OpenSSL does, each TLS 1.3 suite",
          "[tls][ktls]") {
    NEED_TLS_FILES(f);
    const SuiteCase cases[] = {
        {"TLS_AES_128_GCM_SHA256", 0x1301, TLS_CIPHER_AES_GCM_128},
        {"TLS_AES_256_GCM_SHA384", 0x1302, TLS_CIPHER_AES_GCM_256},
        {"TLS_CHACHA20_POLY1305_SHA256", 0x1303, TLS_CIPHER_CHACHA20_POLY1305},
    };
    for (const SuiteCase& sc : cases) {
        test::run([f, sc](Loop&) { return derivation(f, sc); });
    }
}

TEST_CASE("tls: HKDF-Expand-Label gives the RFC 8448 keys", "[tls][ktls]") {
    // RFC 8448 §3 (simple 1-RTT handshake), the server's application
    // traffic secret and the key and iv derived from it.
    const unsigned char secret[] = {0xa1, 0x1a, 0xf9, 0xf0, 0x55, 0x31, 0xf8, 0x56,
                                    0xad, 0x47, 0x11, 0x6b, 0x45, 0xa9, 0x50, 0x32,
                                    0x82, 0x04, 0xb4, 0xf4, 0x4b, 0xfb, 0x6b, 0x3a,
                                    0x4b, 0x4f, 0x1f, 0x3f, 0xcb, 0x63, 0x16, 0x43};
    const unsigned char key[] = {0x9f, 0x02, 0x28, 0x3b, 0x6c, 0x9c, 0x07, 0xef,
                                 0xc2, 0x6b, 0xb9, 0xf2, 0xac, 0x92, 0xe3, 0x56};
    const unsigned char iv[] = {0xcf, 0x78, 0x2b, 0x88, 0xdd, 0x83,
                                0x54, 0x9a, 0xad, 0xf1, 0xe9, 0x84};
    auto p = tls::detail::derive_ktls_params(0x1301, secret, 7);
    REQUIRE(p);
    CHECK(p->key_len == 16);
    CHECK(std::equal(key, key + 16, p->key.begin()));
    CHECK(std::equal(iv, iv + 12, p->iv.begin()));
    const KernelKeys k = kernel_keys(*p);
    CHECK(std::equal(key, key + 16, k.key.begin()));
    CHECK(std::equal(iv, iv + 12, k.nonce_base.begin()));
    CHECK(k.seq == 7);
    // Unknown suites and secrets of the wrong size are refused.
    CHECK(tls::detail::derive_ktls_params(0x1304, secret, 0).error() ==
          tls::Errc::ktls_unsupported);
    CHECK(tls::detail::derive_ktls_params(0x1302, secret, 0).error() ==
          tls::Errc::ktls_unsupported);
}

// ---- which path runs, and why ------------------------------------------------

namespace {

Task<void> status(const test::TlsFiles* f, Loop* loop) {
    const std::string report = loop->report().describe();
    if (tls::kernel_tls_available()) {
        CHECK(report.find("ktls: available (tls ULP)\n") != std::string::npos);
        CHECK(tls::kernel_tls_report().rfind("ktls=available", 0) == 0);
    } else {
        CHECK(report.find("ktls: unavailable (no tls ULP in "
                          "/proc/sys/net/ipv4/tcp_available_ulp)\n") != std::string::npos);
        CHECK(tls::kernel_tls_report().rfind("ktls=unavailable (no tls ULP", 0) == 0);
    }

    // TLS 1.3 over TCP: the kernel path where the kernel has it.
    {
        tls::Context cctx = test::client_context(*f);
        tls::Context sctx = test::server_context(*f);
        auto p = co_await test::tls_pair(cctx, sctx);
        REQUIRE(!p.client_error);
        REQUIRE(!p.server_error);
        if (tls::kernel_tls_available()) {
            INFO(p.server->ktls_status());
            CHECK(p.server->ktls_tx());
            CHECK(p.server->ktls_status().rfind("kernel TLS transmit", 0) == 0);
            CHECK(p.server->native_socket() == p.server->transport().fd());
            CHECK(p.server->ktls_tx_params().error() == tls::Errc::ktls_unsupported);
        } else {
            CHECK_FALSE(p.client->ktls_tx());
            CHECK_FALSE(p.server->ktls());
            CHECK(p.client->ktls_status() == no_ulp_status);
            CHECK(p.server->ktls_status() == no_ulp_status);
            CHECK(p.server->native_socket() == -1);
            CHECK(p.server->ktls_tx_params());  // the keys are there; the kernel is not
            // The handover's own failure path: the kernel refuses the ULP, the
            // call names the step and errno, and the socket still carries the
            // user-space records.
            auto params = p.server->ktls_tx_params();
            REQUIRE(params);
            const char* step = "";
            const int r = tls::detail::install_ktls_tx(p.server->transport().fd(), *params, &step);
            CHECK(r == -ENOENT);  // no such ULP
            CHECK(std::string(step) == "setsockopt TCP_ULP tls");
            auto a = co_await p.server->send_all(std::string_view("still fine"));
            REQUIRE(a);
            std::array<std::byte, 32> buf;
            auto n = co_await with_timeout(p.client->recv(buf), 5s);
            REQUIRE(n);
            CHECK(test::chars(std::span(buf).first(*n)) == "still fine");
        }
        // http::Stream sees the socket exactly when the kernel makes the records.
        const bool kernel = p.server->ktls_tx();
        const int fd = p.server->transport().fd();
        http::Stream hs(std::move(*p.server));
        CHECK(hs.native_socket() == (kernel ? fd : -1));
    }
    // TLS 1.2 stays in user space.
    {
        tls::ContextOptions co;
        co.max_version = tls::Version::tls1_2;
        tls::Context cctx = test::client_context(*f, co);
        tls::Context sctx = test::server_context(*f);
        auto p = co_await test::tls_pair(cctx, sctx);
        REQUIRE(!p.client_error);
        REQUIRE(p.client->protocol() == "TLSv1.2");
        CHECK_FALSE(p.client->ktls_tx());
        CHECK_FALSE(p.server->ktls_tx());
        CHECK(p.client->ktls_tx_params().error() == tls::Errc::ktls_unsupported);
        CHECK(p.client->ktls_tx_params().error().message() ==
              "kernel TLS cannot carry this TLS session");
        CHECK(p.client->ktls_status() ==
              (tls::kernel_tls_available()
                   ? "user space (TLS 1.2: only TLS 1.3 keys are handed to the kernel)"
                   : no_ulp_status));
    }
    // ktls = off: never, and no secret is taken.
    {
        tls::ContextOptions o;
        o.ktls = tls::KtlsMode::off;
        tls::Context cctx = test::client_context(*f, o);
        tls::Context sctx = test::server_context(*f, "server", o);
        auto p = co_await test::tls_pair(cctx, sctx);
        REQUIRE(!p.client_error);
        CHECK(p.client->ktls_status() == "user space (kernel TLS off in the context)");
        CHECK(p.server->ktls_status() == "user space (kernel TLS off in the context)");
        CHECK_FALSE(p.server->ktls_tx());
        CHECK(p.client->ktls_tx_params().error() == tls::Errc::ktls_unsupported);
    }
}

}  // namespace

TEST_CASE("tls: the stream and the backend report say which record path runs", "[tls][ktls]") {
    NEED_TLS_FILES(f);
    test::run([f](Loop& loop) { return status(f, &loop); });
}

// ---- send_file ------------------------------------------------------------------

namespace {

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        s[i] = char(' ' + (i * 7 + i / 251) % 95);
    return s;
}

Task<Result<std::string>> read_all(tls::Stream* s) {
    std::string got;
    std::array<std::byte, 16384> buf;
    for (;;) {
        auto r = co_await with_timeout(s->recv(buf), 5s);
        if (!r) co_return r.error();
        if (*r == 0) co_return got;
        got.append(test::chars(std::span(buf).first(*r)));
    }
}

Task<void> send_file(const test::TlsFiles* f, const std::string* path, const std::string* content) {
    const int fds = test::open_fds();
    {
        tls::Context cctx = test::client_context(*f);
        tls::Context sctx = test::server_context(*f);
        auto p = co_await test::tls_pair(cctx, sctx);
        REQUIRE(!p.client_error);
        REQUIRE(!p.server_error);
        const int file = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
        REQUIRE(file >= 0);
        auto reader = read_all(&*p.client);
        auto writer = [](tls::Stream* s, int fd) -> Task<Result<void>> {
            auto a = co_await s->send_file(fd, 1000, 200000);
            if (!a) co_return a;
            auto b = co_await s->send_all(std::string_view("|"));
            if (!b) co_return b;
            auto c = co_await s->send_file(fd, 0, 10);
            if (!c) co_return c;
            co_return co_await s->close_notify();
        };
        auto [got, sent] = co_await when_all(std::move(reader), writer(&*p.server, file));
        INFO(p.server->ktls_status());
        REQUIRE(sent);
        REQUIRE(got);
        CHECK(got->size() == 200011);
        CHECK(*got == content->substr(1000, 200000) + "|" + content->substr(0, 10));
        ::close(file);
    }
    CHECK(test::open_fds() == fds);
}

Task<void> short_file(const test::TlsFiles* f, const std::string* path) {
    tls::Context cctx = test::client_context(*f);
    tls::Context sctx = test::server_context(*f);
    auto p = co_await test::tls_pair(cctx, sctx);
    REQUIRE(!p.client_error);
    const int file = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(file >= 0);
    // 5,000 bytes asked from 1,000 before the end: EIO, on either path.
    auto r = co_await p.server->send_file(file, 300000 - 1000, 5000);
    REQUIRE_FALSE(r);
    CHECK(r.error() == std::errc::io_error);
    ::close(file);
}

}  // namespace

TEST_CASE("tls: send_file sends a file's range through the stream", "[tls][ktls]") {
    NEED_TLS_FILES(f);
    const std::string path = (*f) / "file.bin";
    const std::string content = pattern(300000);
    test::site::write_file(path, content);
    test::run([&](Loop&) { return send_file(f, &path, &content); });
    test::run([&](Loop&) { return short_file(f, &path); });
}

// ---- the kernel path ----------------------------------------------------------

namespace {

bool kernel_path_here() {
    if (tls::kernel_tls_available()) return true;
    WARN(
        "kernel TLS path not tested here: no tls ULP in /proc/sys/net/ipv4/tcp_available_ulp "
        "(the kernel lacks the tls module); the user-space path ran instead");
    return false;
}

Task<void> kernel_corio(const test::TlsFiles* f, const std::string* path,
                        const std::string* content) {
    tls::Context cctx = test::client_context(*f);
    tls::Context sctx = test::server_context(*f);
    auto p = co_await test::tls_pair(cctx, sctx);
    REQUIRE(!p.client_error);
    REQUIRE(!p.server_error);
    INFO(p.server->ktls_status());
    REQUIRE(p.server->ktls_tx());
    REQUIRE(p.client->ktls_tx());
    // Both ways through the kernel's records; received in user space.
    auto a = co_await p.client->send_all(std::string_view("request"));
    REQUIRE(a);
    std::array<std::byte, 64> buf;
    auto n = co_await with_timeout(p.server->recv(buf), 5s);
    REQUIRE(n);
    CHECK(test::chars(std::span(buf).first(*n)) == "request");
    const int file = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(file >= 0);
    auto reader = read_all(&*p.client);
    auto writer = [](tls::Stream* s, int fd) -> Task<Result<void>> {
        auto h = co_await s->send_all(std::string_view("head|"));
        if (!h) co_return h;
        auto b = co_await s->send_file(fd, 0, 300000);
        if (!b) co_return b;
        co_return co_await s->close_notify();  // an alert record the kernel makes
    };
    auto [got, sent] = co_await when_all(std::move(reader), writer(&*p.server, file));
    ::close(file);
    REQUIRE(sent);
    REQUIRE(got);  // ended by close_notify, not truncation
    CHECK(*got == "head|" + *content);
}

Task<void> kernel_s_client(const test::TlsFiles* f, const std::string* path,
                           const std::string* content, std::string* output, int* status) {
    auto l = net::TcpListener::bind(net::Address::loopback_v4(0));
    REQUIRE(l);
    const int port = l->local_address().value("getsockname").port();
    const std::string cmd =
        "echo 'hello corio' | openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
        " -CAfile " + f->ca() + " -servername localhost -verify_return_error -quiet";
    test::site::Child client("sh", {"-c", cmd}, 60, true);
    auto tcp = co_await with_timeout(l->accept(), 10s);
    REQUIRE(tcp);
    auto s = tls::Stream::server(test::server_context(*f), std::move(*tcp));
    REQUIRE(s);
    auto h = co_await s->handshake(Deadline::after(10s));
    REQUIRE(h);
    INFO(s->ktls_status());
    REQUIRE(s->ktls_tx());
    std::string line;
    std::array<std::byte, 256> buf;
    while (line.find('\n') == std::string::npos) {
        auto n = co_await with_timeout(s->recv(buf), 10s);
        REQUIRE(n);
        REQUIRE(*n > 0);
        line.append(test::chars(std::span(buf).first(*n)));
    }
    auto a = co_await s->send_all(line);
    REQUIRE(a);
    const int file = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(file >= 0);
    auto b = co_await s->send_file(file, 0, content->size());
    ::close(file);
    REQUIRE(b);
    auto c = co_await s->close_notify();
    REQUIRE(c);
    *output = client.read_all();
    *status = client.wait(10s);
}

}  // namespace

TEST_CASE("tls: kernel TLS transmit against a corio client and openssl s_client",
          "[tls][ktls][openssl]") {
    NEED_TLS_FILES(f);
    if (!kernel_path_here()) return;
    const std::string path = (*f) / "ktls.txt";
    std::string content;
    for (int i = 0; i < 4000; ++i)
        content += "line " + std::to_string(i) + " of the file\n";
    test::site::write_file(path, content);
    test::run([&](Loop&) { return kernel_corio(f, &path, &content); });
    std::string output;
    int status = -1;
    test::run([&](Loop&) { return kernel_s_client(f, &path, &content, &output, &status); }, 20s);
    CHECK(output == "hello corio\n" + content);
    CHECK(status == 0);
}

}  // namespace tls_ktls_test
