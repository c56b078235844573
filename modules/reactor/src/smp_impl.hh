// Starting and stopping the shards, and the queues between them. Private to the reactor
// module; app_template and the test runner call run_shards().
#pragma once

#include <functional>
#include <vector>

#include <reef/core/future.hh>
#include <reef/reactor/config.hh>

namespace reef::detail {

class reactor_impl;

/// Starts cfg.count shards (the calling thread becomes shard 0), runs `main` on shard 0
/// and, when its future resolves, stops every shard and joins their threads. Returns
/// main's value; rethrows its exception after the shards stopped. Throws
/// std::invalid_argument for an impossible configuration (more shards than CPUs given,
/// an unknown backend) and std::system_error when a thread cannot be started or pinned.
int run_shards(const smp_config& cfg, std::function<future<int>()> main);

/// The reactors of all shards while run_shards() runs (index = shard id).
const std::vector<reactor_impl*>& all_reactors() noexcept;

/// The CPUs the shards would run on for `cfg` (the --cpuset list, or every CPU this
/// process may use, ordered so that shards fill distinct cores first).
std::vector<unsigned> shard_cpus(const smp_config& cfg);

}  // namespace reef::detail
