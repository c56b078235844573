// unique_function<R(A...)>: a move-only type-erased callable, so that handlers and body
// writers may own move-only state (files, buffers, streams).
//   reef::detail::unique_function<int(int)> f = [p = std::make_unique<int>(1)](int x) { return x + *p; };
#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

namespace reef::detail {

template <typename Signature>
class unique_function;

/// A move-only std::function: holds any move-constructible callable, on the heap (one
/// allocation when made; moves and calls allocate nothing). Calling an empty one is
/// undefined.
template <typename R, typename... A>
class unique_function<R(A...)> {
public:
    unique_function() noexcept = default;
    unique_function(std::nullptr_t) noexcept {}  // NOLINT: like std::function

    template <typename F>
        requires(!std::is_same_v<std::decay_t<F>, unique_function> &&
                 std::is_invocable_r_v<R, std::decay_t<F>&, A...>)
    unique_function(F&& f)  // NOLINT: implicit, like std::function
        : impl_(std::make_unique<holder<std::decay_t<F>>>(std::forward<F>(f))) {}

    unique_function(unique_function&&) noexcept = default;
    unique_function& operator=(unique_function&&) noexcept = default;

    /// True when a callable is held.
    explicit operator bool() const noexcept { return bool(impl_); }

    /// Calls the held callable.
    R operator()(A... a) { return impl_->call(std::forward<A>(a)...); }

private:
    struct callable {
        virtual ~callable() = default;
        virtual R call(A&&... a) = 0;
    };
    template <typename F>
    struct holder final : callable {
        template <typename G>
        explicit holder(G&& g) : fn(std::forward<G>(g)) {}
        R call(A&&... a) override { return fn(std::forward<A>(a)...); }
        F fn;
    };

    std::unique_ptr<callable> impl_;
};

}  // namespace reef::detail
