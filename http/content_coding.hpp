#pragma once
// Content codings (RFC 9110 §8.4.1) over zlib: gzip and deflate bodies decoded
// (Client::fetch does it for the bodies it collects), gzip written at once or
// as a stream (GzipEncoder, which http::compress() uses), and the request's
// Accept-Encoding asked whether it takes gzip.

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <corio/runtime/result.hpp>

namespace corio::http {

class Headers;

/// Decodes a body sent with `Content-Encoding: coding`: "gzip" or "x-gzip"
/// (one or more gzip members), "deflate" (the zlib format, or the raw
/// DEFLATE some servers send under that name), any case, spaces around
/// ignored. Errors: std::errc::not_supported for another coding (or a list
/// of several); std::errc::illegal_byte_sequence when the body is not in
/// that coding or ends inside it; Errc::limit_exceeded when the decoded body
/// would be longer than `max`.
Result<std::string> decode_content(std::string_view coding, std::string_view body, std::size_t max);

/// Decodes a body in a content coding as it arrives, into the caller's
/// buffers: the streaming form of decode_content(), with its codings and
/// errors (Client::open()'s ResponseStream uses it). Move-only.
class ContentDecoder {
public:
    /// What one decode() did.
    struct Step {
        std::size_t used = 0;     ///< bytes of `in` taken (all of them, unless `out` filled)
        std::size_t written = 0;  ///< bytes put in `out`
    };

    /// A decoder for `coding` (as decode_content()). Errors:
    /// std::errc::not_supported for another coding or a list.
    static Result<ContentDecoder> make(std::string_view coding);
    ~ContentDecoder();
    /// Takes over the other's state (the other may only be destroyed or assigned).
    ContentDecoder(ContentDecoder&&) noexcept;
    /// Takes over the other's state, dropping its own.
    ContentDecoder& operator=(ContentDecoder&&) noexcept;

    /// Decodes from `in` into `out` until `in` is used up or `out` is full;
    /// call it with an empty `in` to drain what a full `out` held back.
    /// Errors: std::errc::illegal_byte_sequence when the bytes are not in the
    /// coding or follow its end; the bytes decoded before such bytes are
    /// given first, the error by the next call, and every call after it.
    Result<Step> decode(std::string_view in, std::span<std::byte> out);
    /// The coded body is over (after decode() gave all it had): an error
    /// (std::errc::illegal_byte_sequence) when it ended inside the coding,
    /// was empty (as decode_content()), or had an error.
    Result<void> finish() const;

private:
    struct State;
    explicit ContentDecoder(std::unique_ptr<State> s) noexcept;
    Result<Step> fail(Step step) noexcept;
    std::unique_ptr<State> s_;
};

/// `body` as one gzip member (RFC 1952), at zlib's `level` (1 fastest, 9
/// smallest).
std::string gzip(std::string_view body, int level = 6);

/// A gzip member (RFC 1952) written as its input arrives: each write() appends
/// to `out` everything a decoder needs to give back all the input so far (a
/// zlib sync flush), so a streamed body compresses without holding pieces
/// back; finish() appends the end of the member. Move-only; one per body.
class GzipEncoder {
public:
    /// An encoder at zlib's `level` (1 fastest, 9 smallest; clamped).
    explicit GzipEncoder(int level = 6);
    ~GzipEncoder();
    /// Takes over the other's stream (the other may only be destroyed or assigned).
    GzipEncoder(GzipEncoder&&) noexcept;
    /// Takes over the other's stream, giving its own back for reuse.
    GzipEncoder& operator=(GzipEncoder&&) noexcept;

    /// Compresses `in` onto `out`, flushed. Nothing for an empty `in`.
    void write(std::string_view in, std::string& out);
    /// Compresses `in` (may be empty) and ends the member onto `out`; the
    /// encoder takes no more input after it.
    void finish(std::string_view in, std::string& out);

private:
    struct State;
    std::unique_ptr<State> z_;
};

/// True when the request fields `h` take gzip in their Accept-Encoding (RFC
/// 9110 §12.5.3): "gzip" or "x-gzip" with a q above 0, or "*" when gzip is not
/// refused by name (q=0). Several field lines make one list; no field: false
/// (corio compresses only for clients that ask).
bool accepts_gzip(const Headers& h) noexcept;

}  // namespace corio::http
