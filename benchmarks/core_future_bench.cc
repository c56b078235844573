// Micro-benchmarks of core-future, per operation: then() chains, coroutine calls and
// co_await, yielding, exception propagation, combinators, generators and temporary_buffer,
// beside a floor (the cheapest eager coroutine task we know how to write) measured in the
// same run. docs/performance.md quotes the results.
#include "bench.hh"

#include <array>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <utility>
#include <vector>

#include <reef/core/coroutine.hh>
#include <reef/core/future.hh>
#include <reef/core/generator.hh>
#include <reef/core/parallel_for_each.hh>
#include <reef/core/scheduler.hh>
#include <reef/core/temporary_buffer.hh>
#include <reef/core/when_all.hh>

namespace {

using reef::bench::keep;
using reef::bench::opaque;

// ---------------------------------------------------------------------------------------
// The floor: an eager coroutine task with no future, no promise, no scheduler and a
// one-size free list for its frames. Calling and awaiting it is the least a coroutine
// call can cost on this machine; every future-returning coroutine is compared with it.

namespace floor_impl {

struct free_block {
    free_block* next;
};

struct frame_cache {
    free_block* head = nullptr;
    std::size_t block_size = 0;  // the size of the blocks on the list (one coroutine type)
};

constinit thread_local frame_cache tl_frames{};

void* frame_alloc(std::size_t n) {
    auto& c = tl_frames;
    if (c.head && n == c.block_size) [[likely]] {
        return std::exchange(c.head, c.head->next);
    }
    return ::operator new(n);
}

void frame_free(void* p, std::size_t n) noexcept {
    auto& c = tl_frames;
    if (c.block_size == 0) {
        c.block_size = n;
    }
    if (n == c.block_size) [[likely]] {
        c.head = new (p) free_block{c.head};
        return;
    }
    ::operator delete(p, n);
}

/// Starts running at once; on completion it suspends and hands control back to an
/// awaiter if one is waiting (symmetric transfer). The frame dies with the task object.
class eager_task {
public:
    struct promise_type;
    using handle = std::coroutine_handle<promise_type>;

    struct promise_type {
        int value = 0;
        std::coroutine_handle<> waiter;

        eager_task get_return_object() noexcept { return eager_task(handle::from_promise(*this)); }
        std::suspend_never initial_suspend() noexcept { return {}; }
        struct final_awaiter {
            bool await_ready() const noexcept { return false; }
            std::coroutine_handle<> await_suspend(handle h) noexcept {
                auto w = h.promise().waiter;
                return w ? w : std::noop_coroutine();
            }
            void await_resume() const noexcept {}
        };
        final_awaiter final_suspend() noexcept { return {}; }
        void return_value(int v) noexcept { value = v; }
        void unhandled_exception() noexcept { std::terminate(); }
        static void* operator new(std::size_t n) { return frame_alloc(n); }
        static void operator delete(void* p, std::size_t n) noexcept { frame_free(p, n); }
    };

    eager_task(eager_task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    eager_task(const eager_task&) = delete;
    ~eager_task() {
        if (h_) {
            h_.destroy();
        }
    }
    bool await_ready() const noexcept { return h_.done(); }
    void await_suspend(std::coroutine_handle<> w) noexcept { h_.promise().waiter = w; }
    int await_resume() noexcept { return h_.promise().value; }

private:
    explicit eager_task(handle h) noexcept : h_(h) {}
    handle h_;
};

[[gnu::noinline]] eager_task callee(int x) {
    co_return x + 1;
}

}  // namespace floor_impl

const bool floor_registered = reef::bench::add(
    "core/floor_eager_call",
    [](std::uint64_t n) -> reef::future<> {
        int s = 0;
        for (std::uint64_t i = 0; i < n; ++i) {
            s += co_await floor_impl::callee(opaque(int(i)));
        }
        keep(s);
    },
    {.description =
         "floor: call + co_await + co_return of a minimal eager task (free-list frame, not inlined)"});

// ---------------------------------------------------------------------------------------
// Shared pieces

/// A failure made once, so that propagating it costs no allocation of its own.
const std::exception_ptr& bench_failure() {
    static const std::exception_ptr e = std::make_exception_ptr(std::runtime_error("benchmark failure"));
    return e;
}

/// Always suspends and requeues the coroutine: it resumes on the next turn of the queue.
struct yield_now {
    bool await_ready() const noexcept { return false; }
    template <typename P>
    void await_suspend(std::coroutine_handle<P> h) noexcept {
        reef::schedule(reef::detail::resume_task_of(h));
    }
    void await_resume() const noexcept {}
};

/// Makes need_preempt() true for as long as it lives (head != tail).
class forced_preemption {
public:
    forced_preemption() noexcept {
        monitor_.tail.store(1, std::memory_order_relaxed);
        prev_ = reef::set_preemption_monitor(&monitor_);
    }
    forced_preemption(const forced_preemption&) = delete;
    ~forced_preemption() { reef::set_preemption_monitor(prev_); }

private:
    reef::detail::preemption_monitor monitor_;
    const reef::detail::preemption_monitor* prev_;
};

void expect(bool ok, const char* what) {
    if (!ok) {
        throw std::logic_error(what);
    }
}

// ---------------------------------------------------------------------------------------
// then()

REEF_BENCH("core/then_ready_link", .ops_per_iteration = 8,
           .description = "one then() link of an 8-link chain on a ready future (runs inline)") {
    auto inc = [](int v) { return v + 1; };
    auto f = reef::make_ready_future<int>(opaque(1))
                 .then(inc)
                 .then(inc)
                 .then(inc)
                 .then(inc)
                 .then(inc)
                 .then(inc)
                 .then(inc)
                 .then(inc);
    keep(f.get());
}

constexpr std::size_t unready_batch = 100;

const bool then_unready_registered = reef::bench::add(
    "core/then_unready_link",
    [](std::uint64_t n) -> reef::future<> {
        // Batches of independent links, so that the one resume of this coroutine per
        // batch adds only 1/100 of a task per op.
        std::vector<reef::promise<int>> ps(unready_batch);
        std::vector<reef::future<int>> fs;
        fs.reserve(unready_batch);
        long sum = 0;
        for (std::uint64_t i = 0; i < n; ++i) {
            for (auto& p : ps) {
                p = reef::promise<int>();
                fs.push_back(p.get_future().then([](int v) { return v + 1; }));
            }
            for (std::size_t k = 0; k < unready_batch; ++k) {
                ps[k].set_value(int(k));
            }
            sum += co_await std::move(fs.back());  // the last continuation queued runs last
            fs.pop_back();
            for (auto& f : fs) {
                sum += f.get();
            }
            fs.clear();
        }
        keep(sum);
    },
    {.ops_per_iteration = unready_batch,
     .description = "then() attached to a pending future, promise resolved afterwards (batches of 100)"});

constexpr int chain_depth = 32;

const bool then_chain_registered = reef::bench::add(
    "core/then_chain32_link",
    [](std::uint64_t n) -> reef::future<> {
        long sum = 0;
        for (std::uint64_t i = 0; i < n; ++i) {
            reef::promise<int> p;
            reef::future<int> f = p.get_future();
            for (int k = 0; k < chain_depth; ++k) {
                f = f.then([](int v) { return v + 1; });
            }
            p.set_value(int(i));
            sum += co_await std::move(f);
        }
        keep(sum);
    },
    {.ops_per_iteration = chain_depth, .description = "one then() link of a 32-deep chain resolved later"});

const bool then_chain_exception_registered =
    reef::bench::add("core/then_chain32_exception_link",
                     [](std::uint64_t n) -> reef::future<> {
                         for (std::uint64_t i = 0; i < n; ++i) {
                             reef::promise<int> p;
                             reef::future<int> f = p.get_future();
                             for (int k = 0; k < chain_depth; ++k) {
                                 f = f.then([](int v) { return v + 1; });
                             }
                             p.set_exception(bench_failure());
                             auto r = co_await reef::coroutine::as_future(std::move(f));
                             expect(r.failed(), "the chain should have failed");
                             r.ignore_ready_future();
                         }
                     },
                     {.ops_per_iteration = chain_depth,
                      .description = "one then() link of a 32-deep chain propagating a failure set later"});

// ---------------------------------------------------------------------------------------
// Coroutine calls and co_await

// A real coroutine has at least one co_await, so it has a suspension point: its frame
// must live on the heap. This one never takes it (x is never negative).
[[gnu::noinline]] reef::future<int> plain_callee(int x) {
    if (x < 0) {
        co_await yield_now{};
    }
    co_return x + 1;
}

const bool call_registered = reef::bench::add(
    "core/coro_call_co_return",
    [](std::uint64_t n) -> reef::future<> {
        int s = 0;
        for (std::uint64_t i = 0; i < n; ++i) {
            s += co_await plain_callee(opaque(int(i & 0xffff)));
        }
        keep(s);
    },
    {.description = "call + co_return + co_await of a future<int> coroutine (not inlined, frame allocated)"});

// Without any suspension point clang keeps the frame on the caller's stack (optimized
// builds only): no allocation at all.
[[gnu::noinline]] reef::future<int> no_suspend_callee(int x) {
    co_return x + 1;
}

const bool call_no_suspend_registered = reef::bench::add(
    "core/coro_call_no_suspend_point",
    [](std::uint64_t n) -> reef::future<> {
        int s = 0;
        for (std::uint64_t i = 0; i < n; ++i) {
            s += co_await no_suspend_callee(opaque(int(i)));
        }
        keep(s);
    },
    {.description = "the same callee without a suspension point: clang elides its frame allocation"});

const bool await_ready_registered =
    reef::bench::add("core/co_await_ready",
                     [](std::uint64_t n) -> reef::future<> {
                         int s = 0;
                         for (std::uint64_t i = 0; i < n; ++i) {
                             s += co_await reef::make_ready_future<int>(opaque(int(i)));
                         }
                         keep(s);
                     },
                     {.description = "co_await a ready future<int> in a running coroutine"});

[[gnu::noinline]] reef::future<int> await_ready_callee(int x) {
    co_return co_await reef::make_ready_future<int>(x) + 1;
}

const bool await_ready_new_registered = reef::bench::add(
    "core/co_await_ready_new_coro",
    [](std::uint64_t n) -> reef::future<> {
        int s = 0;
        for (std::uint64_t i = 0; i < n; ++i) {
            s += co_await await_ready_callee(opaque(int(i)));
        }
        keep(s);
    },
    {.description = "co_await a ready future inside a new coroutine (Seastar's form: includes the call)"});

// Two coroutines hand control to each other through promises: every co_await finds its
// future pending and is resumed through the queue.
struct ping_pong {
    reef::promise<> to_a;
    reef::promise<> to_b;
};

[[gnu::noinline]] reef::future<> pong(ping_pong& s, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) {
        s.to_b = reef::promise<>();
        co_await s.to_b.get_future();
        s.to_a.set_value();
    }
}

const bool await_unready_registered = reef::bench::add(
    "core/co_await_unready",
    [](std::uint64_t n) -> reef::future<> {
        ping_pong s;
        auto other = pong(s, n);  // runs to its first co_await
        for (std::uint64_t i = 0; i < n; ++i) {
            s.to_a = reef::promise<>();
            auto fa = s.to_a.get_future();
            s.to_b.set_value();
            co_await std::move(fa);
        }
        co_await std::move(other);
    },
    {.ops_per_iteration = 2,
     .description = "co_await a pending future, resolved by another coroutine, resumed through the queue"});

// A chain of `depth + 1` coroutines, each awaiting the next; the last awaits `leaf`.
[[gnu::noinline]] reef::future<int> await_chain(int depth, reef::future<int>& leaf) {
    if (depth == 0) {
        co_return co_await std::move(leaf);
    }
    co_return co_await await_chain(depth - 1, leaf) + 1;
}

// The same, awaiting with as_future and failing with coroutine::exception: no rethrow.
[[gnu::noinline]] reef::future<int> as_future_chain(int depth, reef::future<int>& leaf) {
    auto f =
        co_await reef::coroutine::as_future(depth == 0 ? std::move(leaf) : as_future_chain(depth - 1, leaf));
    if (f.failed()) {
        co_return reef::coroutine::exception(f.get_exception());
    }
    co_return f.get() + 1;
}

// The same with try_future: a failure ends each coroutine without a throw.
[[gnu::noinline]] reef::future<int> try_future_chain(int depth, reef::future<int>& leaf) {
    if (depth == 0) {
        co_return co_await reef::coroutine::try_future(std::move(leaf));
    }
    co_return co_await reef::coroutine::try_future(try_future_chain(depth - 1, leaf)) + 1;
}

using chain_fn = reef::future<int> (*)(int, reef::future<int>&);

/// Builds a chain of `links` coroutines on a pending leaf, resolves the leaf with a value
/// (or a failure) and waits for the top, n times.
reef::future<> run_chain(chain_fn chain, int links, bool fail, std::uint64_t n) {
    long sum = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
        reef::promise<int> p;
        reef::future<int> leaf = p.get_future();
        reef::future<int> top = chain(links - 1, leaf);
        if (fail) {
            p.set_exception(bench_failure());
        } else {
            p.set_value(int(i));
        }
        auto r = co_await reef::coroutine::as_future(std::move(top));
        expect(r.failed() == fail, "the chain ended in the wrong state");
        if (fail) {
            r.ignore_ready_future();
        } else {
            sum += r.get();
        }
    }
    keep(sum);
}

const bool await_chain_registered =
    reef::bench::add("core/co_await_chain32_link",
                     [](std::uint64_t n) { return run_chain(await_chain, chain_depth, false, n); },
                     {.ops_per_iteration = chain_depth,
                      .description = "one co_await link of a 32-deep coroutine chain resolved later"});

const bool as_future_chain_registered =
    reef::bench::add("core/as_future_chain32_link",
                     [](std::uint64_t n) { return run_chain(as_future_chain, chain_depth, false, n); },
                     {.ops_per_iteration = chain_depth,
                      .description = "the same chain, each link awaited with coroutine::as_future"});

// ---------------------------------------------------------------------------------------
// Exceptions through 10 coroutine levels, resolved later (per level)

constexpr int exception_levels = 10;

const bool exception_rethrow_registered = reef::bench::add(
    "core/exception_rethrow_level",
    [](std::uint64_t n) { return run_chain(await_chain, exception_levels, true, n); },
    {.ops_per_iteration = exception_levels,
     .description = "a failure through one of 10 coroutine levels, plain co_await (rethrows at each level)"});

const bool exception_as_future_registered = reef::bench::add(
    "core/exception_as_future_level",
    [](std::uint64_t n) { return run_chain(as_future_chain, exception_levels, true, n); },
    {.ops_per_iteration = exception_levels,
     .description = "the same, coroutine::as_future + co_return coroutine::exception (no throw)"});

const bool exception_try_future_registered = reef::bench::add(
    "core/exception_try_future_level",
    [](std::uint64_t n) { return run_chain(try_future_chain, exception_levels, true, n); },
    {.ops_per_iteration = exception_levels, .description = "the same, coroutine::try_future (no throw)"});

// ---------------------------------------------------------------------------------------
// maybe_yield

const bool yield_not_registered = reef::bench::add(
    "core/maybe_yield_not_yielding",
    [](std::uint64_t n) -> reef::future<> {
        for (std::uint64_t i = 0; i < n; ++i) {
            co_await reef::coroutine::maybe_yield();
        }
    },
    {.description = "co_await maybe_yield() with the quota not spent, in a running coroutine"});

[[gnu::noinline]] reef::future<> maybe_yield_callee() {
    co_await reef::coroutine::maybe_yield();
}

const bool yield_new_registered = reef::bench::add(
    "core/maybe_yield_new_coro",
    [](std::uint64_t n) -> reef::future<> {
        for (std::uint64_t i = 0; i < n; ++i) {
            co_await maybe_yield_callee();
        }
    },
    {.description = "maybe_yield() not yielding inside a new coroutine (Seastar's form: includes the call)"});

const bool yield_yes_registered =
    reef::bench::add("core/maybe_yield_yielding",
                     [](std::uint64_t n) -> reef::future<> {
                         forced_preemption always;
                         for (std::uint64_t i = 0; i < n; ++i) {
                             co_await reef::coroutine::maybe_yield();
                         }
                     },
                     {.description = "co_await maybe_yield() with preemption forced: requeue and resume"});

// ---------------------------------------------------------------------------------------
// Combinators

constexpr std::size_t fan_out = 100;

const bool when_all_ready_registered = reef::bench::add(
    "core/when_all_100_ready",
    [](std::uint64_t n) -> reef::future<> {
        std::vector<reef::future<int>> fs;
        fs.reserve(fan_out);
        long sum = 0;
        for (std::uint64_t i = 0; i < n; ++i) {
            for (std::size_t k = 0; k < fan_out; ++k) {
                fs.push_back(reef::make_ready_future<int>(int(k)));
            }
            auto done = co_await reef::when_all(fs.begin(), fs.end());
            for (auto& f : done) {
                sum += f.get();
            }
            fs.clear();
        }
        keep(sum);
    },
    {.ops_per_iteration = fan_out, .description = "when_all(begin, end) over 100 ready futures, per future"});

const bool when_all_unready_registered = reef::bench::add(
    "core/when_all_100_unready",
    [](std::uint64_t n) -> reef::future<> {
        std::vector<reef::promise<int>> ps(fan_out);
        std::vector<reef::future<int>> fs;
        fs.reserve(fan_out);
        long sum = 0;
        for (std::uint64_t i = 0; i < n; ++i) {
            for (auto& p : ps) {
                p = reef::promise<int>();
                fs.push_back(p.get_future());
            }
            auto all = reef::when_all(fs.begin(), fs.end());
            for (std::size_t k = 0; k < fan_out; ++k) {
                ps[k].set_value(int(k));
            }
            auto done = co_await std::move(all);
            for (auto& f : done) {
                sum += f.get();
            }
            fs.clear();
        }
        keep(sum);
    },
    {.ops_per_iteration = fan_out,
     .description = "when_all(begin, end) over 100 pending futures resolved after the call, per future"});

const bool pfe_ready_registered = reef::bench::add(
    "core/parallel_for_each_100_ready",
    [](std::uint64_t n) -> reef::future<> {
        std::array<int, fan_out> items{};
        for (std::uint64_t i = 0; i < n; ++i) {
            co_await reef::coroutine::parallel_for_each(items, [](int v) {
                keep(v);
                return reef::make_ready_future<>();
            });
        }
    },
    {.ops_per_iteration = fan_out,
     .description = "coroutine::parallel_for_each over 100 elements whose futures are ready, per element"});

[[gnu::noinline]] reef::future<> suspending_element(int v) {
    co_await yield_now{};
    keep(v);
}

const bool pfe_suspending_registered = reef::bench::add(
    "core/parallel_for_each_100_suspending",
    [](std::uint64_t n) -> reef::future<> {
        std::array<int, fan_out> items{};
        for (std::uint64_t i = 0; i < n; ++i) {
            co_await reef::coroutine::parallel_for_each(items, [](int v) { return suspending_element(v); });
        }
    },
    {.ops_per_iteration = fan_out,
     .description = "coroutine::parallel_for_each over 100 coroutines that each suspend once, per element"});

const bool pfe_future_ready_registered = reef::bench::add(
    "core/parallel_for_each_future_100_ready",
    [](std::uint64_t n) -> reef::future<> {
        std::array<int, fan_out> items{};
        for (std::uint64_t i = 0; i < n; ++i) {
            co_await reef::parallel_for_each(items, [](int v) {
                keep(v);
                return reef::make_ready_future<>();
            });
        }
    },
    {.ops_per_iteration = fan_out,
     .description = "reef::parallel_for_each (future form) over 100 ready elements, per element"});

const bool pfe_future_suspending_registered = reef::bench::add(
    "core/parallel_for_each_future_100_suspending",
    [](std::uint64_t n) -> reef::future<> {
        std::array<int, fan_out> items{};
        for (std::uint64_t i = 0; i < n; ++i) {
            co_await reef::parallel_for_each(items, [](int v) { return suspending_element(v); });
        }
    },
    {.ops_per_iteration = fan_out,
     .description =
         "reef::parallel_for_each (future form) over 100 coroutines that suspend once, per element"});

// ---------------------------------------------------------------------------------------
// Generator

reef::coroutine::generator<int> count_to(std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) {
        co_yield int(i);
    }
}

const bool generator_registered =
    reef::bench::add("core/generator_yield",
                     [](std::uint64_t n) -> reef::future<> {
                         auto g = count_to(n);
                         long sum = 0;
                         std::uint64_t seen = 0;
                         while (auto v = co_await g()) {
                             sum += *v;
                             ++seen;
                         }
                         expect(seen == n, "the generator produced the wrong number of values");
                         keep(sum);
                     },
                     {.description = "one co_yield of a generator<int> pulled by co_await g()"});

// ---------------------------------------------------------------------------------------
// temporary_buffer

const bool buffer_share_registered =
    reef::bench::add("core/temporary_buffer_share",
                     [](std::uint64_t n) {
                         reef::temporary_buffer<char> b(4096);
                         for (std::uint64_t i = 0; i < n; ++i) {
                             auto s = b.share();
                             keep(s.get());
                         }
                     },
                     {.description = "share() of a 4 KiB temporary_buffer<char> and drop of the share"});

const bool buffer_slice_registered =
    reef::bench::add("core/temporary_buffer_slice",
                     [](std::uint64_t n) {
                         reef::temporary_buffer<char> b(4096);
                         for (std::uint64_t i = 0; i < n; ++i) {
                             auto s = b.share(opaque(std::size_t(100)), 1000);
                             s.trim_front(10);
                             s.trim(500);
                             keep(s.get());
                         }
                     },
                     {.description = "share(pos, len) of a 4 KiB buffer, trim_front() and trim(), drop"});

}  // namespace
