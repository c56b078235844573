// Loggers and their registry. A line is formatted into a buffer on the caller's stack
// (prefix, then message) and written to stderr with one write(2), so that lines of
// different shards never interleave and no lock is taken while logging.
#include <reef/reactor/log.hh>

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <iterator>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include <reef/reactor/smp.hh>

#include "reactor_impl.hh"

namespace reef {

namespace {

constexpr std::string_view level_names[] = {"trace", "debug", "info", "warn", "error"};
constexpr std::string_view level_tags[] = {"TRACE", "DEBUG", "INFO ", "WARN ", "ERROR"};

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

// Writes all of [p, p+n) to stderr. One write(2) unless the kernel takes less (a pipe
// takes lines up to PIPE_BUF whole) or a signal interrupts it.
void write_stderr(const char* p, std::size_t n) noexcept {
    while (n > 0) {
        ssize_t w = ::write(STDERR_FILENO, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;  // nowhere left to report it
        }
        p += w;
        n -= std::size_t(w);
    }
}

// "YYYY-MM-DD HH:MM:SS" of a UTC time, computed by hand: gmtime_r and localtime_r take
// glibc's time zone lock, which the logging path must not.
void format_utc_seconds(std::int64_t secs, char out[20]) noexcept {
    std::int64_t days = secs / 86400;
    std::int64_t rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        --days;
    }
    // Civil date from a day count since 1970-01-01, in 400-year eras that start on
    // March 1st (so that the leap day ends a year).
    std::int64_t z = days + 719468;
    std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    std::int64_t doe = z - era * 146097;                                    // day of era
    std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // year of era
    std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);             // day of year
    std::int64_t mp = (5 * doy + 2) / 153;                                  // month from March
    std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
    std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
    std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    auto put = [](char* p, std::int64_t v, int width) {
        for (int i = width - 1; i >= 0; --i) {
            p[i] = char('0' + v % 10);
            v /= 10;
        }
    };
    put(out, year, 4);
    out[4] = '-';
    put(out + 5, month, 2);
    out[7] = '-';
    put(out + 8, day, 2);
    out[10] = ' ';
    put(out + 11, rem / 3600, 2);
    out[13] = ':';
    put(out + 14, rem / 60 % 60, 2);
    out[16] = ':';
    put(out + 17, rem % 60, 2);
    out[19] = 0;
}

// The date and time of the current second, recomputed once per second per thread.
struct timestamp_cache {
    std::int64_t second = -1;
    char text[20] = {};
};
thread_local timestamp_cache tl_timestamp;

void append_timestamp(fmt::memory_buffer& buf) {
    timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    auto& c = tl_timestamp;
    if (c.second != ts.tv_sec) {
        format_utc_seconds(ts.tv_sec, c.text);
        c.second = ts.tv_sec;
    }
    buf.append(c.text, c.text + 19);
    char frac[8];
    frac[0] = '.';
    long us = ts.tv_nsec / 1000;
    for (int i = 6; i >= 1; --i) {
        frac[i] = char('0' + us % 10);
        us /= 10;
    }
    frac[7] = 'Z';
    buf.append(frac, frac + 8);
}

}  // namespace

std::string_view to_string(log_level l) noexcept {
    auto i = static_cast<unsigned>(l);
    return i < std::size(level_names) ? level_names[i] : std::string_view("unknown");
}

log_level parse_log_level(std::string_view name) {
    for (std::size_t i = 0; i < std::size(level_names); ++i) {
        if (name == level_names[i]) {
            return static_cast<log_level>(i);
        }
    }
    throw std::invalid_argument(
        fmt::format("unknown log level '{}' (expected one of: trace, debug, info, warn, error)", name));
}

// ---- logger -------------------------------------------------------------------------

logger::logger(std::string name) : name_(std::move(name)), level_(log_level::info) {
    if (name_.empty()) {
        throw std::invalid_argument("a logger needs a name");
    }
    auto& reg = global_logger_registry();
    level_.store(reg.default_level(), std::memory_order_relaxed);
    reg.register_logger(this);
}

logger::~logger() {
    global_logger_registry().unregister_logger(this);
}

void logger::write_line(log_level l, fmt::string_view fmt, fmt::format_args args) noexcept {
    try {
        // 500 bytes inline: a usual line never touches the heap.
        fmt::memory_buffer buf;
        append_timestamp(buf);
        auto out = std::back_inserter(buf);
        auto tag = level_tags[std::min(static_cast<unsigned>(l), 4u)];
        if (detail::tl_reactor) {
            fmt::format_to(out, " {} [shard {}] {} - ", tag, this_shard_id(), name_);
        } else {
            fmt::format_to(out, " {} [shard -] {} - ", tag, name_);
        }
        std::size_t prefix = buf.size();
        try {
            fmt::vformat_to(out, fmt, args);
        } catch (const std::exception& e) {
            buf.resize(prefix);
            fmt::format_to(out, "<formatting the log message failed: {}>", e.what());
        }
        buf.push_back('\n');
        write_stderr(buf.data(), buf.size());
    } catch (...) {
        // Out of memory while growing the buffer: say at least that a line was lost.
        static constexpr char lost[] = "reef: a log line was lost (out of memory while formatting)\n";
        write_stderr(lost, sizeof(lost) - 1);
    }
}

// ---- logger_registry --------------------------------------------------------------

struct logger_registry::state {
    mutable std::mutex mutex;
    std::vector<logger*> loggers;  // guarded by mutex
    std::atomic<log_level> default_level{log_level::info};
};

logger_registry& global_logger_registry() noexcept {
    // Never destroyed: loggers with static storage may unregister after every other
    // static object is gone.
    static logger_registry* reg = new logger_registry(new logger_registry::state);
    return *reg;
}

void logger_registry::register_logger(logger* l) {
    std::lock_guard lock(state_->mutex);
    state_->loggers.push_back(l);
}

void logger_registry::unregister_logger(logger* l) noexcept {
    std::lock_guard lock(state_->mutex);
    auto& v = state_->loggers;
    v.erase(std::remove(v.begin(), v.end(), l), v.end());
}

void logger_registry::set_level(std::string_view name, log_level l) {
    std::lock_guard lock(state_->mutex);
    bool found = false;
    for (auto* lg : state_->loggers) {
        if (lg->name() == name) {
            lg->set_level(l);
            found = true;
        }
    }
    if (!found) {
        throw std::invalid_argument(fmt::format("unknown logger '{}'", name));
    }
}

log_level logger_registry::get_level(std::string_view name) const {
    std::lock_guard lock(state_->mutex);
    for (auto* lg : state_->loggers) {
        if (lg->name() == name) {
            return lg->level();
        }
    }
    throw std::invalid_argument(fmt::format("unknown logger '{}'", name));
}

void logger_registry::set_all_levels(log_level l) {
    std::lock_guard lock(state_->mutex);
    state_->default_level.store(l, std::memory_order_relaxed);
    for (auto* lg : state_->loggers) {
        lg->set_level(l);
    }
}

log_level logger_registry::default_level() const noexcept {
    return state_->default_level.load(std::memory_order_relaxed);
}

logger* logger_registry::find(std::string_view name) const noexcept {
    std::lock_guard lock(state_->mutex);
    for (auto* lg : state_->loggers) {
        if (lg->name() == name) {
            return lg;
        }
    }
    return nullptr;
}

std::vector<std::string> logger_registry::names() const {
    std::vector<std::string> out;
    {
        std::lock_guard lock(state_->mutex);
        out.reserve(state_->loggers.size());
        for (auto* lg : state_->loggers) {
            out.push_back(lg->name());
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

// ---- options ----------------------------------------------------------------------

void apply_log_options(std::string_view default_level, std::string_view logger_levels) {
    auto& reg = global_logger_registry();
    std::optional<log_level> all;
    if (!trim(default_level).empty()) {
        all = parse_log_level(trim(default_level));
    }
    // Parse and check every entry before changing anything.
    std::vector<std::pair<std::string_view, log_level>> each;
    std::string_view rest = logger_levels;
    while (!rest.empty()) {
        auto sep = rest.find_first_of(":,");
        std::string_view entry = trim(rest.substr(0, sep));
        rest = sep == std::string_view::npos ? std::string_view() : rest.substr(sep + 1);
        if (entry.empty()) {
            continue;
        }
        auto eq = entry.find('=');
        if (eq == std::string_view::npos) {
            throw std::invalid_argument(
                fmt::format("malformed logger level '{}': expected name=level (e.g. http=debug)", entry));
        }
        auto name = trim(entry.substr(0, eq));
        auto level_name = trim(entry.substr(eq + 1));
        if (name.empty()) {
            throw std::invalid_argument(fmt::format("malformed logger level '{}': the logger name is empty", entry));
        }
        log_level l;
        try {
            l = parse_log_level(level_name);
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument(fmt::format("logger '{}': {}", name, e.what()));
        }
        if (!reg.find(name)) {
            auto known = reg.names();
            throw std::invalid_argument(
                fmt::format("unknown logger '{}' (known loggers: {})", name, fmt::join(known, ", ")));
        }
        each.emplace_back(name, l);
    }
    if (all) {
        reg.set_all_levels(*all);
    }
    for (auto& [name, l] : each) {
        reg.set_level(name, l);
    }
}

}  // namespace reef
