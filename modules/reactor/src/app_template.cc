// app_template: command line, shards, the application's function, stop requests and
// exit codes.
#include <reef/reactor/app_template.hh>

#include <csignal>
#include <cstdio>
#include <exception>
#include <stdexcept>

#include <fmt/format.h>

#include <reef/core/coroutine.hh>
#include <reef/core/shared_future.hh>
#include <reef/reactor/log.hh>
#include <reef/reactor/signals.hh>
#include <reef/reactor/smp.hh>

#include "signals_impl.hh"
#include "smp_impl.hh"

namespace reef {

namespace {

// The state of the application run() is running. Set before the shards start and
// cleared after they stopped, so every shard may read the pointer; the members are
// shard 0's.
struct app_state {
    shared_promise<int> stop;
    int stop_code = 0;
};

app_state* g_app = nullptr;

void request_stop_here(int exit_code) {
    if (!g_app || g_app->stop.available()) {
        return;
    }
    g_app->stop_code = exit_code;
    g_app->stop.set_value(exit_code);
}

// The default reaction to SIGINT and SIGTERM (shard 0). A second one ends the process
// from the signal handler itself (stop_signal_guard), even if shard 0 is busy.
void on_stop_signal() {
    request_stop_here(0);
}

// what() of an exception, on one line.
std::string describe(std::exception_ptr e) {
    std::string text;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        text = ex.what();
    } catch (...) {
        text = "unknown exception";
    }
    for (char& c : text) {
        if (c == '\n' || c == '\r') {
            c = ' ';
        }
    }
    return text;
}

}  // namespace

void request_app_stop(int exit_code) {
    if (!g_app) {
        return;
    }
    if (this_shard_id() == 0) {
        request_stop_here(exit_code);
    } else {
        // The reply carries nothing anyone waits for.
        (void)smp::submit_to(0, [exit_code] { request_stop_here(exit_code); });
    }
}

void app_template::request_stop_impl(int exit_code) {
    request_app_stop(exit_code);
}

future<int> app_template::stop_requested() {
    if (!g_app) {
        return make_exception_future<int>(std::make_exception_ptr(
            std::logic_error("app_template::stop_requested(): no application is running")));
    }
    if (this_shard_id() != 0) {
        return smp::submit_to(0, [] { return stop_requested(); });
    }
    return g_app->stop.get_shared_future();
}

app_template::app_template(config cfg) : cfg_(std::move(cfg)) {}

int app_template::run(int argc, const char* const* argv, std::function<future<int>()> func) {
    return run_impl(argc, argv, std::move(func), false);
}

int app_template::run(int argc, const char* const* argv, std::function<future<>()> func) {
    return run_impl(
        argc, argv, [f = std::move(func)]() { return futurize_invoke(f).then([] { return 0; }); }, true);
}

int app_template::run_impl(int argc, const char* const* argv, std::function<future<int>()> func,
                           bool code_from_stop) {
    const std::string& name = cfg_.name;
    auto fail = [&](int code, std::string_view message) {
        std::fflush(stdout);
        fmt::print(stderr, "{}: error: {}\n", name, message);
        std::fflush(stderr);
        return code;
    };
    if (g_app) {
        return fail(1, "app_template::run() is already running");
    }

    options_description general("General options");
    general.add_options()("help", "print this help and exit")("version", "print the version and exit");
    options_description reactor = reactor_options();
    options_description logging = logging_options();
    std::vector<const options_description*> groups{&general, &app_options_, &reactor, &logging};
    try {
        configuration_ = parse_command_line(argc, argv, groups);
    } catch (const option_error& e) {
        return fail(2, fmt::format("{} (see --help)", e.what()));
    } catch (const std::logic_error& e) {
        return fail(1, e.what());  // an option declared twice: a bug in the program
    }
    if (configuration_["help"].as<bool>()) {
        fmt::print("Usage: {} [options]\n", name);
        if (!cfg_.description.empty()) {
            fmt::print("{}\n", cfg_.description);
        }
        fmt::print("\n{}", format_help(groups));
        std::fflush(stdout);
        return 0;
    }
    if (configuration_["version"].as<bool>()) {
        fmt::print("{} {}\n", name, cfg_.version);
        std::fflush(stdout);
        return 0;
    }
    try {
        smp_ = to_smp_config(configuration_);
        log_ = to_log_settings(configuration_);
    } catch (const option_error& e) {
        return fail(2, fmt::format("{} (see --help)", e.what()));
    } catch (const std::exception& e) {
        return fail(1, e.what());
    }
    if (log_.default_level_given || !log_.logger_levels.empty()) {
        std::string levels;
        for (auto& [logger, level] : log_.logger_levels) {
            levels += fmt::format("{}{}={}", levels.empty() ? "" : ":", logger, level);
        }
        try {
            apply_log_options(log_.default_level_given ? log_.default_level : std::string(), levels);
        } catch (const std::invalid_argument& e) {
            return fail(2, fmt::format("option '--logger-log-level': {} (see --help)", e.what()));
        }
    }

    app_state state;
    std::exception_ptr failure;
    int exit_code = 0;
    int result = 0;
    {
        // Blocked before the shard threads start, so they all inherit the mask.
        detail::stop_signal_guard signals(name);
        g_app = &state;
        try {
            result = detail::run_shards(smp_, [&]() -> future<int> {
                std::exception_ptr setup_error;
                try {
                    detail::handle_stop_signal(SIGINT, on_stop_signal);
                    detail::handle_stop_signal(SIGTERM, on_stop_signal);
                } catch (...) {
                    setup_error = std::current_exception();
                }
                if (!setup_error) {
                    auto done = co_await coroutine::as_future(futurize_invoke(func));
                    if (done.failed()) {
                        failure = done.get_exception();
                    } else {
                        exit_code = done.get();
                    }
                    if (code_from_stop && !failure) {
                        exit_code = state.stop.available() ? state.stop_code : 0;
                    }
                }
                co_await stop_signal_handling();
                // Waiters still there learn how the application ended.
                request_stop_here(exit_code);
                if (setup_error) {
                    co_await coroutine::exception(std::move(setup_error));
                }
                co_return 0;
            });
        } catch (const std::invalid_argument& e) {
            // What run_shards() refuses before starting: the configuration.
            g_app = nullptr;
            return fail(2, fmt::format("{} (see --help)", e.what()));
        } catch (...) {
            g_app = nullptr;
            return fail(1, describe(std::current_exception()));
        }
        g_app = nullptr;
    }
    (void)result;
    if (failure) {
        return fail(1, describe(failure));
    }
    return exit_code;
}

}  // namespace reef
