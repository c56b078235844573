#include <reef/core/generator.hh>

#include <reef/core/coroutine.hh>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

using namespace reef;
using reef::coroutine::generator;

namespace {

generator<int> count(int n) {
    for (int i = 0; i < n; ++i) {
        co_yield i;
    }
}

generator<std::string> with_waits(std::vector<promise<>>& gates) {
    for (std::size_t i = 0; i < gates.size(); ++i) {
        co_await gates[i].get_future();
        co_yield "v" + std::to_string(i);
    }
}

generator<int> fails_after(int n) {
    for (int i = 0; i < n; ++i) {
        co_yield i;
    }
    throw std::runtime_error("generator failed");
}

}  // namespace

TEST_CASE("a generator yields its values in order, then ends") {
    auto f = coroutine::invoke([]() -> future<std::vector<int>> {
        std::vector<int> out;
        auto g = count(5);
        while (auto v = co_await g()) {
            out.push_back(*v);
        }
        auto again = co_await g();
        REQUIRE_FALSE(again.has_value());
        co_return out;
    });
    REQUIRE(sync_wait(std::move(f)) == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("a generator may wait on futures between values") {
    std::vector<promise<>> gates(3);
    auto f = coroutine::invoke([&]() -> future<std::vector<std::string>> {
        std::vector<std::string> out;
        auto g = with_waits(gates);
        while (auto v = co_await g()) {
            out.push_back(*v);
        }
        co_return out;
    });
    for (auto& p : gates) {
        REQUIRE_FALSE(f.available());
        p.set_value();
        run_pending_tasks();
    }
    REQUIRE(sync_wait(std::move(f)) == std::vector<std::string>{"v0", "v1", "v2"});
}

TEST_CASE("an exception in a generator reaches the consumer after the values before it") {
    auto f = coroutine::invoke([]() -> future<int> {
        int seen = 0;
        auto g = fails_after(2);
        try {
            while (auto v = co_await g()) {
                ++seen;
            }
        } catch (const std::runtime_error&) {
            co_return seen;
        }
        co_return -1;
    });
    REQUIRE(f.get() == 2);
}

TEST_CASE("destroying a suspended generator destroys its locals") {
    int destroyed = 0;
    auto make = [](int& d) -> generator<int> {
        struct tracker {
            int& n;
            ~tracker() { ++n; }
        } t{d};
        for (int i = 0;; ++i) {
            co_yield i;
        }
    };
    auto f = coroutine::invoke([&]() -> future<> {
        auto g = make(destroyed);
        auto a = co_await g();
        REQUIRE(*a == 0);
        auto b = co_await g();
        REQUIRE(*b == 1);
    });
    f.get();
    REQUIRE(destroyed == 1);
}

TEST_CASE("a long generator does not grow the stack") {
    auto f = coroutine::invoke([]() -> future<long> {
        long sum = 0;
        auto g = count(2'000'000);
        while (auto v = co_await g()) {
            sum += 1;
        }
        co_return sum;
    });
    REQUIRE(sync_wait(std::move(f)) == 2'000'000);
}
