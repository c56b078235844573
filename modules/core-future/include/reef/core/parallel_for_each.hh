// Running a function on every element of a range concurrently: parallel_for_each() starts
// them all at once, max_concurrent_for_each() keeps at most N of them in flight.
//   co_await reef::parallel_for_each(peers, [](peer& p) { return p.send(msg); });
//   co_await reef::max_concurrent_for_each(files, 4, [](const std::string& f) { return load(f); });
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <iterator>
#include <memory>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

#include <reef/core/future.hh>
#include <reef/core/loop.hh>
#include <reef/core/when_all.hh>

namespace reef {

namespace detail {

/// Consumes a ready future: keeps its failure in `first` if none is kept yet, drops it
/// (without a report) otherwise.
inline void consume_into(future<>& f, std::exception_ptr& first) noexcept {
    if (f.failed()) {
        take_failure(f, first);
    } else {
        f.ignore_ready_future();
    }
}

/// Finishes parallel_for_each: the first failure among the elements that completed at
/// once (`first_`) or, failing that, among the pending ones in order.
struct pass_one_failure {
    std::exception_ptr first_;
    void operator()(std::vector<future<>>&& v, promise<>& pr) noexcept {
        auto later = take_first_failure(v);
        if (first_) {
            pr.set_exception(std::move(first_));
        } else if (later) {
            pr.set_exception(std::move(later));
        } else {
            pr.set_value();
        }
    }
};

/// The state of max_concurrent_for_each once a call is pending: the rest of the range,
/// the function, and `k` slots, each a task that keeps one call in flight and pulls the
/// next element when it completes. The state is deleted when the last slot retires.
template <typename It, typename Sent, typename Func>
class concurrent_for_each_state {
public:
    class slot final : public task {
    public:
        void run_and_dispose() noexcept override { state_->on_ready(*this); }
        concurrent_for_each_state* state_ = nullptr;
        future<> fut_ = make_ready_future<>();
    };

    template <typename F>
    concurrent_for_each_state(It it, Sent end, F&& func, std::exception_ptr first, std::size_t k)
        : it_(std::move(it)),
          end_(std::move(end)),
          func_(std::forward<F>(func)),
          first_(std::move(first)),
          active_(k),
          slots_(std::make_unique<slot[]>(k)) {
        for (std::size_t i = 0; i < k; ++i) {
            slots_[i].state_ = this;
        }
    }

    /// Hands `f`, the call in flight, to slot 0 and starts the other slots. Returns the
    /// future of the whole loop.
    future<> start(future<>&& f) noexcept {
        future<> result = pr_.get_future();
        slot& first = slots_[0];
        first.fut_ = std::move(f);
        if (first.fut_.available()) {
            schedule(&first);  // it yielded to preemption
        } else {
            first.fut_.set_waiter(&first);
        }
        // Slot 0 stays busy, so these cannot retire the last slot and delete the state.
        const std::size_t k = active_;
        for (std::size_t i = 1; i < k; ++i) {
            drive(slots_[i]);
        }
        return result;
    }

    static void* operator new(std::size_t n) { return task_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { task_free(p, n); }

private:
    void on_ready(slot& s) noexcept {
        consume_into(s.fut_, first_);
        drive(s);
    }

    // Calls func on the next elements until a call is pending (the slot waits for it),
    // preemption is due (the slot yields) or the range is exhausted (the slot retires).
    // Calls func at least once per run, so that the loop progresses under preemption.
    void drive(slot& s) noexcept {
        for (;;) {
            if (it_ == end_) {
                retire();
                return;
            }
            s.fut_ = futurize_invoke(func_, *it_);
            ++it_;
            if (!s.fut_.available()) {
                s.fut_.set_waiter(&s);
                return;
            }
            consume_into(s.fut_, first_);
            if (need_preempt()) {
                schedule(&s);
                return;
            }
        }
    }

    void retire() noexcept {
        if (--active_ != 0) {
            return;
        }
        if (first_) {
            pr_.set_exception(std::move(first_));
        } else {
            pr_.set_value();
        }
        delete this;
    }

    promise<> pr_;
    It it_;
    Sent end_;
    Func func_;
    std::exception_ptr first_;
    std::size_t active_;  // slots that have not retired
    std::unique_ptr<slot[]> slots_;
};

}  // namespace detail

/// Calls `func(*it)` (returning void or future<>) for every element of [begin, end), all
/// started before it returns, and resolves when all the futures have. If any failed,
/// fails with one of the failures once all completed; the others are consumed, not
/// reported. Elements whose call completes at once cost no allocation; if some do not,
/// allocates a vector of their futures and one task that waits for them in turn.
/// `func` is not kept: what its pending futures use must outlive them.
template <std::input_iterator Iterator, std::sentinel_for<Iterator> Sentinel, typename Func>
    requires detail::returns_void_future<Func&, std::iter_reference_t<Iterator>>
future<> parallel_for_each(Iterator begin, Sentinel end, Func&& func) noexcept {
    std::vector<future<>> pending;
    std::exception_ptr first;
    try {
        for (; begin != end; ++begin) {
            future<> f = futurize_invoke(func, *begin);
            if (f.available()) {
                detail::consume_into(f, first);
                continue;
            }
            if constexpr (std::forward_iterator<Iterator>) {
                if (pending.capacity() == 0) {
                    pending.reserve(static_cast<std::size_t>(std::ranges::distance(begin, end)));
                }
            }
            pending.push_back(std::move(f));
        }
    } catch (...) {
        // Out of memory: the calls already started go on without anyone waiting for them.
        return make_exception_future<>(std::current_exception());
    }
    if (pending.empty()) {
        return first ? make_exception_future<>(std::move(first)) : make_ready_future<>();
    }
    return detail::when_all_finish<void>(std::move(pending), detail::pass_one_failure{std::move(first)});
}

/// parallel_for_each() over a range.
template <std::ranges::input_range Range, typename Func>
    requires detail::returns_void_future<Func&, std::ranges::range_reference_t<Range>>
future<> parallel_for_each(Range&& range, Func&& func) noexcept {
    return parallel_for_each(std::ranges::begin(range), std::ranges::end(range), std::forward<Func>(func));
}

/// Calls `func(*it)` (returning void or future<>) for every element of [begin, end), with
/// at most `max_concurrent` calls in flight (0 counts as 1): a call starts when another
/// completes. Resolves when all completed; if any failed, fails with the first failure
/// once all completed (a failure does not stop the others). The range must outlive the
/// returned future. Calls that complete at once cost no allocation; at the first that
/// does not, `func` is moved (copied if an lvalue) into one state that also holds
/// min(max_concurrent, remaining + 1) slot tasks; the loop yields when preemption is due.
template <std::forward_iterator Iterator, std::sentinel_for<Iterator> Sentinel, typename Func>
    requires detail::returns_void_future<Func&, std::iter_reference_t<Iterator>>
future<> max_concurrent_for_each(Iterator begin, Sentinel end, std::size_t max_concurrent,
                                 Func&& func) noexcept {
    using state = detail::concurrent_for_each_state<Iterator, Sentinel, std::decay_t<Func>>;
    std::exception_ptr first;
    while (begin != end) {
        future<> f = futurize_invoke(func, *begin);
        ++begin;
        if (f.available() && !need_preempt()) {
            detail::consume_into(f, first);
            continue;
        }
        try {
            auto remaining = static_cast<std::size_t>(std::ranges::distance(begin, end));
            std::size_t k = std::min(std::max<std::size_t>(max_concurrent, 1), remaining + 1);
            auto* s =
                new state(std::move(begin), std::move(end), std::forward<Func>(func), std::move(first), k);
            return s->start(std::move(f));
        } catch (...) {
            return make_exception_future<>(std::current_exception());
        }
    }
    return first ? make_exception_future<>(std::move(first)) : make_ready_future<>();
}

/// max_concurrent_for_each() over a range, which must outlive the returned future.
template <std::ranges::forward_range Range, typename Func>
    requires detail::returns_void_future<Func&, std::ranges::range_reference_t<Range>>
future<> max_concurrent_for_each(Range&& range, std::size_t max_concurrent, Func&& func) noexcept {
    return max_concurrent_for_each(std::ranges::begin(range), std::ranges::end(range), max_concurrent,
                                   std::forward<Func>(func));
}

}  // namespace reef
