// The per-thread metrics registry, owned metrics, collection, the Prometheus text
// format, and the reactor's own metrics (reactor_metrics_start/stop).
//
// Each thread has one registry: an ordered map from (name, labels) to an entry that
// holds how to read the value. A registration handle and its entry point at each
// other, so that moving the handle keeps the link and a registry that dies first (a
// thread exiting before a static metric's destructor) leaves its handles empty.
#include <reef/reactor/metrics.hh>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <iterator>
#include <map>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include <reef/reactor/scheduling_group.hh>
#include <reef/reactor/smp.hh>

#include "reactor_impl.hh"
#include "reactor_metrics.hh"
#include "shard_services.hh"

namespace reef::metrics {

namespace {

struct entry;

// The per-thread set of registered metrics.
struct registry {
    std::map<std::string, std::unique_ptr<entry>> entries;  // by key(name, labels)
    std::uint64_t next_collector = 0;
    ~registry();
};

struct entry {
    std::string key;
    std::string name;
    std::string description;
    metric_type type = metric_type::gauge;
    label_set labels;  // sorted by name
    std::function<double()> read_value;
    std::function<histogram_data()> read_histogram;
    std::function<void(std::vector<snapshot>&)> collector;
    registration* handle = nullptr;
    registry* owner = nullptr;
};

thread_local registry tl_registry;

bool is_name_start(char c, bool colon_ok) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':');
}

bool is_valid_name(std::string_view s, bool colon_ok) noexcept {
    if (s.empty() || !is_name_start(s[0], colon_ok)) {
        return false;
    }
    return std::all_of(s.begin() + 1, s.end(),
                       [&](char c) { return is_name_start(c, colon_ok) || (c >= '0' && c <= '9'); });
}

bool labels_less(const label_set& a, const label_set& b) noexcept {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](const label& x, const label& y) {
        return x.name != y.name ? x.name < y.name : x.value < y.value;
    });
}

void sort_labels(label_set& l) {
    std::sort(l.begin(), l.end(), [](const label& a, const label& b) { return a.name < b.name; });
}

// Checks a metric's name and labels and sorts the labels.
void check(const std::string& name, label_set& labels, metric_type type) {
    if (!is_valid_name(name, true)) {
        throw std::invalid_argument(fmt::format("invalid metric name '{}' (expected [a-zA-Z_:][a-zA-Z0-9_:]*)", name));
    }
    sort_labels(labels);
    for (std::size_t i = 0; i < labels.size(); ++i) {
        const auto& l = labels[i];
        if (!is_valid_name(l.name, false) || l.name.starts_with("__")) {
            throw std::invalid_argument(fmt::format(
                "metric '{}': invalid label name '{}' (expected [a-zA-Z_][a-zA-Z0-9_]*, not starting with __)", name,
                l.name));
        }
        if (i > 0 && labels[i - 1].name == l.name) {
            throw std::invalid_argument(fmt::format("metric '{}': label '{}' given twice", name, l.name));
        }
        if (type == metric_type::histogram && l.name == "le") {
            throw std::invalid_argument(fmt::format("histogram '{}': the label 'le' is reserved for buckets", name));
        }
    }
}

std::string describe(const std::string& name, const label_set& labels) {
    std::string s = name + "{";
    for (std::size_t i = 0; i < labels.size(); ++i) {
        s += fmt::format("{}{}=\"{}\"", i ? "," : "", labels[i].name, labels[i].value);
    }
    return s + "}";
}

// Names cannot hold \x01 or \x02, so these keys cannot collide.
std::string make_key(const std::string& name, const label_set& labels) {
    std::string k = name;
    for (const auto& l : labels) {
        k += '\x01';
        k += l.name;
        k += '\x02';
        k += l.value;
    }
    return k;
}

void check_bounds(const std::vector<double>& bounds) {
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) {
            throw std::invalid_argument("histogram bounds must be finite and strictly increasing");
        }
    }
}

}  // namespace

// The only code that touches registration::entry_.
struct registration_access {
    static entry* get(const registration& r) noexcept { return static_cast<entry*>(r.entry_); }
    static void set(registration& r, entry* e) noexcept { r.entry_ = e; }

    static registration add(std::unique_ptr<entry> e) {
        auto& reg = tl_registry;
        if (reg.entries.count(e->key)) {
            throw std::invalid_argument(fmt::format("metric {} is already registered on this shard",
                                                    describe(e->name, e->labels)));
        }
        e->owner = &reg;
        entry* raw = e.get();
        reg.entries.emplace(raw->key, std::move(e));
        registration r;
        set(r, raw);
        raw->handle = &r;  // moved out below: the move constructor repoints it
        return r;
    }
};

namespace {

registry::~registry() {
    for (auto& [key, e] : entries) {
        if (e->handle) {
            registration_access::set(*e->handle, nullptr);
        }
    }
}

registration add_metric(std::string name, metric_type type, std::string description, label_set labels,
                        std::function<double()> read_value, std::function<histogram_data()> read_histogram) {
    check(name, labels, type);
    auto e = std::make_unique<entry>();
    e->key = make_key(name, labels);
    e->name = std::move(name);
    e->description = std::move(description);
    e->type = type;
    e->labels = std::move(labels);
    e->read_value = std::move(read_value);
    e->read_histogram = std::move(read_histogram);
    return registration_access::add(std::move(e));
}

// Adds shard="<id>" unless the series has a shard label; keeps the labels sorted.
void add_shard_label(label_set& labels, const std::string& shard) {
    auto it = std::lower_bound(labels.begin(), labels.end(), std::string_view("shard"),
                               [](const label& l, std::string_view n) { return l.name < n; });
    if (it == labels.end() || it->name != "shard") {
        labels.insert(it, label{"shard", shard});
    }
}

// The value as Prometheus writes it: integers without a fraction, +Inf, -Inf, NaN.
void append_value(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
    } else if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
    } else {
        fmt::format_to(std::back_inserter(out), "{}", v);
    }
}

void append_escaped(std::string& out, std::string_view s, bool quote) {
    for (char c : s) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (quote && c == '"') {
            out += "\\\"";
        } else {
            out += c;
        }
    }
}

// {a="x",b="y"} plus an optional le="..." last; nothing when there are no labels.
void append_labels(std::string& out, const label_set& labels, const char* le = nullptr, double le_value = 0) {
    if (labels.empty() && !le) {
        return;
    }
    out += '{';
    bool first = true;
    for (const auto& l : labels) {
        if (!first) {
            out += ',';
        }
        first = false;
        out += l.name;
        out += "=\"";
        append_escaped(out, l.value, true);
        out += '"';
    }
    if (le) {
        if (!first) {
            out += ',';
        }
        out += "le=\"";
        if (*le) {
            out += le;
        } else {
            append_value(out, le_value);
        }
        out += '"';
    }
    out += '}';
}

}  // namespace

std::string_view to_string(metric_type t) noexcept {
    switch (t) {
    case metric_type::counter:
        return "counter";
    case metric_type::gauge:
        return "gauge";
    case metric_type::histogram:
        return "histogram";
    }
    return "untyped";
}

// ---- registration -----------------------------------------------------------------

registration::registration(registration&& o) noexcept : entry_(o.entry_) {
    o.entry_ = nullptr;
    if (auto* e = static_cast<entry*>(entry_)) {
        e->handle = this;
    }
}

registration& registration::operator=(registration&& o) noexcept {
    if (this != &o) {
        reset();
        entry_ = o.entry_;
        o.entry_ = nullptr;
        if (auto* e = static_cast<entry*>(entry_)) {
            e->handle = this;
        }
    }
    return *this;
}

registration::~registration() {
    reset();
}

void registration::reset() noexcept {
    if (auto* e = static_cast<entry*>(entry_)) {
        // Registries are per thread and unlocked: a handle must die where it was made.
        assert(e->owner == &tl_registry && "metrics::registration destroyed on another thread");
        entry_ = nullptr;
        // Destroys *e: the key is moved out first.
        auto key = std::move(e->key);
        e->owner->entries.erase(key);
    }
}

registration make_counter(std::string name, std::function<double()> read, std::string description,
                          label_set labels) {
    return add_metric(std::move(name), metric_type::counter, std::move(description), std::move(labels),
                      std::move(read), {});
}

registration make_gauge(std::string name, std::function<double()> read, std::string description, label_set labels) {
    return add_metric(std::move(name), metric_type::gauge, std::move(description), std::move(labels), std::move(read),
                      {});
}

registration make_histogram(std::string name, std::function<histogram_data()> read, std::string description,
                            label_set labels) {
    return add_metric(std::move(name), metric_type::histogram, std::move(description), std::move(labels), {},
                      std::move(read));
}

registration make_collector(std::function<void(std::vector<snapshot>&)> collect) {
    auto e = std::make_unique<entry>();
    // A key no metric name can have (names never start with \x03).
    e->key = fmt::format("\x03{}", tl_registry.next_collector++);
    e->collector = std::move(collect);
    return registration_access::add(std::move(e));
}

// ---- owned metrics ----------------------------------------------------------------

counter::counter(std::string name, std::string description, label_set labels)
    : reg_(make_counter(
          std::move(name), [this] { return double(value_); }, std::move(description), std::move(labels))) {}

gauge::gauge(std::string name, std::string description, label_set labels)
    : reg_(make_gauge(
          std::move(name), [this] { return value_; }, std::move(description), std::move(labels))) {}

histogram::histogram(std::string name, std::string description, std::vector<double> bounds, label_set labels)
    : bounds_((check_bounds(bounds), std::move(bounds))), counts_(bounds_.size() + 1, 0) {
    reg_ = make_histogram(
        std::move(name), [this] { return data(); }, std::move(description), std::move(labels));
}

void histogram::observe(double v) noexcept {
    auto i = std::size_t(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
    ++counts_[i];
    sum_ += v;
}

histogram_data histogram::data() const {
    histogram_data d;
    d.bounds = bounds_;
    d.buckets.resize(bounds_.size());
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
        total += counts_[i];
        d.buckets[i] = total;
    }
    d.count = total + counts_.back();
    d.sum = sum_;
    return d;
}

std::vector<double> linear_buckets(double start, double width, unsigned count) {
    if (!(width > 0) || count == 0) {
        throw std::invalid_argument("linear_buckets needs width > 0 and count > 0");
    }
    std::vector<double> b(count);
    for (unsigned i = 0; i < count; ++i) {
        b[i] = start + width * i;
    }
    return b;
}

std::vector<double> exponential_buckets(double start, double factor, unsigned count) {
    if (!(start > 0) || !(factor > 1) || count == 0) {
        throw std::invalid_argument("exponential_buckets needs start > 0, factor > 1 and count > 0");
    }
    std::vector<double> b(count);
    double v = start;
    for (unsigned i = 0; i < count; ++i) {
        b[i] = v;
        v *= factor;
    }
    return b;
}

// ---- collection -------------------------------------------------------------------

std::vector<snapshot> collect() {
    std::vector<snapshot> out;
    auto& reg = tl_registry;
    out.reserve(reg.entries.size());
    for (auto& [key, e] : reg.entries) {
        if (e->collector) {
            std::size_t first = out.size();
            e->collector(out);
            for (std::size_t i = first; i < out.size(); ++i) {
                sort_labels(out[i].labels);
            }
            continue;
        }
        snapshot s;
        s.name = e->name;
        s.description = e->description;
        s.type = e->type;
        s.labels = e->labels;
        if (e->type == metric_type::histogram) {
            s.histogram = e->read_histogram();
            if (s.histogram.bounds.size() != s.histogram.buckets.size()) {
                continue;  // documented: a malformed histogram is skipped
            }
        } else {
            s.value = e->read_value();
        }
        out.push_back(std::move(s));
    }
    if (detail::tl_reactor) {
        auto shard = std::to_string(this_shard_id());
        for (auto& s : out) {
            add_shard_label(s.labels, shard);
        }
    }
    std::stable_sort(out.begin(), out.end(), [](const snapshot& a, const snapshot& b) {
        return a.name != b.name ? a.name < b.name : labels_less(a.labels, b.labels);
    });
    return out;
}

future<std::vector<snapshot>> collect_all() {
    std::vector<snapshot> all;
    for (unsigned s = 0; s < smp::count; ++s) {
        auto part = co_await smp::submit_to(s, [] { return collect(); });
        all.insert(all.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
    }
    co_return all;
}

std::string format_prometheus(const std::vector<snapshot>& snapshots) {
    std::vector<std::size_t> order(snapshots.size());
    std::iota(order.begin(), order.end(), std::size_t(0));
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return snapshots[a].name < snapshots[b].name; });
    std::string out;
    for (std::size_t i = 0; i < order.size();) {
        const snapshot& head = snapshots[order[i]];
        out += "# HELP ";
        out += head.name;
        out += ' ';
        append_escaped(out, head.description, false);
        out += "\n# TYPE ";
        out += head.name;
        out += ' ';
        out += to_string(head.type);
        out += '\n';
        for (; i < order.size() && snapshots[order[i]].name == head.name; ++i) {
            const snapshot& s = snapshots[order[i]];
            if (head.type == metric_type::histogram) {
                const auto& h = s.histogram;
                for (std::size_t b = 0; b < h.bounds.size() && b < h.buckets.size(); ++b) {
                    out += s.name;
                    out += "_bucket";
                    append_labels(out, s.labels, "", h.bounds[b]);
                    fmt::format_to(std::back_inserter(out), " {}\n", h.buckets[b]);
                }
                out += s.name;
                out += "_bucket";
                append_labels(out, s.labels, "+Inf");
                fmt::format_to(std::back_inserter(out), " {}\n", h.count);
                out += s.name;
                out += "_sum";
                append_labels(out, s.labels);
                out += ' ';
                append_value(out, h.sum);
                out += '\n';
                out += s.name;
                out += "_count";
                append_labels(out, s.labels);
                fmt::format_to(std::back_inserter(out), " {}\n", h.count);
            } else {
                out += s.name;
                append_labels(out, s.labels);
                out += ' ';
                append_value(out, s.value);
                out += '\n';
            }
        }
    }
    return out;
}

}  // namespace reef::metrics

// ---- the reactor's own metrics ------------------------------------------------------

namespace reef::detail {

reactor_metrics::reactor_metrics(reactor_impl& r) {
    using metrics::label_set;
    const label_set base{{"backend", std::string(r.io().name())}};
    reactor_stats& st = r.stats();
    auto counter = [&](const char* name, std::uint64_t reactor_stats::*field, const char* help) {
        regs_.push_back(metrics::make_counter(
            name, [&st, field] { return double(st.*field); }, help, base));
    };
    counter("reactor_tasks_run", &reactor_stats::tasks_run, "Tasks run by the reactor");
    counter("reactor_polls", &reactor_stats::polls, "Iterations of the reactor loop that polled for work");
    counter("reactor_sleeps", &reactor_stats::sleeps, "Times the reactor slept in its backend");
    counter("reactor_preemptions", &reactor_stats::preemptions,
            "Times the task quota expired while tasks were still queued");
    counter("reactor_stalls", &reactor_stats::stalls,
            "Times a task or poller held the shard longer than the blocked-reactor threshold");
    counter("reactor_smp_messages_sent", &reactor_stats::smp_messages_sent, "Cross-shard calls sent to other shards");
    counter("reactor_smp_messages_received", &reactor_stats::smp_messages_received,
            "Cross-shard calls received from other shards");

    // Scheduling groups come and go, so their series are listed at collection time.
    regs_.push_back(metrics::make_collector([&r, base](std::vector<metrics::snapshot>& out) {
        for (unsigned id = 0; id < max_scheduling_groups; ++id) {
            auto name = scheduling_group_name(scheduling_group(id));
            if (name.empty()) {
                continue;  // not in use
            }
            label_set labels = base;
            labels.push_back({"group", name});
            metrics::snapshot tasks;
            tasks.name = "reactor_group_tasks_run";
            tasks.description = "Tasks run in each scheduling group";
            tasks.type = metrics::metric_type::counter;
            tasks.labels = labels;
            tasks.value = double(r.group_tasks_run(id));
            out.push_back(std::move(tasks));
            metrics::snapshot runtime;
            runtime.name = "reactor_group_runtime_seconds";
            runtime.description = "Time spent running the tasks of each scheduling group";
            runtime.type = metrics::metric_type::counter;
            runtime.labels = std::move(labels);
            runtime.value = double(r.group_runtime_ns(id)) / 1e9;
            out.push_back(std::move(runtime));
        }
    }));
}

void reactor_metrics_start(reactor_impl& r) {
    r.metrics = new reactor_metrics(r);
}

void reactor_metrics_stop(reactor_impl& r) noexcept {
    delete r.metrics;
    r.metrics = nullptr;
}

}  // namespace reef::detail
