// map_reduce(): maps every element of a range to a future concurrently and reduces the
// values, either with (initial, reduce) or with a reducer object (operator() and get()).
//   future<size_t> total = reef::map_reduce(files, [](auto& f) { return file_size(f); },
//                                           size_t(0), std::plus<size_t>());
#pragma once

#include <cstddef>
#include <exception>
#include <iterator>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

#include <reef/core/future.hh>

namespace reef {

namespace detail {

/// Adapts (initial, reduce) to the reducer-object protocol: acc = reduce(acc, value).
template <typename Initial, typename Reduce>
struct fold_reducer {
    Initial acc_;
    Reduce reduce_;
    template <typename V>
    void operator()(V&& v) {
        acc_ = reduce_(std::move(acc_), std::forward<V>(v));
    }
    Initial get() { return std::move(acc_); }
};

/// The reduction side of map_reduce: the mapped futures not reduced yet (in range order),
/// the reducer call in flight, and the first failure. Values are reduced one at a time,
/// in range order; after a failure the remaining futures are awaited and dropped.
template <typename M, typename Reducer>
class map_reduce_core {
public:
    explicit map_reduce_core(Reducer&& r) : reducer_(std::move(r)) {}

    /// Takes the mapped future of the next element: reduced now if it and everything
    /// before it is done, queued otherwise. May throw std::bad_alloc.
    void feed(future<M>&& m) {
        if (pending_.empty() && m.available() && settle()) {
            reduce(m);
        } else {
            pending_.push_back(std::move(m));
        }
    }

    /// True when nothing is queued and no reducer call is in flight.
    bool done() noexcept { return pending_.size() == next_ && settle(); }

    /// Reduces queued values until one is pending (makes `waiter` wait for it and returns
    /// false), preemption is due (schedules `waiter`, returns false), or all are reduced
    /// (returns true).
    bool advance(task* waiter) noexcept {
        for (;;) {
            if (!settle()) {
                reducing_.set_waiter(waiter);
                return false;
            }
            if (next_ == pending_.size()) {
                return true;
            }
            future<M>& m = pending_[next_];
            if (!m.available()) {
                m.set_waiter(waiter);
                return false;
            }
            ++next_;
            reduce(m);
            if (need_preempt()) {
                schedule(waiter);
                return false;
            }
        }
    }

    /// Resolves `pr` with the first failure or with the reducer's get().
    template <typename R>
    void finish(promise<R>& pr) noexcept {
        if (first_) {
            pr.set_exception(std::move(first_));
        } else {
            futurize_invoke([this]() -> decltype(auto) { return reducer_.get(); }).forward_to(std::move(pr));
        }
    }

private:
    // Consumes the reducer call in flight if it is done. False while it is pending.
    bool settle() noexcept {
        if (reducing_.valid()) {
            if (!reducing_.available()) {
                return false;
            }
            if (reducing_.failed()) {
                keep_failure(reducing_.get_exception());
            } else {
                reducing_.ignore_ready_future();
            }
        }
        return true;
    }
    void keep_failure(std::exception_ptr&& e) noexcept {
        if (!first_) {
            first_ = std::move(e);
        }
    }
    // Reduces the ready future m (or keeps its failure); nothing is reduced after a failure.
    void reduce(future<M>& m) noexcept {
        if (m.failed()) {
            keep_failure(m.get_exception());
        } else if (first_) {
            m.ignore_ready_future();
        } else {
            reducing_ = futurize_invoke(reducer_, m.get());
        }
    }

    Reducer reducer_;
    std::vector<future<M>> pending_;
    std::size_t next_ = 0;
    future<> reducing_ = make_ready_future<>();  // the reducer call in flight, if valid()
    std::exception_ptr first_;
};

/// The task that finishes a map_reduce whose values are not all there yet.
template <typename R, typename M, typename Reducer>
class map_reduce_task final : public task {
public:
    explicit map_reduce_task(map_reduce_core<M, Reducer>&& core) : core_(std::move(core)) {}

    future<R> start() noexcept {
        future<R> result = pr_.get_future();
        run_and_dispose();
        return result;
    }
    void run_and_dispose() noexcept override {
        if (core_.advance(this)) {
            core_.finish(pr_);
            delete this;
        }
    }
    map_reduce_core<M, Reducer>& core() noexcept { return core_; }

    static void* operator new(std::size_t n) { return task_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { task_free(p, n); }

private:
    promise<R> pr_;
    map_reduce_core<M, Reducer> core_;
};

template <typename Reducer>
using reducer_future_t = futurize_t<decltype(std::declval<Reducer&>().get())>;

template <typename It, typename Sent, typename Mapper, typename Reducer>
auto map_reduce_impl(It begin, Sent end, Mapper& mapper, Reducer&& reducer) noexcept
    -> reducer_future_t<Reducer> {
    using M = typename futurize_result_t<Mapper&, std::iter_reference_t<It>>::value_type;
    using RF = reducer_future_t<Reducer>;
    using R = typename RF::value_type;
    using core_type = map_reduce_core<M, Reducer>;
    using task_type = map_reduce_task<R, M, Reducer>;
    static_assert(!std::is_void_v<M>, "map_reduce(): the mapper must return a value or a future of one");
    using reduce_result = futurize_result_t<Reducer&, M&&>;
    static_assert(std::is_same_v<reduce_result, future<>>,
                  "map_reduce(): the reducer's operator() must return void or future<>");
    // A reducer that may suspend must have a stable address before its first call, so
    // it starts in the task; a synchronous one runs on the stack until a value is late.
    constexpr bool async_reducer = !std::is_void_v<std::invoke_result_t<Reducer&, M&&>>;
    try {
        if constexpr (async_reducer) {
            auto* t = new task_type(core_type(std::move(reducer)));
            try {
                for (; begin != end; ++begin) {
                    t->core().feed(futurize_invoke(mapper, *begin));
                }
            } catch (...) {
                delete t;  // nothing waits on it yet
                throw;
            }
            return t->start();
        } else {
            core_type core(std::move(reducer));
            for (; begin != end; ++begin) {
                core.feed(futurize_invoke(mapper, *begin));
            }
            if (core.done()) {
                promise<R> pr;
                core.finish(pr);
                return pr.get_future();
            }
            return (new task_type(std::move(core)))->start();
        }
    } catch (...) {
        // Out of memory: the mapper calls already started go on unobserved.
        return make_exception_future<R>(std::current_exception());
    }
}

template <typename R>
concept reducer_object = requires(std::decay_t<R>& r) { r.get(); };

}  // namespace detail

/// Calls `mapper(*it)` (returning a value or a future of one) for every element of
/// [begin, end), all started before it returns, and folds the values in range order as
/// they arrive: acc = reduce(std::move(acc), value), starting from `initial`. Resolves
/// with the final acc once every mapped future resolved; if a mapper or `reduce` failed,
/// fails with the first failure (others are consumed, no further reduction). Does not
/// allocate when every mapped value is ready; otherwise allocates one task and a vector
/// of the late futures. `mapper` is not kept: its pending futures must not need it.
template <std::input_iterator Iterator, std::sentinel_for<Iterator> Sentinel, typename Mapper,
          typename Initial, typename Reduce>
future<Initial> map_reduce(Iterator begin, Sentinel end, Mapper&& mapper, Initial initial,
                           Reduce&& reduce) noexcept {
    using reducer = detail::fold_reducer<Initial, std::decay_t<Reduce>>;
    return detail::map_reduce_impl(std::move(begin), std::move(end), mapper,
                                   reducer{std::move(initial), std::forward<Reduce>(reduce)});
}

/// map_reduce(begin, end, mapper, initial, reduce) over a range.
template <std::ranges::input_range Range, typename Mapper, typename Initial, typename Reduce>
future<Initial> map_reduce(Range&& range, Mapper&& mapper, Initial initial, Reduce&& reduce) noexcept {
    return map_reduce(std::ranges::begin(range), std::ranges::end(range), std::forward<Mapper>(mapper),
                      std::move(initial), std::forward<Reduce>(reduce));
}

/// Calls `mapper(*it)` for every element of [begin, end), all started before it returns,
/// and passes the values in range order to `reducer(value)` (returning void or future<>;
/// the next call starts when the previous one resolved); resolves with `reducer.get()`
/// (a value or a future). Fails with the first failure of a mapper or of the reducer,
/// once every mapped future resolved. The reducer is moved (copied if an lvalue) into
/// the operation. A reducer whose operator() returns void costs no allocation when every
/// value is ready; one returning future<> is placed in its task at once (one allocation).
template <std::input_iterator Iterator, std::sentinel_for<Iterator> Sentinel, typename Mapper,
          typename Reducer>
    requires detail::reducer_object<Reducer>
auto map_reduce(Iterator begin, Sentinel end, Mapper&& mapper, Reducer&& reducer) noexcept {
    return detail::map_reduce_impl(std::move(begin), std::move(end), mapper,
                                   std::decay_t<Reducer>(std::forward<Reducer>(reducer)));
}

/// map_reduce(begin, end, mapper, reducer) over a range.
template <std::ranges::input_range Range, typename Mapper, typename Reducer>
    requires detail::reducer_object<Reducer>
auto map_reduce(Range&& range, Mapper&& mapper, Reducer&& reducer) noexcept {
    return map_reduce(std::ranges::begin(range), std::ranges::end(range), std::forward<Mapper>(mapper),
                      std::forward<Reducer>(reducer));
}

}  // namespace reef
