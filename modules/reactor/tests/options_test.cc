#include <reef/reactor/options.hh>

#include <sched.h>

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "backend.hh"

using namespace reef;

namespace {

// Parses `args` (without the program name) against `groups`.
option_map parse(std::vector<std::string> args, const std::vector<const options_description*>& groups) {
    std::vector<const char*> argv{"prog"};
    for (auto& a : args) {
        argv.push_back(a.c_str());
    }
    return parse_command_line(int(argv.size()), argv.data(), groups);
}

// The option_error message parsing `args` gives, or "no error".
std::string error_of(std::vector<std::string> args, const std::vector<const options_description*>& groups) {
    try {
        parse(std::move(args), groups);
    } catch (const option_error& e) {
        return e.what();
    }
    return "no error";
}

// A group with one option of every type.
options_description every_type() {
    options_description d("Test options");
    // clang-format off
    d.add_options()
        ("flag", "a flag")
        ("yes", value<bool>(false), "a bool")
        ("int", value<int>(-1), "an int")
        ("count", value<unsigned>(3).min(1).max(10), "an unsigned")
        ("big", value<std::uint64_t>(), "a 64-bit unsigned")
        ("ratio", value<double>(0.5).above(0), "a double")
        ("name", value<std::string>("anon"), "a string")
        ("color", value<std::string>().choices({"red", "green"}).choice_noun("color"), "a choice")
        ("tag", value<std::vector<std::string>>(), "repeatable")
        ("mem", value<memory_size>(memory_size{1 << 20}), "a size")
        ("cpus", value<cpu_list>(), "a cpu list");
    // clang-format on
    return d;
}

std::vector<unsigned> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    REQUIRE(sched_getaffinity(0, sizeof(set), &set) == 0);
    std::vector<unsigned> v;
    for (unsigned c = 0; c < CPU_SETSIZE; ++c) {
        if (CPU_ISSET(c, &set)) {
            v.push_back(c);
        }
    }
    return v;
}

}  // namespace

TEST_CASE("memory sizes take binary suffixes in either case") {
    REQUIRE(parse_memory_size("4096") == 4096u);
    REQUIRE(parse_memory_size("512K") == 512u << 10);
    REQUIRE(parse_memory_size("512k") == 512u << 10);
    REQUIRE(parse_memory_size("512M") == std::size_t(512) << 20);
    REQUIRE(parse_memory_size("4G") == std::size_t(4) << 30);
    REQUIRE(parse_memory_size("4g") == std::size_t(4) << 30);
    REQUIRE(parse_memory_size("1T") == std::size_t(1) << 40);
    REQUIRE(parse_memory_size("2GB") == std::size_t(2) << 30);
    REQUIRE(parse_memory_size("2GiB") == std::size_t(2) << 30);
    REQUIRE(parse_memory_size("100B") == 100u);
    REQUIRE(parse_memory_size("0") == 0u);
}

TEST_CASE("memory sizes refuse garbage, fractions, signs and overflow") {
    for (auto bad : {"", "M", "12X", "1.5G", "-1", "+1", "1 G", "1GG", "1Bi", "99999999999999999999",
                     "17179869184G", "18446744073709551616"}) {
        INFO(bad);
        REQUIRE_FALSE(parse_memory_size(bad));
    }
}

TEST_CASE("cpu lists take numbers and ranges, sorted and without duplicates") {
    REQUIRE(parse_cpu_list("0-3,5") == std::vector<unsigned>{0, 1, 2, 3, 5});
    REQUIRE(parse_cpu_list("5,1,1") == std::vector<unsigned>{1, 5});
    REQUIRE(parse_cpu_list("7") == std::vector<unsigned>{7});
    REQUIRE(parse_cpu_list("2-2") == std::vector<unsigned>{2});
    REQUIRE(parse_cpu_list("4-5,0-1") == std::vector<unsigned>{0, 1, 4, 5});
}

TEST_CASE("cpu lists refuse empty items, reversed ranges and huge numbers") {
    for (auto bad : {"", ",", "1,,2", "3-1", "a", "1-", "-1", "1-2-3", " 1", "1,", "99999", "1024"}) {
        INFO(bad);
        REQUIRE_FALSE(parse_cpu_list(bad));
    }
}

TEST_CASE("every value type is read from --name value and --name=value") {
    auto d = every_type();
    auto m = parse(
        {"--flag", "--yes=on", "--int", "-42", "--count=7", "--big", "18446744073709551615", "--ratio",
         "2.25", "--name=bob", "--color", "green", "--tag", "a", "--tag=b", "--mem", "4G", "--cpus=0-2,5"},
        {&d});
    REQUIRE(m["flag"].as<bool>());
    REQUIRE(m["yes"].as<bool>());
    REQUIRE(m["int"].as<int>() == -42);
    REQUIRE(m["count"].as<unsigned>() == 7);
    REQUIRE(m["big"].as<std::uint64_t>() == UINT64_MAX);
    REQUIRE(m["ratio"].as<double>() == 2.25);
    REQUIRE(m["name"].as<std::string>() == "bob");
    REQUIRE(m["color"].as<std::string>() == "green");
    REQUIRE(m["tag"].as<std::vector<std::string>>() == std::vector<std::string>{"a", "b"});
    REQUIRE(m["mem"].as<memory_size>().bytes == std::size_t(4) << 30);
    REQUIRE(m["cpus"].as<cpu_list>().cpus == std::vector<unsigned>{0, 1, 2, 5});
    REQUIRE(m.given("count"));
    REQUIRE_FALSE(m["count"].defaulted());
}

TEST_CASE("options not given hold their defaults, or nothing") {
    auto d = every_type();
    auto m = parse({}, {&d});
    REQUIRE_FALSE(m["flag"].as<bool>());
    REQUIRE_FALSE(m.given("flag"));
    REQUIRE(m["int"].as<int>() == -1);
    REQUIRE(m["count"].as<unsigned>() == 3);
    REQUIRE(m["ratio"].as<double>() == 0.5);
    REQUIRE(m["name"].as<std::string>() == "anon");
    REQUIRE(m["mem"].as<memory_size>().bytes == 1u << 20);
    REQUIRE(m["count"].defaulted());
    REQUIRE(m.contains("count"));
    REQUIRE_FALSE(m.given("count"));
    REQUIRE_FALSE(m.contains("big"));
    REQUIRE(m["big"].empty());
    REQUIRE_FALSE(m.contains("tag"));
    REQUIRE_FALSE(m.contains("cpus"));
}

TEST_CASE("booleans accept true/false, yes/no, on/off and 1/0") {
    auto d = every_type();
    for (auto t : {"true", "yes", "on", "1"}) {
        REQUIRE(parse({"--yes", t}, {&d})["yes"].as<bool>());
    }
    for (auto f : {"false", "no", "off", "0"}) {
        REQUIRE_FALSE(parse({"--yes", f}, {&d})["yes"].as<bool>());
    }
}

TEST_CASE("a repeated option keeps its last value") {
    auto d = every_type();
    REQUIRE(parse({"--count", "2", "--count=4"}, {&d})["count"].as<unsigned>() == 4);
}

TEST_CASE("bad command lines give one line naming the option and the value") {
    auto d = every_type();
    auto err = [&](std::vector<std::string> a) { return error_of(std::move(a), {&d}); };
    REQUIRE(err({"--nope"}) == "unrecognised option '--nope'");
    REQUIRE(err({"--nope=3"}) == "unrecognised option '--nope'");
    REQUIRE(err({"-x"}) == "unrecognised option '-x' (options are --long-names)");
    REQUIRE(err({"stray"}) == "unexpected argument 'stray'");
    REQUIRE(err({"--", "stray"}) == "unexpected argument 'stray'");
    REQUIRE(err({"--count"}) == "option '--count': needs a value");
    REQUIRE(err({"--count", "--flag"}) == "option '--count': needs a value");
    REQUIRE(err({"--flag=1"}) == "option '--flag': takes no value");
    REQUIRE(err({"--count", "abc"}) == "option '--count': expected a non-negative integer, got 'abc'");
    REQUIRE(err({"--count", "-1"}) == "option '--count': expected a non-negative integer, got '-1'");
    REQUIRE(err({"--count", "3x"}) == "option '--count': expected a non-negative integer, got '3x'");
    REQUIRE(err({"--count="}) == "option '--count': expected a non-negative integer, got ''");
    REQUIRE(err({"--count", "0"}) == "option '--count': must be at least 1, got '0'");
    REQUIRE(err({"--count", "11"}) == "option '--count': must be at most 10, got '11'");
    REQUIRE(err({"--count", "4294967296"}) ==
            "option '--count': '4294967296' is out of range (0 to 4294967295)");
    REQUIRE(err({"--int", "1.5"}) == "option '--int': expected an integer, got '1.5'");
    REQUIRE(err({"--int", "99999999999"}) ==
            "option '--int': '99999999999' is out of range (-2147483648 to 2147483647)");
    REQUIRE(err({"--ratio", "x"}) == "option '--ratio': expected a number, got 'x'");
    REQUIRE(err({"--ratio", "nan"}) == "option '--ratio': expected a number, got 'nan'");
    REQUIRE(err({"--ratio", "inf"}) == "option '--ratio': expected a number, got 'inf'");
    REQUIRE(err({"--ratio", "0"}) == "option '--ratio': must be greater than 0, got '0'");
    REQUIRE(err({"--ratio", "-0.5"}) == "option '--ratio': must be greater than 0, got '-0.5'");
    REQUIRE(err({"--yes", "maybe"}) == "option '--yes': expected true or false, got 'maybe'");
    REQUIRE(err({"--color", "blue"}) == "option '--color': unknown color 'blue' (available: red, green)");
    REQUIRE(err({"--mem", "lots"}) == "option '--mem': expected a size such as 4096, 512M or 4G, got 'lots'");
    REQUIRE(err({"--cpus", "3-1"}) == "option '--cpus': expected a CPU list such as 0-3,5, got '3-1'");
    REQUIRE(err({"--big", "18446744073709551616"}) ==
            "option '--big': '18446744073709551616' is out of range (0 to 18446744073709551615)");
}

TEST_CASE("every error message is a single line") {
    auto d = every_type();
    for (std::vector<std::string> a : std::vector<std::vector<std::string>>{
             {"--nope"}, {"--count"}, {"--count", "x"}, {"--color", "x"}, {"--mem", "x"}, {"--cpus", "x"}}) {
        auto e = error_of(a, {&d});
        REQUIRE(e != "no error");
        REQUIRE(e.find('\n') == std::string::npos);
    }
}

TEST_CASE("reading a value as the wrong type or an undeclared name is a logic error") {
    auto d = every_type();
    auto m = parse({}, {&d});
    REQUIRE_THROWS_WITH(m["count"].as<int>(), "option '--count' holds a unsigned, not a int");
    REQUIRE_THROWS_AS(m["big"].as<std::uint64_t>(), std::logic_error);
    REQUIRE_THROWS_WITH(m["big"].as<std::uint64_t>(), Catch::Contains("has no value"));
    REQUIRE_THROWS_AS(m["undeclared"], std::out_of_range);
}

TEST_CASE("declaring a name twice or a bad name is refused") {
    options_description a("A");
    a.add_options()("x", "flag");
    REQUIRE_THROWS_AS(a.add_options()("x", value<int>(), "again"), std::logic_error);
    REQUIRE_THROWS_AS(a.add_options()("--y", "dashes"), std::logic_error);
    REQUIRE_THROWS_AS(a.add_options()("Big", "caps"), std::logic_error);
    options_description b("B");
    b.add_options()("x", "same name, other group");
    REQUIRE_THROWS_AS(parse({}, {&a, &b}), std::logic_error);
}

TEST_CASE("a custom check refuses values with its own message") {
    options_description d("D");
    d.add_options()("even", value<unsigned>().check([](const option_value::storage& v) {
        return std::get<unsigned>(v) % 2 ? std::string("must be even") : std::string();
    }),
                    "an even number");
    REQUIRE(parse({"--even", "4"}, {&d})["even"].as<unsigned>() == 4);
    REQUIRE(error_of({"--even", "3"}, {&d}) == "option '--even': must be even");
}

TEST_CASE("help lists every group's options with placeholders, defaults and choices") {
    auto d = every_type();
    auto r = reactor_options();
    auto l = logging_options();
    auto help = format_help({&d, &r, &l});
    for (auto s : {"Test options:",
                   "Reactor options:",
                   "Logging options:",
                   "--flag",
                   "--count N",
                   "(default: 3)",
                   "--ratio X",
                   "(default: 0.5)",
                   "--mem SIZE",
                   "(default: 1M)",
                   "--cpus CPUS",
                   "(one of: red, green)",
                   "--tag TEXT",
                   "(repeatable)",
                   "--smp N",
                   "--cpuset CPUS",
                   "--memory SIZE",
                   "--reactor-backend NAME",
                   "--task-quota-ms X",
                   "--blocked-reactor-notify-ms N",
                   "(default: 25)",
                   "--poll-mode",
                   "--idle-poll-time-us N",
                   "(default: 200)",
                   "--overprovisioned",
                   "--default-log-level LEVEL",
                   "(default: info)",
                   "--logger-log-level NAME=LEVEL[:NAME=LEVEL...]"}) {
        INFO(s);
        REQUIRE(help.find(s) != std::string::npos);
    }
    for (auto b : detail::compiled_backends()) {
        REQUIRE(help.find(std::string(b)) != std::string::npos);
    }
    // Groups appear in the order given.
    REQUIRE(help.find("Test options:") < help.find("Reactor options:"));
    REQUIRE(help.find("Reactor options:") < help.find("Logging options:"));
}

TEST_CASE("the reactor options fill smp_config") {
    auto r = reactor_options();
    auto cpus = allowed_cpus();
    auto b = std::string(detail::compiled_backends().front());
    auto m = parse({"--smp", "1", "--cpuset", std::to_string(cpus[0]), "--memory", "512M",
                    "--reactor-backend", b, "--task-quota-ms", "0.25", "--blocked-reactor-notify-ms", "100",
                    "--poll-mode", "--idle-poll-time-us", "50", "--overprovisioned"},
                   {&r});
    auto cfg = to_smp_config(m);
    REQUIRE(cfg.count == 1);
    REQUIRE(cfg.cpus == std::vector<unsigned>{cpus[0]});
    REQUIRE(cfg.memory == std::size_t(512) << 20);
    REQUIRE(cfg.reactor.backend == b);
    REQUIRE(cfg.reactor.task_quota == std::chrono::microseconds(250));
    REQUIRE(cfg.reactor.blocked_reactor_notify == std::chrono::milliseconds(100));
    REQUIRE(cfg.reactor.poll_mode);
    REQUIRE(cfg.reactor.idle_poll_time == std::chrono::microseconds(50));
    REQUIRE(cfg.reactor.overprovisioned);
}

TEST_CASE("without reactor options, smp_config has the reactor's defaults") {
    auto r = reactor_options();
    auto cfg = to_smp_config(parse({}, {&r}));
    const smp_config defaults;
    REQUIRE(cfg.count == 0);
    REQUIRE(cfg.cpus.empty());
    REQUIRE(cfg.memory == 0);
    REQUIRE(cfg.reactor.backend.empty());
    REQUIRE(cfg.reactor.task_quota == defaults.reactor.task_quota);
    REQUIRE(cfg.reactor.blocked_reactor_notify == defaults.reactor.blocked_reactor_notify);
    REQUIRE(cfg.reactor.poll_mode == defaults.reactor.poll_mode);
    REQUIRE(cfg.reactor.idle_poll_time == defaults.reactor.idle_poll_time);
    REQUIRE(cfg.reactor.overprovisioned == defaults.reactor.overprovisioned);
}

TEST_CASE("bad reactor option values are refused with one line") {
    auto r = reactor_options();
    auto err = [&](std::vector<std::string> a) { return error_of(std::move(a), {&r}); };
    REQUIRE(err({"--smp", "0"}) == "option '--smp': must be at least 1, got '0'");
    REQUIRE(err({"--smp", "two"}) == "option '--smp': expected a non-negative integer, got 'two'");
    REQUIRE(err({"--task-quota-ms", "0"}) == "option '--task-quota-ms': must be greater than 0, got '0'");
    REQUIRE(err({"--task-quota-ms", "-1"}) == "option '--task-quota-ms': must be greater than 0, got '-1'");
    REQUIRE(err({"--memory", "0"}) == "option '--memory': must be at least 1, got '0'");
    REQUIRE(err({"--memory", "4Q"}) ==
            "option '--memory': expected a size such as 4096, 512M or 4G, got '4Q'");
    REQUIRE(err({"--cpuset", "1-0"}) == "option '--cpuset': expected a CPU list such as 0-3,5, got '1-0'");
    REQUIRE(err({"--blocked-reactor-notify-ms", "0"}) ==
            "option '--blocked-reactor-notify-ms': must be at least 1, got '0'");
    auto backend = err({"--reactor-backend", "kqueue"});
    REQUIRE_THAT(backend, Catch::StartsWith(
                              "option '--reactor-backend': unknown reactor backend 'kqueue' (available: "));
    for (auto b : detail::compiled_backends()) {
        REQUIRE_THAT(backend, Catch::Contains(std::string(b)));
    }
}

TEST_CASE("--cpuset naming CPUs this process may not use is refused, naming them") {
    auto r = reactor_options();
    auto cpus = allowed_cpus();
    unsigned missing = cpus.back() + 1;
    REQUIRE_THROWS_MATCHES(to_smp_config(parse({"--cpuset", std::to_string(missing)}, {&r})), option_error,
                           Catch::Matchers::Predicate<option_error>([&](const option_error& e) {
                               return std::string(e.what()).starts_with(
                                   "option '--cpuset': CPU " + std::to_string(missing) + " is not available");
                           }));
    REQUIRE_THROWS_WITH(to_smp_config(parse({"--cpuset", "1000-1001"}, {&r})),
                        Catch::Contains("CPUs 1000-1001 are not available to this process"));
}

TEST_CASE("--smp above the CPUs needs --overprovisioned") {
    auto r = reactor_options();
    auto n = std::to_string(allowed_cpus().size() + 1);
    REQUIRE_THROWS_WITH(to_smp_config(parse({"--smp", n}, {&r})),
                        Catch::StartsWith("option '--smp': " + n + " shards need " + n + " CPUs") &&
                            Catch::Contains("--overprovisioned"));
    REQUIRE(to_smp_config(parse({"--smp", n, "--overprovisioned"}, {&r})).count == allowed_cpus().size() + 1);
}

TEST_CASE("logging options give the default level and per-logger levels") {
    auto l = logging_options();
    auto s = to_log_settings(parse({"--default-log-level", "debug", "--logger-log-level",
                                    "http=trace:rpc=warn", "--logger-log-level", "io = error"},
                                   {&l}));
    REQUIRE(s.default_level == "debug");
    REQUIRE(s.default_level_given);
    using p = std::pair<std::string, std::string>;
    REQUIRE(s.logger_levels == std::vector<p>{p{"http", "trace"}, p{"rpc", "warn"}, p{"io", "error"}});
    auto d = to_log_settings(parse({}, {&l}));
    REQUIRE(d.default_level == "info");
    REQUIRE_FALSE(d.default_level_given);
    REQUIRE(d.logger_levels.empty());
}

TEST_CASE("bad log levels are refused with one line") {
    auto l = logging_options();
    REQUIRE(error_of({"--default-log-level", "loud"}, {&l}) ==
            "option '--default-log-level': unknown log level 'loud' (available: error, warn, info, debug, "
            "trace)");
    REQUIRE(error_of({"--logger-log-level", "http"}, {&l}) ==
            "option '--logger-log-level': expected NAME=LEVEL, got 'http'");
    REQUIRE(error_of({"--logger-log-level", "=debug"}, {&l}) ==
            "option '--logger-log-level': expected NAME=LEVEL, got '=debug'");
    REQUIRE(error_of({"--logger-log-level", "http=loud"}, {&l}) ==
            "option '--logger-log-level': unknown log level 'loud' for logger 'http' (available: error, "
            "warn, info, "
            "debug, trace)");
    REQUIRE(error_of({"--logger-log-level="}, {&l}) ==
            "option '--logger-log-level': expected NAME=LEVEL[:NAME=LEVEL...], got ''");
}
