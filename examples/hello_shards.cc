// Hello from every shard: starts one reactor per CPU (or --smp N), asks each shard for
// its id and the CPU it runs on, and prints the answers from shard 0.
//   build/examples/hello_shards --smp 2
#include <sched.h>

#include <fmt/core.h>

#include <vector>

#include <reef/reactor.hh>

int main(int argc, char** argv) {
    reef::app_template app({.name = "hello_shards", .description = "says hello from every shard"});
    return app.run(argc, argv, []() -> reef::future<> {
        std::vector<std::string> lines(reef::smp::count);
        // invoke_on_all runs the lambda on every shard, concurrently; each answers for
        // itself. The results come back to shard 0 through submit_to.
        for (unsigned s = 0; s < reef::smp::count; ++s) {
            lines[s] = co_await reef::smp::submit_to(s, [] {
                return fmt::format("hello from shard {} of {}, on cpu {}", reef::this_shard_id(), reef::smp::count,
                                   ::sched_getcpu());
            });
        }
        for (auto& l : lines) {
            fmt::print("{}\n", l);
        }
    });
}
