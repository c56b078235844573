#include <reef/core/defer.hh>

#include <catch2/catch.hpp>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

using namespace reef;

TEST_CASE("defer runs the function at the end of the scope") {
    int runs = 0;
    {
        auto d = defer([&]() noexcept { ++runs; });
        REQUIRE(runs == 0);
    }
    REQUIRE(runs == 1);
}

TEST_CASE("a cancelled deferred action does not run") {
    int runs = 0;
    {
        auto d = defer([&]() noexcept { ++runs; });
        d.cancel();
    }
    REQUIRE(runs == 0);
}

TEST_CASE("moving a deferred action runs it once, at the end of the new owner's scope") {
    int runs = 0;
    std::optional<deferred_action<std::function<void()>>> outer;
    {
        auto d = defer(std::function<void()>([&] { ++runs; }));
        outer.emplace(std::move(d));
    }
    REQUIRE(runs == 0);
    outer.reset();
    REQUIRE(runs == 1);
}

TEST_CASE("deferred actions run in reverse order of creation") {
    std::vector<int> order;
    {
        auto a = defer([&]() noexcept { order.push_back(1); });
        auto b = defer([&]() noexcept { order.push_back(2); });
    }
    REQUIRE(order == std::vector<int>{2, 1});
}

TEST_CASE("a deferred action runs when the scope is left by an exception") {
    int runs = 0;
    try {
        auto d = defer([&]() noexcept { ++runs; });
        throw 1;
    } catch (int) {
    }
    REQUIRE(runs == 1);
}

TEST_CASE("a deferred action can be returned from a function and kept in a vector") {
    int runs = 0;
    auto make = [&] { return defer([&runs]() noexcept { ++runs; }); };
    {
        std::vector<decltype(make())> actions;
        actions.push_back(make());
        actions.push_back(make());
        actions.back().cancel();
        actions.push_back(make());
        REQUIRE(runs == 0);
    }
    REQUIRE(runs == 2);
}

TEST_CASE("defer keeps a copy of an lvalue function") {
    std::string log;
    auto fn = [&log]() noexcept { log += "x"; };
    { auto d = defer(fn); }
    fn();
    REQUIRE(log == "xx");
}
