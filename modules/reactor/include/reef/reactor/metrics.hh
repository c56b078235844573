// Per-shard metrics: counters, gauges and histograms with a name, a description and
// labels, collected as snapshots and rendered in the Prometheus text format.
//   auto reg = reef::metrics::make_counter("app_requests", [&] { return stats.requests; },
//                                          "Requests served", {{"route", "/"}});
//   reef::metrics::histogram latency("app_latency_seconds", "Latency",
//                                    reef::metrics::exponential_buckets(1e-4, 2, 16));
//   std::string text = reef::metrics::format_prometheus(co_await reef::metrics::collect_all());
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <reef/core/future.hh>

namespace reef::metrics {

/// What a metric measures, as Prometheus types it.
enum class metric_type {
    counter,    ///< only grows (resets when the process restarts)
    gauge,      ///< goes up and down
    histogram,  ///< observations counted into buckets, with their sum and count
};

/// "counter", "gauge" or "histogram".
std::string_view to_string(metric_type t) noexcept;

/// One key=value pair that tells apart series of the same metric.
struct label {
    std::string name;
    std::string value;
    bool operator==(const label&) const = default;
};

/// The labels of one series, e.g. {{"group", "main"}, {"shard", "0"}}.
using label_set = std::vector<label>;

/// The state of a histogram: bucket i counts the observations <= bounds[i]
/// (cumulative, as Prometheus wants); `count` is the +Inf bucket.
struct histogram_data {
    /// Upper bounds of the buckets, strictly increasing and finite.
    std::vector<double> bounds;
    /// Cumulative counts, one per bound.
    std::vector<std::uint64_t> buckets;
    /// Number of observations.
    std::uint64_t count = 0;
    /// Sum of the observations.
    double sum = 0;
};

/// The value of one series at collection time.
struct snapshot {
    /// Metric name, e.g. "reactor_tasks_run".
    std::string name;
    /// One line of help text.
    std::string description;
    metric_type type = metric_type::gauge;
    /// Labels sorted by name; collect() adds shard="<id>" on shard threads unless the
    /// metric has a "shard" label of its own.
    label_set labels;
    /// The value of a counter or a gauge.
    double value = 0;
    /// The state of a histogram.
    histogram_data histogram;
};

/// Keeps a metric registered on the shard that registered it; unregisters it when
/// destroyed or reset(). Move-only. Must be destroyed on the registering thread.
class registration {
public:
    registration() noexcept = default;
    registration(registration&& o) noexcept;
    registration& operator=(registration&& o) noexcept;
    registration(const registration&) = delete;
    registration& operator=(const registration&) = delete;
    ~registration();

    /// Unregisters now (no-op when empty).
    void reset() noexcept;
    /// True while a metric is registered through this handle.
    explicit operator bool() const noexcept { return entry_ != nullptr; }

private:
    friend struct registration_access;
    void* entry_ = nullptr;  // the registry's entry; it points back here
};

/// Registers, on the calling thread's registry, a counter whose value `read` returns
/// at collection time. `read` runs on this thread, must not yield, and must stay
/// valid until the registration is gone. Throws std::invalid_argument for a name or
/// label name Prometheus does not accept (names: [a-zA-Z_:][a-zA-Z0-9_:]*, labels:
/// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", no duplicates), and when a metric of
/// that name and labels is already registered on this thread.
registration make_counter(std::string name, std::function<double()> read, std::string description,
                          label_set labels = {});

/// Registers a gauge whose value `read` returns at collection time; as make_counter().
registration make_gauge(std::string name, std::function<double()> read, std::string description,
                        label_set labels = {});

/// Registers a histogram whose state `read` returns at collection time; as
/// make_counter(), and a "le" label is refused. The bounds and buckets `read` returns
/// must agree in size (checked at collection: a mismatched one is skipped).
registration make_histogram(std::string name, std::function<histogram_data()> read, std::string description,
                            label_set labels = {});

/// Registers a function that appends snapshots at collection time, for series whose
/// label sets are only known then (one per scheduling group, per connection class...).
/// Its snapshots are not checked against the other metrics of the registry.
registration make_collector(std::function<void(std::vector<snapshot>&)> collect);

/// A counter that owns its value. Registered while it lives; neither copyable nor
/// movable (the registry reads it in place). Owner thread only.
class counter {
public:
    /// Registers the counter; throws as make_counter().
    counter(std::string name, std::string description, label_set labels = {});
    /// Adds `n`. Never allocates.
    void inc(std::uint64_t n = 1) noexcept { value_ += n; }
    /// The current value.
    std::uint64_t value() const noexcept { return value_; }
    counter(const counter&) = delete;
    counter& operator=(const counter&) = delete;

private:
    std::uint64_t value_ = 0;
    registration reg_;
};

/// A gauge that owns its value; as counter.
class gauge {
public:
    /// Registers the gauge; throws as make_gauge().
    gauge(std::string name, std::string description, label_set labels = {});
    /// Sets the value.
    void set(double v) noexcept { value_ = v; }
    /// Adds `d` (negative to subtract).
    void add(double d) noexcept { value_ += d; }
    /// The current value.
    double value() const noexcept { return value_; }
    gauge(const gauge&) = delete;
    gauge& operator=(const gauge&) = delete;

private:
    double value_ = 0;
    registration reg_;
};

/// A histogram that owns its buckets; as counter.
class histogram {
public:
    /// Registers the histogram with the given upper bounds (strictly increasing,
    /// finite; see linear_buckets() and exponential_buckets()). Throws
    /// std::invalid_argument for bad bounds, and as make_histogram().
    histogram(std::string name, std::string description, std::vector<double> bounds, label_set labels = {});
    /// Counts `v` into the first bucket whose bound is >= v. Never allocates.
    void observe(double v) noexcept;
    /// The current state, buckets cumulative.
    histogram_data data() const;
    histogram(const histogram&) = delete;
    histogram& operator=(const histogram&) = delete;

private:
    std::vector<double> bounds_;
    std::vector<std::uint64_t> counts_;  // per bucket, not cumulative; last one is +Inf
    double sum_ = 0;
    registration reg_;
};

/// `count` bounds start, start+width, ... Throws std::invalid_argument unless
/// width > 0 and count > 0.
std::vector<double> linear_buckets(double start, double width, unsigned count);

/// `count` bounds start, start*factor, start*factor^2, ... Throws
/// std::invalid_argument unless start > 0, factor > 1 and count > 0.
std::vector<double> exponential_buckets(double start, double factor, unsigned count);

/// Snapshots of every metric registered on the calling thread, sorted by name and
/// labels. Runs the read callbacks; does not yield.
std::vector<snapshot> collect();

/// Snapshots of every shard (collect() run on each through smp::submit_to), shard 0's
/// first. Call from a shard.
future<std::vector<snapshot>> collect_all();

/// Renders snapshots in the Prometheus text exposition format (version 0.0.4): for each
/// metric name, in name order, "# HELP", "# TYPE" and its samples in the order given;
/// histograms as name_bucket{...,le="..."}, name_sum and name_count. The description
/// and type of a name come from its first snapshot.
std::string format_prometheus(const std::vector<snapshot>& snapshots);

}  // namespace reef::metrics
