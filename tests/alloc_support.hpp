#pragma once
// Counts every operator new of the test binary: include this header from
// exactly one source file of the binary (it defines the replaceable
// allocation functions). Not under AddressSanitizer, which owns them:
// CORIO_COUNT_NEW is 0 there and a test that reads the count says so and
// returns.
//
//   const std::uint64_t before = test::news();
//   ... steady state ...
//   CHECK(test::news() - before == 0);

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace corio::test {
inline std::atomic<std::uint64_t> g_news{0};
/// operator new calls (scalar and array) so far in this binary.
inline std::uint64_t news() noexcept {
    return g_news.load(std::memory_order_relaxed);
}
inline thread_local std::size_t t_fail_from = SIZE_MAX;
/// The next operator new of `n` bytes or more on this thread throws
/// std::bad_alloc (once): what a throw mid-operation leaves behind.
inline void fail_next_new_of(std::size_t n) noexcept {
    t_fail_from = n;
}
// Whether this allocation of `n` bytes is the one fail_next_new_of() asked to fail.
inline bool fails(std::size_t n) noexcept {
    if (n < t_fail_from) return false;
    t_fail_from = SIZE_MAX;
    return true;
}
}  // namespace corio::test

#if defined(__SANITIZE_ADDRESS__)
#define CORIO_COUNT_NEW 0
#else
#define CORIO_COUNT_NEW 1
#endif

#if CORIO_COUNT_NEW
void* operator new(std::size_t n) {
    corio::test::g_news.fetch_add(1, std::memory_order_relaxed);
    if (corio::test::fails(n)) throw std::bad_alloc();
    if (void* p = std::malloc(n != 0 ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
    corio::test::g_news.fetch_add(1, std::memory_order_relaxed);
    if (corio::test::fails(n)) throw std::bad_alloc();
    if (void* p = std::malloc(n != 0 ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}
#endif
