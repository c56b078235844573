#include <reef/reactor/alien.hh>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <reef/core/coroutine.hh>
#include <reef/reactor/smp.hh>
#include <reef/testing/test_case.hh>

#include "reactor_impl.hh"

using namespace reef;
using namespace std::chrono_literals;

REEF_TEST_CASE("alien::submit_to from 4 threads x 10000 calls loses nothing") {
    constexpr int threads = 4;
    constexpr int per_thread = 10'000;
    static std::atomic<long> ran_on[2];
    ran_on[0] = 0;
    ran_on[1] = 0;
    promise<> all_done;
    auto done = all_done.get_future();
    std::atomic<int> remaining{threads};
    std::atomic<int> failures{0};
    std::vector<long> sums(threads, 0);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            try {
                std::vector<std::future<long>> results;
                results.reserve(per_thread);
                for (int i = 0; i < per_thread; ++i) {
                    long v = long(t) * per_thread + i;
                    results.push_back(alien::submit_to(unsigned(i % 2), [v] {
                        ran_on[this_shard_id()]++;
                        return v;
                    }));
                }
                long sum = 0;
                for (auto& r : results) {
                    sum += r.get();
                }
                sums[t] = sum;
            } catch (...) {
                failures++;
            }
            if (--remaining == 0) {
                alien::run_on(0, [&all_done] { all_done.set_value(); });
            }
        });
    }
    co_await std::move(done);
    for (auto& w : workers) {
        w.join();
    }
    REQUIRE(failures == 0);
    long total = 0;
    for (long s : sums) {
        total += s;
    }
    long n = long(threads) * per_thread;
    REQUIRE(total == n * (n - 1) / 2);
    REQUIRE(ran_on[0] == n / 2);
    REQUIRE(ran_on[1] == n / 2);
}

REEF_TEST_CASE("alien calls run as tasks on their shard and await asynchronous results") {
    promise<> finished;
    auto fin = finished.get_future();
    unsigned where = 99;
    int async_value = 0;
    bool void_ok = false;
    std::string error;
    std::thread t([&] {
        try {
            where = alien::submit_to(1, [] { return this_shard_id(); }).get();
            async_value = alien::submit_to(0, []() -> future<int> {
                              int v = co_await smp::submit_to(1, [] { return 20; });
                              co_await coroutine::maybe_yield();
                              co_return v + 1;
                          }).get();
            alien::submit_to(1, [] {}).get();
            void_ok = true;
        } catch (const std::exception& e) {
            error = e.what();
        }
        alien::run_on(0, [&finished] { finished.set_value(); });
    });
    co_await std::move(fin);
    t.join();
    REQUIRE(error.empty());
    REQUIRE(where == 1);
    REQUIRE(async_value == 21);
    REQUIRE(void_ok);
}

REEF_TEST_CASE("alien calls deliver exceptions to the std::future") {
    promise<> finished;
    auto fin = finished.get_future();
    std::string sync_error, async_error, unexpected;
    bool out_of_range = false;
    std::thread t([&] {
        try {
            auto f = alien::submit_to(1, []() -> int { throw std::runtime_error("boom"); });
            try {
                f.get();
            } catch (const std::runtime_error& e) {
                sync_error = e.what();
            }
            auto g = alien::submit_to(0, []() -> future<int> {
                co_await smp::submit_to(1, [] {});
                throw std::invalid_argument("late boom");
            });
            try {
                g.get();
            } catch (const std::invalid_argument& e) {
                async_error = e.what();
            }
            try {
                (void)alien::submit_to(7, [] { return 1; });
            } catch (const std::out_of_range&) {
                out_of_range = true;
            }
        } catch (const std::exception& e) {
            unexpected = e.what();
        }
        alien::run_on(0, [&finished] { finished.set_value(); });
    });
    co_await std::move(fin);
    t.join();
    REQUIRE(unexpected.empty());
    REQUIRE(sync_error == "boom");
    REQUIRE(async_error == "late boom");
    REQUIRE(out_of_range);
}

REEF_TEST_CASE("alien calls from a shard thread are refused") {
    REQUIRE_THROWS_AS(alien::submit_to(1, [] { return 1; }), std::logic_error);
    REQUIRE_THROWS_AS(alien::run_on(0, [] {}), std::logic_error);
    co_return;
}

TEST_CASE("alien calls when the shards are not running fail with shard_not_running") {
    REQUIRE_THROWS_AS(alien::submit_to(0, [] { return 1; }), alien::shard_not_running);
    std::string what;
    std::thread t([&] {
        try {
            alien::run_on(1, [] {});
        } catch (const alien::shard_not_running& e) {
            what = e.what();
        }
    });
    t.join();
    REQUIRE(what.find("not running") != std::string::npos);
}

REEF_TEST_CASE("an alien call wakes a sleeping shard promptly") {
    promise<> finished;
    auto fin = finished.get_future();
    std::vector<double> latencies_ms;
    int rounds_without_sleep = 0;
    std::string error;
    std::thread t([&] {
        try {
            auto sleeps = [] { return detail::tl_reactor->stats().sleeps; };
            for (int round = 0; round < 10; ++round) {
                auto before = alien::submit_to(1, sleeps).get();
                std::this_thread::sleep_for(20ms);
                auto t0 = std::chrono::steady_clock::now();
                auto after = alien::submit_to(1, sleeps).get();
                latencies_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
                if (after <= before) {
                    rounds_without_sleep++;
                }
            }
        } catch (const std::exception& e) {
            error = e.what();
        }
        alien::run_on(0, [&finished] { finished.set_value(); });
    });
    co_await std::move(fin);
    t.join();
    REQUIRE(error.empty());
    // Shard 1 went to sleep in every round, and the call woke it.
    REQUIRE(rounds_without_sleep == 0);
    std::sort(latencies_ms.begin(), latencies_ms.end());
    INFO("median " << latencies_ms[latencies_ms.size() / 2] << " ms, max " << latencies_ms.back() << " ms");
    REQUIRE(latencies_ms[latencies_ms.size() / 2] < 20.0);
    REQUIRE(latencies_ms.back() < 1000.0);
}

TEST_CASE("alien calls racing with shutdown complete or fail and never hang") {
    std::atomic<int> completed{0};
    std::atomic<int> failed{0};
    std::atomic<int> hung{0};
    std::atomic<bool> refused_at_end{false};
    std::thread producer;
    reef::testing::run_in_reactor([&]() -> future<> {
        promise<> first;
        auto started = first.get_future();
        producer = std::thread([&] {
            std::deque<std::future<int>> window;
            auto settle = [&](std::future<int>& f) {
                if (f.wait_for(10s) != std::future_status::ready) {
                    hung++;
                    return;
                }
                try {
                    f.get();
                    completed++;
                } catch (const alien::shard_not_running&) {
                    failed++;
                }
            };
            bool signalled = false;
            for (long i = 0; i < 20'000'000; ++i) {
                try {
                    window.push_back(alien::submit_to(1, [] { return 1; }));
                } catch (const alien::shard_not_running&) {
                    refused_at_end = true;
                    break;
                }
                if (!signalled) {
                    alien::run_on(0, [&first] { first.set_value(); });
                    signalled = true;
                }
                if (window.size() > 256) {
                    settle(window.front());
                    window.pop_front();
                }
            }
            for (auto& f : window) {
                settle(f);
            }
        });
        // Return as soon as calls flow: the shards stop while the producer keeps going.
        co_await std::move(started);
    });
    producer.join();
    INFO("completed " << completed << ", failed at shutdown " << failed);
    REQUIRE(hung == 0);
    REQUIRE(refused_at_end);
    REQUIRE(completed > 0);
}

TEST_CASE("alien calls still queued when their shard stops fail with shard_not_running") {
    constexpr int calls = 20'000;
    std::atomic<int> completed{0};
    std::atomic<int> failed{0};
    std::atomic<int> hung{0};
    std::atomic<bool> refused_after{false};
    std::thread producer;
    reef::testing::run_in_reactor([&]() -> future<> {
        promise<> first;
        auto started = first.get_future();
        producer = std::thread([&] {
            std::vector<std::future<void>> results;
            results.reserve(calls);
            for (int i = 0; i < calls; ++i) {
                // Each call holds shard 1 for a while, so most are still queued when
                // the shards stop.
                results.push_back(alien::submit_to(1, [] { std::this_thread::sleep_for(200us); }));
            }
            // Stop the shards while shard 1 is busy with the backlog.
            results[0].wait();
            alien::run_on(0, [&first] { first.set_value(); });
            for (auto& f : results) {
                if (f.wait_for(30s) != std::future_status::ready) {
                    hung++;
                    continue;
                }
                try {
                    f.get();
                    completed++;
                } catch (const alien::shard_not_running&) {
                    failed++;
                }
            }
            try {
                alien::run_on(1, [] {});
            } catch (const alien::shard_not_running&) {
                refused_after = true;
            }
        });
        co_await std::move(started);
    });
    producer.join();
    INFO("completed " << completed << ", failed at shutdown " << failed);
    REQUIRE(hung == 0);
    REQUIRE(completed + failed == calls);
    REQUIRE(failed > 0);
    REQUIRE(refused_after);
}
