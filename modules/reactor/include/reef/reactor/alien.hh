// Calling into the shards from threads that are not shards (a thread the application
// started, a library callback): the function runs on the shard as a task.
//   std::future<int> f = reef::alien::submit_to(0, [] { return count_connections(); });
//   int n = f.get();                                  // blocks this (non-shard) thread
//   reef::alien::run_on(1, [] { flush_stats(); });   // fire-and-forget
#pragma once

#include <exception>
#include <future>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <reef/core/future.hh>
#include <reef/core/task.hh>

namespace reef::alien {

/// The target shard does not run: the shards have not started or have stopped (thrown
/// by submit_to() and run_on()), or the shard stopped before a queued call could run
/// (delivered to that call's std::future).
class shard_not_running : public std::runtime_error {
public:
    /// `what` says which of the cases above happened.
    explicit shard_not_running(const char* what) : std::runtime_error(what) {}
};

namespace detail {

/// A call from outside the shards. Made on the calling thread, then owned by the target
/// shard: queued, run there as a task, and freed there. Type-erased so that the queue
/// and its poller are compiled once.
class work : public task {
public:
    virtual ~work() = default;
    /// On the target shard, instead of running: the shard stopped first. Reports `e` to
    /// whoever waits; does not free the work (see alien_queue).
    virtual void fail(std::exception_ptr e) noexcept = 0;

    work* prev_ = nullptr;  // the shard's list of started calls (target shard only)
    work* next_ = nullptr;
    bool started_ = false;  // target shard only
};

/// Queues `w` on `shard` and wakes it; ownership passes to the shard. Any thread that
/// is not a shard. Throws (keeping `w` with the caller) std::logic_error from a shard
/// thread, std::out_of_range for a shard that does not exist, shard_not_running when
/// the shard is not running.
void submit(unsigned shard, std::unique_ptr<work>& w);

/// Called by a call when it finished on its shard: unlinks it and frees it.
void finished(work* w) noexcept;

template <typename Func>
class call final : public work {
    using fut = futurize_result_t<Func&>;
    using T = typename fut::value_type;

public:
    template <typename F>
    explicit call(F&& f) : func_(std::forward<F>(f)) {}
    std::future<T> get_future() { return result_.get_future(); }

    void run_and_dispose() noexcept override {
        started_ = true;
        auto f = futurize_invoke(func_);
        if (f.available()) {
            deliver(std::move(f));
            return;
        }
        (void)std::move(f).then_wrapped([this](fut r) noexcept { deliver(std::move(r)); });
    }
    void fail(std::exception_ptr e) noexcept override { set_failure(std::move(e)); }

private:
    void deliver(fut&& r) noexcept {
        if (r.failed()) {
            set_failure(r.get_exception());
        } else {
            try {
                if constexpr (std::is_void_v<T>) {
                    r.get();
                    result_.set_value();
                } else {
                    result_.set_value(r.get());
                }
            } catch (...) {
                set_failure(std::current_exception());
            }
        }
        finished(this);
    }
    void set_failure(std::exception_ptr e) noexcept {
        try {
            result_.set_exception(std::move(e));
        } catch (const std::future_error&) {
            // Already satisfied: a failure at shutdown raced with the result.
        }
    }

    Func func_;
    std::promise<T> result_;
};

template <typename Func>
class one_way final : public work {
    using fut = futurize_result_t<Func&>;

public:
    template <typename F>
    explicit one_way(F&& f) : func_(std::forward<F>(f)) {}

    void run_and_dispose() noexcept override {
        started_ = true;
        auto f = futurize_invoke(func_);
        if (f.available()) {
            done(std::move(f));
            return;
        }
        (void)std::move(f).then_wrapped([this](fut r) noexcept { done(std::move(r)); });
    }
    void fail(std::exception_ptr) noexcept override {}

private:
    void done(fut&& r) noexcept {
        if (r.failed()) {
            reef::detail::report_abandoned_failure(r.get_exception());
        } else {
            r.ignore_ready_future();
        }
        finished(this);
    }

    Func func_;
};

}  // namespace detail

/// Runs `func` on shard `shard` as a task and returns a std::future of its result (a
/// value, void, or a reef::future whose value is awaited on the shard). Its exception,
/// if any, is delivered to the std::future. For threads that are not shards: throws
/// std::logic_error from a shard thread (use smp::submit_to there), std::out_of_range
/// for a shard that does not exist, shard_not_running when the shards do not run. A
/// call still queued when its shard stops fails with shard_not_running. Allocates the
/// call and its shared state; takes a mutex shared with other producers to that shard.
template <typename Func>
auto submit_to(unsigned shard, Func&& func) -> std::future<typename futurize_result_t<std::decay_t<Func>&>::value_type> {
    auto* c = new detail::call<std::decay_t<Func>>(std::forward<Func>(func));
    std::unique_ptr<detail::work> owned(c);
    auto result = c->get_future();
    detail::submit(shard, owned);
    return result;
}

/// Runs `func` on shard `shard` as a task, without waiting for it. A failure of `func`
/// is reported on that shard as an abandoned failure. Throws like submit_to(); a call
/// still queued when its shard stops is dropped.
template <typename Func>
void run_on(unsigned shard, Func&& func) {
    std::unique_ptr<detail::work> owned(new detail::one_way<std::decay_t<Func>>(std::forward<Func>(func)));
    detail::submit(shard, owned);
}

}  // namespace reef::alien
