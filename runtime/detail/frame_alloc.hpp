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

inline constexpr std::size_t frame_granule = 64;
inline constexpr std::size_t frame_classes = 32;  // blocks up to 2 KiB are cached
inline constexpr unsigned frame_cache_depth = 1024;

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
    std::size_t c = (n - 1) / frame_granule;
    if (c < frame_classes) {
        FrameCache& fc = frame_cache;
        if (FreeBlock* b = fc.heads[c]) {
            fc.heads[c] = b->next;
            --fc.counts[c];
            return b;
        }
        if (!fc.registered) frame_cache_register();
        void* p = std::malloc((c + 1) * frame_granule);
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
    std::size_t c = (n - 1) / frame_granule;
    if (c < frame_classes) {
        FrameCache& fc = frame_cache;
        if (fc.registered && fc.counts[c] < frame_cache_depth) {
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
