#include <reef/reactor/app_template.hh>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <reef/core/coroutine.hh>
#include <reef/reactor/log.hh>
#include <reef/reactor/smp.hh>

#include "reactor_impl.hh"

using namespace reef;

namespace {

// `s` with newlines written as \n, so that Catch's TAP output stays one line per result.
std::string escaped(std::string s) {
    std::string out;
    for (char ch : s) {
        out += ch == '\n' ? std::string("\\n") : std::string(1, ch);
    }
    return out;
}

// What one run() printed and returned.
struct outcome {
    int code = -1;
    std::string out;
    std::string err;
};

// Reads and removes a temporary file.
std::string slurp(FILE* f) {
    std::fflush(f);
    std::rewind(f);
    std::string s;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof(buf), f)) {
        s.append(buf, n);
    }
    std::fclose(f);
    return s;
}

bool has_backend_env() {
    const char* b = std::getenv("REEF_BACKEND");
    return b && *b;
}

// Runs `app` with `args` (the backend under test added), capturing stdout and stderr.
template <typename Func>
outcome run_app(app_template& app, std::vector<std::string> args, Func&& func, bool add_backend = true) {
    std::vector<std::string> all{"test-app"};
    if (add_backend && has_backend_env()) {
        all.push_back("--reactor-backend");
        all.push_back(std::getenv("REEF_BACKEND"));
    }
    all.insert(all.end(), args.begin(), args.end());
    std::vector<const char*> argv;
    for (auto& a : all) {
        argv.push_back(a.c_str());
    }
    FILE* out = std::tmpfile();
    FILE* err = std::tmpfile();
    REQUIRE(out);
    REQUIRE(err);
    std::fflush(stdout);
    std::fflush(stderr);
    int saved_out = ::dup(1);
    int saved_err = ::dup(2);
    ::dup2(::fileno(out), 1);
    ::dup2(::fileno(err), 2);
    outcome o;
    try {
        o.code = app.run(int(argv.size()), argv.data(), std::forward<Func>(func));
    } catch (...) {
        std::fflush(stdout);
        std::fflush(stderr);
        ::dup2(saved_out, 1);
        ::dup2(saved_err, 2);
        throw;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    ::dup2(saved_out, 1);
    ::dup2(saved_err, 2);
    ::close(saved_out);
    ::close(saved_err);
    o.out = slurp(out);
    o.err = slurp(err);
    return o;
}

std::vector<std::string> shared_machine() {
    return {"--overprovisioned"};
}

app_template make_app() {
    return app_template({.name = "test-app", .description = "an app under test", .version = "1.2"});
}

}  // namespace

TEST_CASE("run() returns the function's value as the exit code") {
    app_template app({.name = "test-app"});
    auto o = run_app(app, shared_machine(), [] { return make_ready_future<int>(7); });
    REQUIRE(o.code == 7);
    REQUIRE(o.err.empty());
}

TEST_CASE("a function without a value exits with 0") {
    app_template app({.name = "test-app"});
    bool ran = false;
    auto o = run_app(app, shared_machine(), [&]() -> future<> {
        ran = true;
        co_return;
    });
    REQUIRE(ran);
    REQUIRE(o.code == 0);
}

TEST_CASE("a failing function exits with 1 and its error on one line of stderr") {
    app_template app({.name = "test-app"});
    auto o = run_app(app, shared_machine(), []() -> future<int> {
        co_await coroutine::maybe_yield();
        throw std::runtime_error("disk on fire\nsecond line");
    });
    REQUIRE(o.code == 1);
    REQUIRE(escaped(o.err) == escaped("test-app: error: disk on fire second line\n"));
}

TEST_CASE("a function that throws before returning a future also exits with 1") {
    app_template app({.name = "test-app"});
    // Not a coroutine: the throw happens inside the call itself.
    auto o = run_app(app, shared_machine(),
                     []() -> future<int> { throw std::invalid_argument("bad input file"); });
    REQUIRE(o.code == 1);
    REQUIRE(escaped(o.err) == escaped("test-app: error: bad input file\n"));
}

TEST_CASE("bad command lines exit with 2 and one line on stderr, without running the function") {
    auto lines = [](const std::string& s) { return std::count(s.begin(), s.end(), '\n'); };
    struct bad_case {
        std::vector<std::string> args;
        std::string message;
    };
    std::vector<bad_case> cases{
        {{"--no-such-option"}, "unrecognised option '--no-such-option'"},
        {{"--smp"}, "option '--smp': needs a value"},
        {{"--smp", "0"}, "option '--smp': must be at least 1, got '0'"},
        {{"--smp", "many"}, "option '--smp': expected a non-negative integer, got 'many'"},
        {{"--task-quota-ms", "0"}, "option '--task-quota-ms': must be greater than 0, got '0'"},
        {{"--cpuset", "1000"}, "option '--cpuset': CPU 1000 is not available to this process"},
        {{"--memory", "lots"}, "option '--memory': expected a size such as 4096, 512M or 4G, got 'lots'"},
        {{"--reactor-backend", "kqueue"},
         "option '--reactor-backend': unknown reactor backend 'kqueue' (available: "},
        {{"--default-log-level", "loud"}, "option '--default-log-level': unknown log level 'loud'"},
        {{"--port", "99999"}, "option '--port': must be at most 65535, got '99999'"},
        {{"stray"}, "unexpected argument 'stray'"},
    };
    for (auto& c : cases) {
        INFO(c.args[0]);
        app_template app({.name = "test-app"});
        app.add_options()("port", value<unsigned>(80).max(65535), "port");
        bool ran = false;
        auto o = run_app(
            app, c.args,
            [&] {
                ran = true;
                return make_ready_future<int>(0);
            },
            false);
        REQUIRE(o.code == 2);
        REQUIRE_FALSE(ran);
        REQUIRE(lines(o.err) == 1);
        REQUIRE_THAT(escaped(o.err), Catch::StartsWith("test-app: error: " + c.message));
        REQUIRE_THAT(escaped(o.err), Catch::EndsWith("(see --help)\\n"));
        REQUIRE(o.out.empty());
    }
}

TEST_CASE("--help prints every group and exits with 0 without running the function") {
    auto app = make_app();
    app.add_options()("port", value<unsigned>(8080), "port to listen on")("verbose", "say more");
    bool ran = false;
    auto o = run_app(app, {"--help"}, [&] {
        ran = true;
        return make_ready_future<int>(3);
    });
    REQUIRE(o.code == 0);
    REQUIRE_FALSE(ran);
    REQUIRE(o.err.empty());
    REQUIRE_THAT(escaped(o.out), Catch::StartsWith("Usage: test-app [options]\\nan app under test\\n"));
    for (auto s : {"General options:",
                   "--help",
                   "--version",
                   "Application options:",
                   "--port N",
                   "port to listen on",
                   "(default: 8080)",
                   "--verbose",
                   "Reactor options:",
                   "--smp N",
                   "--cpuset CPUS",
                   "--memory SIZE",
                   "--reactor-backend NAME",
                   "--task-quota-ms X",
                   "--blocked-reactor-notify-ms N",
                   "--poll-mode",
                   "--idle-poll-time-us N",
                   "--overprovisioned",
                   "Logging options:",
                   "--default-log-level LEVEL",
                   "--logger-log-level"}) {
        INFO(s);
        REQUIRE(o.out.find(s) != std::string::npos);
    }
}

TEST_CASE("--version prints the name and version and exits with 0") {
    auto app = make_app();
    auto o = run_app(app, {"--version"}, [] { return make_ready_future<int>(3); });
    REQUIRE(o.code == 0);
    REQUIRE(escaped(o.out) == escaped("test-app 1.2\n"));
}

TEST_CASE("the application's options and the reactor's are readable inside the function") {
    auto app = make_app();
    // clang-format off
    app.add_options()
        ("port", value<unsigned>(8080), "port")
        ("host", value<std::string>("localhost"), "host")
        ("verbose", "say more")
        ("ratio", value<double>(), "a ratio");
    // clang-format on
    unsigned port = 0;
    std::string host;
    bool verbose = false;
    bool has_ratio = true;
    double quota_ms = 0;
    auto o = run_app(app, {"--port=9000", "--verbose", "--task-quota-ms", "0.75", "--overprovisioned"}, [&] {
        auto& c = app.configuration();
        port = c["port"].as<unsigned>();
        host = c["host"].as<std::string>();
        verbose = c["verbose"].as<bool>();
        has_ratio = c.contains("ratio");
        quota_ms = c["task-quota-ms"].as<double>();
        return make_ready_future<int>(0);
    });
    REQUIRE(o.code == 0);
    REQUIRE(port == 9000);
    REQUIRE(host == "localhost");
    REQUIRE(verbose);
    REQUIRE_FALSE(has_ratio);
    REQUIRE(quota_ms == 0.75);
    REQUIRE(app.smp_configuration().reactor.task_quota == std::chrono::microseconds(750));
}

TEST_CASE("--smp 2 --overprovisioned runs two shards, the function on shard 0") {
    app_template app({.name = "test-app"});
    unsigned count = 0, where = 99, other = 99;
    auto o = run_app(app, {"--smp", "2", "--overprovisioned"}, [&]() -> future<int> {
        count = smp::count;
        where = this_shard_id();
        other = co_await smp::submit_to(1, [] { return this_shard_id(); });
        co_return 0;
    });
    REQUIRE(o.code == 0);
    REQUIRE(count == 2);
    REQUIRE(where == 0);
    REQUIRE(other == 1);
}

TEST_CASE("--smp 1 runs one shard") {
    app_template app({.name = "test-app"});
    unsigned count = 0;
    auto o = run_app(app, {"--smp", "1", "--overprovisioned"}, [&] {
        count = smp::count;
        return make_ready_future<int>(0);
    });
    REQUIRE(o.code == 0);
    REQUIRE(count == 1);
}

TEST_CASE("the chosen reactor backend is used") {
    if (!has_backend_env()) {
        return;
    }
    app_template app({.name = "test-app"});
    std::string used;
    auto o = run_app(app, shared_machine(), [&] {
        used = std::string(detail::this_reactor().io().name());
        return make_ready_future<int>(0);
    });
    REQUIRE(o.code == 0);
    REQUIRE(used == std::getenv("REEF_BACKEND"));
}

TEST_CASE("request_app_stop() from another shard resolves stop_requested() with its code") {
    app_template app({.name = "test-app"});
    auto o = run_app(app, {"--smp", "2", "--overprovisioned"}, [&]() -> future<int> {
        co_await smp::submit_to(1, [] { request_app_stop(5); });
        co_return co_await app.stop_requested();
    });
    REQUIRE(o.code == 5);
}

TEST_CASE("the first stop request wins and many waiters see it") {
    app_template app({.name = "test-app"});
    auto o = run_app(app, {"--smp", "2", "--overprovisioned"}, [&]() -> future<int> {
        auto a = app.stop_requested();
        auto b = smp::submit_to(1, [] { return app_template::stop_requested(); });
        app_template::request_stop(4);
        request_app_stop(9);
        int x = co_await std::move(a);
        int y = co_await std::move(b);
        co_return x * 10 + y;
    });
    REQUIRE(o.code == 44);
}

TEST_CASE("a function without a value exits with the code of the stop request") {
    app_template app({.name = "test-app"});
    auto o = run_app(app, shared_machine(), [&]() -> future<> {
        request_app_stop(3);
        co_await app.stop_requested();
    });
    REQUIRE(o.code == 3);
}

TEST_CASE("SIGTERM to the process resolves stop_requested() with 0") {
    app_template app({.name = "test-app"});
    auto o = run_app(app, {"--smp", "2", "--overprovisioned"}, [&]() -> future<int> {
        ::kill(::getpid(), SIGTERM);
        int code = co_await app.stop_requested();
        co_return code + 20;
    });
    REQUIRE(o.code == 20);
    REQUIRE(o.err.empty());
    // The signal is handled by the previous disposition again, and no longer blocked.
    sigset_t mask;
    ::pthread_sigmask(SIG_BLOCK, nullptr, &mask);
    REQUIRE_FALSE(sigismember(&mask, SIGTERM));
    REQUIRE_FALSE(sigismember(&mask, SIGINT));
}

TEST_CASE("stop_requested() outside a running application fails with logic_error") {
    auto f = app_template::stop_requested();
    REQUIRE(f.failed());
    REQUIRE_THROWS_AS(f.get(), std::logic_error);
    request_app_stop(1);  // does nothing
}

TEST_CASE("an application can run again after the previous run ended") {
    for (int i = 0; i < 3; ++i) {
        app_template app({.name = "test-app"});
        auto o = run_app(app, shared_machine(), [i] { return make_ready_future<int>(i); });
        REQUIRE(o.code == i);
    }
}

TEST_CASE("the logging options set the levels of the loggers") {
    static logger app_log("app-template-test");
    static logger other_log("app-template-other");
    app_template app({.name = "test-app"});
    log_level seen = log_level::info, other = log_level::info;
    auto o = run_app(
        app,
        {"--overprovisioned", "--default-log-level", "warn", "--logger-log-level", "app-template-test=trace"},
        [&] {
            seen = app_log.level();
            other = other_log.level();
            return make_ready_future<int>(0);
        });
    REQUIRE(o.code == 0);
    REQUIRE(seen == log_level::trace);
    REQUIRE(other == log_level::warn);
    global_logger_registry().set_all_levels(log_level::info);
}

TEST_CASE("--logger-log-level naming an unknown logger is a bad command line") {
    app_template app({.name = "test-app"});
    bool ran = false;
    auto o = run_app(app, {"--logger-log-level", "no-such-logger=debug"}, [&] {
        ran = true;
        return make_ready_future<int>(0);
    });
    REQUIRE(o.code == 2);
    REQUIRE_FALSE(ran);
    REQUIRE_THAT(
        escaped(o.err),
        Catch::StartsWith("test-app: error: option '--logger-log-level': unknown logger 'no-such-logger'"));
    REQUIRE(std::count(o.err.begin(), o.err.end(), '\n') == 1);
}
