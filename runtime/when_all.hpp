#pragma once
// when_all: run tasks concurrently on this loop and continue when all are done.
//
// The children may run in any order (CORIO_SHUFFLE checks that nothing
// depends on one). If one throws, the others are asked to stop, and the first
// exception is rethrown after every child has finished: no child outlives
// the call.

#include <array>
#include <cstddef>
#include <exception>
#include <optional>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <corio/runtime/cancel.hpp>
#include <corio/runtime/detail/child_task.hpp>
#include <corio/runtime/task.hpp>

namespace corio {

namespace detail {

template <class T>
using non_void_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

struct JoinState {
    std::size_t remaining = 0;
    std::coroutine_handle<> parent{};
    StopSource* stop = nullptr;
    std::exception_ptr first_exception{};

    static std::coroutine_handle<> child_done(void* ctx) noexcept {
        auto* s = static_cast<JoinState*>(ctx);
        return --s->remaining == 0 ? s->parent : std::coroutine_handle<>{};
    }
    void fail(std::exception_ptr e) noexcept {
        if (!first_exception) {
            first_exception = std::move(e);
            stop->request_stop();
        }
    }
};

template <class T>
ChildTask join_child(Task<T> t, JoinState* st, std::optional<non_void_t<T>>* out) {
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(t);
            out->emplace();
        } else {
            out->emplace(co_await std::move(t));
        }
    } catch (...) {
        st->fail(std::current_exception());
    }
}

/// Starts every child, then suspends the parent until the last one finishes.
struct StartChildren {
    std::span<ChildTask> children;
    JoinState* st;
    StopToken token;
    bool await_ready() const noexcept { return children.empty(); }
    bool await_suspend(std::coroutine_handle<> parent) noexcept {
        st->parent = parent;
        st->remaining = children.size() + 1;  // +1: ours, so no child resumes us early
        for (auto& c : children) {
            c.h.promise().on_done = &JoinState::child_done;
            c.h.promise().ctx = st;
            c.h.promise().stop = token;
            c.h.resume();
        }
        return --st->remaining != 0;
    }
    void await_resume() const noexcept {}
};

template <class A>
using awaited_value_t = non_void_t<awaited_t<A>>;

/// The children of a fixed-arity when_all/when_any live in the caller's frame
/// (no allocation per call besides the coroutine frames).
template <std::size_t N>
void destroy_children(std::array<ChildTask, N>& cs) noexcept {
    for (auto& c : cs)
        c = ChildTask();
}

}  // namespace detail

/// Runs every awaitable concurrently (Tasks, operations, anything
/// `co_await` accepts; a non-Task is wrapped in a small coroutine); gives a
/// tuple of their values (std::monostate for void). Rethrows the first
/// exception after all have finished. Allocates nothing besides the
/// coroutine frames.
template <class... As>
requires(Awaitable<As>&&...) Task<std::tuple<detail::awaited_value_t<As>...>> when_all(As... as) {
    StopToken parent = co_await this_task::stop_token();
    LinkedStopSource src(parent);
    detail::JoinState st;
    st.stop = &src;
    std::tuple<std::optional<detail::awaited_value_t<As>>...> results;
    std::array<detail::ChildTask, sizeof...(As)> children = [&]<std::size_t... I>(
        std::index_sequence<I...>) {
        return std::array<detail::ChildTask, sizeof...(As)>{
            detail::join_child(detail::as_task(std::move(as)), &st, &std::get<I>(results))...};
    }
    (std::index_sequence_for<As...>{});
    co_await detail::StartChildren{children, &st, src.token()};
    detail::destroy_children(children);
    if (st.first_exception) std::rethrow_exception(st.first_exception);
    co_return std::apply(
        [](auto&... o) { return std::tuple<detail::awaited_value_t<As>...>(std::move(*o)...); },
        results);
}

/// Runs every task of the range concurrently; gives their values in order.
template <class T>
Task<std::conditional_t<std::is_void_v<T>, void, std::vector<T>>> when_all(
    std::vector<Task<T>> tasks) {
    StopToken parent = co_await this_task::stop_token();
    LinkedStopSource src(parent);
    detail::JoinState st;
    st.stop = &src;
    std::vector<std::optional<detail::non_void_t<T>>> results(tasks.size());
    std::vector<detail::ChildTask> children;
    children.reserve(tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        children.push_back(detail::join_child<T>(std::move(tasks[i]), &st, &results[i]));
    }
    co_await detail::StartChildren{children, &st, src.token()};
    children.clear();
    if (st.first_exception) std::rethrow_exception(st.first_exception);
    if constexpr (!std::is_void_v<T>) {
        std::vector<T> out;
        out.reserve(results.size());
        for (auto& r : results) out.push_back(std::move(*r));
        co_return out;
    }
}

}  // namespace corio
