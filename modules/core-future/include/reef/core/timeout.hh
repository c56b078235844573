// The seam between timed waits (semaphore, condition_variable, queue) and whatever keeps
// time on this thread: a waiter embeds a timeout_entry, and the timeout_hook installed on
// the thread (the reactor installs one per shard) arms and cancels it.
//   struct my_wait : reef::timeout_entry { void on_timeout() noexcept override { fail(); } };
//   w.arm(reef::timeout_clock::now() + 10ms);   // throws timeouts_unavailable without a hook
#pragma once

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace reef {

/// The clock of every timed wait in core-future. Deadlines of other clocks are
/// converted by their distance from that clock's now().
using timeout_clock = std::chrono::steady_clock;

/// A timed wait was started on a thread that has no timeout_hook: timeouts need a
/// reactor (or another hook) to keep time.
struct timeouts_unavailable : std::logic_error {
    timeouts_unavailable()
        : std::logic_error("timed waits need a reactor: no timeout hook is installed on this thread") {}
};

class timeout_entry;

/// Keeps time for timed waits on one thread. The reactor installs one per shard (see
/// set_timeout_hook()); tests may install their own.
class timeout_hook {
public:
    /// Arms `e` (not armed) to expire at `deadline`: later the hook calls e.expire()
    /// once, from a task of the scheduling group current now, unless cancel(e) comes
    /// first. Past deadlines expire at the next opportunity, never inside arm(). Uses
    /// e.hook_storage() for its bookkeeping; must not allocate per call.
    virtual void arm(timeout_entry& e, timeout_clock::time_point deadline) noexcept = 0;
    /// Disarms the armed entry `e`: expire() will not be called.
    virtual void cancel(timeout_entry& e) noexcept = 0;

protected:
    ~timeout_hook() = default;
};

namespace detail {
inline constinit thread_local timeout_hook* tl_timeout_hook = nullptr;
}  // namespace detail

/// Installs `h` as this thread's timeout hook (nullptr: none) and returns the previous
/// one. Entries armed on the previous hook stay armed on it.
inline timeout_hook* set_timeout_hook(timeout_hook* h) noexcept {
    return std::exchange(detail::tl_timeout_hook, h);
}

/// The timeout hook of this thread, or nullptr.
inline timeout_hook* current_timeout_hook() noexcept {
    return detail::tl_timeout_hook;
}

/// A one-shot timeout embedded in a waiter: derive from it and override on_timeout().
/// Owner thread only; not movable. Destroying an armed entry cancels it. Never
/// allocates.
class timeout_entry {
public:
    /// Bytes a hook may use inside each entry (the reactor keeps its timer node there).
    static constexpr std::size_t hook_storage_size = 64;

    timeout_entry() noexcept = default;
    timeout_entry(const timeout_entry&) = delete;
    timeout_entry& operator=(const timeout_entry&) = delete;

    /// Arms the entry (which must not be armed) on this thread's hook. Throws
    /// timeouts_unavailable when the thread has no hook.
    void arm(timeout_clock::time_point deadline) {
        timeout_hook* h = detail::tl_timeout_hook;
        if (!h) [[unlikely]] {
            throw timeouts_unavailable();
        }
        h->arm(*this, deadline);
        hook_ = h;
    }

    /// Disarms the entry; returns whether it was armed. on_timeout() will not be called.
    bool cancel() noexcept {
        if (timeout_hook* h = std::exchange(hook_, nullptr)) {
            h->cancel(*this);
            return true;
        }
        return false;
    }

    /// True between arm() and expiry or cancel().
    bool armed() const noexcept { return hook_ != nullptr; }

    /// For the hook: the deadline passed. Marks the entry disarmed, then calls
    /// on_timeout() (which may destroy the entry).
    void expire() noexcept {
        hook_ = nullptr;
        on_timeout();
    }

    /// For the hook: storage for its bookkeeping while the entry is armed.
    void* hook_storage() noexcept { return storage_; }

protected:
    /// Cancels the entry if it is armed.
    ~timeout_entry() { cancel(); }

    /// The deadline passed. Runs as (part of) a task; must not throw; may destroy the
    /// object that embeds the entry.
    virtual void on_timeout() noexcept = 0;

private:
    timeout_hook* hook_ = nullptr;
    alignas(std::max_align_t) unsigned char storage_[hook_storage_size];
};

namespace detail {
/// `tp` as a deadline of timeout_clock: itself for timeout_clock (and clocks that share
/// its time_point), otherwise timeout_clock::now() plus its distance from Clock::now().
template <typename Clock, typename Duration>
timeout_clock::time_point to_timeout_deadline(std::chrono::time_point<Clock, Duration> tp) noexcept {
    if constexpr (std::is_same_v<Clock, timeout_clock>) {
        return std::chrono::time_point_cast<timeout_clock::duration>(tp);
    } else {
        auto left = std::chrono::duration_cast<timeout_clock::duration>(tp - Clock::now());
        return timeout_clock::now() + left;
    }
}

/// Now plus `d` as a deadline of timeout_clock (saturating for very long durations).
template <typename Rep, typename Period>
timeout_clock::time_point timeout_after(std::chrono::duration<Rep, Period> d) noexcept {
    auto now = timeout_clock::now();
    using D = timeout_clock::duration;
    if (d >=
        std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(D::max() - now.time_since_epoch())) {
        return timeout_clock::time_point::max();
    }
    return now + std::chrono::duration_cast<D>(d);
}
}  // namespace detail

}  // namespace reef
