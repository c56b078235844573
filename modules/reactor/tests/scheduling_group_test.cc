#include <reef/testing/test_case.hh>

#include <chrono>
#include <cmath>
#include <stdexcept>

#include <reef/core/coroutine.hh>
#include <reef/reactor/scheduling_group.hh>

#include "reactor_impl.hh"

using namespace reef;
using namespace std::chrono_literals;

namespace {

// Burns CPU in `sg` until `stop`, yielding whenever the quota is spent.
future<> burn(bool& stop, long& iterations) {
    while (!stop) {
        for (int i = 0; i < 1000; ++i) {
            asm volatile("" ::: "memory");
        }
        ++iterations;
        co_await coroutine::maybe_yield();
    }
}

}  // namespace

REEF_TEST_CASE("CPU time is divided by shares under a CPU-bound load") {
    auto a = co_await create_scheduling_group("test-a", 200);
    auto b = co_await create_scheduling_group("test-b", 100);
    auto& r = detail::this_reactor();
    bool stop = false;
    long ia = 0, ib = 0;
    auto ra0 = r.group_runtime_ns(a.id());
    auto rb0 = r.group_runtime_ns(b.id());
    auto fa = with_scheduling_group(a, [&] { return burn(stop, ia); });
    auto fb = with_scheduling_group(b, [&] { return burn(stop, ib); });
    auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < 1500ms) {
        co_await coroutine::maybe_yield();
    }
    stop = true;
    co_await std::move(fa);
    co_await std::move(fb);
    double ta = double(r.group_runtime_ns(a.id()) - ra0);
    double tb = double(r.group_runtime_ns(b.id()) - rb0);
    INFO("group a ran " << ta / 1e6 << " ms (" << ia << " iterations), group b " << tb / 1e6 << " ms (" << ib << ")");
    REQUIRE(tb > 0);
    double ratio = ta / tb;
    REQUIRE(std::abs(ratio - 2.0) / 2.0 < 0.10);
    co_await destroy_scheduling_group(a);
    co_await destroy_scheduling_group(b);
}

REEF_TEST_CASE("tasks run in the group they were created in, and switch_to moves a coroutine") {
    auto g = co_await create_scheduling_group("test-switch", 500);
    REQUIRE(current_scheduling_group() == default_scheduling_group());
    auto seen = co_await with_scheduling_group(g, [] { return current_scheduling_group(); });
    REQUIRE(seen == g);
    co_await coroutine::switch_to(g);
    REQUIRE(current_scheduling_group() == g);
    co_await coroutine::maybe_yield();
    co_await coroutine::switch_to(default_scheduling_group());
    REQUIRE(current_scheduling_group() == default_scheduling_group());
    REQUIRE(scheduling_group_name(g) == "test-switch");
    REQUIRE(scheduling_group_shares(g) == 500);
    co_await destroy_scheduling_group(g);
}

REEF_TEST_CASE("bad shares and too many groups are refused") {
    auto bad = co_await coroutine::as_future(create_scheduling_group("bad", 0));
    REQUIRE_THROWS_AS(bad.get(), std::invalid_argument);
    std::vector<scheduling_group> made;
    for (;;) {
        auto f = co_await coroutine::as_future(create_scheduling_group("filler", 10));
        if (f.failed()) {
            REQUIRE_THROWS_WITH(f.get(), Catch::Contains("all 16 groups are in use"));
            break;
        }
        made.push_back(f.get());
        REQUIRE(made.size() < max_scheduling_groups);
    }
    for (auto g : made) {
        co_await destroy_scheduling_group(g);
    }
}
