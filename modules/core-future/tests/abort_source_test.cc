#include <reef/core/abort_source.hh>

#include <catch2/catch.hpp>

#include <array>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <reef/core/future.hh>

using namespace reef;

namespace {

std::string what_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return ex.what();
    }
}

}  // namespace

TEST_CASE("a fresh abort_source is not aborted and check() does not throw") {
    abort_source as;
    REQUIRE_FALSE(as.abort_requested());
    REQUIRE_NOTHROW(as.check());
    REQUIRE_FALSE(as.abort_requested_exception_ptr());
}

TEST_CASE("request_abort calls every subscriber once, in subscription order") {
    abort_source as;
    std::vector<int> order;
    auto s1 = as.subscribe([&] { order.push_back(1); });
    auto s2 = as.subscribe([&] { order.push_back(2); });
    auto s3 = as.subscribe([&] { order.push_back(3); });
    REQUIRE(s1);
    REQUIRE(s2);
    as.request_abort();
    REQUIRE(order == std::vector<int>{1, 2, 3});
    REQUIRE_FALSE(s1);
    REQUIRE_FALSE(s3);
    as.request_abort();
    REQUIRE(order.size() == 3);
}

TEST_CASE("the default abort reason is abort_requested_exception") {
    abort_source as;
    std::exception_ptr seen;
    auto s = as.subscribe([&](const std::exception_ptr& why) noexcept { seen = why; });
    as.request_abort();
    REQUIRE(as.abort_requested());
    REQUIRE(seen);
    REQUIRE(seen == as.abort_requested_exception_ptr());
    REQUIRE_THROWS_AS(std::rethrow_exception(seen), abort_requested_exception);
    REQUIRE_THROWS_AS(as.check(), abort_requested_exception);
    REQUIRE(what_of(seen) == "abort requested");
}

TEST_CASE("request_abort_ex passes its exception to subscribers and to check()") {
    abort_source as;
    std::string seen;
    auto s = as.subscribe([&](const std::exception_ptr& why) noexcept { seen = what_of(why); });
    as.request_abort_ex(std::runtime_error("shutting down"));
    REQUIRE(seen == "shutting down");
    REQUIRE_THROWS_WITH(as.check(), "shutting down");
    // The first reason stays.
    as.request_abort_ex(std::logic_error("later"));
    REQUIRE_THROWS_WITH(as.check(), "shutting down");
}

TEST_CASE("destroying a subscription in the middle of the list unsubscribes only it") {
    abort_source as;
    std::vector<int> order;
    auto s1 = as.subscribe([&] { order.push_back(1); });
    std::optional<abort_source::subscription> s2 = as.subscribe([&] { order.push_back(2); });
    auto s3 = as.subscribe([&] { order.push_back(3); });
    s2.reset();
    as.request_abort();
    REQUIRE(order == std::vector<int>{1, 3});
}

TEST_CASE("assigning an empty subscription unsubscribes") {
    abort_source as;
    int calls = 0;
    auto s = as.subscribe([&] { ++calls; });
    s = abort_source::subscription();
    REQUIRE_FALSE(s);
    as.request_abort();
    REQUIRE(calls == 0);
}

TEST_CASE("subscribing to an aborted source gives an empty subscription that is never called") {
    abort_source as;
    as.request_abort();
    int calls = 0;
    auto s = as.subscribe([&] { ++calls; });
    REQUIRE_FALSE(s);
    as.request_abort();
    REQUIRE(calls == 0);
}

TEST_CASE("a moved subscription keeps its place in the order") {
    abort_source as;
    std::vector<int> order;
    auto s1 = as.subscribe([&] { order.push_back(1); });
    auto s2 = as.subscribe([&] { order.push_back(2); });
    auto s3 = as.subscribe([&] { order.push_back(3); });
    std::vector<abort_source::subscription> moved;
    moved.push_back(std::move(s2));
    moved.push_back(std::move(s1));  // the vector may move s2 again while growing
    REQUIRE_FALSE(s1);
    REQUIRE(moved[0]);
    as.request_abort();
    REQUIRE(order == std::vector<int>{1, 2, 3});
}

TEST_CASE("a callback may destroy its own subscription and a later one") {
    abort_source as;
    std::vector<int> order;
    std::optional<abort_source::subscription> s1, s2, s3;
    s1 = as.subscribe([&] {
        order.push_back(1);
        s1.reset();  // destroys the running callback's own storage
        s2.reset();
    });
    s2 = as.subscribe([&] { order.push_back(2); });
    s3 = as.subscribe([&] { order.push_back(3); });
    as.request_abort();
    REQUIRE(order == std::vector<int>{1, 3});
}

TEST_CASE("a callback too large to be stored inline is called and freed") {
    abort_source as;
    std::array<long, 16> big{};
    big[15] = 42;
    long seen = 0;
    auto s = as.subscribe([&seen, big](const std::exception_ptr&) noexcept { seen = big[15]; });
    auto moved = std::move(s);
    as.request_abort();
    REQUIRE(seen == 42);

    abort_source other;
    auto never = other.subscribe([big] { (void)big; });  // freed without being called
    REQUIRE(never);
}

TEST_CASE("destroying the source leaves its subscriptions empty") {
    std::optional<abort_source> as(std::in_place);
    int calls = 0;
    auto s = as->subscribe([&] { ++calls; });
    as.reset();
    REQUIRE_FALSE(s);
    REQUIRE(calls == 0);
}

TEST_CASE("moving an abort_source moves its subscribers and its state") {
    abort_source a;
    int calls = 0;
    auto s = a.subscribe([&] { ++calls; });
    abort_source b(std::move(a));
    a.request_abort();
    REQUIRE(calls == 0);
    b.request_abort();
    REQUIRE(calls == 1);
    abort_source c;
    auto sc = c.subscribe([&] { calls += 10; });
    c = std::move(b);  // c's own subscriber is detached
    REQUIRE_FALSE(sc);
    REQUIRE(c.abort_requested());
    REQUIRE(calls == 1);
}

TEST_CASE("an abort_source can cancel a coroutine waiting on a promise") {
    auto before = abandoned_failures();
    abort_source as;
    promise<int> pr;
    auto sub = as.subscribe([&](const std::exception_ptr& why) noexcept { pr.set_exception(why); });
    auto waiter = [](future<int> f) -> future<int> { co_return co_await std::move(f) + 1; }(pr.get_future());
    REQUIRE_FALSE(waiter.available());
    as.request_abort();
    REQUIRE_THROWS_AS(sync_wait(std::move(waiter)), abort_requested_exception);
    REQUIRE(abandoned_failures() == before);
}
