#pragma once
// The OpenSSL half of a TLS stream, free of any transport: one SSL object
// whose ciphertext goes through corio's own buffers (a BIO of ours), so that
// the stream template (stream.hpp) moves every record with the transport's
// own operations. Not API: use tls::BasicStream.

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <corio/runtime/result.hpp>
#include <corio/runtime/sync.hpp>
#include <corio/tls/context.hpp>

struct ssl_st;

namespace corio::tls::detail {

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
    /// a client's session is remembered for resumption (empty: server_name).
    static Result<std::unique_ptr<Session>> make(const Context& ctx, Role role,
                                                 std::string_view server_name,
                                                 std::string_view session_key);
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

    // The BIO's callbacks.
    int bio_read(char* out, std::size_t len, std::size_t* got) noexcept;
    int bio_write(const char* in, std::size_t len, std::size_t* put);

private:
    Session() = default;
    Step fail(int ret, const char* what);

    std::shared_ptr<ContextImpl> ctx_;
    ssl_st* ssl_ = nullptr;
    std::string key_;
    std::unique_ptr<std::byte[]> in_;
    std::size_t in_begin_ = 0;
    std::size_t in_end_ = 0;
    std::vector<std::byte> out_;
    std::vector<std::byte> sending_;
    std::error_code broken_;
    Mutex send_mu_;
    Mutex hs_mu_;
    bool eof_ = false;
    bool hs_done_ = false;
    bool shutdown_sent_ = false;
    bool release_ = true;
};

}  // namespace corio::tls::detail
