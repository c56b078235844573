// The Seastar peer of reactor_bench's cross-shard rows, written for the benchmark against
// Seastar's public API: shard 0 calls smp::submit_to(1, ...) with an empty function,
//   reactor/submit_to_round_trip    one call at a time, awaited (per round trip)
//   reactor/submit_to_64_in_flight  64 calls in flight, then all awaited (per message)
//   reactor/submit_to_busy_target   one at a time while shard 1 runs a CPU-bound loop that
//                                   yields only when its task quota expires (per round trip)
// measured as reactor_bench measures them: the iteration count calibrated so that one
// repetition lasts --min-time-ms, one unmeasured repetition, then --reps measured ones; the
// median, min and max ns per operation. Prints one JSON object. Seastar's own options
// (--smp 2, --reactor-backend, --idle-poll-time-us, --task-quota-ms) apply as usual.
// Built by benchmarks/peers/seastar_peer.py's compile() (benchmarks/reactor_vs_seastar.py).
//   seastar_smp_bench-HASH --smp 2 --reactor-backend epoll --memory 1G --reps 15
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <seastar/core/app-template.hh>
#include <seastar/core/coroutine.hh>
#include <seastar/core/reactor.hh>
#include <seastar/core/smp.hh>
#include <seastar/coroutine/maybe_yield.hh>

namespace ss = seastar;

namespace {

using body = std::function<ss::future<>(std::uint64_t)>;

struct bench_case {
    const char* name;
    const char* description;
    body run;
};

ss::future<> round_trips(std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) {
        co_await ss::smp::submit_to(1, [] {});
    }
}

ss::future<> in_flight_64(std::uint64_t n) {
    std::vector<ss::future<>> window;
    window.reserve(64);
    std::uint64_t sent = 0;
    while (sent < n) {
        while (sent < n && window.size() < 64) {
            window.push_back(ss::smp::submit_to(1, [] {}));
            ++sent;
        }
        for (auto& f : window) {
            co_await std::move(f);
        }
        window.clear();
    }
}

std::atomic<bool> burner_stop;

void clobber() {
    asm volatile("" ::: "memory");
}

ss::future<> busy_target(std::uint64_t n) {
    burner_stop.store(false);
    auto burner = ss::smp::submit_to(1, []() -> ss::future<> {
        while (!burner_stop.load(std::memory_order_relaxed)) {
            for (int i = 0; i < 100; ++i) {
                clobber();
            }
            co_await ss::coroutine::maybe_yield();
        }
    });
    for (std::uint64_t i = 0; i < n; ++i) {
        co_await ss::smp::submit_to(1, [] {});
    }
    burner_stop.store(true);
    co_await std::move(burner);
}

ss::future<double> timed_ns(const body& b, std::uint64_t n) {
    auto t0 = std::chrono::steady_clock::now();
    co_await b(n);
    auto t1 = std::chrono::steady_clock::now();
    co_return double(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
}

struct measured {
    std::uint64_t iterations = 0;
    std::vector<double> rep_ns;  // ns per operation of each measured repetition
};

// Calibrates the iteration count (doubling until a run lasts min_time), warms up once,
// then measures `reps` repetitions.
ss::future<measured> measure(const body& b, double min_time_ns, unsigned reps) {
    measured m;
    std::uint64_t n = 1;
    for (;;) {
        double t = co_await timed_ns(b, n);
        if (t >= min_time_ns || n >= (std::uint64_t(1) << 32)) {
            if (t > 0 && t < min_time_ns) {
                n = std::uint64_t(double(n) * min_time_ns / t) + 1;
            }
            break;
        }
        n = t > 0 ? std::max(n * 2, std::uint64_t(double(n) * min_time_ns / t * 1.2)) : n * 2;
    }
    m.iterations = n;
    co_await timed_ns(b, n);
    for (unsigned r = 0; r < reps; ++r) {
        m.rep_ns.push_back(co_await timed_ns(b, n) / double(n));
    }
    co_return m;
}

double median_of(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    auto k = v.size();
    return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

ss::future<int> run(ss::app_template& app) {
    auto& cfg = app.configuration();
    if (ss::smp::count < 2) {
        std::fprintf(stderr, "seastar_smp_bench: needs --smp 2 (or more)\n");
        co_return 2;
    }
    auto filter = cfg["filter"].as<std::string>();
    auto reps = cfg["reps"].as<unsigned>();
    auto min_time_ns = cfg["min-time-ms"].as<double>() * 1e6;
    if (reps < 1 || min_time_ns <= 0) {
        std::fprintf(stderr, "seastar_smp_bench: --reps and --min-time-ms must be positive\n");
        co_return 2;
    }
    const bench_case cases[] = {
        {"reactor/submit_to_round_trip", "one smp::submit_to to shard 1 at a time, awaited (per round trip)",
         round_trips},
        {"reactor/submit_to_64_in_flight", "smp::submit_to to shard 1 with 64 in flight (per message)", in_flight_64},
        {"reactor/submit_to_busy_target",
         "one submit_to round trip to a shard busy with CPU-bound tasks (per round trip)", busy_target},
    };
    std::string out = "{\"runner\": \"seastar, shard 0 of " + std::to_string(ss::smp::count) + "\", \"results\": [";
    bool first = true;
    for (auto& c : cases) {
        if (std::string(c.name).find(filter) == std::string::npos) {
            continue;
        }
        auto m = co_await measure(c.run, min_time_ns, reps);
        auto [lo, hi] = std::minmax_element(m.rep_ns.begin(), m.rep_ns.end());
        char head[512];
        std::snprintf(head, sizeof head,
                      "%s\n  {\"name\": \"%s\", \"description\": \"%s\", \"iterations\": %llu, \"reps\": %u, "
                      "\"median_ns\": %.6g, \"min_ns\": %.6g, \"max_ns\": %.6g, \"rep_ns\": [",
                      first ? "" : ",", c.name, c.description, (unsigned long long)m.iterations, reps,
                      median_of(m.rep_ns), *lo, *hi);
        out += head;
        for (std::size_t i = 0; i < m.rep_ns.size(); ++i) {
            char v[32];
            std::snprintf(v, sizeof v, "%s%.6g", i ? ", " : "", m.rep_ns[i]);
            out += v;
        }
        out += "]}";
        first = false;
    }
    out += "\n]}\n";
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    ss::app_template::seastar_options opts;
    opts.name = "seastar_smp_bench";
    opts.description = "reactor_bench's cross-shard rows, on Seastar";
    ss::app_template app(std::move(opts));
    namespace po = boost::program_options;
    app.add_options()("filter", po::value<std::string>()->default_value(""), "run the rows whose name holds this")(
        "reps", po::value<unsigned>()->default_value(15), "measured repetitions per row")(
        "min-time-ms", po::value<double>()->default_value(20.0), "duration of one repetition");
    return app.run(argc, argv, [&app] { return run(app); });
}
