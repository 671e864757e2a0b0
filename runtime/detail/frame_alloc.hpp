#pragma once
// Coroutine frames come from a per-thread cache of free blocks by size class.
//
// A Task's frame is created and destroyed on every call; glibc's malloc costs
// tens of nanoseconds per pair there, a free list a few. Blocks may be freed on
// another thread than the one that allocated them (a task handed to another
// loop): the block simply joins that thread's cache. Under AddressSanitizer the
// cache is off so that use-after-free of frames is still caught.

#include <cstddef>
#include <cstdlib>
#include <new>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CORIO_FRAME_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CORIO_FRAME_CACHE 0
#endif
#endif
#ifndef CORIO_FRAME_CACHE
#define CORIO_FRAME_CACHE 1
#endif

namespace corio::detail {

// Size classes: 64-byte steps up to 2 KiB (most frames), then 1 KiB steps up
// to 16 KiB (frames holding a buffer, e.g. a 4 KiB array in a connection
// handler). Larger frames go to malloc. Fewer large blocks are kept per class,
// so a thread's cache holds at most ~2 MiB of large blocks.
inline constexpr std::size_t frame_granule = 64;
inline constexpr std::size_t frame_small_classes = 32;  // up to 2 KiB
inline constexpr std::size_t frame_small_max = frame_granule * frame_small_classes;
inline constexpr std::size_t frame_large_granule = 1024;
inline constexpr std::size_t frame_large_classes = 14;  // 2 KiB .. 16 KiB
inline constexpr std::size_t frame_max_cached =
    frame_small_max + frame_large_granule * frame_large_classes;
inline constexpr std::size_t frame_classes = frame_small_classes + frame_large_classes;
inline constexpr unsigned frame_cache_depth = 1024;
inline constexpr unsigned frame_cache_depth_large = 16;

/// The class of a block of `n` bytes (n > 0); frame_classes when not cached.
constexpr std::size_t frame_class(std::size_t n) noexcept {
    if (n <= frame_small_max) return (n - 1) / frame_granule;
    if (n <= frame_max_cached) {
        return frame_small_classes + (n - frame_small_max - 1) / frame_large_granule;
    }
    return frame_classes;
}
/// The size of the blocks of class `c`.
constexpr std::size_t frame_class_size(std::size_t c) noexcept {
    if (c < frame_small_classes) return (c + 1) * frame_granule;
    return frame_small_max + (c - frame_small_classes + 1) * frame_large_granule;
}
constexpr unsigned frame_class_depth(std::size_t c) noexcept {
    return c < frame_small_classes ? frame_cache_depth : frame_cache_depth_large;
}

struct FreeBlock {
    FreeBlock* next;
};

// Trivial type: thread_local access needs no guard on the hot path.
struct FrameCache {
    FreeBlock* heads[frame_classes];
    unsigned counts[frame_classes];
    bool registered;
};

inline thread_local FrameCache frame_cache{};

void frame_cache_register() noexcept;  // frees the cache when the thread exits

inline void* frame_alloc(std::size_t n) {
#if CORIO_FRAME_CACHE
    std::size_t c = frame_class(n);
    if (c < frame_classes) {
        FrameCache& fc = frame_cache;
        if (FreeBlock* b = fc.heads[c]) {
            fc.heads[c] = b->next;
            --fc.counts[c];
            return b;
        }
        if (!fc.registered) frame_cache_register();
        void* p = std::malloc(frame_class_size(c));
        if (p == nullptr) throw std::bad_alloc();
        return p;
    }
#endif
    void* p = std::malloc(n);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}

inline void frame_free(void* p, std::size_t n) noexcept {
#if CORIO_FRAME_CACHE
    std::size_t c = frame_class(n);
    if (c < frame_classes) {
        FrameCache& fc = frame_cache;
        if (fc.registered && fc.counts[c] < frame_class_depth(c)) {
            auto* b = static_cast<FreeBlock*>(p);
            b->next = fc.heads[c];
            fc.heads[c] = b;
            ++fc.counts[c];
            return;
        }
    }
#endif
    (void)n;
    std::free(p);
}

}  // namespace corio::detail
