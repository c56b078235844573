// queue<T>: a bounded FIFO between producer and consumer coroutines on one shard.
// Producers wait while it is full, consumers while it is empty.
//   reef::queue<int> q(16);
//   co_await q.push_eventually(1);   int v = co_await q.pop_eventually();
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <exception>
#include <optional>
#include <stdexcept>
#include <utility>

#include <reef/core/detail/intrusive_list.hh>
#include <reef/core/detail/task_alloc.hh>
#include <reef/core/future.hh>
#include <reef/core/timeout.hh>

namespace reef {

/// A timed pop_eventually() or push_eventually() reached its deadline first.
struct queue_timed_out : std::exception {
    const char* what() const noexcept override { return "queue wait timed out"; }
};

namespace detail {
template <typename T>
struct queue_pop_waiter : list_hook {
    queue_pop_waiter() noexcept = default;
    virtual ~queue_pop_waiter() = default;  // timed waiters are deleted through this type
    promise<T> pr;
    static void* operator new(std::size_t n) { return task_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { task_free(p, n); }
};
template <typename T>
struct queue_push_waiter : list_hook {
    explicit queue_push_waiter(T&& v) : item(std::move(v)) {}
    virtual ~queue_push_waiter() = default;  // timed waiters are deleted through this type
    promise<> pr;
    T item;  // enters the queue when there is room
    static void* operator new(std::size_t n) { return task_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { task_free(p, n); }
};
// A waiter of either kind (W) whose deadline fails it with queue_timed_out; the timer
// lives in the node, and destroying the node cancels it.
template <typename W>
struct queue_timed_waiter final : W, timeout_entry {
    using W::W;
    void on_timeout() noexcept override {
        this->unlink();
        this->pr.set_exception(std::make_exception_ptr(queue_timed_out()));
        delete this;
    }
};
struct queue_flag_waiter : list_hook {
    promise<> pr;
    static void* operator new(std::size_t n) { return task_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { task_free(p, n); }
};
}  // namespace detail

/// A FIFO of at most max_size() items. Waiting producers and consumers are served in
/// arrival order; an item pushed while a consumer waits goes straight to it, and an
/// item popped from a full queue lets the oldest waiting producer in. Any number of
/// producers and consumers. Owner thread only; not movable (waiters point at it).
/// An operation that must wait allocates one waiter node; otherwise nothing beyond
/// the buffer. After abort(), every operation fails with the abort exception.
/// Destroying a queue with waiters fails them with broken_promise.
template <typename T>
class queue {
public:
    /// A queue holding at most `max_size` items. With 0, every push waits for a pop
    /// (a rendezvous).
    explicit queue(std::size_t max_size) : max_(max_size) {}
    queue(const queue&) = delete;
    queue& operator=(const queue&) = delete;
    ~queue() {
        drop_all(pop_waiters_);
        drop_all(push_waiters_);
        drop_all(not_empty_);
        drop_all(not_full_);
    }

    /// Pushes `v` if there is room (or a consumer waits); returns false, keeping `v`,
    /// when full. Throws the abort exception after abort().
    bool try_push(T&& v) {
        check();
        return deliver(v);
    }
    /// Same as try_push() (the name Seastar users know).
    bool push(T&& v) { return try_push(std::move(v)); }

    /// Pushes `v`, waiting (FIFO) while the queue is full. Fails with the abort
    /// exception after abort(), also while waiting (the item is then dropped).
    future<> push_eventually(T v) {
        if (ex_) [[unlikely]] {
            return make_exception_future<>(ex_);
        }
        if (deliver(v)) {
            return make_ready_future<>();
        }
        auto* w = new detail::queue_push_waiter<T>(std::move(v));
        auto f = w->pr.get_future();
        push_waiters_.push_back(*w);
        wake_all(not_empty_);  // with max_size() == 0 a pop can now proceed
        return f;
    }

    /// Like push_eventually(v), and fails with queue_timed_out (dropping the item) when
    /// it could not push by `deadline` (a time point of any clock; see timeout_clock).
    /// The timer lives in the waiter node. Fails with timeouts_unavailable at once on
    /// a thread without a timeout_hook (no reactor).
    template <typename Clock, typename Duration>
    future<> push_eventually(T v, std::chrono::time_point<Clock, Duration> deadline) {
        return push_until(std::move(v), detail::to_timeout_deadline(deadline));
    }
    /// Like push_eventually(v, deadline) with the deadline `timeout` from now.
    template <typename Rep, typename Period>
    future<> push_eventually(T v, std::chrono::duration<Rep, Period> timeout) {
        return push_until(std::move(v), detail::timeout_after(timeout));
    }

    /// Pops the oldest item if there is one (or a producer waits); nullopt when empty.
    /// Throws the abort exception after abort().
    std::optional<T> try_pop() {
        check();
        if (!has_item()) {
            return std::nullopt;
        }
        return take();
    }

    /// Pops the oldest item. Throws std::logic_error when there is none, and the abort
    /// exception after abort().
    T pop() {
        check();
        if (!has_item()) {
            throw std::logic_error("queue::pop() on an empty queue");
        }
        return take();
    }

    /// Pops the oldest item, waiting (FIFO among consumers) while the queue is empty.
    /// Fails with the abort exception after abort(), also while waiting.
    future<T> pop_eventually() {
        if (ex_) [[unlikely]] {
            return make_exception_future<T>(ex_);
        }
        if (has_item()) {
            return make_ready_future<T>(take());
        }
        auto* w = new detail::queue_pop_waiter<T>;
        auto f = w->pr.get_future();
        pop_waiters_.push_back(*w);
        wake_all(not_full_);  // with max_size() == 0 a push can now proceed
        return f;
    }

    /// Like pop_eventually(), and fails with queue_timed_out when no item came by
    /// `deadline` (a time point of any clock). Fails with timeouts_unavailable at once
    /// on a thread without a timeout_hook (no reactor).
    template <typename Clock, typename Duration>
    future<T> pop_eventually(std::chrono::time_point<Clock, Duration> deadline) {
        return pop_until(detail::to_timeout_deadline(deadline));
    }
    /// Like pop_eventually(deadline) with the deadline `timeout` from now.
    template <typename Rep, typename Period>
    future<T> pop_eventually(std::chrono::duration<Rep, Period> timeout) {
        return pop_until(detail::timeout_after(timeout));
    }

    /// Resolves when a pop would succeed without waiting (at once if it would now).
    /// Resolving does not reserve the item. Fails with the abort exception.
    future<> not_empty() {
        if (ex_) [[unlikely]] {
            return make_exception_future<>(ex_);
        }
        if (has_item()) {
            return make_ready_future<>();
        }
        return flag_wait(not_empty_);
    }

    /// Resolves when a push would succeed without waiting (at once if it would now).
    /// Does not reserve the room. Fails with the abort exception.
    future<> not_full() {
        if (ex_) [[unlikely]] {
            return make_exception_future<>(ex_);
        }
        if (can_push()) {
            return make_ready_future<>();
        }
        return flag_wait(not_full_);
    }

    /// Fails every waiter (producers, consumers, not_empty(), not_full()) and every later
    /// operation with `ex`, and drops the buffered items. Never yields.
    void abort(std::exception_ptr ex) noexcept {
        ex_ = ex ? std::move(ex) : std::make_exception_ptr(std::logic_error("queue aborted"));
        buf_.clear();
        fail_all(pop_waiters_);
        fail_all(push_waiters_);
        fail_all(not_empty_);
        fail_all(not_full_);
    }

    /// The number of buffered items (items of waiting producers not included).
    std::size_t size() const noexcept { return buf_.size(); }
    /// The capacity.
    std::size_t max_size() const noexcept { return max_; }
    /// Changes the capacity; growing it lets waiting producers in. Items beyond a
    /// smaller capacity stay.
    void set_max_size(std::size_t n) {
        max_ = n;
        refill();
    }
    /// True when no item is buffered.
    bool empty() const noexcept { return buf_.empty(); }
    /// True when size() >= max_size().
    bool full() const noexcept { return buf_.size() >= max_; }

private:
    future<> push_until(T&& v, timeout_clock::time_point deadline) {
        if (ex_) [[unlikely]] {
            return make_exception_future<>(ex_);
        }
        if (!current_timeout_hook()) [[unlikely]] {
            return make_exception_future<>(timeouts_unavailable());
        }
        if (deliver(v)) {
            return make_ready_future<>();
        }
        auto* w = new detail::queue_timed_waiter<detail::queue_push_waiter<T>>(std::move(v));
        auto f = w->pr.get_future();
        push_waiters_.push_back(*w);
        w->arm(deadline);  // cannot throw: the hook is there
        wake_all(not_empty_);
        return f;
    }

    future<T> pop_until(timeout_clock::time_point deadline) {
        if (ex_) [[unlikely]] {
            return make_exception_future<T>(ex_);
        }
        if (!current_timeout_hook()) [[unlikely]] {
            return make_exception_future<T>(timeouts_unavailable());
        }
        if (has_item()) {
            return make_ready_future<T>(take());
        }
        auto* w = new detail::queue_timed_waiter<detail::queue_pop_waiter<T>>();
        auto f = w->pr.get_future();
        pop_waiters_.push_back(*w);
        w->arm(deadline);
        wake_all(not_full_);
        return f;
    }

    void check() const {
        if (ex_) [[unlikely]] {
            std::rethrow_exception(ex_);
        }
    }
    bool has_item() const noexcept { return !buf_.empty() || !push_waiters_.empty(); }
    bool can_push() const noexcept { return buf_.size() < max_ || !pop_waiters_.empty(); }

    // Hands `v` to the oldest waiting consumer or buffers it; false (v untouched) when full.
    bool deliver(T& v) {
        if (!pop_waiters_.empty()) {
            auto& w = pop_waiters_.pop_front();
            w.pr.set_value(std::move(v));
            delete &w;
            return true;
        }
        if (buf_.size() < max_) {
            buf_.push_back(std::move(v));
            wake_all(not_empty_);
            return true;
        }
        return false;
    }

    // Removes the oldest item; requires has_item().
    T take() {
        if (buf_.empty()) {
            // Only with max_size() 0 (or after shrinking): take from the oldest producer.
            auto& w = push_waiters_.pop_front();
            T v(std::move(w.item));
            w.pr.set_value();
            delete &w;
            return v;
        }
        T v(std::move(buf_.front()));
        buf_.pop_front();
        refill();
        return v;
    }

    // Moves waiting producers' items in while there is room; wakes not_full() waiters
    // when room is left over.
    void refill() {
        bool added = false;
        while (!push_waiters_.empty() && buf_.size() < max_) {
            auto& w = push_waiters_.pop_front();
            buf_.push_back(std::move(w.item));
            w.pr.set_value();
            delete &w;
            added = true;
        }
        if (added) {
            wake_all(not_empty_);
        }
        if (can_push()) {
            wake_all(not_full_);
        }
    }

    future<> flag_wait(detail::intrusive_list<detail::queue_flag_waiter>& l) {
        auto* w = new detail::queue_flag_waiter;
        auto f = w->pr.get_future();
        l.push_back(*w);
        return f;
    }
    static void wake_all(detail::intrusive_list<detail::queue_flag_waiter>& l) noexcept {
        while (!l.empty()) {
            auto& w = l.pop_front();
            w.pr.set_value();
            delete &w;
        }
    }
    template <typename W>
    void fail_all(detail::intrusive_list<W>& l) noexcept {
        while (!l.empty()) {
            auto& w = l.pop_front();
            w.pr.set_exception(ex_);
            delete &w;
        }
    }
    template <typename W>
    static void drop_all(detail::intrusive_list<W>& l) noexcept {
        while (!l.empty()) {
            delete &l.pop_front();
        }
    }

    std::deque<T> buf_;
    std::size_t max_;
    std::exception_ptr ex_;  // set by abort()
    detail::intrusive_list<detail::queue_pop_waiter<T>> pop_waiters_;
    detail::intrusive_list<detail::queue_push_waiter<T>> push_waiters_;
    detail::intrusive_list<detail::queue_flag_waiter> not_empty_;
    detail::intrusive_list<detail::queue_flag_waiter> not_full_;
};

}  // namespace reef
