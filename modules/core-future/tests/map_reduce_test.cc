#include <reef/core/map_reduce.hh>

#include <catch2/catch.hpp>

#include <functional>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

using namespace reef;

namespace {

std::exception_ptr error(const char* what) {
    return std::make_exception_ptr(std::runtime_error(what));
}

// Concatenates the values it is given, in order.
struct concat_reducer {
    std::string acc;
    void operator()(const std::string& s) { acc += s; }
    std::string get() { return acc; }
};

// A reducer that suspends on every call until the test releases it.
struct slow_reducer {
    std::vector<promise<>>* gates;
    std::size_t calls = 0;
    int sum = 0;
    future<> operator()(int v) {
        auto& gate = (*gates)[calls++];
        co_await gate.get_future();
        sum += v;
    }
    int get() const { return sum; }
};

}  // namespace

TEST_CASE("map_reduce with initial and reduce folds ready values without allocating") {
    std::vector<int> v(10);
    std::iota(v.begin(), v.end(), 1);
    auto before = task_allocations();
    auto f = map_reduce(
        v.begin(), v.end(), [](int x) { return x * x; }, 0, std::plus<int>());
    REQUIRE(task_allocations() == before);
    REQUIRE(f.available());
    REQUIRE(f.get() == 385);
    auto g = map_reduce(
        v, [](int x) { return make_ready_future<long>(x); }, 100L, std::plus<long>());
    REQUIRE(g.get() == 155);
}

TEST_CASE("map_reduce over an empty range returns the initial value") {
    std::vector<int> v;
    REQUIRE(map_reduce(
                v, [](int x) { return x; }, 42, std::plus<int>())
                .get() == 42);
    REQUIRE(map_reduce(
                v, [](int x) { return std::to_string(x); }, concat_reducer{"start"})
                .get() == "start");
}

TEST_CASE("map_reduce starts every mapper at once and reduces in range order") {
    std::vector<int> v{0, 1, 2, 3};
    std::vector<promise<std::string>> ps(4);
    int started = 0;
    auto f = map_reduce(
        v,
        [&](int i) {
            ++started;
            return ps[i].get_future();
        },
        std::string(), [](std::string acc, std::string s) { return acc + s; });
    REQUIRE(started == 4);
    ps[3].set_value("d");
    ps[1].set_value("b");
    run_pending_tasks();
    REQUIRE_FALSE(f.available());
    ps[0].set_value("a");
    run_pending_tasks();
    REQUIRE_FALSE(f.available());
    ps[2].set_value("c");
    REQUIRE(sync_wait(std::move(f)) == "abcd");
}

TEST_CASE("map_reduce with a reducer object returns its get()") {
    std::vector<int> v{1, 2, 3};
    promise<int> late;
    auto f = map_reduce(
        v.begin(), v.end(),
        [&](int x) {
            return x == 2 ? late.get_future().then([](int y) { return std::to_string(y); })
                          : make_ready_future<std::string>(std::to_string(x));
        },
        concat_reducer{});
    REQUIRE_FALSE(f.available());
    late.set_value(9);
    REQUIRE(sync_wait(std::move(f)) == "193");
}

TEST_CASE("map_reduce with a reducer returning futures reduces one value at a time") {
    std::vector<int> v{1, 2, 3};
    std::vector<promise<>> gates(3);
    auto f = map_reduce(
        v, [](int x) { return x * 10; }, slow_reducer{&gates});
    for (auto& g : gates) {
        REQUIRE_FALSE(f.available());
        g.set_value();
        run_pending_tasks();
    }
    REQUIRE(sync_wait(std::move(f)) == 60);
}

TEST_CASE("map_reduce fails with the first failure in every position, after all complete") {
    auto failures = abandoned_failures();
    for (int bad : {0, 2, 4}) {
        for (bool thrown : {true, false}) {
            std::vector<int> v{0, 1, 2, 3, 4};
            std::vector<promise<int>> ps(5);
            auto f = map_reduce(
                v,
                [&](int i) -> future<int> {
                    if (i == bad) {
                        if (thrown) {
                            throw std::runtime_error("bad");
                        }
                        return make_exception_future<int>(error("bad"));
                    }
                    return ps[i].get_future();
                },
                0, std::plus<int>());
            REQUIRE_FALSE(f.available());
            for (int i = 4; i >= 0; --i) {
                if (i != bad) {
                    if (i > bad) {
                        ps[i].set_exception(error("later"));
                    } else {
                        ps[i].set_value(i);
                    }
                }
                run_pending_tasks();
            }
            REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "bad");
        }
    }
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("map_reduce fails when the reduce function throws") {
    auto failures = abandoned_failures();
    std::vector<int> v{1, 2, 3};
    promise<int> p;
    int calls = 0;
    auto f = map_reduce(
        v, [&](int x) { return x == 3 ? p.get_future() : make_ready_future<int>(x); }, 0,
        [&](int acc, int x) {
            ++calls;
            if (x == 2) {
                throw std::runtime_error("reduce");
            }
            return acc + x;
        });
    REQUIRE_FALSE(f.available());
    p.set_exception(error("mapper after reduce failure"));
    REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "reduce");
    REQUIRE(calls == 2);
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("map_reduce fails when an asynchronous reducer fails") {
    struct failing_reducer {
        future<> operator()(int x) {
            if (x == 2) {
                return make_exception_future<>(error("async reduce"));
            }
            return make_ready_future<>();
        }
        int get() { return 0; }
    };
    std::vector<int> v{1, 2, 3};
    REQUIRE_THROWS_WITH(sync_wait(map_reduce(
                            v, [](int x) { return x; }, failing_reducer{})),
                        "async reduce");
}

TEST_CASE("map_reduce of many ready values under preemption completes") {
    detail::preemption_monitor m;
    m.head.store(1);
    auto prev = set_preemption_monitor(&m);
    std::vector<int> v(1000, 1);
    promise<int> p;
    auto f = map_reduce(
        v,
        [&, first = true](int x) mutable {
            if (first) {
                first = false;
                return p.get_future();
            }
            return make_ready_future<int>(x);
        },
        0, std::plus<int>());
    p.set_value(1);
    int total = sync_wait(std::move(f));
    set_preemption_monitor(prev);
    REQUIRE(total == 1000);
}
