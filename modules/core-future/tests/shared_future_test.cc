#include <reef/core/shared_future.hh>

#include <catch2/catch.hpp>

#include "test_support.hh"

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace reef;
using namespace reef::testing;

namespace {

// Silences the default report of abandoned failures while a test expects one.
struct quiet_abandoned_failures {
    abandoned_failure_handler prev = set_abandoned_failure_handler([](const std::exception_ptr&) noexcept {});
    ~quiet_abandoned_failures() { set_abandoned_failure_handler(prev); }
};

future<> await_and_log(shared_future<int> sf, int id, std::vector<std::pair<int, int>>& log) {
    int v = co_await sf.get_future();
    log.emplace_back(id, v);
}

}  // namespace

TEST_CASE("a shared_future of a ready future gives every caller the value") {
    no_abandoned_failures guard;
    shared_future<std::string> sf(make_ready_future<std::string>("hi"));
    REQUIRE(sf.valid());
    REQUIRE(sf.available());
    REQUIRE_FALSE(sf.failed());
    auto allocs = task_allocations();
    auto a = sf.get_future();
    auto b = sf.get_future();
    REQUIRE(task_allocations() == allocs);  // ready: no waiter nodes
    REQUIRE(a.get() == "hi");
    REQUIRE(b.get() == "hi");
}

TEST_CASE("waiters of a pending shared_future are resolved in order with the value") {
    no_abandoned_failures guard;
    promise<int> pr;
    shared_future<int> sf(pr.get_future());
    REQUIRE_FALSE(sf.available());
    std::vector<std::pair<int, int>> log;
    std::vector<future<>> fs;
    for (int i = 0; i < 4; ++i) {
        fs.push_back(await_and_log(sf, i, log));
    }
    run_all();
    REQUIRE(log.empty());
    pr.set_value(42);
    for (auto& f : fs) {
        sync_wait(std::move(f));
    }
    REQUIRE(log == std::vector<std::pair<int, int>>{{0, 42}, {1, 42}, {2, 42}, {3, 42}});
    REQUIRE(sf.available());
    REQUIRE(sync_wait(sf.get_future()) == 42);
}

TEST_CASE("each waiter gets its own copy of the value") {
    no_abandoned_failures guard;
    shared_promise<std::vector<int>> sp;
    auto f1 = sp.get_shared_future();
    auto f2 = sp.get_shared_future();
    sp.set_value(std::vector<int>{1, 2, 3});
    auto v1 = sync_wait(std::move(f1));
    v1.push_back(4);
    auto v2 = sync_wait(std::move(f2));
    REQUIRE(v2 == std::vector<int>{1, 2, 3});
    REQUIRE(sync_wait(sp.get_shared_future()).size() == 3);
}

TEST_CASE("an exception reaches every waiter and later callers") {
    no_abandoned_failures guard;
    promise<int> pr;
    shared_future<int> sf(pr.get_future());
    auto a = sf.get_future();
    auto b = sf.get_future();
    pr.set_exception(std::runtime_error("no value"));
    REQUIRE_THROWS_WITH(sync_wait(std::move(a)), "no value");
    REQUIRE_THROWS_WITH(sync_wait(std::move(b)), "no value");
    REQUIRE(sf.failed());
    REQUIRE_THROWS_WITH(sync_wait(sf.get_future()), "no value");
}

TEST_CASE("shared_promise resolves futures taken before and after its value") {
    no_abandoned_failures guard;
    shared_promise<int> sp;
    REQUIRE_FALSE(sp.available());
    auto before = sp.get_shared_future();
    shared_future<int> sf = sp.to_shared_future();
    auto via_sf = sf.get_future();
    sp.set_value(5);
    REQUIRE(sp.available());
    REQUIRE(sync_wait(std::move(before)) == 5);
    REQUIRE(sync_wait(std::move(via_sf)) == 5);
    REQUIRE(sync_wait(sp.get_shared_future()) == 5);
    REQUIRE(sf.available());
}

TEST_CASE("shared_promise set_exception fails every waiter") {
    no_abandoned_failures guard;
    shared_promise<> sp;
    auto a = sp.get_shared_future();
    auto b = sp.get_shared_future();
    sp.set_exception(std::logic_error("failed"));
    REQUIRE_THROWS_AS(sync_wait(std::move(a)), std::logic_error);
    REQUIRE_THROWS_AS(sync_wait(std::move(b)), std::logic_error);
}

TEST_CASE("destroying an unresolved shared_promise fails its waiters with broken_promise") {
    no_abandoned_failures guard;
    future<int> f = make_ready_future<int>(0);
    future<int> g = make_ready_future<int>(0);
    std::optional<shared_future<int>> sf;
    {
        shared_promise<int> sp;
        f = sp.get_shared_future();
        sf = sp.to_shared_future();
        g = sf->get_future();
    }
    REQUIRE_THROWS_AS(sync_wait(std::move(f)), broken_promise);
    REQUIRE_THROWS_AS(sync_wait(std::move(g)), broken_promise);
    REQUIRE(sf->failed());
    {
        shared_promise<int> alone;
        f = alone.get_shared_future();
    }
    REQUIRE_THROWS_AS(sync_wait(std::move(f)), broken_promise);
    { shared_promise<int> unused; }  // nobody to tell, nothing to report
}

TEST_CASE("a shared failure nobody took a future of is reported once as abandoned") {
    quiet_abandoned_failures quiet;
    auto before = abandoned_failures();
    {
        shared_future<int> sf(make_exception_future<int>(std::runtime_error("lost")));
        auto copy = sf;
        REQUIRE(copy.failed());
    }
    REQUIRE(abandoned_failures() == before + 1);
    {
        shared_future<int> sf(make_exception_future<int>(std::runtime_error("seen")));
        REQUIRE_THROWS(sync_wait(sf.get_future()));
    }
    REQUIRE(abandoned_failures() == before + 1);
}

TEST_CASE("the result of a pending future is kept even when every shared_future is gone") {
    no_abandoned_failures guard;
    promise<int> pr;
    future<int> f = make_ready_future<int>(0);
    {
        shared_future<int> sf(pr.get_future());
        f = sf.get_future();
    }
    pr.set_value(8);
    REQUIRE(sync_wait(std::move(f)) == 8);
}

TEST_CASE("copies of a shared_future share one result and a default one is invalid") {
    no_abandoned_failures guard;
    shared_future<int> invalid;
    REQUIRE_FALSE(invalid.valid());
    REQUIRE_FALSE(invalid.available());
    promise<int> pr;
    shared_future<int> a(pr.get_future());
    shared_future<int> b = a;
    shared_future<int> c;
    c = b;
    pr.set_value(3);
    run_all();
    REQUIRE(a.available());
    REQUIRE(b.available());
    REQUIRE(sync_wait(c.get_future()) == 3);
    future<int> converted = b;
    REQUIRE(sync_wait(std::move(converted)) == 3);
}

TEST_CASE("coroutines can co_await a shared_future directly") {
    no_abandoned_failures guard;
    shared_promise<int> sp;
    auto user = [](shared_future<int> sf) -> future<int> {
        int a = co_await sf;
        int b = co_await sf;
        co_return a + b;
    }(sp.to_shared_future());
    REQUIRE_FALSE(user.available());
    sp.set_value(21);
    REQUIRE(sync_wait(std::move(user)) == 42);
}

TEST_CASE("a shared_future<void> signals completion to every waiter") {
    no_abandoned_failures guard;
    promise<> pr;
    shared_future<> sf(pr.get_future());
    int done = 0;
    auto waiter = [](shared_future<> sf, int& done) -> future<> {
        co_await sf;
        ++done;
    };
    auto a = waiter(sf, done);
    auto b = waiter(sf, done);
    pr.set_value();
    sync_wait(std::move(a));
    sync_wait(std::move(b));
    REQUIRE(done == 2);
}
