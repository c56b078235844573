// The low-level runtime entry points of reef/reactor/detail/runtime.hh.
#include <reef/reactor/detail/runtime.hh>

#include "reactor_impl.hh"
#include "smp_impl.hh"

namespace reef::detail {

int start_shards(const smp_config& cfg, std::function<future<int>()> main) {
    return run_shards(cfg, std::move(main));
}

void run_loop_until(bool (*done)(void* arg), void* arg) {
    this_reactor().run_until(done, arg);
}

std::string_view current_backend_name() {
    return this_reactor().io().name();
}

}  // namespace reef::detail
