// Coroutine utilities: yielding, awaiting without throwing, failing without throwing,
// awaiting several futures at once, and keeping lambda coroutines alive.
//   co_await reef::coroutine::maybe_yield();
//   auto f = co_await reef::coroutine::as_future(read());   // no throw on failure
//   auto [a, b] = co_await reef::coroutine::all(fetch_a, fetch_b);
#pragma once

#include <coroutine>
#include <exception>
#include <iterator>
#include <optional>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <reef/core/future.hh>

namespace reef::coroutine {

/// Suspends the coroutine and requeues it if the task quota is spent; otherwise does
/// nothing. Long loops that never wait should call it. Never allocates for our
/// coroutines.
class [[nodiscard]] maybe_yield {
public:
    maybe_yield() noexcept = default;
    bool await_ready() const noexcept { return !need_preempt(); }
    template <typename P>
    void await_suspend(std::coroutine_handle<P> h) {
        schedule(detail::resume_task_of(h));
    }
    void await_resume() const noexcept {}
};

/// Awaits a future without throwing: co_await yields the ready future itself, so a
/// failure can be inspected (f.failed(), f.get_exception()) with no exception thrown.
template <typename T>
class [[nodiscard]] as_future {
public:
    explicit as_future(future<T>&& f) noexcept : f_(std::move(f)) {}
    auto operator co_await() && noexcept {
        return detail::future_awaiter<T, detail::await_mode::as_future>(std::move(f_));
    }

private:
    future<T> f_;
};
template <typename T>
as_future(future<T>&&) -> as_future<T>;

/// Awaits a future; on success yields its value, on failure ends the calling coroutine
/// at once with that failure, without throwing (locals are destroyed as on any exit).
/// Only inside coroutines returning reef::future.
template <typename T>
class [[nodiscard]] try_future {
public:
    explicit try_future(future<T>&& f) noexcept : f_(std::move(f)) {}

    class awaiter final : public task {
    public:
        explicit awaiter(future<T>&& f) noexcept : f_(std::move(f)) {}
        awaiter(const awaiter&) = delete;
        bool await_ready() const noexcept { return f_.available() && !f_.failed() && !need_preempt(); }
        template <typename P>
        void await_suspend(std::coroutine_handle<P> h) noexcept {
            static_assert(std::is_base_of_v<task, P>, "try_future needs a coroutine returning reef::future");
            h_ = h;
            fail_ = [](std::coroutine_handle<> hh, std::exception_ptr e) noexcept {
                std::coroutine_handle<P>::from_address(hh.address()).promise().set_exception(std::move(e));
            };
            if (!f_.available()) {
                f_.set_waiter(this);
            } else if (f_.failed()) {
                run_and_dispose();  // ends the coroutine now
            } else {
                schedule(this);  // ready, but the task quota is spent
            }
        }
        T await_resume() {
            if constexpr (std::is_void_v<T>) {
                f_.get();
            } else {
                return f_.get();
            }
        }
        void run_and_dispose() noexcept override {
            if (f_.failed()) {
                fail_(h_, f_.get_exception());
                h_.destroy();  // this awaiter lives in the frame: nothing after this
            } else {
                h_.resume();
            }
        }

    private:
        future<T> f_;
        std::coroutine_handle<> h_;
        void (*fail_)(std::coroutine_handle<>, std::exception_ptr) noexcept = nullptr;
    };

    awaiter operator co_await() && noexcept { return awaiter(std::move(f_)); }

private:
    future<T> f_;
};
template <typename T>
try_future(future<T>&&) -> try_future<T>;

namespace detail {

template <typename A>
auto to_future(A&& a) {
    if constexpr (is_future_v<std::remove_cvref_t<A>>) {
        return std::forward<A>(a);
    } else {
        return futurize_invoke(std::forward<A>(a));
    }
}

template <typename T>
using all_value_t = std::conditional_t<std::is_void_v<T>, std::tuple<>, std::tuple<T>>;

// One waiter per future: counts completions and resumes the coroutine after the last.
// Lives inside the awaiter, inside the coroutine frame: no allocation.
class all_join {
public:
    void arm(unsigned n, task* resume) noexcept {
        pending_ = n;
        resume_ = resume;
    }
    void one_done() noexcept {
        if (--pending_ == 0) {
            schedule(resume_);
        }
    }

private:
    unsigned pending_ = 0;
    task* resume_ = nullptr;
};

template <typename T>
class all_slot final : public task {
public:
    explicit all_slot(future<T>&& f) noexcept : f_(std::move(f)) {}
    all_slot(all_slot&& o) noexcept : task(o.group()), f_(std::move(o.f_)) {}
    void run_and_dispose() noexcept override { join_->one_done(); }
    bool ready() const noexcept { return f_.available(); }
    void wait(all_join* j) noexcept {
        join_ = j;
        f_.set_waiter(this);
    }
    future<T>& fut() noexcept { return f_; }

private:
    future<T> f_;
    all_join* join_ = nullptr;
};

}  // namespace detail

/// Runs several asynchronous operations concurrently and waits for all of them. Each
/// argument is a future or a function returning one. co_await yields a std::tuple of
/// the non-void results (or nothing when every result is void). If any fails, the
/// first failure in argument order is thrown after all have completed; the others are
/// consumed. Allocates nothing beyond the operations themselves.
template <typename... Fs>
class [[nodiscard]] all {
public:
    explicit all(Fs&&... fs) : slots_(detail::all_slot<typename decltype(detail::to_future(std::declval<Fs>()))::value_type>(
                                   detail::to_future(std::forward<Fs>(fs)))...) {}

    class awaiter {
    public:
        explicit awaiter(all&& a) noexcept : slots_(std::move(a.slots_)) {}
        bool await_ready() const noexcept {
            return std::apply([](const auto&... s) { return (s.ready() && ...); }, slots_) && !need_preempt();
        }
        template <typename P>
        void await_suspend(std::coroutine_handle<P> h) {
            task* t = reef::detail::resume_task_of(h);
            unsigned unready = std::apply([](const auto&... s) { return (unsigned(!s.ready()) + ... + 0u); }, slots_);
            if (unready == 0) {
                schedule(t);
                return;
            }
            join_.arm(unready, t);
            std::apply([this](auto&... s) { ((s.ready() ? void() : s.wait(&join_)), ...); }, slots_);
        }
        auto await_resume() {
            std::exception_ptr first;
            std::apply(
                [&](auto&... s) {
                    ((s.fut().failed() ? (first ? s.fut().ignore_ready_future() : void(first = s.fut().get_exception()))
                                       : void()),
                     ...);
                },
                slots_);
            if (first) {
                std::rethrow_exception(std::move(first));
            }
            return std::apply([](auto&... s) { return std::tuple_cat(take(s)...); }, slots_);
        }

    private:
        template <typename T>
        static detail::all_value_t<T> take(detail::all_slot<T>& s) {
            if constexpr (std::is_void_v<T>) {
                s.fut().get();
                return {};
            } else {
                return std::tuple<T>(s.fut().get());
            }
        }

        std::tuple<detail::all_slot<typename decltype(detail::to_future(std::declval<Fs>()))::value_type>...> slots_;
        detail::all_join join_;
    };

    awaiter operator co_await() && noexcept { return awaiter(std::move(*this)); }

private:
    std::tuple<detail::all_slot<typename decltype(detail::to_future(std::declval<Fs>()))::value_type>...> slots_;
};
template <typename... Fs>
all(Fs&&...) -> all<Fs...>;

/// Calls `f` on every element of `range` concurrently and waits for all. Elements whose
/// future is ready at once cost nothing; the unready ones are kept in one vector. Fails
/// with the first failure (in element order) after all have completed.
template <typename Range, typename Func>
class [[nodiscard]] parallel_for_each final {
public:
    parallel_for_each(Range&& range, Func&& f) {
        std::size_t seen = 0;
        for (auto&& e : range) {
            ++seen;
            auto fut = futurize_invoke(f, std::forward<decltype(e)>(e)).discard_result();
            if (fut.available()) {
                if (fut.failed()) {
                    note_failure(fut.get_exception());
                }
                continue;
            }
            if constexpr (std::ranges::sized_range<Range>) {
                if (pending_.empty()) {
                    // Room for every element still to come: one allocation at most.
                    pending_.reserve(std::ranges::size(range) - seen + 1);
                }
            }
            pending_.push_back(std::move(fut));
        }
    }

    class awaiter final : public task {
    public:
        explicit awaiter(parallel_for_each&& p) noexcept : pending_(std::move(p.pending_)), failure_(std::move(p.failure_)) {}
        awaiter(const awaiter&) = delete;
        bool await_ready() noexcept {
            advance();
            return next_ == pending_.size() && !need_preempt();
        }
        template <typename P>
        void await_suspend(std::coroutine_handle<P> h) {
            resume_ = reef::detail::resume_task_of(h);
            if (next_ == pending_.size()) {
                schedule(resume_);
            } else {
                pending_[next_].set_waiter(this);
            }
        }
        void await_resume() {
            if (failure_) {
                std::rethrow_exception(std::move(failure_));
            }
        }
        void run_and_dispose() noexcept override {
            advance();
            if (next_ == pending_.size()) {
                resume_->run_and_dispose();
            } else {
                pending_[next_].set_waiter(this);
            }
        }

    private:
        // Consumes the futures that are ready, in order.
        void advance() noexcept {
            while (next_ < pending_.size() && pending_[next_].available()) {
                auto& f = pending_[next_++];
                if (f.failed()) {
                    if (failure_) {
                        f.ignore_ready_future();
                    } else {
                        failure_ = f.get_exception();
                    }
                }
            }
        }

        std::vector<future<>> pending_;
        std::exception_ptr failure_;
        std::size_t next_ = 0;
        task* resume_ = nullptr;
    };

    awaiter operator co_await() && noexcept { return awaiter(std::move(*this)); }

private:
    void note_failure(std::exception_ptr e) noexcept {
        if (!failure_) {
            failure_ = std::move(e);
        }
    }

    std::vector<future<>> pending_;
    std::exception_ptr failure_;
};
template <typename Range, typename Func>
parallel_for_each(Range&&, Func&&) -> parallel_for_each<Range, Func>;

/// Wraps a lambda coroutine that is awaited immediately (co_await lambda([&] -> future<> {...})):
/// the closure is a temporary that lives until the end of the full expression, so the
/// lambda's captures stay valid for the whole coroutine.
template <typename Func>
class [[nodiscard]] lambda {
public:
    explicit lambda(Func&& f) noexcept : f_(f) {}
    auto operator co_await() && { return f_().operator co_await(); }

private:
    Func& f_;
};
template <typename Func>
lambda(Func&&) -> lambda<Func>;

namespace detail {
template <typename Func, typename... A>
auto invoke_owned(Func f, A... a) -> futurize_result_t<Func&, A&...> {
    // f and a... are parameters, so they live in this coroutine's frame until the
    // coroutine that f started has finished.
    co_return co_await futurize_invoke(f, a...);
}
}  // namespace detail

/// Calls the lambda coroutine `f` with `a...` while keeping the closure (and copies of
/// the arguments) alive until the coroutine it starts finishes. Use it for a lambda
/// coroutine whose future is not awaited at once: captures of a temporary closure would
/// otherwise dangle. Costs one extra coroutine frame.
template <typename Func, typename... A>
auto invoke(Func&& f, A&&... a) {
    return detail::invoke_owned<std::decay_t<Func>, std::decay_t<A>...>(std::forward<Func>(f), std::forward<A>(a)...);
}

}  // namespace reef::coroutine
