// The settings of a shard's reactor, filled from the command line by app_template or
// directly by tests and embedders.
//   reef::reactor_config cfg; cfg.backend = "epoll"; cfg.task_quota = 500us;
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace reef {

/// Settings of every shard's reactor.
struct reactor_config {
    /// Backend to use ("io_uring", "epoll", "aio"); empty: the best one compiled in
    /// that works on this kernel.
    std::string backend;
    /// How long tasks run before completions are polled (--task-quota-ms).
    std::chrono::nanoseconds task_quota = std::chrono::microseconds(500);
    /// Never sleep: poll continuously (--poll-mode).
    bool poll_mode = false;
    /// How long an idle shard keeps polling before it sleeps (--idle-poll-time-us).
    std::chrono::microseconds idle_poll_time = std::chrono::microseconds(200);
    /// A task holding a shard longer than this is reported (--blocked-reactor-notify-ms).
    std::chrono::milliseconds blocked_reactor_notify = std::chrono::milliseconds(25);
    /// The machine is shared: do not pin threads and do not spin when idle
    /// (--overprovisioned).
    bool overprovisioned = false;
};

/// Settings of the set of shards.
struct smp_config {
    /// Number of shards (--smp); 0: one per CPU in `cpus` (or per available CPU).
    unsigned count = 0;
    /// CPUs to run on (--cpuset); empty: every CPU this process may use.
    std::vector<unsigned> cpus;
    /// Memory for the shards in bytes (--memory); 0: all but a reserve. Used by the
    /// allocator module when it is linked.
    std::size_t memory = 0;
    /// Allocations of at least this many bytes are reported with a backtrace
    /// (--large-allocation-warning-threshold); 0: never. Needs allocator=reef.
    std::size_t large_allocation_warning_threshold = 0;
    reactor_config reactor;
};

}  // namespace reef
