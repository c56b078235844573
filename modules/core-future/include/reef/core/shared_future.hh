// shared_future<T>: one result delivered to many waiters. Each get_future() call gives
// a fresh future<T> with its own copy of the value (or the exception).
//   reef::shared_future<int> sf(compute());   // compute() returns future<int>
//   int a = co_await sf.get_future();  int b = co_await sf;   // both see the same value
#pragma once

#include <cassert>
#include <cstddef>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <reef/core/detail/intrusive_list.hh>
#include <reef/core/detail/task_alloc.hh>
#include <reef/core/future.hh>

namespace reef {

namespace detail {

template <typename T>
struct shared_waiter : list_hook {
    promise<T> pr;
    static void* operator new(std::size_t n) { return task_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { task_free(p, n); }
};

// The result shared by a shared_promise, its shared_futures and, while it is pending,
// the continuation that feeds it from a future. Reference counted (one thread).
template <typename T>
class shared_state {
    using V = value_of_t<T>;

public:
    shared_state() noexcept = default;
    shared_state(const shared_state&) = delete;
    shared_state& operator=(const shared_state&) = delete;
    ~shared_state() {
        // Waiters left here can only be reached through futures taken before the last
        // owner went: they fail with broken_promise.
        while (!waiters_.empty()) {
            delete &waiters_.pop_front();
        }
        if (ex_ && !observed_) {
            report_abandoned_failure(ex_);  // a failure nobody asked for
        }
    }

    void ref() noexcept { ++refs_; }
    bool has_other_owners() const noexcept { return refs_ > 1; }
    void unref() noexcept {
        if (--refs_ == 0) {
            delete this;
        }
    }

    bool available() const noexcept { return value_.has_value() || ex_; }
    bool failed() const noexcept { return bool(ex_); }

    future<T> get_future() {
        if (value_) {
            if constexpr (std::is_void_v<T>) {
                return make_ready_future<>();
            } else {
                return make_ready_future<T>(*value_);
            }
        }
        if (ex_) {
            observed_ = true;
            return make_exception_future<T>(ex_);
        }
        auto* w = new shared_waiter<T>;
        auto f = w->pr.get_future();
        waiters_.push_back(*w);
        return f;
    }

    template <typename... A>
    void set_value(A&&... a) {
        assert(!available() && "shared_promise resolved twice");
        value_.emplace(std::forward<A>(a)...);
        while (!waiters_.empty()) {
            auto& w = waiters_.pop_front();
            if constexpr (std::is_void_v<T>) {
                w.pr.set_value();
            } else {
                w.pr.set_value(*value_);  // a copy for each waiter, in arrival order
            }
            delete &w;
        }
    }

    void set_exception(std::exception_ptr e) noexcept {
        assert(!available() && "shared_promise resolved twice");
        ex_ = std::move(e);
        while (!waiters_.empty()) {
            observed_ = true;
            auto& w = waiters_.pop_front();
            w.pr.set_exception(ex_);
            delete &w;
        }
    }

    void set_from(future<T>&& f) noexcept {
        if (f.failed()) {
            set_exception(f.get_exception());
        } else if constexpr (std::is_void_v<T>) {
            f.ignore_ready_future();
            set_value();
        } else {
            try {
                set_value(f.get());
            } catch (...) {
                set_exception(std::current_exception());  // copying the value threw
            }
        }
    }

private:
    std::size_t refs_ = 1;  // owner thread only
    std::optional<V> value_;
    std::exception_ptr ex_;
    bool observed_ = false;  // a future of the failure was handed out
    intrusive_list<shared_waiter<T>> waiters_;
};

// Owning pointer to a shared_state.
template <typename T>
class shared_state_ptr {
public:
    shared_state_ptr() noexcept = default;
    explicit shared_state_ptr(shared_state<T>* p) noexcept : p_(p) {}  // adopts a reference
    shared_state_ptr(const shared_state_ptr& o) noexcept : p_(o.p_) {
        if (p_) {
            p_->ref();
        }
    }
    shared_state_ptr(shared_state_ptr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    shared_state_ptr& operator=(shared_state_ptr o) noexcept {
        std::swap(p_, o.p_);
        return *this;
    }
    ~shared_state_ptr() {
        if (p_) {
            p_->unref();
        }
    }
    shared_state<T>* operator->() const noexcept { return p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }

private:
    shared_state<T>* p_ = nullptr;
};

}  // namespace detail

/// A result many waiters can take. Copyable (copies share the result). Owner thread
/// only. A failure reaches every waiter; a failure nobody takes a future of is reported
/// as abandoned when the last copy goes. T must be copy-constructible, and its copy
/// must not throw while waiters are being resolved.
template <typename T>
class shared_future {
public:
    /// An invalid shared_future (valid() is false).
    shared_future() noexcept = default;

    /// Shares the result of `f`. Allocates the shared state, plus one continuation when
    /// `f` is not ready.
    shared_future(future<T>&& f) : state_(new detail::shared_state<T>) {
        if (f.available()) {
            state_->set_from(std::move(f));
            return;
        }
        (void)std::move(f).then_wrapped(
            [st = state_](future<T> r) mutable noexcept { st->set_from(std::move(r)); });
    }

    /// A new future<T> of the result: ready with a copy of the value (or the exception)
    /// when available, allocation-free; otherwise resolved, in call order among the
    /// waiters, when the result arrives (one waiter node). Requires valid().
    future<T> get_future() const {
        assert(state_ && "get_future() on an invalid shared_future");
        return state_->get_future();
    }

    /// Same as get_future().
    operator future<T>() const { return get_future(); }

    /// co_await on a shared_future awaits a fresh get_future().
    auto operator co_await() const { return get_future().operator co_await(); }

    /// True when the result is there.
    bool available() const noexcept { return state_ && state_->available(); }
    /// True when the result is there and is an exception.
    bool failed() const noexcept { return state_ && state_->failed(); }
    /// False for a default-constructed or moved-from shared_future.
    bool valid() const noexcept { return bool(state_); }

private:
    template <typename U>
    friend class shared_promise;
    explicit shared_future(detail::shared_state_ptr<T> st) noexcept : state_(std::move(st)) {}

    detail::shared_state_ptr<T> state_;
};

/// The producer of a shared result: like promise<T>, but any number of futures can be
/// taken, each getting a copy. Move-only. Destroying it unresolved fails the waiters
/// with broken_promise. Allocates the shared state once, on construction.
template <typename T>
class shared_promise {
public:
    shared_promise() : state_(new detail::shared_state<T>) {}
    shared_promise(shared_promise&&) noexcept = default;
    shared_promise& operator=(shared_promise&& o) noexcept {
        if (this != &o) {
            abandon();
            state_ = std::move(o.state_);
        }
        return *this;
    }
    ~shared_promise() { abandon(); }

    /// A new future<T> of the result (see shared_future::get_future()).
    future<T> get_shared_future() const { return state_->get_future(); }

    /// A shared_future sharing this promise's result (copy it around freely).
    shared_future<T> to_shared_future() const noexcept { return shared_future<T>(state_); }

    /// Resolves every waiter, oldest first, with a copy of a value built from `a...`.
    /// Call at most once (and not after set_exception()).
    template <typename... A>
    void set_value(A&&... a) {
        state_->set_value(std::forward<A>(a)...);
    }

    /// Fails every waiter, oldest first, with `e`. Call at most once.
    void set_exception(std::exception_ptr e) noexcept { state_->set_exception(std::move(e)); }

    /// Fails every waiter with a copy of the exception object `e`.
    template <typename E>
        requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr> &&
                 !std::is_same_v<std::decay_t<E>, std::nullptr_t>)
    void set_exception(E&& e) noexcept {
        set_exception(std::make_exception_ptr(std::forward<E>(e)));
    }

    /// True once resolved.
    bool available() const noexcept { return state_ && state_->available(); }

private:
    void abandon() noexcept {
        // Alone with the state, there is nobody to tell: waiters reachable only through
        // futures already taken get broken_promise when the state goes.
        if (state_ && !state_->available() && state_->has_other_owners()) {
            state_->set_exception(detail::make_broken_promise());
        }
    }

    detail::shared_state_ptr<T> state_;
};

}  // namespace reef
