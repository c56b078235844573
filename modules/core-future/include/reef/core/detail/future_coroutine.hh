// Coroutine support for future<T>: the promise type of a coroutine returning future<T>
// (its frame is the task that runs it) and the awaiter of co_await on a future.
// Included by future.hh; not a public header of its own.
#pragma once

#include <coroutine>
#include <exception>
#include <utility>

#include <reef/core/future.hh>

namespace reef::coroutine {
/// co_return coroutine::exception(e) (or co_await it, in a coroutine returning
/// future<>) fails the coroutine's future with `e` without throwing.
struct exception {
    std::exception_ptr eptr;
    explicit exception(std::exception_ptr e) noexcept : eptr(std::move(e)) {}

    struct awaiter {
        std::exception_ptr eptr;
        bool await_ready() const noexcept { return false; }
        template <typename P>
        void await_suspend(std::coroutine_handle<P> h) noexcept {
            // Fail the coroutine's future, then end the coroutine: its locals are
            // destroyed as on any other exit, and nothing is thrown.
            h.promise().set_exception(std::move(eptr));
            h.destroy();
        }
        void await_resume() const noexcept {}
    };
    awaiter operator co_await() && noexcept { return awaiter{std::move(eptr)}; }
};

/// Builds a coroutine::exception from an exception object.
template <typename E>
exception make_exception(E&& e) noexcept {
    return exception(std::make_exception_ptr(std::forward<E>(e)));
}
/// co_await coroutine::return_exception(e): fails the coroutine with `e`, no throw.
template <typename E>
exception return_exception(E&& e) noexcept {
    return exception(std::make_exception_ptr(std::forward<E>(e)));
}
}  // namespace reef::coroutine

namespace reef::detail {

// The task that resumes a coroutine of a foreign type (one whose promise is not a task).
class foreign_resume_task final : public task {
public:
    explicit foreign_resume_task(std::coroutine_handle<> h) noexcept : h_(h) {}
    void run_and_dispose() noexcept override {
        auto h = h_;
        delete this;
        h.resume();
    }
    static void* operator new(std::size_t n) { return task_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { task_free(p, n); }

private:
    std::coroutine_handle<> h_;
};

/// The task that resumes coroutine `h` when scheduled: the frame itself when its
/// promise is a task, otherwise a small allocated adapter.
template <typename P>
inline task* resume_task_of(std::coroutine_handle<P> h) {
    if constexpr (std::is_base_of_v<task, P>) {
        return &h.promise();
    } else {
        return new foreign_resume_task(h);
    }
}

template <typename T>
class coroutine_promise_base : public task {
public:
    future<T> get_return_object() noexcept { return promise_.get_future(); }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void unhandled_exception() noexcept { promise_.set_exception(std::current_exception()); }

    void run_and_dispose() noexcept final {
        std::coroutine_handle<coroutine_promise<T>>::from_promise(static_cast<coroutine_promise<T>&>(*this))
            .resume();
    }

    static void* operator new(std::size_t n) { return task_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { task_free(p, n); }

    /// Fails the coroutine's future (used by awaiters that end a coroutine early).
    void set_exception(std::exception_ptr e) noexcept { promise_.set_exception(std::move(e)); }

protected:
    promise<T> promise_;
};

template <typename T>
class coroutine_promise final : public coroutine_promise_base<T> {
public:
    template <typename U = T>
        requires std::is_constructible_v<T, U&&>
    void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        this->promise_.set_value(std::forward<U>(v));
    }
    void return_value(coroutine::exception e) noexcept { this->promise_.set_exception(std::move(e.eptr)); }
};

template <>
class coroutine_promise<void> final : public coroutine_promise_base<void> {
public:
    void return_void() noexcept { this->promise_.set_value(); }
};

/// What co_await on a future<T> does. `Mode` selects what await_resume yields.
enum class await_mode { value, as_future };

template <typename T, await_mode Mode>
class future_awaiter {
public:
    explicit future_awaiter(future<T>&& f) noexcept : f_(std::move(f)) {}
    future_awaiter(const future_awaiter&) = delete;

    bool await_ready() const noexcept { return f_.available() && !need_preempt(); }

    template <typename P>
    void await_suspend(std::coroutine_handle<P> h) {
        task* t = resume_task_of(h);
        if (f_.available()) {
            schedule(t);  // ready, but the task quota is spent: yield first
        } else {
            f_.set_waiter(t);
        }
    }

    auto await_resume() {
        if constexpr (Mode == await_mode::as_future) {
            return std::move(f_);
        } else {
            return f_.get();
        }
    }

private:
    future<T> f_;
};

}  // namespace reef::detail

namespace reef {

template <typename T>
inline auto future<T>::operator co_await() && noexcept {
    return detail::future_awaiter<T, detail::await_mode::value>(std::move(*this));
}

template <typename T>
inline auto future<T>::operator co_await() & noexcept {
    return detail::future_awaiter<T, detail::await_mode::value>(std::move(*this));
}

}  // namespace reef
