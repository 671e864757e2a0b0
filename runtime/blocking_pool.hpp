#pragma once
// A small pool of threads for calls that would block a loop: regular-file I/O
// on the epoll backend (files are always "ready" to epoll) and getaddrinfo on
// both. Threads start on first use, up to a bound; each job is an OpState whose
// `retry` is the blocking call. The result goes back to the owning loop through
// its remote queue (an eventfd wake-up), so the awaiter resumes on its own loop.

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

#include <corio/runtime/detail/op_state.hpp>

namespace corio::detail {

class BlockingPool {
public:
    explicit BlockingPool(unsigned max_threads) : max_threads_(max_threads ? max_threads : 1) {}
    ~BlockingPool();
    BlockingPool(const BlockingPool&) = delete;
    BlockingPool& operator=(const BlockingPool&) = delete;

    /// Queues `st`; a thread runs st.retry(&st) and posts st to st.loop.
    void submit(OpState& st);
    /// Removes `st` if no thread has taken it yet (returns true); a job already
    /// running cannot be interrupted and completes normally.
    bool try_remove(OpState& st);
    /// Jobs queued or running.
    std::size_t outstanding() const;

private:
    void worker();

    mutable std::mutex mu_;
    std::condition_variable cv_;
    OpList queue_;  // jobs not yet taken by a thread
    std::vector<std::thread> threads_;
    unsigned max_threads_;
    unsigned idle_ = 0;
    std::size_t outstanding_ = 0;
    bool stopping_ = false;
};

}  // namespace corio::detail
