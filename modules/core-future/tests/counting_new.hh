// Replaces the global operator new and delete (every form) of a test program with ones
// that count allocations on this thread, so a test can check that a path allocates
// nothing. Include from exactly one translation unit of the program.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

namespace counting_new {
/// Number of operator new calls on this thread so far.
inline thread_local std::size_t count = 0;

inline void* allocate(std::size_t n) {
    ++count;
    if (void* p = std::malloc(n ? n : 1)) {
        return p;
    }
    throw std::bad_alloc();
}
}  // namespace counting_new

void* operator new(std::size_t n) {
    return counting_new::allocate(n);
}
void* operator new[](std::size_t n) {
    return counting_new::allocate(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    ++counting_new::count;
    return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    ++counting_new::count;
    return std::malloc(n ? n : 1);
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
