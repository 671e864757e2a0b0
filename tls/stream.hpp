#pragma once
// A TLS stream over any corio byte stream (TCP, Unix, a test double), with
// the interface of net::TcpStream: recv, send, send_all, shutdown.
//
//   auto ctx = tls::Context::client().value("tls");
//   auto tcp = co_await net::TcpStream::connect(addr);
//   auto s = tls::Stream::client(ctx, std::move(*tcp), "example.com").value("tls");
//   auto h = co_await s.handshake(Deadline::after(5s));   // h.error().message() says why
//   if (!h) co_return;
//   co_await s.send_all(std::string_view("GET / HTTP/1.1\r\n..."));
//
// OpenSSL works on memory only (a BIO of corio's); the ciphertext goes
// through the transport's own recv and send_all, so every record is an
// io_uring operation on io_uring and a readiness-driven call on epoll, and
// cancellation and timeouts work as for any other operation. OpenSSL never
// sees a buffer of the caller's after the call that was given it returns:
// plaintext is copied in and out synchronously, and ciphertext lives in the
// session until the transport's operation on it has completed.
//
// Kernel TLS: after a TLS 1.3 handshake over a socket, where the kernel
// offers the `tls` ULP and the context allows it (ContextOptions::ktls), the
// sending keys go to the kernel: from then on send/send_all are plain socket
// sends, send_file is sendfile(2), and native_socket() gives the descriptor.
// Received records stay in user space (see docs/tls.md). ktls_status() says
// which path a stream takes and why.

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <corio/net/socket.hpp>
#include <corio/net/tcp.hpp>
#include <corio/runtime/deadline.hpp>
#include <corio/runtime/ops.hpp>
#include <corio/runtime/result.hpp>
#include <corio/runtime/task.hpp>
#include <corio/runtime/timer.hpp>
#include <corio/tls/context.hpp>
#include <corio/tls/error.hpp>
#include <corio/tls/ktls.hpp>
#include <corio/tls/session.hpp>

namespace corio::tls {

namespace detail {
template <class S>
concept HasFd = requires(const S& s) {
    { s.fd() } -> std::convertible_to<int>;
};
}  // namespace detail

/// TLS over a connected byte stream `S` (anything with recv(span<byte>),
/// send_all(span<const byte>) and shutdown(int), as net::TcpStream has).
///
/// The handshake runs on an explicit `co_await s.handshake(deadline)`, or
/// lazily on the first recv/send. Its failures are values naming the reason:
/// verify_category ("certificate verify failed: certificate has expired"),
/// openssl_category ("TLS: wrong version number"), tls::Errc
/// (handshake_timed_out, closed_in_handshake), or the transport's errors.
///
/// recv gives 0 when the peer closed with close_notify, and Errc::truncated
/// when it closed without one. Every operation takes cancellation from the
/// awaiting task and works under with_timeout; a write or handshake cut
/// short leaves the session broken (Errc::broken afterwards). One reader and
/// one writer may be active at once. The stream must outlive its operations
/// and be moved only while none is pending.
///
/// With kernel TLS transmit (ktls_tx(), decided at the end of the handshake)
/// the kernel makes the records sent; the behaviour above is the same.
template <class S>
class BasicStream {
public:
    BasicStream() noexcept = default;
    /// Takes over the other stream's transport and session (none pending).
    BasicStream(BasicStream&&) noexcept = default;
    /// Closes this stream quietly, then takes over the other's.
    BasicStream& operator=(BasicStream&& o) noexcept {
        if (this != &o) {
            close_quietly();
            transport_ = std::move(o.transport_);
            sess_ = std::move(o.sess_);
        }
        return *this;
    }
    /// Sends close_notify if it can without waiting (see shutdown) and
    /// closes the transport.
    ~BasicStream() { close_quietly(); }

    /// A client over `transport`, for the server named `server_name` (sent as
    /// SNI and, with a verifying context, checked against the certificate; an
    /// IP literal is checked as an address). `session_key` names the server
    /// for session resumption (empty: server_name; "host:port" when several
    /// servers share a name). `alpn`: the ALPN protocols this connection
    /// offers, in place of the context's (empty: the context's). Errors:
    /// Errc::bad_option (also for an empty name or one over 255 bytes), out
    /// of memory.
    static Result<BasicStream> client(const Context& ctx, S transport, std::string_view server_name,
                                      std::string_view session_key = {},
                                      std::span<const std::string_view> alpn = {}) {
        auto sess = detail::Session::make(ctx, Role::client, server_name, session_key, alpn);
        if (!sess) return sess.error();
        return BasicStream(std::move(transport), std::move(*sess));
    }
    /// A server over `transport`. `alpn`: the ALPN protocols this connection
    /// accepts, in its order of preference, in place of the context's.
    static Result<BasicStream> server(const Context& ctx, S transport,
                                      std::span<const std::string_view> alpn = {}) {
        auto sess = detail::Session::make(ctx, Role::server, {}, {}, alpn);
        if (!sess) return sess.error();
        return BasicStream(std::move(transport), std::move(*sess));
    }

    /// Runs the handshake to its end, before `deadline` at the latest
    /// (then Errc::handshake_timed_out, the session is broken). Completes at
    /// once when it is done already.
    Task<Result<void>> handshake(Deadline deadline = Deadline::never()) {
        if (!sess_) co_return Errc::no_session;
        if (sess_->handshake_done()) co_return Result<void>{};
        if (deadline.is_never()) co_return co_await locked_handshake();
        auto r = co_await with_deadline(locked_handshake(), deadline);
        if (!r && r.error() == std::errc::timed_out && r.error().category() != tls_category()) {
            sess_->set_broken(Errc::handshake_timed_out, true);
            co_return Errc::handshake_timed_out;
        }
        co_return r;
    }

    /// Some plaintext into `buf`: the count; 0 when the peer closed with
    /// close_notify (or `buf` is empty); Errc::truncated when the
    /// connection ended without it.
    Task<Result<std::size_t>> recv(std::span<std::byte> buf) {
        if (!sess_) co_return Errc::no_session;
        if (!sess_->handshake_done()) {
            auto h = co_await locked_handshake();
            if (!h) co_return h.error();
        }
        if (buf.empty()) co_return std::size_t(0);
        for (;;) {
            if (auto ec = sess_->broken()) co_return ec;
            detail::Step st = sess_->read(buf);
            if (sess_->has_output() && sess_->ktls_tx()) {
                // OpenSSL's sending state stopped at the handover: what it
                // wrote now (an answer to a key update, an alert) cannot go
                // out. After an error it does not matter; otherwise the
                // stream cannot go on (the data read so far is still given).
                sess_->discard_output();
                if (st.want != detail::Want::error) sess_->set_broken(Errc::ktls_key_update);
            } else if (sess_->has_output()) {
                // A key update or an alert to answer: goes out before we wait.
                auto f = co_await flush();
                if (!f && st.want != detail::Want::error) co_return f.error();
            }
            switch (st.want) {
                case detail::Want::done:
                    sess_->release_idle();
                    co_return st.n;
                case detail::Want::closed:
                    sess_->release_idle();
                    co_return std::size_t(0);
                case detail::Want::error:
                    co_return st.ec;
                case detail::Want::input:
                    break;
            }
            auto r = co_await fill();
            if (!r) co_return r.error();
        }
    }

    /// Encrypts all of `buf` and sends it; the count (all of it) once the
    /// records have been handed to the transport.
    Task<Result<std::size_t>> send(std::span<const std::byte> buf) {
        auto r = co_await send_all(buf);
        if (!r) co_return r.error();
        co_return buf.size();
    }
    /// Encrypts and sends all of `buf` (at most 64 KiB of ciphertext is
    /// queued at a time).
    Task<Result<void>> send_all(std::span<const std::byte> buf) {
        if (!sess_) co_return Errc::no_session;
        if (!sess_->handshake_done()) {
            auto h = co_await locked_handshake();
            if (!h) co_return h.error();
        }
        if (auto ec = sess_->broken()) co_return ec;
        if (sess_->ktls_tx()) co_return co_await kernel_send(buf);
        auto w = co_await write_all(buf);
        if (!w) co_return w.error();
        co_return co_await flush();
    }
    /// Every byte of every buffer, in order; small buffers go out together.
    Task<Result<void>> send_all(std::span<const std::span<const std::byte>> bufs) {
        if (!sess_) co_return Errc::no_session;
        if (!sess_->handshake_done()) {
            auto h = co_await locked_handshake();
            if (!h) co_return h.error();
        }
        if (auto ec = sess_->broken()) co_return ec;
        if (sess_->ktls_tx()) co_return co_await kernel_send_v(bufs);
        for (auto b : bufs) {
            auto w = co_await write_all(b);
            if (!w) co_return w.error();
        }
        co_return co_await flush();
    }
    /// send_all() of text (std::string, std::string_view, ...); the text
    /// must live until the completion.
    template <net::CharRange R>
    Task<Result<void>> send_all(const R& text) {
        return send_all(net::as_send_bytes(text));
    }

    /// Sends `len` bytes of the open file `file` from `offset`. With kernel
    /// TLS transmit the kernel reads the file and makes the records
    /// (sendfile(2): no copy through user space; SIGPIPE is set to ignored
    /// once, if it had its default action); otherwise the file is read 64 KiB
    /// at a time (IORING_OP_READ, or pread on the blocking pool) and
    /// encrypted here. Errors: the file's and the transport's; a file shorter
    /// than `len` gives EIO. A failed send leaves the session broken.
    Task<Result<void>> send_file(int file, std::uint64_t offset, std::uint64_t len) {
        if (!sess_) co_return Errc::no_session;
        if (!sess_->handshake_done()) {
            auto h = co_await locked_handshake();
            if (!h) co_return h.error();
        }
        if (auto ec = sess_->broken()) co_return ec;
        if constexpr (detail::HasFd<S>) {
            if (sess_->ktls_tx()) {
                auto g = co_await sess_->send_mutex().lock();
                if (!g) co_return g.error();
                detail::ignore_sigpipe_once();
                auto r =
                    co_await corio::run(net::SendFile{transport_.fd(), file, off_t(offset), len});
                if (!r) sess_->set_broken(r.error());
                co_return r;
            }
        }
        constexpr std::size_t chunk = 64 * 1024;
        if (len == 0) co_return Result<void>{};
        const std::size_t cap = std::size_t(std::min<std::uint64_t>(chunk, len));
        std::unique_ptr<std::byte[]> buf(new std::byte[cap]);
        while (len > 0) {
            const std::size_t want = std::size_t(std::min<std::uint64_t>(cap, len));
            auto n =
                co_await corio::run(detail::FileRead{file, std::span(buf.get(), want), offset});
            if (!n) co_return n.error();
            if (*n == 0) co_return sys_error(EIO);  // the file is shorter than asked
            auto w = co_await write_all(std::span<const std::byte>(buf.get(), *n));
            if (!w) co_return w.error();
            offset += *n;
            len -= *n;
        }
        co_return co_await flush();
    }

    /// Sends close_notify, waiting until the transport took it, then shuts
    /// the transport's sending side (SHUT_WR). The peer's recv then gives 0.
    Task<Result<void>> close_notify() {
        if (!sess_) co_return Errc::no_session;
        if (sess_->handshake_done() && !sess_->broken() && !sess_->shutdown_sent()) {
            if (sess_->ktls_tx()) {
                auto k = co_await kernel_close_notify();
                if (!k) co_return k.error();
            } else {
                detail::Step st = sess_->shutdown();
                auto f = co_await flush();
                if (!f) co_return f.error();
                if (st.want == detail::Want::error) co_return st.ec;
            }
        }
        co_return transport_.shutdown(SHUT_WR);
    }

    /// Synchronous, as TcpStream::shutdown: for SHUT_WR/SHUT_RDWR it queues
    /// close_notify and, when the transport is a socket and no send is in
    /// progress, sends it with one non-blocking send (a full socket buffer
    /// drops it: the peer then sees truncation; use close_notify() to wait).
    /// Then shuts the transport down.
    Result<void> shutdown(int how = SHUT_WR) {
        if (!sess_) return make_error_code(Errc::no_session);
        if (how != SHUT_RD) send_close_notify_now();
        return transport_.shutdown(how);
    }

    /// True when records go through kernel TLS in either direction (today:
    /// ktls_tx()).
    bool ktls() const noexcept { return ktls_tx(); }
    /// True when the kernel makes the records this stream sends (decided
    /// when the handshake completes; see ktls_status()).
    bool ktls_tx() const noexcept { return sess_ && sess_->ktls_tx(); }
    /// Which path records take and why: "kernel TLS transmit (...)", or
    /// "user space (REASON)", e.g. "user space (no tls ULP in
    /// /proc/sys/net/ipv4/tcp_available_ulp)", "user space (TLS 1.2: ...)",
    /// "user space (setsockopt TCP_ULP tls: ...)".
    std::string ktls_status() const { return sess_ ? sess_->ktls_status() : "no session"; }
    /// The kernel TLS parameters for the next record this stream sends, as
    /// they would go to setsockopt(SOL_TLS, TLS_TX): for tests and
    /// diagnostics (secret key material). Errc::ktls_unsupported for TLS 1.2,
    /// another suite, ktls off, or once the kernel has the keys.
    Result<detail::KtlsParams> ktls_tx_params() const {
        if (!sess_) return make_error_code(Errc::no_session);
        return sess_->tx_params();
    }
    /// The socket under the stream when the kernel makes the records sent
    /// (ktls_tx()): bytes written to it with send(2), sendfile(2) or
    /// splice(2) go out as TLS records (what is read from it is ciphertext).
    /// Else -1: every byte must pass through the stream.
    int native_socket() const noexcept {
        if constexpr (detail::HasFd<S>) {
            if (sess_ && sess_->ktls_tx()) return transport_.fd();
        }
        return -1;
    }
    /// The protocol ALPN chose ("http/1.1"), empty when none.
    std::string_view alpn() const noexcept { return sess_ ? sess_->alpn() : std::string_view(); }
    /// "TLSv1.3" or "TLSv1.2" once the handshake is done.
    std::string_view protocol() const noexcept {
        return sess_ ? sess_->protocol() : std::string_view();
    }
    /// The cipher suite's name once the handshake is done.
    std::string_view cipher() const noexcept {
        return sess_ ? sess_->cipher() : std::string_view();
    }
    /// True when the handshake resumed an earlier session.
    bool resumed() const noexcept { return sess_ && sess_->resumed(); }
    /// True once the handshake has completed.
    bool handshake_done() const noexcept { return sess_ && sess_->handshake_done(); }
    /// True from client()/server() until the stream is closed or moved from.
    bool is_open() const noexcept { return sess_ != nullptr; }
    /// Bytes held now in the stream's own ciphertext buffers.
    std::size_t buffer_bytes() const noexcept { return sess_ ? sess_->buffer_bytes() : 0; }

    /// The byte stream the records travel on.
    S& transport() noexcept { return transport_; }
    /// The byte stream the records travel on.
    const S& transport() const noexcept { return transport_; }

private:
    BasicStream(S t, std::unique_ptr<detail::Session> s) noexcept
        : transport_(std::move(t)), sess_(std::move(s)) {}

    void send_close_notify_now() noexcept {
        if (!sess_ || !sess_->handshake_done() || sess_->broken() || sess_->shutdown_sent()) {
            return;
        }
        if constexpr (detail::HasFd<S>) {
            if (sess_->send_mutex().locked()) return;  // a send in progress owns the socket
            if (sess_->ktls_tx()) {
                (void)detail::ktls_send_close_notify(transport_.fd());
                sess_->mark_shutdown_sent();
                return;
            }
            (void)sess_->shutdown();
            sess_->send_output_now(transport_.fd());
        }
    }
    void close_quietly() noexcept {
        if constexpr (detail::HasFd<S>) {
            if (sess_ && transport_.fd() >= 0) send_close_notify_now();
        }
        sess_.reset();
    }

    /// Encrypts `buf` into the output queue, sending the queue whenever it
    /// holds 64 KiB or more (so a large buffer is not doubled in memory).
    Task<Result<void>> write_all(std::span<const std::byte> buf) {
        constexpr std::size_t piece = 64 * 1024;
        while (!buf.empty()) {
            const std::size_t k = std::min(buf.size(), piece);
            detail::Step st = sess_->write(buf.first(k));
            if (st.want == detail::Want::error) co_return st.ec;
            // Our BIO takes any amount and renegotiation is off: only an
            // error stops a write.
            if (st.want != detail::Want::done) co_return Errc::broken;
            buf = buf.subspan(st.n);
            if (sess_->output_bytes() >= piece) {
                auto f = co_await flush();
                if (!f) co_return f.error();
            }
        }
        co_return Result<void>{};
    }

    /// Kernel TLS transmit: plaintext goes to the socket as it is; one sender
    /// at a time, as for records.
    Task<Result<void>> kernel_send(std::span<const std::byte> buf) {
        auto g = co_await sess_->send_mutex().lock();
        if (!g) co_return g.error();
        if (auto ec = sess_->broken()) co_return ec;
        Result<void> r = co_await transport_.send_all(buf);
        if (!r) sess_->set_broken(r.error());
        co_return r;
    }
    Task<Result<void>> kernel_send_v(std::span<const std::span<const std::byte>> bufs) {
        auto g = co_await sess_->send_mutex().lock();
        if (!g) co_return g.error();
        if (auto ec = sess_->broken()) co_return ec;
        Result<void> r;
        if constexpr (requires { transport_.send_all(bufs); }) {
            r = co_await transport_.send_all(bufs);
        } else {
            for (auto b : bufs) {
                r = co_await transport_.send_all(b);
                if (!r) break;
            }
        }
        if (!r) sess_->set_broken(r.error());
        co_return r;
    }
    /// Kernel TLS transmit: close_notify as an alert record the kernel makes,
    /// waiting for room in the socket.
    Task<Result<void>> kernel_close_notify() {
        if constexpr (detail::HasFd<S>) {
            auto g = co_await sess_->send_mutex().lock();
            if (!g) co_return g.error();
            for (;;) {
                const int r = detail::ktls_send_close_notify(transport_.fd());
                if (r >= 0) break;
                if (r != -EAGAIN) {
                    sess_->set_broken(sys_error(-r));
                    co_return sys_error(-r);
                }
                auto p = co_await corio::poll(transport_.fd(), POLLOUT);
                if (!p) co_return p.error();
            }
            sess_->mark_shutdown_sent();
        }
        co_return Result<void>{};
    }

    /// Sends everything queued; one sender at a time. A failure (or a
    /// cancellation) part way leaves the record stream cut: broken.
    Task<Result<void>> flush() {
        while (sess_->has_output()) {
            auto g = co_await sess_->send_mutex().lock();
            if (!g) co_return g.error();
            if (!sess_->has_output()) break;
            std::span<const std::byte> out = sess_->take_output();
            auto r = co_await transport_.send_all(out);
            sess_->output_sent();
            if (!r) {
                sess_->set_broken(r.error());
                co_return r.error();
            }
        }
        co_return Result<void>{};
    }

    /// Receives ciphertext. With release_buffers and no buffer held, waits
    /// for readability first, so a connection waiting for its peer holds no
    /// buffer. A cancelled receive loses nothing.
    Task<Result<void>> fill() {
        if (sess_->input_ended()) co_return Errc::truncated;
        if constexpr (detail::HasFd<S>) {
            if (sess_->input_released()) {
                auto p = co_await corio::poll(transport_.fd(), POLLIN);
                if (!p) co_return p.error();
            }
        }
        std::span<std::byte> space = sess_->input_space();
        if (space.empty()) {  // cannot happen with records of legal size
            sess_->set_broken(Errc::broken);
            co_return Errc::broken;
        }
        auto n = co_await transport_.recv(space);
        if (!n) co_return n.error();
        if (*n == 0) {
            sess_->input_eof();
        } else {
            sess_->input_added(*n);
        }
        co_return Result<void>{};
    }

    Task<Result<void>> locked_handshake() {
        auto g = co_await sess_->handshake_mutex().lock();
        if (!g) co_return g.error();
        if (sess_->handshake_done()) co_return Result<void>{};
        auto r = co_await run_handshake();
        // Cut short (cancelled, timed out, failed): OpenSSL's state is
        // mid-flight and the peer's too; nothing can resume it.
        if (!r) {
            sess_->set_broken(r.error());
            co_return r;
        }
        // Done, and everything OpenSSL wrote has been sent (run_handshake
        // flushes): the moment the sending keys can go to the kernel.
        if constexpr (detail::HasFd<S>) {
            sess_->try_ktls_tx(transport_.fd());
        } else {
            sess_->try_ktls_tx(-1);
        }
        co_return r;
    }

    Task<Result<void>> run_handshake() {
        for (;;) {
            if (auto ec = sess_->broken()) co_return ec;
            detail::Step st = sess_->handshake();
            if (sess_->has_output()) {
                // Alerts too: the peer should learn why we give up.
                auto f = co_await flush();
                if (!f && st.want != detail::Want::error) co_return f.error();
            }
            switch (st.want) {
                case detail::Want::done:
                    sess_->release_idle();
                    co_return Result<void>{};
                case detail::Want::closed:
                    co_return Errc::closed_in_handshake;
                case detail::Want::error:
                    co_return st.ec;
                case detail::Want::input:
                    break;
            }
            auto r = co_await fill();
            if (!r) {
                if (r.error() == Errc::truncated) co_return Errc::closed_in_handshake;
                co_return r.error();
            }
        }
    }

    S transport_;
    std::unique_ptr<detail::Session> sess_;
};

/// TLS over TCP.
using Stream = BasicStream<net::TcpStream>;

}  // namespace corio::tls
