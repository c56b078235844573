#include <reef/reactor/sharded.hh>

#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <reef/core/coroutine.hh>
#include <reef/testing/test_case.hh>

using namespace reef;

namespace {

// Per-shard counters of what the services did, readable from any shard.
struct shard_counters {
    std::atomic<int> constructed[2];
    std::atomic<int> destroyed[2];
    std::atomic<int> stopped[2];
    std::atomic<int> wrong_shard;

    void reset() {
        for (int i = 0; i < 2; ++i) {
            constructed[i] = 0;
            destroyed[i] = 0;
            stopped[i] = 0;
        }
        wrong_shard = 0;
    }
};

shard_counters counters;

// Records the shard it was made on and checks that it dies there.
struct tracked {
    unsigned home = this_shard_id();
    tracked() { counters.constructed[home]++; }
    tracked(const tracked&) = delete;
    ~tracked() {
        if (this_shard_id() != home) {
            counters.wrong_shard++;
        }
        counters.destroyed[this_shard_id()]++;
    }
};

struct plain_service : tracked {
    int base;
    std::string name;
    explicit plain_service(int b, std::string n = "plain") : base(b), name(std::move(n)) {}
    int value() const { return base + int(this_shard_id()); }
    int add(int x) { return base += x; }
    unsigned shard() const { return home; }
};

// stop() returns a future and completes after a trip through another shard.
struct async_stop_service : tracked {
    future<> stop() {
        co_await smp::submit_to(1 - this_shard_id(), [] {});
        counters.stopped[this_shard_id()]++;
    }
};

struct void_stop_service : tracked {
    void stop() { counters.stopped[this_shard_id()]++; }
};

struct failing_service : tracked {
    explicit failing_service(unsigned fail_on) {
        if (this_shard_id() == fail_on) {
            throw std::runtime_error("constructor failed on shard " + std::to_string(fail_on));
        }
    }
    void stop() { counters.stopped[this_shard_id()]++; }
};

struct peer_service : peering_sharded_service<peer_service>, tracked {
    unsigned id() const { return this_shard_id(); }
    future<unsigned> ask_peer() { return container().invoke_on(1 - this_shard_id(), &peer_service::id); }
    bool sees_itself() { return &container().local() == this; }
};

}  // namespace

REEF_TEST_CASE("start constructs one instance per shard on its shard and stop destroys them there") {
    counters.reset();
    sharded<plain_service> s;
    REQUIRE_FALSE(s.local_is_initialized());
    co_await s.start(10, std::string("x"));
    REQUIRE(counters.constructed[0] == 1);
    REQUIRE(counters.constructed[1] == 1);
    REQUIRE(s.local_is_initialized());
    REQUIRE(s.local().shard() == 0);
    REQUIRE(s.local().name == "x");
    unsigned remote = co_await s.invoke_on(1, [](plain_service& p) { return p.shard(); });
    REQUIRE(remote == 1);
    co_await s.stop();
    REQUIRE(counters.destroyed[0] == 1);
    REQUIRE(counters.destroyed[1] == 1);
    REQUIRE(counters.wrong_shard == 0);
    REQUIRE_FALSE(s.local_is_initialized());
}

REEF_TEST_CASE("local() before start and after stop throws no_sharded_instance_exception") {
    sharded<plain_service> s;
    REQUIRE_THROWS_AS(s.local(), no_sharded_instance_exception);
    auto f = co_await coroutine::as_future(s.invoke_on(1, &plain_service::value));
    REQUIRE(f.failed());
    REQUIRE_THROWS_AS(f.get(), no_sharded_instance_exception);
    auto m = co_await coroutine::as_future(s.map_reduce0(&plain_service::value, 0, std::plus<>()));
    REQUIRE_THROWS_AS(m.get(), no_sharded_instance_exception);
    co_await s.start(1);
    co_await s.stop();
    REQUIRE_THROWS_AS(s.local(), no_sharded_instance_exception);
}

REEF_TEST_CASE("stop on a never started or already stopped sharded is a no-op") {
    counters.reset();
    sharded<void_stop_service> s;
    co_await s.stop();
    co_await s.start();
    co_await s.stop();
    co_await s.stop();
    REQUIRE(counters.stopped[0] == 1);
    REQUIRE(counters.stopped[1] == 1);
    REQUIRE(counters.destroyed[0] == 1);
    REQUIRE(counters.destroyed[1] == 1);
}

REEF_TEST_CASE("stop calls Service::stop on every shard before destroying the instances") {
    counters.reset();
    {
        sharded<async_stop_service> s;
        co_await s.start();
        co_await s.stop();
        REQUIRE(counters.stopped[0] == 1);
        REQUIRE(counters.stopped[1] == 1);
        REQUIRE(counters.destroyed[0] == 1);
        REQUIRE(counters.destroyed[1] == 1);
        REQUIRE(counters.wrong_shard == 0);
    }
    counters.reset();
    sharded<void_stop_service> v;
    co_await v.start();
    co_await v.stop();
    REQUIRE(counters.stopped[0] == 1);
    REQUIRE(counters.stopped[1] == 1);
}

REEF_TEST_CASE("start failing on shard 1 destroys shard 0's instance and fails with the constructor's error") {
    counters.reset();
    sharded<failing_service> s;
    auto f = co_await coroutine::as_future(s.start(1u));
    REQUIRE(f.failed());
    REQUIRE_THROWS_WITH(f.get(), "constructor failed on shard 1");
    // Shard 0's instance was stopped and destroyed; on shard 1 only the base class
    // of the failed constructor was made (and unmade by the throw).
    REQUIRE(counters.constructed[0] == 1);
    REQUIRE(counters.stopped[0] == 1);
    REQUIRE(counters.destroyed[0] == 1);
    REQUIRE(counters.stopped[1] == 0);
    REQUIRE(counters.constructed[1] == counters.destroyed[1]);
    REQUIRE(counters.wrong_shard == 0);
    REQUIRE_FALSE(s.local_is_initialized());
    co_await s.stop();  // nothing to stop
    REQUIRE(counters.stopped[0] == 1);
    // The container is reusable after a failed start.
    co_await s.start(7u);
    REQUIRE(co_await s.invoke_on(1, [](failing_service& f) { return f.home; }) == 1);
    co_await s.stop();
    REQUIRE(counters.destroyed[0] == 2);
    REQUIRE(counters.constructed[1] == counters.destroyed[1]);
    REQUIRE(counters.stopped[1] == 1);
}

REEF_TEST_CASE("start failing on shard 0 after shard 1 succeeded cleans up shard 1") {
    counters.reset();
    sharded<failing_service> s;
    auto f = co_await coroutine::as_future(s.start(0u));
    REQUIRE_THROWS_WITH(f.get(), "constructor failed on shard 0");
    REQUIRE(counters.constructed[1] == 1);
    REQUIRE(counters.destroyed[1] == 1);
    REQUIRE(counters.wrong_shard == 0);
}

REEF_TEST_CASE("start twice fails and the first start stays intact") {
    sharded<plain_service> s;
    co_await s.start(1);
    auto f = co_await coroutine::as_future(s.start(2));
    REQUIRE_THROWS_AS(f.get(), std::logic_error);
    REQUIRE(s.local().base == 1);
    co_await s.stop();
}

REEF_TEST_CASE("invoke_on and invoke_on_all and invoke_on_others reach the right instances") {
    sharded<plain_service> s;
    co_await s.start(100);
    int v = co_await s.invoke_on(1, &plain_service::value);
    REQUIRE(v == 101);
    int added = co_await s.invoke_on(1, &plain_service::add, 5);
    REQUIRE(added == 105);
    int sum = co_await s.invoke_on(0, [](plain_service& p, int a, int b) { return p.base + a + b; }, 1, 2);
    REQUIRE(sum == 103);
    // An asynchronous function on this shard, whose captures must stay alive.
    auto text = std::make_shared<std::string>("kept");
    std::string got = co_await s.invoke_on(0, [text](plain_service&) -> future<std::string> {
        co_await smp::submit_to(1, [] {});
        co_return *text;
    });
    REQUIRE(got == "kept");

    co_await s.invoke_on_all([](plain_service& p) { p.base = 1000; });
    REQUIRE(co_await s.invoke_on(1, [](plain_service& p) { return p.base; }) == 1000);
    REQUIRE(s.local().base == 1000);
    co_await s.invoke_on_all(&plain_service::add, 1);
    REQUIRE(s.local().base == 1001);
    co_await s.invoke_on_others([](plain_service& p) -> future<> {
        co_await coroutine::maybe_yield();
        p.base = 7;
    });
    REQUIRE(s.local().base == 1001);
    REQUIRE(co_await s.invoke_on(1, [](plain_service& p) { return p.base; }) == 7);

    auto failed = co_await coroutine::as_future(s.invoke_on_all([](plain_service&) {
        if (this_shard_id() == 1) {
            throw std::runtime_error("no");
        }
    }));
    REQUIRE_THROWS_WITH(failed.get(), "no");
    auto bad = co_await coroutine::as_future(s.invoke_on(5, &plain_service::value));
    REQUIRE_THROWS_AS(bad.get(), std::out_of_range);
    co_await s.stop();
}

REEF_TEST_CASE("map and map_reduce0 and map_reduce gather every shard answer in shard order") {
    sharded<plain_service> s;
    co_await s.start(10);
    auto values = co_await s.map([](plain_service& p) { return p.value(); });
    REQUIRE(values == std::vector<int>{10, 11});
    auto shards = co_await s.map(&plain_service::shard);
    REQUIRE(shards == std::vector<unsigned>{0, 1});
    int total = co_await s.map_reduce0(&plain_service::value, 0, std::plus<>());
    REQUIRE(total == 21);
    std::string order = co_await s.map_reduce0(
        [](plain_service& p) -> future<std::string> {
            co_await coroutine::maybe_yield();
            co_return std::to_string(p.shard());
        },
        std::string(), [](std::string acc, std::string v) { return acc + v; });
    REQUIRE(order == "01");

    struct collect {
        std::vector<int> seen;
        void operator()(int v) { seen.push_back(v); }
        std::vector<int> get() { return std::move(seen); }
    };
    auto seen = co_await s.map_reduce(collect{}, &plain_service::value);
    REQUIRE(seen == std::vector<int>{10, 11});

    auto failed = co_await coroutine::as_future(s.map_reduce0(
        [](plain_service& p) -> int {
            if (p.shard() == 1) {
                throw std::runtime_error("map failed");
            }
            return 1;
        },
        0, std::plus<>()));
    REQUIRE_THROWS_WITH(failed.get(), "map failed");
    co_await s.stop();
}

REEF_TEST_CASE("a peering service reaches its peers through container()") {
    counters.reset();
    sharded<peer_service> s;
    co_await s.start();
    unsigned peer_of_0 = co_await s.local().ask_peer();
    REQUIRE(peer_of_0 == 1);
    unsigned peer_of_1 = co_await s.invoke_on(1, &peer_service::ask_peer);
    REQUIRE(peer_of_1 == 0);
    REQUIRE(&s.local().container() == &s);
    REQUIRE(co_await s.invoke_on(1, &peer_service::sees_itself));
    co_await s.stop();
    REQUIRE(counters.wrong_shard == 0);
}

namespace {

struct configured {
    unsigned shard_param;
    int& shared_counter;
    plain_service& other_local;
    sharded<plain_service>& other;
    configured(unsigned p, int& counter, plain_service& o, sharded<plain_service>& os)
        : shard_param(p), shared_counter(counter), other_local(o), other(os) {}
};

}  // namespace

REEF_TEST_CASE("start evaluates sharded_parameter per shard and passes std::ref arguments by reference") {
    sharded<plain_service> other;
    co_await other.start(50);
    int counter = 0;
    sharded<configured> s;
    co_await s.start(sharded_parameter([] { return this_shard_id() * 10; }), std::ref(counter), std::ref(other),
                     std::ref(other));
    REQUIRE(s.local().shard_param == 0);
    REQUIRE(co_await s.invoke_on(1, [](configured& c) { return c.shard_param; }) == 10);
    // Every instance refers to the same int, the one in this frame.
    REQUIRE(&s.local().shared_counter == &counter);
    REQUIRE(co_await s.invoke_on(1, [](configured& c) { return &c.shared_counter; }) == &counter);
    // std::ref(sharded) became the local instance on each shard, or the container.
    REQUIRE(co_await s.invoke_on(1, [](configured& c) { return c.other_local.shard(); }) == 1);
    REQUIRE(&s.local().other == &other);

    // A sharded_parameter whose function takes the local instance of another service.
    sharded<plain_service> derived;
    co_await derived.start(
        sharded_parameter([](plain_service& o) { return o.value() * 2; }, std::ref(other)));
    REQUIRE(derived.local().base == 100);
    REQUIRE(co_await derived.invoke_on(1, [](plain_service& p) { return p.base; }) == 102);
    co_await derived.stop();
    co_await s.stop();
    co_await other.stop();
}

REEF_TEST_CASE("start_single makes one instance on shard 0") {
    counters.reset();
    sharded<plain_service> s;
    co_await s.start_single(3);
    REQUIRE(counters.constructed[0] == 1);
    REQUIRE(counters.constructed[1] == 0);
    REQUIRE(s.local().base == 3);
    auto f = co_await coroutine::as_future(s.invoke_on(1, &plain_service::value));
    REQUIRE_THROWS_AS(f.get(), no_sharded_instance_exception);
    auto all = co_await s.map(&plain_service::shard);
    REQUIRE(all == std::vector<unsigned>{0});
    REQUIRE_FALSE(co_await smp::submit_to(1, [&s] { return s.local_is_initialized(); }));
    co_await s.stop();
    REQUIRE(counters.destroyed[0] == 1);
}

namespace {

std::atomic<int> destroyed_unfinished{0};

struct slow_service : tracked {
    promise<> release;
    bool finished = false;
    future<> work() {
        co_await release.get_future();
        finished = true;
    }
    ~slow_service() {
        if (!finished && home == 1) {
            destroyed_unfinished++;
        }
    }
};

}  // namespace

REEF_TEST_CASE("calls made during stop are refused and calls already running finish first") {
    counters.reset();
    sharded<slow_service> s;
    co_await s.start();
    auto running = s.invoke_on(1, &slow_service::work);
    co_await smp::submit_to(1, [] {});  // the call has started on shard 1
    auto stopping = s.stop();
    auto refused = co_await coroutine::as_future(s.invoke_on(1, [](slow_service&) { return 1; }));
    REQUIRE(refused.failed());
    REQUIRE_THROWS_AS(refused.get(), sharded_stopping_exception);
    auto refused_all = co_await coroutine::as_future(s.invoke_on_all([](slow_service&) {}));
    REQUIRE_THROWS_AS(refused_all.get(), sharded_stopping_exception);
    auto second_stop = co_await coroutine::as_future(s.stop());
    REQUIRE_THROWS_AS(second_stop.get(), std::logic_error);
    for (int i = 0; i < 5; ++i) {
        co_await smp::submit_to(1, [] {});
    }
    // Shard 1's instance waits for its call before it is destroyed.
    REQUIRE(counters.destroyed[1] == 0);
    REQUIRE_FALSE(stopping.available());
    co_await smp::submit_to(1, [&s] { s.local().release.set_value(); });
    co_await std::move(running);
    co_await std::move(stopping);
    REQUIRE(destroyed_unfinished == 0);
    REQUIRE(counters.destroyed[0] == 1);
    REQUIRE(counters.destroyed[1] == 1);
    REQUIRE(counters.wrong_shard == 0);
}

#ifdef NDEBUG
REEF_TEST_CASE("destroying a started sharded without stop reports it and leaks the instances instead of crashing") {
    counters.reset();
    {
        sharded<plain_service> s;
        co_await s.start(1);
    }
    // Release builds report on stderr (debug builds assert): nothing is destroyed on
    // the wrong shard.
    REQUIRE(counters.destroyed[0] == 0);
    REQUIRE(counters.destroyed[1] == 0);
}
#endif
