// The slow paths of the per-thread task and coroutine-frame cache.
#include <reef/core/detail/task_alloc.hh>

namespace reef::detail {

namespace {

void flush(task_cache& c) noexcept {
    for (std::size_t cls = 0; cls < task_cache_classes; ++cls) {
        auto* n = c.heads[cls];
        while (n) {
            auto* next = n->next;
            ::operator delete(n, (cls + 1) * task_cache_granule);
            n = next;
        }
        c.heads[cls] = nullptr;
        c.counts[cls] = 0;
    }
}

// Frees the cached blocks when the thread exits. Later frees on this thread (from other
// thread_local destructors) bypass the cache.
struct cache_flusher {
    ~cache_flusher() {
        auto& c = tl_task_cache;
        c.dead = true;
        c.registered = false;
        flush(c);
    }
};

}  // namespace

void* task_alloc_slow(std::size_t size) {
    auto& c = tl_task_cache;
    if (!c.registered && !c.dead) {
        static thread_local cache_flusher flusher;
        (void)&flusher;
        c.registered = true;
    }
    std::size_t cls = (size - 1) / task_cache_granule;
    if (cls < task_cache_classes) {
        // Round up so the block can serve any size of its class when recycled.
        return ::operator new((cls + 1) * task_cache_granule);
    }
    return ::operator new(size);
}

void task_free_slow(void* p, std::size_t size) noexcept {
    std::size_t cls = (size - 1) / task_cache_granule;
    if (cls < task_cache_classes) {
        ::operator delete(p, (cls + 1) * task_cache_granule);
    } else {
        ::operator delete(p, size);
    }
}

}  // namespace reef::detail
