// The Reef micro-benchmark harness: registers benchmarks, calibrates their iteration
// counts and reports, per operation, the median time and its spread, allocations and tasks.
//   REEF_BENCH("core/then_ready_link", .ops_per_iteration = 8) { ...one iteration... }
//   reef::bench::add("core/x", [](std::uint64_t n) -> reef::future<> { ...n iterations...; co_return; });
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <reef/core/future.hh>

namespace reef::bench {

/// How a benchmark's counts are turned into per-operation figures.
struct options {
    /// Operations one iteration performs (one 32-link chain: 32). Every figure the
    /// harness reports is divided by iterations * ops_per_iteration.
    std::uint64_t ops_per_iteration = 1;
    /// One line on what is measured; shown by --list and written to the JSON.
    std::string_view description = {};
};

/// A synchronous body that runs `iterations` iterations itself.
using sync_body = std::function<void(std::uint64_t iterations)>;
/// An asynchronous body: the future it returns resolves after `iterations` iterations.
using async_body = std::function<future<>(std::uint64_t iterations)>;

namespace detail {
bool add_sync(std::string name, sync_body body, options opts);
bool add_async(std::string name, async_body body, options opts);
}  // namespace detail

/// Registers a benchmark named "suite/name". `body` is one of:
///  - `void()`: one iteration; the harness calls it in a loop (inlined into the loop);
///  - `void(std::uint64_t n)`: runs n iterations itself (setup outside the loop);
///  - `reef::future<>(std::uint64_t n)`: an asynchronous body whose future resolves after
///    n iterations; the harness drives it to completion (standalone scheduler for now).
/// Returns true, so that it can initialize a namespace-scope variable. Not thread-safe:
/// call it during static initialization or from main() before run_main().
template <typename Body>
bool add(std::string name, Body body, options opts = {}) {
    if constexpr (std::is_invocable_v<Body&, std::uint64_t>) {
        using R = std::invoke_result_t<Body&, std::uint64_t>;
        if constexpr (std::is_same_v<R, future<>>) {
            return detail::add_async(std::move(name), async_body(std::move(body)), opts);
        } else {
            static_assert(std::is_void_v<R>,
                          "a body taking an iteration count returns void or reef::future<>");
            return detail::add_sync(std::move(name), sync_body(std::move(body)), opts);
        }
    } else {
        static_assert(std::is_invocable_r_v<void, Body&>,
                      "a benchmark body is void(), void(std::uint64_t) or reef::future<>(std::uint64_t)");
        // The loop is instantiated here, so a body that the compiler can see is inlined
        // into it: no indirect call per iteration.
        return detail::add_sync(
            std::move(name),
            [b = std::move(body)](std::uint64_t n) mutable {
                for (std::uint64_t i = 0; i < n; ++i) {
                    b();
                }
            },
            opts);
    }
}

/// How asynchronous bodies are driven: by default this thread's standalone scheduler
/// (reef::sync_wait). A reactor-hosted main installs `drive`, which must return once `f`
/// is ready, running the shard's loop meanwhile; `name` goes into the report.
struct runner_hooks {
    void (*drive)(future<>& f) = nullptr;
    const char* name = nullptr;
};
/// Installs the runner used by run_main(). Call before run_main().
void set_runner(runner_hooks hooks) noexcept;

/// Parses the command line, runs the selected benchmarks and reports them. Returns the
/// process exit status (1 on a bad argument, a failing body or an exceeded budget).
/// Options: --filter RE, --list, --json, --reps N, --min-time-ms MS, --warmup N,
/// --quick, --cpu N, --reverse, --check-budget FILE, --help.
int run_main(int argc, char** argv);

/// Heap allocations (every form of global operator new) made by this thread so far.
std::uint64_t heap_allocations() noexcept;

/// Makes the compiler assume `v` is read: its computation cannot be optimized away.
template <typename T>
inline void keep(const T& v) noexcept {
    asm volatile("" : : "r,m"(v) : "memory");
}

/// Returns `v` unchanged, hiding its value from the optimizer (no constant folding).
template <typename T>
inline T opaque(T v) noexcept {
    asm volatile("" : "+r,m"(v));
    return v;
}

/// Makes the compiler assume all memory may have been read and written.
inline void clobber() noexcept {
    asm volatile("" : : : "memory");
}

}  // namespace reef::bench

#define REEF_BENCH_CONCAT_(a, b) a##b
#define REEF_BENCH_CONCAT(a, b) REEF_BENCH_CONCAT_(a, b)
#define REEF_BENCH_DEFINE_(id, name, ...)                                    \
    namespace {                                                              \
    struct id {                                                              \
        void operator()() const;                                             \
    };                                                                       \
    [[maybe_unused]] const bool REEF_BENCH_CONCAT(id, _registered) =         \
        ::reef::bench::add(name, id{}, ::reef::bench::options{__VA_ARGS__}); \
    }                                                                        \
    void id::operator()() const

/// Defines and registers a synchronous benchmark whose body (the braces that follow) is
/// one iteration. Options follow the name as designated initializers:
///   REEF_BENCH("core/x", .ops_per_iteration = 8, .description = "...") { ... }
#define REEF_BENCH(...) REEF_BENCH_DEFINE_(REEF_BENCH_CONCAT(reef_bench_, __COUNTER__), __VA_ARGS__)
