// The metrics a shard's reactor registers about itself (tasks, polls, sleeps,
// preemptions, stalls, cross-shard messages, per scheduling group), kept behind
// reactor_impl::metrics by reactor_metrics_start(). Private to the reactor module.
#pragma once

#include <vector>

#include <reef/reactor/metrics.hh>

namespace reef::detail {

class reactor_impl;

/// The registrations of one shard's reactor metrics; unregisters them when destroyed.
/// Owner shard only.
class reactor_metrics {
public:
    /// Registers the metrics of `r` on the calling thread's registry, each labelled
    /// with backend=<r's backend name>. `r` must outlive this object.
    explicit reactor_metrics(reactor_impl& r);

private:
    std::vector<metrics::registration> regs_;
};

}  // namespace reef::detail
