#pragma once
// The OpenSSL half of a TLS stream, free of any transport: one SSL object
// whose ciphertext goes through corio's own buffers (a BIO of ours), so that
// the stream template (stream.hpp) moves every record with the transport's
// own operations. Not API: use tls::BasicStream.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <corio/runtime/result.hpp>
#include <corio/runtime/sync.hpp>
#include <corio/tls/context.hpp>
#include <corio/tls/ktls.hpp>

struct ssl_st;

namespace corio::tls::detail {

/// Which way a session's records go out (see Session::ktls_status()).
enum class KtlsState : unsigned char {
    pending,     ///< the handshake is not done (or the stream has not decided yet)
    kernel_tx,   ///< the kernel makes the records we send
    off,         ///< ContextOptions::ktls is off
    not_socket,  ///< the transport has no socket
    no_ulp,      ///< the kernel offers no tls ULP
    tls12,       ///< TLS 1.2 was negotiated
    cipher,      ///< a suite the kernel has no form of
    no_secret,   ///< the keylog callback gave no sending secret
    no_count,    ///< no record was counted: the message callback is not ours
    setsockopt,  ///< the kernel refused the ULP or the keys: ktls_errno()
};

/// What an OpenSSL call needs next.
enum class Want : unsigned char {
    done,    ///< finished: `n` bytes (read/write) or the handshake is complete
    input,   ///< more ciphertext from the peer (then call again)
    closed,  ///< the peer sent close_notify: no more data
    error,   ///< failed: `ec`
};

struct Step {
    Want want = Want::done;
    std::size_t n = 0;
    std::error_code ec{};
};

/// One TLS session. Every call runs OpenSSL to the point where it needs more
/// input or is done; what it wants sent waits in the output buffer
/// (has_output/take_output) and must go out before the next input is awaited.
class Session {
public:
    /// `server_name`: the name to send as SNI and to verify (client; an IP
    /// literal is verified as an address and not sent); `session_key`: where
    /// a client's session is remembered for resumption (empty: server_name);
    /// `alpn`: this connection's ALPN protocols in place of the context's
    /// (empty: the context's), offered by a client, accepted by a server.
    static Result<std::unique_ptr<Session>> make(const Context& ctx, Role role,
                                                 std::string_view server_name,
                                                 std::string_view session_key,
                                                 std::span<const std::string_view> alpn = {});
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    Step handshake();
    Step read(std::span<std::byte> buf);
    Step write(std::span<const std::byte> buf);
    /// Queues close_notify (once). Done when it is queued.
    Step shutdown();

    bool handshake_done() const noexcept { return hs_done_; }
    bool shutdown_sent() const noexcept { return shutdown_sent_; }

    // Ciphertext from the peer.
    /// True when no input buffer is held (release_buffers and nothing pending).
    bool input_released() const noexcept { return in_ == nullptr; }
    /// Free space to receive into (allocated on demand; the start of unread
    /// data moves to the front first).
    std::span<std::byte> input_space();
    void input_added(std::size_t n) noexcept { in_end_ += n; }
    /// The transport ended (recv gave 0).
    void input_eof() noexcept { eof_ = true; }
    bool input_ended() const noexcept { return eof_; }

    // Ciphertext for the peer.
    bool has_output() const noexcept { return !out_.empty(); }
    std::size_t output_bytes() const noexcept { return out_.size(); }
    /// Moves the queued output into the sending buffer, which stays untouched
    /// until output_sent(): later OpenSSL calls append to a fresh buffer.
    std::span<const std::byte> take_output();
    void output_sent() noexcept;
    /// Sends the queued output now with non-blocking send(2) on `fd`, as far
    /// as the socket buffer takes it (for the synchronous close_notify).
    void send_output_now(int fd) noexcept;

    /// Frees empty buffers when the context asks for it.
    void release_idle() noexcept;

    /// The error that made the session unusable, or none.
    std::error_code broken() const noexcept { return broken_; }
    /// Records why the session is unusable (the first reason, unless `replace`).
    void set_broken(std::error_code ec, bool replace = false) noexcept {
        if (!broken_ || replace) broken_ = ec;
    }

    /// Serialises the writers of ciphertext (a reader may have to answer too).
    Mutex& send_mutex() noexcept { return send_mu_; }
    /// Serialises a lazy handshake started by a reader and a writer at once.
    Mutex& handshake_mutex() noexcept { return hs_mu_; }

    std::string_view alpn() const noexcept;
    std::string_view protocol() const noexcept;
    std::string_view cipher() const noexcept;
    bool resumed() const noexcept;
    /// Bytes held now in corio's ciphertext buffers (not OpenSSL's).
    std::size_t buffer_bytes() const noexcept;
    /// Where a client's session is remembered.
    const std::string& session_key() const noexcept { return key_; }
    /// This connection's own ALPN protocols in wire form, offered (client) or
    /// accepted (server); empty: the context's.
    const std::vector<unsigned char>& alpn_wire() const noexcept { return alpn_wire_; }
    /// The Session of an SSL object of ours (found through its BIO), or null
    /// for an SSL that is not a corio stream's.
    static Session* of(const ssl_st* ssl) noexcept;

    // Kernel TLS, sending direction.
    /// The keylog callback saw our sending application traffic secret: OpenSSL
    /// has just switched its write keys to it; records from here on count.
    void tx_secret(std::span<const unsigned char> secret) noexcept;
    /// The message callback saw OpenSSL make a record.
    void record_written() noexcept { ++records_written_; }
    /// The message callback saw OpenSSL send a KeyUpdate: the secret we hold
    /// is no longer the sending one.
    void tx_secret_stale() noexcept { tx_switched_ = false; }
    /// The kernel's parameters for the next record we send (key, iv, sequence
    /// number = records OpenSSL wrote under the secret). Errc::ktls_unsupported
    /// for TLS 1.2, another suite, no secret, or once the kernel has the keys.
    Result<KtlsParams> tx_params() const;
    /// After the handshake, with all output sent: hands the sending keys to
    /// the kernel on the socket `fd` (-1: the transport is not a socket) when
    /// the context and the kernel allow, else records why not.
    void try_ktls_tx(int fd) noexcept;
    /// True when the kernel makes the records we send.
    bool ktls_tx() const noexcept { return ktls_ == KtlsState::kernel_tx; }
    KtlsState ktls_state() const noexcept { return ktls_; }
    /// Says which path the records take and why ("kernel TLS transmit, ...",
    /// "user space (no tls ULP in /proc/sys/net/ipv4/tcp_available_ulp)").
    std::string ktls_status() const;
    /// Drops the queued output (OpenSSL's sending state is stale under kernel TLS).
    void discard_output() noexcept { out_.clear(); }
    /// close_notify went out another way (the kernel): OpenSSL must not send one.
    void mark_shutdown_sent() noexcept;

    // The BIO's callbacks.
    int bio_read(char* out, std::size_t len, std::size_t* got) noexcept;
    int bio_write(const char* in, std::size_t len, std::size_t* put);

private:
    Session() = default;
    Step fail(int ret, const char* what);

    std::shared_ptr<ContextImpl> ctx_;
    ssl_st* ssl_ = nullptr;
    std::string key_;
    std::vector<unsigned char> alpn_wire_;
    std::unique_ptr<std::byte[]> in_;
    std::size_t in_begin_ = 0;
    std::size_t in_end_ = 0;
    std::vector<std::byte> out_;
    std::vector<std::byte> sending_;
    std::error_code broken_;
    Mutex send_mu_;
    Mutex hs_mu_;
    // Kernel TLS: the sending secret, and the records OpenSSL made in all
    // and when that secret took over (the next record's number is the
    // difference).
    std::array<unsigned char, 48> tx_secret_{};
    unsigned char tx_secret_len_ = 0;
    bool tx_switched_ = false;
    std::uint64_t records_written_ = 0;
    std::uint64_t tx_base_ = 0;
    int ktls_errno_ = 0;
    const char* ktls_step_ = "";
    KtlsState ktls_ = KtlsState::pending;
    bool eof_ = false;
    bool hs_done_ = false;
    bool shutdown_sent_ = false;
    bool release_ = true;
};

}  // namespace corio::tls::detail
