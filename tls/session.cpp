#include <corio/tls/session.hpp>

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <new>
#include <string_view>

#include <fmt/format.h>

#include "context_impl.hpp"

namespace corio::tls::detail {
namespace {

// Room for one whole record of either version (16 KiB of plaintext plus
// expansion and the 5-byte header: at most 16,645 bytes in TLS 1.3), so a
// record never waits on buffer space.
constexpr std::size_t input_capacity = 17 * 1024;

Session* session_of(BIO* b) noexcept {
    return static_cast<Session*>(BIO_get_data(b));
}

struct Method {
    BIO_METHOD* m;
    int type;
};

// Our BIO: reads take ciphertext the transport received, writes queue
// ciphertext for the transport. Nothing here waits, so OpenSSL reports
// "want read" when the input runs dry and never "want write".
Method make_method() {
    const int type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK;
    BIO_METHOD* m = BIO_meth_new(type, "corio");
    if (m == nullptr) throw std::bad_alloc();
    BIO_meth_set_read_ex(m, [](BIO* b, char* out, std::size_t len, std::size_t* got) -> int {
        BIO_clear_retry_flags(b);
        int r = session_of(b)->bio_read(out, len, got);
        if (r < 0) {
            BIO_set_retry_read(b);
            return 0;
        }
        return r;
    });
    BIO_meth_set_write_ex(m, [](BIO* b, const char* in, std::size_t len, std::size_t* put) -> int {
        BIO_clear_retry_flags(b);
        return session_of(b)->bio_write(in, len, put);
    });
    BIO_meth_set_ctrl(m, [](BIO*, int cmd, long, void*) -> long {
        // Flushing is the stream's business (it sends what is queued).
        return cmd == BIO_CTRL_FLUSH ? 1 : 0;
    });
    BIO_meth_set_create(m, [](BIO* b) -> int {
        BIO_set_init(b, 1);
        return 1;
    });
    return {m, type};
}

const Method& bio_method() {
    static const Method m = make_method();  // lives for the process
    return m;
}

int from_hex(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool is_ip_literal(const std::string& host) {
    unsigned char buf[16];
    return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
           ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

Result<std::unique_ptr<Session>> Session::make(const Context& ctx, Role role,
                                               std::string_view server_name,
                                               std::string_view session_key,
                                               std::span<const std::string_view> alpn) {
    const auto& impl = ctx.impl();
    if (!impl || impl->opts.role != role) return make_error_code(Errc::bad_option);
    std::unique_ptr<Session> s(new Session());
    if (!append_alpn_wire(s->alpn_wire_, alpn)) return make_error_code(Errc::bad_option);
    s->ctx_ = impl;
    s->release_ = impl->opts.release_buffers;
    s->ssl_ = SSL_new(impl->ctx);
    if (s->ssl_ == nullptr) {
        ERR_clear_error();
        return std::errc::not_enough_memory;
    }
    if (impl->opts.ktls != KtlsMode::off) SSL_set_msg_callback_arg(s->ssl_, s.get());
    BIO* bio = BIO_new(bio_method().m);
    if (bio == nullptr) {
        ERR_clear_error();
        return std::errc::not_enough_memory;
    }
    BIO_set_data(bio, s.get());
    SSL_set_bio(s->ssl_, bio, bio);  // one reference for both directions
    if (role == Role::server) {
        SSL_set_accept_state(s->ssl_);
        return s;
    }

    SSL_set_connect_state(s->ssl_);
    std::string host(server_name);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    const bool verify = impl->opts.verify_peer;
    // Safe by default: a verifying client without a name to check would
    // accept any certificate the CA ever signed.
    if (verify && host.empty()) return make_error_code(Errc::bad_option);
    if (is_ip_literal(host)) {
        // RFC 6066: SNI carries host names only; an address is checked
        // against the certificate's IP SANs.
        if (verify && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl_), host.c_str()) != 1) {
            ERR_clear_error();
            return make_error_code(Errc::bad_option);
        }
    } else if (!host.empty()) {
        if (SSL_set_tlsext_host_name(s->ssl_, host.c_str()) != 1 ||
            (verify && SSL_set1_host(s->ssl_, host.c_str()) != 1)) {
            ERR_clear_error();
            return make_error_code(Errc::bad_option);
        }
    }
    s->key_ = session_key.empty() ? host : std::string(session_key);
    // A client offers its own list in place of the context's (0 is success here).
    if (!s->alpn_wire_.empty() &&
        SSL_set_alpn_protos(s->ssl_, s->alpn_wire_.data(), unsigned(s->alpn_wire_.size())) != 0) {
        ERR_clear_error();
        return make_error_code(Errc::bad_option);
    }
    if (impl->opts.session_resumption && !s->key_.empty()) {
        if (SSL_SESSION* old = impl->recall(s->key_)) {
            SSL_set_session(s->ssl_, old);
            SSL_SESSION_free(old);
        }
    }
    return s;
}

Session* Session::of(const ssl_st* ssl) noexcept {
    // Found through the BIO, which is ours only on corio's own streams: an SSL made some other
    // way from a shared context (native_handle()) holds no Session. OpenSSL's app data slot is
    // left to such users.
    BIO* b = SSL_get_wbio(ssl);
    if (b == nullptr || BIO_method_type(b) != bio_method().type) return nullptr;
    return session_of(b);
}

Session::~Session() {
    SSL_free(ssl_);  // frees the BIO too
    OPENSSL_cleanse(tx_secret_.data(), tx_secret_.size());
}

// The keylog callback of contexts with kernel TLS. OpenSSL 3.0 reports each
// TLS 1.3 traffic secret when it installs the keys made from it: our
// sending application secret (CLIENT_TRAFFIC_SECRET_0 for a client,
// SERVER_TRAFFIC_SECRET_0 for a server) right after it made the last record
// under the handshake keys (our Finished), so every record made after this
// call is under that secret, a server's session tickets included. (The
// Finished may still sit in OpenSSL's handshake buffer then: records are
// counted when made, not when they reach our BIO.)
void on_keylog(const SSL* ssl, const char* line) {
    Session* s = Session::of(ssl);
    if (s == nullptr) return;  // not a corio stream
    std::string_view l(line);
    const std::string_view label =
        SSL_is_server(ssl) ? "SERVER_TRAFFIC_SECRET_0 " : "CLIENT_TRAFFIC_SECRET_0 ";
    if (l.substr(0, label.size()) != label) return;
    l.remove_prefix(label.size());
    const std::size_t sp = l.find(' ');  // after the client random
    if (sp == std::string_view::npos) return;
    l.remove_prefix(sp + 1);
    std::array<unsigned char, 48> secret{};
    if (l.size() % 2 != 0 || l.size() / 2 > secret.size()) return;
    const std::size_t n = l.size() / 2;
    for (std::size_t i = 0; i < n; ++i) {
        const int hi = from_hex(l[2 * i]), lo = from_hex(l[2 * i + 1]);
        if (hi < 0 || lo < 0) return;
        secret[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    s->tx_secret(std::span(secret).first(n));
    OPENSSL_cleanse(secret.data(), secret.size());
}

// The message callback of contexts with kernel TLS: OpenSSL calls it with
// the header of every record it makes, when it encrypts it (before any
// buffering on the way to the BIO). Counted from the switch to the sending
// application secret, that is the kernel's sequence number.
void on_message(int write_p, int, int content_type, const void* buf, std::size_t len, SSL*,
                void* arg) {
    if (write_p != 1 || arg == nullptr) return;
    auto* s = static_cast<Session*>(arg);
    if (content_type == SSL3_RT_HEADER) {
        s->record_written();
    } else if (content_type == SSL3_RT_HANDSHAKE && len > 0 &&
               *static_cast<const unsigned char*>(buf) == SSL3_MT_KEY_UPDATE) {
        // Our sending keys move on to a secret OpenSSL does not log.
        s->tx_secret_stale();
    }
}

// ---- OpenSSL calls ------------------------------------------------------------

Step Session::handshake() {
    ERR_clear_error();  // the queue is per thread: other connections' leftovers
    int r = SSL_do_handshake(ssl_);
    if (r == 1) {
        hs_done_ = true;
        return {Want::done};
    }
    return fail(r, "handshake");
}

Step Session::read(std::span<std::byte> buf) {
    ERR_clear_error();
    std::size_t n = 0;
    if (SSL_read_ex(ssl_, buf.data(), buf.size(), &n) == 1) return {Want::done, n};
    return fail(0, "read");
}

Step Session::write(std::span<const std::byte> buf) {
    ERR_clear_error();
    std::size_t n = 0;
    if (SSL_write_ex(ssl_, buf.data(), buf.size(), &n) == 1) return {Want::done, n};
    return fail(0, "write");
}

Step Session::shutdown() {
    if (shutdown_sent_) return {Want::done};
    shutdown_sent_ = true;
    ERR_clear_error();
    // 0: our close_notify is queued, the peer's not seen yet (we do not wait
    // for it: the transport's FIN follows).
    int r = SSL_shutdown(ssl_);
    if (r >= 0) return {Want::done};
    return fail(r, "shutdown");
}

Step Session::fail(int ret, const char*) {
    const int e = SSL_get_error(ssl_, ret);
    if (e == SSL_ERROR_WANT_READ && !eof_) return {Want::input};
    if (e == SSL_ERROR_ZERO_RETURN) return {Want::closed};
    std::error_code ec;
    const long verify = SSL_get_verify_result(ssl_);
    if (!hs_done_ && verify != X509_V_OK && (SSL_get_verify_mode(ssl_) & SSL_VERIFY_PEER) != 0 &&
        !SSL_is_server(ssl_)) {
        // The handshake failed because the certificate did: say why, as
        // `openssl verify` would.
        ec = {int(verify), verify_category()};
    } else if (eof_ && (SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) == 0 &&
               (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_WANT_READ ||
                ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
        ec = make_error_code(hs_done_ ? Errc::truncated : Errc::closed_in_handshake);
    } else if (unsigned long err = ERR_peek_error(); err != 0) {
        if (ERR_SYSTEM_ERROR(err)) {
            ec = sys_error(ERR_GET_REASON(err));
        } else {
            // Library and reason only: the message is the reason's text.
            ec = {int(ERR_PACK(ERR_GET_LIB(err), 0, ERR_GET_REASON(err))), openssl_category()};
        }
    } else {
        ec = make_error_code(Errc::broken);
    }
    ERR_clear_error();
    set_broken(ec);
    return {Want::error, 0, ec};
}

// ---- ciphertext -----------------------------------------------------------------

std::span<std::byte> Session::input_space() {
    if (!in_) {
        in_.reset(new std::byte[input_capacity]);
        in_begin_ = in_end_ = 0;
    }
    if (in_begin_ == in_end_) {
        in_begin_ = in_end_ = 0;
    } else if (in_begin_ > 0) {
        std::memmove(in_.get(), in_.get() + in_begin_, in_end_ - in_begin_);
        in_end_ -= in_begin_;
        in_begin_ = 0;
    }
    return {in_.get() + in_end_, input_capacity - in_end_};
}

int Session::bio_read(char* out, std::size_t len, std::size_t* got) noexcept {
    *got = 0;
    if (in_begin_ < in_end_) {
        const std::size_t n = std::min(len, in_end_ - in_begin_);
        std::memcpy(out, in_.get() + in_begin_, n);
        in_begin_ += n;
        *got = n;
        return 1;
    }
    if (eof_) return 0;  // end of stream: no retry
    return -1;           // retry: the stream receives more
}

int Session::bio_write(const char* in, std::size_t len, std::size_t* put) {
    try {
        const auto* b = reinterpret_cast<const std::byte*>(in);
        out_.insert(out_.end(), b, b + len);
    } catch (const std::bad_alloc&) {
        *put = 0;
        return 0;
    }
    *put = len;
    return 1;
}

// ---- kernel TLS ------------------------------------------------------------------

void Session::tx_secret(std::span<const unsigned char> secret) noexcept {
    tx_switched_ = true;
    tx_base_ = records_written_;
    tx_secret_len_ = static_cast<unsigned char>(std::min(secret.size(), tx_secret_.size()));
    std::memcpy(tx_secret_.data(), secret.data(), tx_secret_len_);
}

Result<KtlsParams> Session::tx_params() const {
    // Valid until OpenSSL changes its sending keys again: a TLS 1.3 key
    // update, which only a read or write after the handshake can start. The
    // stream hands the keys over before either.
    if (ktls_ == KtlsState::kernel_tx || !hs_done_ || SSL_version(ssl_) != TLS1_3_VERSION ||
        !tx_switched_ || tx_secret_len_ == 0 || records_written_ == 0) {
        return make_error_code(Errc::ktls_unsupported);
    }
    const SSL_CIPHER* c = SSL_get_current_cipher(ssl_);
    if (c == nullptr) return make_error_code(Errc::ktls_unsupported);
    return derive_ktls_params(SSL_CIPHER_get_protocol_id(c),
                              std::span(tx_secret_.data(), tx_secret_len_),
                              records_written_ - tx_base_);
}

void Session::try_ktls_tx(int fd) noexcept {
    if (ktls_ != KtlsState::pending || !hs_done_) return;
    const SSL_CIPHER* c = SSL_get_current_cipher(ssl_);
    const std::uint16_t suite = c != nullptr ? SSL_CIPHER_get_protocol_id(c) : 0;
    if (ctx_->opts.ktls == KtlsMode::off) {
        ktls_ = KtlsState::off;
    } else if (fd < 0) {
        ktls_ = KtlsState::not_socket;
    } else if (!kernel_tls_available()) {
        ktls_ = KtlsState::no_ulp;
    } else if (SSL_version(ssl_) != TLS1_3_VERSION) {
        ktls_ = KtlsState::tls12;
    } else if (suite < 0x1301 || suite > 0x1303) {
        ktls_ = KtlsState::cipher;
    } else if (!tx_switched_ || tx_secret_len_ == 0) {
        ktls_ = KtlsState::no_secret;
    } else if (records_written_ == 0 || has_output()) {
        // No record counted at all (the handshake wrote some): the message
        // callback is not ours, and the sequence number would be a guess.
        ktls_ = KtlsState::no_count;
    } else {
        auto p = tx_params();
        if (!p) {
            ktls_ = KtlsState::cipher;
            return;
        }
        const int r = install_ktls_tx(fd, *p, &ktls_step_);
        if (r < 0) {
            ktls_errno_ = -r;
            ktls_ = KtlsState::setsockopt;
            return;
        }
        ktls_ = KtlsState::kernel_tx;
        // The kernel has the keys; OpenSSL's copy of the sending state is
        // stale from here on and ours is not needed.
        OPENSSL_cleanse(tx_secret_.data(), tx_secret_.size());
        tx_secret_len_ = 0;
    }
}

std::string Session::ktls_status() const {
    switch (ktls_) {
        case KtlsState::pending:
            return "not decided (the handshake is not done)";
        case KtlsState::kernel_tx:
            return fmt::format(
                "kernel TLS transmit ({}: the kernel makes the records sent), "
                "user-space receive",
                cipher());
        case KtlsState::off:
            return "user space (kernel TLS off in the context)";
        case KtlsState::not_socket:
            return "user space (the transport is not a socket)";
        case KtlsState::no_ulp:
            return "user space (no tls ULP in /proc/sys/net/ipv4/tcp_available_ulp)";
        case KtlsState::tls12:
            return "user space (TLS 1.2: only TLS 1.3 keys are handed to the kernel)";
        case KtlsState::cipher:
            return fmt::format("user space (cipher suite {} has no kernel TLS form here)",
                               cipher());
        case KtlsState::no_secret:
            return "user space (no sending traffic secret: the context's keylog callback was "
                   "replaced)";
        case KtlsState::no_count:
            return "user space (no record count: the context's message callback was replaced)";
        case KtlsState::setsockopt:
            return fmt::format("user space ({}: {})", ktls_step_,
                               std::generic_category().message(ktls_errno_));
    }
    return "unknown";
}

void Session::mark_shutdown_sent() noexcept {
    shutdown_sent_ = true;
    SSL_set_shutdown(ssl_, SSL_get_shutdown(ssl_) | SSL_SENT_SHUTDOWN);
}

std::span<const std::byte> Session::take_output() {
    sending_.swap(out_);  // sending_ was empty: later output goes to a fresh out_
    return sending_;
}

void Session::output_sent() noexcept {
    sending_.clear();
    if (release_ && hs_done_) std::vector<std::byte>().swap(sending_);
}

void Session::send_output_now(int fd) noexcept {
    std::size_t off = 0;
    while (off < out_.size()) {
        ssize_t n = ::send(fd, out_.data() + off, out_.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n <= 0) break;
        off += std::size_t(n);
    }
    out_.clear();
}

void Session::release_idle() noexcept {
    if (!release_ || !hs_done_) return;
    if (in_ && in_begin_ == in_end_) {
        in_.reset();
        in_begin_ = in_end_ = 0;
    }
    if (out_.empty()) std::vector<std::byte>().swap(out_);
    if (sending_.empty()) std::vector<std::byte>().swap(sending_);
}

std::size_t Session::buffer_bytes() const noexcept {
    return (in_ ? input_capacity : 0) + out_.capacity() + sending_.capacity();
}

// ---- what was negotiated ----------------------------------------------------------

std::string_view Session::alpn() const noexcept {
    const unsigned char* p = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl_, &p, &len);
    if (p == nullptr) return {};
    return {reinterpret_cast<const char*>(p), len};
}

std::string_view Session::protocol() const noexcept {
    return hs_done_ ? SSL_get_version(ssl_) : std::string_view();
}

std::string_view Session::cipher() const noexcept {
    const SSL_CIPHER* c = SSL_get_current_cipher(ssl_);
    return c != nullptr ? SSL_CIPHER_get_name(c) : std::string_view();
}

bool Session::resumed() const noexcept {
    return SSL_session_reused(ssl_) == 1;
}

}  // namespace corio::tls::detail
