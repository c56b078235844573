#include <reef/core/when_all.hh>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

using namespace reef;

// Counts the heap allocations of this test program. Not under sanitizers, whose runtime
// owns operator new.
#ifndef REEF_SANITIZE
#include "counting_new.hh"
#endif

namespace {

struct alloc_counter {
    #ifndef REEF_SANITIZE
    std::size_t heap = counting_new::count;
#endif
    std::uint64_t tasks = task_allocations();
    // True if exactly n heap allocations were made (always true where they are not counted).
    bool heap_is(std::size_t n) const {
#ifdef REEF_SANITIZE
        (void)n;
        return true;
#else
        return counting_new::count - heap == n;
#endif
    }
    std::uint64_t task_delta() const { return task_allocations() - tasks; }
};

std::exception_ptr error(const char* what) {
    return std::make_exception_ptr(std::runtime_error(what));
}

std::string message(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return ex.what();
    }
}

}  // namespace

TEST_CASE("when_all of ready futures resolves at once without allocating") {
    auto a = make_ready_future<int>(1);
    auto b = make_ready_future<>();
    auto c = make_ready_future<long>(3);
    alloc_counter count;
    auto f = when_all(std::move(a), std::move(b), std::move(c));
    // Read both counts before any assertion: reporters may allocate.
    bool no_heap = count.heap_is(0);
    REQUIRE(count.task_delta() == 0);
    REQUIRE(no_heap);
    REQUIRE(f.available());
    auto [fa, fb, fc] = f.get();
    REQUIRE(fa.get() == 1);
    fb.get();
    REQUIRE(fc.get() == 3);
}

TEST_CASE("when_all with no arguments resolves with an empty tuple") {
    auto f = when_all();
    REQUIRE(f.available());
    static_assert(std::is_same_v<decltype(f), future<std::tuple<>>>);
    f.get();
}

TEST_CASE("when_all waits for unready futures resolved in any order") {
    promise<int> p1;
    promise<std::string> p2;
    promise<> p3;
    alloc_counter count;
    auto f = when_all(p1.get_future(), p2.get_future(), p3.get_future());
    REQUIRE(count.task_delta() == 1);
    REQUIRE_FALSE(f.available());
    p3.set_value();
    run_pending_tasks();
    p1.set_value(1);
    run_pending_tasks();
    REQUIRE_FALSE(f.available());
    p2.set_value("two");
    auto [f1, f2, f3] = sync_wait(std::move(f));
    REQUIRE(f1.get() == 1);
    REQUIRE(f2.get() == "two");
    f3.get();
    REQUIRE(count.task_delta() == 1);
}

TEST_CASE("when_all never fails and hands back failed futures for the caller to consume") {
    auto failures = abandoned_failures();
    promise<int> p;
    auto f = when_all(make_exception_future<int>(error("first")), p.get_future(),
                      make_exception_future<>(error("last")));
    p.set_exception(error("middle"));
    auto [a, b, c] = sync_wait(std::move(f));
    REQUIRE(a.failed());
    REQUIRE(b.failed());
    REQUIRE(c.failed());
    REQUIRE(message(a.get_exception()) == "first");
    REQUIRE(message(b.get_exception()) == "middle");
    REQUIRE(message(c.get_exception()) == "last");
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("when_all over a range keeps the order of the range") {
    std::vector<promise<int>> ps(4);
    std::vector<future<int>> fs;
    for (auto& p : ps) {
        fs.push_back(p.get_future());
    }
    fs.push_back(make_ready_future<int>(99));
    auto f = when_all(fs.begin(), fs.end());
    for (int i : {3, 1, 0, 2}) {
        REQUIRE_FALSE(f.available());
        ps[i].set_value(i * 10);
        run_pending_tasks();
    }
    auto done = sync_wait(std::move(f));
    REQUIRE(done.size() == 5);
    for (int i = 0; i < 4; ++i) {
        REQUIRE(done[i].get() == i * 10);
    }
    REQUIRE(done[4].get() == 99);
}

TEST_CASE("when_all over an empty range resolves with an empty vector") {
    std::vector<future<>> fs;
    auto f = when_all(fs.begin(), fs.end());
    REQUIRE(f.available());
    REQUIRE(f.get().empty());
}

TEST_CASE("when_all over a range of ready futures allocates no task") {
    std::vector<future<int>> fs;
    for (int i = 0; i < 10; ++i) {
        fs.push_back(make_ready_future<int>(i));
    }
    alloc_counter count;
    auto f = when_all(fs.begin(), fs.end());
    bool one_heap = count.heap_is(1);  // the result vector; read before assertions allocate
    REQUIRE(count.task_delta() == 0);
    REQUIRE(one_heap);
    REQUIRE(f.get().size() == 10);
}

TEST_CASE("when_all_succeed returns the values and drops the voids") {
    auto f = when_all_succeed(make_ready_future<int>(1), make_ready_future<>(),
                              make_ready_future<std::string>("s"));
    static_assert(std::is_same_v<decltype(f), future<std::tuple<int, std::string>>>);
    auto [i, s] = f.get();
    REQUIRE(i == 1);
    REQUIRE(s == "s");
    auto one = when_all_succeed(make_ready_future<int>(5), make_ready_future<>());
    static_assert(std::is_same_v<decltype(one), future<std::tuple<int>>>);
    REQUIRE(std::get<0>(one.get()) == 5);
    auto none = when_all_succeed(make_ready_future<>(), make_ready_future<>());
    static_assert(std::is_same_v<decltype(none), future<std::tuple<>>>);
    none.get();
}

TEST_CASE("when_all_succeed of ready futures does not allocate") {
    auto a = make_ready_future<int>(1);
    auto b = make_ready_future<>();
    alloc_counter count;
    auto f = when_all_succeed(std::move(a), std::move(b));
    // Read both counts before any assertion: reporters may allocate.
    bool no_heap = count.heap_is(0);
    REQUIRE(count.task_delta() == 0);
    REQUIRE(no_heap);
    REQUIRE(std::get<0>(f.get()) == 1);
}

TEST_CASE("when_all_succeed waits for unready futures") {
    promise<int> p1;
    promise<> p2;
    auto f = when_all_succeed(p1.get_future(), p2.get_future(), make_ready_future<int>(3));
    p2.set_value();
    run_pending_tasks();
    REQUIRE_FALSE(f.available());
    p1.set_value(1);
    auto [a, b] = sync_wait(std::move(f));
    REQUIRE(a == 1);
    REQUIRE(b == 3);
}

TEST_CASE("when_all_succeed fails with the first failure in argument order in every position") {
    auto failures = abandoned_failures();
    for (int bad = 0; bad < 3; ++bad) {
        std::vector<promise<int>> ps(3);
        auto f = when_all_succeed(ps[0].get_future(), ps[1].get_future(), ps[2].get_future());
        // Resolve from last to first, so the first failure in argument order is not
        // the first to arrive.
        for (int i = 2; i >= 0; --i) {
            if (i >= bad) {
                ps[i].set_exception(error(i == bad ? "wanted" : "other"));
            } else {
                ps[i].set_value(i);
            }
            run_pending_tasks();
        }
        REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "wanted");
    }
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("when_all_succeed waits for every future before failing") {
    auto failures = abandoned_failures();
    promise<> late;
    auto f = when_all_succeed(make_exception_future<>(error("early")), late.get_future());
    run_pending_tasks();
    REQUIRE_FALSE(f.available());
    late.set_exception(error("late"));
    REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "early");
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("when_all_succeed of ready failures fails at once and reports nothing") {
    auto failures = abandoned_failures();
    auto f = when_all_succeed(make_ready_future<int>(1), make_exception_future<int>(error("a")),
                              make_exception_future<>(error("b")));
    REQUIRE(f.failed());
    REQUIRE_THROWS_WITH(f.get(), "a");
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("when_all_succeed over a range returns the values in order") {
    std::vector<promise<int>> ps(3);
    std::vector<future<int>> fs;
    for (auto& p : ps) {
        fs.push_back(p.get_future());
    }
    auto f = when_all_succeed(fs.begin(), fs.end());
    ps[2].set_value(2);
    ps[0].set_value(0);
    run_pending_tasks();
    ps[1].set_value(1);
    REQUIRE(sync_wait(std::move(f)) == std::vector<int>{0, 1, 2});
}

TEST_CASE("when_all_succeed over a range of void futures resolves with future<>") {
    std::vector<future<>> fs;
    fs.push_back(make_ready_future<>());
    promise<> p;
    fs.push_back(p.get_future());
    auto f = when_all_succeed(fs.begin(), fs.end());
    static_assert(std::is_same_v<decltype(f), future<>>);
    p.set_value();
    sync_wait(std::move(f));
}

TEST_CASE("when_all_succeed over a range fails with the first failure in range order") {
    auto failures = abandoned_failures();
    for (std::size_t bad : {0u, 2u, 4u}) {
        std::vector<promise<>> ps(5);
        std::vector<future<>> fs;
        for (auto& p : ps) {
            fs.push_back(p.get_future());
        }
        auto f = when_all_succeed(fs.begin(), fs.end());
        for (std::size_t i = 0; i < ps.size(); ++i) {
            if (i == bad) {
                ps[i].set_exception(error("wanted"));
            } else if (i > bad) {
                ps[i].set_exception(error("other"));
            } else {
                ps[i].set_value();
            }
        }
        REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "wanted");
    }
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("when_all_succeed awaits in a coroutine") {
    promise<int> p;
    auto coro = [](future<int> a) -> future<int> {
        auto [x, y] = co_await when_all_succeed(std::move(a), make_ready_future<int>(2));
        co_return x + y;
    }(p.get_future());
    p.set_value(40);
    REQUIRE(sync_wait(std::move(coro)) == 42);
}
