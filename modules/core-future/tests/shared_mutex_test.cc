#include <reef/core/shared_mutex.hh>

#include <catch2/catch.hpp>

#include "test_support.hh"

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace reef;
using namespace reef::testing;

namespace {

future<> reader(shared_mutex& mx, std::string id, std::vector<std::string>& log, future<> release) {
    co_await mx.lock_shared();
    log.push_back(id);
    co_await std::move(release);
    mx.unlock_shared();
}

future<> writer(shared_mutex& mx, std::string id, std::vector<std::string>& log, future<> release) {
    co_await mx.lock();
    log.push_back(id);
    co_await std::move(release);
    mx.unlock();
}

}  // namespace

TEST_CASE("readers share the lock and a writer excludes everyone") {
    no_abandoned_failures guard;
    shared_mutex mx;
    REQUIRE(mx.try_lock_shared());
    REQUIRE(mx.try_lock_shared());
    REQUIRE(mx.shared_holders() == 2);
    REQUIRE_FALSE(mx.try_lock());
    mx.unlock_shared();
    mx.unlock_shared();
    REQUIRE(mx.try_lock());
    REQUIRE(mx.locked_exclusive());
    REQUIRE_FALSE(mx.try_lock());
    REQUIRE_FALSE(mx.try_lock_shared());
    mx.unlock();
    auto allocs = task_allocations();
    auto f = mx.lock();
    REQUIRE(f.available());  // free: granted at once, nothing allocated
    REQUIRE(task_allocations() == allocs);
    f.get();
    mx.unlock();
}

TEST_CASE("a waiting writer holds back readers that arrive after it") {
    no_abandoned_failures guard;
    shared_mutex mx;
    std::vector<std::string> log;
    promise<> r1_done, w_done, r2_done;
    auto r1 = reader(mx, "r1", log, r1_done.get_future());
    auto w = writer(mx, "w", log, w_done.get_future());
    auto r2 = reader(mx, "r2", log, r2_done.get_future());
    run_all();
    REQUIRE(log == std::vector<std::string>{"r1"});
    REQUIRE(mx.waiters() == 2);
    REQUIRE_FALSE(mx.try_lock_shared());  // a writer waits
    r1_done.set_value();
    run_all();
    REQUIRE(log == std::vector<std::string>{"r1", "w"});
    w_done.set_value();
    run_all();
    REQUIRE(log == std::vector<std::string>{"r1", "w", "r2"});
    r2_done.set_value();
    sync_wait(std::move(r1));
    sync_wait(std::move(w));
    sync_wait(std::move(r2));
    REQUIRE(mx.shared_holders() == 0);
    REQUIRE_FALSE(mx.locked_exclusive());
}

TEST_CASE("readers queued together behind a writer are granted together") {
    no_abandoned_failures guard;
    shared_mutex mx;
    std::vector<std::string> log;
    promise<> w1_done, r_done, w2_done;
    auto w1 = writer(mx, "w1", log, w1_done.get_future());
    auto ra = reader(mx, "ra", log, make_ready_future<>());
    auto rb = reader(mx, "rb", log, make_ready_future<>());
    auto w2 = writer(mx, "w2", log, w2_done.get_future());
    auto rc = reader(mx, "rc", log, r_done.get_future());
    w1_done.set_value();
    run_all();
    // ra and rb went in together and out again; then w2; rc waits behind w2.
    REQUIRE(log == std::vector<std::string>{"w1", "ra", "rb", "w2"});
    w2_done.set_value();
    run_all();
    REQUIRE(log.back() == "rc");
    r_done.set_value();
    for (auto* f : {&w1, &ra, &rb, &w2, &rc}) {
        sync_wait(std::move(*f));
    }
}

TEST_CASE("writers are served in arrival order") {
    no_abandoned_failures guard;
    shared_mutex mx;
    std::vector<std::string> log;
    REQUIRE(mx.try_lock());
    std::vector<future<>> fs;
    for (auto id : {"a", "b", "c"}) {
        fs.push_back(writer(mx, id, log, make_ready_future<>()));
    }
    mx.unlock();
    for (auto& f : fs) {
        sync_wait(std::move(f));
    }
    REQUIRE(log == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("with_lock and with_shared unlock when the function's future resolves") {
    no_abandoned_failures guard;
    shared_mutex mx;
    promise<int> pr;
    auto w = with_lock(mx, [&] { return pr.get_future(); });
    REQUIRE(mx.locked_exclusive());
    auto r = with_shared(mx, [&] {
        REQUIRE(mx.shared_holders() == 1);
        return 2;
    });
    REQUIRE_FALSE(r.available());
    pr.set_value(1);
    REQUIRE(sync_wait(std::move(w)) == 1);
    REQUIRE(sync_wait(std::move(r)) == 2);
    REQUIRE_FALSE(mx.locked_exclusive());
    REQUIRE(mx.shared_holders() == 0);
}

TEST_CASE("with_lock and with_shared unlock when the function throws or fails") {
    no_abandoned_failures guard;
    shared_mutex mx;
    REQUIRE_THROWS_WITH(sync_wait(with_lock(mx, []() -> int { throw std::runtime_error("w"); })), "w");
    REQUIRE_FALSE(mx.locked_exclusive());
    REQUIRE_THROWS_WITH(
        sync_wait(with_shared(mx, [] { return make_exception_future<>(std::runtime_error("r")); })), "r");
    REQUIRE(mx.shared_holders() == 0);
    REQUIRE(mx.try_lock());
    mx.unlock();
}

TEST_CASE("destroying a shared_mutex with waiters fails them with broken_promise") {
    no_abandoned_failures guard;
    std::optional<shared_mutex> mx(std::in_place);
    REQUIRE(mx->try_lock());
    auto f = mx->lock_shared();
    mx.reset();
    REQUIRE_THROWS_AS(sync_wait(std::move(f)), broken_promise);
}
