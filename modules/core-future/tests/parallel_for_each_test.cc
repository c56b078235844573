#include <reef/core/parallel_for_each.hh>

#include <catch2/catch.hpp>

#include "test_support.hh"

#include <list>
#include <map>
#include <numeric>
#include <stdexcept>
#include <vector>

using namespace reef;
using namespace reef::testing;

namespace {

std::exception_ptr error(const char* what) {
    return std::make_exception_ptr(std::runtime_error(what));
}

}  // namespace

TEST_CASE("parallel_for_each starts every call before waiting") {
    std::vector<int> v{0, 1, 2, 3};
    std::vector<promise<>> ps(4);
    std::vector<int> started;
    auto f = parallel_for_each(v, [&](int i) {
        started.push_back(i);
        return ps[i].get_future();
    });
    REQUIRE(started == v);
    for (int i : {2, 0, 3}) {
        ps[i].set_value();
        run_pending_tasks();
        REQUIRE_FALSE(f.available());
    }
    ps[1].set_value();
    sync_wait(std::move(f));
}

TEST_CASE("parallel_for_each over ready calls resolves at once without allocating") {
    std::vector<int> v(100);
    std::iota(v.begin(), v.end(), 0);
    int sum = 0;
    auto before = task_allocations();
    auto f = parallel_for_each(v.begin(), v.end(), [&](int i) { sum += i; });
    REQUIRE(task_allocations() == before);
    REQUIRE(f.available());
    f.get();
    REQUIRE(sum == 4950);
    auto g = parallel_for_each(v, [&](int) { return make_ready_future<>(); });
    REQUIRE(g.available());
    g.get();
}

TEST_CASE("parallel_for_each allocates one task however many calls are pending") {
    std::vector<promise<>> ps(50);
    auto before = task_allocations();
    auto f = parallel_for_each(ps, [](promise<>& p) { return p.get_future(); });
    REQUIRE(task_allocations() - before == 1);
    for (auto& p : ps) {
        p.set_value();
    }
    sync_wait(std::move(f));
    REQUIRE(task_allocations() - before == 1);
}

TEST_CASE("parallel_for_each over an empty range resolves at once") {
    std::vector<int> v;
    auto f = parallel_for_each(v, [](int) { FAIL("called"); });
    REQUIRE(f.available());
    f.get();
}

TEST_CASE("parallel_for_each fails after all complete when a call throws in any position") {
    auto failures = abandoned_failures();
    for (int bad : {0, 2, 4}) {
        std::vector<promise<>> ps(5);
        std::vector<int> v{0, 1, 2, 3, 4};
        int started = 0;
        auto f = parallel_for_each(v, [&](int i) -> future<> {
            ++started;
            if (i == bad) {
                throw std::runtime_error("thrown");
            }
            return ps[i].get_future();
        });
        REQUIRE(started == 5);  // a failure does not stop the other calls
        for (int i = 0; i < 5; ++i) {
            if (i != bad) {
                REQUIRE_FALSE(f.available());
                ps[i].set_value();
                run_pending_tasks();
            }
        }
        REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "thrown");
    }
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("parallel_for_each fails with one failure and consumes the others") {
    auto failures = abandoned_failures();
    std::vector<promise<>> ps(4);
    auto f = parallel_for_each(ps, [](promise<>& p) { return p.get_future(); });
    ps[3].set_exception(error("late failure"));
    ps[0].set_value();
    ps[1].set_exception(error("early failure"));
    run_pending_tasks();
    REQUIRE_FALSE(f.available());
    ps[2].set_value();
    REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "early failure");
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("parallel_for_each mixes ready failures, ready values and pending calls") {
    auto failures = abandoned_failures();
    std::vector<int> v{0, 1, 2, 3};
    promise<> p;
    auto f = parallel_for_each(v, [&](int i) {
        switch (i) {
            case 0:
                return make_ready_future<>();
            case 1:
                return make_exception_future<>(error("returned"));
            case 2:
                return p.get_future();
            default:
                return make_exception_future<>(error("another"));
        }
    });
    REQUIRE_FALSE(f.available());
    p.set_exception(error("pending"));
    REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "returned");
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("parallel_for_each works with coroutines and input of any iterator kind") {
    std::list<int> l{1, 2, 3};
    std::map<int, promise<>> ps;
    for (int i : l) {
        ps[i];
    }
    int sum = 0;
    // A coroutine lambda is named: its suspended calls refer to it after the call returns.
    auto add = [&](int i) -> future<> {
        co_await ps[i].get_future();
        sum += i;
    };
    auto f = parallel_for_each(l, add);
    for (auto& [i, p] : ps) {
        p.set_value();
    }
    sync_wait(std::move(f));
    REQUIRE(sum == 6);
}

TEST_CASE("max_concurrent_for_each keeps at most N calls in flight") {
    std::vector<int> v(20);
    std::iota(v.begin(), v.end(), 0);
    std::vector<promise<>> ps(20);
    int in_flight = 0;
    int peak = 0;
    int started = 0;
    auto f = max_concurrent_for_each(v, 3, [&](int i) {
        ++started;
        peak = std::max(peak, ++in_flight);
        return ps[i].get_future().then([&] { --in_flight; });
    });
    REQUIRE(started == 3);
    for (int i = 0; i < 20; ++i) {
        ps[i].set_value();
        run_pending_tasks();
        REQUIRE(in_flight <= 3);
    }
    sync_wait(std::move(f));
    REQUIRE(started == 20);
    REQUIRE(peak == 3);
    REQUIRE(in_flight == 0);
}

TEST_CASE("max_concurrent_for_each completes out-of-order calls") {
    std::vector<int> v{0, 1, 2, 3, 4, 5};
    std::vector<promise<>> ps(6);
    std::vector<int> started;
    auto f = max_concurrent_for_each(v.begin(), v.end(), 2, [&](int i) {
        started.push_back(i);
        return ps[i].get_future();
    });
    REQUIRE(started == std::vector<int>{0, 1});
    ps[1].set_value();
    run_pending_tasks();
    REQUIRE(started == std::vector<int>{0, 1, 2});
    ps[2].set_value();
    ps[0].set_value();
    run_pending_tasks();
    REQUIRE(started == std::vector<int>{0, 1, 2, 3, 4});
    for (int i : {4, 3, 5}) {
        ps[i].set_value();
        run_pending_tasks();
    }
    REQUIRE(f.available());
    f.get();
    REQUIRE(started == v);
}

TEST_CASE("max_concurrent_for_each with ready calls does not allocate") {
    std::vector<int> v(1000, 1);
    int sum = 0;
    auto before = task_allocations();
    auto f = max_concurrent_for_each(v, 4, [&](int i) { sum += i; });
    REQUIRE(task_allocations() == before);
    REQUIRE(f.available());
    f.get();
    REQUIRE(sum == 1000);
}

TEST_CASE("max_concurrent_for_each fails with the first failure after all complete") {
    auto failures = abandoned_failures();
    for (int bad : {0, 3, 5}) {
        std::vector<int> v{0, 1, 2, 3, 4, 5};
        std::vector<promise<>> ps(6);
        int started = 0;
        auto f = max_concurrent_for_each(v, 2, [&](int i) -> future<> {
            ++started;
            if (i == bad) {
                throw std::runtime_error("thrown");
            }
            if (i == 4) {
                return make_exception_future<>(error("later failure"));
            }
            return ps[i].get_future();
        });
        while (!f.available()) {
            for (auto& p : ps) {
                p.set_value();
            }
            run_pending_tasks();
        }
        REQUIRE(started == 6);
        REQUIRE_THROWS_WITH(f.get(), bad < 4 ? "thrown" : "later failure");
    }
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("max_concurrent_for_each with zero concurrency runs one at a time") {
    std::vector<int> v{0, 1, 2};
    std::vector<promise<>> ps(3);
    int started = 0;
    auto f = max_concurrent_for_each(v, 0, [&](int i) {
        ++started;
        return ps[i].get_future();
    });
    REQUIRE(started == 1);
    for (auto& p : ps) {
        p.set_value();
        run_pending_tasks();
    }
    sync_wait(std::move(f));
    REQUIRE(started == 3);
}

TEST_CASE("max_concurrent_for_each under preemption completes through the queue") {
    forced_preemption preempt;
    std::vector<int> v(500, 1);
    int sum = 0;
    auto f = max_concurrent_for_each(v, 3, [&](int i) { sum += i; });
    REQUIRE_FALSE(f.available());
    sync_wait(std::move(f));
    REQUIRE(sum == 500);
}

TEST_CASE("parallel_for_each under preemption still completes") {
    forced_preemption preempt;
    std::vector<promise<>> ps(10);
    auto f = parallel_for_each(ps, [](promise<>& p) { return p.get_future().then([] {}); });
    for (auto& p : ps) {
        p.set_value();
    }
    sync_wait(std::move(f));
}
