#pragma once
// Content codings (RFC 9110 §8.4.1) over zlib: gzip and deflate bodies decoded
// (Client::fetch does it for the bodies it collects) and gzip written.

#include <cstddef>
#include <string>
#include <string_view>

#include <corio/runtime/result.hpp>

namespace corio::http {

/// Decodes a body sent with `Content-Encoding: coding`: "gzip" or "x-gzip"
/// (one or more gzip members), "deflate" (the zlib format, or the raw
/// DEFLATE some servers send under that name), any case, spaces around
/// ignored. Errors: std::errc::not_supported for another coding (or a list
/// of several); std::errc::illegal_byte_sequence when the body is not in
/// that coding or ends inside it; Errc::limit_exceeded when the decoded body
/// would be longer than `max`.
Result<std::string> decode_content(std::string_view coding, std::string_view body, std::size_t max);

/// `body` as one gzip member (RFC 1952), at zlib's `level` (1 fastest, 9
/// smallest).
std::string gzip(std::string_view body, int level = 6);

}  // namespace corio::http
