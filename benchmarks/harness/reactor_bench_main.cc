// The main() of benchmark programs that run inside live shards: shard 0 runs the
// harness, and asynchronous bodies are driven by shard 0's reactor loop. Options of its
// own, taken out before the harness sees the command line:
//   --reactor-backend NAME   (default: the best compiled backend)
//   --smp N                  (default 2; shards are pinned to distinct CPUs)
//   --task-quota-ms MS       (default 0.5)
//   --idle-poll-time-us US   (default 200; 0 makes an idle shard sleep at once)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <reef/core/future.hh>
#include <reef/reactor/config.hh>

#include <reef/reactor/detail/runtime.hh>

#include "bench.hh"

namespace {

std::string g_runner_name;

void drive_on_reactor(reef::future<>& f) {
    reef::detail::run_loop_until([](void* p) { return static_cast<reef::future<>*>(p)->available(); }, &f);
}

}  // namespace

int main(int argc, char** argv) {
    reef::smp_config cfg;
    cfg.count = 2;
    std::vector<char*> rest{argv[0]};
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&](const char* name) -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "bench: %s needs a value\n", name);
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--reactor-backend") {
            cfg.reactor.backend = value("--reactor-backend");
        } else if (a == "--smp") {
            cfg.count = unsigned(std::strtoul(value("--smp"), nullptr, 10));
        } else if (a == "--idle-poll-time-us") {
            cfg.reactor.idle_poll_time = std::chrono::microseconds(std::strtoul(value("--idle-poll-time-us"), nullptr, 10));
        } else if (a == "--task-quota-ms") {
            cfg.reactor.task_quota = std::chrono::nanoseconds(
                static_cast<long long>(std::strtod(value("--task-quota-ms"), nullptr) * 1e6));
        } else {
            rest.push_back(argv[i]);
        }
    }
    rest.push_back(nullptr);
    int status = 1;
    try {
        status = reef::detail::start_shards(cfg, [&]() -> reef::future<int> {
            g_runner_name = "reactor, shard 0 of " + std::to_string(cfg.count) + ", backend " +
                            std::string(reef::detail::current_backend_name());
            reef::bench::set_runner({&drive_on_reactor, g_runner_name.c_str()});
            return reef::make_ready_future<int>(reef::bench::run_main(int(rest.size() - 1), rest.data()));
        });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench: %s\n", e.what());
        return 1;
    }
    return status;
}
