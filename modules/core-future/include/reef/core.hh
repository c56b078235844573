// Everything in core-future: futures, coroutines, combinators, synchronization, streams.
// Applications may include this; library code should include the headers it uses.
//   #include <reef/core.hh>
//   int main() { return reef::sync_wait(reef::make_ready_future<int>(0)); }
#pragma once

#include <reef/core/exceptions.hh>
#include <reef/core/future.hh>
#include <reef/core/scheduler.hh>
#include <reef/core/task.hh>

#include <reef/core/coroutine.hh>
#include <reef/core/generator.hh>

#include <reef/core/defer.hh>
#include <reef/core/do_with.hh>
#include <reef/core/loop.hh>
#include <reef/core/map_reduce.hh>
#include <reef/core/parallel_for_each.hh>
#include <reef/core/when_all.hh>
#include <reef/core/when_any.hh>

#include <reef/core/abort_source.hh>
#include <reef/core/condition_variable.hh>
#include <reef/core/gate.hh>
#include <reef/core/pipe.hh>
#include <reef/core/queue.hh>
#include <reef/core/semaphore.hh>
#include <reef/core/shared_future.hh>
#include <reef/core/shared_mutex.hh>

#include <reef/core/data_sink.hh>
#include <reef/core/data_source.hh>
#include <reef/core/deleter.hh>
#include <reef/core/input_stream.hh>
#include <reef/core/memory_stream.hh>
#include <reef/core/output_stream.hh>
#include <reef/core/temporary_buffer.hh>
