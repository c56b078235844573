#include <reef/testing/test_case.hh>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <vector>

#include <reef/core/coroutine.hh>
#include <reef/reactor/smp.hh>

#include "reactor_impl.hh"
#include "smp_impl.hh"

using namespace reef;

REEF_TEST_CASE("the test body runs on shard 0 of a live reactor") {
    REQUIRE(this_shard_id() == 0);
    REQUIRE(smp::count == 2);
    REQUIRE(detail::tl_reactor != nullptr);
    if (*testing::test_backend()) {
        REQUIRE(detail::this_reactor().io().name() == testing::test_backend());
    }
    co_return;
}

REEF_TEST_CASE("continuations and coroutines run through the reactor's queues") {
    promise<int> p;
    auto f = p.get_future().then([](int v) { return v + 1; });
    p.set_value(1);
    REQUIRE(co_await std::move(f) == 2);
    int n = 0;
    for (int i = 0; i < 1000; ++i) {
        co_await coroutine::maybe_yield();
        ++n;
    }
    REQUIRE(n == 1000);
}

REEF_TEST_CASE("a busy coroutine is asked to yield once its task quota is spent") {
    auto start = std::chrono::steady_clock::now();
    while (!need_preempt()) {
        if (std::chrono::steady_clock::now() - start > std::chrono::seconds(5)) {
            FAIL("need_preempt() never became true");
        }
    }
    auto waited = std::chrono::steady_clock::now() - start;
    // The default quota is 0.5 ms; allow for a slow, shared machine.
    REQUIRE(waited < std::chrono::milliseconds(200));
    co_await coroutine::maybe_yield();
    co_return;
}

REEF_TEST_CASE("a coroutine that keeps the CPU busy is preempted about every quota once it has run long") {
    // The first preemption may take up to 8 quotas (the timer ticks slowly while batches
    // are short); from then on the quota holds. Median of the gaps between yields.
    std::vector<std::chrono::steady_clock::duration> gaps;
    auto last = std::chrono::steady_clock::now();
    auto deadline = last + std::chrono::seconds(10);
    while (gaps.size() < 41 && std::chrono::steady_clock::now() < deadline) {
        while (!need_preempt() && std::chrono::steady_clock::now() < deadline) {
        }
        co_await coroutine::maybe_yield();
        auto now = std::chrono::steady_clock::now();
        gaps.push_back(now - last);
        last = now;
    }
    REQUIRE(gaps.size() == 41);
    gaps.erase(gaps.begin());  // the first may be long
    std::sort(gaps.begin(), gaps.end());
    auto median = gaps[gaps.size() / 2];
    INFO("median gap " << std::chrono::duration_cast<std::chrono::microseconds>(median).count() << " us");
    // 0.5 ms by default; the slow tick would be 4 ms.
    REQUIRE(median < std::chrono::microseconds(2500));
}

TEST_CASE("an unknown backend is refused with the list of compiled ones") {
    smp_config cfg;
    cfg.count = 1;
    cfg.reactor.backend = "kqueue";
    cfg.reactor.overprovisioned = true;
    REQUIRE_THROWS_WITH(detail::run_shards(cfg, [] { return make_ready_future<int>(0); }),
                        Catch::Contains("unknown reactor backend 'kqueue'") && Catch::Contains("epoll"));
}

TEST_CASE("the main function's value and failure come back from run_shards") {
    smp_config cfg = testing::test_config();
    REQUIRE(detail::run_shards(cfg, [] { return make_ready_future<int>(7); }) == 7);
    REQUIRE_THROWS_WITH(detail::run_shards(cfg, []() -> future<int> { throw std::runtime_error("main failed"); }),
                        "main failed");
}

TEST_CASE("asking for more shards than CPUs without --overprovisioned is refused") {
    smp_config cfg;
    cfg.count = 4096;
    REQUIRE_THROWS_AS(detail::run_shards(cfg, [] { return make_ready_future<int>(0); }), std::invalid_argument);
}
