#include <reef/core/gate.hh>

#include <catch2/catch.hpp>

#include "test_support.hh"

#include <stdexcept>
#include <vector>

using namespace reef;
using namespace reef::testing;

TEST_CASE("closing an empty gate resolves at once") {
    no_abandoned_failures guard;
    gate g;
    REQUIRE_FALSE(g.is_closed());
    auto f = g.close();
    REQUIRE(f.available());
    f.get();
    REQUIRE(g.is_closed());
}

TEST_CASE("close waits until the last holder leaves") {
    no_abandoned_failures guard;
    gate g;
    g.enter();
    g.enter();
    REQUIRE(g.get_count() == 2);
    auto f = g.close();
    REQUIRE_FALSE(f.available());
    g.leave();
    REQUIRE_FALSE(f.available());
    g.leave();
    REQUIRE(f.available());
    sync_wait(std::move(f));
    REQUIRE(g.get_count() == 0);
}

TEST_CASE("entering a closed gate throws gate_closed_exception") {
    gate g;
    (void)g.close();
    REQUIRE_THROWS_AS(g.enter(), gate_closed_exception);
    REQUIRE_THROWS_WITH(g.hold(), "gate closed");
    REQUIRE_THROWS_AS(g.check(), gate_closed_exception);
    REQUIRE_FALSE(g.try_enter());
    REQUIRE_FALSE(g.try_hold());
    REQUIRE(g.get_count() == 0);
}

TEST_CASE("holders leave the gate when destroyed, copied or moved") {
    no_abandoned_failures guard;
    gate g;
    std::optional<gate::holder> h1 = g.hold();
    REQUIRE(g.get_count() == 1);
    auto f = g.close();
    {
        gate::holder copy = *h1;  // allowed while closing: it cannot outlive h1's entry
        REQUIRE(g.get_count() == 2);
        gate::holder moved = std::move(copy);
        REQUIRE(copy.get_gate() == nullptr);
        REQUIRE(g.get_count() == 2);
    }
    REQUIRE(g.get_count() == 1);
    REQUIRE_FALSE(f.available());
    h1.reset();
    sync_wait(std::move(f));
}

TEST_CASE("try_hold enters an open gate and release leaves it early") {
    gate g;
    auto h = g.try_hold();
    REQUIRE(h);
    REQUIRE(h->get_gate() == &g);
    REQUIRE(g.get_count() == 1);
    h->release();
    REQUIRE(g.get_count() == 0);
    h->release();
    REQUIRE(g.get_count() == 0);
}

TEST_CASE("a holder in a coroutine keeps close waiting until the coroutine ends") {
    no_abandoned_failures guard;
    gate g;
    promise<> pr;
    auto work = [](gate& g, future<> f) -> future<> {
        auto h = g.hold();
        co_await std::move(f);
    }(g, pr.get_future());
    auto closed = g.close();
    REQUIRE_FALSE(closed.available());
    pr.set_value();
    sync_wait(std::move(work));
    REQUIRE(closed.available());
    closed.get();
}

TEST_CASE("with_gate leaves the gate when the function's future resolves") {
    no_abandoned_failures guard;
    gate g;
    promise<int> pr;
    auto f = with_gate(g, [&] { return pr.get_future(); });
    REQUIRE(g.get_count() == 1);
    auto closed = g.close();
    pr.set_value(3);
    REQUIRE(sync_wait(std::move(f)) == 3);
    sync_wait(std::move(closed));
}

TEST_CASE("with_gate leaves the gate when the function throws or fails") {
    no_abandoned_failures guard;
    gate g;
    REQUIRE_THROWS_WITH(sync_wait(with_gate(g, []() -> int { throw std::runtime_error("boom"); })), "boom");
    REQUIRE(g.get_count() == 0);
    REQUIRE_THROWS_WITH(
        sync_wait(with_gate(g, [] { return make_exception_future<>(std::runtime_error("failed")); })),
        "failed");
    REQUIRE(g.get_count() == 0);
    sync_wait(g.close());
}

TEST_CASE("with_gate on a closed gate fails without calling the function") {
    no_abandoned_failures guard;
    gate g;
    sync_wait(g.close());
    bool called = false;
    auto f = with_gate(g, [&] {
        called = true;
        return 1;
    });
    REQUIRE_THROWS_AS(sync_wait(std::move(f)), gate_closed_exception);
    REQUIRE_FALSE(called);
}

TEST_CASE("closing a gate twice fails the second close with logic_error") {
    no_abandoned_failures guard;
    gate g;
    sync_wait(g.close());
    REQUIRE_THROWS_AS(sync_wait(g.close()), std::logic_error);
}
