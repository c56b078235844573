// Waiting for the first of several futures: when_any() resolves as soon as one of them
// is ready, with its index and all the futures (the others possibly still pending).
//   auto r = co_await reef::when_any(read_reply(), sleep_a_while());
//   if (r.index == 0) { auto reply = std::get<0>(r.futures).get(); ... }
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>

#include <reef/core/future.hh>

namespace reef {

/// The result of when_any(): `index` is the position of a future that is ready (the first
/// to complete); `futures` holds every future, in argument order, each ready or pending.
template <typename Sequence>
struct when_any_result {
    std::size_t index = 0;
    Sequence futures;
};

namespace detail {

template <typename... T, typename Fn>
void for_each_future(std::tuple<future<T>...>& t, Fn&& fn) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (fn(std::get<I>(t), I), ...);
    }(std::index_sequence_for<T...>{});
}

template <typename T, typename Fn>
void for_each_future(std::vector<future<T>>& v, Fn&& fn) {
    for (std::size_t i = 0; i < v.size(); ++i) {
        fn(v[i], i);
    }
}

/// Index of the first ready future of `seq`, or its size if none is ready.
template <typename Seq>
std::size_t first_available(Seq& seq) noexcept {
    std::size_t found = SIZE_MAX;
    std::size_t n = 0;
    for_each_future(seq, [&](auto& f, std::size_t i) {
        if (found == SIZE_MAX && f.available()) {
            found = i;
        }
        ++n;
    });
    return found == SIZE_MAX ? n : found;
}

template <typename Seq>
struct waiter_count : std::integral_constant<std::size_t, 0> {};  // known at run time
template <typename... T>
struct waiter_count<std::tuple<future<T>...>> : std::integral_constant<std::size_t, sizeof...(T)> {};

/// Waits for every future of `Seq` at once, through one small waiter task per future.
/// The first waiter to run resolves the result; the futures still pending at that point
/// lose their waiter and go to the caller as they are. Waiters already queued by futures
/// that completed meanwhile still run, so the state lives until the last of them ran.
template <typename Seq>
class when_any_state {
    using result_type = when_any_result<Seq>;

    class waiter final : public task {
    public:
        void run_and_dispose() noexcept override { state_->on_ready(index_); }
        when_any_state* state_ = nullptr;
        std::size_t index_ = 0;
    };
    static constexpr std::size_t fixed_waiters = waiter_count<Seq>::value;
    using waiters_type =
        std::conditional_t<fixed_waiters == 0, std::unique_ptr<waiter[]>, std::array<waiter, fixed_waiters>>;

public:
    explicit when_any_state(Seq&& seq) : futures_(std::move(seq)) {
        if constexpr (fixed_waiters == 0) {
            waiters_ = std::make_unique<waiter[]>(futures_.size());
        }
    }

    /// Takes the result future and waits on every future; none may be ready.
    future<result_type> start() noexcept {
        future<result_type> result = pr_.get_future();
        for_each_future(futures_, [&](auto& f, std::size_t i) {
            waiters_[i].state_ = this;
            waiters_[i].index_ = i;
            f.set_waiter(&waiters_[i]);
        });
        return result;
    }

    static void* operator new(std::size_t n) { return task_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { task_free(p, n); }

private:
    void on_ready(std::size_t index) noexcept {
        if (!resolved_) {
            resolved_ = true;
            for_each_future(futures_, [&](auto& f, std::size_t i) {
                if (i == index) {
                    return;
                }
                if (f.available()) {
                    ++queued_;  // its waiter is in the run queue: wait for it to run
                } else {
                    f.set_waiter(nullptr);  // the caller takes it over
                }
            });
            pr_.set_value(result_type{index, std::move(futures_)});
        } else {
            --queued_;
        }
        if (queued_ == 0) {
            delete this;
        }
    }

    promise<result_type> pr_;
    Seq futures_;
    waiters_type waiters_;
    std::size_t queued_ = 0;
    bool resolved_ = false;
};

}  // namespace detail

/// Resolves as soon as one argument is ready, with its index and every future: the
/// others may still be pending, keep running, and are the caller's to consume (a failure
/// of one the caller drops is reported as abandoned, as for any future). If several are
/// ready at the call, the first in argument order wins. Never fails (but for
/// std::bad_alloc). Does not allocate if an argument is ready; otherwise allocates one
/// block holding the futures and one waiter task per future.
template <typename... T>
    requires(sizeof...(T) > 0)
future<when_any_result<std::tuple<future<T>...>>> when_any(future<T>&&... futs) noexcept {
    using seq = std::tuple<future<T>...>;
    seq s(std::move(futs)...);
    std::size_t ready = detail::first_available(s);
    if (ready < sizeof...(T)) {
        return make_ready_future<when_any_result<seq>>(when_any_result<seq>{ready, std::move(s)});
    }
    try {
        return (new detail::when_any_state<seq>(std::move(s)))->start();
    } catch (...) {
        return make_exception_future<when_any_result<seq>>(std::current_exception());
    }
}

/// when_any() over a range of futures, moved from [begin, end) into a vector. An empty
/// range resolves at once with index 0 and no futures. Allocates the vector; if no
/// future is ready, also the waiting state and an array of one waiter task per future.
template <std::input_iterator Iterator, std::sentinel_for<Iterator> Sentinel>
    requires is_future_v<std::iter_value_t<Iterator>>
future<when_any_result<std::vector<std::iter_value_t<Iterator>>>> when_any(Iterator begin,
                                                                           Sentinel end) noexcept {
    using seq = std::vector<std::iter_value_t<Iterator>>;
    using result_type = when_any_result<seq>;
    try {
        seq s;
        if constexpr (std::sized_sentinel_for<Sentinel, Iterator>) {
            s.reserve(static_cast<std::size_t>(end - begin));
        }
        for (; begin != end; ++begin) {
            s.push_back(std::move(*begin));
        }
        std::size_t ready = detail::first_available(s);
        if (s.empty() || ready < s.size()) {
            return make_ready_future<result_type>(result_type{s.empty() ? 0 : ready, std::move(s)});
        }
        return (new detail::when_any_state<seq>(std::move(s)))->start();
    } catch (...) {
        return make_exception_future<result_type>(std::current_exception());
    }
}

}  // namespace reef
