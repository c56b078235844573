#include <reef/core/coroutine.hh>

#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace reef;

namespace {

future<int> add_one(int x) {
    co_return x + 1;
}

future<> nothing() {
    co_return;
}

future<int> wait_for(future<int> f) {
    int v = co_await std::move(f);
    co_return v * 10;
}

future<int> thrower() {
    throw std::runtime_error("thrown in a coroutine");
    co_return 0;
}

future<int> nested(int depth) {
    if (depth == 0) {
        throw std::runtime_error("bottom");
    }
    co_return co_await nested(depth - 1);
}

future<int> nested_as_future(int depth) {
    if (depth == 0) {
        co_return coroutine::exception(std::make_exception_ptr(std::runtime_error("bottom")));
    }
    auto f = co_await coroutine::as_future(nested_as_future(depth - 1));
    if (f.failed()) {
        co_return coroutine::exception(f.get_exception());
    }
    co_return f.get();
}

future<int> nested_try(int depth, int& destroyed) {
    struct tracker {
        int& n;
        ~tracker() { ++n; }
    } t{destroyed};
    if (depth == 0) {
        co_return coroutine::exception(std::make_exception_ptr(std::runtime_error("bottom")));
    }
    int v = co_await coroutine::try_future(nested_try(depth - 1, destroyed));
    co_return v + 1;
}

struct handler_guard {
    static inline int calls = 0;
    abandoned_failure_handler prev;
    handler_guard() : prev(set_abandoned_failure_handler([](const std::exception_ptr&) noexcept { ++calls; })) {
        calls = 0;
    }
    ~handler_guard() { set_abandoned_failure_handler(prev); }
};

}  // namespace

TEST_CASE("a coroutine that never suspends returns a ready future") {
    auto f = add_one(1);
    REQUIRE(f.available());
    REQUIRE(f.get() == 2);
    auto v = nothing();
    REQUIRE(v.available());
    v.get();
}

TEST_CASE("a coroutine suspends on an unready future and resumes with its value") {
    promise<int> p;
    auto f = wait_for(p.get_future());
    REQUIRE_FALSE(f.available());
    p.set_value(3);
    REQUIRE(sync_wait(std::move(f)) == 30);
}

TEST_CASE("an exception thrown in a coroutine fails its future") {
    auto f = thrower();
    REQUIRE(f.failed());
    REQUIRE_THROWS_WITH(f.get(), "thrown in a coroutine");
}

TEST_CASE("an exception crosses many co_await levels") {
    REQUIRE_THROWS_WITH(sync_wait(nested(10)), "bottom");
    REQUIRE_THROWS_WITH(sync_wait(nested_as_future(10)), "bottom");
}

TEST_CASE("try_future ends each level without throwing and destroys its locals") {
    int destroyed = 0;
    auto f = nested_try(10, destroyed);
    REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "bottom");
    REQUIRE(destroyed == 11);
    int d2 = 0;
    promise<int> p;
    auto g = [](future<int> in, int& d) -> future<int> {
        struct tracker {
            int& n;
            ~tracker() { ++n; }
        } t{d};
        int v = co_await coroutine::try_future(std::move(in));
        co_return v;
    }(p.get_future(), d2);
    p.set_exception(std::runtime_error("late"));
    REQUIRE_THROWS_WITH(sync_wait(std::move(g)), "late");
    REQUIRE(d2 == 1);
}

TEST_CASE("try_future yields the value on success") {
    promise<int> p;
    auto f = [](future<int> in) -> future<int> { co_return 1 + co_await coroutine::try_future(std::move(in)); }(p.get_future());
    p.set_value(41);
    REQUIRE(sync_wait(std::move(f)) == 42);
}

TEST_CASE("co_await coroutine::exception fails a void coroutine without throwing") {
    int destroyed = 0;
    auto f = [](int& d) -> future<> {
        struct tracker {
            int& n;
            ~tracker() { ++n; }
        } t{d};
        co_await coroutine::return_exception(std::runtime_error("void failure"));
        FAIL("not reached");
    }(destroyed);
    REQUIRE(f.failed());
    REQUIRE(destroyed == 1);
    REQUIRE_THROWS_WITH(f.get(), "void failure");
}

TEST_CASE("as_future awaits a failure without throwing") {
    auto f = coroutine::invoke([&]() -> future<bool> {
        auto r = co_await coroutine::as_future(make_exception_future<int>(std::runtime_error("x")));
        bool failed = r.failed();
        r.ignore_ready_future();
        co_return failed;
    });
    REQUIRE(f.get());
}

TEST_CASE("a failed future dropped by a coroutine is reported") {
    handler_guard g;
    auto f = coroutine::invoke([]() -> future<> {
        auto r = co_await coroutine::as_future(make_exception_future<int>(std::runtime_error("dropped")));
        (void)r;
    });
    f.get();
    REQUIRE(handler_guard::calls == 1);
}

TEST_CASE("a coroutine loop of ten million iterations does not grow the stack") {
    auto f = coroutine::invoke([]() -> future<long> {
        long sum = 0;
        for (long i = 0; i < 10'000'000; ++i) {
            sum += co_await add_one(0);
            co_await coroutine::maybe_yield();
        }
        co_return sum;
    });
    REQUIRE(sync_wait(std::move(f)) == 10'000'000);
}

TEST_CASE("a coroutine loop over unready futures runs through the queue without recursion") {
    auto f = coroutine::invoke([]() -> future<long> {
        long n = 0;
        for (int i = 0; i < 1'000'000; ++i) {
            promise<> p;
            auto w = p.get_future();
            p.set_value();
            detail::preemption_monitor m;
            m.tail.store(1);
            auto prev = set_preemption_monitor(&m);
            co_await std::move(w);  // preempted: goes through the queue
            set_preemption_monitor(prev);
            ++n;
        }
        co_return n;
    });
    REQUIRE(sync_wait(std::move(f)) == 1'000'000);
}

TEST_CASE("maybe_yield suspends only when preemption is due") {
    detail::preemption_monitor m;
    auto prev = set_preemption_monitor(&m);
    int stage = 0;
    auto f = coroutine::invoke([&]() -> future<> {
        stage = 1;
        co_await coroutine::maybe_yield();
        stage = 2;
        m.tail.store(1);
        co_await coroutine::maybe_yield();
        stage = 3;
    });
    REQUIRE(stage == 2);
    REQUIRE(pending_tasks() == 1);
    m.tail.store(0);
    run_pending_tasks();
    REQUIRE(stage == 3);
    set_preemption_monitor(prev);
    f.get();
}

TEST_CASE("coroutine::all waits for every operation and returns non-void results") {
    promise<int> p;
    promise<> q;
    auto f = coroutine::invoke([&]() -> future<int> {
        auto [a, b] = co_await coroutine::all(p.get_future(), [] { return make_ready_future<std::string>("s"); },
                                              q.get_future());
        co_return a + int(b.size());
    });
    REQUIRE_FALSE(f.available());
    q.set_value();
    run_pending_tasks();
    REQUIRE_FALSE(f.available());
    p.set_value(4);
    REQUIRE(sync_wait(std::move(f)) == 5);
}

TEST_CASE("coroutine::all fails with the first failure in argument order after all complete") {
    handler_guard g;
    promise<int> p;
    bool done = false;
    auto f = coroutine::invoke([&]() -> future<> {
        co_await coroutine::all(make_exception_future<int>(std::runtime_error("first")), p.get_future(),
                                make_exception_future<>(std::logic_error("second")));
        done = true;
    });
    REQUIRE_FALSE(f.available());
    p.set_value(1);
    REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "first");
    REQUIRE_FALSE(done);
    REQUIRE(handler_guard::calls == 0);
}

TEST_CASE("coroutine::parallel_for_each runs all and fails after all complete") {
    std::vector<promise<>> ps(5);
    std::vector<int> idx{0, 1, 2, 3, 4};
    int started = 0;
    auto f = coroutine::invoke([&]() -> future<> {
        co_await coroutine::parallel_for_each(idx, [&](int i) -> future<> {
            ++started;
            if (i == 2) {
                return make_exception_future<>(std::runtime_error("two"));
            }
            return ps[i].get_future();
        });
    });
    REQUIRE(started == 5);
    for (auto& p : ps) {
        REQUIRE_FALSE(f.available());
        p.set_value();
        run_pending_tasks();
    }
    REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "two");
}

TEST_CASE("coroutine::invoke keeps a lambda's captures alive") {
    promise<> p;
    auto f = coroutine::invoke([s = std::string("kept alive"), &p]() -> future<std::string> {
        co_await p.get_future();
        co_return s;
    });
    p.set_value();
    REQUIRE(sync_wait(std::move(f)) == "kept alive");
}

TEST_CASE("coroutine::lambda runs a capturing lambda awaited at once") {
    int x = 1;
    auto f = coroutine::invoke([&]() -> future<int> {
        co_return co_await coroutine::lambda([&]() -> future<int> { co_return x + 1; });
    });
    REQUIRE(f.get() == 2);
}
