// The timers of one shard: a deadline heap per clock, the tasks that run expired
// timers' callbacks (one per scheduling group), the lowres clock's refresh, and the
// timeout hook core-future's timed waits use. Private to the reactor module.
#pragma once

#include <time.h>

#include <cstdint>
#include <vector>

#include <reef/core/task.hh>
#include <reef/core/timeout.hh>
#include <reef/reactor/timer.hh>

#include "reactor_impl.hh"

namespace reef::detail {

/// A binary min-heap of timers ordered by (deadline, arm sequence), each timer knowing
/// its index so that it can leave from the middle in O(log n).
class timer_heap {
public:
    bool empty() const noexcept { return heap_.empty(); }
    std::size_t size() const noexcept { return heap_.size(); }
    /// The earliest timer. Requires !empty().
    timer_base* top() const noexcept { return heap_.front(); }
    void push(timer_base& t);
    /// Removes `t`, which is in this heap.
    void erase(timer_base& t) noexcept;
    /// Removes and returns the earliest timer. Requires !empty().
    timer_base& pop() noexcept;
    /// `to` takes the slot of `from`.
    void replace(timer_base& from, timer_base& to) noexcept;
    /// Forgets every timer (each is marked not queued).
    void clear() noexcept;
    void reserve(std::size_t n) { heap_.reserve(n); }

private:
    static bool earlier(const timer_base* a, const timer_base* b) noexcept {
        return a->deadline_ < b->deadline_ || (a->deadline_ == b->deadline_ && a->seq_ < b->seq_);
    }
    void place(timer_base* t, std::size_t i) noexcept {
        heap_[i] = t;
        t->index_ = static_cast<std::uint32_t>(i);
    }
    void sift_up(std::size_t i) noexcept;
    void sift_down(std::size_t i) noexcept;

    std::vector<timer_base*> heap_;
};

/// Runs the callbacks of expired timers of one scheduling group, in expiry order, as
/// one task (requeued when the task quota runs out). Lives in timer_service.
class timer_dispatch final : public task {
public:
    timer_dispatch() noexcept = default;
    void run_and_dispose() noexcept override;

    intrusive_list<timer_base> expired;  // owner shard only
    bool queued = false;                 // in the reactor's queue
};

/// core-future's timeout_hook on top of this shard's steady-clock timers (the timer
/// node lives in the entry's hook storage). One stateless instance for the process, so
/// that an entry cancelled after its shard stopped touches no freed memory.
timeout_hook& reactor_timeout_hook() noexcept;

/// Everything timers need on one shard; reactor_impl::timers points at it.
class timer_service final : public poller {
public:
    explicit timer_service(reactor_impl& r);
    ~timer_service() override;
    timer_service(const timer_service&) = delete;

    void arm(timer_base& t, std::int64_t deadline, std::int64_t period);
    void cancel(timer_base& t) noexcept;
    void move(timer_base& to, timer_base& from) noexcept;

    /// Expires the manual timers due at the current manual time; true if any.
    bool expire_manual() noexcept;

    bool poll() override;
    bool try_enter_sleep() override;
    void exit_sleep() override;
    std::chrono::steady_clock::time_point next_deadline() const override;

    reactor_impl& reactor() noexcept { return r_; }

private:
    bool expire(timer_heap& h, std::int64_t now) noexcept;
    void set_tick(bool on) noexcept;

    reactor_impl& r_;
    timer_heap heaps_[timer_clock_count];
    std::uint64_t seq_ = 0;
    timer_dispatch dispatch_[max_scheduling_groups];
    timer_t tick_{};  // the lowres clock's 1 ms tick while the shard is awake
    bool has_tick_ = false;
    bool tick_on_ = false;
};

/// The timer service of this thread, or nullptr.
inline constinit thread_local timer_service* tl_timers = nullptr;

/// Sets this thread's lowres reading to steady_clock::now(), never moving it back.
/// Async-signal-safe.
void refresh_lowres_clock() noexcept;

}  // namespace reef::detail
