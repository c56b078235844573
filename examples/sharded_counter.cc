// A sharded counter service: each shard owns the counts of the keys that hash to it,
// shard 0 routes increments to the owner with invoke_on, and map_reduce0 adds up the
// totals. The pattern behind every shard-per-core store: own by key, route by hash.
//   build/examples/sharded_counter --smp 2 --increments 100000
#include <fmt/core.h>

#include <functional>
#include <string>
#include <unordered_map>

#include <reef/reactor.hh>

namespace {

class counter_service : public reef::peering_sharded_service<counter_service> {
public:
    /// Adds `n` to `key` on this shard, which must own it.
    void add(const std::string& key, long n) { counts_[key] += n; }

    /// Sum of every count held by this shard.
    long local_total() const {
        long t = 0;
        for (auto& [k, v] : counts_) {
            t += v;
        }
        return t;
    }

    /// Number of distinct keys held by this shard.
    std::size_t local_keys() const { return counts_.size(); }

    /// The shard that owns `key`.
    static unsigned owner(const std::string& key) { return unsigned(std::hash<std::string>{}(key) % reef::smp::count); }

    /// Routes an increment to the owner of `key`, from any shard.
    reef::future<> increment(std::string key) {
        unsigned o = owner(key);
        return container().invoke_on(o, [key = std::move(key)](counter_service& s) { s.add(key, 1); });
    }

    reef::future<> stop() { return reef::make_ready_future<>(); }

private:
    std::unordered_map<std::string, long> counts_;
};

}  // namespace

int main(int argc, char** argv) {
    reef::app_template app({.name = "sharded_counter", .description = "a counter service sharded by key"});
    app.add_options()("increments", reef::value<unsigned>(100000u), "increments to send")(
        "keys", reef::value<unsigned>(1000u), "distinct keys");
    return app.run(argc, argv, [&]() -> reef::future<int> {
        const unsigned increments = app.configuration()["increments"].as<unsigned>();
        const unsigned keys = app.configuration()["keys"].as<unsigned>();
        reef::sharded<counter_service> counters;
        co_await counters.start();
        auto& local = counters.local();
        for (unsigned i = 0; i < increments; ++i) {
            co_await local.increment("key-" + std::to_string(i % keys));
        }
        long total = co_await counters.map_reduce0([](counter_service& s) { return s.local_total(); }, 0L,
                                                   std::plus<long>());
        for (unsigned s = 0; s < reef::smp::count; ++s) {
            auto n = co_await counters.invoke_on(s, [](counter_service& c) { return c.local_keys(); });
            fmt::print("shard {} owns {} keys\n", s, n);
        }
        fmt::print("total {} (expected {})\n", total, increments);
        co_await counters.stop();
        co_return total == long(increments) ? 0 : 1;
    });
}
