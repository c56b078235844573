// The reactor of one shard: task queues per scheduling group, the run loop, the
// pollers that feed it (backend completions, timers, cross-shard queues) and the
// sleep/wake protocol. Private to the reactor module.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <reef/core/detail/task_queue.hh>
#include <reef/core/scheduler.hh>
#include <reef/core/task.hh>
#include <reef/reactor/config.hh>

#include "backend.hh"

namespace reef::detail {

/// Something the loop asks for work on every iteration: the backend's completions,
/// expired timers, cross-shard messages.
class poller {
public:
    virtual ~poller() = default;
    /// Does the work that is there; true if there was any.
    virtual bool poll() = 0;
    /// Called before the shard sleeps: false if work is pending (do not sleep). A
    /// poller whose work arrives from other threads announces here that wakes are
    /// wanted, and checks once more for work after doing so.
    virtual bool try_enter_sleep() { return true; }
    /// Called after the shard woke up.
    virtual void exit_sleep() {}
    /// The earliest time this poller has work, for the sleep timeout.
    virtual std::chrono::steady_clock::time_point next_deadline() const {
        return std::chrono::steady_clock::time_point::max();
    }
};

/// Counters of one shard, exported as metrics.
struct reactor_stats {
    std::uint64_t tasks_run = 0;
    std::uint64_t polls = 0;
    std::uint64_t sleeps = 0;
    std::uint64_t preemptions = 0;
    std::uint64_t stalls = 0;
    std::uint64_t smp_messages_sent = 0;      // cross-shard calls sent (smp.cc)
    std::uint64_t smp_messages_received = 0;  // cross-shard calls received (smp.cc)
};

class reactor_impl final : public scheduler_hook {
public:
    reactor_impl(unsigned shard, const reactor_config& cfg);
    ~reactor_impl();
    reactor_impl(const reactor_impl&) = delete;

    void schedule(task* t) noexcept override;
    void schedule_urgent(task* t) noexcept override;

    /// Installs this reactor on the calling thread (scheduler hook, preemption
    /// monitor). Must be the thread that will call run().
    void bind_to_thread();
    void unbind_from_thread() noexcept;

    /// Runs the loop until request_stop(); then runs what is queued and returns.
    void run();
    /// Runs the loop from inside a task of this shard until `done()` is true: for
    /// drivers that must block their own task while others run (benchmark harnesses).
    /// The calling task is not in a queue, so it is not re-entered.
    void run_until(bool (*done)(void*), void* arg);

    /// Ends run() after the current iteration. Any thread.
    void request_stop() noexcept;
    bool stopping() const noexcept { return stop_.load(std::memory_order_relaxed); }

    /// Interrupts the backend's sleep if the shard sleeps. Any thread.
    void wake() noexcept;

    void add_poller(poller* p);
    void remove_poller(poller* p) noexcept;

    backend& io() noexcept { return *backend_; }
    unsigned shard() const noexcept { return shard_; }
    const reactor_config& config() const noexcept { return cfg_; }
    reactor_stats& stats() noexcept { return stats_; }

    /// True when tasks are queued in any group.
    bool have_tasks() const noexcept { return active_groups_ != 0; }

    /// Brackets application code a poller runs inline (smp messages): the quota timer
    /// runs (it is otherwise armed only when tasks are queued) and its ticks count the
    /// code as a batch of tasks.
    void begin_inline_work() noexcept {
        start_quota_timer();
        in_batch_.store(true, std::memory_order_relaxed);
    }
    void end_inline_work() noexcept { in_batch_.store(false, std::memory_order_relaxed); }

    /// Signal context (the quota tick, on this thread): notes whether the tick found a
    /// batch of tasks running.
    void on_quota_tick() noexcept {
        preempt.tail.fetch_add(1, std::memory_order_relaxed);
        if (in_batch_.load(std::memory_order_relaxed)) {
            tick_in_batch_.store(true, std::memory_order_relaxed);
        } else {
            tick_outside_batch_.store(true, std::memory_order_relaxed);
        }
    }

    /// CPU time (ns of wall time while running tasks) used by group `id` so far.
    std::uint64_t group_runtime_ns(unsigned id) const noexcept { return groups_[id].runtime_ns; }
    std::uint64_t group_tasks_run(unsigned id) const noexcept { return groups_[id].tasks_run; }

    /// The preemption counters need_preempt() reads; the quota timer's signal handler
    /// moves `tail`.
    preemption_monitor preempt;

    // State of the per-shard services (shard_services.hh); each is owned by its
    // service's start/stop functions.
    class timer_service* timers = nullptr;
    class stall_detector* stalls = nullptr;
    class alien_queue* alien = nullptr;
    class reactor_metrics* metrics = nullptr;
    class memory_service* memory = nullptr;

private:
    struct group {
        task_queue queue;
        std::uint64_t vruntime = 0;  // runtime scaled by 1/shares
        std::uint64_t runtime_ns = 0;
        std::uint64_t tasks_run = 0;
    };

    void run_some_tasks();
    bool poll_once();
    void idle();
    void mark_active(unsigned id) noexcept;

    // The task-quota timer: off, ticking every 8 quotas (relaxed), or every quota
    // (strict). See reactor.cc.
    enum class quota_mode : std::uint8_t { off, relaxed, strict };
    void set_quota_mode(quota_mode m) noexcept;
    void start_quota_timer() noexcept;
    void stop_quota_timer() noexcept { set_quota_mode(quota_mode::off); }

    unsigned shard_;
    reactor_config cfg_;
    std::unique_ptr<backend> backend_;
    std::vector<poller*> pollers_;
    group groups_[max_scheduling_groups];
    std::uint32_t active_groups_ = 0;  // bit per group with queued tasks
    std::uint64_t min_vruntime_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<bool> sleeping_{false};
    quota_mode quota_mode_ = quota_mode::off;
    bool strict_wanted_ = false;  // a batch ran past the quota: tick every quota
    // Written by the loop and read by the tick's handler, or the other way round; the
    // same thread, so relaxed atomics are enough.
    std::atomic<bool> in_batch_{false};
    std::atomic<bool> tick_in_batch_{false};
    std::atomic<bool> tick_outside_batch_{false};
    void* quota_timer_ = nullptr;  // timer_t; 0 is a valid id, hence the flag below
    bool has_quota_timer_ = false;
    reactor_stats stats_;
};

/// The reactor of this thread, or nullptr.
inline constinit thread_local reactor_impl* tl_reactor = nullptr;

/// The reactor of this thread; throws std::logic_error when there is none.
reactor_impl& this_reactor();

/// Shares of each scheduling group (process-wide; index = group id).
float group_shares(unsigned id) noexcept;

}  // namespace reef::detail
