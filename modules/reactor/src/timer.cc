// Placeholder: the timers service is being written; until then it does nothing.
#include "shard_services.hh"

namespace reef::detail {

void timers_start(reactor_impl&) {}
void timers_stop(reactor_impl&) noexcept {}

}  // namespace reef::detail
