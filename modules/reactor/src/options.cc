// The command-line parser, the --help printer, and the reactor's and logging's options.
#include <reef/reactor/options.hh>

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>
#include <limits>
#include <system_error>

#include <fmt/format.h>

#include "backend.hh"

namespace reef {

// ---- value syntaxes ---------------------------------------------------------------

std::optional<std::size_t> parse_memory_size(std::string_view text) noexcept {
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
        ++digits;
    }
    if (digits == 0) {
        return std::nullopt;
    }
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + digits, n);
    if (ec != std::errc() || end != text.data() + digits) {
        return std::nullopt;
    }
    std::string_view suffix = text.substr(digits);
    unsigned shift = 0;
    if (!suffix.empty()) {
        switch (suffix.front()) {
            case 'k':
            case 'K':
                shift = 10;
                break;
            case 'm':
            case 'M':
                shift = 20;
                break;
            case 'g':
            case 'G':
                shift = 30;
                break;
            case 't':
            case 'T':
                shift = 40;
                break;
            case 'b':
            case 'B':
                break;
            default:
                return std::nullopt;
        }
        if (shift != 0) {
            suffix.remove_prefix(1);
        }
        // What may follow: nothing, "B" or "iB" (after a multiplier only).
        if (!(suffix.empty() || suffix == "B" || suffix == "b" ||
              (shift != 0 && (suffix == "iB" || suffix == "ib")))) {
            return std::nullopt;
        }
    }
    if (shift != 0 && n > (std::numeric_limits<std::size_t>::max() >> shift)) {
        return std::nullopt;
    }
    return std::size_t(n) << shift;
}

std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text) {
    auto number = [](std::string_view s) -> std::optional<unsigned> {
        unsigned v = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v >= CPU_SETSIZE) {
            return std::nullopt;
        }
        return v;
    };
    if (text.empty()) {
        return std::nullopt;
    }
    std::vector<unsigned> cpus;
    while (true) {
        auto comma = text.find(',');
        std::string_view item = text.substr(0, comma);
        auto dash = item.find('-');
        if (dash == std::string_view::npos) {
            auto v = number(item);
            if (!v) {
                return std::nullopt;
            }
            cpus.push_back(*v);
        } else {
            auto lo = number(item.substr(0, dash));
            auto hi = number(item.substr(dash + 1));
            if (!lo || !hi || *lo > *hi) {
                return std::nullopt;
            }
            for (unsigned c = *lo; c <= *hi; ++c) {
                cpus.push_back(c);
            }
        }
        if (comma == std::string_view::npos) {
            break;
        }
        text.remove_prefix(comma + 1);
    }
    std::sort(cpus.begin(), cpus.end());
    cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
    return cpus;
}

namespace {

// "0-3,5" from sorted distinct CPU numbers.
std::string format_cpus(const std::vector<unsigned>& cpus) {
    std::string out;
    for (std::size_t i = 0; i < cpus.size();) {
        std::size_t j = i;
        while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) {
            ++j;
        }
        out += out.empty() ? "" : ",";
        out += j == i ? fmt::format("{}", cpus[i]) : fmt::format("{}-{}", cpus[i], cpus[j]);
        i = j + 1;
    }
    return out;
}

std::string format_size(std::size_t bytes) {
    static constexpr std::pair<unsigned, char> units[] = {{40, 'T'}, {30, 'G'}, {20, 'M'}, {10, 'K'}};
    for (auto [shift, letter] : units) {
        std::size_t unit = std::size_t(1) << shift;
        if (bytes >= unit && bytes % unit == 0) {
            return fmt::format("{}{}", bytes >> shift, letter);
        }
    }
    return fmt::format("{}", bytes);
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
    std::string out;
    for (auto& s : v) {
        out += out.empty() ? "" : sep;
        out += s;
    }
    return out;
}

const char* type_name(std::size_t index) noexcept {
    static constexpr const char* names[] = {
        "nothing", "bool",        "int",         "unsigned", "std::uint64_t",
        "double",  "std::string", "memory_size", "cpu_list", "std::vector<std::string>"};
    static_assert(std::size(names) == std::variant_size_v<option_value::storage>);
    return index < std::size(names) ? names[index] : "?";
}

const char* default_placeholder(value_spec::kind k) noexcept {
    switch (k) {
        case value_spec::kind::flag:
            return "";
        case value_spec::kind::boolean:
            return "BOOL";
        case value_spec::kind::integer:
        case value_spec::kind::unsigned32:
        case value_spec::kind::unsigned64:
            return "N";
        case value_spec::kind::real:
            return "X";
        case value_spec::kind::text:
        case value_spec::kind::texts:
            return "TEXT";
        case value_spec::kind::size:
            return "SIZE";
        case value_spec::kind::cpus:
            return "CPUS";
    }
    return "VALUE";
}

bool valid_name(std::string_view n) noexcept {
    if (n.empty() || n.front() == '-') {
        return false;
    }
    return std::all_of(n.begin(), n.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
}

}  // namespace

namespace detail {

std::string default_text(const option_value::storage& v) {
    return std::visit(
        [](const auto& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::monostate>) {
                return "";
            } else if constexpr (std::is_same_v<T, bool>) {
                return x ? "true" : "false";
            } else if constexpr (std::is_same_v<T, std::string>) {
                return x.empty() ? "\"\"" : x;
            } else if constexpr (std::is_same_v<T, memory_size>) {
                return format_size(x.bytes);
            } else if constexpr (std::is_same_v<T, cpu_list>) {
                return format_cpus(x.cpus);
            } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                return join(x, ", ");
            } else {
                return fmt::format("{}", x);
            }
        },
        v);
}

}  // namespace detail

// ---- option_value, options_description, option_map ---------------------------------

void option_value::throw_bad_type(std::size_t wanted) const {
    if (empty()) {
        throw std::logic_error(
            fmt::format("option '--{}' has no value (it was not given and has no default)", name_));
    }
    throw std::logic_error(
        fmt::format("option '--{}' holds a {}, not a {}", name_, type_name(v_.index()), type_name(wanted)));
}

options_description::adder& options_description::adder::operator()(std::string name,
                                                                   std::string description) {
    value_spec flag(value_spec::kind::flag);
    flag.default_value(false, "");
    d_->add(option_definition{std::move(name), std::move(description), std::move(flag)});
    return *this;
}

options_description::adder& options_description::adder::operator()(std::string name, value_spec spec,
                                                                   std::string description) {
    d_->add(option_definition{std::move(name), std::move(description), std::move(spec)});
    return *this;
}

void options_description::add(option_definition d) {
    if (!valid_name(d.name)) {
        throw std::logic_error(
            fmt::format("'{}' is not a valid option name (use [a-z0-9-], no leading dash)", d.name));
    }
    if (find(d.name)) {
        throw std::logic_error(fmt::format("option '--{}' is declared twice in '{}'", d.name, caption_));
    }
    options_.push_back(std::move(d));
}

const option_definition* options_description::find(std::string_view name) const noexcept {
    for (auto& o : options_) {
        if (o.name == name) {
            return &o;
        }
    }
    return nullptr;
}

const option_value& option_map::operator[](std::string_view name) const {
    auto it = values_.find(name);
    if (it == values_.end()) {
        throw std::out_of_range(fmt::format("no option '--{}' was declared", name));
    }
    return it->second;
}

bool option_map::contains(std::string_view name) const noexcept {
    auto it = values_.find(name);
    return it != values_.end() && !it->second.empty();
}

bool option_map::given(std::string_view name) const noexcept {
    auto it = values_.find(name);
    return it != values_.end() && !it->second.empty() && !it->second.defaulted();
}

void option_map::set(std::string name, option_value::storage v, bool defaulted) {
    auto key = name;
    values_.insert_or_assign(std::move(key), option_value(std::move(name), std::move(v), defaulted));
}

// ---- parsing ----------------------------------------------------------------------

namespace {

[[noreturn]] void bad(std::string_view name, std::string_view what) {
    throw option_error(fmt::format("option '--{}': {}", name, what));
}

template <typename T>
std::optional<T> parse_integer(std::string_view text, bool& overflow) {
    T v{};
    overflow = false;
    if (text.empty() || text.front() == '+') {
        return std::nullopt;
    }
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (end != text.data() + text.size()) {
        return std::nullopt;
    }
    if (ec == std::errc::result_out_of_range) {
        overflow = true;
        return std::nullopt;
    }
    if (ec != std::errc()) {
        return std::nullopt;
    }
    return v;
}

template <typename T>
option_value::storage read_integer(const option_definition& d, std::string_view text, const char* expected) {
    bool overflow = false;
    auto v = parse_integer<T>(text, overflow);
    if (!v) {
        if (overflow) {
            bad(d.name, fmt::format("'{}' is out of range ({} to {})", text, std::numeric_limits<T>::min(),
                                    std::numeric_limits<T>::max()));
        }
        bad(d.name, fmt::format("expected {}, got '{}'", expected, text));
    }
    return *v;
}

// The value's magnitude for the bounds checks; nullopt for kinds without bounds.
std::optional<long double> magnitude(const option_value::storage& v) {
    return std::visit(
        [](const auto& x) -> std::optional<long double> {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, int> || std::is_same_v<T, unsigned> ||
                          std::is_same_v<T, std::uint64_t> || std::is_same_v<T, double>) {
                return static_cast<long double>(x);
            } else if constexpr (std::is_same_v<T, memory_size>) {
                return static_cast<long double>(x.bytes);
            } else {
                return std::nullopt;
            }
        },
        v);
}

// Parses one occurrence's text; for a repeatable option, the element.
option_value::storage read_value(const option_definition& d, std::string_view text) {
    const value_spec& s = d.spec;
    option_value::storage v;
    switch (s.type()) {
        case value_spec::kind::flag:
            bad(d.name, "takes no value");
        case value_spec::kind::boolean:
            if (text == "true" || text == "yes" || text == "on" || text == "1") {
                v = true;
            } else if (text == "false" || text == "no" || text == "off" || text == "0") {
                v = false;
            } else {
                bad(d.name, fmt::format("expected true or false, got '{}'", text));
            }
            break;
        case value_spec::kind::integer:
            v = read_integer<int>(d, text, "an integer");
            break;
        case value_spec::kind::unsigned32:
            v = read_integer<unsigned>(d, text, "a non-negative integer");
            break;
        case value_spec::kind::unsigned64:
            v = read_integer<std::uint64_t>(d, text, "a non-negative integer");
            break;
        case value_spec::kind::real: {
            double x = 0;
            auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
            if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(x)) {
                bad(d.name, fmt::format("expected a number, got '{}'", text));
            }
            v = x;
            break;
        }
        case value_spec::kind::text:
        case value_spec::kind::texts:
            v = std::string(text);
            break;
        case value_spec::kind::size: {
            auto n = parse_memory_size(text);
            if (!n) {
                bad(d.name, fmt::format("expected a size such as 4096, 512M or 4G, got '{}'", text));
            }
            v = memory_size{*n};
            break;
        }
        case value_spec::kind::cpus: {
            auto c = parse_cpu_list(text);
            if (!c) {
                bad(d.name, fmt::format("expected a CPU list such as 0-3,5, got '{}'", text));
            }
            v = cpu_list{std::move(*c)};
            break;
        }
    }
    if (auto m = magnitude(v)) {
        if (s.min_value() && *m < *s.min_value()) {
            bad(d.name, fmt::format("must be at least {}, got '{}'", *s.min_value(), text));
        }
        if (s.max_value() && *m > *s.max_value()) {
            bad(d.name, fmt::format("must be at most {}, got '{}'", *s.max_value(), text));
        }
        if (s.above_value() && !(*m > *s.above_value())) {
            bad(d.name, fmt::format("must be greater than {}, got '{}'", *s.above_value(), text));
        }
    }
    if (!s.allowed().empty()) {
        if (std::find(s.allowed().begin(), s.allowed().end(), text) == s.allowed().end()) {
            auto noun = s.noun().empty() ? std::string("value") : s.noun();
            bad(d.name, fmt::format("unknown {} '{}' (available: {})", noun, text, join(s.allowed(), ", ")));
        }
    }
    if (s.checker()) {
        auto err = s.checker()(v);
        if (!err.empty()) {
            bad(d.name, err);
        }
    }
    return v;
}

bool starts_with(std::string_view s, std::string_view p) noexcept {
    return s.substr(0, p.size()) == p;
}

}  // namespace

option_map parse_command_line(int argc, const char* const* argv,
                              const std::vector<const options_description*>& groups) {
    std::map<std::string_view, const option_definition*, std::less<>> index;
    for (auto* g : groups) {
        for (auto& o : g->options()) {
            if (!index.emplace(o.name, &o).second) {
                throw std::logic_error(fmt::format("option '--{}' is declared by two groups", o.name));
            }
        }
    }
    option_map m;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i] ? argv[i] : "";
        if (arg == "--") {
            if (i + 1 < argc) {
                throw option_error(fmt::format("unexpected argument '{}'", argv[i + 1]));
            }
            break;
        }
        if (!starts_with(arg, "--")) {
            if (starts_with(arg, "-") && arg.size() > 1) {
                throw option_error(fmt::format("unrecognised option '{}' (options are --long-names)", arg));
            }
            throw option_error(fmt::format("unexpected argument '{}'", arg));
        }
        std::string_view body = arg.substr(2);
        auto eq = body.find('=');
        std::string_view name = body.substr(0, eq);
        auto it = index.find(name);
        if (it == index.end()) {
            throw option_error(fmt::format("unrecognised option '--{}'", name));
        }
        const option_definition& d = *it->second;
        if (d.spec.type() == value_spec::kind::flag) {
            if (eq != std::string_view::npos) {
                bad(d.name, "takes no value");
            }
            m.set(d.name, true, false);
            continue;
        }
        std::string_view text;
        if (eq != std::string_view::npos) {
            text = body.substr(eq + 1);
        } else if (i + 1 < argc && argv[i + 1] && !starts_with(argv[i + 1], "--")) {
            text = argv[++i];
        } else {
            bad(d.name, "needs a value");
        }
        auto v = read_value(d, text);
        if (d.spec.type() == value_spec::kind::texts) {
            std::vector<std::string> all;
            if (m.given(d.name)) {
                all = m[d.name].as<std::vector<std::string>>();
            }
            all.push_back(std::get<std::string>(std::move(v)));
            m.set(d.name, std::move(all), false);
        } else {
            m.set(d.name, std::move(v), false);
        }
    }
    for (auto [name, d] : index) {
        if (!m.given(name)) {
            m.set(std::string(name), d->spec.default_storage(), true);
        }
    }
    return m;
}

// ---- help ---------------------------------------------------------------------------

std::string format_help(const std::vector<const options_description*>& groups) {
    constexpr std::size_t max_column = 36;
    auto left_of = [](const option_definition& o) {
        std::string left = "  --" + o.name;
        if (o.spec.type() != value_spec::kind::flag) {
            left += " ";
            left += o.spec.placeholder().empty() ? default_placeholder(o.spec.type()) : o.spec.placeholder();
        }
        return left;
    };
    std::size_t column = 0;
    for (auto* g : groups) {
        for (auto& o : g->options()) {
            column = std::max(column, std::min(left_of(o).size() + 2, max_column));
        }
    }
    std::string out;
    for (auto* g : groups) {
        if (g->options().empty()) {
            continue;
        }
        out += out.empty() ? "" : "\n";
        out += g->caption() + ":\n";
        for (auto& o : g->options()) {
            std::string line = left_of(o);
            if (line.size() + 2 > column) {
                line += "\n" + std::string(column, ' ');
            } else {
                line += std::string(column - line.size(), ' ');
            }
            line += o.description;
            if (!o.spec.shown_default().empty()) {
                line += fmt::format(" (default: {})", o.spec.shown_default());
            }
            if (!o.spec.allowed().empty()) {
                line += fmt::format(" (one of: {})", join(o.spec.allowed(), ", "));
            }
            if (o.spec.type() == value_spec::kind::texts) {
                line += " (repeatable)";
            }
            out += line + "\n";
        }
    }
    return out;
}

// ---- the reactor's and logging's options -----------------------------------------------

options_description reactor_options() {
    const reactor_config defaults;
    std::vector<std::string> backends;
    for (auto b : detail::compiled_backends()) {
        backends.emplace_back(b);
    }
    options_description d("Reactor options");
    // clang-format off
    d.add_options()
        ("smp", value<unsigned>().min(1),
         "number of shards (default: one per CPU of --cpuset, or per available CPU)")
        ("cpuset", value<cpu_list>(),
         "CPUs to run the shards on, e.g. 0-3,5 (default: every CPU this process may use)")
        ("memory", value<memory_size>().min(1),
         "memory for the shards, e.g. 512M or 4G (default: all but a reserve)")
        ("large-allocation-warning-threshold", value<memory_size>(),
         "report allocations of at least this size with a backtrace, e.g. 1M (default: off)")
        ("reactor-backend", value<std::string>().choices(std::move(backends)).choice_noun("reactor backend")
                                .value_name("NAME"),
         "I/O backend (default: the first of these that works on this kernel)")
        ("task-quota-ms", value<double>(double(defaults.task_quota.count()) / 1e6).above(0).max(1000),
         "how long tasks run before I/O and timers are polled, in milliseconds")
        ("blocked-reactor-notify-ms", value<unsigned>(unsigned(defaults.blocked_reactor_notify.count())).min(1),
         "report a task that holds a shard longer than this, in milliseconds")
        ("poll-mode", "never sleep: poll continuously (one busy CPU per shard)")
        ("idle-poll-time-us", value<unsigned>(unsigned(defaults.idle_poll_time.count())),
         "how long an idle shard keeps polling before it sleeps, in microseconds")
        ("overprovisioned", "the machine is shared: do not pin shards to CPUs and do not spin when idle");
    // clang-format on
    return d;
}

namespace {

constexpr std::string_view log_levels[] = {"error", "warn", "info", "debug", "trace"};

bool is_log_level(std::string_view l) noexcept {
    return std::find(std::begin(log_levels), std::end(log_levels), l) != std::end(log_levels);
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

// "a=debug:b=trace" (',' separates too; blanks around names and levels ignored) into
// pairs; an error text on failure.
std::string split_logger_levels(std::string_view text,
                                std::vector<std::pair<std::string, std::string>>* out) {
    if (trim(text).empty()) {
        return "expected NAME=LEVEL[:NAME=LEVEL...], got ''";
    }
    while (true) {
        auto sep = text.find_first_of(":,");
        std::string_view item = text.substr(0, sep);
        auto eq = item.find('=');
        std::string_view name = trim(item.substr(0, eq));
        if (eq == std::string_view::npos || name.empty()) {
            return fmt::format("expected NAME=LEVEL, got '{}'", item);
        }
        std::string_view level = trim(item.substr(eq + 1));
        if (!is_log_level(level)) {
            return fmt::format(
                "unknown log level '{}' for logger '{}' (available: error, warn, info, debug, trace)", level,
                name);
        }
        if (out) {
            out->emplace_back(std::string(name), std::string(level));
        }
        if (sep == std::string_view::npos) {
            return "";
        }
        text.remove_prefix(sep + 1);
    }
}

}  // namespace

options_description logging_options() {
    std::vector<std::string> levels(std::begin(log_levels), std::end(log_levels));
    options_description d("Logging options");
    // clang-format off
    d.add_options()
        ("default-log-level", value<std::string>("info").choices(levels).choice_noun("log level").value_name("LEVEL"),
         "level of every logger not named by --logger-log-level")
        ("logger-log-level",
         value<std::vector<std::string>>()
             .value_name("NAME=LEVEL[:NAME=LEVEL...]")
             .check([](const option_value::storage& v) {
                 return split_logger_levels(std::get<std::string>(v), nullptr);
                // clang-format on
            }),
        "level of the named loggers");
    return d;
}

smp_config to_smp_config(const option_map& m) {
    smp_config cfg;
    if (m.contains("smp")) {
        cfg.count = m["smp"].as<unsigned>();
    }
    if (m.contains("memory")) {
        cfg.memory = m["memory"].as<memory_size>().bytes;
    }
    if (m.contains("large-allocation-warning-threshold")) {
        cfg.large_allocation_warning_threshold = m["large-allocation-warning-threshold"].as<memory_size>().bytes;
    }
    if (m.contains("reactor-backend")) {
        cfg.reactor.backend = m["reactor-backend"].as<std::string>();
    }
    cfg.reactor.task_quota =
        std::chrono::nanoseconds(std::int64_t(std::llround(m["task-quota-ms"].as<double>() * 1e6)));
    cfg.reactor.blocked_reactor_notify =
        std::chrono::milliseconds(m["blocked-reactor-notify-ms"].as<unsigned>());
    cfg.reactor.poll_mode = m["poll-mode"].as<bool>();
    cfg.reactor.idle_poll_time = std::chrono::microseconds(m["idle-poll-time-us"].as<unsigned>());
    cfg.reactor.overprovisioned = m["overprovisioned"].as<bool>();

    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof(set), &set) != 0) {
        throw std::system_error(errno, std::system_category(), "sched_getaffinity");
    }
    std::vector<unsigned> allowed;
    for (unsigned c = 0; c < CPU_SETSIZE; ++c) {
        if (CPU_ISSET(c, &set)) {
            allowed.push_back(c);
        }
    }
    std::size_t usable = allowed.size();
    if (m.contains("cpuset")) {
        cfg.cpus = m["cpuset"].as<cpu_list>().cpus;
        std::vector<unsigned> missing;
        std::set_difference(cfg.cpus.begin(), cfg.cpus.end(), allowed.begin(), allowed.end(),
                            std::back_inserter(missing));
        if (!missing.empty()) {
            throw option_error(
                fmt::format("option '--cpuset': {} {} {} not available to this process (available: {})",
                            missing.size() == 1 ? "CPU" : "CPUs", format_cpus(missing),
                            missing.size() == 1 ? "is" : "are", format_cpus(allowed)));
        }
        usable = cfg.cpus.size();
    }
    if (cfg.count > usable && !cfg.reactor.overprovisioned) {
        throw option_error(
            fmt::format("option '--smp': {} shards need {} CPUs but {} {} available "
                        "(add --overprovisioned to share CPUs)",
                        cfg.count, cfg.count, usable, usable == 1 ? "is" : "are"));
    }
    return cfg;
}

log_settings to_log_settings(const option_map& m) {
    log_settings s;
    s.default_level = m["default-log-level"].as<std::string>();
    s.default_level_given = m.given("default-log-level");
    if (m.contains("logger-log-level")) {
        for (auto& item : m["logger-log-level"].as<std::vector<std::string>>()) {
            auto err = split_logger_levels(item, &s.logger_levels);
            if (!err.empty()) {
                throw option_error(fmt::format("option '--logger-log-level': {}", err));
            }
        }
    }
    return s;
}

}  // namespace reef
