#include <reef/core/condition_variable.hh>

#include <catch2/catch.hpp>

#include "test_support.hh"

#include <deque>
#include <optional>
#include <stdexcept>
#include <vector>

using namespace reef;
using namespace reef::testing;

namespace {

future<> wait_and_log(condition_variable& cv, int id, std::vector<int>& log) {
    co_await cv.wait();
    log.push_back(id);
}

}  // namespace

TEST_CASE("signal wakes one waiter at a time, oldest first") {
    no_abandoned_failures guard;
    condition_variable cv;
    std::vector<int> log;
    std::vector<future<>> fs;
    for (int i = 0; i < 3; ++i) {
        fs.push_back(wait_and_log(cv, i, log));
    }
    REQUIRE(cv.waiters() == 3);
    cv.signal();
    run_all();
    REQUIRE(log == std::vector<int>{0});
    cv.signal();
    cv.signal();
    run_all();
    REQUIRE(log == std::vector<int>{0, 1, 2});
    REQUIRE_FALSE(cv.has_waiters());
    for (auto& f : fs) {
        sync_wait(std::move(f));
    }
}

TEST_CASE("broadcast wakes every waiter in FIFO order") {
    no_abandoned_failures guard;
    condition_variable cv;
    std::vector<int> log;
    std::vector<future<>> fs;
    for (int i = 0; i < 4; ++i) {
        fs.push_back(wait_and_log(cv, i, log));
    }
    cv.broadcast();
    REQUIRE(cv.waiters() == 0);
    for (auto& f : fs) {
        sync_wait(std::move(f));
    }
    REQUIRE(log == std::vector<int>{0, 1, 2, 3});
}

TEST_CASE("a signal with nobody waiting is not remembered") {
    no_abandoned_failures guard;
    condition_variable cv;
    cv.signal();
    cv.broadcast();
    auto f = cv.wait();
    run_all();
    REQUIRE_FALSE(f.available());
    cv.signal();
    sync_wait(std::move(f));
}

TEST_CASE("wait with a true predicate is ready at once and allocates nothing") {
    condition_variable cv;
    auto allocs = task_allocations();
    auto f = cv.wait([] { return true; });
    REQUIRE(f.available());
    REQUIRE(task_allocations() == allocs);
    f.get();
    REQUIRE_FALSE(cv.has_waiters());
}

TEST_CASE("wait with a predicate waits again until the predicate holds") {
    no_abandoned_failures guard;
    condition_variable cv;
    int value = 0;
    int checks = 0;
    auto f = cv.wait([&] {
        ++checks;
        return value >= 2;
    });
    value = 1;
    cv.signal();
    run_all();
    REQUIRE_FALSE(f.available());
    REQUIRE(cv.waiters() == 1);
    value = 2;
    cv.signal();
    sync_wait(std::move(f));
    REQUIRE(checks == 3);
}

TEST_CASE("a producer and a consumer coroutine hand items over through a condition variable") {
    no_abandoned_failures guard;
    condition_variable cv;
    std::deque<int> items;
    auto consumer = [](condition_variable& cv, std::deque<int>& items) -> future<int> {
        int sum = 0;
        for (int i = 0; i < 5; ++i) {
            co_await cv.wait([&] { return !items.empty(); });
            sum += items.front();
            items.pop_front();
        }
        co_return sum;
    }(cv, items);
    for (int i = 1; i <= 5; ++i) {
        items.push_back(i);
        cv.signal();
        run_all();
    }
    REQUIRE(sync_wait(std::move(consumer)) == 15);
}

TEST_CASE("aborting a waiter in the middle fails it and keeps the others in order") {
    no_abandoned_failures guard;
    condition_variable cv;
    abort_source as;
    std::vector<int> log;
    auto f1 = wait_and_log(cv, 1, log);
    auto f2 = cv.wait(as);
    auto f3 = wait_and_log(cv, 3, log);
    as.request_abort();
    REQUIRE(cv.waiters() == 2);
    REQUIRE_THROWS_AS(sync_wait(std::move(f2)), abort_requested_exception);
    cv.signal();
    run_all();
    REQUIRE(log == std::vector<int>{1});
    cv.signal();
    sync_wait(std::move(f1));
    sync_wait(std::move(f3));
    REQUIRE(log == std::vector<int>{1, 3});
}

TEST_CASE("an abortable wait that is signalled unsubscribes from its abort_source") {
    no_abandoned_failures guard;
    condition_variable cv;
    abort_source as;
    auto f = cv.wait(as);
    cv.signal();
    sync_wait(std::move(f));
    as.request_abort();
    REQUIRE_THROWS_AS(sync_wait(cv.wait(as)), abort_requested_exception);
    REQUIRE_FALSE(cv.has_waiters());
}

TEST_CASE("wait with a predicate and an abort_source fails when aborted") {
    no_abandoned_failures guard;
    condition_variable cv;
    abort_source as;
    bool ready = false;
    auto f = cv.wait(as, [&] { return ready; });
    cv.signal();  // predicate still false: waits again
    run_all();
    REQUIRE_FALSE(f.available());
    as.request_abort_ex(std::runtime_error("cancelled"));
    REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "cancelled");
    REQUIRE_FALSE(cv.has_waiters());
}

TEST_CASE("broken() fails current and later waits with broken_condition_variable") {
    no_abandoned_failures guard;
    condition_variable cv;
    auto f1 = cv.wait();
    auto f2 = cv.wait([] { return false; });
    cv.broken();
    REQUIRE(cv.is_broken());
    REQUIRE_THROWS_AS(sync_wait(std::move(f1)), broken_condition_variable);
    REQUIRE_THROWS_WITH(sync_wait(std::move(f2)), "condition variable is broken");
    REQUIRE_THROWS_AS(sync_wait(cv.wait()), broken_condition_variable);
    REQUIRE_THROWS_AS(sync_wait(cv.wait([] { return true; })), broken_condition_variable);
}

TEST_CASE("broken() with an exception delivers it to every waiter") {
    no_abandoned_failures guard;
    condition_variable cv;
    auto f = cv.wait();
    cv.broken(std::make_exception_ptr(std::runtime_error("stopping")));
    REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "stopping");
}

TEST_CASE("a predicate that throws fails the wait") {
    no_abandoned_failures guard;
    condition_variable cv;
    REQUIRE_THROWS_WITH(sync_wait(cv.wait([]() -> bool { throw std::runtime_error("bad predicate"); })),
                        "bad predicate");
    int calls = 0;
    auto f = cv.wait([&]() -> bool {
        if (++calls == 2) {
            throw std::runtime_error("later");
        }
        return false;
    });
    cv.signal();
    REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "later");
}

TEST_CASE("destroying a condition variable fails its waiters") {
    no_abandoned_failures guard;
    std::optional<condition_variable> cv(std::in_place);
    abort_source as;
    auto f = cv->wait(as);
    cv.reset();
    REQUIRE_THROWS_AS(sync_wait(std::move(f)), broken_condition_variable);
    as.request_abort();
}
