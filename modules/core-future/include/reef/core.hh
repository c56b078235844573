// Everything in core-future: futures, coroutines, combinators, synchronization, streams.
// Prefer the individual headers in library code; this one is for applications.
//   #include <reef/core.hh>
#pragma once

#include <reef/core/future.hh>
#include <reef/core/scheduler.hh>
#include <reef/core/exceptions.hh>
