// The scheduler hook: where tasks go when they become runnable, the cooperative
// preemption check, and a standalone run loop for programs and tests without a reactor.
//   int v = reef::sync_wait(compute());   // runs queued tasks until compute() resolves
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include <reef/core/task.hh>

namespace reef {

/// Receives runnable tasks. The reactor installs one per shard; without one, tasks go
/// to this thread's standalone run queue (see run_pending_tasks()).
class scheduler_hook {
public:
    /// Queues `t` at the back of its group's queue. Called on the owner thread only.
    virtual void schedule(task* t) noexcept = 0;
    /// Queues `t` to run before other queued tasks of its group.
    virtual void schedule_urgent(task* t) noexcept = 0;

protected:
    ~scheduler_hook() = default;
};

namespace detail {

inline constinit thread_local scheduler_hook* tl_scheduler = nullptr;

void schedule_standalone(task* t) noexcept;
void schedule_standalone_urgent(task* t) noexcept;

/// Two counters the preemption check compares. The reactor moves `tail` (or points the
/// check at its I/O completion ring) when the task quota expires or work arrives.
struct preemption_monitor {
    std::atomic<std::uint32_t> head{0};
    std::atomic<std::uint32_t> tail{0};
};

inline constinit const preemption_monitor never_preempt_monitor{};

// Tasks run on this thread so far, by whichever loop runs them (owner thread only).
inline constinit thread_local std::uint64_t tl_tasks_run = 0;
inline constinit thread_local const preemption_monitor* tl_preempt = &never_preempt_monitor;

}  // namespace detail

/// Installs `hook` as this thread's scheduler and returns the previous one (nullptr
/// means the standalone run queue). Owner thread only.
scheduler_hook* set_scheduler(scheduler_hook* hook) noexcept;

/// Points need_preempt() at `m` (nullptr: never preempt). Returns the previous monitor.
const detail::preemption_monitor* set_preemption_monitor(const detail::preemption_monitor* m) noexcept;

/// Queues a runnable task on this thread's scheduler. Never allocates beyond the queue.
inline void schedule(task* t) noexcept {
    if (auto* s = detail::tl_scheduler) [[likely]] {
        s->schedule(t);
    } else {
        detail::schedule_standalone(t);
    }
}

/// Queues a task ahead of the others of its group.
inline void schedule_urgent(task* t) noexcept {
    if (auto* s = detail::tl_scheduler) [[likely]] {
        s->schedule_urgent(t);
    } else {
        detail::schedule_standalone_urgent(t);
    }
}

/// True when the running task should yield: its quota is spent or I/O is waiting.
/// Two relaxed loads; always false without a reactor.
inline bool need_preempt() noexcept {
    const auto* m = detail::tl_preempt;
    return m->head.load(std::memory_order_relaxed) != m->tail.load(std::memory_order_relaxed);
}

/// Number of tasks run on this thread so far (standalone loop or reactor). Benchmarks
/// use it to count tasks per operation.
inline std::uint64_t tasks_run() noexcept {
    return detail::tl_tasks_run;
}

/// Runs the standalone queue of this thread until it is empty. Returns the number of
/// tasks run. Only for threads without a scheduler hook.
std::size_t run_pending_tasks();

/// Number of tasks waiting in this thread's standalone queue.
std::size_t pending_tasks() noexcept;

}  // namespace reef
