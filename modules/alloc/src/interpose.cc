// The interposition layer: linked into a program (Meson `dependency('reef-alloc-interpose')`,
// which links it whole), it defines the C allocation functions and every operator
// new/delete on top of reef::memory. Bound shard threads get their shard's memory; unbound
// threads and calls before configure() get the system allocator through the core's
// __libc_* path, which never calls back into these definitions. Never built for sanitizer
// builds: the sanitizer runtime owns malloc there.
#include <reef/alloc/memory.hh>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <malloc.h>
#include <new>
#include <stdlib.h>

extern "C" {
void* __libc_calloc(std::size_t, std::size_t);
}

namespace {

namespace mem = reef::memory;

// glibc's smallest alignment for malloc, and what memalign-style calls round up to.
constexpr std::size_t min_align = 2 * sizeof(void*);

// allocate() aligns to 16, but to 8 only for sizes up to 8: beyond 8, ask for alignment.
inline bool plain_ok(std::size_t align) noexcept {
    return align <= sizeof(void*);
}

inline bool is_pow2(std::size_t x) noexcept {
    return x != 0 && (x & (x - 1)) == 0;
}

inline void* c_alloc(std::size_t size) noexcept {
    void* p = mem::allocate(size);
    if (!p) [[unlikely]] {
        errno = ENOMEM;
    }
    return p;
}

inline void* c_alloc_aligned(std::size_t align, std::size_t size) noexcept {
    void* p = plain_ok(align) ? mem::allocate(size) : mem::allocate_aligned(align, size);
    if (!p) [[unlikely]] {
        errno = ENOMEM;
    }
    return p;
}

// operator new: the core has already drained remote frees and asked the reclaimers when
// allocate() returns nullptr; then the new-handler gets its turn, as the standard asks.
[[gnu::noinline]] void* new_slow(std::size_t align, std::size_t size) {
    for (;;) {
        std::new_handler h = std::get_new_handler();
        if (!h) {
            throw std::bad_alloc();
        }
        h();
        void* p = plain_ok(align) ? mem::allocate(size) : mem::allocate_aligned(align, size);
        if (p) {
            return p;
        }
    }
}

inline void* op_new(std::size_t size) {
    void* p = mem::allocate(size);
    if (!p) [[unlikely]] {
        return new_slow(min_align, size);
    }
    return p;
}

inline void* op_new_aligned(std::size_t size, std::align_val_t al) {
    std::size_t align = static_cast<std::size_t>(al);
    void* p = plain_ok(align) ? mem::allocate(size) : mem::allocate_aligned(align, size);
    if (!p) [[unlikely]] {
        return new_slow(align, size);
    }
    return p;
}

inline void* op_new_nothrow(std::size_t size) noexcept {
    void* p = mem::allocate(size);
    if (!p) [[unlikely]] {
        try {
            return new_slow(min_align, size);
        } catch (...) {
            return nullptr;
        }
    }
    return p;
}

inline void* op_new_aligned_nothrow(std::size_t size, std::align_val_t al) noexcept {
    try {
        return op_new_aligned(size, al);
    } catch (...) {
        return nullptr;
    }
}

} // namespace

// ---- C functions ----

extern "C" {

void* malloc(std::size_t size) noexcept {
    return c_alloc(size);
}

void free(void* ptr) noexcept {
    mem::free(ptr);
}

void* calloc(std::size_t n, std::size_t size) noexcept {
    std::size_t total;
    if (__builtin_mul_overflow(n, size, &total)) [[unlikely]] {
        errno = ENOMEM;
        return nullptr;
    }
    if (mem::current_shard() < 0) {
        // Unbound: glibc's calloc knows which of its chunks are fresh and skips zeroing them.
        return __libc_calloc(n, size);
    }
    void* p = mem::allocate_zeroed(total);
    if (!p) [[unlikely]] {
        errno = ENOMEM;
    }
    return p;
}

// realloc(p, 0) frees p and returns nullptr, as glibc does (errno untouched).
void* realloc(void* ptr, std::size_t size) noexcept {
    if (!ptr) {
        return c_alloc(size);
    }
    if (size == 0) {
        mem::free(ptr);
        return nullptr;
    }
    void* q = mem::reallocate(ptr, size);
    if (!q) [[unlikely]] {
        errno = ENOMEM;
    }
    return q;
}

void* reallocarray(void* ptr, std::size_t n, std::size_t size) noexcept {
    std::size_t total;
    if (__builtin_mul_overflow(n, size, &total)) [[unlikely]] {
        errno = ENOMEM;
        return nullptr;
    }
    return realloc(ptr, total);
}

// Any power of two; anything else is EINVAL (glibc >= 2.38 behaviour).
void* aligned_alloc(std::size_t align, std::size_t size) noexcept {
    if (!is_pow2(align)) {
        errno = EINVAL;
        return nullptr;
    }
    return c_alloc_aligned(align, size);
}

int posix_memalign(void** out, std::size_t align, std::size_t size) noexcept {
    if (!is_pow2(align) || align % sizeof(void*) != 0) {
        return EINVAL;
    }
    void* p = plain_ok(align) ? mem::allocate(size) : mem::allocate_aligned(align, size);
    if (!p) {
        return ENOMEM;
    }
    *out = p;
    return 0;
}

// As glibc: a non-power-of-two alignment is rounded up to the next power of two; an
// alignment too large to round is EINVAL.
void* memalign(std::size_t align, std::size_t size) noexcept {
    if (!is_pow2(align)) {
        if (align > (std::size_t{1} << (8 * sizeof(std::size_t) - 1))) {
            errno = EINVAL;
            return nullptr;
        }
        std::size_t a = min_align;
        while (a < align) {
            a <<= 1;
        }
        align = a;
    }
    return c_alloc_aligned(align, size);
}

void* valloc(std::size_t size) noexcept {
    return c_alloc_aligned(mem::page_size, size);
}

void* pvalloc(std::size_t size) noexcept {
    std::size_t rounded;
    if (__builtin_add_overflow(size, mem::page_size - 1, &rounded)) {
        errno = ENOMEM;
        return nullptr;
    }
    rounded &= ~(mem::page_size - 1);
    return c_alloc_aligned(mem::page_size, rounded == 0 ? mem::page_size : rounded);
}

std::size_t malloc_usable_size(void* ptr) noexcept {
    return mem::usable_size(ptr);
}

} // extern "C"

// ---- operator new / delete ----

void* operator new(std::size_t size) {
    return op_new(size);
}
void* operator new[](std::size_t size) {
    return op_new(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    return op_new_nothrow(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    return op_new_nothrow(size);
}
void* operator new(std::size_t size, std::align_val_t al) {
    return op_new_aligned(size, al);
}
void* operator new[](std::size_t size, std::align_val_t al) {
    return op_new_aligned(size, al);
}
void* operator new(std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
    return op_new_aligned_nothrow(size, al);
}
void* operator new[](std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
    return op_new_aligned_nothrow(size, al);
}

void operator delete(void* p) noexcept {
    mem::free(p);
}
void operator delete[](void* p) noexcept {
    mem::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
    mem::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    mem::free(p);
}
void operator delete(void* p, std::size_t size) noexcept {
    mem::free_sized(p, size);
}
void operator delete[](void* p, std::size_t size) noexcept {
    mem::free_sized(p, size);
}
void operator delete(void* p, std::align_val_t) noexcept {
    mem::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
    mem::free(p);
}
void operator delete(void* p, std::size_t size, std::align_val_t) noexcept {
    mem::free_sized(p, size);
}
void operator delete[](void* p, std::size_t size, std::align_val_t) noexcept {
    mem::free_sized(p, size);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    mem::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    mem::free(p);
}
