// do_with(): keeps values alive, at stable addresses, for the duration of an asynchronous
// operation that uses them by reference.
//   return reef::do_with(std::string(name), [](std::string& n) { return lookup(n); });
#pragma once

#include <cstddef>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include <reef/core/future.hh>

namespace reef {

namespace detail {

/// Owns the values and the function of a do_with() and, if the function's future is
/// pending, waits for it as a task and then releases everything.
template <typename R, typename Func, typename... T>
class do_with_holder final : public task {
public:
    /// Builds the holder from forward_as_tuple(values..., func).
    template <typename... A>
    static do_with_holder* create(std::tuple<A...>&& args) {
        return new do_with_holder(std::move(args), std::index_sequence_for<T...>{});
    }

    /// Calls the function on the held values. If its future is ready, the holder is
    /// deleted and the future returned; otherwise the holder waits for it.
    future<R> run() noexcept {
        future<R> f = std::apply([this](T&... v) { return futurize_invoke(func_, v...); }, values_);
        if (f.available()) {
            delete this;
            return f;
        }
        future<R> result = pr_.get_future();
        fut_.emplace(std::move(f));
        fut_->set_waiter(this);
        return result;
    }

    void run_and_dispose() noexcept override {
        // The values die before the result is visible to the next task.
        future<R>& f = *fut_;
        if (f.failed()) {
            pr_.set_exception(f.get_exception());
        } else if constexpr (std::is_void_v<R>) {
            f.ignore_ready_future();
            pr_.set_value();
        } else {
            pr_.set_value(f.get());
        }
        delete this;
    }

    static void* operator new(std::size_t n) { return task_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { task_free(p, n); }

private:
    template <typename... A, std::size_t... I>
    do_with_holder(std::tuple<A...>&& args, std::index_sequence<I...>)
        : values_(std::get<I>(std::move(args))...),
          func_(std::get<sizeof...(T)>(std::move(args))) {}

    std::tuple<T...> values_;
    Func func_;
    promise<R> pr_;
    std::optional<future<R>> fut_;
};

template <typename... A>
using last_of_t = std::tuple_element_t<sizeof...(A) - 1, std::tuple<A...>>;

template <typename Func, typename Tuple, typename = std::make_index_sequence<std::tuple_size_v<Tuple> - 1>>
struct do_with_types;
template <typename Func, typename... A, std::size_t... I>
struct do_with_types<Func, std::tuple<A...>, std::index_sequence<I...>> {
    using func_type = std::decay_t<Func>;
    template <std::size_t J>
    using value_type = std::decay_t<std::tuple_element_t<J, std::tuple<A...>>>;
    using result_future = futurize_result_t<func_type&, value_type<I>&...>;
    using result_type = typename result_future::value_type;
    using holder = do_with_holder<result_type, func_type, value_type<I>...>;
};

}  // namespace detail

/// do_with(v1, ..., vn, func): moves (or copies) the values into a holder, calls
/// func(v1&, ..., vn&) and keeps the values, at the addresses func saw, and func itself
/// until the future it returns resolves; resolves with that future's result. A throw
/// from func becomes a failed future. Always allocates the holder (one task-cache block:
/// func's references must stay valid if its future turns out pending, which is only
/// known after the call); no further allocation, ready or not.
template <typename... A>
    requires(sizeof...(A) >= 2)
auto do_with(A&&... args) noexcept {
    using types = detail::do_with_types<detail::last_of_t<A...>, std::tuple<A...>>;
    using R = typename types::result_type;
    typename types::holder* h;
    try {
        h = types::holder::create(std::forward_as_tuple(std::forward<A>(args)...));
    } catch (...) {
        return make_exception_future<R>(std::current_exception());
    }
    return h->run();
}

}  // namespace reef
