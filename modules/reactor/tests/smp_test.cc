#include <reef/testing/test_case.hh>

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include <reef/core/coroutine.hh>
#include <reef/reactor/smp.hh>

using namespace reef;

REEF_TEST_CASE("submit_to runs the function on the target shard and returns its value") {
    unsigned where = co_await smp::submit_to(1, [] { return this_shard_id(); });
    REQUIRE(where == 1);
    auto s = co_await smp::submit_to(1, [] { return std::string("from shard 1"); });
    REQUIRE(s == "from shard 1");
    unsigned here = co_await smp::submit_to(0, [] { return this_shard_id(); });
    REQUIRE(here == 0);
}

REEF_TEST_CASE("submit_to carries failures back") {
    auto f = co_await coroutine::as_future(smp::submit_to(1, []() -> int { throw std::runtime_error("remote"); }));
    REQUIRE(f.failed());
    REQUIRE_THROWS_WITH(f.get(), "remote");
    auto g = co_await coroutine::as_future(smp::submit_to(7, [] { return 1; }));
    REQUIRE_THROWS_AS(g.get(), std::out_of_range);
}

REEF_TEST_CASE("submit_to waits for an asynchronous result on the target") {
    int v = co_await smp::submit_to(1, []() -> future<int> {
        co_await coroutine::maybe_yield();
        int inner = co_await smp::submit_to(0, [] { return 20; });
        co_return inner + 1;
    });
    REQUIRE(v == 21);
}

REEF_TEST_CASE("a million cross-shard round trips lose nothing") {
    constexpr int total = 1'000'000;
    constexpr int in_flight = 128;
    long sum = 0;
    int sent = 0;
    std::vector<future<int>> window;
    window.reserve(in_flight);
    while (sent < total || !window.empty()) {
        while (sent < total && int(window.size()) < in_flight) {
            int i = sent++;
            window.push_back(smp::submit_to(1, [i] { return i % 7; }));
        }
        std::vector<future<int>> batch;
        batch.swap(window);
        for (auto& f : batch) {
            sum += co_await std::move(f);
        }
    }
    long expected = 0;
    for (int i = 0; i < total; ++i) {
        expected += i % 7;
    }
    REQUIRE(sum == expected);
}

REEF_TEST_CASE("invoke_on_all reaches every shard and invoke_on_others skips this one") {
    static std::atomic<int> hits[2];
    hits[0] = 0;
    hits[1] = 0;
    co_await smp::invoke_on_all([] { hits[this_shard_id()]++; });
    REQUIRE(hits[0] == 1);
    REQUIRE(hits[1] == 1);
    co_await smp::invoke_on_others([] { hits[this_shard_id()]++; });
    REQUIRE(hits[0] == 1);
    REQUIRE(hits[1] == 2);
    auto f = co_await coroutine::as_future(
        smp::invoke_on_all([]() -> future<> { throw std::runtime_error("shard failed"); }));
    REQUIRE_THROWS_WITH(f.get(), "shard failed");
}
