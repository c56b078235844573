// with_timeout(): a future that fails with timed_out_error when another future is not
// ready by a deadline. The original operation keeps running; its late result is dropped.
//   auto v = co_await reef::with_timeout(reef::lowres_clock::now() + 1s, fetch());
#pragma once

#include <chrono>
#include <exception>
#include <utility>

#include <reef/core/future.hh>
#include <reef/core/task.hh>
#include <reef/reactor/timer.hh>

namespace reef {

/// An operation did not complete by its deadline (see with_timeout()).
struct timed_out_error : std::exception {
    const char* what() const noexcept override { return "timed out"; }
};

namespace detail {
// Waits for the original future (as the task it wakes) and for the deadline.
template <typename Clock, typename T>
class with_timeout_state final : public task {
public:
    explicit with_timeout_state(future<T>&& f) noexcept : f_(std::move(f)) {
        t_.set_callback([this] {
            timed_out_ = true;
            pr_.set_exception(std::make_exception_ptr(timed_out_error()));
        });
    }
    future<T> start(typename Clock::time_point deadline) {
        t_.arm(deadline);  // may throw (no reactor): the caller deletes us then
        f_.set_waiter(this);
        return pr_.get_future();
    }
    // The original future is ready: deliver it unless the deadline came first, in which
    // case its result (a failure included) is consumed here, unreported.
    void run_and_dispose() noexcept override {
        if (!timed_out_) {
            t_.cancel();
            f_.forward_to(std::move(pr_));
        } else {
            f_.ignore_ready_future();
        }
        delete this;
    }

private:
    future<T> f_;
    promise<T> pr_;
    timer<Clock> t_;
    bool timed_out_ = false;
};
}  // namespace detail

/// Returns `f`'s result if it is ready by `deadline` (a time point of
/// steady_clock_type, lowres_clock or manual_clock); otherwise fails with
/// timed_out_error at the deadline. `f` itself is not cancelled: it keeps running, and
/// its result, when it comes, is consumed (a failure is not reported as abandoned).
/// A ready `f` is returned as is; otherwise allocates one object holding `f` and a
/// timer. The timer callback runs in the scheduling group current at the call. Fails
/// with std::logic_error on a thread without a running reactor.
template <typename Clock, typename Duration, typename T>
future<T> with_timeout(std::chrono::time_point<Clock, Duration> deadline, future<T> f) {
    if (f.available()) {
        return f;
    }
    auto* s = new detail::with_timeout_state<Clock, T>(std::move(f));
    try {
        return s->start(std::chrono::time_point_cast<typename Clock::duration>(deadline));
    } catch (...) {
        delete s;
        return make_exception_future<T>(std::current_exception());
    }
}

}  // namespace reef
