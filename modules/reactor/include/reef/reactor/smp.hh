// Shards and cross-shard messages. Each shard is one thread with its own reactor;
// shards share nothing and call each other with smp::submit_to().
//   int v = co_await reef::smp::submit_to(1, [] { return local_count(); });
//   co_await reef::smp::invoke_on_all([] { return reset_stats(); });
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include <reef/core/future.hh>
#include <reef/core/task.hh>

namespace reef {

namespace detail {

// The shard id of this thread; set once per shard thread.
inline constinit thread_local unsigned tl_shard_id = 0;

/// A cross-shard call in flight: made and freed on the sender, run on the target.
class smp_message {
public:
    virtual ~smp_message() = default;
    /// On the target shard: starts the work; when its result is ready, calls
    /// smp_respond(this).
    virtual void run_on_target() noexcept = 0;
    /// On the sender shard: delivers the result and deletes the message.
    virtual void complete_on_sender() noexcept = 0;

    unsigned from = 0;
    unsigned to = 0;
    unsigned group = 0;  // scheduling group of the sender, used on the target too
};

/// Queues `m` for m->to (batched; flushed at the end of the sender's current poll).
void smp_send(smp_message* m) noexcept;
/// Queues the response of `m` back to m->from. Called on the target shard.
void smp_respond(smp_message* m) noexcept;

template <typename Func>
class smp_call final : public smp_message {
    using fut = futurize_result_t<Func&>;
    using T = typename fut::value_type;
    using V = value_of_t<T>;

public:
    explicit smp_call(Func&& f) : func_(std::move(f)) {}
    future<T> get_future() noexcept { return pr_.get_future(); }

    void run_on_target() noexcept override {
        auto f = futurize_invoke(func_);
        if (f.available()) {
            store(std::move(f));
            smp_respond(this);
            return;
        }
        (void)std::move(f).then_wrapped([this](fut r) noexcept {
            store(std::move(r));
            smp_respond(this);
        });
    }
    void complete_on_sender() noexcept override {
        if (result_.failed()) {
            pr_.set_exception(result_.take_exception());
        } else if constexpr (std::is_void_v<T>) {
            result_.ignore();
            pr_.set_value();
        } else {
            pr_.set_value(result_.take_value());
        }
        delete this;
    }

private:
    // On the target: keeps the outcome until the message is back on the sender.
    void store(fut&& r) noexcept {
        if (r.failed()) {
            result_.set_exception(r.get_exception());
        } else if constexpr (std::is_void_v<T>) {
            r.ignore_ready_future();
            result_.set_value();
        } else {
            result_.set_value(r.get());
        }
    }

    Func func_;
    promise<T> pr_;           // sender side only
    future_state<V> result_;  // written on the target, read on the sender
};

}  // namespace detail

/// The shard the calling thread runs, 0 .. smp::count-1.
inline unsigned this_shard_id() noexcept {
    return detail::tl_shard_id;
}

/// The set of shards.
class smp {
public:
    /// Number of shards of the running application.
    static inline unsigned count = 1;

    /// Runs `f` on shard `shard` and returns its result to the calling shard. `f` is
    /// moved to the target and destroyed on the calling shard afterwards; its result
    /// (value or exception) is moved back. On the calling shard itself, `f` runs at
    /// once. One allocation per call; messages are batched per pair of shards. Fails
    /// with std::out_of_range for a shard that does not exist.
    template <typename Func>
    static futurize_result_t<Func&> submit_to(unsigned shard, Func&& f) {
        using fut = futurize_result_t<Func&>;
        if (shard == this_shard_id()) {
            return futurize_invoke(f);
        }
        if (shard >= count) {
            return make_exception_future<typename fut::value_type>(
                std::make_exception_ptr(std::out_of_range("smp::submit_to: no such shard")));
        }
        auto* m = new detail::smp_call<std::decay_t<Func>>(std::forward<Func>(f));
        m->from = this_shard_id();
        m->to = shard;
        m->group = current_scheduling_group().id();
        auto result = m->get_future();
        detail::smp_send(m);
        return result;
    }

    /// Runs `f` on every shard (a copy each) concurrently; resolves when all are done.
    /// Fails with one of the failures after all have completed.
    template <typename Func>
    static future<> invoke_on_all(Func f) {
        return invoke_on_set(std::move(f), false);
    }

    /// Runs `f` on every shard but this one.
    template <typename Func>
    static future<> invoke_on_others(Func f) {
        return invoke_on_set(std::move(f), true);
    }

private:
    template <typename Func>
    static future<> invoke_on_set(Func f, bool skip_self) {
        std::vector<future<>> calls;
        calls.reserve(count);
        unsigned self = this_shard_id();
        for (unsigned s = 0; s < count; ++s) {
            if (!(skip_self && s == self)) {
                calls.push_back(submit_to(s, [f]() mutable { return futurize_invoke(f).discard_result(); }));
            }
        }
        std::exception_ptr failure;
        for (auto& c : calls) {
            auto r = co_await detail::future_awaiter<void, detail::await_mode::as_future>(std::move(c));
            if (r.failed() && !failure) {
                failure = r.get_exception();
            } else {
                r.ignore_ready_future();
            }
        }
        if (failure) {
            co_await coroutine::exception(std::move(failure));
        }
    }
};

}  // namespace reef
