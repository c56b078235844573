// timer<Clock>: calls a function at a deadline, once or periodically, on the shard that
// armed it. Callbacks run as tasks of the scheduling group that was current at arm().
//   reef::timer<> t([] { fmt::print("tick\n"); });
//   t.arm_periodic(100ms);   // ... t.cancel();
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include <reef/core/detail/intrusive_list.hh>
#include <reef/core/exceptions.hh>
#include <reef/reactor/clock.hh>

namespace reef {

namespace detail {

/// Which of the shard's timer sets a timer belongs to.
enum class timer_clock : std::uint8_t { steady = 0, lowres = 1, manual = 2 };
inline constexpr unsigned timer_clock_count = 3;

template <typename Clock>
struct timer_clock_of;
template <>
struct timer_clock_of<std::chrono::steady_clock> {
    static constexpr timer_clock value = timer_clock::steady;
};
template <>
struct timer_clock_of<lowres_clock> {
    static constexpr timer_clock value = timer_clock::lowres;
};
template <>
struct timer_clock_of<manual_clock> {
    static constexpr timer_clock value = timer_clock::manual;
};

/// The untyped part of every timer: its place in the shard's deadline heap and in the
/// list of expired timers waiting for their callback task. Owner shard only.
class timer_base : public list_hook {
public:
    static constexpr std::uint32_t not_queued = UINT32_MAX;
    /// Runs the timer's callback; called by the timer task with the timer already
    /// disarmed (unless periodic). May destroy the timer.
    using fire_fn = void (*)(timer_base&) noexcept;

    timer_base(timer_clock c, fire_fn f) noexcept : fire_(f), clock_(c) {}
    timer_base(const timer_base&) = delete;
    timer_base& operator=(const timer_base&) = delete;

    /// In the heap, or expired with its callback still to run.
    bool queued() const noexcept { return index_ != not_queued || is_linked(); }

    std::int64_t deadline_ = 0;  // nanoseconds since the clock's epoch
    std::int64_t period_ = 0;    // nanoseconds; 0: one-shot
    std::uint64_t seq_ = 0;      // arm order, breaks ties between equal deadlines
    fire_fn fire_;
    std::uint32_t index_ = not_queued;  // position in the heap
    std::uint16_t group_ = 0;           // scheduling group of the callback task
    timer_clock clock_;
};

/// Arms `t` (not queued) on this shard at `deadline` ns, repeating every `period` ns if
/// nonzero, in the current scheduling group. O(log n); allocates only when the heap
/// grows. Throws std::logic_error on a thread without a running reactor.
void timer_arm(timer_base& t, std::int64_t deadline, std::int64_t period);
/// Removes `t` from the heap and from the expired list. O(log n).
void timer_cancel(timer_base& t) noexcept;
/// `to` takes the place of the queued timer `from` (which ends up not queued).
void timer_move(timer_base& to, timer_base& from) noexcept;

/// A move-only nullary callable with room for three pointers inline.
class timer_callback {
public:
    timer_callback() noexcept = default;
    template <typename F>
        requires(!std::is_same_v<std::decay_t<F>, timer_callback> && std::is_invocable_v<std::decay_t<F>&>)
    timer_callback(F&& f) {  // NOLINT: implicit, like std::function
        using D = std::decay_t<F>;
        if constexpr (sizeof(D) <= sizeof(storage_) && alignof(D) <= alignof(std::max_align_t) &&
                      std::is_nothrow_move_constructible_v<D>) {
            new (storage_) D(std::forward<F>(f));
            ops_ = &inline_ops<D>;
        } else {
            *reinterpret_cast<D**>(storage_) = new D(std::forward<F>(f));
            ops_ = &heap_ops<D>;
        }
    }
    timer_callback(timer_callback&& o) noexcept { steal(o); }
    timer_callback& operator=(timer_callback&& o) noexcept {
        if (this != &o) {
            reset();
            steal(o);
        }
        return *this;
    }
    ~timer_callback() { reset(); }

    explicit operator bool() const noexcept { return ops_ != nullptr; }
    void operator()() { ops_->invoke(storage_); }

private:
    struct ops {
        void (*invoke)(void*);
        void (*move)(void* dst, void* src) noexcept;
        void (*destroy)(void*) noexcept;
    };
    template <typename D>
    static constexpr ops inline_ops{
        [](void* p) { (*static_cast<D*>(p))(); },
        [](void* d, void* s) noexcept {
            new (d) D(std::move(*static_cast<D*>(s)));
            static_cast<D*>(s)->~D();
        },
        [](void* p) noexcept { static_cast<D*>(p)->~D(); },
    };
    template <typename D>
    static constexpr ops heap_ops{
        [](void* p) { (**static_cast<D**>(p))(); },
        [](void* d, void* s) noexcept { *static_cast<D**>(d) = *static_cast<D**>(s); },
        [](void* p) noexcept { delete *static_cast<D**>(p); },
    };
    void steal(timer_callback& o) noexcept {
        if (o.ops_) {
            o.ops_->move(storage_, o.storage_);
            ops_ = std::exchange(o.ops_, nullptr);
        }
    }
    void reset() noexcept {
        if (ops_) {
            std::exchange(ops_, nullptr)->destroy(storage_);
        }
    }

    alignas(std::max_align_t) unsigned char storage_[3 * sizeof(void*)];
    const ops* ops_ = nullptr;
};

}  // namespace detail

/// A timer of `Clock` (steady_clock_type, lowres_clock or manual_clock). Owner shard
/// only: arm, cancel and destroy it on the shard that armed it. Arming never allocates
/// (beyond rare growth of the shard's heap); arm and cancel are O(log n) in the number
/// of armed timers. When the deadline passes, the reactor queues the callback as a task
/// of the scheduling group that was current at arm time; timers of one group whose
/// deadlines passed together run in deadline order (arm order for equal deadlines). A
/// timer cancelled after its deadline passed but before its callback ran does not run.
/// The callback must not throw (a throw is reported like an abandoned failed future).
/// Destroying an armed timer cancels it; a callback may cancel, rearm or destroy its
/// own timer.
template <typename Clock = steady_clock_type>
class timer : private detail::timer_base {
public:
    using clock = Clock;
    using time_point = typename Clock::time_point;
    using duration = typename Clock::duration;

    /// A timer without a callback (set one before it fires).
    timer() noexcept : timer_base(detail::timer_clock_of<Clock>::value, &fire) {}
    /// A timer that calls `cb` when it fires.
    explicit timer(detail::timer_callback cb) noexcept : timer() { cb_ = std::move(cb); }
    /// Takes over `o`'s callback and, if `o` is armed, its place (`o` ends disarmed).
    timer(timer&& o) noexcept : timer() { take(o); }
    /// Cancels this timer, then takes over `o` as the move constructor does.
    timer& operator=(timer&& o) noexcept {
        if (this != &o) {
            cancel();
            take(o);
        }
        return *this;
    }
    /// Cancels the timer if armed.
    ~timer() { cancel(); }

    /// Sets the function called at expiry: any callable of no arguments (a lambda, a
    /// std::function, a move-only lambda). Allocates only for callables larger than
    /// three pointers.
    void set_callback(detail::timer_callback cb) noexcept { cb_ = std::move(cb); }

    /// Arms the timer to fire at `until`, then every `period` if given. The timer must
    /// not be armed (use rearm()): throws std::logic_error if it is, or without a
    /// running reactor on this thread.
    void arm(time_point until, std::optional<duration> period = {}) {
        detail::timer_arm(*this, ns(until.time_since_epoch()), period ? ns(*period) : 0);
    }
    /// Arms the timer to fire `delta` from now.
    void arm(duration delta) { arm(Clock::now() + delta); }
    /// Cancels the timer if armed, then arms it at `until` (and `period`).
    void rearm(time_point until, std::optional<duration> period = {}) {
        cancel();
        arm(until, period);
    }
    /// Cancels the timer if armed, then arms it `delta` from now.
    void rearm(duration delta) { rearm(Clock::now() + delta); }
    /// Arms the timer to fire every `delta`, starting `delta` from now. A periodic timer
    /// whose callback has not run yet when it fires again runs it once (not twice);
    /// ticks missed while the shard was busy are skipped, not bunched.
    void arm_periodic(duration delta) { arm(Clock::now() + delta, delta); }
    /// Cancels the timer if armed, then arm_periodic(delta).
    void rearm_periodic(duration delta) {
        cancel();
        arm_periodic(delta);
    }

    /// Disarms the timer; returns true if it was armed (its callback will now not run).
    /// False for a timer that never was armed or whose callback already ran (for a
    /// one-shot timer, from inside its own callback too).
    bool cancel() noexcept {
        if (!queued()) {
            return false;
        }
        detail::timer_cancel(*this);
        return true;
    }

    /// True from arm() until the callback of a one-shot timer starts, or until cancel().
    bool armed() const noexcept { return queued(); }

    /// The deadline of the next expiry (meaningful while armed).
    time_point get_timeout() const noexcept { return time_point(std::chrono::nanoseconds(deadline_)); }

private:
    template <typename R, typename P>
    static std::int64_t ns(std::chrono::duration<R, P> d) noexcept {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    }
    static void fire(timer_base& b) noexcept {
        auto& self = static_cast<timer&>(b);
        if (!self.cb_) {
            return;
        }
        try {
            self.cb_();
        } catch (...) {
            detail::report_abandoned_failure(std::current_exception());
        }
    }
    void take(timer& o) noexcept {
        cb_ = std::move(o.cb_);
        if (o.queued()) {
            detail::timer_move(*this, o);
        }
    }

    detail::timer_callback cb_;
};

}  // namespace reef
