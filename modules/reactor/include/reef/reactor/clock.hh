// Clocks of the reactor: steady_clock_type (precise), lowres_clock (a cached reading the
// reactor refreshes, so now() is one load) and manual_clock (moved by hand, for tests).
//   auto deadline = reef::lowres_clock::now() + 5s;     // cheap on hot paths
//   reef::manual_clock::advance(1s);                     // fires due manual timers
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace reef {

/// The precise monotonic clock of timers and sleeps: std::chrono::steady_clock
/// (CLOCK_MONOTONIC, nanoseconds; a vDSO call of ~20 ns).
using steady_clock_type = std::chrono::steady_clock;

namespace detail {
// The lowres reading of this thread, in steady_clock nanoseconds; 0 until the reactor
// of this thread first refreshed it. Written by the owning thread only (by its loop and
// its tick signal handler), hence atomic.
inline constinit thread_local std::atomic<std::int64_t> tl_lowres_now{0};
// The time of manual_clock, shared by every thread, in nanoseconds since its epoch.
inline constinit std::atomic<std::int64_t> manual_now{0};
}  // namespace detail

/// A cheap monotonic clock: now() reads a value the reactor of this shard refreshes
/// from steady_clock at every loop iteration and, while tasks run, from a 1 ms tick, so
/// that it lags steady_clock by at most ~1 ms on a busy shard (a few ms under heavy
/// signal delay) and by nothing right after the shard wakes. Its time points are
/// steady_clock's (same epoch and type), so they mix freely with steady deadlines;
/// timer<lowres_clock> fires when this reading passes the deadline. On a thread without
/// a reactor, now() reads steady_clock. Each shard has its own reading, monotonic on
/// that shard.
class lowres_clock {
public:
    using duration = std::chrono::nanoseconds;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::steady_clock::time_point;
    static constexpr bool is_steady = true;

    /// The cached reading (one thread-local load). Never yields, never allocates.
    static time_point now() noexcept {
        std::int64_t ns = detail::tl_lowres_now.load(std::memory_order_relaxed);
        if (ns == 0) [[unlikely]] {
            return std::chrono::steady_clock::now();
        }
        return time_point(duration(ns));
    }
};

/// A clock that moves only when advance() is called, for tests of timeouts. Its time is
/// process-wide and starts at 0. timer<manual_clock> (and sleep<manual_clock>) fire when
/// the clock passes their deadline.
class manual_clock {
public:
    using duration = std::chrono::nanoseconds;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<manual_clock, duration>;
    static constexpr bool is_steady = true;

    /// The current manual time. Any thread.
    static time_point now() noexcept {
        return time_point(duration(detail::manual_now.load(std::memory_order_acquire)));
    }

    /// Moves the time forward by `d` (negative durations are ignored) for every shard.
    /// On the calling shard the manual timers that are now due are expired at once:
    /// their callbacks are queued as tasks (so `advance(d); co_await yield` lets them
    /// run). Every other shard is woken and expires its own due manual timers at its
    /// next poll, i.e. asynchronously: a test that needs them done should wait for an
    /// effect (for example with smp::submit_to). Any thread; never yields.
    static void advance(duration d) noexcept;
};

}  // namespace reef
