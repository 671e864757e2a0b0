#pragma once
// multipart/form-data (RFC 7578; the multipart syntax of RFC 2046 §5.1):
// uploads read part by part as they arrive, and bodies made for a client.
//
//   router.post("/upload", [](http::Request& req) -> Task<http::Response> {
//       auto parts = http::MultipartReader::make(req);  // 400 when not multipart
//       if (!parts) co_return http::Response::error(400);
//       for (;;) {
//           auto part = co_await parts->next_part();
//           if (!part) co_return http::Response::error(400);  // malformed, or a limit
//           if (!*part) break;                                // no more parts
//           // (*part)->name, (*part)->filename; the body: parts->read(buf) until 0
//       }
//       co_return http::Response::text(200, "ok\n");
//   });

#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <corio/http/message.hpp>
#include <corio/http/multipart_codec.hpp>
#include <corio/runtime/result.hpp>
#include <corio/runtime/task.hpp>

namespace corio::http {

/// Reads the parts of a request's multipart body (multipart/form-data, or
/// any multipart/* type) one at a time, its body bytes as they arrive: an
/// upload of any size takes no more memory than the reader's 16 KiB and the
/// parser's buffer (a part's head at most, plus one read).
class MultipartReader {
public:
    /// A reader of `req`'s body (`req` must outlive it). Errors:
    /// std::errc::invalid_argument when its Content-Type is not multipart
    /// with a valid boundary.
    static Result<MultipartReader> make(Request& req, MultipartParser::Limits limits = {});

    /// The next part's head (what is left of the current part's body is
    /// skipped), or nullopt after the last part. Errors: the parser's, the
    /// request body's (a reset, the server's body limit: Errc::limit_exceeded,
    /// a timeout), Errc::eof when the body ends inside the multipart body;
    /// given again by later calls, but for std::errc::operation_canceled
    /// (the calling task was cancelled): the call can be made again.
    Task<Result<std::optional<PartHead>>> next_part();
    /// Some of the current part's body into `buf`: the count, 0 at the end of
    /// the part (and before the first part; an empty `buf` reads nothing).
    /// Errors: as next_part()'s.
    Task<Result<std::size_t>> read(std::span<std::byte> buf);
    /// The rest of the current part's body, at most `max` bytes
    /// (Errc::limit_exceeded beyond; the rest of the part can still be skipped
    /// by next_part()).
    Task<Result<std::string>> read_all(std::size_t max);

private:
    MultipartReader(Request& req, std::string_view boundary, MultipartParser::Limits limits);
    Task<Result<MultipartParser::Event>> pull();

    Request* req_;
    std::unique_ptr<MultipartParser> parser_;
    std::unique_ptr<std::array<std::byte, 16 * 1024>> in_;
    std::string_view data_;  // of the current part, not yet given to read()
    bool in_part_ = false;   // read() has a part to read from
    bool ended_ = false;     // the closing delimiter came
    std::error_code error_;
};

/// One part of a multipart/form-data body made by format_multipart().
struct FormPart {
    std::string name;                     ///< the form field's name
    std::optional<std::string> filename;  ///< for a file: its name
    std::string content_type;             ///< empty: none (text/plain for the reader)
    std::string body;                     ///< the content
};

/// A multipart/form-data body of `parts` for a request: the Content-Type to
/// send with it ("multipart/form-data; boundary=..."), and the body. The
/// boundary is random and appears in no part. Quotes, CR and LF in a name
/// or filename are sent as %22, %0D and %0A, as browsers do. Throws
/// std::invalid_argument for a content type that is not a valid field value.
struct MultipartBody {
    std::string content_type;  ///< the value of the request's Content-Type
    std::string body;          ///< the body
};
/// See MultipartBody.
MultipartBody format_multipart(const std::vector<FormPart>& parts);

}  // namespace corio::http
