// Reactor micro-benchmarks, run inside live shards on one backend (--reactor-backend):
// the cost of a task through the run queue, of yielding, and of cross-shard calls.
#include <atomic>
#include <cstdint>
#include <vector>

#include <reef/core/coroutine.hh>
#include <reef/core/future.hh>
#include <reef/reactor/clock.hh>
#include <reef/reactor/smp.hh>
#include <reef/reactor/timer.hh>

#include "bench.hh"

using namespace reef;

namespace {

// A task that requeues itself until it has run `left` times, then resolves a promise.
struct requeue_task final : task {
    std::uint64_t left;
    promise<> done;
    explicit requeue_task(std::uint64_t n) : left(n) {}
    void run_and_dispose() noexcept override {
        if (--left == 0) {
            done.set_value();
            return;
        }
        schedule(this);
    }
};

// Suspends the coroutine and requeues it once, whatever the quota says.
struct yield_now {
    bool await_ready() const noexcept { return false; }
    template <typename P>
    void await_suspend(std::coroutine_handle<P> h) {
        schedule(&h.promise());
    }
    void await_resume() const noexcept {}
};

const bool registered = [] {
    bench::add(
        "reactor/task_through_queue",
        [](std::uint64_t n) -> future<> {
            requeue_task t(n);
            auto f = t.done.get_future();
            schedule(&t);
            co_await std::move(f);
        },
        {.description = "one task run from the reactor's queue and requeued (per run)"});
    bench::add(
        "reactor/coroutine_yield",
        [](std::uint64_t n) -> future<> {
            for (std::uint64_t i = 0; i < n; ++i) {
                co_await yield_now{};
            }
        },
        {.description = "a coroutine suspending and being resumed from the queue (per yield)"});
    bench::add(
        "reactor/maybe_yield",
        [](std::uint64_t n) -> future<> {
            for (std::uint64_t i = 0; i < n; ++i) {
                co_await coroutine::maybe_yield();
            }
        },
        {.description = "maybe_yield in a loop: yields only when the 0.5 ms quota expires (per call)"});
    bench::add(
        "reactor/submit_to_round_trip",
        [](std::uint64_t n) -> future<> {
            for (std::uint64_t i = 0; i < n; ++i) {
                co_await smp::submit_to(1, [] {});
            }
        },
        {.description = "one smp::submit_to to shard 1 at a time, awaited (per round trip)"});
    bench::add(
        "reactor/submit_to_64_in_flight",
        [](std::uint64_t n) -> future<> {
            std::vector<future<>> window;
            window.reserve(64);
            std::uint64_t sent = 0;
            while (sent < n) {
                while (sent < n && window.size() < 64) {
                    window.push_back(smp::submit_to(1, [] {}));
                    ++sent;
                }
                for (auto& f : window) {
                    co_await std::move(f);
                }
                window.clear();
            }
        },
        {.description = "smp::submit_to to shard 1 with 64 in flight (per message)"});
    bench::add(
        "reactor/submit_to_busy_target",
        [](std::uint64_t n) -> future<> {
            // Shard 1 runs a CPU-bound loop that yields only when its quota expires, so
            // each call waits for the target's next poll: about one task quota.
            static std::atomic<bool> stop;
            stop.store(false);
            auto burner = smp::submit_to(1, []() -> future<> {
                while (!stop.load(std::memory_order_relaxed)) {
                    for (int i = 0; i < 100; ++i) {
                        bench::clobber();
                    }
                    co_await coroutine::maybe_yield();
                }
            });
            for (std::uint64_t i = 0; i < n; ++i) {
                co_await smp::submit_to(1, [] {});
            }
            stop.store(true);
            co_await std::move(burner);
        },
        {.description = "one submit_to round trip to a shard busy with CPU-bound tasks (per round trip)"});
    bench::add(
        "reactor/timer_arm_cancel",
        [](std::uint64_t n) {
            timer<> t([] {});
            auto base = steady_clock_type::now() + std::chrono::seconds(10);
            for (std::uint64_t i = 0; i < n; ++i) {
                t.arm(base + std::chrono::nanoseconds(i));
                t.cancel();
            }
        },
        {.description = "arm a steady-clock timer and cancel it (per pair)"});
    bench::add(
        "reactor/timer_arm_fire",
        [](std::uint64_t n) -> future<> {
            promise<> fired;
            timer<> t([&] { fired.set_value(); });
            for (std::uint64_t i = 0; i < n; ++i) {
                fired = promise<>();
                auto f = fired.get_future();
                t.arm(steady_clock_type::now());
                co_await std::move(f);
            }
        },
        {.description = "arm a timer that is already due and wait for its callback (per firing)"});
    return true;
}();

}  // namespace
