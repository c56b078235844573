// What app_template needs from the signal machinery beyond handle_signal(): blocking
// SIGINT and SIGTERM before the shard threads start, and ending the process at once on
// a second stop signal. Private to the reactor module.
#pragma once

#include <csignal>
#include <functional>
#include <string_view>

namespace reef::detail {

/// While it lives, SIGINT and SIGTERM are "stop signals": blocked in the constructing
/// thread (and so in every thread it starts afterwards: the shards inherit the mask),
/// handled by our signal handler, and the second one that reaches the handler prints
/// one line to stderr and ends the process at once with exit code 128 + its number,
/// even if shard 0 is busy. Registering SIGINT or SIGTERM with handle_signal() takes
/// that signal out of this rule; handle_stop_signal() keeps it. The destructor discards
/// stop signals still pending and restores the previous handlers and mask. Construct on
/// the thread that becomes shard 0, before the shards start; one at a time. Throws
/// std::system_error when sigaction fails.
class stop_signal_guard {
public:
    /// `app_name` starts the line printed when a second signal ends the process.
    explicit stop_signal_guard(std::string_view app_name);
    ~stop_signal_guard();
    stop_signal_guard(const stop_signal_guard&) = delete;
    stop_signal_guard& operator=(const stop_signal_guard&) = delete;

private:
    sigset_t old_mask_;
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};

/// handle_signal() for SIGINT or SIGTERM that keeps the second-signal rule of
/// stop_signal_guard. Same contract as handle_signal().
void handle_stop_signal(int signo, std::function<void()> handler);

/// Ends the process now, as the second stop signal does, for signal `signo`.
[[noreturn]] void exit_for_signal(int signo) noexcept;

}  // namespace reef::detail
