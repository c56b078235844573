#include <reef/reactor/clock.hh>

#include <reef/testing/test_case.hh>

#include <chrono>
#include <cstdio>

#include <reef/core/coroutine.hh>
#include <reef/reactor/sleep.hh>
#include <reef/reactor/smp.hh>
#include <reef/reactor/timer.hh>

using namespace reef;
using namespace std::chrono_literals;

REEF_TEST_CASE("the lowres clock follows the steady clock on an idle shard") {
    auto l0 = lowres_clock::now();
    auto s0 = steady_clock_type::now();
    REQUIRE(s0 - l0 < 10ms);
    co_await sleep(20ms);
    auto l1 = lowres_clock::now();
    REQUIRE(l1 - l0 >= 15ms);
    REQUIRE(steady_clock_type::now() - l1 < 5ms);  // refreshed when the shard woke
}

REEF_TEST_CASE("the lowres clock keeps advancing while a task runs long without yielding") {
    auto start = steady_clock_type::now();
    auto first = lowres_clock::now();
    auto last = first;
    std::chrono::nanoseconds worst{0};
    bool monotonic = true;
    while (steady_clock_type::now() - start < 50ms) {
        // Read the steady clock first: a preemption of this thread between the two
        // reads must not count as lag.
        auto s = steady_clock_type::now();
        auto l = lowres_clock::now();
        monotonic = monotonic && l >= last;
        last = l;
        auto lag = s - l;
        if (lag > worst) {
            worst = lag;
        }
    }
    std::printf("# lowres lag during a 50 ms busy task: worst %.3f ms\n",
                std::chrono::duration<double, std::milli>(worst).count());
    REQUIRE(monotonic);
    REQUIRE(last - first >= 40ms);
    REQUIRE(worst < 10ms);
    co_await coroutine::maybe_yield();
}

REEF_TEST_CASE("a lowres timer fires once the lowres clock passes its deadline") {
    timer<lowres_clock> t;
    bool fired = false;
    t.set_callback([&] { fired = true; });
    auto deadline = lowres_clock::now() + 3ms;
    t.arm(deadline);
    co_await sleep(10ms);
    REQUIRE(fired);
    REQUIRE(lowres_clock::now() >= deadline);
    co_await sleep<lowres_clock>(2ms);
}

REEF_TEST_CASE("manual_clock moves only when advanced and fires due manual timers") {
    auto t0 = manual_clock::now();
    co_await sleep(2ms);
    REQUIRE(manual_clock::now() == t0);
    std::vector<int> fired;
    timer<manual_clock> a([&] { fired.push_back(1); });
    timer<manual_clock> b([&] { fired.push_back(2); });
    a.arm(t0 + 10s);
    b.arm(5s);  // relative to manual now
    manual_clock::advance(4s);
    co_await coroutine::maybe_yield();
    co_await sleep(1ms);
    REQUIRE(fired.empty());
    manual_clock::advance(1s);
    REQUIRE(manual_clock::now() == t0 + 5s);
    co_await sleep(1ms);
    REQUIRE(fired == std::vector<int>{2});
    manual_clock::advance(1h);
    co_await sleep(1ms);
    REQUIRE(fired == std::vector<int>{2, 1});
    manual_clock::advance(-1s);  // ignored
    REQUIRE(manual_clock::now() == t0 + 5s + 1h);
}

REEF_TEST_CASE("manual_clock advance reaches the timers of every shard") {
    auto now0 = manual_clock::now();
    auto done = smp::submit_to(1, [] { return sleep<manual_clock>(1min); });
    REQUIRE(co_await smp::submit_to(1, [] { return manual_clock::now(); }) == now0);
    co_await sleep(2ms);
    REQUIRE_FALSE(done.available());
    manual_clock::advance(1min);
    co_await std::move(done);
    REQUIRE(co_await smp::submit_to(1, [] { return manual_clock::now(); }) == now0 + 1min);
}

TEST_CASE("without a reactor the lowres clock reads the steady clock") {
    auto l = lowres_clock::now();
    auto s = steady_clock_type::now();
    REQUIRE(s >= l);
    REQUIRE(s - l < 1s);
}
