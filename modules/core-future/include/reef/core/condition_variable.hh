// condition_variable: lets coroutines wait until another task signals a change of state.
// Waiters wake in FIFO order; a signal with nobody waiting is not remembered.
//   co_await cv.wait([&] { return !items.empty(); });   // producer: items.push_back(x); cv.signal();
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <reef/core/abort_source.hh>
#include <reef/core/detail/intrusive_list.hh>
#include <reef/core/detail/task_alloc.hh>
#include <reef/core/future.hh>
#include <reef/core/timeout.hh>

namespace reef {

/// The condition variable was broken (broken() without an exception, or destroyed
/// while waited on): its waits fail with this.
struct broken_condition_variable : std::exception {
    const char* what() const noexcept override { return "condition variable is broken"; }
};

/// A timed wait on a condition variable reached its deadline before a signal.
struct condition_variable_timed_out : std::exception {
    const char* what() const noexcept override { return "condition variable timed out"; }
};

class condition_variable;

namespace detail {
// One waiting wait(): lives in the condition variable's FIFO until woken or failed.
struct cv_waiter : list_hook {
    cv_waiter() noexcept = default;
    virtual ~cv_waiter() = default;  // a timed waiter is deleted through this type

    promise<> pr;
    abort_source::subscription sub;  // engaged for wait(abort_source&)

    static void* operator new(std::size_t n) { return task_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { task_free(p, n); }
};

// A wait with a deadline: its timer lives in the node (destroying the node cancels it).
struct cv_timed_waiter final : cv_waiter, timeout_entry {
    explicit cv_timed_waiter(condition_variable& c) noexcept : cv(&c) {}
    void on_timeout() noexcept override;

    condition_variable* cv;
};
}  // namespace detail

/// A condition variable for coroutines on one shard. Owner thread only; not movable
/// (waiters point at it). Signalling never yields: woken waiters run later.
class condition_variable {
public:
    condition_variable() noexcept = default;
    condition_variable(const condition_variable&) = delete;
    condition_variable& operator=(const condition_variable&) = delete;
    /// Fails the remaining waiters with broken_condition_variable.
    ~condition_variable() {
        if (!waiters_.empty()) {
            fail_all(std::make_exception_ptr(broken_condition_variable()));
        }
    }

    /// Waits for the next signal() or broadcast(). Allocates one waiter node. Fails with
    /// the broken() exception (at once when already broken).
    future<> wait() {
        if (ex_) [[unlikely]] {
            return make_exception_future<>(ex_);
        }
        return enqueue().pr.get_future();
    }

    /// Like wait(), and fails with `as`'s abort reason when `as` is aborted first (at
    /// once if it already was). The subscription lives in the waiter node.
    future<> wait(abort_source& as) {
        if (ex_) [[unlikely]] {
            return make_exception_future<>(ex_);
        }
        if (as.abort_requested()) [[unlikely]] {
            return make_exception_future<>(as.abort_requested_exception_ptr());
        }
        detail::cv_waiter& w = enqueue();
        auto f = w.pr.get_future();
        w.sub = as.subscribe([this, &w](const std::exception_ptr& reason) noexcept {
            w.unlink();
            --nr_waiters_;
            w.pr.set_exception(reason);
            delete &w;  // destroys this callback's subscription: touch nothing after
        });
        return f;
    }

    /// Like wait(), and fails with condition_variable_timed_out when no signal came by
    /// `deadline` (a time point of any clock; see timeout_clock). The timer lives in the
    /// waiter node. Fails with timeouts_unavailable at once on a thread without a
    /// timeout_hook (no reactor).
    template <typename Clock, typename Duration>
    future<> wait(std::chrono::time_point<Clock, Duration> deadline) {
        return wait_deadline(detail::to_timeout_deadline(deadline));
    }

    /// Like wait(deadline) with the deadline `timeout` from now.
    template <typename Rep, typename Period>
    future<> wait(std::chrono::duration<Rep, Period> timeout) {
        return wait_deadline(detail::timeout_after(timeout));
    }

    /// Waits until `pred()` is true: checks it now (ready at once, no allocation, when
    /// true), then after every wakeup, waiting again at the back of the line when it is
    /// still false. When it must wait, allocates a coroutine frame plus a waiter node
    /// per wakeup. Fails like wait(), or with what `pred` throws.
    template <typename Pred>
        requires std::predicate<Pred&>
    future<> wait(Pred&& pred) {
        return wait_pred(nullptr, std::nullopt, std::forward<Pred>(pred));
    }

    /// Like wait(pred), and fails with `as`'s abort reason when `as` is aborted first.
    template <typename Pred>
        requires std::predicate<Pred&>
    future<> wait(abort_source& as, Pred&& pred) {
        return wait_pred(&as, std::nullopt, std::forward<Pred>(pred));
    }

    /// Like wait(pred), and fails with condition_variable_timed_out when `pred()` is
    /// still false at `deadline`. Fails with timeouts_unavailable at once on a thread
    /// without a timeout_hook, even when `pred()` is true.
    template <typename Clock, typename Duration, typename Pred>
        requires std::predicate<Pred&>
    future<> wait(std::chrono::time_point<Clock, Duration> deadline, Pred&& pred) {
        return wait_pred(nullptr, detail::to_timeout_deadline(deadline), std::forward<Pred>(pred));
    }

    /// Like wait(deadline, pred) with the deadline `timeout` from now.
    template <typename Rep, typename Period, typename Pred>
        requires std::predicate<Pred&>
    future<> wait(std::chrono::duration<Rep, Period> timeout, Pred&& pred) {
        return wait_pred(nullptr, detail::timeout_after(timeout), std::forward<Pred>(pred));
    }

    /// Wakes the oldest waiter, if any. A signal with no waiter is lost.
    void signal() noexcept {
        if (!waiters_.empty()) {
            wake_one();
        }
    }

    /// Wakes every current waiter, oldest first.
    void broadcast() noexcept {
        while (!waiters_.empty()) {
            wake_one();
        }
    }

    /// Breaks the condition variable: current and later waits fail with
    /// broken_condition_variable.
    void broken() noexcept { broken(std::exception_ptr()); }
    /// Breaks it with `ex` (null means broken_condition_variable).
    void broken(std::exception_ptr ex) noexcept {
        ex_ = ex ? std::move(ex) : std::make_exception_ptr(broken_condition_variable());
        fail_all(ex_);
    }
    /// True once broken.
    bool is_broken() const noexcept { return bool(ex_); }

    /// True while somebody waits.
    bool has_waiters() const noexcept { return nr_waiters_ != 0; }
    /// The number of waiters.
    std::size_t waiters() const noexcept { return nr_waiters_; }

private:
    friend struct detail::cv_timed_waiter;

    future<> wait_deadline(timeout_clock::time_point deadline) {
        if (ex_) [[unlikely]] {
            return make_exception_future<>(ex_);
        }
        if (!current_timeout_hook()) [[unlikely]] {
            return make_exception_future<>(timeouts_unavailable());
        }
        auto* w = new detail::cv_timed_waiter(*this);
        waiters_.push_back(*w);
        ++nr_waiters_;
        auto f = w->pr.get_future();
        w->arm(deadline);  // cannot throw: the hook is there
        return f;
    }

    detail::cv_waiter& enqueue() {
        auto* w = new detail::cv_waiter;
        waiters_.push_back(*w);
        ++nr_waiters_;
        return *w;
    }
    void wake_one() noexcept {
        detail::cv_waiter& w = waiters_.pop_front();
        --nr_waiters_;
        w.pr.set_value();
        delete &w;
    }
    void fail_all(const std::exception_ptr& e) noexcept {
        while (!waiters_.empty()) {
            detail::cv_waiter& w = waiters_.pop_front();
            --nr_waiters_;
            w.pr.set_exception(e);
            delete &w;
        }
    }

    template <typename Pred>
    future<> wait_pred(abort_source* as, std::optional<timeout_clock::time_point> deadline, Pred&& pred) {
        if (ex_) [[unlikely]] {
            return make_exception_future<>(ex_);
        }
        if (as && as->abort_requested()) [[unlikely]] {
            return make_exception_future<>(as->abort_requested_exception_ptr());
        }
        if (deadline && !current_timeout_hook()) [[unlikely]] {
            return make_exception_future<>(timeouts_unavailable());
        }
        try {
            if (pred()) {
                return make_ready_future<>();
            }
        } catch (...) {
            return make_exception_future<>(std::current_exception());
        }
        return wait_until(as, deadline, std::decay_t<Pred>(std::forward<Pred>(pred)));
    }

    template <typename Pred>
    future<> wait_until(abort_source* as, std::optional<timeout_clock::time_point> deadline, Pred pred) {
        do {
            // Take the wakeup as a future, so a failure is forwarded without a throw.
            auto woken = co_await detail::future_awaiter<void, detail::await_mode::as_future>(
                as         ? wait(*as)
                : deadline ? wait_deadline(*deadline)
                           : wait());
            if (woken.failed()) {
                co_await coroutine::exception(woken.get_exception());
            }
            woken.ignore_ready_future();
        } while (!pred());
    }

    detail::intrusive_list<detail::cv_waiter> waiters_;
    std::size_t nr_waiters_ = 0;
    std::exception_ptr ex_;  // set by broken()
};

namespace detail {
inline void cv_timed_waiter::on_timeout() noexcept {
    unlink();
    --cv->nr_waiters_;
    pr.set_exception(std::make_exception_ptr(condition_variable_timed_out()));
    delete this;
}
}  // namespace detail

}  // namespace reef
