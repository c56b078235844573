// Asynchronous loops: repeat, repeat_until_value, do_until, do_for_each and keep_doing.
// Ready iterations run inline without recursion; a loop allocates one task, once, when an
// iteration does not complete at once (or when it yields because preemption is due).
//   co_await reef::repeat([&] { return ++n == 10 ? stop_iteration::yes : stop_iteration::no; });
#pragma once

#include <exception>
#include <iterator>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>

#include <reef/core/future.hh>

namespace reef {

/// What a repeat() body returns: whether the loop is over.
enum class stop_iteration { no, yes };

namespace detail {

/// The task of a loop whose iteration did not complete at once. It owns the loop body,
/// the future of the iteration in flight and the promise of the loop's result, and is
/// reused for every later iteration: one allocation per loop, whatever its length.
///
/// `Body::step(promise<R>&, future<I>&) noexcept -> bool` consumes the ready future of
/// the previous iteration and either resolves the promise and returns true (the loop is
/// over) or puts the future of the next iteration in its argument and returns false.
template <typename R, typename I, typename Body>
class loop_task final : public task {
public:
    loop_task(Body&& body, future<I>&& fut) noexcept(std::is_nothrow_move_constructible_v<Body>)
        : body_(std::move(body)),
          fut_(std::move(fut)) {}

    /// Takes the result future, then waits for (or schedules) the iteration in flight.
    future<R> start() noexcept {
        future<R> result = pr_.get_future();
        wait_or_schedule();
        return result;
    }

    void run_and_dispose() noexcept override {
        // fut_ is ready here. Each run does at least one step, so that a loop makes
        // progress even when need_preempt() stays true.
        for (;;) {
            if (body_.step(pr_, fut_)) {
                delete this;
                return;
            }
            if (!fut_.available() || need_preempt()) {
                wait_or_schedule();
                return;
            }
        }
    }

    static void* operator new(std::size_t n) { return task_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { task_free(p, n); }

private:
    void wait_or_schedule() noexcept {
        if (fut_.available()) {
            schedule(this);  // ready, but the task quota is spent: yield first
        } else {
            fut_.set_waiter(this);
        }
    }

    promise<R> pr_;
    Body body_;
    future<I> fut_;
};

/// Runs a loop: steps inline while iterations complete at once, and hands the loop over
/// to one loop_task when an iteration is pending or preemption is due. The inline `body`
/// refers to the caller's callables, so that an iteration still pending at hand-over
/// keeps using the caller's object; `body.own()` then moves (or, from an lvalue, copies)
/// them into the task.
template <typename R, typename I, typename Body>
future<R> run_loop(Body body, future<I>&& first) noexcept {
    promise<R> pr;  // resolved in place while the loop stays inline: no allocation
    future<I> fut = std::move(first);
    for (;;) {
        if (body.step(pr, fut)) {
            return pr.get_future();
        }
        if (!fut.available() || need_preempt()) {
            try {
                auto* t = new loop_task<R, I, decltype(body.own())>(body.own(), std::move(fut));
                return t->start();
            } catch (...) {
                // fut, if still here, is dropped: its result is lost with the loop.
                return make_exception_future<R>(std::current_exception());
            }
        }
    }
}

/// Moves the exception of a failed ready future into `pr`. Returns true if it failed.
template <typename R, typename I>
bool forward_failure(promise<R>& pr, future<I>& f) noexcept {
    if (f.failed()) {
        pr.set_exception(f.get_exception());
        return true;
    }
    return false;
}

// Bodies hold their callables as references while inline (A = X& or X&&) and by value in
// the loop task (A = X).
template <typename A>
struct repeat_body {
    A action_;
    repeat_body<std::decay_t<A>> own() { return {std::forward<A>(action_)}; }
    bool step(promise<>& pr, future<stop_iteration>& f) noexcept {
        if (forward_failure(pr, f)) {
            return true;
        }
        if (f.get() == stop_iteration::yes) {
            pr.set_value();
            return true;
        }
        f = futurize_invoke(action_);
        return false;
    }
};

template <typename T, typename A>
struct repeat_until_value_body {
    A action_;
    repeat_until_value_body<T, std::decay_t<A>> own() { return {std::forward<A>(action_)}; }
    bool step(promise<T>& pr, future<std::optional<T>>& f) noexcept {
        if (forward_failure(pr, f)) {
            return true;
        }
        std::optional<T> v = f.get();
        if (v) {
            pr.set_value(std::move(*v));
            return true;
        }
        f = futurize_invoke(action_);
        return false;
    }
};

template <typename S, typename A>
struct do_until_body {
    S stop_;
    A action_;
    do_until_body<std::decay_t<S>, std::decay_t<A>> own() {
        return {std::forward<S>(stop_), std::forward<A>(action_)};
    }
    bool step(promise<>& pr, future<>& f) noexcept {
        if (forward_failure(pr, f)) {
            return true;
        }
        f.ignore_ready_future();
        try {
            if (stop_()) {
                pr.set_value();
                return true;
            }
        } catch (...) {
            pr.set_exception(std::current_exception());
            return true;
        }
        f = futurize_invoke(action_);
        return false;
    }
};

template <typename It, typename Sent, typename F>
struct do_for_each_body {
    It it_;
    Sent end_;
    F func_;
    do_for_each_body<It, Sent, std::decay_t<F>> own() {
        return {std::move(it_), std::move(end_), std::forward<F>(func_)};
    }
    bool step(promise<>& pr, future<>& f) noexcept {
        if (forward_failure(pr, f)) {
            return true;
        }
        f.ignore_ready_future();
        if (it_ == end_) {
            pr.set_value();
            return true;
        }
        // The element is passed before the iterator moves on, as a for loop would.
        f = futurize_invoke(func_, *it_);
        ++it_;
        return false;
    }
};

template <typename A>
struct keep_doing_body {
    A action_;
    keep_doing_body<std::decay_t<A>> own() { return {std::forward<A>(action_)}; }
    bool step(promise<>& pr, future<>& f) noexcept {
        if (forward_failure(pr, f)) {
            return true;
        }
        f.ignore_ready_future();
        f = futurize_invoke(action_);
        return false;
    }
};

template <typename F, typename... A>
concept returns_void_future = std::is_same_v<futurize_result_t<F, A...>, future<>>;

}  // namespace detail

/// Calls `action` (returning stop_iteration or future<stop_iteration>) until it returns
/// stop_iteration::yes. Ready iterations run inline, without recursion; the loop yields
/// when need_preempt() is true. Allocates one task, once, when an iteration is pending
/// or the loop yields, and moves `action` into it (copies it if it is an lvalue). The
/// call pending at that moment ran on the caller's object: a lambda coroutine's captures
/// stay valid if that object outlives the loop (as in `co_await repeat([&] ...)`) and if
/// the move leaves them usable (references do; a moved-from string does not). Fails
/// with the first failure of `action`, thrown or returned; no further call follows.
template <typename AsyncAction>
    requires std::is_invocable_v<AsyncAction&> &&
             std::is_same_v<futurize_result_t<AsyncAction&>, future<stop_iteration>>
future<> repeat(AsyncAction&& action) noexcept {
    using body = detail::repeat_body<AsyncAction&&>;
    return detail::run_loop<void>(body{std::forward<AsyncAction>(action)},
                                  make_ready_future<stop_iteration>(stop_iteration::no));
}

/// Calls `action` (returning std::optional<T> or future<std::optional<T>>) until it
/// returns a value, and resolves with that value. Same execution, allocation and failure
/// contract as repeat().
template <typename AsyncAction>
    requires std::is_invocable_v<AsyncAction&>
auto repeat_until_value(AsyncAction&& action) noexcept {
    using opt = typename futurize_result_t<AsyncAction&>::value_type;
    static_assert(
        requires { typename opt::value_type; } &&
            std::is_same_v<opt, std::optional<typename opt::value_type>>,
        "repeat_until_value() takes a function returning std::optional<T> or a future of it");
    using T = typename opt::value_type;
    using body = detail::repeat_until_value_body<T, AsyncAction&&>;
    return detail::run_loop<T>(body{std::forward<AsyncAction>(action)}, make_ready_future<opt>(std::nullopt));
}

/// Calls `stop_cond()` before each iteration and `action()` (returning void or future<>)
/// while it is false. Same execution and allocation contract as repeat(). Fails with the
/// first failure of `action` or an exception thrown by `stop_cond`.
template <typename StopCond, typename AsyncAction>
    requires std::is_invocable_r_v<bool, StopCond&> && detail::returns_void_future<AsyncAction&>
future<> do_until(StopCond&& stop_cond, AsyncAction&& action) noexcept {
    using body = detail::do_until_body<StopCond&&, AsyncAction&&>;
    return detail::run_loop<void>(body{std::forward<StopCond>(stop_cond), std::forward<AsyncAction>(action)},
                                  make_ready_future<>());
}

/// Calls `func(*it)` (returning void or future<>) for each element of [begin, end), one
/// after the other: the next call starts when the previous future resolves. Same
/// execution and allocation contract as repeat(); the elements must stay alive until the
/// returned future resolves. Fails with the first failure; later elements are skipped.
template <std::input_iterator Iterator, std::sentinel_for<Iterator> Sentinel, typename Func>
    requires detail::returns_void_future<Func&, std::iter_reference_t<Iterator>>
future<> do_for_each(Iterator begin, Sentinel end, Func&& func) noexcept {
    using body = detail::do_for_each_body<Iterator, Sentinel, Func&&>;
    return detail::run_loop<void>(body{std::move(begin), std::move(end), std::forward<Func>(func)},
                                  make_ready_future<>());
}

/// do_for_each() over a range, which must stay alive until the returned future resolves
/// (so an rvalue range must be a view, such as std::views::iota).
template <std::ranges::input_range Range, typename Func>
    requires std::ranges::borrowed_range<Range> &&
             detail::returns_void_future<Func&, std::ranges::range_reference_t<Range>>
future<> do_for_each(Range&& range, Func&& func) noexcept {
    return do_for_each(std::ranges::begin(range), std::ranges::end(range), std::forward<Func>(func));
}

/// Calls `action` (returning void or future<>) again and again until it fails, and
/// fails with that failure. Same execution and allocation contract as repeat().
template <typename AsyncAction>
    requires detail::returns_void_future<AsyncAction&>
future<> keep_doing(AsyncAction&& action) noexcept {
    using body = detail::keep_doing_body<AsyncAction&&>;
    return detail::run_loop<void>(body{std::forward<AsyncAction>(action)}, make_ready_future<>());
}

}  // namespace reef
