// Hello from every shard: starts one reactor per CPU (or --smp N), asks each shard for
// its id and the CPU it runs on, and prints the answers from shard 0; then, with
// --stay-seconds, idles (the idle-CPU test measures that).
//   build/examples/hello_shards --smp 2
#include <sched.h>

#include <fmt/core.h>

#include <vector>

#include <reef/reactor.hh>

int main(int argc, char** argv) {
    reef::app_template app({.name = "hello_shards", .description = "says hello from every shard"});
    app.add_options()("stay-seconds", reef::value<unsigned>(0u),
                      "then stay idle this long (or until SIGINT/SIGTERM) before exiting");
    return app.run(argc, argv, [&]() -> reef::future<> {
        std::vector<std::string> lines(reef::smp::count);
        // submit_to runs the lambda on shard s and brings its result back to shard 0.
        for (unsigned s = 0; s < reef::smp::count; ++s) {
            lines[s] = co_await reef::smp::submit_to(s, [] {
                return fmt::format("hello from shard {} of {}, on cpu {}", reef::this_shard_id(), reef::smp::count,
                                   ::sched_getcpu());
            });
        }
        for (auto& l : lines) {
            fmt::print("{}\n", l);
        }
        if (auto stay = app.configuration()["stay-seconds"].as<unsigned>()) {
            // An idle shard sleeps in its backend: this costs (almost) no CPU.
            auto stopped = co_await reef::coroutine::as_future(reef::with_timeout(
                reef::steady_clock_type::now() + std::chrono::seconds(stay), reef::app_template::stop_requested()));
            stopped.ignore_ready_future();  // timed out (the usual case) or stopped by a signal
        }
    });
}
