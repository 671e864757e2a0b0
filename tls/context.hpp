#pragma once
// A TLS configuration shared by many connections: role, certificates, what
// is verified, ALPN, protocol versions, session resumption.
//
//   auto client = tls::Context::make({.ca_file = "ca.pem"}).value("tls client");
//   auto server = tls::Context::make({.role = tls::Role::server,
//                                     .cert_file = "cert.pem", .key_file = "key.pem"})
//                     .value("tls server");
//
// OpenSSL 3 underneath (SSL_CTX); the headers do not include OpenSSL's.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <corio/runtime/result.hpp>
#include <corio/tls/error.hpp>

namespace corio::tls {

/// Which end of the handshake a Context makes streams for.
enum class Role { client, server };
/// The protocol versions corio speaks (older ones are refused).
enum class Version { tls1_2, tls1_3 };
/// Kernel TLS for the sending direction: `automatic` hands the keys to the
/// kernel after a TLS 1.3 handshake on a TCP socket where the kernel offers
/// the `tls` ULP (and falls back to user-space records, per connection, where
/// anything says no); `off` never does.
enum class KtlsMode { off, automatic };

/// How a Context is made. The defaults are the safe ones.
struct ContextOptions {
    /// Client (verifies servers by default) or server (needs cert_file and key_file).
    Role role = Role::client;
    /// PEM certificate chain (leaf first) and its private key. Required for a
    /// server; optional for a client (a client certificate).
    std::string cert_file{};
    /// PEM private key of cert_file's leaf certificate.
    std::string key_file{};
    /// PEM file of trusted CA certificates; empty: the system store
    /// (/etc/ssl/certs, as `openssl version -d` says).
    std::string ca_file{};
    /// Client: verify the server's chain and its name (the name given to
    /// BasicStream::client). Turning it off accepts any server (`--insecure`).
    /// Server: ask for and verify a client certificate (off by default).
    bool verify_peer = true;
    /// ALPN protocol names in order of preference ("h2", "http/1.1"); a
    /// server picks the first of its own the client offers, and goes on
    /// without ALPN when there is none in common.
    std::vector<std::string> alpn{};
    /// Protocol versions: only TLS 1.2 and 1.3 exist here.
    Version min_version = Version::tls1_2;
    /// The newest version offered or accepted.
    Version max_version = Version::tls1_3;
    /// Session resumption: clients remember sessions per server (name and
    /// port) and offer them again; servers issue tickets and keep a session
    /// cache. The caches hold at most session_cache_size sessions each.
    bool session_resumption = true;
    /// Bound of each session cache (client and server), in sessions.
    std::size_t session_cache_size = 1024;
    /// An idle connection keeps no record buffers (SSL_MODE_RELEASE_BUFFERS,
    /// and corio's own ciphertext buffers are freed when empty and only
    /// taken once the socket is readable). Off: faster, ~34 KiB more per
    /// connection.
    bool release_buffers = true;
    /// OpenSSL cipher lists; empty: OpenSSL's defaults. `ciphers` is for TLS
    /// 1.2 (SSL_CTX_set_cipher_list), `ciphersuites` for TLS 1.3.
    std::string ciphers{};
    /// TLS 1.3 cipher suites (SSL_CTX_set_ciphersuites); empty: OpenSSL's defaults.
    std::string ciphersuites{};
    /// Kernel TLS transmit (see KtlsMode and BasicStream::ktls_status()).
    /// With `automatic` the context's keylog and message callbacks
    /// (SSL_CTX_set_keylog_callback, SSL_CTX_set_msg_callback) are corio's:
    /// they take each stream's sending traffic secret and count its records.
    /// A program that installs its own on native_handle() turns kernel TLS
    /// off for the streams made after that (ktls_status() says so).
    KtlsMode ktls = KtlsMode::automatic;
};

namespace detail {
struct ContextImpl;
}

/// A TLS context: cheap to copy (shared), usable from every loop at once.
/// Streams keep what they need of it alive.
class Context {
public:
    Context() noexcept = default;

    /// Makes a context. Errors (tls::Errc): certificate_file, private_key_file,
    /// key_mismatch, ca_file, bad_option; the caller names the files in its
    /// message.
    static Result<Context> make(ContextOptions opts);

    /// A client that verifies servers against `ca_file` (empty: the system store).
    static Result<Context> client(std::string ca_file = {});
    /// A server with this certificate chain and key.
    static Result<Context> server(std::string cert_file, std::string key_file);

    /// False for a default-constructed Context (no streams can be made from it).
    bool valid() const noexcept { return impl_ != nullptr; }
    /// The options the context was made with.
    const ContextOptions& options() const noexcept;
    /// The SSL_CTX*, for settings corio does not offer (as void*: OpenSSL's
    /// headers stay out of this one).
    void* native_handle() const noexcept;

    /// Client sessions remembered now (for tests and the memory tool).
    std::size_t cached_client_sessions() const;
    /// Server sessions in OpenSSL's cache now.
    std::size_t cached_server_sessions() const;

    /// The shared implementation, for tls/'s own streams.
    const std::shared_ptr<detail::ContextImpl>& impl() const noexcept { return impl_; }

private:
    std::shared_ptr<detail::ContextImpl> impl_;
};

/// Kernel TLS: whether the running kernel offers the `tls` TCP upper layer
/// protocol (/proc/sys/net/ipv4/tcp_available_ulp lists "tls"). Probed once.
bool kernel_tls_available() noexcept;
/// One line for a report: "ktls=available (TLS 1.3 records sent by the kernel
/// where a stream can)" or "ktls=unavailable (no tls ULP in
/// /proc/sys/net/ipv4/tcp_available_ulp); user-space records".
std::string kernel_tls_report();

}  // namespace corio::tls
