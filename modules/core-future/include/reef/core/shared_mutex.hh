// shared_mutex: a readers-writer lock for coroutines on one shard, fair in FIFO order
// (a waiting writer holds back readers that arrive after it).
//   co_await reef::with_shared(mx, [&] { return read_state(); });
//   co_await reef::with_lock(mx, [&] { return update_state(); });
#pragma once

#include <cassert>
#include <cstddef>
#include <utility>

#include <reef/core/detail/intrusive_list.hh>
#include <reef/core/detail/task_alloc.hh>
#include <reef/core/future.hh>

namespace reef {

namespace detail {
// One waiting lock() or lock_shared().
struct shared_mutex_waiter : list_hook {
    promise<> pr;
    bool exclusive;

    explicit shared_mutex_waiter(bool excl) noexcept : exclusive(excl) {}
    static void* operator new(std::size_t n) { return task_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { task_free(p, n); }
};
}  // namespace detail

/// Held by one writer or by any number of readers. Requests are served in arrival
/// order: a reader arriving while a writer waits queues behind it. Owner thread only;
/// not movable. Locking never yields when it can be granted now; otherwise it allocates
/// one waiter node. Unlocking never yields (granted waiters run later). Destroying a
/// shared_mutex with waiters fails them with broken_promise.
class shared_mutex {
public:
    shared_mutex() noexcept = default;
    shared_mutex(const shared_mutex&) = delete;
    shared_mutex& operator=(const shared_mutex&) = delete;
    ~shared_mutex() {
        while (!waiters_.empty()) {
            delete &waiters_.pop_front();
        }
    }

    /// Takes the lock exclusively, waiting for current holders and earlier waiters.
    future<> lock() {
        if (try_lock()) {
            return make_ready_future<>();
        }
        return enqueue(true);
    }

    /// Releases the exclusive lock.
    void unlock() noexcept {
        assert(writer_ && "shared_mutex::unlock() without lock()");
        writer_ = false;
        wake();
    }

    /// Takes the lock shared, waiting while a writer holds it or anyone waits.
    future<> lock_shared() {
        if (try_lock_shared()) {
            return make_ready_future<>();
        }
        return enqueue(false);
    }

    /// Releases one shared lock.
    void unlock_shared() noexcept {
        assert(readers_ > 0 && "shared_mutex::unlock_shared() without lock_shared()");
        if (--readers_ == 0) {
            wake();
        }
    }

    /// Takes the exclusive lock if it is free and nobody waits; never waits.
    bool try_lock() noexcept {
        if (!writer_ && readers_ == 0 && waiters_.empty()) {
            writer_ = true;
            return true;
        }
        return false;
    }

    /// Takes a shared lock if no writer holds it and nobody waits; never waits.
    bool try_lock_shared() noexcept {
        if (!writer_ && waiters_.empty()) {
            ++readers_;
            return true;
        }
        return false;
    }

    /// True while a writer holds the lock.
    bool locked_exclusive() const noexcept { return writer_; }
    /// The number of readers holding the lock.
    std::size_t shared_holders() const noexcept { return readers_; }
    /// The number of queued lock requests.
    std::size_t waiters() const noexcept { return nr_waiters_; }

private:
    future<> enqueue(bool exclusive) {
        auto* w = new detail::shared_mutex_waiter(exclusive);
        auto f = w->pr.get_future();
        waiters_.push_back(*w);
        ++nr_waiters_;
        return f;
    }

    // Grants the head of the queue, and the readers right behind a granted reader.
    void wake() noexcept {
        while (!waiters_.empty() && !writer_) {
            detail::shared_mutex_waiter& w = waiters_.front();
            if (w.exclusive) {
                if (readers_ != 0) {
                    return;
                }
                writer_ = true;
            } else {
                ++readers_;
            }
            waiters_.pop_front();
            --nr_waiters_;
            w.pr.set_value();
            delete &w;
        }
    }

    std::size_t readers_ = 0;
    bool writer_ = false;
    std::size_t nr_waiters_ = 0;
    detail::intrusive_list<detail::shared_mutex_waiter> waiters_;
};

/// Runs `func()` holding `mx` exclusively; unlocks when its future resolves, failed or
/// not (also when func throws). No allocation when the lock is free and func's future
/// is ready.
template <typename Func>
futurize_result_t<Func> with_lock(shared_mutex& mx, Func&& func) {
    return mx.lock().then([&mx, f = std::forward<Func>(func)]() mutable {
        return futurize_invoke(f).finally([&mx] { mx.unlock(); });
    });
}

/// Runs `func()` holding a shared lock on `mx`; unlocks when its future resolves.
template <typename Func>
futurize_result_t<Func> with_shared(shared_mutex& mx, Func&& func) {
    return mx.lock_shared().then([&mx, f = std::forward<Func>(func)]() mutable {
        return futurize_invoke(f).finally([&mx] { mx.unlock_shared(); });
    });
}

}  // namespace reef
