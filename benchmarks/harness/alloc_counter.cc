// Replaces every form of the global operator new and delete with versions that count
// allocations per thread, on top of malloc. Linked into each benchmark program through
// the harness; malloc itself is not replaced (the C++ runtime allocates exception
// objects with malloc, so those are not counted).
#include "bench.hh"

#include <cstdlib>
#include <new>

namespace {

constinit thread_local std::uint64_t tl_heap_allocations = 0;

void* allocate(std::size_t size) noexcept {
    ++tl_heap_allocations;
    return std::malloc(size == 0 ? 1 : size);
}

void* allocate_aligned(std::size_t size, std::align_val_t al) noexcept {
    ++tl_heap_allocations;
    auto a = static_cast<std::size_t>(al);
    if (a < sizeof(void*)) {
        a = sizeof(void*);
    }
    void* p = nullptr;
    if (posix_memalign(&p, a, size == 0 ? 1 : size) != 0) {
        return nullptr;
    }
    return p;
}

void* allocate_or_throw(std::size_t size) {
    if (void* p = allocate(size)) [[likely]] {
        return p;
    }
    throw std::bad_alloc();
}

void* allocate_aligned_or_throw(std::size_t size, std::align_val_t al) {
    if (void* p = allocate_aligned(size, al)) [[likely]] {
        return p;
    }
    throw std::bad_alloc();
}

}  // namespace

namespace reef::bench {

std::uint64_t heap_allocations() noexcept {
    return tl_heap_allocations;
}

}  // namespace reef::bench

// The replaceable allocation functions ([new.delete]): plain, array, nothrow, aligned,
// and every matching delete (sized and unsized).
void* operator new(std::size_t size) {
    return allocate_or_throw(size);
}
void* operator new[](std::size_t size) {
    return allocate_or_throw(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    return allocate(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    return allocate(size);
}
void* operator new(std::size_t size, std::align_val_t al) {
    return allocate_aligned_or_throw(size, al);
}
void* operator new[](std::size_t size, std::align_val_t al) {
    return allocate_aligned_or_throw(size, al);
}
void* operator new(std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
    return allocate_aligned(size, al);
}
void* operator new[](std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
    return allocate_aligned(size, al);
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
void operator delete(void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    std::free(p);
}
