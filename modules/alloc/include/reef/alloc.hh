// Umbrella header of the alloc module: the per-shard allocator in namespace reef::memory.
//   #include <reef/alloc.hh>
//   void* p = reef::memory::allocate(128); reef::memory::free(p);
#pragma once

#include <reef/alloc/fwd.hh>
#include <reef/alloc/memory.hh>
