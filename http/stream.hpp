#pragma once
// The byte stream http/ speaks over: any type with corio's stream interface
// (recv, send_all, shutdown, as net::TcpStream has), behind one small
// type-erased handle, so that the server and the client work unchanged over
// TCP, Unix sockets, TLS or a test double.
//
//   http::Stream s(std::move(tcp));              // any ByteStream
//   auto n = co_await s.recv(buf);
//
// The cost is one indirect call and one recycled coroutine frame per
// operation, which is small beside the system call it wraps.

#include <sys/socket.h>

#include <concepts>
#include <cstddef>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>

#include <corio/net/socket.hpp>
#include <corio/runtime/result.hpp>
#include <corio/runtime/task.hpp>

namespace corio::http {

/// What http/ needs of a connected byte stream: recv(span<byte>) awaiting to
/// Result<size_t> (0 = the peer closed), send_all(span<const byte>) awaiting
/// to Result<void>, and shutdown(int) giving Result<void>. net::TcpStream and
/// net::UnixStream qualify; so does a TLS stream with the same members.
template <class S>
concept ByteStream = std::move_constructible<S> &&
    requires(S& s, std::span<std::byte> in, std::span<const std::byte> out) {
    s.recv(in);
    s.send_all(out);
    { s.shutdown(SHUT_WR) } -> std::same_as<Result<void>>;
};

/// A connected byte stream of any ByteStream type, owned. When the stream is
/// (or derives from) net::Stream, a plain kernel socket, native_socket() gives
/// its descriptor, which lets http/ send files with splice/sendfile; a stream
/// with a native_socket() member of its own says for itself (a TLS stream
/// whose records the kernel makes gives its socket; one that must see every
/// byte gives -1); for other streams it is -1 and files go through
/// send_all. Move-only; one reader and one writer at a time, as the stream
/// allows.
class Stream {
public:
    /// No stream (is_open() false).
    Stream() noexcept = default;
    // The same_as test comes first: checking ByteStream<Stream> would ask
    // whether Stream is move-constructible, which considers this constructor
    // again (clang 14 recurses; g++ 12 lets it pass).
    /// Owns `s` (moved in).
    template <class S>
    requires(!std::same_as<std::remove_cvref_t<S>, Stream> && ByteStream<S>) explicit Stream(S s)
        : impl_(std::make_unique<Model<S>>(std::move(s))) {}

    /// Some bytes into `buf`: the count, 0 when the peer closed its side.
    Task<Result<std::size_t>> recv(std::span<std::byte> buf) { return impl_->recv(buf); }
    /// All of `buf`.
    Task<Result<void>> send_all(std::span<const std::byte> buf) { return impl_->send_all(buf); }
    /// Every byte of every buffer, in order (one gathered write where the
    /// stream has one, else one send_all per buffer).
    Task<Result<void>> send_all(std::span<const std::span<const std::byte>> bufs) {
        return impl_->send_all_v(bufs);
    }
    /// shutdown(2)-like: SHUT_WR ends the sending side after queued data.
    Result<void> shutdown(int how = SHUT_WR) { return impl_->shutdown(how); }
    /// The kernel socket under a plain net::Stream, else -1 (see the class comment).
    int native_socket() const noexcept { return impl_ ? impl_->native_socket() : -1; }
    /// True while it owns a stream.
    bool is_open() const noexcept { return impl_ != nullptr; }
    /// The wrapped stream when it is an S, else null.
    template <class S>
    S* get() noexcept {
        auto* m = dynamic_cast<Model<S>*>(impl_.get());
        return m != nullptr ? &m->s : nullptr;
    }
    /// Closes the stream now (no operation may be pending on it).
    void close() noexcept { impl_.reset(); }

private:
    struct Concept {
        virtual ~Concept() = default;
        virtual Task<Result<std::size_t>> recv(std::span<std::byte> buf) = 0;
        virtual Task<Result<void>> send_all(std::span<const std::byte> buf) = 0;
        virtual Task<Result<void>> send_all_v(std::span<const std::span<const std::byte>> b) = 0;
        virtual Result<void> shutdown(int how) = 0;
        virtual int native_socket() const noexcept = 0;
    };
    template <class S>
    struct Model final : Concept {
        explicit Model(S st) : s(std::move(st)) {}
        Task<Result<std::size_t>> recv(std::span<std::byte> buf) override {
            co_return co_await s.recv(buf);
        }
        Task<Result<void>> send_all(std::span<const std::byte> buf) override {
            co_return co_await s.send_all(buf);
        }
        Task<Result<void>> send_all_v(std::span<const std::span<const std::byte>> b) override {
            if constexpr (requires { s.send_all(b); }) {
                co_return co_await s.send_all(b);
            } else {
                for (auto part : b) {
                    auto r = co_await s.send_all(part);
                    if (!r) co_return r;
                }
                co_return Result<void>{};
            }
        }
        Result<void> shutdown(int how) override { return s.shutdown(how); }
        int native_socket() const noexcept override {
            if constexpr (std::is_base_of_v<net::Stream, S>) {
                return s.fd();
            } else if constexpr (requires { s.native_socket(); }) {
                return s.native_socket();  // e.g. TLS whose records the kernel makes
            } else {
                return -1;
            }
        }
        S s;
    };
    std::unique_ptr<Concept> impl_;
};

}  // namespace corio::http
