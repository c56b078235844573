#include <reef/reactor/log.hh>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <reef/core/coroutine.hh>
#include <reef/reactor/smp.hh>
#include <reef/testing/stderr_capture.hh>
#include <reef/testing/test_case.hh>

using namespace reef;
using reef::testing::stderr_capture;

namespace {


std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);) {
        out.push_back(line);
    }
    return out;
}

// Counts how often it is formatted.
struct counted {
    static inline int formatted = 0;
};

const std::regex line_format(
    R"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}Z (TRACE|DEBUG|INFO |WARN |ERROR) \[shard (\d+|-)\] [a-z_]+ - .*)");

}  // namespace

template <>
struct fmt::formatter<counted> : fmt::formatter<int> {
    auto format(const counted&, fmt::format_context& ctx) const {
        ++counted::formatted;
        return fmt::format_to(ctx.out(), "counted");
    }
};

TEST_CASE("a logger prints the lines at or above its level and nothing else") {
    logger log("levels_test");
    log.set_level(log_level::warn);
    stderr_capture cap;
    log.trace("trace {}", 1);
    log.debug("debug {}", 2);
    log.info("info {}", 3);
    log.warn("warn {}", 4);
    log.error("error {}", 5);
    log.log(log_level::error, "via log() {}", 6);
    log.log(log_level::info, "via log() {}", 7);
    auto lines = lines_of(cap.finish());
    REQUIRE(lines.size() == 3);
    CHECK(lines[0].ends_with("WARN  [shard -] levels_test - warn 4"));
    CHECK(lines[1].ends_with("ERROR [shard -] levels_test - error 5"));
    CHECK(lines[2].ends_with("ERROR [shard -] levels_test - via log() 6"));
    CHECK(log.is_enabled(log_level::error));
    CHECK_FALSE(log.is_enabled(log_level::info));
}

TEST_CASE("arguments are formatted only when the level is enabled") {
    logger log("lazy_test");
    log.set_level(log_level::info);
    counted::formatted = 0;
    stderr_capture cap;
    log.debug("{}", counted{});
    CHECK(counted::formatted == 0);
    log.info("{}", counted{});
    CHECK(counted::formatted == 1);
    CHECK(cap.finish().ends_with("lazy_test - counted\n"));
}

REEF_TEST_CASE("each line holds a timestamp, the level, the shard id, the logger name and the message") {
    static logger log("format_test");
    log.set_level(log_level::trace);
    stderr_capture cap;
    log.info("hello {} {}", 42, std::string("world"));
    co_await smp::submit_to(1, [] { log.debug("from {}", "shard one"); });
    std::thread([] { log.trace("from a plain thread"); }).join();
    auto lines = lines_of(cap.finish());
    REQUIRE(lines.size() == 3);
    for (auto& l : lines) {
        INFO(l);
        CHECK(std::regex_match(l, line_format));
    }
    CHECK(lines[0].ends_with(" INFO  [shard 0] format_test - hello 42 world"));
    CHECK(lines[1].ends_with(" DEBUG [shard 1] format_test - from shard one"));
    CHECK(lines[2].ends_with(" TRACE [shard -] format_test - from a plain thread"));
}

REEF_TEST_CASE("lines logged by both shards at once never interleave") {
    static logger log("interleave_test");
    log.set_level(log_level::info);
    stderr_capture cap;
    auto burst = [] {
        for (int i = 0; i < 2000; ++i) {
            log.info("line {} of shard {} with some padding to make it longer: {:>40}", i, this_shard_id(), "x");
        }
    };
    co_await smp::invoke_on_all(burst);
    // Other lines may be there too (a stall report on a slow sanitizer build): count
    // the whole, well-formed lines of this test; a torn line would not be one.
    std::size_t per_shard[2] = {0, 0};
    for (auto& l : lines_of(cap.finish())) {
        if (l.find(" interleave_test - ") != std::string::npos && std::regex_match(l, line_format)) {
            per_shard[l.find("[shard 1]") != std::string::npos]++;
        }
    }
    CHECK(per_shard[0] == 2000);
    CHECK(per_shard[1] == 2000);
}

TEST_CASE("level names parse, and a bad name is refused with the valid ones listed") {
    CHECK(parse_log_level("trace") == log_level::trace);
    CHECK(parse_log_level("debug") == log_level::debug);
    CHECK(parse_log_level("info") == log_level::info);
    CHECK(parse_log_level("warn") == log_level::warn);
    CHECK(parse_log_level("error") == log_level::error);
    for (auto l : {log_level::trace, log_level::debug, log_level::info, log_level::warn, log_level::error}) {
        CHECK(parse_log_level(to_string(l)) == l);
    }
    CHECK_THROWS_WITH(parse_log_level("verbose"),
                      Catch::Contains("'verbose'") && Catch::Contains("trace, debug, info, warn, error"));
    CHECK_THROWS_AS(parse_log_level("INFO"), std::invalid_argument);
    CHECK_THROWS_AS(parse_log_level(""), std::invalid_argument);
}

TEST_CASE("the registry finds, lists and sets loggers by name") {
    auto& reg = global_logger_registry();
    {
        logger a("registry_a");
        logger a2("registry_a");
        logger b("registry_b");
        CHECK(reg.find("registry_a") != nullptr);
        CHECK(reg.find("registry_b") == &b);
        auto names = reg.names();
        CHECK(std::count(names.begin(), names.end(), "registry_a") == 1);
        CHECK(std::is_sorted(names.begin(), names.end()));
        reg.set_level("registry_a", log_level::trace);
        CHECK(a.level() == log_level::trace);
        CHECK(a2.level() == log_level::trace);
        CHECK(b.level() == log_level::info);
        CHECK(reg.get_level("registry_a") == log_level::trace);
        CHECK_THROWS_WITH(reg.set_level("registry_none", log_level::debug), Catch::Contains("'registry_none'"));
        CHECK_THROWS_AS(reg.get_level("registry_none"), std::invalid_argument);
    }
    CHECK(reg.find("registry_a") == nullptr);
    CHECK(reg.find("registry_b") == nullptr);
}

TEST_CASE("apply_log_options sets the default level and each named logger's level") {
    auto& reg = global_logger_registry();
    logger a("options_a");
    logger b("options_b");
    logger c("options_c");
    apply_log_options("warn", "options_a=debug:options_b=trace");
    CHECK(a.level() == log_level::debug);
    CHECK(b.level() == log_level::trace);
    CHECK(c.level() == log_level::warn);
    CHECK(reg.default_level() == log_level::warn);
    {
        logger later("options_later");
        CHECK(later.level() == log_level::warn);
    }
    // ',' separates too; blanks are ignored; an empty default leaves levels as they are.
    apply_log_options("", " options_a = error , options_c=info ");
    CHECK(a.level() == log_level::error);
    CHECK(b.level() == log_level::trace);
    CHECK(c.level() == log_level::info);
    apply_log_options("info", "");
    CHECK(a.level() == log_level::info);
    CHECK(reg.default_level() == log_level::info);
}

TEST_CASE("apply_log_options refuses bad input and then changes nothing") {
    logger a("refuse_a");
    a.set_level(log_level::error);
    CHECK_THROWS_WITH(apply_log_options("debug", "refuse_a=loud"),
                      Catch::Contains("refuse_a") && Catch::Contains("'loud'"));
    CHECK_THROWS_WITH(apply_log_options("debug", "refuse_a=debug:refuse_nobody=info"),
                      Catch::Contains("unknown logger 'refuse_nobody'") && Catch::Contains("refuse_a"));
    CHECK_THROWS_WITH(apply_log_options("debug", "refuse_a"), Catch::Contains("expected name=level"));
    CHECK_THROWS_WITH(apply_log_options("debug", "=info"), Catch::Contains("name is empty"));
    CHECK_THROWS_WITH(apply_log_options("chatty", "refuse_a=debug"), Catch::Contains("'chatty'"));
    CHECK(a.level() == log_level::error);
    CHECK(global_logger_registry().default_level() == log_level::info);
}
