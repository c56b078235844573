#include <reef/reactor/with_timeout.hh>

#include <reef/testing/test_case.hh>

#include <chrono>
#include <stdexcept>

#include <reef/core/coroutine.hh>
#include <reef/reactor/sleep.hh>

using namespace reef;
using namespace std::chrono_literals;

REEF_TEST_CASE("with_timeout returns the result when it comes before the deadline") {
    promise<int> p;
    auto f = with_timeout(steady_clock_type::now() + 1s, p.get_future());
    timer<> t([&] { p.set_value(7); });
    t.arm(1ms);
    REQUIRE(co_await std::move(f) == 7);
    REQUIRE(co_await with_timeout(steady_clock_type::now() + 1s, make_ready_future<int>(3)) == 3);
}

REEF_TEST_CASE("with_timeout forwards a failure that comes before the deadline") {
    promise<> p;
    auto f = with_timeout(lowres_clock::now() + 1s, p.get_future());
    p.set_exception(std::runtime_error("failed"));
    REQUIRE_THROWS_AS(co_await std::move(f), std::runtime_error);
}

REEF_TEST_CASE("with_timeout fails with timed_out_error at the deadline; the late result is consumed") {
    auto before = abandoned_failures();
    promise<int> p;
    auto start = steady_clock_type::now();
    auto r = co_await coroutine::as_future(with_timeout(start + 3ms, p.get_future()));
    REQUIRE(steady_clock_type::now() - start >= 3ms);
    REQUIRE_THROWS_AS(r.get(), timed_out_error);
    p.set_value(1);  // late value: dropped
    promise<> q;
    REQUIRE_THROWS_AS(co_await with_timeout(steady_clock_type::now() + 1ms, q.get_future()), timed_out_error);
    q.set_exception(std::runtime_error("late failure"));  // late failure: consumed, not reported
    co_await sleep(1ms);
    {
        promise<> dropped;
        REQUIRE_THROWS_AS(co_await with_timeout(steady_clock_type::now() + 1ms, dropped.get_future()),
                          timed_out_error);
    }  // destroyed unresolved: broken_promise, also consumed
    co_await sleep(1ms);
    REQUIRE(abandoned_failures() == before);
}

REEF_TEST_CASE("with_timeout on the manual clock times out only when the clock is advanced") {
    promise<> p;
    auto f = with_timeout(manual_clock::now() + 5s, p.get_future());
    co_await sleep(2ms);
    REQUIRE_FALSE(f.available());
    manual_clock::advance(5s);
    REQUIRE_THROWS_AS(co_await std::move(f), timed_out_error);
    p.set_value();
}

REEF_TEST_CASE("with_timeout of a coroutine that finishes in time") {
    auto slow = []() -> future<int> {
        co_await sleep(1ms);
        co_return 5;
    };
    REQUIRE(co_await with_timeout(steady_clock_type::now() + 1s, slow()) == 5);
    REQUIRE_THROWS_AS(co_await with_timeout(steady_clock_type::now() + 1ms,
                                            []() -> future<int> {
                                                co_await sleep(50ms);
                                                co_return 1;
                                            }()),
                      timed_out_error);
    co_await sleep(60ms);  // let the abandoned coroutine finish before the shards stop
}
