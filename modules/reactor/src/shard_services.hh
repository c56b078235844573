// Per-shard services the reactor starts on each shard thread, after the reactor is
// bound and before the first task runs, and stops after the loop ends (in reverse
// order). Each service keeps its state behind the pointer reserved for it in
// reactor_impl. Private to the reactor module.
#pragma once

namespace reef::detail {

class reactor_impl;

/// Timers of every clock and the lowres clock's updates (src/timer.cc).
void timers_start(reactor_impl& r);
void timers_stop(reactor_impl& r) noexcept;

/// Reactor metrics: tasks run, polls, sleeps, tasks per group, cross-shard messages,
/// stalls (src/metrics.cc).
void reactor_metrics_start(reactor_impl& r);
void reactor_metrics_stop(reactor_impl& r) noexcept;

/// The stall detector (src/stall_detector.cc).
void stall_detector_start(reactor_impl& r);
void stall_detector_stop(reactor_impl& r) noexcept;

/// The queue that threads outside the shards submit work through (src/alien.cc).
void alien_start(reactor_impl& r);
void alien_stop(reactor_impl& r) noexcept;

// The shard's memory (binding to its reef::memory range, remote-free draining, memory
// metrics) starts first and stops last: memory_start/memory_stop in memory_service.hh.

/// Starts every service in order; on failure, stops those already started and rethrows.
void start_shard_services(reactor_impl& r);
/// Stops every service in reverse order.
void stop_shard_services(reactor_impl& r) noexcept;

}  // namespace reef::detail
