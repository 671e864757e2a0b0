#pragma once
// when_any: run tasks concurrently; the first to finish wins, the others are
// asked to stop, and the call returns once every one of them has finished (so
// nothing the losers own is freed while the kernel still uses it). What a
// loser finished with is handed back too: an operation that completed before
// its cancellation took effect (bytes received) is never dropped.

#include <array>
#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include <corio/runtime/when_all.hpp>

namespace corio {

namespace detail {

struct RaceState : JoinState {
    std::size_t winner = static_cast<std::size_t>(-1);
    std::exception_ptr winner_exception{};
    bool claim(std::size_t i) noexcept {
        if (winner != static_cast<std::size_t>(-1)) return false;
        winner = i;
        stop->request_stop();
        return true;
    }
};

/// Runs one contender; `won(v)` stores the winner's value, `lost(v)` a
/// loser's, `lost_error(e)` a loser's exception.
template <class T, class Won, class Lost, class LostError>
ChildTask race_child(Task<T> t, RaceState* st, std::size_t index, Won won, Lost lost,
                     LostError lost_error) {
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(t);
            if (st->claim(index)) {
                won(std::monostate{});
            } else {
                lost(std::monostate{});
            }
        } else {
            auto v = co_await std::move(t);
            if (st->claim(index)) {
                won(std::move(v));
            } else {
                lost(std::move(v));
            }
        }
    } catch (...) {
        if (st->claim(index)) {
            st->winner_exception = std::current_exception();
        } else {
            lost_error(std::current_exception());
        }
    }
}

}  // namespace detail

/// What the fixed-arity when_any gives: a std::variant whose index() is the
/// winner and which holds the winner's value (std::get<I>(r), std::visit),
/// plus what every loser finished with. A loser is asked to stop, but an
/// operation that completed before the stop took effect still delivers its
/// result (a recv that received bytes, an accept that made a connection), and
/// that result is kept here, never dropped: `r.loser<I>()`, or `r.result<I>()`
/// for "slot I's value, whether it won or lost".
template <class... Vs>
class AnyOf : public std::variant<Vs...> {
public:
    /// The variant of the winner's value.
    using variant_type = std::variant<Vs...>;

    /// The value type of slot I.
    template <std::size_t I>
    using value_t = std::variant_alternative_t<I, variant_type>;

    /// Slot I's value when it lost: what it finished with (an operation
    /// cancelled in time gives its operation_canceled result; one that
    /// completed first gives its real result). Empty for the winner, or for a
    /// loser that threw (see loser_exception).
    ///@{
    template <std::size_t I>
    std::optional<value_t<I>>& loser() noexcept {
        return std::get<I>(losers_);
    }
    template <std::size_t I>
    const std::optional<value_t<I>>& loser() const noexcept {
        return std::get<I>(losers_);
    }
    ///@}
    /// Slot I's value, won or lost (null if it threw). For
    /// `when_any(s.recv(buf), sleep_for(1s))`, `r.result<0>()` holds the bytes
    /// received even when the timer won the race.
    template <std::size_t I>
    value_t<I>* result() noexcept {
        if (this->index() == I) return std::get_if<I>(static_cast<variant_type*>(this));
        auto& l = std::get<I>(losers_);
        return l ? &*l : nullptr;
    }
    /// The exception a loser threw after the winner was decided (null if none).
    std::exception_ptr loser_exception(std::size_t i) const noexcept { return errors_[i]; }

    /// The winner's value, what each loser finished with, and the losers'
    /// exceptions (when_any makes it).
    AnyOf(variant_type&& winner, std::tuple<std::optional<Vs>...>&& losers,
          std::array<std::exception_ptr, sizeof...(Vs)>&& errors)
        : variant_type(std::move(winner)), losers_(std::move(losers)), errors_(std::move(errors)) {}

private:
    std::tuple<std::optional<Vs>...> losers_;
    std::array<std::exception_ptr, sizeof...(Vs)> errors_;
};

/// Result of the range form of when_any: which task won and its value, and
/// what each loser finished with (`losers[index]` is empty; so is the slot of
/// a loser that threw). As for the fixed form, a loser's result that arrived
/// before its cancellation took effect is kept, not dropped.
template <class T>
struct AnyResult {
    std::size_t index;                     ///< the winner's position in the range
    T value;                               ///< the winner's value
    std::vector<std::optional<T>> losers;  ///< per position: what that loser finished with
};
/// AnyResult of tasks without a value.
template <>
struct AnyResult<void> {
    std::size_t index;                                  ///< the winner's position in the range
    std::vector<std::optional<std::monostate>> losers;  ///< engaged: that loser finished
};

/// Runs the awaitables (Tasks, operations, anything `co_await` accepts)
/// concurrently; the first to finish wins. The others are asked to stop and
/// awaited before this returns (nothing they own is freed while the kernel
/// may still use it). Gives an AnyOf: index() is the winner's position and
/// std::get<I> its value (std::monostate for void); what each loser finished
/// with is kept in loser<I>() (see AnyOf: a loser may have completed its
/// operation before the stop reached it). If the winner threw, rethrows that.
/// Allocates nothing besides the coroutine frames.
template <class... As>
requires(Awaitable<As>&&...) Task<AnyOf<detail::awaited_value_t<As>...>> when_any(As... as) {
    static_assert(sizeof...(As) > 0, "when_any needs at least one awaitable");
    using R = AnyOf<detail::awaited_value_t<As>...>;
    using V = typename R::variant_type;
    StopToken parent = co_await this_task::stop_token();
    LinkedStopSource src(parent);
    detail::RaceState st;
    st.stop = &src;
    std::optional<V> result;
    std::tuple<std::optional<detail::awaited_value_t<As>>...> losers;
    std::array<std::exception_ptr, sizeof...(As)> errors;
    std::array<detail::ChildTask, sizeof...(As)> children = [&]<std::size_t... I>(
        std::index_sequence<I...>) {
        return std::array<detail::ChildTask, sizeof...(As)>{detail::race_child(
            detail::as_task(std::move(as)), &st, I,
            [&result](auto&& v) {
                result.emplace(std::in_place_index<I>, std::forward<decltype(v)>(v));
            },
            [&losers](auto&& v) { std::get<I>(losers).emplace(std::forward<decltype(v)>(v)); },
            [&errors](std::exception_ptr e) { errors[I] = std::move(e); })...};
    }
    (std::index_sequence_for<As...>{});
    co_await detail::StartChildren{children, &st, src.token()};
    detail::destroy_children(children);
    if (st.winner_exception) std::rethrow_exception(st.winner_exception);
    co_return R(std::move(*result), std::move(losers), std::move(errors));
}

/// Runs the tasks of the range concurrently; the first to finish wins (see
/// AnyResult for the losers).
template <class T>
Task<AnyResult<T>> when_any(std::vector<Task<T>> tasks) {
    if (tasks.empty()) throw std::invalid_argument("when_any: no tasks");
    using V = detail::non_void_t<T>;
    StopToken parent = co_await this_task::stop_token();
    LinkedStopSource src(parent);
    detail::RaceState st;
    st.stop = &src;
    std::optional<V> value;
    std::vector<std::optional<V>> losers(tasks.size());
    std::vector<detail::ChildTask> children;
    children.reserve(tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        children.push_back(detail::race_child<T>(
            std::move(tasks[i]), &st, i,
            [&value](auto&& v) { value.emplace(std::forward<decltype(v)>(v)); },
            [&losers, i](auto&& v) { losers[i].emplace(std::forward<decltype(v)>(v)); },
            [](std::exception_ptr) {}));
    }
    co_await detail::StartChildren{children, &st, src.token()};
    children.clear();
    if (st.winner_exception) std::rethrow_exception(st.winner_exception);
    if constexpr (std::is_void_v<T>) {
        co_return AnyResult<void>{st.winner, std::move(losers)};
    } else {
        co_return AnyResult<T>{st.winner, std::move(*value), std::move(losers)};
    }
}

}  // namespace corio
