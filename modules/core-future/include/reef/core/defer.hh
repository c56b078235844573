// defer(): runs a function when the returned object leaves its scope, unless cancelled.
//   auto undo = reef::defer([&] () noexcept { table.erase(key); });
//   ... ; undo.cancel();   // keep the entry after all
#pragma once

#include <type_traits>
#include <utility>

namespace reef {

/// Runs its function once when destroyed, unless cancel() was called or it was moved
/// from. Move-only; holds the function inline (no allocation). The function runs from a
/// destructor: if it throws, std::terminate is called.
template <typename Func>
class [[nodiscard]] deferred_action {
    static_assert(std::is_nothrow_move_constructible_v<Func>,
                  "defer(): the function must be nothrow-movable");
    static_assert(std::is_invocable_v<Func&>, "defer(): the function must be callable without arguments");

public:
    /// Arms the action with `func`.
    explicit deferred_action(Func&& func) noexcept : func_(std::move(func)) {}
    /// Takes over `o`'s action; `o` is left cancelled.
    deferred_action(deferred_action&& o) noexcept : func_(std::move(o.func_)), armed_(o.armed_) {
        o.armed_ = false;
    }
    deferred_action(const deferred_action&) = delete;
    deferred_action& operator=(const deferred_action&) = delete;
    deferred_action& operator=(deferred_action&&) = delete;
    /// Runs the function if still armed.
    ~deferred_action() {
        if (armed_) {
            func_();
        }
    }

    /// Disarms the action: the function will not run.
    void cancel() noexcept { armed_ = false; }

private:
    Func func_;
    bool armed_ = true;
};

/// Returns a deferred_action that calls `func()` at the end of its scope (or of the
/// scope of whatever it is moved into), unless cancelled. Never allocates.
template <typename Func>
deferred_action<std::decay_t<Func>> defer(Func&& func) noexcept(
    std::is_nothrow_constructible_v<std::decay_t<Func>, Func&&>) {
    return deferred_action<std::decay_t<Func>>(std::decay_t<Func>(std::forward<Func>(func)));
}

}  // namespace reef
