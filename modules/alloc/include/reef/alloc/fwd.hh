// Forward declarations for the per-shard allocator (reef::memory); no definitions.
//   #include <reef/alloc/fwd.hh>   // then: const reef::memory::statistics& s = ...;
#pragma once

namespace reef::memory {

struct statistics;
struct large_allocation_report;

} // namespace reef::memory
