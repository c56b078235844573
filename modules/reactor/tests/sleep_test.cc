#include <reef/reactor/sleep.hh>
#include <reef/reactor/detail/runtime.hh>

#include <reef/testing/test_case.hh>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include <reef/core/coroutine.hh>
#include <reef/reactor/timer.hh>

using namespace reef;
using namespace std::chrono_literals;

namespace {
struct custom_reason : std::runtime_error {
    custom_reason() : std::runtime_error("custom") {}
};
}  // namespace

REEF_TEST_CASE("a 1 ms sleep on an idle shard wakes within a fraction of a millisecond") {
    std::vector<double> late_us;
    for (int i = 0; i < 100; ++i) {
        auto start = steady_clock_type::now();
        co_await sleep(1ms);
        auto slept = steady_clock_type::now() - start;
        REQUIRE(slept >= 1ms);
        late_us.push_back(std::chrono::duration<double, std::micro>(slept - 1ms).count());
    }
    std::sort(late_us.begin(), late_us.end());
    std::printf(
        "# sleep(1ms) lateness over 100 runs: min %.1f us, median %.1f us, p90 %.1f us, max %.1f us\n",
        late_us.front(), late_us[50], late_us[90], late_us.back());
    // Measured here: median ~100 us (50 us kernel timer slack plus the wakeup), p90
    // ~120 us; single outliers reach ~12 ms while the 2 shared cores compile. Bounds:
    // the typical case tight, the tail loose.
    REQUIRE(late_us[50] < 2000);
    REQUIRE(late_us[90] < 20000);
    REQUIRE(late_us.back() < 100000);
}

REEF_TEST_CASE("sleep works on the lowres and manual clocks") {
    auto start = lowres_clock::now();
    co_await sleep<lowres_clock>(3ms);
    REQUIRE(lowres_clock::now() - start >= 3ms);
    auto f = sleep<manual_clock>(10s);
    co_await sleep(2ms);
    REQUIRE_FALSE(f.available());
    manual_clock::advance(10s);
    co_await std::move(f);
}

REEF_TEST_CASE("a zero or negative sleep resolves at the next poll") {
    co_await sleep(0ms);
    co_await sleep(-5ms);
}

REEF_TEST_CASE("sleep_abortable fails at once with sleep_aborted when already aborted") {
    abort_source as;
    as.request_abort();
    auto f = sleep_abortable(1h, as);
    REQUIRE(f.available());
    REQUIRE_THROWS_AS(f.get(), sleep_aborted);
    co_return;
}

REEF_TEST_CASE("sleep_abortable fails with sleep_aborted when aborted during the sleep") {
    abort_source as;
    auto start = steady_clock_type::now();
    auto f = sleep_abortable(10s, as);
    timer<> t([&] { as.request_abort(); });
    t.arm(2ms);
    auto r = co_await coroutine::as_future(std::move(f));
    REQUIRE(r.failed());
    REQUIRE_THROWS_AS(r.get(), sleep_aborted);
    REQUIRE(steady_clock_type::now() - start < 1s);
}

REEF_TEST_CASE("sleep_abortable fails with the abort_source's own exception") {
    abort_source as;
    auto f = sleep_abortable(10s, as);
    co_await sleep(1ms);
    as.request_abort_ex(custom_reason());
    REQUIRE_THROWS_AS(co_await std::move(f), custom_reason);
    abort_source as2;
    as2.request_abort_ex(custom_reason());
    REQUIRE_THROWS_AS(co_await sleep_abortable(1h, as2), custom_reason);
}

REEF_TEST_CASE("sleep_abortable that completes ignores a later abort") {
    abort_source as;
    co_await sleep_abortable(1ms, as);
    as.request_abort();
}

TEST_CASE("sleep fails without a running reactor") {
    auto f = sleep(1ms);
    REQUIRE(f.available());
    REQUIRE_THROWS_AS(f.get(), std::logic_error);
}

TEST_CASE("a sleep still pending when the shards stop ends with sleep_aborted and frees its waiter") {
    static bool aborted = false;
    aborted = false;
    reef::smp_config cfg = reef::testing::test_config();
    int rc = reef::detail::start_shards(cfg, []() -> reef::future<int> {
        // Not awaited: the shard stops while it sleeps.
        (void)[]() -> reef::future<> {
            try {
                co_await reef::sleep(std::chrono::seconds(30));
            } catch (const reef::sleep_aborted&) {
                aborted = true;
            }
        }();
        co_return 0;
    });
    REQUIRE(rc == 0);
    REQUIRE(aborted);
}
