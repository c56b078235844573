// POSIX signals delivered as tasks on shard 0: an async-signal-safe handler records
// the signal and writes an eventfd that shard 0 reads through its reactor backend.
//   reef::handle_signal(SIGHUP, [] { reload_configuration(); });
//   ...
//   co_await reef::stop_signal_handling();   // app_template does this for you
#pragma once

#include <functional>

#include <reef/core/future.hh>

namespace reef {

/// Runs `handler` as a task on shard 0 each time signal `signo` arrives (deliveries
/// that arrive together may be merged into one call, as the kernel does). Replaces the
/// handler registered before for `signo`. From then on shard 0 takes the signal in a
/// handler that only records it and wakes shard 0's reactor; the other shards block it
/// (soon after the call; shards started after app_template blocked it inherit that), so
/// it never interrupts them and never kills the process with its default action. An
/// exception from `handler` is printed on one line to stderr and otherwise ignored.
/// For SIGINT and SIGTERM under app_template, registering replaces the default stop
/// request and the exit on a second signal.
/// Call on shard 0 of running shards (std::logic_error otherwise). Throws
/// std::invalid_argument for signals that cannot be handled this way (SIGKILL,
/// SIGSTOP, fault signals such as SIGSEGV, and the real-time signals, which the
/// reactor uses for its own timers) and std::system_error when the kernel refuses.
/// Allocates; does not yield.
void handle_signal(int signo, std::function<void()> handler);

/// Stops handling every signal registered with handle_signal(): restores their
/// previous dispositions and shard 0's signal mask (signals that arrived and were not
/// yet read are dropped), and resolves once the task reading them has ended.
/// app_template::run() calls it when the application's main function is done; other
/// code that calls handle_signal() must call it before the shards stop. Shard 0 only;
/// never fails; ready at once when nothing is handled. Must not be awaited from inside
/// a signal handler.
future<> stop_signal_handling();

}  // namespace reef
