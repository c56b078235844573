#include <reef/core/timeout.hh>

#include <catch2/catch.hpp>

#include "test_support.hh"

#include <algorithm>
#include <chrono>
#include <vector>

#include <reef/core/condition_variable.hh>
#include <reef/core/queue.hh>
#include <reef/core/semaphore.hh>

using namespace reef;
using namespace reef::testing;
using namespace std::chrono_literals;

namespace {

// A hook that fires only when told to, recording what is armed.
struct fake_hook final : timeout_hook {
    std::vector<timeout_entry*> armed;
    std::vector<timeout_clock::time_point> deadlines;
    timeout_hook* previous;

    fake_hook() : previous(set_timeout_hook(this)) {}
    ~fake_hook() { set_timeout_hook(previous); }

    void arm(timeout_entry& e, timeout_clock::time_point d) noexcept override {
        armed.push_back(&e);
        deadlines.push_back(d);
    }
    void cancel(timeout_entry& e) noexcept override {
        auto it = std::find(armed.begin(), armed.end(), &e);
        deadlines.erase(deadlines.begin() + (it - armed.begin()));
        armed.erase(it);
    }
    void fire_all() {
        auto v = std::move(armed);
        armed.clear();
        deadlines.clear();
        for (auto* e : v) {
            e->expire();
        }
    }
};

}  // namespace

TEST_CASE("timed waits fail with timeouts_unavailable without a timeout hook") {
    no_abandoned_failures guard;
    REQUIRE(current_timeout_hook() == nullptr);
    semaphore sem(5);
    REQUIRE_THROWS_AS(sync_wait(sem.wait(1ms)), timeouts_unavailable);
    REQUIRE_THROWS_AS(sync_wait(get_units(sem, 1, timeout_clock::now() + 1s)), timeouts_unavailable);
    REQUIRE(sem.available_units() == 5);
    condition_variable cv;
    REQUIRE_THROWS_WITH(sync_wait(cv.wait(1ms)), Catch::Contains("need a reactor"));
    REQUIRE_THROWS_AS(sync_wait(cv.wait(1ms, [] { return true; })), timeouts_unavailable);
    queue<int> q(1);
    REQUIRE_THROWS_AS(sync_wait(q.pop_eventually(1ms)), timeouts_unavailable);
    REQUIRE_THROWS_AS(sync_wait(q.push_eventually(1, 1ms)), timeouts_unavailable);
    REQUIRE(q.empty());
}

TEST_CASE("a semaphore timed wait arms at its deadline and fails when the hook fires") {
    no_abandoned_failures guard;
    fake_hook hook;
    semaphore sem(0);
    auto deadline = timeout_clock::now() + 1s;
    auto a = sem.wait(deadline);
    auto b = sem.wait(2s);
    REQUIRE(hook.armed.size() == 2);
    REQUIRE(hook.deadlines[0] == deadline);
    sem.signal();  // grants a: its timer is cancelled
    REQUIRE(hook.armed.size() == 1);
    run_all();
    REQUIRE(a.available());
    a.get();
    hook.fire_all();
    run_all();
    REQUIRE_THROWS_AS(b.get(), semaphore_timed_out);
    REQUIRE(sem.waiters() == 0);
    REQUIRE(sem.available_units() == 0);
    auto c = get_units(sem, 1, 1s);
    sem.broken();
    REQUIRE(hook.armed.empty());
    REQUIRE_THROWS_AS(sync_wait(std::move(c)), broken_semaphore);
}

TEST_CASE("a time point of another clock is converted by its distance from now") {
    fake_hook hook;
    semaphore sem(0);
    auto f = sem.wait(std::chrono::system_clock::now() + 10s);
    REQUIRE(hook.deadlines.size() == 1);
    auto left = hook.deadlines[0] - timeout_clock::now();
    REQUIRE(left > 9s);
    REQUIRE(left <= 10s);
    sem.signal();
    sync_wait(std::move(f));
    REQUIRE(hook.armed.empty());
}

TEST_CASE("condition_variable and queue timed waits fail when the hook fires and cancel when served") {
    no_abandoned_failures guard;
    fake_hook hook;
    condition_variable cv;
    auto w1 = cv.wait(1s);
    auto w2 = cv.wait(1s);
    cv.signal();
    REQUIRE(hook.armed.size() == 1);
    hook.fire_all();
    run_all();
    sync_wait(std::move(w1));
    REQUIRE_THROWS_AS(sync_wait(std::move(w2)), condition_variable_timed_out);
    REQUIRE_FALSE(cv.has_waiters());

    queue<int> q(1);
    auto p1 = q.pop_eventually(1s);
    auto p2 = q.pop_eventually(1s);
    REQUIRE(q.push(4));
    REQUIRE(hook.armed.size() == 1);
    hook.fire_all();
    REQUIRE(sync_wait(std::move(p1)) == 4);
    REQUIRE_THROWS_AS(sync_wait(std::move(p2)), queue_timed_out);
    REQUIRE(q.push(5));
    auto s1 = q.push_eventually(6, 1s);
    auto s2 = q.push_eventually(7, 1s);
    REQUIRE(q.pop() == 5);  // lets 6 in
    REQUIRE(hook.armed.size() == 1);
    hook.fire_all();
    sync_wait(std::move(s1));
    REQUIRE_THROWS_AS(sync_wait(std::move(s2)), queue_timed_out);
    REQUIRE(q.pop() == 6);
    REQUIRE(q.empty());
    auto p3 = q.pop_eventually(1s);
    q.abort(std::make_exception_ptr(std::runtime_error("aborted")));
    REQUIRE(hook.armed.empty());
    REQUIRE_THROWS_AS(sync_wait(std::move(p3)), std::runtime_error);
}
