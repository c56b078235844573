// A task is a unit of work the scheduler runs once: continuations and coroutine frames
// are tasks. User code rarely sees them; reef::schedule(t) queues one on this thread.
//   struct my_task final : reef::task { void run_and_dispose() noexcept override { ...; delete this; } };
#pragma once

#include <cstdint>

namespace reef {

/// Identifies the scheduling group a task runs in. Group 0 is the default ("main")
/// group; the reactor creates others with CPU shares. Cheap to copy.
class scheduling_group {
public:
    constexpr scheduling_group() noexcept = default;
    constexpr explicit scheduling_group(unsigned id) noexcept : id_(id) {}
    /// Index of the group, 0 .. max_scheduling_groups-1.
    constexpr unsigned id() const noexcept { return id_; }
    constexpr bool is_main() const noexcept { return id_ == 0; }
    friend constexpr bool operator==(scheduling_group, scheduling_group) noexcept = default;

private:
    unsigned id_ = 0;
};

/// The largest number of scheduling groups a thread may have.
inline constexpr unsigned max_scheduling_groups = 16;

namespace detail {
// The group new tasks are attributed to on this thread (owner thread only).
inline constinit thread_local unsigned tl_current_group = 0;
}  // namespace detail

/// The scheduling group of the task that is running on this thread.
inline scheduling_group current_scheduling_group() noexcept {
    return scheduling_group(detail::tl_current_group);
}

/// A unit of work. run_and_dispose() runs it once and releases it (deletes it, or
/// resumes the coroutine frame that owns it). Tasks are owned by one thread, and a task
/// is in a scheduler queue at most once at a time: schedule it again only after it ran.
class task {
public:
    explicit task(scheduling_group sg = current_scheduling_group()) noexcept
        : group_(static_cast<std::uint16_t>(sg.id())) {}
    task(const task&) = delete;
    task& operator=(const task&) = delete;

    /// Runs the task and releases it. Must not throw.
    virtual void run_and_dispose() noexcept = 0;

    /// The scheduling group the task is queued in when scheduled.
    scheduling_group group() const noexcept { return scheduling_group(group_); }
    /// Moves the task to another group (takes effect the next time it is scheduled).
    void set_group(scheduling_group sg) noexcept { group_ = static_cast<std::uint16_t>(sg.id()); }

protected:
    ~task() = default;

private:
    std::uint16_t group_;
};

}  // namespace reef
