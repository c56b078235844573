// Loggers: named, leveled, fmt-formatted lines on stderr, one write(2) per line.
//   static reef::logger log("http");
//   log.info("listening on port {}", port);      // formats only when info is enabled
//   reef::global_logger_registry().set_level("http", reef::log_level::debug);
#pragma once

#include <atomic>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/core.h>

namespace reef {

/// Severity of a log line; a logger prints lines at or above its level.
enum class log_level : int { trace = 0, debug = 1, info = 2, warn = 3, error = 4 };

/// The name of `l` as written in option strings: "trace", "debug", "info", "warn",
/// "error". Never allocates.
std::string_view to_string(log_level l) noexcept;

/// Parses a level name (one of those to_string() returns, case-sensitive). Throws
/// std::invalid_argument naming the bad input and the valid names.
log_level parse_log_level(std::string_view name);

/// A named source of log lines. Usually a namespace-scope static; registers itself in
/// global_logger_registry() on construction and unregisters on destruction. Any thread
/// may log; lines from shard threads carry their shard id, other threads "-".
class logger {
public:
    /// Creates a logger at the registry's default level (info unless changed by
    /// set_all_levels()). Several loggers may share a name; level changes by name reach
    /// all of them. Allocates; throws std::invalid_argument for an empty name.
    explicit logger(std::string name);
    ~logger();
    logger(const logger&) = delete;
    logger& operator=(const logger&) = delete;

    /// The name given at construction.
    const std::string& name() const noexcept { return name_; }
    /// The lowest level this logger prints. Any thread.
    log_level level() const noexcept { return level_.load(std::memory_order_relaxed); }
    /// Changes the level. Any thread; other threads see it at their next log call.
    void set_level(log_level l) noexcept { level_.store(l, std::memory_order_relaxed); }
    /// True when lines at `l` are printed: one load and one compare.
    bool is_enabled(log_level l) const noexcept { return l >= level(); }

    /// Writes one line at level `l` if it is enabled; the arguments are formatted only
    /// then. The format string is checked at compile time. Never throws: a formatter
    /// that throws leaves a line saying so.
    template <typename... Args>
    void log(log_level l, fmt::format_string<Args...> fmt, Args&&... args) noexcept {
        if (is_enabled(l)) {
            write_line(l, fmt::string_view(fmt), fmt::make_format_args(args...));
        }
    }
    /// log(log_level::trace, ...)
    template <typename... Args>
    void trace(fmt::format_string<Args...> fmt, Args&&... args) noexcept {
        log(log_level::trace, fmt, std::forward<Args>(args)...);
    }
    /// log(log_level::debug, ...)
    template <typename... Args>
    void debug(fmt::format_string<Args...> fmt, Args&&... args) noexcept {
        log(log_level::debug, fmt, std::forward<Args>(args)...);
    }
    /// log(log_level::info, ...)
    template <typename... Args>
    void info(fmt::format_string<Args...> fmt, Args&&... args) noexcept {
        log(log_level::info, fmt, std::forward<Args>(args)...);
    }
    /// log(log_level::warn, ...)
    template <typename... Args>
    void warn(fmt::format_string<Args...> fmt, Args&&... args) noexcept {
        log(log_level::warn, fmt, std::forward<Args>(args)...);
    }
    /// log(log_level::error, ...)
    template <typename... Args>
    void error(fmt::format_string<Args...> fmt, Args&&... args) noexcept {
        log(log_level::error, fmt, std::forward<Args>(args)...);
    }

private:
    // The compiled, type-erased core: formats prefix and message into a stack buffer
    // and writes them with one write(2) to stderr.
    void write_line(log_level l, fmt::string_view fmt, fmt::format_args args) noexcept;

    std::string name_;
    std::atomic<log_level> level_;
};

/// Every live logger of the process, by name. Registration and level changes take a
/// mutex; logging never does.
class logger_registry {
public:
    /// Sets the level of every logger named `name`. Throws std::invalid_argument when
    /// no logger has that name.
    void set_level(std::string_view name, log_level l);
    /// The level of the (first) logger named `name`; throws std::invalid_argument when
    /// there is none.
    log_level get_level(std::string_view name) const;
    /// Sets the level of every logger, and the level loggers created later start at.
    void set_all_levels(log_level l);
    /// The level loggers created from now on start at (info by default).
    log_level default_level() const noexcept;
    /// The (first) logger named `name`, or nullptr. The pointer is valid while that
    /// logger lives (usually the whole program).
    logger* find(std::string_view name) const noexcept;
    /// The names of all loggers, sorted, without duplicates.
    std::vector<std::string> names() const;

    /// Called by logger's constructor and destructor.
    void register_logger(logger* l);
    void unregister_logger(logger* l) noexcept;

    logger_registry(const logger_registry&) = delete;
    logger_registry& operator=(const logger_registry&) = delete;

private:
    friend logger_registry& global_logger_registry() noexcept;
    struct state;
    explicit logger_registry(state* s) noexcept : state_(s) {}
    state* state_;
};

/// The registry of this process. Safe to use during static initialization.
logger_registry& global_logger_registry() noexcept;

/// Applies the logging options of an application, as app_template gets them from
/// --default-log-level and --logger-log-level:
///   apply_log_options("info", "http=debug:rpc=trace");
/// `default_level` (empty: unchanged) becomes the level of every logger and of loggers
/// created later; then each `name=level` of `logger_levels` (separated by ':' or ',';
/// blanks around names and levels ignored; empty: none) sets one logger. Everything
/// is checked before anything changes: throws std::invalid_argument naming a bad level,
/// an unknown logger or a malformed entry, and then no level has changed.
void apply_log_options(std::string_view default_level, std::string_view logger_levels);

}  // namespace reef
