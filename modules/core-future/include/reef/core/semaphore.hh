// semaphore: a counting semaphore for one shard, with FIFO waiters that can be cancelled,
// and semaphore_units, the RAII holder of units taken from it.
//   reef::semaphore sem(10);   // at most 10 requests in flight:
//   co_await reef::with_semaphore(sem, 1, [&] { return handle(req); });
#pragma once

#include <cassert>
#include <cstddef>
#include <exception>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>

#include <reef/core/abort_source.hh>
#include <reef/core/detail/intrusive_list.hh>
#include <reef/core/detail/task_alloc.hh>
#include <reef/core/future.hh>
#include <reef/core/timeout.hh>

namespace reef {

/// The semaphore was broken (broken() without an exception): its waits fail with this.
struct broken_semaphore : std::exception {
    const char* what() const noexcept override { return "semaphore broken"; }
};

/// A timed wait on a semaphore reached its deadline before it was granted.
struct semaphore_timed_out : std::exception {
    const char* what() const noexcept override { return "semaphore timed out"; }
};

/// A wait was refused at once because the semaphore already had max_waiters() waiters.
struct semaphore_queue_full : std::exception {
    const char* what() const noexcept override { return "semaphore wait queue is full"; }
};

class semaphore;
class semaphore_units;

/// A queued wait on a semaphore: a node of its FIFO, allocated when a wait cannot be
/// granted at once and destroyed by the semaphore when it is granted, failed or
/// cancelled. Derive from semaphore_promise_waiter<T> (not from this class) to attach a
/// cancellation source, as semaphore_abortable_waiter does for abort_source and the
/// reactor does for timeouts; queue it with semaphore::wait_with<W>().
class semaphore_waiter : public detail::list_hook {
public:
    semaphore_waiter(const semaphore_waiter&) = delete;
    semaphore_waiter& operator=(const semaphore_waiter&) = delete;

    /// The units this wait asks for.
    std::size_t units() const noexcept { return units_; }

    /// Removes this waiter from its semaphore's queue, wherever it is, fails its future
    /// with `e` and destroys it. Waiters behind it that now fit are granted. Call only
    /// while queued (a granted or failed waiter no longer exists). Never yields.
    void cancel(std::exception_ptr e) noexcept;

    static void* operator new(std::size_t n) { return detail::task_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { detail::task_free(p, n); }

protected:
    explicit semaphore_waiter(std::size_t units) noexcept : units_(units) {}
    virtual ~semaphore_waiter() = default;

    /// The semaphore this waiter is queued on (set before on_queued()).
    semaphore& owner() const noexcept { return *sem_; }

    /// Called once the waiter is in the queue: arm a cancellation source here. May call
    /// cancel(), which destroys the waiter (then touch nothing after it).
    virtual void on_queued() noexcept {}
    /// The units were taken from the semaphore for this waiter: resolve its future.
    virtual void on_granted() noexcept = 0;
    /// Fail the waiter's future with `e`.
    virtual void on_failed(std::exception_ptr e) noexcept = 0;
    /// False when nobody waits for the result any more (its future was dropped): the
    /// semaphore then drops the waiter instead of granting it units nobody would return.
    virtual bool wanted() const noexcept { return true; }

private:
    friend class semaphore;

    semaphore* sem_ = nullptr;
    std::size_t units_;
};

/// A counting semaphore with FIFO fairness: a wait is granted only when every earlier
/// wait was, so a large wait at the head holds back smaller ones behind it.
/// Owner thread only. Not movable: waiters and units point at it.
class semaphore {
public:
    /// The max_waiters value that means "no limit".
    static constexpr std::size_t unlimited_waiters = std::numeric_limits<std::size_t>::max();

    /// A semaphore with `count` units and room for `max_waiters` queued waits.
    explicit semaphore(std::size_t count, std::size_t max_waiters = unlimited_waiters) noexcept
        : count_(static_cast<std::ptrdiff_t>(count)),
          max_waiters_(max_waiters) {}
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;
    /// Fails the waits still queued with broken_semaphore.
    ~semaphore();

    /// Takes `n` units, waiting (FIFO) until they are available. Ready at once, without
    /// allocating, when no one waits and `n` units are there; otherwise allocates one
    /// waiter node. Fails with the broken() exception, or with semaphore_queue_full when
    /// max_waiters() waits are already queued. A queued wait whose future is dropped
    /// is skipped when it reaches the head of the queue: it takes no units.
    future<> wait(std::size_t n = 1);

    /// Like wait(n), and the wait fails with `as`'s reason when `as` is aborted before
    /// it is granted (at once if `as` was already aborted, even with units available).
    /// Does not allocate beyond wait(n). `as` must outlive the wait.
    future<> wait(abort_source& as, std::size_t n = 1);

    /// Like wait(n), and the wait fails with semaphore_timed_out when it is not granted
    /// by `deadline` (a time point of any clock; see timeout_clock). A wait granted at
    /// once needs no timer. The timer lives in the waiter node: no allocation beyond
    /// wait(n). Fails with timeouts_unavailable on a thread without a timeout_hook (no
    /// reactor), whether or not units are available.
    template <typename Clock, typename Duration>
    future<> wait(std::chrono::time_point<Clock, Duration> deadline, std::size_t n = 1);

    /// Like wait(deadline, n) with the deadline `timeout` from now.
    template <typename Rep, typename Period>
    future<> wait(std::chrono::duration<Rep, Period> timeout, std::size_t n = 1) {
        return wait(detail::timeout_after(timeout), n);
    }

    /// Extension point for cancellable waits: like wait(n), but a queued wait is a `W`
    /// built as W(n, a...), derived from semaphore_promise_waiter<T>, resolving a
    /// future<T> (T is void or semaphore_units). `W` is built only if the wait queues.
    template <typename W, typename... A>
    future<typename W::value_type> wait_with(std::size_t n, A&&... a);

    /// Takes `n` units if no one waits and they are available; never waits. False on a
    /// broken semaphore.
    bool try_wait(std::size_t n = 1) noexcept {
        if (may_proceed(n) && !ex_) {
            count_ -= static_cast<std::ptrdiff_t>(n);
            return true;
        }
        return false;
    }

    /// Returns `n` units and grants the queued waits that now fit, in order. The woken
    /// waiters run later (their tasks are scheduled); never yields, never allocates.
    void signal(std::size_t n = 1) noexcept {
        count_ += static_cast<std::ptrdiff_t>(n);
        if (!waiters_.empty()) {
            wake();
        }
    }

    /// Takes `n` units without waiting, ignoring queued waits; the count may go negative.
    void consume(std::size_t n = 1) noexcept { count_ -= static_cast<std::ptrdiff_t>(n); }

    /// The units available now; negative after consume() took more than there were.
    std::ptrdiff_t available_units() const noexcept { return count_; }

    /// The units available now, or 0 when the count is negative.
    std::size_t current() const noexcept { return count_ > 0 ? static_cast<std::size_t>(count_) : 0; }

    /// The number of queued waits.
    std::size_t waiters() const noexcept { return nr_waiters_; }

    /// Breaks the semaphore: every queued wait fails with broken_semaphore, and so do
    /// later waits. signal() still counts units; try_wait() fails.
    void broken() noexcept;
    /// Breaks the semaphore with `ex` as the failure of queued and later waits.
    void broken(std::exception_ptr ex) noexcept;
    /// Breaks the semaphore with a copy of the exception object `e`.
    template <typename E>
        requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr> &&
                 !std::is_same_v<std::decay_t<E>, std::nullptr_t>)
    void broken(E&& e) noexcept {
        broken(std::make_exception_ptr(std::forward<E>(e)));
    }
    /// True once broken() was called.
    bool is_broken() const noexcept { return bool(ex_); }

    /// Limits the queued waits; waits beyond it fail with semaphore_queue_full. Waits
    /// already queued stay.
    void set_max_waiters(std::size_t n) noexcept { max_waiters_ = n; }
    /// The current limit of queued waits.
    std::size_t max_waiters() const noexcept { return max_waiters_; }

private:
    friend class semaphore_waiter;

    bool may_proceed(std::size_t n) const noexcept {
        return waiters_.empty() && count_ >= 0 && static_cast<std::size_t>(count_) >= n;
    }
    void wake() noexcept;
    void cancel(semaphore_waiter& w, std::exception_ptr e) noexcept;
    void fail_all(const std::exception_ptr& e) noexcept;

    std::ptrdiff_t count_;
    std::size_t nr_waiters_ = 0;
    std::size_t max_waiters_;
    std::exception_ptr ex_;  // set by broken()
    detail::intrusive_list<semaphore_waiter> waiters_;
};

/// Units taken from a semaphore, returned to it when destroyed. Move-only.
class semaphore_units {
public:
    /// Holds nothing.
    semaphore_units() noexcept = default;
    /// Adopts `n` units already taken from `s`.
    semaphore_units(semaphore& s, std::size_t n) noexcept : sem_(&s), n_(n) {}
    semaphore_units(semaphore_units&& o) noexcept : sem_(o.sem_), n_(std::exchange(o.n_, 0)) {}
    /// Returns the units held, then takes over `o`'s.
    semaphore_units& operator=(semaphore_units&& o) noexcept {
        if (this != &o) {
            return_all();
            sem_ = o.sem_;
            n_ = std::exchange(o.n_, 0);
        }
        return *this;
    }
    semaphore_units(const semaphore_units&) = delete;
    semaphore_units& operator=(const semaphore_units&) = delete;
    /// Returns every unit still held.
    ~semaphore_units() { return_all(); }

    /// Returns `n` of the units now and keeps the rest; returns how many are left.
    /// Throws std::invalid_argument when `n` > count().
    std::size_t return_units(std::size_t n);

    /// Returns every unit now.
    void return_all() noexcept {
        if (n_) {
            sem_->signal(std::exchange(n_, 0));
        }
    }

    /// Gives up the units without returning them (they stay taken); returns how many.
    std::size_t release() noexcept { return std::exchange(n_, 0); }

    /// Moves `n` of the units into a new holder. Throws std::invalid_argument when
    /// `n` > count().
    semaphore_units split(std::size_t n);

    /// Takes over `o`'s units. Throws std::invalid_argument when both hold units of
    /// different semaphores.
    void adopt(semaphore_units&& o);

    /// The number of units held.
    std::size_t count() const noexcept { return n_; }
    /// True when units are held.
    explicit operator bool() const noexcept { return n_ != 0; }

private:
    semaphore* sem_ = nullptr;
    std::size_t n_ = 0;
};

/// A semaphore_waiter that resolves a future<T>: future<> for semaphore::wait(), or
/// future<semaphore_units> (holding the granted units) for get_units(). Derive from it
/// to add a cancellation source; override on_queued() to arm it.
template <typename T = void>
class semaphore_promise_waiter : public semaphore_waiter {
    static_assert(std::is_void_v<T> || std::is_same_v<T, semaphore_units>,
                  "a semaphore wait resolves future<> or future<semaphore_units>");

public:
    using value_type = T;

    explicit semaphore_promise_waiter(std::size_t units) noexcept : semaphore_waiter(units) {}

    /// The future of this wait. Called once, by the semaphore.
    future<T> get_future() noexcept { return pr_.get_future(); }

protected:
    void on_granted() noexcept override {
        if constexpr (std::is_void_v<T>) {
            pr_.set_value();
        } else {
            pr_.set_value(semaphore_units(owner(), units()));
        }
    }
    void on_failed(std::exception_ptr e) noexcept override { pr_.set_exception(std::move(e)); }
    bool wanted() const noexcept override { return pr_.has_consumer(); }

private:
    promise<T> pr_;
};

/// A wait that fails with the abort reason of an abort_source. The subscription lives
/// in the waiter node: no allocation beyond it.
template <typename T = void>
class semaphore_abortable_waiter final : public semaphore_promise_waiter<T> {
public:
    semaphore_abortable_waiter(std::size_t units, abort_source& as) noexcept
        : semaphore_promise_waiter<T>(units),
          as_(&as) {}

protected:
    void on_queued() noexcept override {
        sub_ = as_->subscribe([this](const std::exception_ptr& reason) noexcept { this->cancel(reason); });
        if (!sub_) {
            this->cancel(as_->abort_requested_exception_ptr());  // aborted meanwhile
        }
    }

private:
    abort_source* as_;
    abort_source::subscription sub_;
};

/// A wait that fails with semaphore_timed_out at its deadline. The timer is a
/// timeout_entry inside the waiter node: no allocation beyond it.
template <typename T = void>
class semaphore_timed_waiter final : public semaphore_promise_waiter<T>, private timeout_entry {
public:
    semaphore_timed_waiter(std::size_t units, timeout_clock::time_point deadline) noexcept
        : semaphore_promise_waiter<T>(units),
          deadline_(deadline) {}

protected:
    void on_queued() noexcept override {
        try {
            timeout_entry::arm(deadline_);
        } catch (...) {
            semaphore_waiter::cancel(std::current_exception());  // no timeout hook on this thread
        }
    }

private:
    void on_timeout() noexcept override {
        // Still queued: a granted or failed waiter is destroyed, which cancels the timer.
        semaphore_waiter::cancel(std::make_exception_ptr(semaphore_timed_out()));
    }

    timeout_clock::time_point deadline_;
};

namespace detail {
template <typename T>
future<T> semaphore_granted(semaphore& s, std::size_t n) {
    if constexpr (std::is_void_v<T>) {
        return make_ready_future<>();
    } else {
        return make_ready_future<semaphore_units>(s, n);
    }
}
}  // namespace detail

template <typename W, typename... A>
future<typename W::value_type> semaphore::wait_with(std::size_t n, A&&... a) {
    using T = typename W::value_type;
    static_assert(std::is_base_of_v<semaphore_promise_waiter<T>, W>,
                  "wait_with<W>: W must derive from semaphore_promise_waiter<T>");
    if (ex_) [[unlikely]] {
        return make_exception_future<T>(ex_);
    }
    if (may_proceed(n)) [[likely]] {
        count_ -= static_cast<std::ptrdiff_t>(n);
        return detail::semaphore_granted<T>(*this, n);
    }
    if (nr_waiters_ >= max_waiters_) {
        return make_exception_future<T>(semaphore_queue_full());
    }
    W* w;
    try {
        w = new W(n, std::forward<A>(a)...);
    } catch (...) {
        return make_exception_future<T>(std::current_exception());
    }
    future<T> f = w->get_future();
    w->sem_ = this;
    waiters_.push_back(*w);
    ++nr_waiters_;
    static_cast<semaphore_waiter*>(w)->on_queued();  // may cancel (and destroy) w
    return f;
}

inline future<> semaphore::wait(std::size_t n) {
    return wait_with<semaphore_promise_waiter<void>>(n);
}

inline future<> semaphore::wait(abort_source& as, std::size_t n) {
    if (as.abort_requested()) [[unlikely]] {
        return make_exception_future<>(as.abort_requested_exception_ptr());
    }
    return wait_with<semaphore_abortable_waiter<void>>(n, as);
}

template <typename Clock, typename Duration>
future<> semaphore::wait(std::chrono::time_point<Clock, Duration> deadline, std::size_t n) {
    if (!current_timeout_hook()) [[unlikely]] {
        return make_exception_future<>(timeouts_unavailable());
    }
    return wait_with<semaphore_timed_waiter<void>>(n, detail::to_timeout_deadline(deadline));
}

/// Waits for `n` units of `s` and returns them in a holder that gives them back when
/// destroyed. Fails and allocates as semaphore::wait(n) does.
[[nodiscard]] inline future<semaphore_units> get_units(semaphore& s, std::size_t n) {
    return s.wait_with<semaphore_promise_waiter<semaphore_units>>(n);
}

/// Like get_units(s, n), and the wait fails with `as`'s reason if `as` is aborted first.
[[nodiscard]] inline future<semaphore_units> get_units(semaphore& s, std::size_t n, abort_source& as) {
    if (as.abort_requested()) [[unlikely]] {
        return make_exception_future<semaphore_units>(as.abort_requested_exception_ptr());
    }
    return s.wait_with<semaphore_abortable_waiter<semaphore_units>>(n, as);
}

/// Like get_units(s, n), and the wait fails with semaphore_timed_out when it is not
/// granted by `deadline`; fails and allocates as semaphore::wait(deadline, n) does.
template <typename Clock, typename Duration>
[[nodiscard]] future<semaphore_units> get_units(semaphore& s, std::size_t n,
                                                std::chrono::time_point<Clock, Duration> deadline) {
    if (!current_timeout_hook()) [[unlikely]] {
        return make_exception_future<semaphore_units>(timeouts_unavailable());
    }
    return s.wait_with<semaphore_timed_waiter<semaphore_units>>(n, detail::to_timeout_deadline(deadline));
}

/// Like get_units(s, n, deadline) with the deadline `timeout` from now.
template <typename Rep, typename Period>
[[nodiscard]] future<semaphore_units> get_units(semaphore& s, std::size_t n,
                                                std::chrono::duration<Rep, Period> timeout) {
    return get_units(s, n, detail::timeout_after(timeout));
}

/// Takes `n` units of `s` now if semaphore::try_wait(n) would; otherwise nullopt.
[[nodiscard]] inline std::optional<semaphore_units> try_get_units(semaphore& s, std::size_t n) noexcept {
    if (s.try_wait(n)) {
        return semaphore_units(s, n);
    }
    return std::nullopt;
}

/// Takes `n` units of `s` now with semaphore::consume(n) (the count may go negative).
[[nodiscard]] inline semaphore_units consume_units(semaphore& s, std::size_t n) noexcept {
    s.consume(n);
    return semaphore_units(s, n);
}

/// Runs `func()` holding `n` units of `s`, returned when its future resolves, failed or
/// not (also when func throws). Waits as semaphore::wait(n) does; when the wait fails,
/// func is not called and the failure is returned. No allocation when units are there
/// and func's future is ready.
template <typename Func>
futurize_result_t<Func> with_semaphore(semaphore& s, std::size_t n, Func&& func) {
    return get_units(s, n).then([f = std::forward<Func>(func)](semaphore_units u) mutable {
        return futurize_invoke(f).finally([u = std::move(u)] {});
    });
}

}  // namespace reef
