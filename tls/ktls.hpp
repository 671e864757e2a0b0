#pragma once
// Kernel TLS (kTLS) pieces of a TLS stream, and the two operations of
// BasicStream::send_file. Not API: the stream uses them, and the tests check
// the key material against OpenSSL's own records.
//
// After a TLS 1.3 handshake the sending direction can be handed to the
// kernel's `tls` upper layer protocol: setsockopt(TCP_ULP, "tls") and
// setsockopt(SOL_TLS, TLS_TX, crypto_info). The crypto_info is built here
// from the application traffic secret OpenSSL reports through its keylog
// callback (RFC 8446 §7.1 and §7.3: key and iv by HKDF-Expand-Label) and the
// number of records OpenSSL has written under that secret (the sequence
// number of the next record).

#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>

#include <corio/runtime/op.hpp>
#include <corio/runtime/result.hpp>

namespace corio::tls::detail {

/// What the kernel needs to make the records of one direction: the AEAD
/// key, the 12-byte nonce base (RFC 8446 §5.3: the per-record nonce is this
/// XOR the sequence number), the sequence number of the next record, and the
/// suite. Secret: wiped when destroyed.
struct KtlsParams {
    std::uint16_t suite = 0;        ///< TLS 1.3 cipher suite (0x1301, 0x1302, 0x1303)
    std::uint16_t cipher_type = 0;  ///< TLS_CIPHER_* of <linux/tls.h>
    std::array<unsigned char, 32> key{};
    std::size_t key_len = 0;
    std::array<unsigned char, 12> iv{};
    std::uint64_t seq = 0;

    KtlsParams() = default;
    KtlsParams(const KtlsParams&) = default;
    KtlsParams& operator=(const KtlsParams&) = default;
    ~KtlsParams();
};

/// Derives key and iv from a TLS 1.3 application traffic secret for `suite`
/// (TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256),
/// with `seq` as the next record's sequence number. Errors:
/// Errc::ktls_unsupported for another suite or a secret of the wrong length.
Result<KtlsParams> derive_ktls_params(std::uint16_t suite, std::span<const unsigned char> secret,
                                      std::uint64_t seq);

/// The bytes of the struct tls12_crypto_info_* that setsockopt(SOL_TLS,
/// TLS_TX) takes for `p` (version TLS 1.3; salt = the first 4 bytes of the
/// iv and iv = the other 8 for AES-GCM, the whole iv for ChaCha20-Poly1305;
/// rec_seq big-endian).
struct CryptoInfo {
    std::array<std::byte, 64> bytes{};
    std::size_t size = 0;

    CryptoInfo() = default;
    CryptoInfo(const CryptoInfo&) = default;
    CryptoInfo& operator=(const CryptoInfo&) = default;
    ~CryptoInfo();
};
CryptoInfo crypto_info(const KtlsParams& p) noexcept;

/// Hands the sending direction of the connected TCP socket `fd` to the
/// kernel: TCP_ULP "tls", then TLS_TX. 0, or -errno with `*step` naming the
/// call that failed ("setsockopt TCP_ULP tls", "setsockopt SOL_TLS TLS_TX").
int install_ktls_tx(int fd, const KtlsParams& p, const char** step) noexcept;

/// Sends a close_notify alert as a kernel-made record on a socket with kTLS
/// transmit (sendmsg with a TLS_SET_RECORD_TYPE control message), without
/// waiting: 2 (the alert's size), or -errno (-EAGAIN: the socket is full).
int ktls_send_close_notify(int fd) noexcept;

/// sendfile(2) and splice(2) raise SIGPIPE on a closed connection: a default
/// disposition becomes "ignore" once (a handler the program set is left alone).
void ignore_sigpipe_once() noexcept;

/// pread(2) of a file into `buf` at `offset` (send_file without kernel TLS):
/// IORING_OP_READ on io_uring, the blocking pool on epoll. The count, 0 at
/// the end of the file.
struct FileRead {
    int file;
    std::span<std::byte> buf;
    std::uint64_t offset;
    static constexpr OpKind kind = OpKind::read;
    static constexpr Interest interest = Interest::blocking;
    void prep(io_uring_sqe* s) const noexcept {
        io_uring_prep_read(s, file, buf.data(),
                           unsigned(std::min<std::size_t>(buf.size(), 1u << 30)), offset);
    }
    int attempt() noexcept {
        ssize_t n =
            ::pread(file, buf.data(), std::min<std::size_t>(buf.size(), 1u << 30), off_t(offset));
        return n >= 0 ? int(n) : -errno;
    }
    Result<std::size_t> finish(int res) const noexcept {
        if (res < 0) return sys_error(-res);
        return std::size_t(res);
    }
};

}  // namespace corio::tls::detail
