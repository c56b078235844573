// Placeholder: the stall_detector service is being written; until then it does nothing.
#include "shard_services.hh"

namespace reef::detail {

void stall_detector_start(reactor_impl&) {}
void stall_detector_stop(reactor_impl&) noexcept {}

}  // namespace reef::detail
