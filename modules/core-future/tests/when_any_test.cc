#include <reef/core/when_any.hh>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

using namespace reef;

namespace {

std::exception_ptr error(const char* what) {
    return std::make_exception_ptr(std::runtime_error(what));
}

}  // namespace

TEST_CASE("when_any with a ready argument resolves at once with its index and does not allocate") {
    promise<int> p;
    auto pending = p.get_future();
    auto ready = make_ready_future<std::string>("now");
    auto before = task_allocations();
    auto f = when_any(std::move(pending), std::move(ready));
    REQUIRE(task_allocations() == before);
    REQUIRE(f.available());
    auto r = f.get();
    REQUIRE(r.index == 1);
    REQUIRE(std::get<1>(r.futures).get() == "now");
    REQUIRE_FALSE(std::get<0>(r.futures).available());
    p.set_value(3);
    REQUIRE(std::get<0>(r.futures).get() == 3);
}

TEST_CASE("when_any picks the first ready argument in order when several are ready") {
    auto r = when_any(make_ready_future<int>(1), make_ready_future<int>(2)).get();
    REQUIRE(r.index == 0);
    REQUIRE(std::get<0>(r.futures).get() == 1);
    REQUIRE(std::get<1>(r.futures).get() == 2);
}

TEST_CASE("when_any resolves when the first pending future completes") {
    promise<int> p0;
    promise<> p1;
    promise<std::string> p2;
    auto f = when_any(p0.get_future(), p1.get_future(), p2.get_future());
    REQUIRE_FALSE(f.available());
    p1.set_value();
    auto r = sync_wait(std::move(f));
    REQUIRE(r.index == 1);
    std::get<1>(r.futures).get();
    REQUIRE_FALSE(std::get<0>(r.futures).available());
    REQUIRE_FALSE(std::get<2>(r.futures).available());
    // The others keep running and are delivered to the caller's futures.
    p2.set_value("late");
    p0.set_value(7);
    run_pending_tasks();
    REQUIRE(std::get<0>(r.futures).get() == 7);
    REQUIRE(std::get<2>(r.futures).get() == "late");
}

TEST_CASE("when_any reports the failure of the first future as its result, not as a failure") {
    auto failures = abandoned_failures();
    promise<int> p0;
    promise<int> p1;
    auto f = when_any(p0.get_future(), p1.get_future());
    p0.set_exception(error("first"));
    auto r = sync_wait(std::move(f));
    REQUIRE(r.index == 0);
    REQUIRE_THROWS_WITH(std::get<0>(r.futures).get(), "first");
    p1.set_exception(error("second"));
    run_pending_tasks();
    REQUIRE_THROWS_WITH(std::get<1>(r.futures).get(), "second");
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("futures completing after the winner but before its waiter ran are handed over safely") {
    auto failures = abandoned_failures();
    promise<int> p0;
    promise<int> p1;
    promise<int> p2;
    auto f = when_any(p0.get_future(), p1.get_future(), p2.get_future());
    // All three complete before the queue runs: the first waiter wins, the other two
    // waiters are already queued and must still find the state alive.
    p2.set_value(2);
    p0.set_exception(error("zero"));
    p1.set_value(1);
    auto r = sync_wait(std::move(f));
    run_pending_tasks();
    REQUIRE(r.index == 2);
    REQUIRE(std::get<2>(r.futures).get() == 2);
    REQUIRE(std::get<1>(r.futures).get() == 1);
    REQUIRE_THROWS_WITH(std::get<0>(r.futures).get(), "zero");
    REQUIRE(pending_tasks() == 0);
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("when_any over a range resolves with the first to complete") {
    std::vector<promise<int>> ps(4);
    std::vector<future<int>> fs;
    for (auto& p : ps) {
        fs.push_back(p.get_future());
    }
    auto f = when_any(fs.begin(), fs.end());
    REQUIRE_FALSE(f.available());
    ps[2].set_value(20);
    auto r = sync_wait(std::move(f));
    REQUIRE(r.index == 2);
    REQUIRE(r.futures.size() == 4);
    REQUIRE(r.futures[2].get() == 20);
    for (int i : {3, 0, 1}) {
        ps[i].set_value(i * 10);
    }
    run_pending_tasks();
    REQUIRE(r.futures[0].get() == 0);
    REQUIRE(r.futures[1].get() == 10);
    REQUIRE(r.futures[3].get() == 30);
}

TEST_CASE("when_any over a range with a ready future resolves at once") {
    std::vector<future<>> fs;
    promise<> p;
    fs.push_back(p.get_future());
    fs.push_back(make_exception_future<>(error("ready failure")));
    auto f = when_any(fs.begin(), fs.end());
    REQUIRE(f.available());
    auto r = f.get();
    REQUIRE(r.index == 1);
    REQUIRE_THROWS_WITH(r.futures[1].get(), "ready failure");
    p.set_value();
    r.futures[0].get();
}

TEST_CASE("when_any over an empty range resolves at once with no futures") {
    std::vector<future<int>> fs;
    auto r = when_any(fs.begin(), fs.end()).get();
    REQUIRE(r.index == 0);
    REQUIRE(r.futures.empty());
}

TEST_CASE("the losers of when_any can be awaited later by a coroutine") {
    promise<int> fast;
    promise<int> slow;
    auto coro = [](future<int> a, future<int> b) -> future<int> {
        auto r = co_await when_any(std::move(a), std::move(b));
        int first = std::get<0>(r.futures).get();
        int second = co_await std::move(std::get<1>(r.futures));
        co_return first * 100 + second;
    }(fast.get_future(), slow.get_future());
    fast.set_value(1);
    run_pending_tasks();
    REQUIRE_FALSE(coro.available());
    slow.set_value(2);
    REQUIRE(sync_wait(std::move(coro)) == 102);
}

TEST_CASE("dropping the future of when_any before anything completes is safe") {
    promise<int> p0;
    promise<int> p1;
    { auto f = when_any(p0.get_future(), p1.get_future()); }
    p1.set_value(1);
    run_pending_tasks();
    p0.set_value(0);
    run_pending_tasks();
    REQUIRE(pending_tasks() == 0);
}

TEST_CASE("when_any under preemption still resolves") {
    detail::preemption_monitor m;
    m.head.store(1);
    auto prev = set_preemption_monitor(&m);
    promise<int> p0;
    auto f = when_any(p0.get_future(), make_ready_future<int>(5));
    p0.set_value(0);
    auto r = sync_wait(std::move(f));
    set_preemption_monitor(prev);
    REQUIRE(r.index == 1);
    REQUIRE(std::get<0>(r.futures).get() == 0);
}
