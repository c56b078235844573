// Command-line options: typed long options (--name value, --name=value), flags,
// defaults, grouped --help text, and the reactor's and logging's own options.
//   reef::options_description app("Application options");
//   app.add_options()("port", reef::value<unsigned>(8080).min(1).max(65535), "port to listen on")
//                    ("verbose", "print every request");
//   auto m = reef::parse_command_line(argc, argv, {&app});   // throws reef::option_error
//   unsigned port = m["port"].as<unsigned>();
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <reef/reactor/config.hh>

namespace reef {

/// A bad command line. what() is one line without a trailing newline, naming the
/// option and the offending value: "option '--smp': must be at least 1, got '0'".
class option_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A byte count written with an optional binary suffix: 4096, 512K, 512M, 4G, 1T.
struct memory_size {
    /// The number of bytes.
    std::size_t bytes = 0;
    friend bool operator==(const memory_size&, const memory_size&) = default;
};

/// A set of CPU numbers written as a list of numbers and ranges: "0-3,5". Sorted,
/// without duplicates.
struct cpu_list {
    /// The CPU numbers, ascending.
    std::vector<unsigned> cpus;
    friend bool operator==(const cpu_list&, const cpu_list&) = default;
};

/// Parses "4096", "512K", "512M", "4G", "1T" (suffixes are powers of 1024, either
/// case, an optional trailing "B" or "iB" allowed). nullopt for anything else or on
/// overflow. Never throws.
std::optional<std::size_t> parse_memory_size(std::string_view text) noexcept;

/// Parses "0-3,5" into sorted, distinct CPU numbers. nullopt for an empty list, an
/// empty element, a reversed range ("3-1"), a non-number, or a CPU of CPU_SETSIZE or
/// more. Allocates.
std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text);

/// The value of one option after parsing: empty, or one of the supported types.
class option_value {
public:
    /// Every type an option can hold. A flag holds a bool; a repeatable option holds
    /// std::vector<std::string>, one element per occurrence.
    using storage = std::variant<std::monostate, bool, int, unsigned, std::uint64_t, double, std::string,
                                 memory_size, cpu_list, std::vector<std::string>>;

    /// An empty value of no option.
    option_value() noexcept = default;
    /// The value `v` of option `name`; `defaulted` when it is the option's default.
    option_value(std::string name, storage v, bool defaulted) noexcept
        : name_(std::move(name)),
          v_(std::move(v)),
          defaulted_(defaulted) {}

    /// The value as a T. Throws std::logic_error when the option has no value or holds
    /// another type (naming the option and both types): that is a programming error.
    template <typename T>
    const T& as() const {
        if (auto* p = std::get_if<T>(&v_)) {
            return *p;
        }
        throw_bad_type(type_index_of<T>());
    }
    /// True when the option has no value (not given and no default).
    bool empty() const noexcept { return std::holds_alternative<std::monostate>(v_); }
    /// True when the value is the default (the option was not on the command line).
    bool defaulted() const noexcept { return defaulted_; }
    /// The raw variant.
    const storage& raw() const noexcept { return v_; }

private:
    template <typename T>
    static constexpr std::size_t type_index_of() noexcept {
        return storage(std::in_place_type<T>).index();
    }
    [[noreturn]] void throw_bad_type(std::size_t wanted) const;

    std::string name_;
    storage v_;
    bool defaulted_ = true;
};

/// How one option's value is read: its type, default, bounds, allowed choices and
/// extra checks. Made by reef::value<T>(); chained setters return *this.
class value_spec {
public:
    /// The kind of value, which decides how the text is parsed.
    enum class kind : std::uint8_t {
        flag,
        boolean,
        integer,
        unsigned32,
        unsigned64,
        real,
        text,
        texts,
        size,
        cpus
    };

    /// Builds a spec for `k` with no default (normally through reef::value<T>()).
    explicit value_spec(kind k) noexcept : kind_(k) {}

    /// Values below `v` are refused ("must be at least v"). Numeric and size kinds.
    value_spec& min(long double v) {
        min_ = v;
        return *this;
    }
    /// Values above `v` are refused ("must be at most v"). Numeric and size kinds.
    value_spec& max(long double v) {
        max_ = v;
        return *this;
    }
    /// Values not greater than `v` are refused ("must be greater than v").
    value_spec& above(long double v) {
        above_ = v;
        return *this;
    }
    /// Only these texts are accepted (text kind). The error lists them.
    value_spec& choices(std::vector<std::string> c) {
        choices_ = std::move(c);
        return *this;
    }
    /// What the choices are called in the error ("backend": "unknown backend 'x'").
    value_spec& choice_noun(std::string noun) {
        choice_noun_ = std::move(noun);
        return *this;
    }
    /// The placeholder shown in --help ("N", "SIZE", "LEVEL", ...).
    value_spec& value_name(std::string n) {
        value_name_ = std::move(n);
        return *this;
    }
    /// An extra check after parsing: returns an error text (without the option name),
    /// or an empty string when the value is fine. A repeatable option's check sees each
    /// occurrence alone, as a std::string.
    value_spec& check(std::function<std::string(const option_value::storage&)> f) {
        check_ = std::move(f);
        return *this;
    }
    /// The default used when the option is not given, and how --help shows it.
    value_spec& default_value(option_value::storage v, std::string shown) {
        default_ = std::move(v);
        default_text_ = std::move(shown);
        return *this;
    }

    // What was set above, read by the parser and the help printer.
    /// The kind given at construction.
    kind type() const noexcept { return kind_; }
    /// The bound of min(), if any.
    const std::optional<long double>& min_value() const noexcept { return min_; }
    /// The bound of max(), if any.
    const std::optional<long double>& max_value() const noexcept { return max_; }
    /// The bound of above(), if any.
    const std::optional<long double>& above_value() const noexcept { return above_; }
    /// The texts of choices() (empty: any).
    const std::vector<std::string>& allowed() const noexcept { return choices_; }
    /// The noun of choice_noun() (empty: "value").
    const std::string& noun() const noexcept { return choice_noun_; }
    /// The placeholder of value_name() (empty: one by kind).
    const std::string& placeholder() const noexcept { return value_name_; }
    /// The check of check(), or an empty function.
    const std::function<std::string(const option_value::storage&)>& checker() const noexcept {
        return check_;
    }
    /// The default value (std::monostate: none).
    const option_value::storage& default_storage() const noexcept { return default_; }
    /// The default as --help shows it (empty: not shown).
    const std::string& shown_default() const noexcept { return default_text_; }

private:
    kind kind_;
    std::optional<long double> min_, max_, above_;
    std::vector<std::string> choices_;
    std::string choice_noun_;
    std::string value_name_;
    std::function<std::string(const option_value::storage&)> check_;
    option_value::storage default_;
    std::string default_text_;
};

namespace detail {
template <typename T>
struct value_kind {
    static_assert(sizeof(T) == 0,
                  "reef::value<T>: T must be bool, int, unsigned, std::uint64_t, double, std::string, "
                  "std::vector<std::string>, reef::memory_size or reef::cpu_list");
};
template <>
struct value_kind<bool> {
    static constexpr auto k = value_spec::kind::boolean;
};
template <>
struct value_kind<int> {
    static constexpr auto k = value_spec::kind::integer;
};
template <>
struct value_kind<unsigned> {
    static constexpr auto k = value_spec::kind::unsigned32;
};
template <>
struct value_kind<std::uint64_t> {
    static constexpr auto k = value_spec::kind::unsigned64;
};
template <>
struct value_kind<double> {
    static constexpr auto k = value_spec::kind::real;
};
template <>
struct value_kind<std::string> {
    static constexpr auto k = value_spec::kind::text;
};
template <>
struct value_kind<std::vector<std::string>> {
    static constexpr auto k = value_spec::kind::texts;
};
template <>
struct value_kind<memory_size> {
    static constexpr auto k = value_spec::kind::size;
};
template <>
struct value_kind<cpu_list> {
    static constexpr auto k = value_spec::kind::cpus;
};

/// How --help shows a default of each type.
std::string default_text(const option_value::storage& v);
}  // namespace detail

/// An option taking a value of type T, with no default (absent unless given).
/// std::vector<std::string> makes a repeatable option: each occurrence appends.
template <typename T>
value_spec value() {
    return value_spec(detail::value_kind<T>::k);
}

/// An option taking a value of type T, `def` when not given.
template <typename T, typename D>
    requires std::is_convertible_v<D, T>
value_spec value(D&& def) {
    option_value::storage v{std::in_place_type<T>, T(std::forward<D>(def))};
    auto shown = detail::default_text(v);
    return value_spec(detail::value_kind<T>::k).default_value(std::move(v), std::move(shown));
}

/// One declared option.
struct option_definition {
    /// The long name without dashes ("smp").
    std::string name;
    /// One line for --help.
    std::string description;
    /// How its value is read.
    value_spec spec;
};

/// A named group of options, shown together under its caption in --help.
class options_description {
public:
    /// An empty group called `caption` ("Reactor options").
    explicit options_description(std::string caption) : caption_(std::move(caption)) {}

    /// Adds options by repeated calls: (name, description) is a flag;
    /// (name, value<T>(...), description) takes a value.
    class adder {
    public:
        /// Adds to `d`, which must outlive the adder.
        explicit adder(options_description& d) noexcept : d_(&d) {}
        /// Declares the flag `--name` (holds true when given, false otherwise).
        adder& operator()(std::string name, std::string description);
        /// Declares `--name VALUE` read as `spec` says.
        adder& operator()(std::string name, value_spec spec, std::string description);

    private:
        options_description* d_;
    };

    /// Starts adding options. Throws std::logic_error for a name declared twice in
    /// this group or a name that is not [a-z0-9-]+ (programming errors).
    adder add_options() noexcept { return adder(*this); }

    /// The caption given at construction.
    const std::string& caption() const noexcept { return caption_; }
    /// The options in declaration order.
    const std::vector<option_definition>& options() const noexcept { return options_; }
    /// The option called `name`, or nullptr.
    const option_definition* find(std::string_view name) const noexcept;

private:
    void add(option_definition d);
    std::string caption_;
    std::vector<option_definition> options_;
};

/// The parsed command line: every declared option by name, with its value (given,
/// defaulted, or empty).
class option_map {
public:
    /// The value of option `name`. Throws std::out_of_range for an undeclared name.
    const option_value& operator[](std::string_view name) const;
    /// True when `name` was declared and has a value (given or default).
    bool contains(std::string_view name) const noexcept;
    /// True when `name` was on the command line.
    bool given(std::string_view name) const noexcept;
    /// Sets or replaces a value (for tests and embedders building a map by hand).
    void set(std::string name, option_value::storage v, bool defaulted = false);

private:
    std::map<std::string, option_value, std::less<>> values_;
};

/// Parses argv[1..argc) against `groups`: "--name value", "--name=value", "--flag".
/// The next argument is taken as the value unless it starts with "--". A repeated
/// option keeps its last value (a repeatable one keeps them all). Throws option_error
/// for an unknown option, a missing value, a value a flag does not take, a value of the
/// wrong type, out of range or not among the choices, and for arguments that are not
/// options; throws std::logic_error when two groups declare the same name.
option_map parse_command_line(int argc, const char* const* argv,
                              const std::vector<const options_description*>& groups);

/// The --help text of `groups`: for each non-empty group its caption, then one line
/// per option with its placeholder, description, default and choices.
std::string format_help(const std::vector<const options_description*>& groups);

/// The reactor's options: --smp, --cpuset, --memory, --reactor-backend (choices: the
/// compiled backends), --task-quota-ms, --blocked-reactor-notify-ms, --poll-mode,
/// --idle-poll-time-us, --overprovisioned.
options_description reactor_options();

/// The logging options: --default-log-level and --logger-log-level
/// ("name=level[:name=level...]", repeatable). Levels: error, warn, info, debug, trace.
options_description logging_options();

/// Log levels as given on the command line.
struct log_settings {
    /// The level of every logger not named below.
    std::string default_level = "info";
    /// True when --default-log-level was on the command line (otherwise levels set by
    /// the program before app_template::run() are left alone).
    bool default_level_given = false;
    /// (logger, level) pairs in command-line order.
    std::vector<std::pair<std::string, std::string>> logger_levels;
};

/// The shard and reactor settings from a map parsed with reactor_options(). Throws
/// option_error for CPUs of --cpuset this process may not run on, and for --smp above
/// the number of CPUs without --overprovisioned.
smp_config to_smp_config(const option_map& m);

/// The log levels from a map parsed with logging_options().
log_settings to_log_settings(const option_map& m);

}  // namespace reef
