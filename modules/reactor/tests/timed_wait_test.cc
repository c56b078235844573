// Timeouts on core-future's waits (semaphore, condition_variable, queue), kept by the
// reactor's timers through core-future's timeout hook.
#include <reef/core/timeout.hh>

#include <reef/testing/test_case.hh>

#include <chrono>
#include <vector>

#include <reef/core/condition_variable.hh>
#include <reef/core/coroutine.hh>
#include <reef/core/queue.hh>
#include <reef/core/semaphore.hh>
#include <reef/reactor/clock.hh>
#include <reef/reactor/sleep.hh>
#include <reef/reactor/smp.hh>
#include <reef/reactor/timer.hh>

using namespace reef;
using namespace std::chrono_literals;

namespace {
future<> wait_and_log(semaphore& sem, future<> wait, int id, std::vector<int>& log) {
    auto r = co_await coroutine::as_future(std::move(wait));
    if (r.failed()) {
        try {
            std::rethrow_exception(r.get_exception());
        } catch (const semaphore_timed_out&) {
            log.push_back(-id);
        }
        co_return;
    }
    log.push_back(id);
    sem.signal();
}
}  // namespace

REEF_TEST_CASE("a semaphore wait times out with semaphore_timed_out at its deadline") {
    semaphore sem(0);
    auto start = steady_clock_type::now();
    REQUIRE_THROWS_AS(co_await sem.wait(3ms), semaphore_timed_out);
    REQUIRE(steady_clock_type::now() - start >= 3ms);
    REQUIRE(sem.waiters() == 0);
    REQUIRE(sem.available_units() == 0);
    REQUIRE_THROWS_AS(co_await sem.wait(steady_clock_type::now() + 1ms, 2), semaphore_timed_out);
    REQUIRE_THROWS_AS(co_await sem.wait(lowres_clock::now() + 1ms), semaphore_timed_out);
    sem.signal(2);
    co_await sem.wait(steady_clock_type::now() - 1s, 2);  // units there: no timer, no timeout
    REQUIRE(sem.available_units() == 0);
}

REEF_TEST_CASE("a timed-out semaphore waiter leaves the others in FIFO order") {
    semaphore sem(0);
    std::vector<int> log;
    std::vector<future<>> fs;
    fs.push_back(wait_and_log(sem, sem.wait(1s), 1, log));
    fs.push_back(wait_and_log(sem, sem.wait(2ms), 2, log));
    fs.push_back(wait_and_log(sem, sem.wait(), 3, log));
    fs.push_back(wait_and_log(sem, sem.wait(3ms), 4, log));
    fs.push_back(wait_and_log(sem, sem.wait(1s), 5, log));
    co_await sleep(8ms);
    REQUIRE(log == std::vector<int>{-2, -4});
    REQUIRE(sem.waiters() == 3);
    sem.signal();  // each granted waiter signals again: 1, 3, 5 in order
    for (auto& f : fs) {
        co_await std::move(f);
    }
    REQUIRE(log == std::vector<int>{-2, -4, 1, 3, 5});
    REQUIRE(sem.available_units() == 1);
}

REEF_TEST_CASE("a timed-out large wait at the head lets smaller waits behind it through") {
    semaphore sem(1);
    // Margins for a loaded machine: the check at 1 ms must come well before the 200 ms
    // deadline even when the sleep overshoots.
    auto big = sem.wait(200ms, 5);
    auto small = sem.wait();  // blocked behind the big one (FIFO) although a unit is there
    co_await sleep(1ms);
    REQUIRE_FALSE(small.available());
    REQUIRE_THROWS_AS(co_await std::move(big), semaphore_timed_out);
    co_await std::move(small);
    REQUIRE(sem.available_units() == 0);
}

REEF_TEST_CASE("get_units with a timeout returns units or times out") {
    semaphore sem(2);
    {
        auto u = co_await get_units(sem, 2, 1s);
        REQUIRE(u.count() == 2);
        REQUIRE_THROWS_AS(co_await get_units(sem, 1, steady_clock_type::now() + 2ms), semaphore_timed_out);
        timer<> t([&] { u.return_all(); });
        t.arm(1ms);
        auto v = co_await get_units(sem, 1, 1s);
        REQUIRE(v.count() == 1);
    }
    REQUIRE(sem.available_units() == 2);
}

REEF_TEST_CASE("a signal exactly at the deadline has one outcome and loses no units") {
    int granted = 0;
    int timed_out = 0;
    for (int i = 0; i < 200; ++i) {
        semaphore sem(0);
        auto deadline = steady_clock_type::now() + 200us;
        bool signal_first = i % 2 == 0;
        timer<> signaller([&] { sem.signal(); });
        future<> w = make_ready_future<>();
        // Equal deadlines fire in arm order: the signal before or after the timeout.
        if (signal_first) {
            signaller.arm(deadline);
            w = sem.wait(deadline);
        } else {
            w = sem.wait(deadline);
            signaller.arm(deadline);
        }
        auto r = co_await coroutine::as_future(std::move(w));
        if (r.failed()) {
            REQUIRE_THROWS_AS(r.get(), semaphore_timed_out);
            ++timed_out;
            co_await sleep(0ms);                  // let the signal, queued with the timeout, run
            REQUIRE(sem.available_units() == 1);  // the unit stayed in the semaphore
        } else {
            r.get();
            ++granted;
            REQUIRE(sem.available_units() == 0);  // the waiter took it
        }
        REQUIRE(sem.waiters() == 0);
        REQUIRE(granted + timed_out == i + 1);
    }
    REQUIRE(granted == 100);
    REQUIRE(timed_out == 100);
}

REEF_TEST_CASE("a dropped timed wait cancels its timer") {
    semaphore sem(0);
    { auto w = sem.wait(1ms); }
    sem.signal();  // skips the dropped waiter
    REQUIRE(sem.available_units() == 1);
    co_await sleep(3ms);
    REQUIRE(sem.available_units() == 1);
}

REEF_TEST_CASE("condition_variable waits time out with condition_variable_timed_out") {
    condition_variable cv;
    auto start = steady_clock_type::now();
    REQUIRE_THROWS_AS(co_await cv.wait(2ms), condition_variable_timed_out);
    REQUIRE(steady_clock_type::now() - start >= 2ms);
    REQUIRE_FALSE(cv.has_waiters());
    auto w = cv.wait(steady_clock_type::now() + 1s);
    REQUIRE(cv.waiters() == 1);
    cv.signal();
    co_await std::move(w);
    // The timed-out one leaves the queue; others keep their turn.
    auto a = cv.wait(1ms);
    auto b = cv.wait(1s);
    REQUIRE_THROWS_AS(co_await std::move(a), condition_variable_timed_out);
    REQUIRE(cv.waiters() == 1);
    cv.signal();
    co_await std::move(b);
    // broken() fails a timed waiter and cancels its timer.
    auto c = cv.wait(1ms);
    cv.broken();
    REQUIRE_THROWS_AS(co_await std::move(c), broken_condition_variable);
    co_await sleep(2ms);
}

REEF_TEST_CASE("condition_variable predicate waits with a deadline") {
    condition_variable cv;
    int value = 0;
    co_await cv.wait(1ms, [&] { return true; });  // true now: ready
    timer<> t([&] {
        value = 1;
        cv.signal();  // wakes, predicate still false
    });
    t.arm(1ms);
    REQUIRE_THROWS_AS(co_await cv.wait(steady_clock_type::now() + 5ms, [&] { return value == 2; }),
                      condition_variable_timed_out);
    REQUIRE(value == 1);
    timer<> t2([&] {
        value = 2;
        cv.broadcast();
    });
    t2.arm(1ms);
    co_await cv.wait(1s, [&] { return value == 2; });
}

REEF_TEST_CASE("queue pop_eventually and push_eventually time out") {
    queue<int> q(1);
    REQUIRE_THROWS_AS(co_await q.pop_eventually(2ms), queue_timed_out);
    REQUIRE(q.empty());
    co_await q.push_eventually(1, 1s);
    REQUIRE_THROWS_AS(co_await q.push_eventually(2, steady_clock_type::now() + 2ms), queue_timed_out);
    REQUIRE(q.size() == 1);
    REQUIRE(co_await q.pop_eventually(1s) == 1);
    timer<> t([&] { q.push(3); });
    t.arm(1ms);
    REQUIRE(co_await q.pop_eventually(1s) == 3);
}

REEF_TEST_CASE("timed waits also work on the other shards") {
    bool ok = co_await smp::submit_to(1, []() -> future<bool> {
        semaphore sem(0);
        auto r = co_await coroutine::as_future(sem.wait(1ms));
        bool timed_out = r.failed();
        r.ignore_ready_future();
        co_return timed_out;
    });
    REQUIRE(ok);
}
