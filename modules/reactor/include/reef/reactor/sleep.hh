// sleep(): a future that resolves after a duration, on the timers of this shard;
// sleep_abortable() also fails early when an abort_source is aborted.
//   co_await reef::sleep(10ms);
//   co_await reef::sleep_abortable(1s, as);   // throws sleep_aborted on as.request_abort()
#pragma once

#include <chrono>
#include <cstdint>

#include <reef/core/abort_source.hh>
#include <reef/core/future.hh>
#include <reef/reactor/clock.hh>
#include <reef/reactor/timer.hh>

namespace reef {

/// A sleep_abortable() was aborted with a plain abort_source::request_abort().
struct sleep_aborted : abort_requested_exception {
    const char* what() const noexcept override { return "sleep aborted"; }
};

namespace detail {
future<> sleep_ns(timer_clock c, std::int64_t ns);
future<> sleep_abortable_ns(timer_clock c, std::int64_t ns, abort_source& as);
template <typename Rep, typename Period>
std::int64_t sleep_duration_ns(std::chrono::duration<Rep, Period> d) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}
}  // namespace detail

/// Resolves once `d` has passed on `Clock` (steady_clock_type, lowres_clock or
/// manual_clock), measured from Clock::now(). Never earlier than the deadline; on an
/// idle shard a steady sleep wakes within tens of microseconds after it (the reactor
/// sleeps in the backend with a nanosecond timeout). A lowres sleep is checked against
/// the lowres clock, so it may end up to ~1 ms later. Allocates one object. Fails with
/// std::logic_error on a thread without a running reactor.
template <typename Clock = steady_clock_type, typename Rep, typename Period>
future<> sleep(std::chrono::duration<Rep, Period> d) {
    return detail::sleep_ns(detail::timer_clock_of<Clock>::value, detail::sleep_duration_ns(d));
}

/// Like sleep(d), and fails early when `as` is aborted (at once if it already was):
/// with sleep_aborted after request_abort(), with the abort_source's own exception
/// after request_abort_ex(e). `as` must outlive the sleep.
template <typename Clock = steady_clock_type, typename Rep, typename Period>
future<> sleep_abortable(std::chrono::duration<Rep, Period> d, abort_source& as) {
    return detail::sleep_abortable_ns(detail::timer_clock_of<Clock>::value, detail::sleep_duration_ns(d), as);
}

}  // namespace reef
