// A small app_template program that signals_test.cc runs as a child process: it prints
// "ready" once its signal handlers are in place, then behaves as --mode says.
//   app_child --smp 2 --overprovisioned --mode wait --exit-code 7
#include <chrono>
#include <csignal>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include <reef/core/coroutine.hh>
#include <reef/reactor/app_template.hh>
#include <reef/reactor/signals.hh>
#include <reef/reactor/smp.hh>

int main(int argc, char** argv) {
    reef::app_template app(
        {.name = "app_child", .description = "test helper of signals_test", .version = "1.2.3"});
    // clang-format off
    app.add_options()
        ("mode", reef::value<std::string>("wait").choices({"wait", "ignore", "busy", "fail", "return"}).choice_noun("mode"),
         "wait: until a stop is requested; ignore: never finish; busy: never yield; fail: throw; "
         "return: return --exit-code at once")
        ("exit-code", reef::value<int>(), "the exit code after a stop (default: the stop request's code)");
    // clang-format on
    return app.run(argc, argv, [&]() -> reef::future<int> {
        auto& cfg = app.configuration();
        const auto mode = cfg["mode"].as<std::string>();
        reef::handle_signal(SIGUSR1, [] {
            fmt::print("usr1 on shard {}\n", reef::this_shard_id());
            std::fflush(stdout);
        });
        if (mode == "fail") {
            throw std::runtime_error("child failed on purpose");
        }
        if (mode == "return") {
            co_return cfg["exit-code"].as<int>();
        }
        fmt::print("ready shards={}\n", reef::smp::count);
        std::fflush(stdout);
        if (mode == "busy") {
            // Holds shard 0 forever: not even the first stop signal's task can run.
            for (;;) {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        }
        if (mode == "ignore") {
            // Never finishes: only a second stop signal ends the process.
            reef::promise<> never;
            co_await never.get_future();
        }
        int code = co_await app.stop_requested();
        fmt::print("stop requested with code {}\n", code);
        // Cleanup that needs the other shards still works after the stop request.
        unsigned other =
            co_await reef::smp::submit_to(reef::smp::count - 1, [] { return reef::this_shard_id(); });
        fmt::print("bye from shard {}\n", other);
        std::fflush(stdout);
        co_return cfg.contains("exit-code") ? cfg["exit-code"].as<int>() : code;
    });
}
