// Placeholder: the reactor_metrics service is being written; until then it does nothing.
#include "shard_services.hh"

namespace reef::detail {

void reactor_metrics_start(reactor_impl&) {}
void reactor_metrics_stop(reactor_impl&) noexcept {}

}  // namespace reef::detail
