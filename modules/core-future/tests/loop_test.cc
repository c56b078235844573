#include <reef/core/loop.hh>

#include <catch2/catch.hpp>

#include "test_support.hh"

#include <cstdint>
#include <deque>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <vector>

using namespace reef;
using namespace reef::testing;

namespace {

// Records the lowest and highest stack addresses seen by a loop body.
struct stack_span {
    std::uintptr_t lo = UINTPTR_MAX;
    std::uintptr_t hi = 0;
    void note() {
        // The frame address, not a local's: AddressSanitizer may move locals off the stack.
        auto a = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
        lo = a < lo ? a : lo;
        hi = a > hi ? a : hi;
    }
    std::uintptr_t width() const { return hi - lo; }
};

// Promises handed out one per iteration, resolved by the test.
struct promise_source {
    std::deque<promise<>> promises;
    future<> next() {
        promises.emplace_back();
        return promises.back().get_future();
    }
};

}  // namespace

TEST_CASE("repeat calls the action until it returns stop_iteration::yes") {
    int n = 0;
    auto f = repeat([&] { return ++n == 5 ? stop_iteration::yes : stop_iteration::no; });
    REQUIRE(f.available());
    f.get();
    REQUIRE(n == 5);
}

TEST_CASE("repeat with ready futures does not allocate") {
    int n = 0;
    auto before = task_allocations();
    auto f = repeat([&] {
        return make_ready_future<stop_iteration>(++n == 1000 ? stop_iteration::yes : stop_iteration::no);
    });
    REQUIRE(task_allocations() == before);
    REQUIRE(f.available());
    f.get();
    REQUIRE(n == 1000);
}

TEST_CASE("repeat runs ten million ready iterations without growing the stack") {
    long n = 0;
    stack_span span;
    auto f = repeat([&] {
        span.note();
        return make_ready_future<stop_iteration>(++n == 10'000'000 ? stop_iteration::yes
                                                                   : stop_iteration::no);
    });
    sync_wait(std::move(f));
    REQUIRE(n == 10'000'000);
    REQUIRE(span.width() < 4096);
}

TEST_CASE("repeat runs ten million iterations of a coroutine body without growing the stack") {
    long n = 0;
    stack_span span;
    auto body = [&]() -> future<stop_iteration> {
        span.note();
        co_await make_ready_future<>();
        co_return ++n == 10'000'000 ? stop_iteration::yes : stop_iteration::no;
    };
    sync_wait(repeat(body));
    REQUIRE(n == 10'000'000);
    REQUIRE(span.width() < 4096);
}

TEST_CASE("repeat waits for unready iterations and allocates one task for all of them") {
    promise_source src;
    int n = 0;
    auto before = task_allocations();
    auto f = repeat([&] {
        return src.next().then([&] { return ++n == 100 ? stop_iteration::yes : stop_iteration::no; });
    });
    // The continuations of then() are the caller's; count the loop's own by difference.
    auto after_first = task_allocations();
    REQUIRE_FALSE(f.available());
    for (int i = 0; i < 100; ++i) {
        REQUIRE(src.promises.size() == std::size_t(i + 1));
        src.promises.back().set_value();
        run_pending_tasks();
    }
    REQUIRE(f.available());
    f.get();
    REQUIRE(n == 100);
    // 100 then() continuations plus exactly one loop task.
    REQUIRE(after_first - before == 2);
    REQUIRE(task_allocations() - before == 101);
}

TEST_CASE("repeat over a coroutine that suspends resumes in order") {
    promise_source src;
    std::vector<int> seen;
    int n = 0;
    // The first call is still suspended when the loop moves to its task: it runs on the
    // caller's object, which must outlive it.
    auto body = [&]() -> future<stop_iteration> {
        int mine = n++;
        co_await src.next();
        seen.push_back(mine);
        co_return mine == 4 ? stop_iteration::yes : stop_iteration::no;
    };
    auto f = repeat(body);
    while (!f.available()) {
        src.promises.back().set_value();
        run_pending_tasks();
    }
    f.get();
    REQUIRE(seen == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("repeat fails with an exception thrown by the first call") {
    auto failures = abandoned_failures();
    int calls = 0;
    auto f = repeat([&]() -> stop_iteration {
        ++calls;
        throw std::runtime_error("first");
    });
    REQUIRE(f.failed());
    REQUIRE_THROWS_WITH(f.get(), "first");
    REQUIRE(calls == 1);
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("repeat fails with a failed future returned in the middle and stops calling") {
    auto failures = abandoned_failures();
    int calls = 0;
    auto f = repeat([&] {
        if (++calls == 3) {
            return make_exception_future<stop_iteration>(std::runtime_error("middle"));
        }
        return make_ready_future<stop_iteration>(stop_iteration::no);
    });
    REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "middle");
    REQUIRE(calls == 3);
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("repeat fails with a failure of an unready iteration") {
    auto failures = abandoned_failures();
    std::deque<promise<stop_iteration>> ps;
    auto f = repeat([&] {
        ps.emplace_back();
        return ps.back().get_future();
    });
    ps.back().set_value(stop_iteration::no);
    run_pending_tasks();
    ps.back().set_exception(std::runtime_error("late"));
    REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "late");
    REQUIRE(ps.size() == 2);
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("repeat fails with an exception thrown after an unready iteration") {
    promise_source src;
    int calls = 0;
    auto f = repeat([&]() -> future<stop_iteration> {
        if (++calls == 3) {
            throw std::runtime_error("thrown later");
        }
        return src.next().then([] { return stop_iteration::no; });
    });
    src.promises.back().set_value();
    run_pending_tasks();
    src.promises.back().set_value();
    REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "thrown later");
    REQUIRE(calls == 3);
}

TEST_CASE("repeat yields to the scheduler when preemption is due and still completes") {
    forced_preemption preempt;
    int n = 0;
    auto f = repeat([&] { return ++n == 1000 ? stop_iteration::yes : stop_iteration::no; });
    // One iteration ran inline, then the loop yielded.
    REQUIRE_FALSE(f.available());
    REQUIRE(n == 1);
    REQUIRE(pending_tasks() == 1);
    // Each scheduled run makes progress; the loop finishes through the standalone queue.
    auto before = task_allocations();
    sync_wait(std::move(f));
    REQUIRE(n == 1000);
    REQUIRE(task_allocations() == before);
}

TEST_CASE("a coroutine loop body completes under constant preemption") {
    forced_preemption preempt;
    int n = 0;
    // Under preemption the first call suspends: the lambda must outlive it, as it does
    // within the full expression.
    sync_wait(repeat([&]() -> future<stop_iteration> {
        co_await make_ready_future<>();
        co_return ++n == 500 ? stop_iteration::yes : stop_iteration::no;
    }));
    REQUIRE(n == 500);
}

TEST_CASE("repeat_until_value returns the first value produced") {
    int n = 0;
    auto f = repeat_until_value([&]() -> std::optional<int> {
        if (++n < 7) {
            return std::nullopt;
        }
        return n * 10;
    });
    REQUIRE(f.get() == 70);
}

TEST_CASE("repeat_until_value waits for unready optional futures") {
    std::deque<promise<std::optional<std::string>>> ps;
    auto f = repeat_until_value([&] {
        ps.emplace_back();
        return ps.back().get_future();
    });
    ps.back().set_value(std::nullopt);
    run_pending_tasks();
    ps.back().set_value(std::nullopt);
    run_pending_tasks();
    ps.back().set_value("done");
    REQUIRE(sync_wait(std::move(f)) == "done");
    REQUIRE(ps.size() == 3);
}

TEST_CASE("repeat_until_value forwards thrown and returned failures") {
    auto failures = abandoned_failures();
    auto thrown = repeat_until_value([]() -> std::optional<int> { throw std::runtime_error("thrown"); });
    REQUIRE_THROWS_WITH(thrown.get(), "thrown");
    int n = 0;
    auto returned = repeat_until_value([&]() -> future<std::optional<int>> {
        if (++n == 2) {
            return make_exception_future<std::optional<int>>(std::runtime_error("returned"));
        }
        return make_ready_future<std::optional<int>>();
    });
    REQUIRE_THROWS_WITH(returned.get(), "returned");
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("repeat_until_value under preemption completes through the queue") {
    forced_preemption preempt;
    int n = 0;
    auto f = repeat_until_value(
        [&]() -> std::optional<int> { return ++n == 300 ? std::optional<int>(n) : std::nullopt; });
    REQUIRE(sync_wait(std::move(f)) == 300);
}

TEST_CASE("do_until checks the condition before every call") {
    int n = 0;
    auto f = do_until([&] { return n == 3; }, [&] { ++n; });
    f.get();
    REQUIRE(n == 3);
    int calls = 0;
    auto g = do_until([] { return true; }, [&] { ++calls; });
    g.get();
    REQUIRE(calls == 0);
}

TEST_CASE("do_until waits for unready actions") {
    promise_source src;
    int n = 0;
    auto f = do_until([&] { return n == 3; },
                      [&] {
                          ++n;
                          return src.next();
                      });
    for (int i = 0; i < 3; ++i) {
        REQUIRE_FALSE(f.available());
        src.promises.back().set_value();
        run_pending_tasks();
    }
    REQUIRE(f.available());
    f.get();
}

TEST_CASE("do_until fails when the condition throws or the action fails") {
    auto failures = abandoned_failures();
    auto cond_throws = do_until([]() -> bool { throw std::runtime_error("cond"); }, [] {});
    REQUIRE_THROWS_WITH(cond_throws.get(), "cond");
    int n = 0;
    auto action_throws = do_until([] { return false; },
                                  [&] {
                                      if (++n == 4) {
                                          throw std::runtime_error("action");
                                      }
                                  });
    REQUIRE_THROWS_WITH(action_throws.get(), "action");
    promise<> p;
    auto action_fails_later = do_until([] { return false; }, [&] { return p.get_future(); });
    p.set_exception(std::runtime_error("later"));
    REQUIRE_THROWS_WITH(sync_wait(std::move(action_fails_later)), "later");
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("do_until under preemption completes through the queue") {
    forced_preemption preempt;
    int n = 0;
    sync_wait(do_until([&] { return n == 200; }, [&] { ++n; }));
    REQUIRE(n == 200);
}

TEST_CASE("do_for_each visits the elements in order") {
    std::vector<int> v{1, 2, 3, 4};
    std::vector<int> seen;
    auto f = do_for_each(v.begin(), v.end(), [&](int x) { seen.push_back(x); });
    f.get();
    REQUIRE(seen == v);
    seen.clear();
    do_for_each(v, [&](int& x) { seen.push_back(x * 2); }).get();
    REQUIRE(seen == std::vector<int>{2, 4, 6, 8});
    seen.clear();
    do_for_each(std::views::iota(0, 3), [&](int x) { seen.push_back(x); }).get();
    REQUIRE(seen == std::vector<int>{0, 1, 2});
}

TEST_CASE("do_for_each starts the next element only after the previous one resolves") {
    std::vector<int> v{1, 2, 3};
    std::vector<promise<>> ps(3);
    std::vector<int> started;
    auto f = do_for_each(v, [&](int x) {
        started.push_back(x);
        return ps[x - 1].get_future();
    });
    REQUIRE(started == std::vector<int>{1});
    ps[0].set_value();
    run_pending_tasks();
    REQUIRE(started == std::vector<int>{1, 2});
    ps[1].set_value();
    run_pending_tasks();
    ps[2].set_value();
    sync_wait(std::move(f));
    REQUIRE(started == v);
}

TEST_CASE("do_for_each on an empty range resolves at once") {
    std::vector<int> v;
    auto f = do_for_each(v, [](int) { FAIL("called"); });
    REQUIRE(f.available());
    f.get();
}

TEST_CASE("do_for_each stops at the first failure in any position") {
    auto failures = abandoned_failures();
    for (int bad : {1, 3, 5}) {
        std::vector<int> v{1, 2, 3, 4, 5};
        std::vector<int> seen;
        auto thrown = do_for_each(v, [&](int x) {
            seen.push_back(x);
            if (x == bad) {
                throw std::runtime_error("thrown");
            }
        });
        REQUIRE_THROWS_WITH(thrown.get(), "thrown");
        REQUIRE(seen.size() == std::size_t(bad));
        seen.clear();
        auto returned = do_for_each(v, [&](int x) {
            seen.push_back(x);
            return x == bad ? make_exception_future<>(std::runtime_error("returned")) : make_ready_future<>();
        });
        REQUIRE_THROWS_WITH(returned.get(), "returned");
        REQUIRE(seen.size() == std::size_t(bad));
    }
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("do_for_each under preemption completes through the queue") {
    forced_preemption preempt;
    std::vector<int> v(1000, 1);
    int sum = 0;
    auto f = do_for_each(v, [&](int x) { sum += x; });
    REQUIRE_FALSE(f.available());
    sync_wait(std::move(f));
    REQUIRE(sum == 1000);
}

TEST_CASE("keep_doing runs until the action fails") {
    auto failures = abandoned_failures();
    int n = 0;
    auto f = keep_doing([&] {
        if (++n == 10) {
            throw std::runtime_error("enough");
        }
    });
    REQUIRE_THROWS_WITH(f.get(), "enough");
    REQUIRE(n == 10);
    promise_source src;
    auto g = keep_doing([&] { return src.next(); });
    src.promises.back().set_value();
    run_pending_tasks();
    src.promises.back().set_value();
    run_pending_tasks();
    src.promises.back().set_exception(std::runtime_error("stop"));
    REQUIRE_THROWS_WITH(sync_wait(std::move(g)), "stop");
    REQUIRE(src.promises.size() == 3);
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("keep_doing under preemption keeps going through the queue") {
    forced_preemption preempt;
    int n = 0;
    auto f = keep_doing([&] {
        if (++n == 100) {
            return make_exception_future<>(std::runtime_error("done"));
        }
        return make_ready_future<>();
    });
    REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "done");
    REQUIRE(n == 100);
}

TEST_CASE("dropping the future of a running loop does not crash") {
    promise_source src;
    int n = 0;
    {
        auto f = repeat([&] {
            return src.next().then([&] { return ++n == 2 ? stop_iteration::yes : stop_iteration::no; });
        });
    }
    src.promises.back().set_value();
    run_pending_tasks();
    src.promises.back().set_value();
    run_pending_tasks();
    REQUIRE(n == 2);
    REQUIRE(pending_tasks() == 0);
}
