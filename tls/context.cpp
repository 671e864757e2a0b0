#include <corio/tls/context.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <utility>

#include <corio/runtime/backend.hpp>
#include <corio/tls/session.hpp>

#include "context_impl.hpp"

namespace corio::tls {
namespace detail {

ContextImpl::~ContextImpl() {
    for (auto& [key, s] : sessions_)
        SSL_SESSION_free(s);
    SSL_CTX_free(ctx);
}

void ContextImpl::remember(const std::string& key, SSL_SESSION* s) {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(key);
    if (it != sessions_.end()) {
        SSL_SESSION_free(it->second);
        it->second = s;
        return;
    }
    sessions_.emplace(key, s);
    order_.push_back(key);
    while (sessions_.size() > std::max<std::size_t>(1, opts.session_cache_size)) {
        auto old = sessions_.find(order_.front());
        if (old != sessions_.end()) {
            SSL_SESSION_free(old->second);
            sessions_.erase(old);
        }
        order_.pop_front();
    }
}

SSL_SESSION* ContextImpl::recall(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(key);
    if (it == sessions_.end()) return nullptr;
    if (SSL_SESSION_is_resumable(it->second) != 1) return nullptr;
    SSL_SESSION_up_ref(it->second);
    return it->second;
}

std::size_t ContextImpl::remembered() const {
    std::lock_guard lock(mu_);
    return sessions_.size();
}

}  // namespace detail

namespace {

int proto_version(Version v) {
    return v == Version::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
}

// Client: a new session ticket (TLS 1.3, after the handshake) or session
// (TLS 1.2). The Session of the SSL names the server it belongs to.
int on_new_session(SSL* ssl, SSL_SESSION* s) {
    auto* ctx = static_cast<detail::ContextImpl*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    const detail::Session* session = detail::Session::of(ssl);
    if (ctx == nullptr || session == nullptr || session->session_key().empty()) return 0;
    ctx->remember(session->session_key(), s);
    return 1;  // we keep the reference
}

// Server: the first of our protocols (the connection's own list, else the
// context's) that the client offers; none in common goes on without ALPN (as
// nginx does) rather than failing the handshake.
int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
            unsigned inlen, void* arg) {
    auto* ctx = static_cast<detail::ContextImpl*>(arg);
    const detail::Session* session = detail::Session::of(ssl);
    const auto& ours =
        session != nullptr && !session->alpn_wire().empty() ? session->alpn_wire() : ctx->alpn_wire;
    for (std::size_t i = 0; i < ours.size(); i += 1 + ours[i]) {
        for (unsigned j = 0; j < inlen; j += 1u + in[j]) {
            if (j + 1u + in[j] > inlen) break;
            if (in[j] == ours[i] && std::memcmp(in + j + 1, ours.data() + i + 1, ours[i]) == 0) {
                *out = ours.data() + i + 1;
                *outlen = ours[i];
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

bool readable(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return false;
    std::fclose(f);
    return true;
}

Result<void> configure(detail::ContextImpl& impl) {
    const ContextOptions& o = impl.opts;
    SSL_CTX* c = impl.ctx;
    auto refuse = [](Errc e) {
        ERR_clear_error();
        return Result<void>(make_error_code(e));
    };
    if (o.min_version > o.max_version) return refuse(Errc::bad_option);
    SSL_CTX_set_min_proto_version(c, proto_version(o.min_version));
    SSL_CTX_set_max_proto_version(c, proto_version(o.max_version));
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    if (o.release_buffers) SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    if (!o.ciphers.empty() && SSL_CTX_set_cipher_list(c, o.ciphers.c_str()) != 1) {
        return refuse(Errc::bad_option);
    }
    if (!o.ciphersuites.empty() && SSL_CTX_set_ciphersuites(c, o.ciphersuites.c_str()) != 1) {
        return refuse(Errc::bad_option);
    }

    const bool server = o.role == Role::server;
    if (server && (o.cert_file.empty() || o.key_file.empty())) return refuse(Errc::bad_option);
    if (!o.cert_file.empty()) {
        if (!readable(o.cert_file) ||
            SSL_CTX_use_certificate_chain_file(c, o.cert_file.c_str()) != 1) {
            return refuse(Errc::certificate_file);
        }
        const std::string& key = o.key_file.empty() ? o.cert_file : o.key_file;
        if (!readable(key) || SSL_CTX_use_PrivateKey_file(c, key.c_str(), SSL_FILETYPE_PEM) != 1) {
            return refuse(Errc::private_key_file);
        }
        if (SSL_CTX_check_private_key(c) != 1) return refuse(Errc::key_mismatch);
    }

    // Clients verify by default; servers ask for a client certificate only
    // when given the CAs to check it against.
    const bool verify = o.verify_peer && (!server || !o.ca_file.empty());
    if (verify) {
        if (!o.ca_file.empty()) {
            if (!readable(o.ca_file) ||
                SSL_CTX_load_verify_locations(c, o.ca_file.c_str(), nullptr) != 1) {
                return refuse(Errc::ca_file);
            }
        } else if (SSL_CTX_set_default_verify_paths(c) != 1) {
            return refuse(Errc::ca_file);
        }
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                           nullptr);
    } else {
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    }

    if (!detail::append_alpn_wire(impl.alpn_wire, o.alpn)) return refuse(Errc::bad_option);
    if (server) {
        SSL_CTX_set_alpn_select_cb(c, on_alpn, &impl);  // a connection may bring its own list
    } else if (!impl.alpn_wire.empty()) {
        const unsigned len = unsigned(impl.alpn_wire.size());
        if (SSL_CTX_set_alpn_protos(c, impl.alpn_wire.data(), len) != 0) {
            return refuse(Errc::bad_option);
        }
    }

    const long cache = long(std::max<std::size_t>(1, o.session_cache_size));
    if (!o.session_resumption) {
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(c, 0);
    } else if (server) {
        static const unsigned char sid_ctx[] = "corio";
        SSL_CTX_set_session_id_context(c, sid_ctx, sizeof sid_ctx - 1);
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(c, cache);
        // One ticket per handshake instead of two: clients here keep one per server.
        SSL_CTX_set_num_tickets(c, 1);
    } else {
        // Sessions are kept by corio (per server), not in OpenSSL's internal cache.
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(c, on_new_session);
    }
    // Kernel TLS needs each stream's sending traffic secret, which OpenSSL
    // 3.0 gives only to a keylog callback, and the sequence number of its
    // next record, which it does not give at all: a message callback counts
    // the records (session.cpp).
    if (o.ktls != KtlsMode::off) {
        SSL_CTX_set_keylog_callback(c, detail::on_keylog);
        SSL_CTX_set_msg_callback(c, detail::on_message);
    }
    SSL_CTX_set_app_data(c, &impl);
    ERR_clear_error();
    return {};
}

}  // namespace

Result<Context> Context::make(ContextOptions opts) {
    auto impl = std::make_shared<detail::ContextImpl>();
    impl->opts = std::move(opts);
    impl->ctx =
        SSL_CTX_new(impl->opts.role == Role::server ? TLS_server_method() : TLS_client_method());
    if (impl->ctx == nullptr) {
        ERR_clear_error();
        return std::errc::not_enough_memory;
    }
    if (auto r = configure(*impl); !r) return r.error();
    Context c;
    c.impl_ = std::move(impl);
    return c;
}

Result<Context> Context::client(std::string ca_file) {
    ContextOptions o;
    o.ca_file = std::move(ca_file);
    return make(std::move(o));
}

Result<Context> Context::server(std::string cert_file, std::string key_file) {
    ContextOptions o;
    o.role = Role::server;
    o.cert_file = std::move(cert_file);
    o.key_file = std::move(key_file);
    return make(std::move(o));
}

const ContextOptions& Context::options() const noexcept {
    static const ContextOptions none;
    return impl_ ? impl_->opts : none;
}

void* Context::native_handle() const noexcept {
    return impl_ ? impl_->ctx : nullptr;
}

std::size_t Context::cached_client_sessions() const {
    return impl_ ? impl_->remembered() : 0;
}

std::size_t Context::cached_server_sessions() const {
    return impl_ ? std::size_t(SSL_CTX_sess_number(impl_->ctx)) : 0;
}

// ---- kernel TLS -------------------------------------------------------------

bool kernel_tls_available() noexcept {
    return corio::kernel_tls_ulp();
}

std::string kernel_tls_report() {
    if (kernel_tls_available()) {
        return "ktls=available (TLS 1.3 records sent by the kernel where a stream can)";
    }
    return "ktls=unavailable (no tls ULP in /proc/sys/net/ipv4/tcp_available_ulp); user-space "
           "records";
}

}  // namespace corio::tls
