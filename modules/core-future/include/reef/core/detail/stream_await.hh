// An awaiter that yields the settled future itself instead of its value, so stream
// coroutines can forward a failure without rethrowing it. Internal to the streams.
#pragma once

#include <reef/core/future.hh>

namespace reef::detail {

/// co_await await_settled(f) suspends until `f` resolves and yields it, ready (failed
/// or not). Does not suspend on a ready future unless preemption is due.
template <typename T>
future_awaiter<T, await_mode::as_future> await_settled(future<T>&& f) noexcept {
    return future_awaiter<T, await_mode::as_future>(std::move(f));
}

}  // namespace reef::detail
