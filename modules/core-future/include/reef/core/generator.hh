// An asynchronous generator: a coroutine that co_yields a sequence of values and may
// co_await futures between them. The consumer pulls one value at a time.
//   reef::coroutine::generator<int> count(int n) { for (int i = 0; i < n; ++i) co_yield i; }
//   auto g = count(3); while (auto v = co_await g()) use(*v);
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <utility>

#include <reef/core/future.hh>

namespace reef::coroutine {

/// A lazily started asynchronous sequence of T. Move-only; destroying it destroys a
/// suspended generator coroutine (its locals are cleaned up). One value is produced
/// per pull: the generator runs only while the consumer waits on `co_await g()`.
template <typename T>
class [[nodiscard]] generator {
public:
    class promise_type final : public task {
    public:
        generator get_return_object() noexcept {
            return generator(std::coroutine_handle<promise_type>::from_promise(*this));
        }
        std::suspend_always initial_suspend() noexcept { return {}; }

        struct to_consumer {
            bool await_ready() const noexcept { return false; }
            std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
                return h.promise().consumer_;
            }
            void await_resume() const noexcept {}
        };
        to_consumer final_suspend() noexcept {
            value_.reset();
            done_ = true;
            return {};
        }
        template <typename U = T>
            requires std::is_constructible_v<T, U&&>
        to_consumer yield_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
            value_.emplace(std::forward<U>(v));
            return {};
        }
        void return_void() noexcept {}
        void unhandled_exception() noexcept { error_ = std::current_exception(); }

        // Resumes the generator when a future it awaits resolves.
        void run_and_dispose() noexcept override {
            std::coroutine_handle<promise_type>::from_promise(*this).resume();
        }
        static void* operator new(std::size_t n) { return reef::detail::task_alloc(n); }
        static void operator delete(void* p, std::size_t n) noexcept { reef::detail::task_free(p, n); }

    private:
        friend class generator;
        std::optional<T> value_;
        std::exception_ptr error_;
        std::coroutine_handle<> consumer_;
        bool done_ = false;
    };

    generator(generator&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    generator& operator=(generator&& o) noexcept {
        if (this != &o) {
            if (h_) {
                h_.destroy();
            }
            h_ = std::exchange(o.h_, nullptr);
        }
        return *this;
    }
    ~generator() {
        if (h_) {
            h_.destroy();
        }
    }

    /// The next value: co_await yields std::optional<T>, empty once the generator has
    /// returned. An exception escaping the generator is rethrown here, once.
    class next_awaiter {
    public:
        explicit next_awaiter(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
        bool await_ready() const noexcept { return !h_ || h_.promise().done_; }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<> consumer) noexcept {
            h_.promise().consumer_ = consumer;
            h_.promise().value_.reset();
            return h_;  // run the generator until its next co_yield or its end
        }
        std::optional<T> await_resume() {
            if (!h_) {
                return std::nullopt;
            }
            auto& p = h_.promise();
            if (p.error_) {
                std::rethrow_exception(std::exchange(p.error_, nullptr));
            }
            if (p.done_) {
                return std::nullopt;
            }
            return std::move(p.value_);
        }

    private:
        std::coroutine_handle<promise_type> h_;
    };

    next_awaiter operator()() noexcept { return next_awaiter(h_); }

private:
    explicit generator(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
    std::coroutine_handle<promise_type> h_;
};

}  // namespace reef::coroutine
