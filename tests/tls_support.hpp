#pragma once
// Certificates for the TLS tests, made at test time by a throwaway CA with
// the `openssl` command line into a temporary directory (removed at exit):
//
//   ca.pem            the test CA (trusted by the tests' clients)
//   server.pem/.key   localhost + 127.0.0.1, signed by the CA
//   expired.pem/.key  the same names, valid only in 2020
//   other.pem/.key    localhost, signed by another CA nobody trusts
//   self.pem/.key     localhost, self-signed
//
// When the `openssl` command is missing the tests WARN and return
// (scripts/test.sh installs it).

#include <sys/wait.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include <corio/tls/context.hpp>
#include <corio/tls/stream.hpp>

#include "net_support.hpp"
#include "site/harness.hpp"

namespace corio::test {

struct TlsFiles {
    site::TempDir dir{"corio-tls"};
    bool ok = false;
    std::string log;

    std::string operator/(const std::string& rel) const { return dir / rel; }
    std::string ca() const { return dir / "ca.pem"; }
    std::string cert(const std::string& name) const { return dir / (name + ".pem"); }
    std::string key(const std::string& name) const { return dir / (name + ".key"); }

    TlsFiles() {
        const std::string d = dir.path;
        site::write_file(d + "/san.cnf", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
        site::write_file(d + "/ca.cnf",
                         "[ca]\ndefault_ca = ca_default\n"
                         "[ca_default]\ndatabase = " +
                             d + "/index.txt\nnew_certs_dir = " + d + "\nserial = " + d +
                             "/serial\ndefault_md = sha256\npolicy = any\n"
                             "[any]\ncommonName = supplied\n");
        site::write_file(d + "/index.txt", "");
        site::write_file(d + "/serial", "1000\n");
        const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
        const std::string q = " >>" + d + "/openssl.log 2>&1";
        auto key_csr = [&](const std::string& name, const std::string& cn) {
            return "openssl req" + ec + " -keyout " + d + "/" + name + ".key -out " + d + "/" +
                   name + ".csr -subj /CN=" + cn + q;
        };
        auto sign = [&](const std::string& name, const std::string& ca) {
            return "openssl x509 -req -in " + d + "/" + name + ".csr -CA " + d + "/" + ca +
                   ".pem -CAkey " + d + "/" + ca + ".key -CAcreateserial -days 2 -out " + d + "/" +
                   name + ".pem -extfile " + d + "/san.cnf" + q;
        };
        const std::string cmds[] = {
            "openssl req -x509" + ec + " -keyout " + d + "/ca.key -out " + d +
                "/ca.pem -days 2 -subj /CN=corio-test-ca" + q,
            "openssl req -x509" + ec + " -keyout " + d + "/otherca.key -out " + d +
                "/otherca.pem -days 2 -subj /CN=corio-unknown-ca" + q,
            key_csr("server", "localhost"),
            sign("server", "ca"),
            key_csr("other", "localhost"),
            sign("other", "otherca"),
            "openssl req -x509" + ec + " -keyout " + d + "/self.key -out " + d +
                "/self.pem -days 2 -subj /CN=localhost -addext "
                "subjectAltName=DNS:localhost,IP:127.0.0.1" +
                q,
            key_csr("expired", "localhost"),
            // `openssl ca` sets any validity period; x509 -req cannot in 3.0.
            "openssl ca -batch -config " + d + "/ca.cnf -cert " + d + "/ca.pem -keyfile " + d +
                "/ca.key -in " + d + "/expired.csr -out " + d +
                "/expired.pem -notext -startdate 20200101000000Z -enddate 20200102000000Z "
                "-extfile " +
                d + "/san.cnf" + q,
        };
        for (const std::string& c : cmds) {
            int st = std::system(c.c_str());
            if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                log = "failed: " + c;
                return;
            }
        }
        ok = true;
    }
};

/// The certificates, made once per test process; null when `openssl` is missing.
inline const TlsFiles* tls_files() {
    static const std::unique_ptr<TlsFiles> files = []() -> std::unique_ptr<TlsFiles> {
        if (std::system("openssl version >/dev/null 2>&1") != 0) return nullptr;
        auto f = std::make_unique<TlsFiles>();
        if (!f->ok) {
            WARN("making test certificates " << f->log);
            return nullptr;
        }
        return f;
    }();
    return files.get();
}

#define NEED_TLS_FILES(var)                                                         \
    const corio::test::TlsFiles* var = corio::test::tls_files();                    \
    if (var == nullptr) {                                                           \
        WARN("the openssl command is missing (apt-get install openssl): skipping"); \
        return;                                                                     \
    }

/// A server context on `name`.pem/.key with ALPN http/1.1.
inline tls::Context server_context(const TlsFiles& f, const std::string& name = "server",
                                   tls::ContextOptions o = {}) {
    o.role = tls::Role::server;
    o.cert_file = f.cert(name);
    o.key_file = f.key(name);
    if (o.alpn.empty()) o.alpn = {"http/1.1"};
    return tls::Context::make(std::move(o)).value("server context");
}

/// A client context trusting the test CA.
inline tls::Context client_context(const TlsFiles& f, tls::ContextOptions o = {}) {
    o.role = tls::Role::client;
    if (o.ca_file.empty()) o.ca_file = f.ca();
    if (o.alpn.empty()) o.alpn = {"http/1.1"};
    return tls::Context::make(std::move(o)).value("client context");
}

/// A TLS pair over loopback TCP, handshakes done: {client, server}, or the
/// client's and the server's handshake errors.
struct TlsPair {
    std::optional<tls::Stream> client;
    std::optional<tls::Stream> server;
    std::error_code client_error;
    std::error_code server_error;
};

inline Task<TlsPair> tls_pair(tls::Context cctx, tls::Context sctx,
                              std::string name = "localhost") {
    TlsPair out;
    auto tcp = co_await tcp_pair();
    if (!tcp) {
        out.client_error = out.server_error = tcp.error();
        co_return out;
    }
    // As servers and clients do: without it, Nagle's algorithm holds a small
    // record behind an unacknowledged one until the peer's delayed ACK.
    (void)tcp->first.set_nodelay();
    (void)tcp->second.set_nodelay();
    auto c = tls::Stream::client(cctx, std::move(tcp->first), name);
    auto s = tls::Stream::server(sctx, std::move(tcp->second));
    if (!c || !s) {
        out.client_error = c ? std::error_code() : c.error();
        out.server_error = s ? std::error_code() : s.error();
        co_return out;
    }
    auto [hc, hs] = co_await when_all(c->handshake(), s->handshake());
    out.client_error = hc.error();
    out.server_error = hs.error();
    out.client.emplace(std::move(*c));
    out.server.emplace(std::move(*s));
    co_return out;
}

}  // namespace corio::test
