// Waiting for several futures at once: when_all() hands back every future, ready;
// when_all_succeed() hands back their values, or the first failure.
//   auto [a, b] = co_await reef::when_all_succeed(fetch_int(), fetch_string());
//   std::vector<reef::future<>> fs = ...; co_await reef::when_all_succeed(fs.begin(), fs.end());
#pragma once

#include <cstddef>
#include <exception>
#include <iterator>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <reef/core/future.hh>

namespace reef {

namespace detail {

/// If a future of `t` from index `next` on is pending, makes `waiter` its waiter, stores
/// its index in `next` and returns true. Returns false when all are ready.
template <typename... T>
bool wait_first_pending(std::tuple<future<T>...>& t, std::size_t& next, task* waiter) noexcept {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
        auto try_one = [&](auto& f, std::size_t i) {
            if (i < next || f.available()) {
                return false;
            }
            next = i;
            f.set_waiter(waiter);
            return true;
        };
        return (try_one(std::get<I>(t), I) || ...);
    }(std::index_sequence_for<T...>{});
}

template <typename T>
bool wait_first_pending(std::vector<future<T>>& v, std::size_t& next, task* waiter) noexcept {
    for (std::size_t i = next; i < v.size(); ++i) {
        if (!v[i].available()) {
            next = i;
            v[i].set_waiter(waiter);
            return true;
        }
    }
    return false;
}

template <typename... T>
bool all_available(const std::tuple<future<T>...>& t) noexcept {
    return std::apply([](const auto&... f) { return (f.available() && ...); }, t);
}

template <typename T>
bool all_available(const std::vector<future<T>>& v) noexcept {
    for (auto& f : v) {
        if (!f.available()) {
            return false;
        }
    }
    return true;
}

/// Consumes the failures of ready futures: returns the first (in order), drops the
/// others without reporting them. Futures holding values are left alone.
template <typename F>
void take_failure(F& f, std::exception_ptr& first) noexcept {
    if (f.failed()) {
        if (first) {
            f.ignore_ready_future();
        } else {
            first = f.get_exception();
        }
    }
}

template <typename... T>
std::exception_ptr take_first_failure(std::tuple<future<T>...>& t) noexcept {
    std::exception_ptr first;
    std::apply([&](auto&... f) { (take_failure(f, first), ...); }, t);
    return first;
}

template <typename T>
std::exception_ptr take_first_failure(std::vector<future<T>>& v) noexcept {
    std::exception_ptr first;
    for (auto& f : v) {
        take_failure(f, first);
    }
    return first;
}

/// The task that waits, one future at a time, for a sequence of futures (a tuple or a
/// vector) and then calls `finish(std::move(seq), promise)`. One allocation, whatever the
/// number of futures; the futures stay in place while waited on.
template <typename R, typename Seq, typename Finish>
class when_all_task final : public task {
public:
    when_all_task(Seq&& seq, Finish&& finish) noexcept : seq_(std::move(seq)), finish_(std::move(finish)) {}

    /// Takes the result future and starts waiting. At least one future must be pending.
    future<R> start() noexcept {
        future<R> result = pr_.get_future();
        wait_first_pending(seq_, next_, this);
        return result;
    }

    void run_and_dispose() noexcept override {
        if (wait_first_pending(seq_, next_, this)) {
            return;
        }
        finish_(std::move(seq_), pr_);
        delete this;
    }

    static void* operator new(std::size_t n) { return task_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { task_free(p, n); }

private:
    promise<R> pr_;
    Seq seq_;
    std::size_t next_ = 0;
    [[no_unique_address]] Finish finish_;
};

/// Resolves a future<R> from `seq` with `finish`: at once without allocating if every
/// future is ready, otherwise through one when_all_task.
template <typename R, typename Seq, typename Finish>
future<R> when_all_finish(Seq&& seq, Finish&& finish) noexcept {
    if (all_available(seq)) {
        promise<R> pr;
        finish(std::move(seq), pr);
        return pr.get_future();
    }
    try {
        return (new when_all_task<R, Seq, Finish>(std::move(seq), std::move(finish)))->start();
    } catch (...) {
        return make_exception_future<R>(std::current_exception());
    }
}

/// when_all(): the result is the sequence itself, every future ready.
struct pass_futures {
    template <typename Seq>
    void operator()(Seq&& seq, promise<Seq>& pr) noexcept {
        pr.set_value(std::move(seq));
    }
};

template <typename T>
using value_tuple_t = std::conditional_t<std::is_void_v<T>, std::tuple<>, std::tuple<T>>;

/// The value of a ready, successful future as a tuple of zero (void) or one element.
template <typename T>
value_tuple_t<T> take_value_tuple(future<T>& f) noexcept {
    if constexpr (std::is_void_v<T>) {
        f.ignore_ready_future();
        return {};
    } else {
        return value_tuple_t<T>(f.get());
    }
}

/// when_all_succeed() on a tuple: the values, void ones dropped, or the first failure.
struct pass_value_tuple {
    template <typename... T, typename R>
    void operator()(std::tuple<future<T>...>&& t, promise<R>& pr) noexcept {
        if (auto ex = take_first_failure(t)) {
            pr.set_exception(std::move(ex));
            return;
        }
        std::apply([&](auto&... f) { pr.set_value(std::tuple_cat(take_value_tuple(f)...)); }, t);
    }
};

/// when_all_succeed() on a vector: the vector of values (nothing for void), or the
/// first failure.
struct pass_value_vector {
    template <typename T, typename R>
    void operator()(std::vector<future<T>>&& v, promise<R>& pr) noexcept {
        if (auto ex = take_first_failure(v)) {
            pr.set_exception(std::move(ex));
            return;
        }
        if constexpr (std::is_void_v<T>) {
            pr.set_value();
        } else {
            try {
                std::vector<T> values;
                values.reserve(v.size());
                for (auto& f : v) {
                    values.push_back(f.get());
                }
                pr.set_value(std::move(values));
            } catch (...) {
                pr.set_exception(std::current_exception());
            }
        }
    }
};

template <typename It>
concept future_iterator = std::input_iterator<It> && is_future_v<std::iter_value_t<It>>;

/// Moves the futures of [begin, end) into a vector.
template <typename It, typename Sent>
std::vector<std::iter_value_t<It>> collect_futures(It begin, Sent end) {
    std::vector<std::iter_value_t<It>> v;
    if constexpr (std::forward_iterator<It> && std::sized_sentinel_for<Sent, It>) {
        v.reserve(static_cast<std::size_t>(end - begin));
    }
    for (; begin != end; ++begin) {
        v.push_back(std::move(*begin));
    }
    return v;
}

}  // namespace detail

/// Resolves when every argument has resolved, with the tuple of the futures, each ready
/// (holding its value or its failure, for the caller to consume). Never fails (except
/// with std::bad_alloc if its task cannot be allocated). Does not allocate when every
/// argument is ready; otherwise allocates one task that waits for them in turn.
template <typename... T>
future<std::tuple<future<T>...>> when_all(future<T>&&... futs) noexcept {
    using seq = std::tuple<future<T>...>;
    return detail::when_all_finish<seq>(seq(std::move(futs)...), detail::pass_futures{});
}

/// when_all() over a range of futures, moved from [begin, end): resolves with the vector
/// of the futures, each ready. Allocates the vector, and one task if a future is pending.
template <std::input_iterator Iterator, std::sentinel_for<Iterator> Sentinel>
    requires detail::future_iterator<Iterator>
future<std::vector<std::iter_value_t<Iterator>>> when_all(Iterator begin, Sentinel end) noexcept {
    using seq = std::vector<std::iter_value_t<Iterator>>;
    try {
        return detail::when_all_finish<seq>(detail::collect_futures(std::move(begin), std::move(end)),
                                            detail::pass_futures{});
    } catch (...) {
        return make_exception_future<seq>(std::current_exception());
    }
}

/// Resolves when every argument has resolved, with the tuple of their values; futures
/// of void add nothing to the tuple (the result is a std::tuple even for a single value,
/// unlike Seastar). If any failed, fails with the first failure in argument order, once
/// all have resolved; the other failures are consumed, not reported as abandoned.
/// Does not allocate when every argument is ready; otherwise allocates one task.
template <typename... T>
auto when_all_succeed(future<T>&&... futs) noexcept {
    using seq = std::tuple<future<T>...>;
    using values = decltype(std::tuple_cat(std::declval<detail::value_tuple_t<T>>()...));
    return detail::when_all_finish<values>(seq(std::move(futs)...), detail::pass_value_tuple{});
}

/// when_all_succeed() over a range of future<T>, moved from [begin, end): resolves with
/// the vector of the values in order (future<> for future<void>), or fails with the first
/// failure in range order once all resolved. Allocates the vectors, and one task if a
/// future is pending.
template <std::input_iterator Iterator, std::sentinel_for<Iterator> Sentinel>
    requires detail::future_iterator<Iterator>
auto when_all_succeed(Iterator begin, Sentinel end) noexcept {
    using T = typename std::iter_value_t<Iterator>::value_type;
    using R = std::conditional_t<std::is_void_v<T>, void, std::vector<T>>;
    try {
        return detail::when_all_finish<R>(detail::collect_futures(std::move(begin), std::move(end)),
                                          detail::pass_value_vector{});
    } catch (...) {
        return make_exception_future<R>(std::current_exception());
    }
}

}  // namespace reef
