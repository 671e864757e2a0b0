#pragma once
// Result<T>: the outcome of an operation, a value or a std::error_code.
//
// Routine I/O outcomes (end of file, reset, refused, timed out, cancelled) are
// values, not exceptions: a loaded server meets them thousands of times a
// second, and a throw costs microseconds and allocates. The spelling follows
// C++23 std::expected (has_value, *, ->, error(), value()).

#include <cerrno>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace corio {

/// Errors the kernel has no name for. Kernel errors stay in system_category;
/// cancellation is std::errc::operation_canceled, a timeout std::errc::timed_out.
enum class Errc {
    eof = 1,              ///< the stream ended before the requested bytes arrived
    channel_closed,       ///< a channel was closed and is empty
    backend_unavailable,  ///< the requested backend cannot start here
    limit_exceeded,       ///< a size limit (line length, header size, ...) was exceeded
    circuit_open,         ///< a circuit breaker rejected the call without making it
    rejected,             ///< a bulkhead's queue was full
    lagged,               ///< a broadcast subscriber fell behind and lost messages
};

/// The category of corio::Errc.
const std::error_category& corio_category() noexcept;

/// An error_code of corio_category(); lets `std::error_code ec = Errc::eof;` compile.
inline std::error_code make_error_code(Errc e) noexcept {
    return {static_cast<int>(e), corio_category()};
}

}  // namespace corio

/// Marks corio::Errc as an error code enum: it converts to std::error_code.
template <>
struct std::is_error_code_enum<corio::Errc> : std::true_type {};

namespace corio {

/// The error code for a kernel errno value (positive).
inline std::error_code sys_error(int err) noexcept { return {err, std::system_category()}; }

/// Throws std::system_error whose message is "WHAT: <error message>".
[[noreturn]] void throw_error(std::error_code ec, std::string_view what);

namespace detail {
/// Writes "corio: Result dereferenced (ACCESS) while it holds an error: <message>"
/// to stderr and calls std::terminate. Out of line and in every build: a
/// precondition the user's -DNDEBUG must not switch off.
[[noreturn]] void bad_result_access(std::error_code ec, const char* access) noexcept;
}  // namespace detail

/// A value of type T or an error. [[nodiscard]]: dropping an outcome of I/O is a bug.
template <class T>
class [[nodiscard]] Result {
public:
    /// The type of the value.
    using value_type = T;

    /// A result holding a value (implicit, so `co_return v;` works).
    ///@{
    Result(const T& v) : v_(std::in_place_index<0>, v) {}  // NOLINT: implicit by design
    Result(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>)  // NOLINT
        : v_(std::in_place_index<0>, std::move(v)) {}
    ///@}
    /// A result holding an error (implicit, so `co_return std::errc::timed_out;` works).
    ///@{
    Result(std::error_code ec) noexcept : v_(std::in_place_index<1>, ec) {}  // NOLINT
    Result(std::errc e) noexcept : v_(std::in_place_index<1>, std::make_error_code(e)) {}  // NOLINT
    Result(Errc e) noexcept : v_(std::in_place_index<1>, make_error_code(e)) {}  // NOLINT
    ///@}
    /// A result holding a value made in place from `a...`.
    template <class... A>
    explicit Result(std::in_place_t, A&&... a) : v_(std::in_place_index<0>, std::forward<A>(a)...) {}

    /// True when the result holds a value, false when it holds an error.
    bool has_value() const noexcept { return v_.index() == 0; }
    /// has_value(): `if (auto r = co_await op; !r) ...`.
    explicit operator bool() const noexcept { return has_value(); }

    /// The value. On an error: a message naming the error on stderr, then
    /// std::terminate (in every build; check has_value() or use value()).
    ///@{
    T& operator*() & noexcept { return *checked("operator*"); }
    const T& operator*() const& noexcept { return *checked("operator*"); }
    T&& operator*() && noexcept { return std::move(*checked("operator*")); }
    T* operator->() noexcept { return checked("operator->"); }
    const T* operator->() const noexcept { return checked("operator->"); }
    ///@}

    /// The error; a default (zero) error_code when there is a value.
    std::error_code error() const noexcept {
        if (auto* e = std::get_if<1>(&v_)) return *e;
        return {};
    }

    /// The value, or throws std::system_error("WHAT: message").
    ///@{
    T& value(std::string_view what = "corio") & {
        if (!has_value()) throw_error(error(), what);
        return **this;
    }
    T&& value(std::string_view what = "corio") && {
        if (!has_value()) throw_error(error(), what);
        return std::move(**this);
    }
    ///@}
    /// A copy of the value, or `other` converted to T when there is an error.
    template <class U>
    T value_or(U&& other) const& {
        return has_value() ? **this : static_cast<T>(std::forward<U>(other));
    }

private:
    T* checked(const char* access) noexcept {
        T* p = std::get_if<0>(&v_);
        if (p == nullptr) [[unlikely]]
            detail::bad_result_access(*std::get_if<1>(&v_), access);
        return p;
    }
    const T* checked(const char* access) const noexcept {
        const T* p = std::get_if<0>(&v_);
        if (p == nullptr) [[unlikely]]
            detail::bad_result_access(*std::get_if<1>(&v_), access);
        return p;
    }

    std::variant<T, std::error_code> v_;
};

/// Success or an error.
template <>
class [[nodiscard]] Result<void> {
public:
    /// No value: only success or an error.
    using value_type = void;
    /// Success (`co_return Result<void>{};`, or `co_return {};`).
    Result() noexcept = default;
    /// An error (implicit, so `co_return std::errc::timed_out;` works).
    ///@{
    Result(std::error_code ec) noexcept : ec_(ec) {}  // NOLINT
    Result(std::errc e) noexcept : ec_(std::make_error_code(e)) {}  // NOLINT
    Result(Errc e) noexcept : ec_(make_error_code(e)) {}  // NOLINT
    ///@}

    /// True on success.
    bool has_value() const noexcept { return !ec_; }
    /// has_value().
    explicit operator bool() const noexcept { return has_value(); }
    /// The error; a default (zero) error_code on success.
    std::error_code error() const noexcept { return ec_; }
    /// Throws std::system_error("WHAT: message") on an error; nothing on success.
    void value(std::string_view what = "corio") const {
        if (ec_) throw_error(ec_, what);
    }

private:
    std::error_code ec_;
};

/// Maps a CQE-style result (>= 0 value, < 0 -errno) to Result<void>.
inline Result<void> void_result(int res) noexcept {
    if (res < 0) return sys_error(-res);
    return {};
}

}  // namespace corio
