// Placeholder: the alien service is being written; until then it does nothing.
#include "shard_services.hh"

namespace reef::detail {

void alien_start(reactor_impl&) {}
void alien_stop(reactor_impl&) noexcept {}

}  // namespace reef::detail
