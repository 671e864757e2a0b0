#include <corio/tls/error.hpp>

#include <openssl/err.h>
#include <openssl/x509.h>

#include <fmt/format.h>

namespace corio::tls {
namespace {

class TlsCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "corio.tls"; }
    std::string message(int ev) const override {
        switch (static_cast<Errc>(ev)) {
            case Errc::truncated:
                return "TLS connection closed without close_notify (truncated)";
            case Errc::handshake_timed_out:
                return "TLS handshake timed out";
            case Errc::closed_in_handshake:
                return "connection closed during the TLS handshake";
            case Errc::broken:
                return "TLS stream unusable after an earlier error";
            case Errc::no_session:
                return "TLS stream has no session";
            case Errc::certificate_file:
                return "cannot load the certificate file (PEM)";
            case Errc::private_key_file:
                return "cannot load the private key file (PEM)";
            case Errc::key_mismatch:
                return "the private key does not match the certificate";
            case Errc::ca_file:
                return "cannot load the trusted CA certificates";
            case Errc::bad_option:
                return "TLS option refused";
            case Errc::ktls_unsupported:
                return "kernel TLS cannot carry this TLS session";
            case Errc::ktls_key_update:
                return "the peer asked for a TLS key update, which kernel TLS transmit cannot "
                       "answer";
        }
        return "unknown TLS error";
    }
    // So that code written against std::errc (retry policies, the HTTP
    // client's stale-connection check) treats these like their kernel kin.
    std::error_condition default_error_condition(int ev) const noexcept override {
        switch (static_cast<Errc>(ev)) {
            case Errc::truncated:
                return std::errc::connection_aborted;
            case Errc::handshake_timed_out:
                return std::errc::timed_out;
            default:
                return {ev, *this};
        }
    }
};

class VerifyCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "corio.tls.verify"; }
    std::string message(int ev) const override {
        return fmt::format("certificate verify failed: {}", X509_verify_cert_error_string(ev));
    }
};

class OpensslCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "corio.tls.openssl"; }
    std::string message(int ev) const override {
        const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ev));
        if (reason == nullptr) return fmt::format("TLS: OpenSSL error {:#x}", unsigned(ev));
        return fmt::format("TLS: {}", reason);
    }
};

}  // namespace

const std::error_category& tls_category() noexcept {
    static const TlsCategory c;
    return c;
}
const std::error_category& verify_category() noexcept {
    static const VerifyCategory c;
    return c;
}
const std::error_category& openssl_category() noexcept {
    static const OpensslCategory c;
    return c;
}

}  // namespace corio::tls
