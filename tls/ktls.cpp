#include <corio/tls/ktls.hpp>

#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <signal.h>
#include <sys/socket.h>

#include <cstring>
#include <mutex>
#include <string_view>

#include <corio/tls/error.hpp>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

namespace corio::tls::detail {

KtlsParams::~KtlsParams() {
    OPENSSL_cleanse(key.data(), key.size());
    OPENSSL_cleanse(iv.data(), iv.size());
}

CryptoInfo::~CryptoInfo() {
    OPENSSL_cleanse(bytes.data(), bytes.size());
}

namespace {

// TLS 1.3 suites (RFC 8446 B.4) and what the kernel calls them.
struct Suite {
    std::uint16_t id;
    std::uint16_t cipher_type;
    std::size_t key_len;
    std::size_t hash_len;
    const char* digest;
};
constexpr Suite suites[] = {
    {0x1301, TLS_CIPHER_AES_GCM_128, 16, 32, "SHA256"},
    {0x1302, TLS_CIPHER_AES_GCM_256, 32, 48, "SHA384"},
    {0x1303, TLS_CIPHER_CHACHA20_POLY1305, 32, 32, "SHA256"},
};

const Suite* find_suite(std::uint16_t id) noexcept {
    for (const Suite& s : suites) {
        if (s.id == id) return &s;
    }
    return nullptr;
}

// HKDF-Expand-Label(secret, label, "", out.size()) of RFC 8446 §7.1:
// HKDF-Expand with info = uint16 length, "tls13 " + label (length-prefixed),
// an empty context (length 0).
bool expand_label(const Suite& s, std::span<const unsigned char> secret, std::string_view label,
                  std::span<unsigned char> out) {
    static EVP_KDF* const kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);  // for the process
    if (kdf == nullptr) return false;
    unsigned char info[2 + 1 + 6 + 16 + 1];
    std::size_t n = 0;
    info[n++] = static_cast<unsigned char>(out.size() >> 8);
    info[n++] = static_cast<unsigned char>(out.size() & 0xff);
    info[n++] = static_cast<unsigned char>(6 + label.size());
    std::memcpy(info + n, "tls13 ", 6);
    n += 6;
    std::memcpy(info + n, label.data(), label.size());
    n += label.size();
    info[n++] = 0;  // context: empty

    EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
    if (ctx == nullptr) return false;
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(s.digest), 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                          const_cast<unsigned char*>(secret.data()), secret.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n),
        OSSL_PARAM_construct_end(),
    };
    const bool ok = EVP_KDF_derive(ctx, out.data(), out.size(), params) == 1;
    EVP_KDF_CTX_free(ctx);
    return ok;
}

template <class Info>
void fill(CryptoInfo& out, const KtlsParams& p) noexcept {
    Info info{};
    info.info.version = TLS_1_3_VERSION;
    info.info.cipher_type = p.cipher_type;
    std::memcpy(info.key, p.key.data(), sizeof info.key);
    // The nonce base is salt || iv: AES-GCM keeps 4 bytes as the salt, 8 as
    // the iv; ChaCha20-Poly1305 has no salt and a 12-byte iv.
    constexpr std::size_t salt_len = sizeof(Info::salt);
    static_assert(salt_len + sizeof(Info::iv) == 12);
    if constexpr (salt_len > 0) std::memcpy(info.salt, p.iv.data(), salt_len);
    std::memcpy(info.iv, p.iv.data() + salt_len, sizeof info.iv);
    for (int i = 0; i < 8; ++i) {
        info.rec_seq[i] = static_cast<unsigned char>(p.seq >> (56 - 8 * i));
    }
    static_assert(sizeof(Info) <= sizeof out.bytes);
    std::memcpy(out.bytes.data(), &info, sizeof info);
    out.size = sizeof info;
    OPENSSL_cleanse(&info, sizeof info);
}

}  // namespace

Result<KtlsParams> derive_ktls_params(std::uint16_t suite, std::span<const unsigned char> secret,
                                      std::uint64_t seq) {
    const Suite* s = find_suite(suite);
    if (s == nullptr || secret.size() != s->hash_len)
        return make_error_code(Errc::ktls_unsupported);
    KtlsParams p;
    p.suite = suite;
    p.cipher_type = s->cipher_type;
    p.key_len = s->key_len;
    p.seq = seq;
    if (!expand_label(*s, secret, "key", std::span(p.key).first(s->key_len)) ||
        !expand_label(*s, secret, "iv", p.iv)) {
        ERR_clear_error();
        return make_error_code(Errc::ktls_unsupported);
    }
    return p;
}

CryptoInfo crypto_info(const KtlsParams& p) noexcept {
    CryptoInfo out;
    switch (p.cipher_type) {
        case TLS_CIPHER_AES_GCM_128:
            fill<tls12_crypto_info_aes_gcm_128>(out, p);
            break;
        case TLS_CIPHER_AES_GCM_256:
            fill<tls12_crypto_info_aes_gcm_256>(out, p);
            break;
        case TLS_CIPHER_CHACHA20_POLY1305:
            fill<tls12_crypto_info_chacha20_poly1305>(out, p);
            break;
        default:
            break;
    }
    return out;
}

int install_ktls_tx(int fd, const KtlsParams& p, const char** step) noexcept {
    CryptoInfo info = crypto_info(p);
    if (info.size == 0) {
        *step = "crypto_info";
        return -EINVAL;
    }
    *step = "setsockopt TCP_ULP tls";
    if (::setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof "tls") != 0) return -errno;
    // From here the socket carries the ULP; without TLS_TX its sends still
    // go out as they are (the ULP's base mode), so a failure below leaves a
    // socket the user-space records work on.
    *step = "setsockopt SOL_TLS TLS_TX";
    if (::setsockopt(fd, SOL_TLS, TLS_TX, info.bytes.data(), socklen_t(info.size)) != 0) {
        return -errno;
    }
    return 0;
}

int ktls_send_close_notify(int fd) noexcept {
    // RFC 8446 §6.1: alert level warning (1), description close_notify (0),
    // in a record of content type alert (21) that the kernel encrypts.
    unsigned char alert[2] = {1, 0};
    iovec iov{alert, sizeof alert};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(unsigned char))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_TLS;
    c->cmsg_type = TLS_SET_RECORD_TYPE;
    c->cmsg_len = CMSG_LEN(sizeof(unsigned char));
    *CMSG_DATA(c) = 21;
    ssize_t n = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    return n >= 0 ? int(n) : -errno;
}

void ignore_sigpipe_once() noexcept {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction old {};
        if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
            ::signal(SIGPIPE, SIG_IGN);
        }
    });
}

}  // namespace corio::tls::detail
