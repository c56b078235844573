// The harness: registry, command line, calibration, repetitions, statistics, the human
// table and JSON reports, and the allocation/task budget gate.
#include "bench.hh"

#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <reef/core/detail/task_alloc.hh>
#include <reef/core/scheduler.hh>

#ifndef REEF_BENCH_SOURCE_DIR
#define REEF_BENCH_SOURCE_DIR ""
#endif
#ifndef REEF_BENCH_BUILD_TYPE
#define REEF_BENCH_BUILD_TYPE "unknown"
#endif

namespace reef::bench {

namespace {

using clock_type = std::chrono::steady_clock;

struct entry {
    std::string name;
    std::string description;
    std::uint64_t ops_per_iteration;
    sync_body sync;
    async_body async;
};

std::vector<entry>& registry() {
    static std::vector<entry> r;
    return r;
}

bool register_entry(entry e) {
    if (e.ops_per_iteration == 0) {
        std::fprintf(stderr, "bench: %s: ops_per_iteration must be at least 1\n", e.name.c_str());
        std::abort();
    }
    for (auto& o : registry()) {
        if (o.name == e.name) {
            std::fprintf(stderr, "bench: two benchmarks are named %s\n", e.name.c_str());
            std::abort();
        }
    }
    registry().push_back(std::move(e));
    return true;
}

// ---------------------------------------------------------------------------------------
// Running one repetition

/// The one place that knows how a benchmark's future is driven to completion. Today it
/// runs this thread's standalone scheduler (reef::sync_wait). A reactor-hosted runner
/// replaces this function: it would hand the future to the shard's reactor and return
/// when it has resolved, with the same counters still read around the call.
runner_hooks g_runner{};

void run_to_completion(future<> f) {
    if (g_runner.drive) {
        g_runner.drive(f);
        f.get();
        return;
    }
    reef::sync_wait(std::move(f));
}

struct counts {
    std::uint64_t heap = 0;         // global operator new calls
    std::uint64_t task_allocs = 0;  // reef::task_allocations(): task and frame allocations
    std::uint64_t tasks = 0;        // reef::tasks_run()

    counts operator-(const counts& o) const noexcept {
        return {heap - o.heap, task_allocs - o.task_allocs, tasks - o.tasks};
    }
};

counts snapshot() noexcept {
    return {heap_allocations(), reef::task_allocations(), reef::tasks_run()};
}

struct sample {
    double seconds;
    counts delta;
};

sample run_once(entry& e, std::uint64_t iterations) {
    counts before = snapshot();
    auto t0 = clock_type::now();
    if (e.async) {
        run_to_completion(e.async(iterations));
    } else {
        e.sync(iterations);
    }
    auto t1 = clock_type::now();
    counts after = snapshot();
    return {std::chrono::duration<double>(t1 - t0).count(), after - before};
}

// ---------------------------------------------------------------------------------------
// Configuration

struct config {
    std::string filter;
    bool list = false;
    bool json = false;
    bool quick = false;
    bool reverse = false;
    unsigned reps = 15;
    double min_time_ms = 20;
    unsigned warmup = 1;
    int cpu = -1;
    std::string budget_file;
};

void print_usage(const char* argv0) {
    std::printf(
        "usage: %s [options]\n"
        "  --filter RE        run benchmarks whose name matches RE (a regex, or a plain\n"
        "                     substring if RE is not a valid regex)\n"
        "  --list             list the benchmarks and exit\n"
        "  --json             print one JSON object instead of the table\n"
        "  --reps N           measured repetitions per benchmark (default 15)\n"
        "  --min-time-ms MS   target duration of one repetition (default 20)\n"
        "  --warmup N         unmeasured repetitions after calibration (default 1)\n"
        "  --quick            3 repetitions of ~2 ms: for CI (explicit --reps etc. win)\n"
        "  --cpu N            pin the process to CPU N\n"
        "  --reverse          run the selected benchmarks in reverse order (alternate the\n"
        "                     order between runs so that drift does not favour one end)\n"
        "  --check-budget F   exit 1 if allocations or tasks per op exceed the budget in F\n",
        argv0);
}

template <typename T>
bool parse_number(std::string_view s, T& out) {
    if constexpr (std::is_floating_point_v<T>) {
        std::string copy(s);
        char* end = nullptr;
        double v = std::strtod(copy.c_str(), &end);
        if (copy.empty() || *end != '\0' || !(v > 0)) {
            return false;
        }
        out = static_cast<T>(v);
        return true;
    } else {
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
        return ec == std::errc() && p == s.data() + s.size();
    }
}

/// Parses argv into `cfg`. Returns an exit status to stop with, or nullopt to go on.
std::optional<int> parse_args(int argc, char** argv, config& cfg) {
    bool reps_set = false, time_set = false, warmup_set = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&](std::string_view opt) -> std::optional<std::string_view> {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "bench: %.*s needs a value\n", int(opt.size()), opt.data());
                return std::nullopt;
            }
            return std::string_view(argv[++i]);
        };
        auto bad = [&](std::string_view opt, std::string_view v) {
            std::fprintf(stderr, "bench: bad value for %.*s: '%.*s'\n", int(opt.size()), opt.data(),
                         int(v.size()), v.data());
            return 1;
        };
        if (a == "--help" || a == "-h") {
            print_usage(argv[0]);
            return 0;
        } else if (a == "--list") {
            cfg.list = true;
        } else if (a == "--json") {
            cfg.json = true;
        } else if (a == "--quick") {
            cfg.quick = true;
        } else if (a == "--reverse") {
            cfg.reverse = true;
        } else if (a == "--filter") {
            auto v = value(a);
            if (!v) {
                return 1;
            }
            cfg.filter = *v;
        } else if (a == "--reps") {
            auto v = value(a);
            if (!v || !parse_number(*v, cfg.reps) || cfg.reps == 0) {
                return v ? bad(a, *v) : 1;
            }
            reps_set = true;
        } else if (a == "--min-time-ms") {
            auto v = value(a);
            if (!v || !parse_number(*v, cfg.min_time_ms)) {
                return v ? bad(a, *v) : 1;
            }
            time_set = true;
        } else if (a == "--warmup") {
            auto v = value(a);
            if (!v || !parse_number(*v, cfg.warmup)) {
                return v ? bad(a, *v) : 1;
            }
            warmup_set = true;
        } else if (a == "--cpu") {
            auto v = value(a);
            if (!v || !parse_number(*v, cfg.cpu) || cfg.cpu < 0) {
                return v ? bad(a, *v) : 1;
            }
        } else if (a == "--check-budget") {
            auto v = value(a);
            if (!v) {
                return 1;
            }
            cfg.budget_file = *v;
        } else {
            std::fprintf(stderr, "bench: unknown argument '%s' (try --help)\n", argv[i]);
            return 1;
        }
    }
    if (cfg.quick) {
        if (!reps_set) {
            cfg.reps = 3;
        }
        if (!time_set) {
            cfg.min_time_ms = 2;
        }
        if (!warmup_set) {
            cfg.warmup = 1;
        }
    }
    return std::nullopt;
}

/// Selects benchmarks by regex search, or by substring when the filter is not a regex.
class name_filter {
public:
    explicit name_filter(const std::string& f) : text_(f) {
        if (!f.empty()) {
            try {
                re_.emplace(f, std::regex::ECMAScript);
            } catch (const std::regex_error&) {
                re_.reset();
            }
        }
    }
    bool matches(const std::string& name) const {
        if (text_.empty()) {
            return true;
        }
        if (name.find(text_) != std::string::npos) {
            return true;
        }
        return re_ && std::regex_search(name, *re_);
    }

private:
    std::string text_;
    std::optional<std::regex> re_;
};

// ---------------------------------------------------------------------------------------
// Machine description

struct machine_info {
    std::string cpu_model = "unknown";
    long nproc = 0;
    std::string kernel = "unknown";
    std::string date;
    std::string git_commit;
    bool git_dirty = false;
    std::string compiler;
    std::string build_type = REEF_BENCH_BUILD_TYPE;
};

std::string trim(std::string s) {
    auto b = s.find_first_not_of(" \t\r\n");
    auto e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::optional<std::string> command_output(const std::string& cmd) {
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) {
        return std::nullopt;
    }
    std::string out;
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) {
        out += buf;
    }
    int status = ::pclose(p);
    if (status != 0) {
        return std::nullopt;
    }
    return out;
}

machine_info describe_machine() {
    machine_info m;
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; std::getline(cpuinfo, line);) {
        if (line.rfind("model name", 0) == 0) {
            if (auto colon = line.find(':'); colon != std::string::npos) {
                m.cpu_model = trim(line.substr(colon + 1));
            }
            break;
        }
    }
    m.nproc = ::sysconf(_SC_NPROCESSORS_ONLN);
    struct utsname u;
    if (::uname(&u) == 0) {
        m.kernel = std::string(u.sysname) + " " + u.release;
    }
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    m.date = date;
    std::string dir = REEF_BENCH_SOURCE_DIR;
    if (!dir.empty() && dir.find('\'') == std::string::npos) {
        // Read-only queries: GIT_OPTIONAL_LOCKS=0 keeps `status` from taking the index lock
        // that other git commands in the same tree may need.
        if (auto head = command_output("git -C '" + dir + "' rev-parse HEAD 2>/dev/null")) {
            m.git_commit = trim(*head);
            if (auto st = command_output("GIT_OPTIONAL_LOCKS=0 git -C '" + dir +
                                         "' status --porcelain --untracked-files=no 2>/dev/null")) {
                m.git_dirty = !trim(*st).empty();
            }
        }
    }
#if defined(__clang__)
    m.compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
    m.compiler = "gcc " __VERSION__;
#endif
    m.compiler = trim(m.compiler);
    return m;
}

// ---------------------------------------------------------------------------------------
// Statistics

struct result {
    const entry* e = nullptr;
    std::uint64_t iterations = 0;   // per repetition
    std::vector<double> ns_per_op;  // one per repetition, in run order
    double median = 0, min = 0, max = 0, mad = 0, p10 = 0, p90 = 0;
    double heap_per_op = 0, task_allocs_per_op = 0, allocs_per_op = 0, tasks_per_op = 0;
};

double percentile(const std::vector<double>& sorted, double q) {
    if (sorted.size() == 1) {
        return sorted[0];
    }
    double pos = q * double(sorted.size() - 1);
    auto lo = static_cast<std::size_t>(std::floor(pos));
    auto hi = std::min(lo + 1, sorted.size() - 1);
    double frac = pos - double(lo);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

/// `rep` is the counts of one run of `iterations`, `twice` of one run of 2 * iterations:
/// their difference is what `iterations` iterations cost without the per-run setup
/// (the body's own coroutine frame, vectors made once per run), so that deterministic
/// counts come out exact whatever the iteration count, build type or sanitizer.
void summarize(result& r, const counts& rep, const counts& twice) {
    std::vector<double> s = r.ns_per_op;
    std::sort(s.begin(), s.end());
    r.median = percentile(s, 0.5);
    r.min = s.front();
    r.max = s.back();
    r.p10 = percentile(s, 0.1);
    r.p90 = percentile(s, 0.9);
    std::vector<double> dev;
    for (double v : s) {
        dev.push_back(std::fabs(v - r.median));
    }
    std::sort(dev.begin(), dev.end());
    r.mad = percentile(dev, 0.5);
    double ops = double(r.iterations) * double(r.e->ops_per_iteration);
    auto marginal = [&](std::uint64_t at_n, std::uint64_t at_2n) {
        return at_2n > at_n ? double(at_2n - at_n) / ops : 0.0;
    };
    r.heap_per_op = marginal(rep.heap, twice.heap);
    r.task_allocs_per_op = marginal(rep.task_allocs, twice.task_allocs);
    r.tasks_per_op = marginal(rep.tasks, twice.tasks);
#ifdef REEF_SANITIZE
    // Sanitizer builds bypass the task cache: every task allocation is also a heap one.
    r.allocs_per_op = r.heap_per_op;
#else
    // A task allocation that misses the per-thread cache is counted twice (task and heap);
    // after calibration and warm-up the cache is warm, so that is rare.
    r.allocs_per_op = r.heap_per_op + r.task_allocs_per_op;
#endif
}

/// Calibrates, warms up and measures one benchmark.
result measure(entry& e, const config& cfg) {
    const double target = cfg.min_time_ms / 1000.0;
    std::uint64_t n = 1;
    // Calibration: grow the iteration count until one run lasts about `target`. These
    // runs double as the first warm-up.
    for (;;) {
        sample s = run_once(e, n);
        if (s.seconds >= target * 0.5 || n >= (std::uint64_t(1) << 40)) {
            double scaled = double(n) * target / std::max(s.seconds, 1e-9);
            n = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(scaled));
            break;
        }
        double grow = target * 1.2 / std::max(s.seconds, 1e-9);
        grow = std::clamp(grow, 2.0, 100.0);
        n = static_cast<std::uint64_t>(double(n) * grow);
    }
    for (unsigned i = 0; i < cfg.warmup; ++i) {
        (void)run_once(e, n);
    }
    result r;
    r.e = &e;
    r.iterations = n;
    counts last;
    for (unsigned i = 0; i < cfg.reps; ++i) {
        sample s = run_once(e, n);
        last = s.delta;
        r.ns_per_op.push_back(s.seconds * 1e9 / (double(n) * double(e.ops_per_iteration)));
    }
    sample twice = run_once(e, 2 * n);  // counted, not timed
    summarize(r, last, twice.delta);
    return r;
}

// ---------------------------------------------------------------------------------------
// Output

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

std::string json_number(double v) {
    if (!std::isfinite(v)) {
        return "null";
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

void print_json(const machine_info& m, const config& cfg, const std::vector<result>& results) {
    std::ostringstream o;
    o << "{\n";
    o << "  \"machine\": {\"cpu_model\": " << json_string(m.cpu_model) << ", \"nproc\": " << m.nproc
      << ", \"kernel\": " << json_string(m.kernel) << "},\n";
    o << "  \"date\": " << json_string(m.date) << ",\n";
    o << "  \"git_commit\": " << (m.git_commit.empty() ? "null" : json_string(m.git_commit)) << ",\n";
    o << "  \"git_dirty\": " << (m.git_dirty ? "true" : "false") << ",\n";
    o << "  \"compiler\": " << json_string(m.compiler) << ",\n";
    o << "  \"build_type\": " << json_string(m.build_type) << ",\n";
    o << "  \"runner\": " << json_string(g_runner.name ? g_runner.name : "standalone sync_wait") << ",\n";
    o << "  \"config\": {\"reps\": " << cfg.reps << ", \"min_time_ms\": " << json_number(cfg.min_time_ms)
      << ", \"warmup\": " << cfg.warmup << ", \"quick\": " << (cfg.quick ? "true" : "false")
      << ", \"reverse\": " << (cfg.reverse ? "true" : "false")
      << ", \"cpu\": " << (cfg.cpu >= 0 ? std::to_string(cfg.cpu) : "null")
      << ", \"filter\": " << json_string(cfg.filter) << "},\n";
    o << "  \"spread\": \"mad_ns is the median absolute deviation of the per-repetition ns/op\",\n";
    o << "  \"counts\": \"per op: (count of a run of 2n iterations - count of a run of n) / (n * "
         "ops_per_iteration); allocs = heap + task allocations\",\n";
    o << "  \"results\": [";
    for (std::size_t i = 0; i < results.size(); ++i) {
        const result& r = results[i];
        o << (i ? ",\n" : "\n");
        o << "    {\"name\": " << json_string(r.e->name)
          << ", \"description\": " << json_string(r.e->description)
          << ", \"ops_per_iteration\": " << r.e->ops_per_iteration << ", \"iterations\": " << r.iterations
          << ", \"reps\": " << r.ns_per_op.size() << ",\n     \"median_ns\": " << json_number(r.median)
          << ", \"min_ns\": " << json_number(r.min) << ", \"max_ns\": " << json_number(r.max)
          << ", \"mad_ns\": " << json_number(r.mad) << ", \"p10_ns\": " << json_number(r.p10)
          << ", \"p90_ns\": " << json_number(r.p90)
          << ",\n     \"allocs_per_op\": " << json_number(r.allocs_per_op)
          << ", \"heap_allocs_per_op\": " << json_number(r.heap_per_op)
          << ", \"task_allocs_per_op\": " << json_number(r.task_allocs_per_op)
          << ", \"tasks_per_op\": " << json_number(r.tasks_per_op) << ",\n     \"rep_ns\": [";
        for (std::size_t j = 0; j < r.ns_per_op.size(); ++j) {
            o << (j ? ", " : "") << json_number(r.ns_per_op[j]);
        }
        o << "]}";
    }
    o << "\n  ]\n}\n";
    std::fputs(o.str().c_str(), stdout);
}

void print_header(const machine_info& m, const config& cfg) {
    std::printf("# %s, %ld CPUs, %s; %s, %s build; %s%s\n", m.cpu_model.c_str(), m.nproc, m.kernel.c_str(),
                m.compiler.c_str(), m.build_type.c_str(),
                m.git_commit.empty() ? "no git commit" : m.git_commit.substr(0, 12).c_str(),
                m.git_dirty ? " (dirty)" : "");
    std::printf("# %u reps of ~%g ms, %u warm-up; cpu %s; spread = median absolute deviation; per op\n",
                cfg.reps, cfg.min_time_ms, cfg.warmup,
                cfg.cpu >= 0 ? std::to_string(cfg.cpu).c_str() : "not pinned");
    std::printf("# allocs = heap + task allocations; task-al = task and coroutine-frame allocations alone\n");
    std::printf("%-44s %10s %8s %10s %10s %9s %9s %9s\n", "benchmark", "median ns", "+-mad", "min", "max",
                "allocs", "task-al", "tasks");
}

void print_row(const result& r) {
    std::printf("%-44s %10.2f %8.2f %10.2f %10.2f %9.3f %9.3f %9.3f\n", r.e->name.c_str(), r.median, r.mad,
                r.min, r.max, r.allocs_per_op, r.task_allocs_per_op, r.tasks_per_op);
    std::fflush(stdout);
}

// ---------------------------------------------------------------------------------------
// Budgets: a small JSON reader, enough for the budget files.

struct json_value {
    enum class kind { null, boolean, number, string, array, object } k = kind::null;
    bool b = false;
    double num = 0;
    std::string str;
    std::vector<json_value> arr;
    std::vector<std::string> keys;  // an object: keys[i] names values[i]
    std::vector<json_value> values;

    const json_value* find(std::string_view key) const {
        for (std::size_t i = 0; i < keys.size(); ++i) {
            if (keys[i] == key) {
                return &values[i];
            }
        }
        return nullptr;
    }
};

class json_reader {
public:
    explicit json_reader(std::string_view text) : s_(text) {}

    json_value parse() {
        json_value v = value();
        ws();
        if (i_ != s_.size()) {
            fail("trailing characters");
        }
        return v;
    }

private:
    [[noreturn]] void fail(const char* what) const {
        throw std::runtime_error(std::string(what) + " at offset " + std::to_string(i_));
    }
    void ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) {
            ++i_;
        }
    }
    bool eat(char c) {
        ws();
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    void expect(char c) {
        if (!eat(c)) {
            fail(("expected '" + std::string(1, c) + "'").c_str());
        }
    }
    bool literal(std::string_view w) {
        if (s_.substr(i_, w.size()) == w) {
            i_ += w.size();
            return true;
        }
        return false;
    }
    std::string string() {
        expect('"');
        std::string out;
        while (i_ < s_.size() && s_[i_] != '"') {
            char c = s_[i_++];
            if (c == '\\') {
                if (i_ >= s_.size()) {
                    fail("bad escape");
                }
                char e = s_[i_++];
                switch (e) {
                    case 'n':
                        out += '\n';
                        break;
                    case 't':
                        out += '\t';
                        break;
                    case 'r':
                        out += '\r';
                        break;
                    case 'b':
                        out += '\b';
                        break;
                    case 'f':
                        out += '\f';
                        break;
                    case 'u':
                        // Budget files are ASCII; keep \uXXXX escapes as they are.
                        out += "\\u";
                        break;
                    default:
                        out += e;
                }
            } else {
                out += c;
            }
        }
        if (i_ >= s_.size()) {
            fail("unterminated string");
        }
        ++i_;
        return out;
    }
    json_value value() {
        ws();
        if (i_ >= s_.size()) {
            fail("unexpected end");
        }
        json_value v;
        char c = s_[i_];
        if (c == '{') {
            ++i_;
            v.k = json_value::kind::object;
            if (eat('}')) {
                return v;
            }
            do {
                ws();
                std::string key = string();
                expect(':');
                v.keys.push_back(std::move(key));
                v.values.push_back(value());
            } while (eat(','));
            expect('}');
        } else if (c == '[') {
            ++i_;
            v.k = json_value::kind::array;
            if (eat(']')) {
                return v;
            }
            do {
                v.arr.push_back(value());
            } while (eat(','));
            expect(']');
        } else if (c == '"') {
            v.k = json_value::kind::string;
            v.str = string();
        } else if (literal("true")) {
            v.k = json_value::kind::boolean;
            v.b = true;
        } else if (literal("false")) {
            v.k = json_value::kind::boolean;
        } else if (literal("null")) {
            v.k = json_value::kind::null;
        } else {
            std::size_t start = i_;
            while (i_ < s_.size() && std::strchr("+-0123456789.eE", s_[i_])) {
                ++i_;
            }
            std::string num(s_.substr(start, i_ - start));
            char* end = nullptr;
            v.num = std::strtod(num.c_str(), &end);
            if (num.empty() || *end != '\0') {
                fail("bad value");
            }
            v.k = json_value::kind::number;
        }
        return v;
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

struct budget {
    std::optional<double> allocs;
    std::optional<double> tasks;
    double tolerance;
};

/// Reads a budget file: {"tolerance": T, "benchmarks": {"name": {"allocs": A, "tasks": K,
/// "tolerance": T2?}}}. Keys starting with '_' are comments. Throws on a malformed file.
std::map<std::string, budget> read_budgets(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        throw std::runtime_error("cannot open " + path);
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    json_value root = json_reader(text).parse();
    if (root.k != json_value::kind::object) {
        throw std::runtime_error("the top level is not an object");
    }
    double tol = 0;
    if (auto* t = root.find("tolerance")) {
        if (t->k != json_value::kind::number || t->num < 0) {
            throw std::runtime_error("\"tolerance\" is not a non-negative number");
        }
        tol = t->num;
    }
    auto* list = root.find("benchmarks");
    if (!list || list->k != json_value::kind::object) {
        throw std::runtime_error("no \"benchmarks\" object");
    }
    std::map<std::string, budget> out;
    for (std::size_t i = 0; i < list->keys.size(); ++i) {
        const std::string& name = list->keys[i];
        const json_value& v = list->values[i];
        if (!name.empty() && name[0] == '_') {
            continue;
        }
        if (v.k != json_value::kind::object) {
            throw std::runtime_error("the budget of " + name + " is not an object");
        }
        budget b{std::nullopt, std::nullopt, tol};
        for (std::size_t j = 0; j < v.keys.size(); ++j) {
            const std::string& key = v.keys[j];
            const json_value& x = v.values[j];
            if (!key.empty() && key[0] == '_') {
                continue;
            }
            if (x.k != json_value::kind::number || x.num < 0) {
                throw std::runtime_error(name + ": \"" + key + "\" is not a non-negative number");
            }
            if (key == "allocs") {
                b.allocs = x.num;
            } else if (key == "tasks") {
                b.tasks = x.num;
            } else if (key == "tolerance") {
                b.tolerance = x.num;
            } else {
                throw std::runtime_error(name + ": unknown key \"" + key + "\" (allocs, tasks, tolerance)");
            }
        }
        out.emplace(name, b);
    }
    return out;
}

/// Compares the counts of `results` with the budgets in `path`; prints every breach.
/// Returns true when all are within budget.
bool check_budgets(const std::string& path, const std::vector<result>& results, bool filtered) {
    std::map<std::string, budget> budgets;
    try {
        budgets = read_budgets(path);
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "bench: budget file %s: %s\n", path.c_str(), ex.what());
        return false;
    }
    bool ok = true;
    for (const result& r : results) {
        auto it = budgets.find(r.e->name);
        if (it == budgets.end()) {
            std::fprintf(
                stderr,
                "bench: BUDGET MISSING: %s has no entry in %s (measured %.3f allocations and %.3f tasks "
                "per op); add one\n",
                r.e->name.c_str(), path.c_str(), r.allocs_per_op, r.tasks_per_op);
            ok = false;
            continue;
        }
        const budget& b = it->second;
        auto check = [&](const char* what, double measured, const std::optional<double>& limit) {
            if (limit && measured > *limit + b.tolerance) {
                std::fprintf(stderr,
                             "bench: BUDGET EXCEEDED: %s: %.4f %s per op > budget %g (tolerance %g) in %s\n",
                             r.e->name.c_str(), measured, what, *limit, b.tolerance, path.c_str());
                ok = false;
            }
        };
        check("allocations", r.allocs_per_op, b.allocs);
        check("tasks", r.tasks_per_op, b.tasks);
        budgets.erase(it);
    }
    if (!filtered) {
        for (auto& [name, b] : budgets) {
            std::fprintf(stderr, "bench: note: budget for %s matches no benchmark of this program\n",
                         name.c_str());
        }
    }
    if (ok) {
        std::fprintf(stderr, "bench: %zu benchmark(s) within the budgets of %s\n", results.size(),
                     path.c_str());
    }
    return ok;
}

}  // namespace

namespace detail {

bool add_sync(std::string name, sync_body body, options opts) {
    return register_entry(entry{std::move(name), std::string(opts.description), opts.ops_per_iteration,
                                std::move(body), nullptr});
}

bool add_async(std::string name, async_body body, options opts) {
    return register_entry(entry{std::move(name), std::string(opts.description), opts.ops_per_iteration,
                                nullptr, std::move(body)});
}

}  // namespace detail

void set_runner(runner_hooks hooks) noexcept {
    g_runner = hooks;
}

int run_main(int argc, char** argv) {
    config cfg;
    if (auto status = parse_args(argc, argv, cfg)) {
        return *status;
    }
    name_filter filter(cfg.filter);
    std::vector<entry*> selected;
    for (auto& e : registry()) {
        if (filter.matches(e.name)) {
            selected.push_back(&e);
        }
    }
    if (cfg.reverse) {
        std::reverse(selected.begin(), selected.end());
    }
    if (cfg.list) {
        for (auto* e : selected) {
            std::printf("%-44s %s\n", e->name.c_str(), e->description.c_str());
        }
        return 0;
    }
    if (selected.empty()) {
        std::fprintf(stderr, "bench: no benchmark matches '%s'\n", cfg.filter.c_str());
        return 1;
    }
    if (cfg.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cfg.cpu, &set);
        if (::sched_setaffinity(0, sizeof set, &set) != 0) {
            std::fprintf(stderr, "bench: cannot pin to cpu %d: %s\n", cfg.cpu, std::strerror(errno));
            return 1;
        }
    }
    machine_info m = describe_machine();
    if (!cfg.json) {
        print_header(m, cfg);
    }
    std::vector<result> results;
    for (auto* e : selected) {
        try {
            results.push_back(measure(*e, cfg));
        } catch (const std::exception& ex) {
            std::fprintf(stderr, "bench: %s failed: %s\n", e->name.c_str(), ex.what());
            return 1;
        } catch (...) {
            std::fprintf(stderr, "bench: %s failed with an unknown exception\n", e->name.c_str());
            return 1;
        }
        if (!cfg.json) {
            print_row(results.back());
        }
        if (reef::pending_tasks() != 0) {
            std::fprintf(stderr, "bench: %s left %zu task(s) queued\n", e->name.c_str(),
                         reef::pending_tasks());
            return 1;
        }
    }
    if (cfg.json) {
        print_json(m, cfg, results);
    }
    std::fflush(stdout);
    if (!cfg.budget_file.empty() && !check_budgets(cfg.budget_file, results, !cfg.filter.empty())) {
        return 1;
    }
    return 0;
}

}  // namespace reef::bench
