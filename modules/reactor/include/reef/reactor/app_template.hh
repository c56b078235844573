// app_template: the main() of a Reef application. Parses the command line (reactor,
// logging and the application's own options), starts the shards, runs the application's
// function on shard 0, stops on SIGINT/SIGTERM, and turns the outcome into an exit code.
//   int main(int argc, char** argv) {
//       reef::app_template app({.name = "hello", .description = "says hello", .version = "1.0"});
//       app.add_options()("greeting", reef::value<std::string>("hello"), "what to say");
//       return app.run(argc, argv, [&]() -> reef::future<int> {
//           fmt::print("{}\n", app.configuration()["greeting"].as<std::string>());
//           co_return co_await app.stop_requested();   // until SIGINT/SIGTERM
//       });
//   }
#pragma once

#include <functional>
#include <string>

#include <reef/core/future.hh>
#include <reef/reactor/config.hh>
#include <reef/reactor/options.hh>

namespace reef {

/// The bootstrap of an application. One run() at a time per process.
class app_template {
public:
    /// What --help and --version show.
    struct config {
        /// The program's name: first word of --help, --version and error lines.
        std::string name = "reef-app";
        /// A line or two under the usage line of --help.
        std::string description;
        /// What --version prints after the name.
        std::string version = "0.0.0";
    };

    /// An application called cfg.name. Does not start anything.
    explicit app_template(config cfg);
    /// An application with the default config.
    app_template() : app_template(config{}) {}
    app_template(const app_template&) = delete;
    app_template& operator=(const app_template&) = delete;

    /// Declares the application's own options (shown under "Application options" in
    /// --help, read through configuration()). Call before run(). See
    /// options_description::add_options().
    options_description::adder add_options() noexcept { return app_options_.add_options(); }

    /// The parsed command line: the application's options and the reactor's and
    /// logging's ones. Valid from the moment run() calls the function until run()
    /// returns (and after, until the next run()).
    const option_map& configuration() const noexcept { return configuration_; }
    /// The shard settings run() started with (--smp, --cpuset, --memory, reactor options).
    const smp_config& smp_configuration() const noexcept { return smp_; }
    /// The log levels of --default-log-level and --logger-log-level.
    const log_settings& log_configuration() const noexcept { return log_; }

    /// Parses argv, starts the shards and runs `func` on shard 0; when its future
    /// resolves, stops every shard and returns the exit code:
    ///   - func's value;
    ///   - 1 when func fails (or the shards cannot start): the error is printed on one
    ///     line to stderr;
    ///   - 2 for a bad command line, with one line on stderr;
    ///   - 0 after --help or --version (printed to stdout), without starting shards.
    /// The first SIGINT or SIGTERM requests a stop (stop_requested() resolves with 0);
    /// if the function has not finished when a second one arrives, the process exits at
    /// once with 128 + the signal's number. Blocks the calling thread, which becomes
    /// shard 0. Must not be called from inside running shards.
    int run(int argc, const char* const* argv, std::function<future<int>()> func);

    /// Like the other run(), for a function without a value: the exit code is 0, or the
    /// code given to request_app_stop() when a stop was requested.
    int run(int argc, const char* const* argv, std::function<future<>()> func);

    /// Resolves with the exit code once a stop is requested: request_app_stop(), or
    /// SIGINT/SIGTERM (code 0). Resolves with the function's exit code when nothing asked
    /// before the function returned. Any shard; many waiters may wait. Fails with
    /// std::logic_error when no application is running.
    static future<int> stop_requested();

    /// Same as reef::request_app_stop().
    static void request_stop(int exit_code = 0) { request_stop_impl(exit_code); }

private:
    static void request_stop_impl(int exit_code);
    int run_impl(int argc, const char* const* argv, std::function<future<int>()> func, bool code_from_stop);

    config cfg_;
    options_description app_options_{"Application options"};
    option_map configuration_;
    smp_config smp_;
    log_settings log_;
};

/// Asks the running application to stop: resolves app_template::stop_requested() with
/// `exit_code`. The first request wins; later ones do nothing. Any shard of a running
/// application; does nothing when none runs. Never blocks, never fails.
void request_app_stop(int exit_code = 0);

}  // namespace reef
