#pragma once
// A bare coroutine used by when_all, when_any and TaskGroup to run one child:
// it starts when resumed, runs the body, and at its end calls `on_done`,
// which may return the coroutine to transfer to (the parent), or null.

#include <coroutine>
#include <exception>
#include <utility>

#include <corio/runtime/task.hpp>

namespace corio::detail {

struct ChildTask {
    struct promise_type : PromiseBase {
        std::coroutine_handle<> (*on_done)(void* ctx) noexcept = nullptr;
        void* ctx = nullptr;
        bool self_destroy = false;

        ChildTask get_return_object() noexcept {
            return ChildTask{std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        struct Final {
            bool await_ready() const noexcept { return false; }
            std::coroutine_handle<> await_suspend(
                std::coroutine_handle<promise_type> h) noexcept {
                auto& p = h.promise();
                auto fn = p.on_done;
                void* ctx = p.ctx;
                if (p.self_destroy) h.destroy();
                std::coroutine_handle<> next = fn(ctx);
                return next ? next : std::noop_coroutine();
            }
            void await_resume() const noexcept {}
        };
        Final final_suspend() const noexcept { return {}; }
        void return_void() noexcept {}
    };

    ChildTask() noexcept = default;
    explicit ChildTask(std::coroutine_handle<promise_type> x) noexcept : h(x) {}
    ChildTask(ChildTask&& o) noexcept : h(std::exchange(o.h, {})) {}
    ChildTask& operator=(ChildTask&& o) noexcept {
        if (this != &o) {
            if (h) h.destroy();
            h = std::exchange(o.h, {});
        }
        return *this;
    }
    ~ChildTask() {
        if (h) h.destroy();
    }
    std::coroutine_handle<promise_type> h{};
};


}  // namespace corio::detail
