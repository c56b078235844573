// deleter: a move-only handle that releases memory or an object when it is destroyed;
// temporary_buffer uses it so that zero-copy slices can share one allocation.
//   reef::deleter d = reef::make_free_deleter(std::malloc(64));   // free()d when d dies
//   reef::deleter d2 = d.share();                                 // freed when both die
#pragma once

#include <cstdint>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <utility>

#include <reef/core/fwd.hh>

namespace reef {

/// A move-only, type-erased "release this" handle. Destroying (or reset()ting) the last
/// handle of a release runs it: frees a block, destroys an object or calls a function.
/// Handles made by share() count references. Single-thread: a deleter and all its
/// shares must be used and destroyed on one thread (no atomics).
class deleter {
public:
    /// The reference-counted node behind shared and custom releases (defined below).
    struct impl;

    /// An empty deleter: releases nothing, allocates nothing.
    deleter() noexcept = default;
    /// Takes ownership of one reference of `i` (which must come from `new`).
    explicit deleter(impl* i) noexcept : bits_(reinterpret_cast<std::uintptr_t>(i)) {}
    deleter(deleter&& o) noexcept : bits_(std::exchange(o.bits_, 0)) {}
    deleter& operator=(deleter&& o) noexcept {
        if (this != &o) {
            reset();
            bits_ = std::exchange(o.bits_, 0);
        }
        return *this;
    }
    deleter(const deleter&) = delete;
    deleter& operator=(const deleter&) = delete;
    /// Releases this handle's share: runs the release if it was the last one.
    ~deleter() { reset(); }

    /// Releases this handle's share now; the deleter becomes empty.
    void reset() noexcept {
        if (bits_) {
            release(std::exchange(bits_, 0));
        }
    }

    /// Another handle to the same release, which runs when every handle is gone.
    /// Allocates one small node the first time a free() deleter is shared; otherwise
    /// only increments a count. Sharing an empty deleter gives an empty deleter.
    deleter share();

    /// Makes `d` run after this deleter's own release (after every share of it is gone).
    /// Appending to an empty deleter just takes `d`. May allocate one small node.
    void append(deleter d);

    /// True unless the deleter is empty.
    explicit operator bool() const noexcept { return bits_ != 0; }

private:
    friend deleter make_free_deleter(void* p);

    // 0: empty; low bit set: a malloc()ed pointer to free() (no node needed);
    // otherwise an impl*.
    static constexpr std::uintptr_t free_tag = 1;

    static void release(std::uintptr_t bits) noexcept;
    impl* to_impl();

    std::uintptr_t bits_ = 0;
};

/// The reference-counted node behind shared and custom releases. Derive from it and
/// release in the destructor; `next` is released right after. Owner thread only.
struct deleter::impl {
    unsigned refs = 1;
    deleter next;  // released after this node's own release
    impl() noexcept = default;
    explicit impl(deleter n) noexcept : next(std::move(n)) {}
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;
    virtual ~impl() = default;
};

/// A deleter that calls std::free(p) (nothing for nullptr). Does not allocate for a
/// pointer from malloc() (any pointer with an even address).
deleter make_free_deleter(void* p);

/// A deleter that calls std::free(p), then releases `next`.
deleter make_free_deleter(deleter next, void* p);

namespace detail {

template <typename Func>
struct function_deleter final : deleter::impl {
    function_deleter(deleter n, Func&& f) : impl(std::move(n)), func(std::move(f)) {}
    ~function_deleter() override { func(); }
    Func func;
};

template <typename Obj>
struct object_deleter final : deleter::impl {
    object_deleter(deleter n, Obj&& o) : impl(std::move(n)), obj(std::move(o)) {}
    Obj obj;  // destroyed with the node
};

}  // namespace detail

/// A deleter that calls `func()` (which must not throw) when released, then releases
/// `next`. Allocates one node holding `func`.
template <typename Func>
    requires std::is_invocable_v<std::decay_t<Func>&>
deleter make_deleter(deleter next, Func&& func) {
    return deleter(new detail::function_deleter<std::decay_t<Func>>(std::move(next), std::decay_t<Func>(std::forward<Func>(func))));
}

/// A deleter that calls `func()` (which must not throw) when released. Allocates one
/// node holding `func`.
template <typename Func>
    requires std::is_invocable_v<std::decay_t<Func>&>
deleter make_deleter(Func&& func) {
    return make_deleter(deleter(), std::forward<Func>(func));
}

/// A deleter that owns `obj` (moved into a node) and destroys it when released, then
/// releases `next`. Use it to keep the owner of some memory alive (a vector, a string).
template <typename T>
deleter make_object_deleter(deleter next, T&& obj) {
    return deleter(new detail::object_deleter<std::decay_t<T>>(std::move(next), std::decay_t<T>(std::forward<T>(obj))));
}

/// A deleter that owns `obj` and destroys it when released.
template <typename T>
deleter make_object_deleter(T&& obj) {
    return make_object_deleter(deleter(), std::forward<T>(obj));
}

}  // namespace reef
