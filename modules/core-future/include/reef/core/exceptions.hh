// Exception types of core-future and the report of failed futures nobody looked at.
//   auto prev = reef::set_abandoned_failure_handler([](const std::exception_ptr& e) noexcept { ... });
#pragma once

#include <cstdint>
#include <exception>
#include <stdexcept>

namespace reef {

/// The promise of a future was destroyed without a value or an exception.
struct broken_promise : std::logic_error {
    broken_promise() : std::logic_error("broken promise") {}
};

/// sync_wait() found the future unresolved with nothing left to run.
struct sync_wait_deadlock : std::logic_error {
    sync_wait_deadlock()
        : std::logic_error("sync_wait: the future is not ready and no task is runnable") {}
};

/// future::get() was called on a future that is not ready.
struct future_not_ready : std::logic_error {
    future_not_ready() : std::logic_error("future::get() on a future that is not ready") {}
};

/// Called with the exception of a failed future that was destroyed unobserved.
using abandoned_failure_handler = void (*)(const std::exception_ptr&) noexcept;

/// Installs the handler for abandoned failures on this thread; returns the previous one.
/// The default handler writes one line to stderr. nullptr restores the default.
abandoned_failure_handler set_abandoned_failure_handler(abandoned_failure_handler h) noexcept;

/// How many failed futures were destroyed unobserved on this thread.
std::uint64_t abandoned_failures() noexcept;

namespace detail {
/// Reports an exception that nobody will see (counted, then passed to the handler).
void report_abandoned_failure(const std::exception_ptr& e) noexcept;
std::exception_ptr make_broken_promise() noexcept;
}  // namespace detail

}  // namespace reef
