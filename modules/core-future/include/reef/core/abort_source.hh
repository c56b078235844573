// abort_source: a one-shot cancellation signal. Subscribers register a callback and are
// called, in subscription order, when someone requests the abort.
//   reef::abort_source as;
//   auto sub = as.subscribe([&](const std::exception_ptr& why) noexcept { stop(why); });
//   as.request_abort();   // calls stop() now; as.check() throws abort_requested_exception
#pragma once

#include <cstddef>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>

#include <reef/core/detail/intrusive_list.hh>
#include <reef/core/fwd.hh>

namespace reef {

/// The default reason of an abort: request_abort() was called.
struct abort_requested_exception : std::exception {
    const char* what() const noexcept override { return "abort requested"; }
};

/// Single-shard, one-shot cancellation. Owner thread only; never yields.
///
/// A subscription's callback is one of
///   void(const std::exception_ptr& reason)   reason is never null
///   void()
/// It runs synchronously inside request_abort()/request_abort_ex() and must not throw
/// (a throw terminates). It may destroy its own subscription, other subscriptions or
/// their owners, but not the abort_source itself.
class abort_source {
public:
    class subscription;

    /// A source that has not been aborted and has no subscribers.
    abort_source() noexcept = default;
    /// Moves the subscribers and the abort state; `o` is left fresh (not aborted).
    abort_source(abort_source&& o) noexcept;
    /// Detaches this source's subscribers (they will never be called), then moves `o` in.
    abort_source& operator=(abort_source&& o) noexcept;
    abort_source(const abort_source&) = delete;
    abort_source& operator=(const abort_source&) = delete;
    /// Detaches the remaining subscribers; their subscriptions become empty.
    ~abort_source();

    /// Registers `f` to be called on abort and returns the RAII registration: destroying
    /// or reassigning it unsubscribes. When an abort was already requested, returns an
    /// empty subscription (false) and `f` is never called. Does not allocate unless `f`
    /// is larger than four pointers or not nothrow-movable.
    template <typename F>
    [[nodiscard]] subscription subscribe(F&& f);

    /// Requests the abort with abort_requested_exception as the reason. Calls every
    /// subscriber once, in subscription order. Later calls do nothing.
    void request_abort() noexcept;

    /// Requests the abort with reason `ex` (null means abort_requested_exception).
    void request_abort_ex(std::exception_ptr ex) noexcept;

    /// Requests the abort with a copy of the exception object `e` as the reason.
    template <typename E>
        requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr> &&
                 !std::is_same_v<std::decay_t<E>, std::nullptr_t>)
    void request_abort_ex(E&& e) noexcept {
        request_abort_ex(std::make_exception_ptr(std::forward<E>(e)));
    }

    /// True once an abort was requested.
    bool abort_requested() const noexcept { return bool(reason_); }

    /// Throws the abort reason if an abort was requested; otherwise does nothing.
    void check() const {
        if (reason_) [[unlikely]] {
            std::rethrow_exception(reason_);
        }
    }

    /// The abort reason; null while no abort was requested.
    const std::exception_ptr& abort_requested_exception_ptr() const noexcept { return reason_; }

private:
    detail::intrusive_list<subscription> subscribers_;
    std::exception_ptr reason_;
};

/// The registration of a callback with an abort_source. Move-only. Engaged (true) while
/// it waits for the abort; empty after the callback ran, after a move, after the source
/// was destroyed, or when returned by subscribe() on an aborted source.
class abort_source::subscription : public detail::list_hook {
public:
    /// An empty subscription.
    subscription() noexcept = default;
    /// Takes over `o`'s callback and place in the source's list.
    subscription(subscription&& o) noexcept { steal(o); }
    /// Unsubscribes this one, then takes over `o`.
    subscription& operator=(subscription&& o) noexcept {
        if (this != &o) {
            reset();
            steal(o);
        }
        return *this;
    }
    /// Unsubscribes (the callback will not be called).
    ~subscription() { reset(); }

    /// True while subscribed and not yet called.
    explicit operator bool() const noexcept { return is_linked(); }

private:
    friend class abort_source;

    static constexpr std::size_t inline_size = 4 * sizeof(void*);

    // How to call, move and destroy the stored callable (one table per callable type).
    struct ops {
        void (*invoke)(void* obj, const std::exception_ptr& reason) noexcept;
        void (*move)(void* dst, void* src) noexcept;
        void (*destroy)(void* obj) noexcept;
    };

    template <typename F>
    static void call(F& f, const std::exception_ptr& reason) noexcept {
        if constexpr (std::is_invocable_v<F&, const std::exception_ptr&>) {
            f(reason);
        } else {
            static_assert(std::is_invocable_v<F&>,
                          "an abort_source callback takes (const std::exception_ptr&) or no argument");
            f();
        }
    }

    template <typename F>
    static constexpr bool fits_inline = sizeof(F) <= inline_size && alignof(F) <= alignof(std::max_align_t) &&
                                        std::is_nothrow_move_constructible_v<F>;

    // The callable lives in storage_.
    template <typename F>
    static constexpr ops inline_ops{
        [](void* o, const std::exception_ptr& r) noexcept { call(*static_cast<F*>(o), r); },
        [](void* d, void* s) noexcept {
            new (d) F(std::move(*static_cast<F*>(s)));
            static_cast<F*>(s)->~F();
        },
        [](void* o) noexcept { static_cast<F*>(o)->~F(); },
    };
    // storage_ holds a pointer to a heap copy of the callable.
    template <typename F>
    static constexpr ops heap_ops{
        [](void* o, const std::exception_ptr& r) noexcept { call(**static_cast<F**>(o), r); },
        [](void* d, void* s) noexcept { *static_cast<F**>(d) = *static_cast<F**>(s); },
        [](void* o) noexcept { delete *static_cast<F**>(o); },
    };

    template <typename F>
    explicit subscription(F&& f) {
        using D = std::decay_t<F>;
        if constexpr (fits_inline<D>) {
            new (storage_) D(std::forward<F>(f));
            ops_ = &inline_ops<D>;
        } else {
            *reinterpret_cast<D**>(storage_) = new D(std::forward<F>(f));
            ops_ = &heap_ops<D>;
        }
    }

    void steal(subscription& o) noexcept {
        if (o.ops_) {
            o.ops_->move(storage_, o.storage_);
            ops_ = std::exchange(o.ops_, nullptr);
            take_place_of(o);
        }
    }
    void reset() noexcept {
        unlink();
        if (ops_) {
            std::exchange(ops_, nullptr)->destroy(storage_);
        }
    }

    alignas(std::max_align_t) unsigned char storage_[inline_size];
    const ops* ops_ = nullptr;  // null: no callable stored
};

template <typename F>
abort_source::subscription abort_source::subscribe(F&& f) {
    if (reason_) {
        return subscription();
    }
    subscription s(std::forward<F>(f));
    subscribers_.push_back(s);
    return s;
}

}  // namespace reef
