// future<T> and promise<T>: a value (or an exception) that will be available later,
// and the producer side of it. Functions returning future<T> may be coroutines.
//   reef::future<int> answer() { co_return 42; }
//   reef::future<> f = answer().then([](int v) { fmt::print("{}\n", v); });
#pragma once

#include <cassert>
#include <concepts>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>

#include <reef/core/detail/task_alloc.hh>
#include <reef/core/exceptions.hh>
#include <reef/core/fwd.hh>
#include <reef/core/scheduler.hh>
#include <reef/core/task.hh>

namespace reef {

template <typename T = void, typename... A>
future<T> make_ready_future(A&&... a);
template <typename T = void>
future<T> make_exception_future(std::exception_ptr e) noexcept;

namespace detail {

/// What a future<void> holds: nothing, but a value all the same.
struct void_value {};

template <typename T>
struct value_of {
    using type = T;
};
template <>
struct value_of<void> {
    using type = void_value;
};
template <typename T>
using value_of_t = typename value_of<T>::type;

enum class state_kind : std::uint8_t { invalid, pending, value, exception };

/// The result slot of a future: pending, a value, an exception, or invalid (consumed).
/// An exception still held when the slot is destroyed is reported as abandoned.
template <typename V>
class future_state {
public:
    future_state() noexcept : kind_(state_kind::pending) {}
    future_state(future_state&& o) noexcept : kind_(o.kind_) { steal(o); }
    future_state& operator=(future_state&& o) noexcept {
        if (this != &o) {
            destroy();
            kind_ = o.kind_;
            steal(o);
        }
        return *this;
    }
    ~future_state() { destroy(); }

    state_kind kind() const noexcept { return kind_; }
    bool available() const noexcept { return kind_ >= state_kind::value; }
    bool failed() const noexcept { return kind_ == state_kind::exception; }

    template <typename... A>
    void set_value(A&&... a) noexcept(std::is_nothrow_constructible_v<V, A&&...>) {
        assert(kind_ == state_kind::pending);
        new (&value_) V(std::forward<A>(a)...);
        kind_ = state_kind::value;
    }
    void set_exception(std::exception_ptr&& e) noexcept {
        assert(kind_ == state_kind::pending);
        new (&ex_) std::exception_ptr(std::move(e));
        kind_ = state_kind::exception;
    }
    /// Moves the value out; the state becomes invalid. Requires kind() == value.
    V take_value() noexcept {
        V v(std::move(value_));
        value_.~V();
        kind_ = state_kind::invalid;
        return v;
    }
    /// Moves the exception out; the state becomes invalid. Requires failed().
    std::exception_ptr take_exception() noexcept {
        std::exception_ptr e(std::move(ex_));
        ex_.~exception_ptr();
        kind_ = state_kind::invalid;
        return e;
    }
    /// Drops whatever is held without reporting it.
    void ignore() noexcept {
        if (kind_ == state_kind::value) {
            value_.~V();
        } else if (kind_ == state_kind::exception) {
            ex_.~exception_ptr();
        }
        kind_ = state_kind::invalid;
    }

private:
    void steal(future_state& o) noexcept {
        if (kind_ == state_kind::value) {
            new (&value_) V(std::move(o.value_));
            o.value_.~V();
        } else if (kind_ == state_kind::exception) {
            new (&ex_) std::exception_ptr(std::move(o.ex_));
            o.ex_.~exception_ptr();
        }
        o.kind_ = state_kind::invalid;
    }
    void destroy() noexcept {
        if (kind_ == state_kind::value) {
            value_.~V();
        } else if (kind_ == state_kind::exception) {
            report_abandoned_failure(ex_);
            ex_.~exception_ptr();
        }
    }

    union {
        V value_;
        std::exception_ptr ex_;
    };
    state_kind kind_;
};

struct ready_tag {};
struct exception_tag {};
struct state_tag {};

template <typename T>
class coroutine_promise;

template <typename V, typename U, typename Wrapper>
class continuation;

}  // namespace detail

template <typename T>
struct is_future : std::false_type {};
template <typename T>
struct is_future<future<T>> : std::true_type {};
template <typename T>
inline constexpr bool is_future_v = is_future<T>::value;

/// Turns a return type into the future that carries it: T -> future<T>,
/// void -> future<>, future<T> -> future<T>.
template <typename T>
struct futurize {
    using type = future<T>;
};
template <>
struct futurize<void> {
    using type = future<>;
};
template <typename T>
struct futurize<future<T>> {
    using type = future<T>;
};
template <typename T>
using futurize_t = typename futurize<T>::type;

/// The future type of calling F with A...
template <typename F, typename... A>
using futurize_result_t = futurize_t<std::invoke_result_t<F, A...>>;

/// Calls f(a...) and returns its result as a future; an exception thrown by f becomes a
/// failed future. Never throws.
template <typename F, typename... A>
futurize_result_t<F, A...> futurize_invoke(F&& f, A&&... a) noexcept {
    using R = std::invoke_result_t<F, A...>;
    using Fut = futurize_result_t<F, A...>;
    try {
        if constexpr (is_future_v<R>) {
            return std::forward<F>(f)(std::forward<A>(a)...);
        } else if constexpr (std::is_void_v<R>) {
            std::forward<F>(f)(std::forward<A>(a)...);
            return make_ready_future<typename Fut::value_type>();
        } else {
            return make_ready_future<R>(std::forward<F>(f)(std::forward<A>(a)...));
        }
    } catch (...) {
        return make_exception_future<typename Fut::value_type>(std::current_exception());
    }
}

/// The producer side of a future<T>. set_value() or set_exception() resolves the future
/// and wakes whoever waits on it. Destroying an unresolved promise whose future was
/// taken fails that future with broken_promise. Owner thread only; never allocates.
template <typename T>
class promise {
    using V = detail::value_of_t<T>;

public:
    promise() noexcept : state_(&local_) {}
    promise(promise&& o) noexcept
        : local_(std::move(o.local_)),
          future_(o.future_),
          state_(o.state_ == &o.local_ ? &local_ : o.state_),
          task_(o.task_) {
        if (future_) {
            future_->promise_ = this;
        }
        o.future_ = nullptr;
        o.state_ = nullptr;
        o.task_ = nullptr;
    }
    promise& operator=(promise&& o) noexcept {
        if (this != &o) {
            this->~promise();
            new (this) promise(std::move(o));
        }
        return *this;
    }
    promise(const promise&) = delete;
    promise& operator=(const promise&) = delete;
    ~promise() {
        // Usually already resolved (state_ cleared) or never linked: one compare.
        if (state_ != nullptr && state_ != &local_) [[unlikely]] {
            abandon();
        }
    }

    /// The future this promise resolves. Call at most once.
    future<T> get_future() noexcept {
        assert(state_ == &local_ && local_.kind() != detail::state_kind::invalid);
        return future<T>(this);
    }

    /// Resolves the future with a value constructed from `a...`.
    template <typename... A>
    void set_value(A&&... a) noexcept(std::is_nothrow_constructible_v<V, A&&...>) {
        if (!state_) {
            return;  // the future was dropped: nobody wants the value
        }
        state_->set_value(std::forward<A>(a)...);
        finish();
    }

    /// Fails the future with `e`.
    void set_exception(std::exception_ptr e) noexcept {
        if (!state_) {
            detail::report_abandoned_failure(e);
            return;
        }
        state_->set_exception(std::move(e));
        finish();
    }

    /// Fails the future with a copy of the exception object `e`.
    template <typename E>
        requires(!std::same_as<std::decay_t<E>, std::exception_ptr> && !std::same_as<std::decay_t<E>, std::nullptr_t>)
    void set_exception(E&& e) noexcept {
        set_exception(std::make_exception_ptr(std::forward<E>(e)));
    }

    /// True while a result set now would reach somebody: false once the future was
    /// destroyed unresolved or the result was already set. Lets a producer (a
    /// semaphore, a queue) skip a waiter that went away instead of giving it units.
    bool has_consumer() const noexcept {
        return state_ != nullptr && (state_ != &local_ || local_.kind() == detail::state_kind::pending);
    }

private:
    template <typename U>
    friend class future;

    void set_from_state(detail::future_state<V>&& st) noexcept {
        if (st.failed()) {
            set_exception(st.take_exception());
        } else {
            set_value(st.take_value());
        }
    }
    void finish() noexcept {
        if (state_ == &local_) {
            return;  // get_future() has not been called; it will find the result
        }
        if (future_) {
            future_->promise_ = nullptr;
        }
        task* t = task_;
        state_ = nullptr;
        future_ = nullptr;
        task_ = nullptr;
        if (t) {
            schedule(t);
        }
    }
    [[gnu::noinline]] void abandon() noexcept {
        if (state_->kind() == detail::state_kind::pending) {
            state_->set_exception(detail::make_broken_promise());
            finish();
        }
    }

    detail::future_state<V> local_;    // result set before get_future()
    future<T>* future_ = nullptr;      // the linked future, if it still waits in place
    detail::future_state<V>* state_;   // where the result goes; nullptr when done
    task* task_ = nullptr;             // scheduled when the result arrives
};

/// A value of type T (or an exception) that is ready now or will be later. Move-only.
/// A ready future costs no allocation; an unready then() allocates one task.
template <typename T>
class [[nodiscard]] future {
    using V = detail::value_of_t<T>;
    static_assert(!std::is_reference_v<T>, "future<T&> is not supported; use std::reference_wrapper");
    static_assert(!is_future_v<T>, "future<future<T>> is not supported");
    static_assert(std::is_nothrow_move_constructible_v<V>,
                  "future<T> needs a T whose move constructor is noexcept (results move between "
                  "futures, promises and tasks without a way to report a failure)");

public:
    using value_type = T;
    using promise_type = detail::coroutine_promise<T>;

    future(future&& o) noexcept : promise_(o.promise_), state_(std::move(o.state_)) {
        if (promise_) {
            relink();
            o.promise_ = nullptr;
        }
    }
    future& operator=(future&& o) noexcept {
        if (this != &o) {
            detach();
            promise_ = o.promise_;
            state_ = std::move(o.state_);
            if (promise_) {
                relink();
                o.promise_ = nullptr;
            }
        }
        return *this;
    }
    future(const future&) = delete;
    future& operator=(const future&) = delete;
    ~future() { detach(); }

    /// True when the value or exception is there.
    bool available() const noexcept { return state_.available(); }
    /// True when ready and holding an exception.
    bool failed() const noexcept { return state_.failed(); }
    /// False after the future was moved from or consumed.
    bool valid() const noexcept { return state_.kind() != detail::state_kind::invalid; }

    /// The value of a ready future (rethrows its exception). Throws future_not_ready on a
    /// future that is not ready: wait with co_await, then() or sync_wait().
    T get() {
        if (!state_.available()) {
            throw future_not_ready();
        }
        if (state_.failed()) {
            std::rethrow_exception(state_.take_exception());
        }
        if constexpr (std::is_void_v<T>) {
            state_.ignore();
        } else {
            return state_.take_value();
        }
    }

    /// The exception of a failed ready future, consumed (it will not be reported).
    std::exception_ptr get_exception() noexcept {
        assert(state_.failed());
        return state_.take_exception();
    }

    /// Consumes a ready future, dropping its value or exception without a report.
    void ignore_ready_future() noexcept { state_.ignore(); }

    /// Calls `func` with the value once it is there and returns the future of its
    /// result. A failure skips `func` and is forwarded. Runs `func` at once on a ready
    /// future unless preemption is due; otherwise allocates one task.
    template <typename Func>
    auto then(Func&& func) {
        if constexpr (std::is_void_v<T>) {
            static_assert(std::is_invocable_v<Func>, "then() on future<> takes a function of no arguments");
            return then_impl<futurize_result_t<Func>>(std::forward<Func>(func));
        } else {
            static_assert(std::is_invocable_v<Func, T&&>, "then() on future<T> takes a function of T");
            return then_impl<futurize_result_t<Func, T&&>>(std::forward<Func>(func));
        }
    }

    /// Calls `func` with this future once it is ready, failed or not.
    template <typename Func>
        requires std::is_invocable_v<Func, future<T>&&>
    futurize_result_t<Func, future<T>&&> then_wrapped(Func&& func) {
        using Fut = futurize_result_t<Func, future<T>&&>;
        if (state_.available() && !need_preempt()) [[likely]] {
            return futurize_invoke(std::forward<Func>(func), std::move(*this));
        }
        return chain<Fut>([f = std::forward<Func>(func)](promise<typename Fut::value_type>& pr,
                                                          detail::future_state<V>&& st) mutable noexcept {
            futurize_invoke(f, future<T>(detail::state_tag{}, std::move(st))).forward_to(std::move(pr));
        });
    }

    /// Runs `func` (returning void or a future) after this future resolves, failed or
    /// not, then passes the original result on. If `func` fails, its failure wins and
    /// the original failure, if any, is reported as abandoned.
    template <typename Func>
        requires std::is_invocable_v<Func>
    future<T> finally(Func&& func) {
        return then_wrapped([f = std::forward<Func>(func)](future<T> result) mutable -> future<T> {
            auto done = futurize_invoke(f);
            if (done.available()) {
                if (done.failed()) {
                    return future<T>(detail::exception_tag{}, done.get_exception());
                }
                done.ignore_ready_future();
                return result;
            }
            return done.then_wrapped([result = std::move(result)](auto done) mutable -> future<T> {
                if (done.failed()) {
                    return future<T>(detail::exception_tag{}, done.get_exception());
                }
                done.ignore_ready_future();
                return std::move(result);
            });
        });
    }

    /// On failure, calls `func(std::exception_ptr)`, whose result (T, future<T>, or
    /// void for future<>) replaces the failure. A value passes through.
    template <typename Func>
        requires std::is_invocable_v<Func, std::exception_ptr>
    future<T> handle_exception(Func&& func) {
        if (state_.available() && !state_.failed()) {
            return std::move(*this);
        }
        return then_wrapped([f = std::forward<Func>(func)](future<T> result) mutable -> future<T> {
            if (!result.failed()) {
                return result;
            }
            return futurize_invoke(f, result.get_exception());
        });
    }

    /// On a failure of type E (the parameter type of `func`, taken by reference), calls
    /// `func(e)`; other failures and values pass through.
    template <typename Func>
    future<T> handle_exception_type(Func&& func) {
        using E = std::remove_cvref_t<typename detail_first_arg<std::remove_cvref_t<Func>>::type>;
        if (state_.available() && !state_.failed()) {
            return std::move(*this);
        }
        return then_wrapped([f = std::forward<Func>(func)](future<T> result) mutable -> future<T> {
            if (!result.failed()) {
                return result;
            }
            auto ep = result.get_exception();
            try {
                std::rethrow_exception(ep);
            } catch (E& e) {
                return futurize_invoke(f, e);
            } catch (...) {
                return future<T>(detail::exception_tag{}, std::move(ep));
            }
        });
    }

    /// Drops the value, keeping success or failure.
    future<> discard_result() {
        if constexpr (std::is_void_v<T>) {
            return std::move(*this);
        } else {
            return then([](T&&) {});
        }
    }

    /// Resolves `pr` with this future's result when it arrives. Does not allocate when
    /// pr's future has been taken: the producer of this future then resolves it directly.
    void forward_to(promise<T>&& pr) noexcept {
        if (state_.available()) {
            pr.set_from_state(std::move(state_));
            return;
        }
        if (!promise_ || pr.state_ == &pr.local_) {
            (void)std::move(*this).then_wrapped([pr = std::move(pr)](future<T> f) mutable noexcept {
                pr.set_from_state(std::move(f.state_));
            });
            return;
        }
        // Hand pr's destination to our producer and retire pr without breaking it.
        promise<T>* p = promise_;
        p->state_ = pr.state_;
        p->future_ = pr.future_;
        p->task_ = pr.task_;
        if (p->future_) {
            p->future_->promise_ = p;
        }
        pr.state_ = nullptr;
        pr.future_ = nullptr;
        pr.task_ = nullptr;
        promise_ = nullptr;
        state_.ignore();
    }

    /// Co-awaiting a future suspends until it is ready and yields its value (rethrowing
    /// its exception). Does not suspend on a ready future unless preemption is due.
    auto operator co_await() && noexcept;
    auto operator co_await() & noexcept;

    /// Internal: makes `t` run when this pending future resolves (nullptr: nobody).
    /// The future must stay where it is until then (it lives in a coroutine frame or a
    /// task while awaited).
    void set_waiter(task* t) noexcept {
        assert(promise_ && !state_.available());
        promise_->task_ = t;
    }

private:
    template <typename U>
    friend class future;
    template <typename U>
    friend class promise;
    template <typename U, typename... A>
    friend future<U> make_ready_future(A&&... a);
    template <typename U>
    friend future<U> make_exception_future(std::exception_ptr e) noexcept;
    template <typename U>
    friend class detail::coroutine_promise;

    template <typename F>
    struct detail_first_arg : detail_first_arg<decltype(&F::operator())> {};
    template <typename R, typename C, typename A>
    struct detail_first_arg<R (C::*)(A) const> {
        using type = A;
    };
    template <typename R, typename C, typename A>
    struct detail_first_arg<R (C::*)(A)> {
        using type = A;
    };
    template <typename R, typename A>
    struct detail_first_arg<R (*)(A)> {
        using type = A;
    };

    explicit future(promise<T>* p) noexcept : state_(std::move(p->local_)) {
        if (state_.available()) {
            p->state_ = nullptr;
        } else {
            promise_ = p;
            relink();
        }
    }
    template <typename... A>
    explicit future(detail::ready_tag, A&&... a) {
        state_.set_value(std::forward<A>(a)...);
    }
    future(detail::exception_tag, std::exception_ptr&& e) noexcept { state_.set_exception(std::move(e)); }
    future(detail::state_tag, detail::future_state<V>&& st) noexcept : state_(std::move(st)) {}

    void relink() noexcept {
        promise_->future_ = this;
        promise_->state_ = &state_;
    }
    void detach() noexcept {
        if (promise_) {
            promise_->future_ = nullptr;
            promise_->state_ = nullptr;
            promise_ = nullptr;
        }
    }

    template <typename Fut, typename Func>
    Fut then_impl(Func&& func) {
        if (state_.available() && !need_preempt()) [[likely]] {
            if (state_.failed()) {
                return Fut(detail::exception_tag{}, state_.take_exception());
            }
            if constexpr (std::is_void_v<T>) {
                state_.ignore();
                return futurize_invoke(std::forward<Func>(func));
            } else {
                return futurize_invoke(std::forward<Func>(func), state_.take_value());
            }
        }
        return chain<Fut>([f = std::forward<Func>(func)](promise<typename Fut::value_type>& pr,
                                                          detail::future_state<V>&& st) mutable noexcept {
            if (st.failed()) {
                pr.set_exception(st.take_exception());
                return;
            }
            if constexpr (std::is_void_v<T>) {
                st.ignore();
                futurize_invoke(f).forward_to(std::move(pr));
            } else {
                futurize_invoke(f, st.take_value()).forward_to(std::move(pr));
            }
        });
    }

    // Allocates the continuation task that runs `w(promise, state)` when this future's
    // result arrives (or at once, through the queue, if it is already here).
    template <typename Fut, typename Wrapper>
    Fut chain(Wrapper&& w);

    promise<T>* promise_ = nullptr;  // the producer while pending and linked
    detail::future_state<V> state_;
};

namespace detail {

/// A continuation: holds the awaited result, the promise of the next future and the
/// function to run. One allocation per unready then().
template <typename V, typename U, typename Wrapper>
class continuation final : public task {
public:
    explicit continuation(Wrapper&& w) : wrapper_(std::move(w)) {}
    void run_and_dispose() noexcept override {
        wrapper_(promise_, std::move(state_));
        delete this;
    }
    static void* operator new(std::size_t n) { return task_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { task_free(p, n); }

    future_state<V> state_;
    promise<U> promise_;

private:
    Wrapper wrapper_;
};

}  // namespace detail

template <typename T>
template <typename Fut, typename Wrapper>
Fut future<T>::chain(Wrapper&& w) {
    using U = typename Fut::value_type;
    auto* c = new detail::continuation<V, U, std::decay_t<Wrapper>>(std::forward<Wrapper>(w));
    Fut result = c->promise_.get_future();
    if (state_.available()) {
        c->state_ = std::move(state_);
        schedule(c);
    } else {
        assert(promise_);
        promise_->state_ = &c->state_;
        promise_->task_ = c;
        promise_->future_ = nullptr;
        promise_ = nullptr;
        state_.ignore();
    }
    return result;
}

/// A future that is ready with a value constructed from `a...`. Never allocates.
template <typename T, typename... A>
inline future<T> make_ready_future(A&&... a) {
    return future<T>(detail::ready_tag{}, std::forward<A>(a)...);
}

/// A future that is failed with `e`. Never allocates.
template <typename T>
inline future<T> make_exception_future(std::exception_ptr e) noexcept {
    return future<T>(detail::exception_tag{}, std::move(e));
}

/// A future failed with a copy of the exception object `e`.
template <typename T = void, typename E>
    requires(!std::same_as<std::decay_t<E>, std::exception_ptr> && !std::same_as<std::decay_t<E>, std::nullptr_t>)
inline future<T> make_exception_future(E&& e) noexcept {
    return make_exception_future<T>(std::make_exception_ptr(std::forward<E>(e)));
}

/// Runs this thread's standalone queue until `f` resolves and returns its value (or
/// rethrows its exception). For plain main() and tests; not for reactor threads.
/// Throws sync_wait_deadlock when nothing is left to run and `f` is still pending.
template <typename T>
T sync_wait(future<T> f) {
    while (!f.available()) {
        if (run_pending_tasks() == 0 && !f.available()) {
            throw sync_wait_deadlock();
        }
    }
    return f.get();
}

extern template class future<void>;
extern template class promise<void>;

}  // namespace reef

#include <reef/core/detail/future_coroutine.hh>
