#include <reef/reactor/metrics.hh>

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <reef/core/coroutine.hh>
#include <reef/reactor/scheduling_group.hh>
#include <reef/reactor/smp.hh>
#include <reef/testing/test_case.hh>

#include "reactor_impl.hh"

using namespace reef;
using metrics::label_set;
using metrics::metric_type;
using metrics::snapshot;

namespace {

// The snapshots named `name` whose labels include every pair of `want`.
std::vector<snapshot> matching(const std::vector<snapshot>& all, const std::string& name, const label_set& want = {}) {
    std::vector<snapshot> out;
    for (auto& s : all) {
        if (s.name != name) {
            continue;
        }
        bool ok = true;
        for (auto& w : want) {
            ok = ok && std::find(s.labels.begin(), s.labels.end(), w) != s.labels.end();
        }
        if (ok) {
            out.push_back(s);
        }
    }
    return out;
}

double value_of(const std::vector<snapshot>& all, const std::string& name, const label_set& want = {}) {
    auto f = matching(all, name, want);
    REQUIRE(f.size() == 1);
    return f[0].value;
}

}  // namespace

REEF_TEST_CASE("a counter, a gauge and a histogram report their values with their labels") {
    metrics::counter c("test_requests", "Requests served", {{"route", "/"}, {"method", "get"}});
    metrics::gauge g("test_queue_length", "Queued items");
    metrics::histogram h("test_latency_seconds", "Latency", {0.1, 0.5, 1});
    c.inc();
    c.inc(4);
    g.set(7);
    g.add(-2.5);
    for (double v : {0.05, 0.1, 0.3, 0.7, 2.0}) {
        h.observe(v);
    }
    auto all = metrics::collect();

    auto cs = matching(all, "test_requests");
    REQUIRE(cs.size() == 1);
    CHECK(cs[0].type == metric_type::counter);
    CHECK(cs[0].value == 5);
    CHECK(cs[0].description == "Requests served");
    // Sorted by name, with this shard's id added.
    CHECK(cs[0].labels == label_set{{"method", "get"}, {"route", "/"}, {"shard", "0"}});

    auto gs = matching(all, "test_queue_length");
    REQUIRE(gs.size() == 1);
    CHECK(gs[0].type == metric_type::gauge);
    CHECK(gs[0].value == 4.5);

    auto hs = matching(all, "test_latency_seconds");
    REQUIRE(hs.size() == 1);
    CHECK(hs[0].type == metric_type::histogram);
    CHECK(hs[0].histogram.bounds == std::vector<double>{0.1, 0.5, 1});
    CHECK(hs[0].histogram.buckets == std::vector<std::uint64_t>{2, 3, 4});
    CHECK(hs[0].histogram.count == 5);
    CHECK(hs[0].histogram.sum == Approx(3.15));
    CHECK(c.value() == 5);
    co_return;
}

REEF_TEST_CASE("a callback metric is read at collection time") {
    std::uint64_t hits = 0;
    double temperature = 20;
    auto r1 = metrics::make_counter(
        "test_hits", [&] { return hits; }, "Hits", {{"cache", "l1"}});
    auto r2 = metrics::make_gauge(
        "test_temperature", [&] { return temperature; }, "Temperature");
    auto r3 = metrics::make_histogram(
        "test_sizes",
        [] {
            metrics::histogram_data d;
            d.bounds = {10, 100};
            d.buckets = {1, 3};
            d.count = 4;
            d.sum = 250;
            return d;
        },
        "Sizes");
    CHECK(value_of(metrics::collect(), "test_hits") == 0);
    hits = 12;
    temperature = -3.5;
    auto all = metrics::collect();
    CHECK(value_of(all, "test_hits", {{"cache", "l1"}}) == 12);
    CHECK(value_of(all, "test_temperature") == -3.5);
    auto hs = matching(all, "test_sizes");
    REQUIRE(hs.size() == 1);
    CHECK(hs[0].histogram.count == 4);
    co_return;
}

REEF_TEST_CASE("destroying or resetting the registration unregisters the metric") {
    {
        metrics::counter c("test_scoped", "Scoped");
        CHECK(matching(metrics::collect(), "test_scoped").size() == 1);
    }
    CHECK(matching(metrics::collect(), "test_scoped").empty());

    auto r = metrics::make_gauge(
        "test_moved", [] { return 1.0; }, "Moved");
    metrics::registration moved = std::move(r);
    CHECK_FALSE(r);
    CHECK(moved);
    CHECK(matching(metrics::collect(), "test_moved").size() == 1);
    std::vector<metrics::registration> v;
    v.push_back(std::move(moved));
    v.reserve(100);  // moves the handle again
    CHECK(matching(metrics::collect(), "test_moved").size() == 1);
    v[0].reset();
    CHECK_FALSE(v[0]);
    CHECK(matching(metrics::collect(), "test_moved").empty());
    // The same name may be registered again once the first is gone.
    auto again = metrics::make_gauge(
        "test_moved", [] { return 2.0; }, "Moved");
    CHECK(value_of(metrics::collect(), "test_moved") == 2.0);
    co_return;
}

TEST_CASE("duplicates and names Prometheus does not accept are refused") {
    auto r = metrics::make_counter(
        "test_dup", [] { return 1; }, "Dup", {{"a", "1"}});
    CHECK_THROWS_WITH(metrics::make_counter(
                          "test_dup", [] { return 1; }, "Dup", {{"a", "1"}}),
                      Catch::Contains("already registered"));
    // Other labels make another series of the same metric.
    auto r2 = metrics::make_counter(
        "test_dup", [] { return 2; }, "Dup", {{"a", "2"}});
    CHECK_THROWS_AS(metrics::make_gauge(
                        "1bad", [] { return 0; }, ""),
                    std::invalid_argument);
    CHECK_THROWS_AS(metrics::make_gauge(
                        "bad-name", [] { return 0; }, ""),
                    std::invalid_argument);
    CHECK_THROWS_AS(metrics::make_gauge(
                        "ok", [] { return 0; }, "", {{"bad:label", "x"}}),
                    std::invalid_argument);
    CHECK_THROWS_AS(metrics::make_gauge(
                        "ok", [] { return 0; }, "", {{"__reserved", "x"}}),
                    std::invalid_argument);
    CHECK_THROWS_AS(metrics::make_gauge(
                        "ok", [] { return 0; }, "", {{"a", "x"}, {"a", "y"}}),
                    std::invalid_argument);
    CHECK_THROWS_WITH(metrics::histogram("test_h", "", {1, 2}, {{"le", "x"}}), Catch::Contains("'le'"));
    CHECK_THROWS_AS(metrics::histogram("test_h", "", {2, 1}), std::invalid_argument);
    // Outside a reactor no shard label is added.
    auto all = metrics::collect();
    CHECK(value_of(all, "test_dup", {{"a", "2"}}) == 2);
    CHECK(matching(all, "test_dup", {{"a", "2"}})[0].labels == label_set{{"a", "2"}});
}

TEST_CASE("bucket helpers make linear and exponential bounds") {
    CHECK(metrics::linear_buckets(0, 0.5, 4) == std::vector<double>{0, 0.5, 1, 1.5});
    CHECK(metrics::exponential_buckets(1, 2, 5) == std::vector<double>{1, 2, 4, 8, 16});
    CHECK_THROWS_AS(metrics::linear_buckets(0, 0, 3), std::invalid_argument);
    CHECK_THROWS_AS(metrics::exponential_buckets(0, 2, 3), std::invalid_argument);
    CHECK_THROWS_AS(metrics::exponential_buckets(1, 1, 3), std::invalid_argument);
    metrics::histogram h("test_exp", "Exp", metrics::exponential_buckets(1, 10, 3));
    h.observe(1);     // <= 1
    h.observe(5);     // <= 10
    h.observe(1000);  // +Inf only
    auto d = h.data();
    CHECK(d.buckets == std::vector<std::uint64_t>{1, 2, 2});
    CHECK(d.count == 3);
    CHECK(d.sum == 1006);
}

namespace {
thread_local std::optional<metrics::counter> per_shard_counter;
}

REEF_TEST_CASE("collect_all gathers the metrics of every shard") {
    co_await smp::invoke_on_all([] {
        per_shard_counter.emplace("test_per_shard", "One per shard");
        per_shard_counter->inc(this_shard_id() + 10);
    });
    auto all = co_await metrics::collect_all();
    auto ours = matching(all, "test_per_shard");
    REQUIRE(ours.size() == 2);
    CHECK(value_of(all, "test_per_shard", {{"shard", "0"}}) == 10);
    CHECK(value_of(all, "test_per_shard", {{"shard", "1"}}) == 11);
    co_await smp::invoke_on_all([] { per_shard_counter.reset(); });
    CHECK(matching(co_await metrics::collect_all(), "test_per_shard").empty());
}

TEST_CASE("format_prometheus writes HELP, TYPE, samples and histogram series") {
    std::vector<snapshot> snaps;
    snapshot c;
    c.name = "app_requests";
    c.description = "Requests served";
    c.type = metric_type::counter;
    c.labels = {{"route", "/a"}, {"shard", "0"}};
    c.value = 12;
    snaps.push_back(c);
    snapshot g;
    g.name = "app_load";
    g.description = "Load\\average\nnow";
    g.type = metric_type::gauge;
    g.value = 0.25;
    snaps.push_back(g);
    c.labels = {{"route", "say \"hi\"\\\n"}, {"shard", "1"}};
    c.value = 3;
    snaps.push_back(c);
    snapshot h;
    h.name = "app_latency_seconds";
    h.description = "Latency";
    h.type = metric_type::histogram;
    h.labels = {{"shard", "0"}};
    h.histogram.bounds = {0.005, 0.5, 2};
    h.histogram.buckets = {1, 4, 4};
    h.histogram.count = 5;
    h.histogram.sum = 7.5;
    snaps.push_back(h);
    snapshot inf;
    inf.name = "app_limit";
    inf.description = "Limit";
    inf.type = metric_type::gauge;
    inf.value = std::numeric_limits<double>::infinity();
    snaps.push_back(inf);

    std::string expected =
        "# HELP app_latency_seconds Latency\n"
        "# TYPE app_latency_seconds histogram\n"
        "app_latency_seconds_bucket{shard=\"0\",le=\"0.005\"} 1\n"
        "app_latency_seconds_bucket{shard=\"0\",le=\"0.5\"} 4\n"
        "app_latency_seconds_bucket{shard=\"0\",le=\"2\"} 4\n"
        "app_latency_seconds_bucket{shard=\"0\",le=\"+Inf\"} 5\n"
        "app_latency_seconds_sum{shard=\"0\"} 7.5\n"
        "app_latency_seconds_count{shard=\"0\"} 5\n"
        "# HELP app_limit Limit\n"
        "# TYPE app_limit gauge\n"
        "app_limit +Inf\n"
        "# HELP app_load Load\\\\average\\nnow\n"
        "# TYPE app_load gauge\n"
        "app_load 0.25\n"
        "# HELP app_requests Requests served\n"
        "# TYPE app_requests counter\n"
        "app_requests{route=\"/a\",shard=\"0\"} 12\n"
        "app_requests{route=\"say \\\"hi\\\"\\\\\\n\",shard=\"1\"} 3\n";
    CHECK(metrics::format_prometheus(snaps) == expected);
    CHECK(metrics::format_prometheus({}).empty());
}

REEF_TEST_CASE("the reactor's own metrics are present, labelled and growing") {
    std::string backend(detail::this_reactor().io().name());
    auto before = co_await metrics::collect_all();
    for (const char* name : {"reactor_tasks_run", "reactor_polls", "reactor_sleeps", "reactor_preemptions",
                             "reactor_stalls", "reactor_smp_messages_sent", "reactor_smp_messages_received"}) {
        INFO(name);
        auto s = matching(before, name, {{"backend", backend}});
        REQUIRE(s.size() == 2);
        CHECK(s[0].type == metric_type::counter);
        CHECK(s[0].labels == label_set{{"backend", backend}, {"shard", "0"}});
        CHECK(s[1].labels == label_set{{"backend", backend}, {"shard", "1"}});
    }
    CHECK(matching(before, "reactor_group_tasks_run", {{"group", "main"}, {"shard", "0"}}).size() == 1);
    CHECK(matching(before, "reactor_group_runtime_seconds", {{"group", "main"}, {"shard", "1"}}).size() == 1);

    // Some work: tasks, and calls in both directions between the shards.
    auto sg = co_await create_scheduling_group("metrics_test_group", 100);
    for (int i = 0; i < 50; ++i) {
        co_await coroutine::maybe_yield();
        co_await smp::submit_to(1, [] { return 1; });
        co_await with_scheduling_group(sg, [] { return make_ready_future<>(); });
    }
    auto after = co_await metrics::collect_all();
    auto grew = [&](const char* name, const char* shard) {
        return value_of(after, name, {{"shard", shard}}) > value_of(before, name, {{"shard", shard}});
    };
    CHECK(grew("reactor_tasks_run", "0"));
    CHECK(grew("reactor_polls", "0"));
    CHECK(grew("reactor_polls", "1"));
    CHECK(value_of(after, "reactor_smp_messages_sent", {{"shard", "0"}}) -
              value_of(before, "reactor_smp_messages_sent", {{"shard", "0"}}) >=
          50);
    CHECK(value_of(after, "reactor_smp_messages_received", {{"shard", "1"}}) -
              value_of(before, "reactor_smp_messages_received", {{"shard", "1"}}) >=
          50);
    CHECK(value_of(after, "reactor_group_tasks_run", {{"group", "main"}, {"shard", "0"}}) >
          value_of(before, "reactor_group_tasks_run", {{"group", "main"}, {"shard", "0"}}));
    CHECK(value_of(after, "reactor_group_tasks_run", {{"group", "metrics_test_group"}, {"shard", "0"}}) >= 50);
    CHECK(value_of(after, "reactor_group_runtime_seconds", {{"group", "metrics_test_group"}, {"shard", "0"}}) > 0);
    auto text = metrics::format_prometheus(after);
    CHECK(text.find("# TYPE reactor_tasks_run counter\n") != std::string::npos);
    CHECK(text.find("reactor_tasks_run{backend=\"" + backend + "\",shard=\"1\"} ") != std::string::npos);
    co_await destroy_scheduling_group(sg);
}
