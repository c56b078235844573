// sharded<Service>: one instance of a service per shard, started and stopped together
// and reached from any shard with invoke_on(), invoke_on_all(), map() or map_reduce0().
//   reef::sharded<counter> c;
//   co_await c.start(10);                                   // counter(10) on every shard
//   co_await c.invoke_on_all([](counter& s) { s.bump(); });
//   int total = co_await c.map_reduce0(&counter::value, 0, std::plus<>());
//   co_await c.stop();
#pragma once

#include <atomic>
#include <algorithm>
#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include <reef/core/coroutine.hh>
#include <reef/core/future.hh>
#include <reef/core/map_reduce.hh>
#include <reef/core/when_all.hh>
#include <reef/reactor/smp.hh>

namespace reef {

template <typename Service>
class sharded;

/// A sharded service was used on a shard where it has no instance: before start()
/// finished, after stop(), or on a shard other than 0 after start_single().
class no_sharded_instance_exception : public std::logic_error {
public:
    /// `what` explains the call that found no instance.
    explicit no_sharded_instance_exception(const char* what) : std::logic_error(what) {}
};

/// A call reached a sharded service after its stop() had begun: the call is refused,
/// since the instance it would run on is about to be destroyed.
class sharded_stopping_exception : public std::logic_error {
public:
    /// `what` explains the refused call.
    explicit sharded_stopping_exception(const char* what) : std::logic_error(what) {}
};

namespace detail {

/// Reports a sharded<> destroyed while started (compiled: keeps <cstdio> out of here).
void report_sharded_not_stopped(const char* service_name) noexcept;

/// The exceptions of sharded<>, made out of line.
std::exception_ptr make_no_sharded_instance(const char* what) noexcept;
std::exception_ptr make_sharded_stopping(const char* what) noexcept;
std::exception_ptr make_sharded_misuse(const char* what) noexcept;

}  // namespace detail

/// Base class of a service that needs its own sharded<> container, to reach its peers
/// on other shards: `container().invoke_on(peer, ...)`.
///   struct cache : reef::peering_sharded_service<cache> { ... };
template <typename Service>
class peering_sharded_service {
public:
    /// The sharded<> this instance belongs to. Valid once the instance is constructed
    /// (not inside its constructor) until it is destroyed.
    sharded<Service>& container() noexcept { return *container_; }
    /// The sharded<> this instance belongs to (const access).
    const sharded<Service>& container() const noexcept { return *container_; }

protected:
    peering_sharded_service() noexcept = default;
    peering_sharded_service(const peering_sharded_service&) = delete;
    peering_sharded_service& operator=(const peering_sharded_service&) = delete;
    ~peering_sharded_service() = default;

private:
    friend class sharded<Service>;
    sharded<Service>* container_ = nullptr;  // owner shard only
};

/// An argument of sharded<>::start() evaluated on each shard: the instance on shard s is
/// constructed with func(params...) called on shard s. Params follow the same rules as
/// start()'s arguments (copied to each shard; std::ref(other_sharded) becomes either
/// that sharded<> or its local instance, as the function's parameter asks).
///   co_await s.start(reef::sharded_parameter([] { return reef::this_shard_id() * 100; }));
template <typename Func, typename... Params>
class sharded_parameter {
public:
    /// Keeps copies of `func` and `params`; nothing is called yet.
    explicit sharded_parameter(Func func, Params... params)
        : func_(std::move(func)), params_(std::move(params)...) {}

    /// On the shard being started, with that shard's copy: calls the function. May
    /// throw what it throws.
    auto evaluate();

private:
    Func func_;
    std::tuple<Params...> params_;
};

/// What std::ref(sharded<S>) becomes in a constructor's argument list: it converts to
/// sharded<S>& (the container) or to S& (its instance on the shard being started).
template <typename Service>
class sharded_or_local {
public:
    explicit sharded_or_local(sharded<Service>& s) noexcept : s_(s) {}
    /// The container.
    operator sharded<Service>&() const noexcept { return s_; }
    /// The instance on this shard; throws no_sharded_instance_exception if it has none.
    operator Service&() const { return s_.local(); }

private:
    sharded<Service>& s_;
};

namespace detail {

template <typename T>
struct is_sharded_parameter : std::false_type {};
template <typename F, typename... P>
struct is_sharded_parameter<sharded_parameter<F, P...>> : std::true_type {};

template <typename T>
struct is_sharded_ref : std::false_type {};
template <typename S>
struct is_sharded_ref<std::reference_wrapper<sharded<S>>> : std::true_type {
    using service = S;
};

template <typename T>
struct is_reference_wrapper : std::false_type {};
template <typename T>
struct is_reference_wrapper<std::reference_wrapper<T>> : std::true_type {};

/// One argument of start() on the shard being started: a sharded_parameter is
/// evaluated, std::ref(sharded<S>) becomes sharded_or_local<S>, std::ref(x) becomes x&,
/// and anything else is passed as an lvalue of this shard's copy.
template <typename A>
decltype(auto) unwrap_sharded_arg(A& a) {
    if constexpr (is_sharded_parameter<std::remove_const_t<A>>::value) {
        return a.evaluate();
    } else if constexpr (is_sharded_ref<std::remove_const_t<A>>::value) {
        return sharded_or_local<typename is_sharded_ref<std::remove_const_t<A>>::service>(a.get());
    } else if constexpr (is_reference_wrapper<std::remove_const_t<A>>::value) {
        return a.get();
    } else {
        return (a);
    }
}

template <typename Service>
concept has_stop_member = requires(Service& s) { s.stop(); };

}  // namespace detail

template <typename Func, typename... Params>
auto sharded_parameter<Func, Params...>::evaluate() {
    return std::apply([this](auto&... p) { return std::invoke(func_, detail::unwrap_sharded_arg(p)...); }, params_);
}

/// One instance of Service per shard. The sharded<> object itself lives on one shard
/// (usually shard 0, as a local of the application) and outlives every call it makes;
/// start() and stop() may be called from any shard, but not concurrently with each other.
/// Calls reach instances through cross-shard messages and run there as tasks.
template <typename Service>
class sharded {
    template <typename Func, typename... Args>
    using call_result_t = futurize_t<std::remove_cvref_t<std::invoke_result_t<Func&, Service&, Args&...>>>;

public:
    /// An empty container: no instances until start().
    sharded() noexcept = default;
    sharded(const sharded&) = delete;
    sharded& operator=(const sharded&) = delete;

    /// Must be stopped (or never started) first: destroying a started sharded<> is a bug,
    /// asserted in debug builds and reported on stderr (instances leaked) otherwise.
    ~sharded() {
        if (state_.load(std::memory_order_acquire) != state::idle) {
            report_not_stopped();
        }
    }

    /// Constructs Service(args...) on every shard, on that shard. Each shard gets its own
    /// copy of `args` (copied on the calling shard); sharded_parameter arguments are
    /// evaluated per shard; std::ref(x) is passed as x& (x must outlive start()), and
    /// std::ref(sharded<S>) as sharded<S>& or S& (that shard's instance). If a
    /// constructor throws, the instances already made are stopped and destroyed on their
    /// shards and the result fails with the first failure (in shard order). Fails with
    /// std::logic_error when already started. Allocates one message per shard.
    template <typename... Args>
    future<> start(Args&&... args) {
        std::optional<std::tuple<std::decay_t<Args>...>> copies;
        try {
            copies.emplace(std::forward<Args>(args)...);
        } catch (...) {
            return make_exception_future<>(std::current_exception());
        }
        if (auto e = begin_start(false, "sharded::start(): already started")) {
            return make_exception_future<>(std::move(e));
        }
        return start_impl(std::move(*copies));
    }

    /// Like start(), but constructs a single instance, on shard 0; the other shards have
    /// none (invoke_on() to them fails with no_sharded_instance_exception and
    /// invoke_on_all()/map() reach shard 0 only).
    template <typename... Args>
    future<> start_single(Args&&... args) {
        std::optional<std::tuple<std::decay_t<Args>...>> copies;
        try {
            copies.emplace(std::forward<Args>(args)...);
        } catch (...) {
            return make_exception_future<>(std::current_exception());
        }
        if (auto e = begin_start(true, "sharded::start_single(): already started")) {
            return make_exception_future<>(std::move(e));
        }
        return start_impl(std::move(*copies));
    }

    /// Calls Service::stop() (if Service has one; it may return void or future<>) on
    /// every instance concurrently, waits for calls still running on each instance, then
    /// destroys every instance on its shard. From the moment stop() is called, new calls
    /// (invoke_on and friends) are refused with sharded_stopping_exception. A no-op on a
    /// sharded<> never started or already stopped. Fails with the first failure of a
    /// Service::stop() (the instances are destroyed all the same); fails with
    /// std::logic_error when called while start() or another stop() is in progress.
    future<> stop() {
        state expected = state::running;
        if (!state_.compare_exchange_strong(expected, state::stopping, std::memory_order_acq_rel)) {
            if (expected == state::idle) {
                return make_ready_future<>();
            }
            return make_exception_future<>(detail::make_sharded_misuse(
                expected == state::starting ? "sharded::stop(): start() is in progress"
                                            : "sharded::stop(): already stopping"));
        }
        return stop_impl();
    }

    /// Runs func(instance, args...) on `shard`'s instance (func may be a member pointer)
    /// and returns its result (a value, void, or a future) to the calling shard. `func`
    /// and `args` are moved to the call and stay alive until its result is ready. Fails
    /// with sharded_stopping_exception once stop() was called, with
    /// no_sharded_instance_exception when the shard has no instance, with
    /// std::out_of_range for a shard that does not exist. Allocates one message (one
    /// holder when `shard` is this shard).
    template <typename Func, typename... Args>
    call_result_t<Func, Args...> invoke_on(unsigned shard, Func func, Args... args) {
        using fut = call_result_t<Func, Args...>;
        if (auto e = check_callable()) {
            return make_exception_future<typename fut::value_type>(std::move(e));
        }
        if (shard == this_shard_id()) {
            // Keep func and args at a stable address until the result is ready: the
            // function may be a lambda coroutine that refers to its captures.
            auto held = std::make_unique<std::tuple<Func, Args...>>(std::move(func), std::move(args)...);
            auto f = std::apply([this](Func& fn, Args&... a) { return call_here(fn, a...); }, *held);
            if (f.available()) {
                return f;
            }
            return std::move(f).finally([held = std::move(held)] {});
        }
        return smp::submit_to(shard, [this, func = std::move(func), ... args = std::move(args)]() mutable {
            return call_here(func, args...);
        });
    }

    /// Runs func(instance, args...) on every instance concurrently (a copy of func and
    /// args each); resolves when all are done, failing with the first failure in shard
    /// order after all completed. The results are discarded.
    template <typename Func, typename... Args>
    future<> invoke_on_all(Func func, Args... args) {
        return invoke_on_range(false, std::move(func), std::move(args)...);
    }

    /// Like invoke_on_all(), skipping the calling shard.
    template <typename Func, typename... Args>
    future<> invoke_on_others(Func func, Args... args) {
        return invoke_on_range(true, std::move(func), std::move(args)...);
    }

    /// Runs map(instance) on every instance concurrently and folds the values on the
    /// calling shard, in shard order: acc = reduce(std::move(acc), value), starting from
    /// `initial`. Fails with the first failure once every call completed.
    template <typename Mapper, typename Initial, typename Reduce>
    future<Initial> map_reduce0(Mapper map, Initial initial, Reduce reduce) {
        return reef::map_reduce(
            shard_range(), [this, map](unsigned s) { return invoke_on(s, map); }, std::move(initial),
            std::move(reduce));
    }

    /// Runs map(instance) on every instance concurrently and passes the values, in shard
    /// order on the calling shard, to `reducer(value)` (void or future<>); resolves with
    /// reducer.get(). Fails with the first failure once every call completed.
    template <typename Reducer, typename Mapper>
    auto map_reduce(Reducer&& reducer, Mapper map) {
        return reef::map_reduce(
            shard_range(), [this, map](unsigned s) { return invoke_on(s, map); }, std::forward<Reducer>(reducer));
    }

    /// Runs func(instance) on every instance concurrently and resolves with the results
    /// in shard order. Fails with the first failure once every call completed.
    template <typename Func>
    auto map(Func func) -> future<std::vector<typename call_result_t<Func>::value_type>> {
        using R = typename call_result_t<Func>::value_type;
        static_assert(!std::is_void_v<R>, "sharded::map() needs a function returning a value");
        std::vector<future<R>> calls;
        calls.reserve(shard_count());
        for (unsigned s : shard_range()) {
            calls.push_back(invoke_on(s, func));
        }
        return when_all_succeed(calls.begin(), calls.end());
    }

    /// The instance on the calling shard. Throws no_sharded_instance_exception if this
    /// shard has none (not started, stopped, or start_single() on another shard).
    Service& local() {
        if (Service* s = local_or_null()) {
            return *s;
        }
        std::rethrow_exception(
            detail::make_no_sharded_instance("sharded::local(): the service has no instance on this shard"));
    }

    /// The instance on the calling shard (const access); throws like local().
    const Service& local() const { return const_cast<sharded*>(this)->local(); }

    /// True when the calling shard has an instance (local() would not throw).
    bool local_is_initialized() const noexcept { return const_cast<sharded*>(this)->local_or_null() != nullptr; }

private:
    enum class state : unsigned char { idle, starting, running, stopping };

    // The instance of one shard and the calls running on it. Every field is touched only
    // on its shard (the array itself is made and freed by start()/stop() on the caller).
    struct alignas(64) shard_slot {
        Service* service = nullptr;
        unsigned in_flight = 0;       // calls started on the instance, not yet done
        promise<>* drained = nullptr;  // stop() waits here for in_flight to reach 0
        bool closing = false;          // stop() has begun on this shard: refuse calls
    };

    // Moves idle -> starting and makes the slots; the reason it cannot, if it cannot.
    std::exception_ptr begin_start(bool single, const char* already) noexcept {
        state expected = state::idle;
        if (!state_.compare_exchange_strong(expected, state::starting, std::memory_order_acq_rel)) {
            return detail::make_sharded_misuse(already);
        }
        try {
            slots_.reset(new shard_slot[smp::count]);
        } catch (...) {
            state_.store(state::idle, std::memory_order_release);
            return std::current_exception();
        }
        single_ = single;
        count_ = smp::count;
        return nullptr;
    }

    unsigned shard_count() const noexcept { return single_ ? 1u : count_; }

    // The shards a call to every instance goes to. Never empty: on a service that is not
    // running, the call to shard 0 fails with the reason, and so does the whole.
    auto shard_range() const noexcept { return std::views::iota(0u, std::max(1u, shard_count())); }

    Service* local_or_null() noexcept {
        unsigned id = this_shard_id();
        if (!slots_ || id >= count_) {
            return nullptr;
        }
        return slots_[id].service;
    }

    // Why a new call is refused, if it is (calling shard).
    std::exception_ptr check_callable() const noexcept {
        switch (state_.load(std::memory_order_acquire)) {
        case state::running:
            return nullptr;
        case state::stopping:
            return detail::make_sharded_stopping("sharded: call refused, stop() has begun");
        default:
            return detail::make_no_sharded_instance("sharded: call to a service that is not started");
        }
    }

    // On the target shard: runs func on the instance there, counting it as in flight so
    // that stop() does not destroy the instance under it.
    template <typename Func, typename... Args>
    call_result_t<Func, Args...> call_here(Func& func, Args&... args) {
        using fut = call_result_t<Func, Args...>;
        unsigned id = this_shard_id();
        shard_slot* slot = id < count_ && slots_ ? &slots_[id] : nullptr;
        if (!slot || !slot->service) {
            return make_exception_future<typename fut::value_type>(
                detail::make_no_sharded_instance("sharded: the service has no instance on the target shard"));
        }
        if (slot->closing) {
            return make_exception_future<typename fut::value_type>(
                detail::make_sharded_stopping("sharded: call refused, stop() has begun on the target shard"));
        }
        ++slot->in_flight;
        fut f = futurize_invoke([&]() -> decltype(auto) {
            if constexpr (std::is_void_v<std::invoke_result_t<Func&, Service&, Args&...>>) {
                std::invoke(func, *slot->service, args...);
            } else {
                return std::remove_cvref_t<std::invoke_result_t<Func&, Service&, Args&...>>(
                    std::invoke(func, *slot->service, args...));
            }
        });
        if (f.available()) {
            leave(*slot);
            return f;
        }
        return std::move(f).finally([slot] { leave(*slot); });
    }

    static void leave(shard_slot& slot) noexcept {
        if (--slot.in_flight == 0 && slot.drained) {
            slot.drained->set_value();
        }
    }

    template <typename Func, typename... Args>
    future<> invoke_on_range(bool skip_self, Func func, Args... args) {
        if (auto e = check_callable()) {
            return make_exception_future<>(std::move(e));
        }
        std::vector<future<>> calls;
        calls.reserve(shard_count());
        unsigned self = this_shard_id();
        for (unsigned s : shard_range()) {
            if (!(skip_self && s == self)) {
                calls.push_back(invoke_on(s, func, args...).discard_result());
            }
        }
        return when_all_succeed(calls.begin(), calls.end());
    }

    // Awaits every future of `calls`; resolves with the first failure in order, if any.
    static future<std::exception_ptr> first_failure(std::vector<future<>> calls) {
        auto done = co_await when_all(calls.begin(), calls.end());
        std::exception_ptr first;
        for (auto& f : done) {
            if (f.failed()) {
                if (first) {
                    f.ignore_ready_future();
                } else {
                    first = f.get_exception();
                }
            } else {
                f.ignore_ready_future();
            }
        }
        co_return first;
    }

    template <typename Tuple>
    future<> start_impl(Tuple args) {
        std::vector<future<>> calls;
        calls.reserve(shard_count());
        for (unsigned s = 0; s < shard_count(); ++s) {
            // Each shard gets a copy of the arguments, made here on the calling shard.
            calls.push_back(smp::submit_to(s, [this, args]() mutable { construct_here(args); }));
        }
        std::exception_ptr failure = co_await first_failure(std::move(calls));
        if (failure) {
            // Undo: stop and destroy the instances that were made; the constructor's
            // failure is the one reported.
            std::vector<future<>> undo;
            for (unsigned s = 0; s < shard_count(); ++s) {
                undo.push_back(smp::submit_to(s, [this] { return undo_here(); }));
            }
            (void)co_await first_failure(std::move(undo));
            slots_.reset();
            state_.store(state::idle, std::memory_order_release);
            co_await coroutine::exception(std::move(failure));
        }
        state_.store(state::running, std::memory_order_release);
    }

    template <typename Tuple>
    void construct_here(Tuple& args) {
        shard_slot& slot = slots_[this_shard_id()];
        slot.service = std::apply([](auto&... a) { return new Service(detail::unwrap_sharded_arg(a)...); }, args);
        if constexpr (std::is_base_of_v<peering_sharded_service<Service>, Service>) {
            static_cast<peering_sharded_service<Service>&>(*slot.service).container_ = this;
        }
    }

    // On each shard: refuses new calls and calls Service::stop() if there is one.
    future<> stop_here() {
        shard_slot& slot = slots_[this_shard_id()];
        slot.closing = true;
        if (!slot.service) {
            return make_ready_future<>();
        }
        if constexpr (detail::has_stop_member<Service>) {
            return futurize_invoke([&] { return slot.service->stop(); }).discard_result();
        } else {
            return make_ready_future<>();
        }
    }

    // On each shard, when start() failed: stops and destroys the instance, if any. A
    // failure of Service::stop() here is dropped: the constructor's failure is reported.
    future<> undo_here() {
        auto stopped = co_await coroutine::as_future(stop_here());
        stopped.ignore_ready_future();
        co_await destroy_here();
    }

    // On each shard: waits for the calls still running on the instance, then destroys it.
    future<> destroy_here() {
        shard_slot& slot = slots_[this_shard_id()];
        if (slot.in_flight) {
            promise<> drained;
            slot.drained = &drained;
            co_await drained.get_future();
            slot.drained = nullptr;
        }
        delete std::exchange(slot.service, nullptr);
    }

    future<> stop_impl() {
        std::vector<future<>> calls;
        calls.reserve(shard_count());
        for (unsigned s = 0; s < shard_count(); ++s) {
            calls.push_back(smp::submit_to(s, [this] { return stop_here(); }));
        }
        std::exception_ptr failure = co_await first_failure(std::move(calls));
        std::vector<future<>> destroys;
        destroys.reserve(shard_count());
        for (unsigned s = 0; s < shard_count(); ++s) {
            destroys.push_back(smp::submit_to(s, [this] { return destroy_here(); }));
        }
        std::exception_ptr destroy_failure = co_await first_failure(std::move(destroys));
        slots_.reset();
        state_.store(state::idle, std::memory_order_release);
        if (!failure) {
            failure = std::move(destroy_failure);
        }
        if (failure) {
            co_await coroutine::exception(std::move(failure));
        }
    }

    void report_not_stopped() noexcept {
        // The instances live on their shards and cannot be destroyed from here
        // synchronously: leak them rather than destroy them on the wrong shard.
        (void)slots_.release();
        detail::report_sharded_not_stopped(typeid(Service).name());
    }

    std::atomic<state> state_{state::idle};
    bool single_ = false;                 // written by start(), before any call
    unsigned count_ = 0;                  // slots: smp::count when started
    std::unique_ptr<shard_slot[]> slots_;  // index = shard id
};

}  // namespace reef
