#include <reef/reactor/timer.hh>

#include <reef/testing/test_case.hh>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <stdexcept>
#include <vector>

#include <reef/core/coroutine.hh>
#include <reef/reactor/scheduling_group.hh>
#include <reef/reactor/sleep.hh>

using namespace reef;
using namespace std::chrono_literals;

namespace {

using fsec = std::chrono::duration<double, std::milli>;

// Arms `t` at `deadline` and resolves when its callback ran.
future<> fire_once(timer<>& t, steady_clock_type::time_point deadline, steady_clock_type::time_point& fired) {
    promise<> p;
    auto f = p.get_future();
    t.set_callback([&p, &fired] {
        fired = steady_clock_type::now();
        p.set_value();
    });
    t.arm(deadline);
    co_await std::move(f);
}

}  // namespace

REEF_TEST_CASE("a timer fires no earlier than its deadline, and soon after it on an idle shard") {
    std::vector<double> late_ms;
    for (int i = 0; i < 50; ++i) {
        timer<> t;
        auto deadline = steady_clock_type::now() + 1ms;
        steady_clock_type::time_point fired;
        co_await fire_once(t, deadline, fired);
        REQUIRE(fired >= deadline);
        late_ms.push_back(fsec(fired - deadline).count());
    }
    std::sort(late_ms.begin(), late_ms.end());
    std::printf("# timer lateness over 50 x 1 ms: min %.3f ms, median %.3f ms, p90 %.3f ms, max %.3f ms\n",
                late_ms.front(), late_ms[25], late_ms[45], late_ms.back());
    // Measured here: median ~0.10 ms (50 us kernel timer slack plus the wakeup), p90
    // ~0.12 ms on a quiet machine; single outliers reach ~12 ms while the 2 shared cores
    // compile. Bounds: the typical case tight, the tail loose.
    REQUIRE(late_ms[25] < 2.0);
    REQUIRE(late_ms[45] < 20.0);
    REQUIRE(late_ms.back() < 100.0);
}

REEF_TEST_CASE("1000 timers with random deadlines fire in deadline order") {
    constexpr int n = 1000;
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> us(0, 30'000);
    auto base = steady_clock_type::now() + 2ms;
    std::vector<timer<>> timers(n);
    std::vector<steady_clock_type::time_point> deadlines(n);
    std::vector<int> fired;
    promise<> done;
    for (int i = 0; i < n; ++i) {
        deadlines[i] = base + std::chrono::microseconds(us(rng) / 100 * 100);  // some equal deadlines
        timers[i].set_callback([&, i] {
            fired.push_back(i);
            if (fired.size() == n) {
                done.set_value();
            }
        });
        timers[i].arm(deadlines[i]);
    }
    co_await done.get_future();
    std::vector<int> expected(n);
    for (int i = 0; i < n; ++i) {
        expected[i] = i;
    }
    // Deadline order, and arm order (= index) among equal deadlines.
    std::stable_sort(expected.begin(), expected.end(),
                     [&](int a, int b) { return deadlines[a] < deadlines[b]; });
    REQUIRE(fired == expected);
}

REEF_TEST_CASE("timers with equal deadlines fire in arm order") {
    auto deadline = steady_clock_type::now() + 2ms;
    std::vector<int> fired;
    std::vector<timer<>> timers(10);
    for (int i = 9; i >= 0; --i) {  // arm order is 9, 8, ..., 0
        timers[i].set_callback([&fired, i] { fired.push_back(i); });
        timers[i].arm(deadline);
    }
    co_await sleep(5ms);
    REQUIRE(fired == std::vector<int>{9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
}

REEF_TEST_CASE("rearm moves the deadline, cancel says whether the timer was armed") {
    int calls = 0;
    timer<> t([&] { ++calls; });
    REQUIRE_FALSE(t.armed());
    REQUIRE_FALSE(t.cancel());
    t.arm(1h);
    REQUIRE(t.armed());
    REQUIRE_THROWS_AS(t.arm(1ms), std::logic_error);
    auto soon = steady_clock_type::now() + 2ms;
    t.rearm(soon);
    REQUIRE(t.get_timeout() == soon);
    co_await sleep(6ms);
    REQUIRE(calls == 1);
    REQUIRE_FALSE(t.armed());
    REQUIRE_FALSE(t.cancel());
    t.arm(1ms);
    REQUIRE(t.cancel());
    REQUIRE_FALSE(t.armed());
    co_await sleep(4ms);
    REQUIRE(calls == 1);
}

REEF_TEST_CASE("a periodic timer fires every period until cancelled") {
    int calls = 0;
    promise<> five;
    timer<> t([&] {
        if (++calls == 5) {
            five.set_value();
        }
    });
    auto start = steady_clock_type::now();
    t.arm_periodic(2ms);
    co_await five.get_future();
    REQUIRE(steady_clock_type::now() - start >= 10ms);
    REQUIRE(t.armed());
    REQUIRE(t.cancel());
    int at_cancel = calls;
    co_await sleep(6ms);
    REQUIRE(calls == at_cancel);
}

REEF_TEST_CASE("a callback can cancel its own timer and others that expired with it") {
    auto deadline = steady_clock_type::now() + 1ms;
    std::vector<int> fired;
    timer<> a, b, p;
    bool own_cancel_result = true;
    a.set_callback([&] {
        fired.push_back(0);
        own_cancel_result = a.cancel();  // one-shot, already running: not armed
        REQUIRE(b.armed());              // expired, callback not run yet
        REQUIRE(b.cancel());
    });
    b.set_callback([&] { fired.push_back(1); });
    a.arm(deadline);
    b.arm(deadline);
    int periodic_calls = 0;
    bool periodic_cancel_result = false;
    p.set_callback([&] {
        ++periodic_calls;
        periodic_cancel_result = p.cancel();  // stops the period
    });
    p.arm_periodic(1ms);
    co_await sleep(8ms);
    REQUIRE(fired == std::vector<int>{0});
    REQUIRE_FALSE(own_cancel_result);
    REQUIRE(periodic_calls == 1);
    REQUIRE(periodic_cancel_result);
    REQUIRE_FALSE(p.armed());
}

REEF_TEST_CASE("destroying an armed timer cancels it, also after its deadline passed") {
    int calls = 0;
    auto t = std::make_unique<timer<>>([&] { ++calls; });
    t->arm(1ms);
    t.reset();
    // b's deadline passes together with a's; a destroys b before b's callback runs.
    auto deadline = steady_clock_type::now() + 1ms;
    auto b = std::make_unique<timer<>>([&] { calls += 100; });
    timer<> a([&] { b.reset(); });
    a.arm(deadline);
    b->arm(deadline);
    co_await sleep(6ms);
    REQUIRE(calls == 0);
    REQUIRE(!b);
}

REEF_TEST_CASE("a callback may destroy its own timer and rearm it") {
    int calls = 0;
    auto t = std::make_unique<timer<>>();
    t->set_callback([&] {
        ++calls;
        t.reset();
    });
    t->arm(1ms);
    timer<> r;
    r.set_callback([&] {
        if (++calls < 4) {
            r.arm(1ms);
        }
    });
    r.arm(1ms);
    co_await sleep(15ms);
    REQUIRE(!t);
    REQUIRE(calls == 4);
}

REEF_TEST_CASE("a moved timer fires in its new place") {
    int calls = 0;
    timer<> a([&] { ++calls; });
    a.arm(2ms);
    timer<> b(std::move(a));
    REQUIRE_FALSE(a.armed());
    REQUIRE(b.armed());
    std::vector<timer<>> v;
    v.push_back(std::move(b));
    v.reserve(100);  // moves it again
    co_await sleep(6ms);
    REQUIRE(calls == 1);
}

REEF_TEST_CASE("100k timers are armed and cancelled without firing") {
    constexpr int n = 100'000;
    int calls = 0;
    std::vector<timer<>> timers(n);
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> ms(1, 10'000);
    for (auto& t : timers) {
        t.set_callback([&] { ++calls; });
    }
    auto start = steady_clock_type::now();
    for (auto& t : timers) {
        t.arm(std::chrono::milliseconds(ms(rng)));
    }
    auto armed = steady_clock_type::now();
    std::shuffle(timers.begin(), timers.end(), rng);  // moves armed timers around the heap
    auto shuffled = steady_clock_type::now();
    int cancelled = 0;
    for (auto& t : timers) {
        cancelled += t.cancel();
    }
    auto end = steady_clock_type::now();
    std::printf("# 100k timers: arm %.1f ns, cancel (random order) %.1f ns per timer\n",
                std::chrono::duration<double, std::nano>(armed - start).count() / n,
                std::chrono::duration<double, std::nano>(end - shuffled).count() / n);
    REQUIRE(cancelled == n);
    co_await sleep(3ms);
    REQUIRE(calls == 0);
}

REEF_TEST_CASE("the callback runs in the scheduling group current at arm time") {
    auto sg = co_await create_scheduling_group("timer-test", 200);
    unsigned seen = 999;
    timer<> t([&] { seen = current_scheduling_group().id(); });
    co_await with_scheduling_group(sg, [&] { t.arm(1ms); });
    co_await sleep(5ms);
    REQUIRE(seen == sg.id());
    co_await destroy_scheduling_group(sg);
}

REEF_TEST_CASE("a throwing callback is reported, not fatal") {
    auto before = abandoned_failures();
    timer<> t([] { throw std::runtime_error("callback failed"); });
    auto saved = set_abandoned_failure_handler([](const std::exception_ptr&) noexcept {});
    t.arm(1ms);
    co_await sleep(5ms);
    set_abandoned_failure_handler(saved);
    REQUIRE(abandoned_failures() == before + 1);
}

TEST_CASE("arming a timer needs a running reactor") {
    timer<> t([] {});
    REQUIRE_THROWS_AS(t.arm(1ms), std::logic_error);
    REQUIRE_FALSE(t.armed());
}
