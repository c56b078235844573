// Starts and stops the per-shard services in a fixed order.
#include "shard_services.hh"

#include "memory_service.hh"

namespace reef::detail {

void start_shard_services(reactor_impl& r) {
    // First: every later service allocates from the shard's own memory.
    memory_start(r);
    try {
        timers_start(r);
    } catch (...) {
        memory_stop(r);
        throw;
    }
    try {
        reactor_metrics_start(r);
        try {
            stall_detector_start(r);
            try {
                alien_start(r);
            } catch (...) {
                stall_detector_stop(r);
                throw;
            }
        } catch (...) {
            reactor_metrics_stop(r);
            throw;
        }
    } catch (...) {
        timers_stop(r);
        memory_stop(r);
        throw;
    }
}

void stop_shard_services(reactor_impl& r) noexcept {
    alien_stop(r);
    stall_detector_stop(r);
    reactor_metrics_stop(r);
    timers_stop(r);
    memory_stop(r);
}

}  // namespace reef::detail
