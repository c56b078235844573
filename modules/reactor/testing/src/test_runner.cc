// Starts shards for one test body and runs it on shard 0.
#include <reef/testing/test_case.hh>

#include <cstdlib>

#include "smp_impl.hh"

namespace reef::testing {

const char* test_backend() noexcept {
    const char* b = std::getenv("REEF_BACKEND");
    return b ? b : "";
}

smp_config& test_config() noexcept {
    static smp_config cfg = [] {
        smp_config c;
        c.count = 2;
        c.reactor.backend = test_backend();
        // Tests share the machine with each other: no pinning, no idle spinning.
        c.reactor.overprovisioned = true;
        return c;
    }();
    return cfg;
}

void run_in_reactor(std::function<future<>()> body) {
    detail::run_shards(test_config(), [&body]() -> future<int> {
        return futurize_invoke(body).then([] { return 0; });
    });
}

}  // namespace reef::testing
