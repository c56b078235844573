// heap_allocations() for programs whose malloc and operator new are reef::memory's
// (allocator=reef): the shard's own allocation counter, which counts every block handed
// out on the calling shard (operator new and malloc alike). Replacing operator new here
// is not possible, since the allocator's interposition layer already defines it. Threads
// that are not shards report 0.
#include "bench.hh"

#include <reef/alloc/memory.hh>

namespace reef::bench {

std::uint64_t heap_allocations() noexcept {
    return reef::memory::stats().allocations;
}

}  // namespace reef::bench
