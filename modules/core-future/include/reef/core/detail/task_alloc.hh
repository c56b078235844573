// Memory for tasks and coroutine frames: a per-thread cache of recently freed blocks
// by 16-byte size class in front of operator new. Internal to Reef.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace reef::detail {

inline constexpr std::size_t task_cache_granule = 16;
inline constexpr std::size_t task_cache_classes = 64;  // blocks up to 1 KiB are cached
inline constexpr std::uint32_t task_cache_depth = 512;  // blocks kept per class

struct task_cache_node {
    task_cache_node* next;
};

struct task_cache {
    task_cache_node* heads[task_cache_classes];
    std::uint32_t counts[task_cache_classes];
    std::uint64_t allocations;  // every task_alloc call, cached or not
    bool registered;            // the thread-exit flush is armed
    bool dead;                  // the thread is exiting: bypass the cache
};

inline constinit thread_local task_cache tl_task_cache{};

void* task_alloc_slow(std::size_t size);
void task_free_slow(void* p, std::size_t size) noexcept;

/// Allocates `size` bytes for a task or coroutine frame. Throws std::bad_alloc.
inline void* task_alloc(std::size_t size) {
#ifndef REEF_SANITIZE
    auto& c = tl_task_cache;
    ++c.allocations;
    std::size_t cls = (size - 1) / task_cache_granule;
    if (cls < task_cache_classes) [[likely]] {
        if (auto* n = c.heads[cls]) [[likely]] {
            c.heads[cls] = n->next;
            --c.counts[cls];
            return n;
        }
    }
    return task_alloc_slow(size);
#else
    ++tl_task_cache.allocations;
    return ::operator new(size);
#endif
}

/// Releases a block from task_alloc(size) with the same size.
inline void task_free(void* p, std::size_t size) noexcept {
#ifndef REEF_SANITIZE
    auto& c = tl_task_cache;
    std::size_t cls = (size - 1) / task_cache_granule;
    if (cls < task_cache_classes && c.counts[cls] < task_cache_depth && c.registered) [[likely]] {
        auto* n = static_cast<task_cache_node*>(p);
        n->next = c.heads[cls];
        c.heads[cls] = n;
        ++c.counts[cls];
        return;
    }
    task_free_slow(p, size);
#else
    ::operator delete(p, size);
#endif
}

}  // namespace reef::detail

namespace reef {

/// Number of task and coroutine-frame allocations made on this thread so far (cache hits
/// included). Benchmarks and tests use it to count allocations per operation.
inline std::uint64_t task_allocations() noexcept {
    return detail::tl_task_cache.allocations;
}

}  // namespace reef
