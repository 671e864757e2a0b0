#pragma once
// fs::Result<T>: a corio::Result<T> that also remembers which operation failed
// on which path, so that an error reads as a sentence:
//
//     auto f = co_await fs::File::open("/no/such");
//     if (!f) log_error("{}", f.describe());  // "open /no/such: No such file or directory"
//     if (f.error() == std::errc::no_such_file_or_directory) ...  // still a system_category code
//
// It derives from corio::Result<T>, so it converts to one (dropping the
// context) and reads the same way (has_value, *, ->, error()). The context is
// only filled in on the error path: a success costs an empty string.

#include <cstring>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include <corio/runtime/result.hpp>
#include <corio/runtime/timer.hpp>

namespace corio::fs {

namespace detail {
/// "OP SUBJECT: MESSAGE", or "OP SUBJECT" when `with_message` is false.
std::string error_sentence(const char* op, const std::string& subject, std::error_code ec,
                           bool with_message);
}  // namespace detail

/// The outcome of a file-system operation: a T, or an error code plus the
/// operation's name ("open", "read", "rename", ...) and its subject (the
/// path; for rename "OLD -> NEW"). `error()` stays the kernel's
/// system_category code, so it compares with std::errc; `describe()` gives
/// the sentence, and `value()` throws std::system_error carrying it.
template <class T>
class [[nodiscard]] Result : public corio::Result<T> {
public:
    /// The corio::Result it extends.
    using Base = corio::Result<T>;
    using Base::Base;
    /// A plain corio::Result, without context (implicit).
    Result(Base b) noexcept(std::is_nothrow_move_constructible_v<Base>)  // NOLINT: implicit
        : Base(std::move(b)) {}
    /// An error of operation `op` (a string literal) on `subject`.
    Result(std::error_code ec, const char* op, std::string subject)
        : Base(ec), op_(op), subject_(std::move(subject)) {}

    /// The failed operation's name ("open"), or "" when there is no context
    /// (a success, or an error that came from elsewhere, such as a timeout).
    const char* op() const noexcept { return op_ != nullptr ? op_ : ""; }
    /// The path the failed operation worked on ("" when there is no context).
    const std::string& path() const noexcept { return subject_; }
    /// "open /no/such: No such file or directory"; "" on success.
    std::string describe() const {
        if (this->has_value()) return {};
        return detail::error_sentence(op_, subject_, this->error(), true);
    }

    /// The value, or throws std::system_error whose what() is describe().
    ///@{
    decltype(auto) value() & {
        check();
        return Base::value();
    }
    decltype(auto) value() const& {
        check();
        return Base::value();
    }
    decltype(auto) value() && {
        check();
        return std::move(*this).Base::value();
    }
    ///@}
    /// The value, or throws std::system_error("WHAT: message") (as corio::Result).
    ///@{
    decltype(auto) value(std::string_view what) & { return Base::value(what); }
    decltype(auto) value(std::string_view what) && { return std::move(*this).Base::value(what); }
    ///@}

private:
    void check() const {
        if (!this->has_value()) {
            throw std::system_error(this->error(),
                                    detail::error_sentence(op_, subject_, this->error(), false));
        }
    }

    const char* op_ = nullptr;
    std::string subject_;
};

/// Success, or an error naming the operation and the path (see Result<T>).
template <>
class [[nodiscard]] Result<void> : public corio::Result<void> {
public:
    /// The corio::Result it extends.
    using Base = corio::Result<void>;
    using Base::Base;
    /// A plain corio::Result<void>, without context (implicit).
    Result(Base b) noexcept : Base(b) {}  // NOLINT: implicit
    /// An error of operation `op` (a string literal) on `subject`.
    Result(std::error_code ec, const char* op, std::string subject)
        : Base(ec), op_(op), subject_(std::move(subject)) {}

    /// The failed operation's name, or "".
    const char* op() const noexcept { return op_ != nullptr ? op_ : ""; }
    /// The path the failed operation worked on, or "".
    const std::string& path() const noexcept { return subject_; }
    /// "unlink /tmp/x: No such file or directory"; "" on success.
    std::string describe() const {
        if (has_value()) return {};
        return detail::error_sentence(op_, subject_, error(), true);
    }
    /// Throws std::system_error whose what() is describe() on an error.
    void value() const {
        if (!has_value()) {
            throw std::system_error(error(), detail::error_sentence(op_, subject_, error(), false));
        }
    }
    /// Throws std::system_error("WHAT: message") on an error (as corio::Result).
    void value(std::string_view what) const { Base::value(what); }

private:
    const char* op_ = nullptr;
    std::string subject_;
};

namespace detail {
/// The error of `op` on `subject` for a CQE-style result `res` (< 0).
template <class T>
Result<T> fail(int res, const char* op, const std::string& subject) {
    return Result<T>(sys_error(-res), op, subject);
}
}  // namespace detail

}  // namespace corio::fs

namespace corio::detail {
/// with_timeout(a, d) on an awaitable giving fs::Result<T> gives fs::Result<T>
/// (a timeout is std::errc::timed_out without context), not Result<fs::Result<T>>.
template <class T>
struct is_result<fs::Result<T>> : std::true_type {};
}  // namespace corio::detail
