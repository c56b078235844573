// The reactor's use of the allocator module (src/memory_service.cc). Private to the
// reactor module.
#pragma once

#include <vector>

#include <reef/reactor/config.hh>

namespace reef::detail {

class reactor_impl;

/// True when the reactor was built with allocator=reef.
bool reef_allocator_enabled() noexcept;

/// Called by run_shards() on the calling thread before any shard starts: checks
/// --memory, reserves the shards' ranges the first time (NUMA placement per shard from
/// `cpus`, the CPU of each shard) and sets the large-allocation threshold. Throws
/// std::invalid_argument when --memory leaves a shard too little.
void memory_prepare(const smp_config& cfg, unsigned shards, const std::vector<unsigned>& cpus);

/// Binds the shard thread to its range, caps it at its share of --memory, drains the
/// frees other shards send back from a poller, and registers the memory metrics.
void memory_start(reactor_impl& r);
/// Undoes memory_start(): pending frees are handed back and the range is released.
void memory_stop(reactor_impl& r) noexcept;

}  // namespace reef::detail
