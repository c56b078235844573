#include <reef/core/future.hh>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

using namespace reef;

TEST_CASE("a ready future holds its value") {
    auto f = make_ready_future<int>(7);
    REQUIRE(f.available());
    REQUIRE_FALSE(f.failed());
    REQUIRE(f.get() == 7);
}

TEST_CASE("a promise resolves its future later") {
    promise<std::string> p;
    auto f = p.get_future();
    REQUIRE_FALSE(f.available());
    p.set_value("hello");
    REQUIRE(f.available());
    REQUIRE(f.get() == "hello");
}

TEST_CASE("a value set before get_future is delivered") {
    promise<int> p;
    p.set_value(3);
    auto f = p.get_future();
    REQUIRE(f.available());
    REQUIRE(f.get() == 3);
}

TEST_CASE("moving a future and its promise keeps them linked") {
    promise<int> p;
    auto f = p.get_future();
    auto f2 = std::move(f);
    promise<int> p2 = std::move(p);
    std::vector<future<int>> v;
    v.push_back(std::move(f2));
    p2.set_value(5);
    REQUIRE(v[0].get() == 5);
}

TEST_CASE("a broken promise fails its future with broken_promise") {
    future<int> f = [] {
        promise<int> p;
        return p.get_future();
    }();
    REQUIRE(f.failed());
    REQUIRE_THROWS_AS(f.get(), broken_promise);
}

TEST_CASE("then on an unready future runs after the value arrives") {
    promise<int> p;
    int seen = 0;
    auto f = p.get_future().then([&](int v) { seen = v; return v * 2; });
    REQUIRE(seen == 0);
    p.set_value(21);
    REQUIRE(sync_wait(std::move(f)) == 42);
    REQUIRE(seen == 21);
}

TEST_CASE("coroutines return futures") {
    auto coro = [](int x) -> future<int> { co_return x + 1; };
    REQUIRE(sync_wait(coro(1)) == 2);
    promise<int> p;
    auto f = p.get_future();
    auto waiter = [](future<int> f) -> future<int> {
        int v = co_await std::move(f);
        co_return v * 10;
    }(std::move(f));
    REQUIRE_FALSE(waiter.available());
    p.set_value(4);
    REQUIRE(sync_wait(std::move(waiter)) == 40);
}
