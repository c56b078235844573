// manual_clock::advance: moves the process-wide manual time and lets every shard
// expire its due manual timers.
#include <reef/reactor/clock.hh>

#include "smp_impl.hh"
#include "timer_service.hh"

namespace reef {

void manual_clock::advance(duration d) noexcept {
    if (d.count() <= 0) {
        return;
    }
    detail::manual_now.fetch_add(d.count(), std::memory_order_acq_rel);
    if (auto* s = detail::tl_timers) {
        s->expire_manual();
    }
    // Other shards look at the manual time at each poll; wake those that sleep.
    for (auto* r : detail::all_reactors()) {
        if (r != detail::tl_reactor) {
            r->wake();
        }
    }
}

}  // namespace reef
