#include <reef/core/queue.hh>

#include <catch2/catch.hpp>

#include "test_support.hh"

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace reef;
using namespace reef::testing;

TEST_CASE("try_push and try_pop keep FIFO order within the capacity") {
    queue<int> q(2);
    REQUIRE(q.empty());
    REQUIRE(q.max_size() == 2);
    REQUIRE(q.try_push(1));
    REQUIRE(q.push(2));
    REQUIRE(q.full());
    REQUIRE(q.size() == 2);
    REQUIRE_FALSE(q.try_push(3));
    REQUIRE(q.try_pop() == 1);
    REQUIRE(q.pop() == 2);
    REQUIRE(q.try_pop() == std::nullopt);
    REQUIRE_THROWS_AS(q.pop(), std::logic_error);
}

TEST_CASE("a failed try_push leaves the item with the caller") {
    queue<std::unique_ptr<int>> q(0);
    auto p = std::make_unique<int>(5);
    REQUIRE_FALSE(q.try_push(std::move(p)));
    REQUIRE(p);
    REQUIRE(*p == 5);
}

TEST_CASE("waiting consumers get pushed items in arrival order, straight from the producer") {
    no_abandoned_failures guard;
    queue<std::string> q(4);
    auto c1 = q.pop_eventually();
    auto c2 = q.pop_eventually();
    REQUIRE_FALSE(c1.available());
    REQUIRE(q.try_push("a"));
    REQUIRE(q.empty());  // handed over, not buffered
    sync_wait(q.push_eventually("b"));
    REQUIRE(sync_wait(std::move(c1)) == "a");
    REQUIRE(sync_wait(std::move(c2)) == "b");
}

TEST_CASE("waiting producers enter in arrival order as items are popped") {
    no_abandoned_failures guard;
    queue<int> q(1);
    REQUIRE(q.try_push(0));
    auto p1 = q.push_eventually(1);
    auto p2 = q.push_eventually(2);
    REQUIRE_FALSE(p1.available());
    REQUIRE(q.pop() == 0);
    REQUIRE(p1.available());  // its item is in the queue now
    REQUIRE_FALSE(p2.available());
    REQUIRE(q.size() == 1);
    REQUIRE(sync_wait(q.pop_eventually()) == 1);
    REQUIRE(q.pop() == 2);
    sync_wait(std::move(p1));
    sync_wait(std::move(p2));
}

TEST_CASE("not_empty and not_full resolve when the queue changes") {
    no_abandoned_failures guard;
    queue<int> q(1);
    auto ne = q.not_empty();
    REQUIRE_FALSE(ne.available());
    REQUIRE(q.not_full().available());
    REQUIRE(q.try_push(7));
    sync_wait(std::move(ne));
    auto nf = q.not_full();
    REQUIRE_FALSE(nf.available());
    REQUIRE(q.not_empty().available());
    REQUIRE(q.pop() == 7);
    sync_wait(std::move(nf));
}

TEST_CASE("abort fails every waiter and every later operation") {
    no_abandoned_failures guard;
    queue<int> q(1);
    auto c = q.pop_eventually();
    auto ne = q.not_empty();
    q.abort(std::make_exception_ptr(std::runtime_error("closed")));
    REQUIRE_THROWS_WITH(sync_wait(std::move(c)), "closed");
    REQUIRE_THROWS_WITH(sync_wait(std::move(ne)), "closed");

    queue<int> full(1);
    REQUIRE(full.try_push(1));
    auto p = full.push_eventually(2);
    auto nf = full.not_full();
    full.abort(std::make_exception_ptr(std::runtime_error("gone")));
    REQUIRE(full.empty());  // buffered items are dropped
    REQUIRE_THROWS_WITH(sync_wait(std::move(p)), "gone");
    REQUIRE_THROWS_WITH(sync_wait(std::move(nf)), "gone");
    REQUIRE_THROWS_WITH(sync_wait(full.push_eventually(3)), "gone");
    REQUIRE_THROWS_WITH(sync_wait(full.pop_eventually()), "gone");
    REQUIRE_THROWS_WITH(full.try_push(3), "gone");
    REQUIRE_THROWS_WITH(full.try_pop(), "gone");
    REQUIRE_THROWS_WITH(sync_wait(full.not_empty()), "gone");
    REQUIRE_THROWS_WITH(sync_wait(full.not_full()), "gone");
}

TEST_CASE("a queue of size zero hands each item from a producer to a consumer") {
    no_abandoned_failures guard;
    queue<int> q(0);
    REQUIRE(q.full());
    auto p = q.push_eventually(1);
    REQUIRE_FALSE(p.available());
    REQUIRE(q.not_empty().available());
    REQUIRE(q.try_pop() == 1);
    REQUIRE(p.available());
    p.get();
    auto c = q.pop_eventually();
    REQUIRE(q.not_full().available());
    REQUIRE(q.try_push(2));
    REQUIRE(sync_wait(std::move(c)) == 2);
}

TEST_CASE("growing the capacity lets waiting producers in") {
    no_abandoned_failures guard;
    queue<int> q(1);
    REQUIRE(q.try_push(1));
    auto p = q.push_eventually(2);
    q.set_max_size(2);
    REQUIRE(p.available());
    p.get();
    REQUIRE(q.size() == 2);
}

TEST_CASE("move-only items travel through the queue") {
    no_abandoned_failures guard;
    queue<std::unique_ptr<int>> q(1);
    sync_wait(q.push_eventually(std::make_unique<int>(1)));
    auto p = q.push_eventually(std::make_unique<int>(2));
    auto a = sync_wait(q.pop_eventually());
    auto b = sync_wait(q.pop_eventually());
    sync_wait(std::move(p));
    REQUIRE(*a == 1);
    REQUIRE(*b == 2);
}

TEST_CASE("a producer and a consumer coroutine stream items through a small queue in order") {
    no_abandoned_failures guard;
    queue<int> q(3);
    auto producer = [](queue<int>& q) -> future<> {
        for (int i = 0; i < 100; ++i) {
            co_await q.push_eventually(int(i));
        }
    }(q);
    auto consumer = [](queue<int>& q) -> future<std::vector<int>> {
        std::vector<int> got;
        for (int i = 0; i < 100; ++i) {
            got.push_back(co_await q.pop_eventually());
        }
        co_return got;
    }(q);
    sync_wait(std::move(producer));
    auto got = sync_wait(std::move(consumer));
    REQUIRE(got.size() == 100);
    for (int i = 0; i < 100; ++i) {
        REQUIRE(got[i] == i);
    }
    REQUIRE(q.empty());
}

TEST_CASE("destroying a queue with waiters fails them with broken_promise") {
    no_abandoned_failures guard;
    future<int> c = make_ready_future<int>(0);
    future<> p = make_ready_future<>();
    {
        queue<int> q(0);
        c = q.pop_eventually();
    }
    REQUIRE_THROWS_AS(sync_wait(std::move(c)), broken_promise);
    {
        queue<int> q(0);
        p = q.push_eventually(1);
    }
    REQUIRE_THROWS_AS(sync_wait(std::move(p)), broken_promise);
    run_all();
}
