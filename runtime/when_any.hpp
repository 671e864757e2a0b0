#pragma once
// when_any: run tasks concurrently; the first to finish wins, the others are
// asked to stop, and the call returns once every one of them has finished (so
// nothing the losers own is freed while the kernel still uses it).

#include <cstddef>
#include <exception>
#include <optional>
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

template <class T, class Store>
ChildTask race_child(Task<T> t, RaceState* st, std::size_t index, Store store) {
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(t);
            if (st->claim(index)) store(std::monostate{});
        } else {
            auto v = co_await std::move(t);
            if (st->claim(index)) store(std::move(v));
        }
    } catch (...) {
        if (st->claim(index)) st->winner_exception = std::current_exception();
    }
}

}  // namespace detail

/// Result of the range form of when_any: which task won and its value.
template <class T>
struct AnyResult {
    std::size_t index;
    T value;
};
template <>
struct AnyResult<void> {
    std::size_t index;
};

/// Runs the tasks concurrently; gives a variant whose index() is the winner's
/// position and which holds its value (std::monostate for void). If the
/// winner threw, rethrows that. Losers' results and exceptions are dropped.
template <class... Ts>
Task<std::variant<detail::non_void_t<Ts>...>> when_any(Task<Ts>... tasks) {
    static_assert(sizeof...(Ts) > 0, "when_any needs at least one task");
    using V = std::variant<detail::non_void_t<Ts>...>;
    StopToken parent = co_await this_task::stop_token();
    LinkedStopSource src(parent);
    detail::RaceState st;
    st.stop = &src;
    std::optional<V> result;
    std::vector<detail::ChildTask> children;
    children.reserve(sizeof...(Ts));
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (children.push_back(detail::race_child<Ts>(std::move(tasks), &st, I,
                                                   [&result](auto&& v) {
                                                       result.emplace(std::in_place_index<I>,
                                                                      std::move(v));
                                                   })),
         ...);
    }(std::index_sequence_for<Ts...>{});
    co_await detail::StartChildren{&children, &st, src.token()};
    children.clear();
    if (st.winner_exception) std::rethrow_exception(st.winner_exception);
    co_return std::move(*result);
}

/// Runs the tasks of the range concurrently; the first to finish wins.
template <class T>
Task<AnyResult<T>> when_any(std::vector<Task<T>> tasks) {
    if (tasks.empty()) throw std::invalid_argument("when_any: no tasks");
    StopToken parent = co_await this_task::stop_token();
    LinkedStopSource src(parent);
    detail::RaceState st;
    st.stop = &src;
    std::optional<detail::non_void_t<T>> value;
    std::vector<detail::ChildTask> children;
    children.reserve(tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        children.push_back(detail::race_child<T>(std::move(tasks[i]), &st, i,
                                                 [&value](auto&& v) { value.emplace(std::move(v)); }));
    }
    co_await detail::StartChildren{&children, &st, src.token()};
    children.clear();
    if (st.winner_exception) std::rethrow_exception(st.winner_exception);
    if constexpr (std::is_void_v<T>) {
        co_return AnyResult<void>{st.winner};
    } else {
        co_return AnyResult<T>{st.winner, std::move(*value)};
    }
}

}  // namespace corio
