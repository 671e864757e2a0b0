#pragma once
// TLS errors as values. Three kinds, each an error_code whose message reads
// as the reason, the way `openssl verify` and `openssl s_client` name it:
//
//   - certificate verification (verify_category): the X509_V_ERR_* code,
//     "certificate verify failed: certificate has expired";
//   - OpenSSL's own errors (openssl_category): the library's packed error
//     code, "TLS: wrong version number", "TLS: tlsv1 alert unknown ca";
//   - what corio itself names (tls::Errc): truncation, handshake timeout,
//     a peer that left during the handshake, files that do not load.
//
// Kernel errors (ECONNRESET, EPIPE, ...) stay in system_category.

#include <string>
#include <system_error>
#include <type_traits>

namespace corio::tls {

/// TLS outcomes OpenSSL has no code for.
enum class Errc {
    /// The peer ended the connection without close_notify: the data may be
    /// cut short. Compares equal to std::errc::connection_aborted.
    truncated = 1,
    /// The handshake did not finish before its deadline. Compares equal to
    /// std::errc::timed_out.
    handshake_timed_out,
    /// The peer closed the connection before the handshake finished.
    closed_in_handshake,
    /// An earlier error (a failed or interrupted write, a cancelled
    /// handshake) left the TLS session in an unknown state; the stream can
    /// only be closed.
    broken,
    /// An operation on a stream that holds no session (default-constructed
    /// or moved from).
    no_session,
    /// The certificate file could not be read or holds no PEM certificate.
    certificate_file,
    /// The private key file could not be read or holds no PEM key.
    private_key_file,
    /// The private key does not belong to the certificate.
    key_mismatch,
    /// The CA file (or the system store) could not be loaded.
    ca_file,
    /// A server context without a certificate, an ALPN name longer than 255
    /// bytes, or another option OpenSSL refused.
    bad_option,
    /// Kernel TLS cannot carry this session: TLS 1.2, a cipher suite the
    /// kernel has no form of, no traffic secret, or the kernel already owns
    /// the keys (BasicStream::ktls_status() says which).
    ktls_unsupported,
    /// With kernel TLS transmit, the peer asked for a key update (TLS 1.3
    /// KeyUpdate, update_requested), which only OpenSSL's own sending state
    /// could answer: the stream can only be closed.
    ktls_key_update,
};

/// The category of tls::Errc.
const std::error_category& tls_category() noexcept;
/// Certificate verification failures: the value is an X509_V_ERR_* code.
const std::error_category& verify_category() noexcept;
/// OpenSSL library errors: the value is OpenSSL's packed error code
/// (library and reason, ERR_PACK).
const std::error_category& openssl_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept {
    return {static_cast<int>(e), tls_category()};
}

/// True when `ec` is a certificate verification failure (of any reason).
inline bool is_verify_error(std::error_code ec) noexcept {
    return ec.category() == verify_category();
}

}  // namespace corio::tls

template <>
struct std::is_error_code_enum<corio::tls::Errc> : std::true_type {};
