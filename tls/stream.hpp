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
// Kernel TLS is not used by this stream yet (ktls() is false): see
// tls::kernel_tls_available() and docs/tls.md.

#include <sys/socket.h>

#include <algorithm>
#include <concepts>
#include <cstddef>
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
    /// servers share a name). Errors: Errc::bad_option, out of memory.
    static Result<BasicStream> client(const Context& ctx, S transport, std::string_view server_name,
                                      std::string_view session_key = {}) {
        auto sess = detail::Session::make(ctx, Role::client, server_name, session_key);
        if (!sess) return sess.error();
        return BasicStream(std::move(transport), std::move(*sess));
    }
    /// A server over `transport`.
    static Result<BasicStream> server(const Context& ctx, S transport) {
        auto sess = detail::Session::make(ctx, Role::server, {}, {});
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
            if (sess_->has_output()) {
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

    /// Sends close_notify, waiting until the transport took it, then shuts
    /// the transport's sending side (SHUT_WR). The peer's recv then gives 0.
    Task<Result<void>> close_notify() {
        if (!sess_) co_return Errc::no_session;
        if (sess_->handshake_done() && !sess_->broken() && !sess_->shutdown_sent()) {
            detail::Step st = sess_->shutdown();
            auto f = co_await flush();
            if (!f) co_return f.error();
            if (st.want == detail::Want::error) co_return st.ec;
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

    /// True when records go through kernel TLS. Not yet: always false (see
    /// tls::kernel_tls_available()).
    bool ktls() const noexcept { return false; }
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
        if (!r) sess_->set_broken(r.error());
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
