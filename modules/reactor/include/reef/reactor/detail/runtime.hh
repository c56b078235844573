// Low-level control of the shards, for embedders, test runners and benchmark drivers.
// Applications use app_template instead.
//   int rc = reef::detail::start_shards(cfg, [] { return run_app(); });
#pragma once

#include <functional>
#include <string_view>

#include <reef/core/future.hh>
#include <reef/reactor/config.hh>

namespace reef::detail {

/// Starts cfg.count shards (the calling thread becomes shard 0), runs `main` as the
/// first task of shard 0, stops every shard when its future resolves and returns its
/// value (rethrowing its failure). Throws std::invalid_argument for an impossible
/// configuration and std::system_error when a thread cannot be started or pinned.
int start_shards(const smp_config& cfg, std::function<future<int>()> main);

/// From inside a task of a shard: runs the shard's loop until `done(arg)` is true. The
/// calling task blocks meanwhile (it is not re-entered). For drivers only.
void run_loop_until(bool (*done)(void* arg), void* arg);

/// The name of the backend of the calling shard's reactor.
std::string_view current_backend_name();

}  // namespace reef::detail
