// gate: tracks work in progress so that shutdown can wait for it. Work enters the gate
// (holding it open); close() refuses new work and resolves once the last holder leaves.
//   auto h = g.hold();                     // throws gate_closed_exception once closed
//   co_await g.close();                    // at shutdown: waits for every holder
#pragma once

#include <cassert>
#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <utility>

#include <reef/core/future.hh>

namespace reef {

/// Entering a gate after close() was called.
struct gate_closed_exception : std::exception {
    const char* what() const noexcept override { return "gate closed"; }
};

/// A counter of work in progress that can be closed. Owner thread only; not movable
/// (holders point at it). Destroying a gate that still has holders is a bug (asserted).
class gate {
public:
    class holder;

    gate() noexcept = default;
    gate(const gate&) = delete;
    gate& operator=(const gate&) = delete;
    ~gate() { assert(count_ == 0 && "reef::gate destroyed while work is still inside it"); }

    /// Enters the gate. Throws gate_closed_exception once close() was called.
    void enter() {
        if (closing_) [[unlikely]] {
            throw gate_closed_exception();
        }
        ++count_;
    }

    /// Enters the gate unless it is closed; returns whether it did. Never throws.
    bool try_enter() noexcept {
        if (closing_) {
            return false;
        }
        ++count_;
        return true;
    }

    /// Leaves the gate: one call per successful enter(). The last leave() after close()
    /// resolves close()'s future (its waiter runs later). Never yields.
    void leave() noexcept {
        assert(count_ > 0 && "gate::leave() without enter()");
        if (--count_ == 0 && closed_) {
            closed_->set_value();
            closed_.reset();
        }
    }

    /// Throws gate_closed_exception if the gate is closed (a cheap check in long work).
    void check() const {
        if (closing_) [[unlikely]] {
            throw gate_closed_exception();
        }
    }

    /// Closes the gate: later enter() calls fail. The future resolves when every holder
    /// has left (at once if none). Call once; a second call fails its future with
    /// std::logic_error. Allocates nothing.
    future<> close() {
        if (closing_) [[unlikely]] {
            return make_exception_future<>(std::logic_error("gate::close() called twice"));
        }
        closing_ = true;
        if (count_ == 0) {
            return make_ready_future<>();
        }
        closed_.emplace();
        return closed_->get_future();
    }

    /// True once close() was called.
    bool is_closed() const noexcept { return closing_; }

    /// The number of holders inside.
    std::size_t get_count() const noexcept { return count_; }

    /// Enters the gate and returns a holder that leaves it when destroyed. Throws
    /// gate_closed_exception when closed.
    [[nodiscard]] holder hold();

    /// Like hold(), but nullopt instead of throwing when closed.
    [[nodiscard]] std::optional<holder> try_hold() noexcept;

private:
    std::size_t count_ = 0;
    bool closing_ = false;
    std::optional<promise<>> closed_;  // close()'s promise while holders remain
};

/// RAII presence inside a gate. Copying enters again (allowed even when the gate is
/// closing: the copy's lifetime is inside the original's). Moving transfers it.
class gate::holder {
public:
    /// Holds no gate.
    holder() noexcept = default;
    /// Enters `g`; throws gate_closed_exception when it is closed.
    explicit holder(gate& g) : g_(&g) { g.enter(); }
    holder(const holder& o) noexcept : g_(o.g_) {
        if (g_) {
            ++g_->count_;
        }
    }
    holder(holder&& o) noexcept : g_(std::exchange(o.g_, nullptr)) {}
    holder& operator=(holder o) noexcept {
        std::swap(g_, o.g_);
        return *this;
    }
    /// Leaves the gate if still held.
    ~holder() { release(); }

    /// Leaves the gate now.
    void release() noexcept {
        if (auto* g = std::exchange(g_, nullptr)) {
            g->leave();
        }
    }

    /// The gate held, or nullptr.
    gate* get_gate() const noexcept { return g_; }

private:
    friend class gate;
    struct adopt_tag {};
    holder(gate& g, adopt_tag) noexcept : g_(&g) {}

    gate* g_ = nullptr;
};

inline gate::holder gate::hold() {
    return holder(*this);
}

inline std::optional<gate::holder> gate::try_hold() noexcept {
    if (try_enter()) {
        return holder(*this, holder::adopt_tag{});
    }
    return std::nullopt;
}

/// Runs `func()` inside `g`: enters, and leaves when func's future resolves, failed or
/// not. On a closed gate, func is not called and the result fails with
/// gate_closed_exception. No allocation when func's future is ready.
template <typename Func>
futurize_result_t<Func> with_gate(gate& g, Func&& func) {
    using T = typename futurize_result_t<Func>::value_type;
    if (!g.try_enter()) {
        return make_exception_future<T>(gate_closed_exception());
    }
    return futurize_invoke(std::forward<Func>(func)).finally([&g] { g.leave(); });
}

}  // namespace reef
