// Everything in the reactor module: shards, cross-shard calls, sharded services, timers,
// scheduling groups, file descriptors, the application bootstrap, logging and metrics.
// Applications may include this; library code should include the headers it uses.
//   #include <reef/reactor.hh>
//   int main(int argc, char** argv) { reef::app_template app; return app.run(argc, argv, [] { return reef::make_ready_future<>(); }); }
#pragma once

#include <reef/core.hh>

#include <reef/reactor/alien.hh>
#include <reef/reactor/app_template.hh>
#include <reef/reactor/clock.hh>
#include <reef/reactor/config.hh>
#include <reef/reactor/foreign_ptr.hh>
#include <reef/reactor/log.hh>
#include <reef/reactor/metrics.hh>
#include <reef/reactor/options.hh>
#include <reef/reactor/pollable_fd.hh>
#include <reef/reactor/scheduling_group.hh>
#include <reef/reactor/sharded.hh>
#include <reef/reactor/signals.hh>
#include <reef/reactor/sleep.hh>
#include <reef/reactor/smp.hh>
#include <reef/reactor/timer.hh>
#include <reef/reactor/with_timeout.hh>
