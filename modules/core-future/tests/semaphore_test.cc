#include <reef/core/semaphore.hh>

#include <catch2/catch.hpp>

#include "test_support.hh"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

using namespace reef;
using namespace reef::testing;

namespace {

// Checks that a test leaves no failed future unobserved.
// Waits for `n` units, then records `id`.
future<> take(semaphore& s, std::size_t n, int id, std::vector<int>& log) {
    co_await s.wait(n);
    log.push_back(id);
}

// Stands in for the reactor's timed wait: the test "expires" waiters by hand.
struct manual_timeout_waiter final : semaphore_promise_waiter<void> {
    manual_timeout_waiter(std::size_t n, std::vector<manual_timeout_waiter*>& armed)
        : semaphore_promise_waiter<void>(n),
          armed_(&armed) {}
    ~manual_timeout_waiter() override { std::erase(*armed_, this); }
    void on_queued() noexcept override { armed_->push_back(this); }
    std::vector<manual_timeout_waiter*>* armed_;
};

}  // namespace

TEST_CASE("a wait with units available is ready at once and allocates nothing") {
    no_abandoned_failures guard;
    semaphore s(3);
    auto allocs = task_allocations();
    auto f = s.wait(2);
    REQUIRE(f.available());
    REQUIRE(task_allocations() == allocs);
    f.get();
    REQUIRE(s.available_units() == 1);
    REQUIRE(s.current() == 1);
    s.signal(2);
    REQUIRE(s.available_units() == 3);
}

TEST_CASE("a wait that must queue allocates one waiter node") {
    no_abandoned_failures guard;
    semaphore s(0);
    auto allocs = task_allocations();
    auto f = s.wait(1);
    REQUIRE(task_allocations() == allocs + 1);
    REQUIRE_FALSE(f.available());
    REQUIRE(s.waiters() == 1);
    s.signal(1);
    REQUIRE(f.available());
    f.get();
    REQUIRE(s.waiters() == 0);
    REQUIRE(s.available_units() == 0);
}

TEST_CASE("waits are granted in FIFO order as units are signalled") {
    no_abandoned_failures guard;
    semaphore s(0);
    std::vector<int> log;
    std::vector<future<>> fs;
    for (int i = 0; i < 5; ++i) {
        fs.push_back(take(s, 1, i, log));
    }
    REQUIRE(s.waiters() == 5);
    s.signal(2);
    run_all();
    REQUIRE(log == std::vector<int>{0, 1});
    s.signal(3);
    for (auto& f : fs) {
        sync_wait(std::move(f));
    }
    REQUIRE(log == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("a large waiter at the head blocks smaller ones behind it") {
    no_abandoned_failures guard;
    semaphore s(1);
    std::vector<int> log;
    auto big = take(s, 3, 1, log);
    auto small = take(s, 1, 2, log);
    run_all();
    REQUIRE(log.empty());  // one unit is there, but the small wait is behind the big one
    REQUIRE(s.waiters() == 2);
    REQUIRE_FALSE(s.try_wait(1));  // nor may try_wait jump the queue
    s.signal(2);
    sync_wait(std::move(big));
    REQUIRE(log == std::vector<int>{1});
    REQUIRE_FALSE(small.available());
    s.signal(1);
    sync_wait(std::move(small));
    REQUIRE(log == std::vector<int>{1, 2});
}

TEST_CASE("try_wait takes units only when they are there and nobody waits") {
    semaphore s(2);
    REQUIRE(s.try_wait(2));
    REQUIRE_FALSE(s.try_wait(1));
    s.signal(1);
    REQUIRE(s.try_wait());
    REQUIRE(s.available_units() == 0);
}

TEST_CASE("consume may take the count negative and waits resume once it recovers") {
    no_abandoned_failures guard;
    semaphore s(2);
    s.consume(5);
    REQUIRE(s.available_units() == -3);
    REQUIRE(s.current() == 0);
    auto f = s.wait(1);
    s.signal(3);
    REQUIRE_FALSE(f.available());
    s.signal(1);
    REQUIRE(f.available());
    f.get();
}

TEST_CASE("broken() fails every waiter with broken_semaphore, and later waits too") {
    no_abandoned_failures guard;
    semaphore s(0);
    auto f1 = s.wait(1);
    auto f2 = s.wait(2);
    s.broken();
    REQUIRE(s.is_broken());
    REQUIRE(s.waiters() == 0);
    REQUIRE_THROWS_AS(sync_wait(std::move(f1)), broken_semaphore);
    REQUIRE_THROWS_AS(sync_wait(std::move(f2)), broken_semaphore);
    REQUIRE_THROWS_WITH(sync_wait(s.wait(0)), "semaphore broken");
    s.signal(5);
    REQUIRE_FALSE(s.try_wait(1));
    REQUIRE_THROWS_AS(sync_wait(get_units(s, 1)), broken_semaphore);
}

TEST_CASE("broken() with an exception fails waiters with that exception") {
    no_abandoned_failures guard;
    semaphore s(0);
    auto f = s.wait();
    s.broken(std::runtime_error("shard stopping"));
    REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "shard stopping");
    REQUIRE_THROWS_WITH(sync_wait(s.wait()), "shard stopping");
}

TEST_CASE("waits beyond the waiter limit fail at once with semaphore_queue_full") {
    no_abandoned_failures guard;
    semaphore s(0, 2);
    REQUIRE(s.max_waiters() == 2);
    auto f1 = s.wait();
    auto f2 = s.wait();
    auto f3 = s.wait();
    REQUIRE(f3.failed());
    REQUIRE_THROWS_AS(f3.get(), semaphore_queue_full);
    REQUIRE(s.waiters() == 2);
    s.set_max_waiters(3);
    auto f4 = s.wait();
    REQUIRE_FALSE(f4.available());
    s.set_max_waiters(0);
    REQUIRE_THROWS_WITH(sync_wait(s.wait()), "semaphore wait queue is full");
    // A wait that can be granted at once never counts against the limit.
    s.signal(3);
    sync_wait(std::move(f1));
    sync_wait(std::move(f2));
    sync_wait(std::move(f4));
    s.signal(1);
    sync_wait(s.wait());
}

TEST_CASE("aborting a waiter in the middle of the queue fails only it") {
    no_abandoned_failures guard;
    semaphore s(0);
    abort_source as;
    std::vector<int> log;
    auto f1 = take(s, 1, 1, log);
    auto f2 = s.wait(as, 1);
    auto f3 = take(s, 1, 3, log);
    REQUIRE(s.waiters() == 3);
    as.request_abort();
    REQUIRE(s.waiters() == 2);
    REQUIRE_THROWS_AS(sync_wait(std::move(f2)), abort_requested_exception);
    s.signal(2);
    sync_wait(std::move(f1));
    sync_wait(std::move(f3));
    REQUIRE(log == std::vector<int>{1, 3});
    REQUIRE(s.available_units() == 0);
}

TEST_CASE("aborting a large waiter at the head lets the smaller ones behind it proceed") {
    no_abandoned_failures guard;
    semaphore s(2);
    abort_source as;
    auto big = s.wait(as, 10);
    auto small1 = s.wait(1);
    auto small2 = s.wait(1);
    REQUIRE_FALSE(small1.available());
    as.request_abort_ex(std::runtime_error("client went away"));
    REQUIRE_THROWS_WITH(sync_wait(std::move(big)), "client went away");
    REQUIRE(small1.available());
    REQUIRE(small2.available());
    small1.get();
    small2.get();
    REQUIRE(s.available_units() == 0);
}

TEST_CASE("a wait on an already aborted source fails at once, even with units") {
    no_abandoned_failures guard;
    semaphore s(5);
    abort_source as;
    as.request_abort();
    REQUIRE_THROWS_AS(sync_wait(s.wait(as, 1)), abort_requested_exception);
    REQUIRE_THROWS_AS(sync_wait(get_units(s, 1, as)), abort_requested_exception);
    REQUIRE(s.available_units() == 5);
}

TEST_CASE("an abortable wait that is granted unsubscribes from its abort_source") {
    no_abandoned_failures guard;
    semaphore s(0);
    abort_source as;
    auto f = s.wait(as, 1);
    s.signal(1);
    REQUIRE(f.available());
    f.get();
    as.request_abort();  // must not touch the freed waiter (ASan checks)
    REQUIRE(s.available_units() == 0);
    auto allocs = task_allocations();
    auto g = s.wait(as, 1);  // aborted: fails without allocating
    REQUIRE(task_allocations() == allocs);
    REQUIRE(g.failed());
    g.ignore_ready_future();
}

TEST_CASE("an abortable wait that queues allocates one node, subscription included") {
    no_abandoned_failures guard;
    semaphore s(0);
    abort_source as;
    auto allocs = task_allocations();
    auto f = s.wait(as, 1);
    REQUIRE(task_allocations() == allocs + 1);
    s.signal();
    f.get();
}

TEST_CASE("a waiter can be cancelled from outside with semaphore_timed_out") {
    no_abandoned_failures guard;
    semaphore s(0);
    std::vector<manual_timeout_waiter*> armed;
    auto f1 = s.wait_with<manual_timeout_waiter>(1, armed);
    auto f2 = s.wait_with<manual_timeout_waiter>(1, armed);
    auto f3 = s.wait_with<manual_timeout_waiter>(1, armed);
    REQUIRE(armed.size() == 3);
    REQUIRE(armed[1]->units() == 1);
    armed[1]->cancel(std::make_exception_ptr(semaphore_timed_out()));  // the middle one
    REQUIRE(armed.size() == 2);
    REQUIRE(s.waiters() == 2);
    REQUIRE_THROWS_WITH(sync_wait(std::move(f2)), "semaphore timed out");
    s.signal(2);
    REQUIRE(armed.empty());  // granted waiters are destroyed, "disarming" themselves
    f1.get();
    f3.get();
    // A wait granted at once never builds the waiter.
    s.signal(1);
    sync_wait(s.wait_with<manual_timeout_waiter>(1, armed));
    REQUIRE(armed.empty());
}

TEST_CASE("destroying a semaphore fails its remaining waiters with broken_semaphore") {
    no_abandoned_failures guard;
    future<> f = make_ready_future<>();
    abort_source as;
    {
        semaphore s(0);
        f = s.wait(as, 1);
    }
    REQUIRE_THROWS_AS(sync_wait(std::move(f)), broken_semaphore);
    as.request_abort();  // the subscription went with the waiter
}

TEST_CASE("semaphore_units return their units when destroyed") {
    no_abandoned_failures guard;
    semaphore s(3);
    {
        auto u = sync_wait(get_units(s, 2));
        REQUIRE(u.count() == 2);
        REQUIRE(u);
        REQUIRE(s.available_units() == 1);
    }
    REQUIRE(s.available_units() == 3);
}

TEST_CASE("semaphore_units are returned when a coroutine holding them fails") {
    no_abandoned_failures guard;
    semaphore s(1);
    auto work = [](semaphore& s) -> future<int> {
        auto units = co_await get_units(s, 1);
        co_await s.wait(0);  // suspends behind nobody; still ready
        throw std::runtime_error("work failed");
    };
    REQUIRE_THROWS_WITH(sync_wait(work(s)), "work failed");
    REQUIRE(s.available_units() == 1);
}

TEST_CASE("get_units waits in line and delivers the units") {
    no_abandoned_failures guard;
    semaphore s(0);
    auto f = get_units(s, 2);
    REQUIRE_FALSE(f.available());
    s.signal(1);
    REQUIRE_FALSE(f.available());
    s.signal(1);
    auto u = sync_wait(std::move(f));
    REQUIRE(u.count() == 2);
    REQUIRE(s.available_units() == 0);
    u.return_all();
    REQUIRE(s.available_units() == 2);
    REQUIRE(u.count() == 0);
}

TEST_CASE("get_units with an abort_source fails when aborted while waiting") {
    no_abandoned_failures guard;
    semaphore s(0);
    abort_source as;
    auto f = get_units(s, 1, as);
    as.request_abort();
    REQUIRE_THROWS_AS(sync_wait(std::move(f)), abort_requested_exception);
    REQUIRE(s.waiters() == 0);
    s.signal(1);
    REQUIRE(s.available_units() == 1);
}

TEST_CASE("return_units, split, adopt and release move units precisely") {
    semaphore s(10);
    auto u = consume_units(s, 6);
    REQUIRE(s.available_units() == 4);
    REQUIRE(u.return_units(2) == 4);
    REQUIRE(s.available_units() == 6);
    auto part = u.split(3);
    REQUIRE(part.count() == 3);
    REQUIRE(u.count() == 1);
    u.adopt(std::move(part));
    REQUIRE(u.count() == 4);
    REQUIRE(part.count() == 0);
    REQUIRE_THROWS_AS(u.return_units(5), std::invalid_argument);
    REQUIRE_THROWS_AS(u.split(5), std::invalid_argument);
    REQUIRE(u.count() == 4);
    REQUIRE(u.release() == 4);
    REQUIRE_FALSE(u);
    REQUIRE(s.available_units() == 6);  // released units stay taken
    s.signal(4);

    semaphore other(1);
    auto a = consume_units(s, 1);
    auto b = consume_units(other, 1);
    REQUIRE_THROWS_AS(a.adopt(std::move(b)), std::invalid_argument);
    semaphore_units empty;
    empty.adopt(std::move(b));
    REQUIRE(empty.count() == 1);
    empty = std::move(a);  // returns other's unit, takes a's
    REQUIRE(other.available_units() == 1);
    REQUIRE(empty.count() == 1);
}

TEST_CASE("try_get_units takes units only when they are there") {
    semaphore s(1);
    auto u = try_get_units(s, 1);
    REQUIRE(u);
    REQUIRE(u->count() == 1);
    REQUIRE_FALSE(try_get_units(s, 1));
    u.reset();
    REQUIRE(s.available_units() == 1);
}

TEST_CASE("with_semaphore holds the units until the function's future resolves") {
    no_abandoned_failures guard;
    semaphore s(1);
    promise<int> pr;
    auto f = with_semaphore(s, 1, [&] { return pr.get_future(); });
    REQUIRE(s.available_units() == 0);
    auto second = with_semaphore(s, 1, [] { return 7; });
    REQUIRE_FALSE(second.available());
    pr.set_value(5);
    REQUIRE(sync_wait(std::move(f)) == 5);
    REQUIRE(sync_wait(std::move(second)) == 7);
    REQUIRE(s.available_units() == 1);
}

TEST_CASE("with_semaphore returns the units when the function throws or fails") {
    no_abandoned_failures guard;
    semaphore s(2);
    REQUIRE_THROWS_WITH(sync_wait(with_semaphore(s, 2, []() -> int { throw std::runtime_error("sync"); })),
                        "sync");
    REQUIRE(s.available_units() == 2);
    auto failing = [](semaphore& s) -> future<> {
        co_await s.wait(0);
        throw std::runtime_error("async");
    };
    REQUIRE_THROWS_WITH(sync_wait(with_semaphore(s, 1, [&] { return failing(s); })), "async");
    REQUIRE(s.available_units() == 2);
}

TEST_CASE("with_semaphore on a broken semaphore fails without calling the function") {
    no_abandoned_failures guard;
    semaphore s(1);
    s.broken();
    bool called = false;
    REQUIRE_THROWS_AS(sync_wait(with_semaphore(s, 1, [&] { called = true; })), broken_semaphore);
    REQUIRE_FALSE(called);
}

TEST_CASE("many coroutines share a semaphore without exceeding it") {
    no_abandoned_failures guard;
    semaphore s(3);
    int inside = 0;
    int peak = 0;
    std::vector<promise<>> gates(10);
    std::vector<future<>> fs;
    for (auto& g : gates) {
        fs.push_back(with_semaphore(s, 1, [&, f = g.get_future()]() mutable -> future<> {
            ++inside;
            peak = std::max(peak, inside);
            return std::move(f).then([&] { --inside; });
        }));
    }
    for (auto& g : gates) {
        g.set_value();
        run_all();
    }
    for (auto& f : fs) {
        sync_wait(std::move(f));
    }
    REQUIRE(peak == 3);
    REQUIRE(inside == 0);
    REQUIRE(s.available_units() == 3);
}

TEST_CASE("a queued wait whose future was dropped does not swallow units") {
    reef::semaphore sem(0);
    {
        auto dropped = sem.wait(2);
        REQUIRE_FALSE(dropped.available());
    }
    auto kept = sem.wait(1);
    sem.signal(2);
    REQUIRE(kept.available());
    kept.get();
    REQUIRE(sem.available_units() == 1);
    {
        auto dropped_units = reef::get_units(sem, 5);
    }
    sem.signal(4);
    REQUIRE(sem.available_units() == 5);
    REQUIRE(sem.waiters() == 0);  // skipped when the signal reached it
    auto after = sem.wait(5);
    REQUIRE(after.available());
    after.get();
    REQUIRE(sem.waiters() == 0);
}
