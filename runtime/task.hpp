#pragma once
// Task<T>: a lazy coroutine that produces a T (or throws).
//
// A Task starts when it is awaited, and resumes its awaiter by symmetric
// transfer when it finishes, so chains of synchronous completions use no stack.
// It carries the awaiter's StopToken (see cancel.hpp). Destroying a Task that
// never started destroys its frame and leaks nothing.

#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include <corio/runtime/cancel.hpp>
#include <corio/runtime/detail/frame_alloc.hpp>

namespace corio {

template <class T = void>
class Task;

namespace detail {

struct PromiseBase {
    std::coroutine_handle<> continuation{};
    StopToken stop{};
    std::exception_ptr exception{};

    static void* operator new(std::size_t n) { return frame_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { frame_free(p, n); }

    struct FinalAwaiter {
        bool await_ready() const noexcept { return false; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
            // Symmetric transfer: the awaiter resumes without growing the stack.
            std::coroutine_handle<> c = h.promise().continuation;
            return c ? c : std::noop_coroutine();
        }
        void await_resume() const noexcept {}
    };

    std::suspend_always initial_suspend() const noexcept { return {}; }
    FinalAwaiter final_suspend() const noexcept { return {}; }
    void unhandled_exception() noexcept { exception = std::current_exception(); }
    void rethrow_if_exception() {
        if (exception) std::rethrow_exception(exception);
    }
};

template <class T>
struct Promise : PromiseBase {
    Task<T> get_return_object() noexcept;
    template <class U = T>
    void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        ::new (static_cast<void*>(std::addressof(value_))) T(std::forward<U>(v));
        has_value_ = true;
    }
    T take() {
        rethrow_if_exception();
        return std::move(value_);
    }
    Promise() noexcept {}
    ~Promise() {
        if (has_value_) value_.~T();
    }

private:
    union {
        T value_;
    };
    bool has_value_ = false;
};

template <class T>
struct Promise<T&> : PromiseBase {
    Task<T&> get_return_object() noexcept;
    void return_value(T& v) noexcept { ptr_ = std::addressof(v); }
    T& take() {
        rethrow_if_exception();
        return *ptr_;
    }

private:
    T* ptr_ = nullptr;
};

template <>
struct Promise<void> : PromiseBase {
    Task<void> get_return_object() noexcept;
    void return_void() noexcept {}
    void take() { rethrow_if_exception(); }
};

template <class P>
inline StopToken stop_token_of(std::coroutine_handle<P> h) noexcept {
    if constexpr (std::is_base_of_v<PromiseBase, P>) {
        return h.promise().stop;
    } else {
        return {};
    }
}

}  // namespace detail

/// A lazy coroutine producing T. Move-only; `co_await std::move(task)` (or
/// `co_await f()`) runs it and yields its value or rethrows its exception.
template <class T>
class [[nodiscard]] Task {
public:
    /// The coroutine promise (what makes a function returning Task a coroutine).
    using promise_type = detail::Promise<T>;
    /// The coroutine handle of the frame a Task owns.
    using handle_type = std::coroutine_handle<promise_type>;
    /// What `co_await` on the task gives.
    using value_type = T;

    /// An empty task (valid() is false); awaiting it is a bug.
    Task() noexcept = default;
    /// Owns the frame `h` (made by the promise; see release()).
    explicit Task(handle_type h) noexcept : h_(h) {}
    /// Takes the frame of `o`, which becomes empty.
    Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    /// Destroys the frame held (if any) and takes the frame of `o`.
    Task& operator=(Task&& o) noexcept {
        if (this != &o) {
            if (h_) h_.destroy();
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    Task(const Task&) = delete;
    Task& operator=(const Task&) = delete;
    /// Destroys the frame: a task that never started runs nothing and leaks nothing.
    ~Task() {
        if (h_) h_.destroy();
    }

    /// True while the task owns a frame.
    bool valid() const noexcept { return static_cast<bool>(h_); }
    /// True once the coroutine has run to its end.
    bool done() const noexcept { return h_ && h_.done(); }
    /// The frame's handle, still owned by the task.
    handle_type handle() const noexcept { return h_; }
    /// Gives up ownership of the frame (used by spawn, when_all, ...).
    handle_type release() noexcept { return std::exchange(h_, {}); }

    /// What `co_await std::move(task)` uses: starts the task and resumes the
    /// awaiter when it finishes.
    struct Awaiter {
        /// The awaited task's frame.
        handle_type h;
        /// Awaiter protocol: the task starts by symmetric transfer, inheriting
        /// the awaiting coroutine's StopToken unless it has one of its own; its
        /// value (or exception) is taken when it is done.
        ///@{
        bool await_ready() const noexcept { return false; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) noexcept {
            auto& p = h.promise();
            p.continuation = parent;
            if (!p.stop.stop_possible()) p.stop = detail::stop_token_of(parent);
            return h;
        }
        decltype(auto) await_resume() { return h.promise().take(); }
        ///@}
    };
    /// Runs the task: `co_await std::move(task)` or `co_await f()`.
    Awaiter operator co_await() && noexcept { return Awaiter{h_}; }

private:
    handle_type h_{};
};

namespace detail {
template <class T>
Task<T> Promise<T>::get_return_object() noexcept {
    return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
template <class T>
Task<T&> Promise<T&>::get_return_object() noexcept {
    return Task<T&>(std::coroutine_handle<Promise<T&>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() noexcept {
    return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}
}  // namespace detail

/// Awaitable concept: anything co_await accepts in a Task.
template <class A>
concept Awaitable = requires(A&& a) {
    std::forward<A>(a).operator co_await();
}
|| requires(A&& a) {
    a.await_ready();
};

namespace detail {

template <class A>
using await_result_t = decltype(std::declval<A>().await_resume());

/// The awaiter `co_await a` uses (operator co_await's result, or `a` itself).
template <class A>
auto get_awaiter(A&& a) {
    if constexpr (requires { std::forward<A>(a).operator co_await(); }) {
        return std::forward<A>(a).operator co_await();
    } else {
        return std::forward<A>(a);
    }
}

/// What `co_await std::declval<A>()` gives.
template <class A>
using awaited_t = await_result_t<decltype(get_awaiter(std::declval<A>()))>;

/// `a` as a Task: a Task as it is, any other awaitable wrapped in a small
/// coroutine that awaits it (its frame is the only cost).
template <class A>
Task<awaited_t<A>> awaitable_task(A a) {
    if constexpr (std::is_void_v<awaited_t<A>>) {
        co_await std::move(a);
    } else {
        co_return co_await std::move(a);
    }
}
template <class T>
Task<T> as_task(Task<T> t) noexcept {
    return t;
}
template <class A>
Task<awaited_t<A>> as_task(A a) {
    return awaitable_task<A>(std::move(a));
}

}  // namespace detail

/// What a running task can ask about itself.
namespace this_task {

/// `co_await this_task::stop_token()` gives the running task's StopToken.
struct StopTokenAwaiter {
    /// The token found (set in await_suspend).
    StopToken token;
    /// Awaiter protocol: reads the token from the awaiting coroutine's promise
    /// and resumes at once.
    ///@{
    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) noexcept {
        token = detail::stop_token_of(h);
        return false;
    }
    StopToken await_resume() const noexcept { return token; }
    ///@}
};
/// `co_await this_task::stop_token()`: the running task's StopToken (empty
/// outside a corio::Task), without suspending.
inline StopTokenAwaiter stop_token() noexcept { return {}; }

}  // namespace this_task

namespace detail {
/// Replaces the running task's StopToken; what it awaits next inherits it.
struct SetStopToken {
    StopToken token;
    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) noexcept {
        static_assert(std::is_base_of_v<PromiseBase, P>, "only inside a corio::Task");
        h.promise().stop = token;
        return false;
    }
    void await_resume() const noexcept {}
};
}  // namespace detail

}  // namespace corio
