#pragma once
// The multipart syntax (RFC 2046 §5.1; RFC 7578 for multipart/form-data)
// without I/O: the boundary of a Content-Type, and a parser fed a body as it
// arrives. <corio/http/multipart.hpp> reads requests with it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <corio/http/codec.hpp>
#include <corio/runtime/result.hpp>

namespace corio::http {

/// The boundary of a multipart Content-Type value ("multipart/form-data;
/// boundary=xyz", the parameter quoted or not, the type in any case), or
/// nullopt when the type is not multipart/* or the boundary is not valid
/// (RFC 2046 §5.1.1: 1 to 70 of its characters, not ending in a space).
std::optional<std::string> multipart_boundary(std::string_view content_type);

/// The head of one part of a multipart body.
struct PartHead {
    /// Its header fields, as sent.
    Headers headers;
    /// The "name" parameter of its Content-Disposition (form-data: the form
    /// field's name), "" when there is none.
    std::string name;
    /// The "filename" parameter of its Content-Disposition, when given (a
    /// file upload). A name to show, not a path to use: it may hold "../",
    /// slashes or any byte.
    std::optional<std::string> filename;
    /// Its Content-Type, or "text/plain" when it has none (RFC 7578 §4.4).
    std::string_view content_type() const noexcept {
        return headers.get("Content-Type").value_or("text/plain");
    }
};

/// Parses a multipart body as it arrives, with no I/O (MultipartReader
/// reads a request through one). Feed bytes with feed(), take events with
/// next() until it asks for more.
class MultipartParser {
public:
    /// Bounds on what a body can make it hold or do.
    struct Limits {
        std::size_t max_head = 16 * 1024;  ///< bytes of one part's header section
        std::size_t max_parts = 1000;      ///< parts in one body
    };

    /// What next() found.
    enum class Event : std::uint8_t {
        need_more,  ///< everything fed is taken: feed() more
        head,       ///< a part begins: head() holds its fields
        data,       ///< bytes of the current part's body: data()
        part_end,   ///< the current part is over
        end,        ///< the closing delimiter came; the rest (the epilogue) is ignored
    };

    /// A parser of a body whose parts are delimited by `boundary` (see
    /// multipart_boundary()), with the default limits.
    explicit MultipartParser(std::string_view boundary);
    /// The same with `limits`.
    MultipartParser(std::string_view boundary, Limits limits);

    /// Adds the next bytes of the body (any split). Feed after next() gave
    /// need_more: the parser keeps what it has not reported yet.
    void feed(std::string_view bytes);
    /// The next event of what was fed: a part's head, body bytes (as many as
    /// it can tell are not part of a delimiter), the end of a part, the end
    /// of the body, or need_more. Text before the first delimiter (the
    /// preamble) is skipped. Errors (given again by later calls):
    /// std::errc::bad_message for a malformed body (a delimiter line with
    /// other text after the boundary, a header line without a colon, a name
    /// that is not a token, a control character in a value), Errc::limit_exceeded
    /// past max_head or max_parts.
    Result<Event> next();
    /// The input is over: an error unless the closing delimiter came
    /// (Errc::eof for a body cut off; the one next() gave, if any).
    Result<void> finish() const;

    /// The head of the current part (after Event::head).
    const PartHead& head() const noexcept { return head_; }
    /// The body bytes of the last Event::data; valid until the next feed()
    /// or next().
    std::string_view data() const noexcept { return data_; }
    /// Parts begun so far.
    std::size_t parts() const noexcept { return parts_; }

private:
    enum class State : std::uint8_t { preamble, after_delimiter, head, body, epilogue };
    Result<Event> fail(std::error_code ec);
    Result<void> parse_head(std::string_view section);
    std::string_view pending() const noexcept { return std::string_view(buf_).substr(start_); }
    void take(std::size_t n) noexcept { start_ += n; }

    std::string delimiter_;  // "\r\n--" + boundary
    Limits limits_;
    State state_ = State::preamble;
    std::string buf_;  // fed, not yet reported: buf_[start_...]
    std::size_t start_ = 0;
    std::string_view data_;
    PartHead head_;
    std::size_t parts_ = 0;
    std::size_t head_scan_ = 0;  // of pending(): no blank line starts before this
    std::error_code error_;
};

}  // namespace corio::http
