#include <reef/reactor/foreign_ptr.hh>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <vector>

#include <reef/core/coroutine.hh>
#include <reef/testing/test_case.hh>

using namespace reef;

namespace {

std::atomic<int> made[2];
std::atomic<int> freed[2];
std::atomic<int> freed_elsewhere;

void reset_counts() {
    for (int i = 0; i < 2; ++i) {
        made[i] = 0;
        freed[i] = 0;
    }
    freed_elsewhere = 0;
}

// Remembers the shard that made it and counts where it is destroyed.
struct homed {
    unsigned home = this_shard_id();
    int value;
    explicit homed(int v) : value(v) { made[home]++; }
    homed(const homed&) = delete;
    ~homed() {
        freed[this_shard_id()]++;
        if (this_shard_id() != home) {
            freed_elsewhere++;
        }
    }
};

// One round trip to `shard`: messages from here to there are delivered in order, so
// anything sent there before has been handled when this returns.
future<> round_trip(unsigned shard) {
    return smp::submit_to(shard, [] {});
}

}  // namespace

REEF_TEST_CASE("a foreign_ptr destroyed on another shard deletes its object on the owner shard") {
    reset_counts();
    auto p = co_await smp::submit_to(1, [] { return make_foreign(std::make_unique<homed>(7)); });
    REQUIRE(p.get_owner_shard() == 1);
    REQUIRE(p->value == 7);
    REQUIRE((*p).home == 1);
    p = nullptr;  // released here (shard 0): the deletion goes to shard 1
    REQUIRE(!p);
    co_await round_trip(1);
    REQUIRE(freed[1] == 1);
    REQUIRE(freed[0] == 0);
    REQUIRE(freed_elsewhere == 0);

    // Dropped by going out of scope on shard 0.
    {
        auto q = co_await smp::submit_to(1, [] { return make_foreign(std::make_unique<homed>(8)); });
    }
    co_await round_trip(1);
    REQUIRE(freed[1] == 2);
    REQUIRE(freed_elsewhere == 0);
}

REEF_TEST_CASE("a foreign_ptr destroyed on its owner shard deletes its object at once") {
    reset_counts();
    {
        auto p = make_foreign(std::make_unique<homed>(1));
        REQUIRE(p.get_owner_shard() == 0);
    }
    REQUIRE(freed[0] == 1);
    auto raw = make_foreign(new homed(2));
    raw.reset();
    REQUIRE(freed[0] == 2);
    REQUIRE(freed_elsewhere == 0);
    co_return;
}

REEF_TEST_CASE("a foreign_ptr moved across shards several times still dies at home") {
    reset_counts();
    auto p = make_foreign(std::make_unique<homed>(42));
    static std::atomic<int> seen_wrong{0};
    for (int hop = 0; hop < 6; ++hop) {
        unsigned to = hop % 2 == 0 ? 1 : 0;
        p = co_await smp::submit_to(to, [p = std::move(p)]() mutable {
            if (p.get_owner_shard() != 0 || p->value != 42) {
                seen_wrong++;
            }
            return std::move(p);
        });
        REQUIRE(p.get_owner_shard() == 0);
    }
    REQUIRE(seen_wrong == 0);
    // Finally dropped on shard 1: deleted on shard 0.
    co_await smp::submit_to(1, [p = std::move(p)]() mutable { p = nullptr; });
    co_await round_trip(1);
    co_await round_trip(1);
    // The deletion message went 1 -> 0; a trip 1 -> 0 from shard 1 follows it.
    co_await smp::submit_to(1, [] { return round_trip(0); });
    REQUIRE(made[0] == 1);
    REQUIRE(freed[0] == 1);
    REQUIRE(freed_elsewhere == 0);
}

REEF_TEST_CASE("destroy() resolves after the object was deleted on its owner") {
    reset_counts();
    auto p = co_await smp::submit_to(1, [] { return make_foreign(std::make_unique<homed>(3)); });
    co_await p.destroy();
    REQUIRE(freed[1] == 1);
    REQUIRE(!p);
    co_await p.destroy();  // null: nothing to do
    auto local = make_foreign(std::make_shared<homed>(4));
    co_await local.destroy();
    REQUIRE(freed[0] == 1);
    REQUIRE(freed_elsewhere == 0);
}

REEF_TEST_CASE("copy() of a shared foreign_ptr is made on the owner shard and shares the object") {
    reset_counts();
    auto p = co_await smp::submit_to(1, [] { return make_foreign(std::make_shared<homed>(5)); });
    auto c = co_await p.copy();
    REQUIRE(c.get_owner_shard() == 1);
    REQUIRE(c.get() == p.get());
    REQUIRE(co_await smp::submit_to(1, [&p] { return p.release().use_count(); }) == 2);
    // p released its share on shard 1 (inside the call above); c still holds the object.
    REQUIRE(!p);
    REQUIRE(freed[1] == 0);
    c.reset();
    co_await round_trip(1);
    REQUIRE(freed[1] == 1);
    REQUIRE(freed_elsewhere == 0);
}

REEF_TEST_CASE("release() hands the pointer back and reset() takes a new one owned here") {
    reset_counts();
    auto p = co_await smp::submit_to(1, [] { return make_foreign(std::make_unique<homed>(6)); });
    std::unique_ptr<homed> raw = p.release();
    REQUIRE(!p);
    REQUIRE(raw->home == 1);
    co_await smp::submit_to(1, [raw = std::move(raw)]() mutable { raw.reset(); });
    REQUIRE(freed[1] == 1);

    auto q = co_await smp::submit_to(1, [] { return make_foreign(std::make_unique<homed>(9)); });
    q.reset(std::make_unique<homed>(10));  // the old object goes back to shard 1
    REQUIRE(q.get_owner_shard() == 0);
    REQUIRE(q->value == 10);
    co_await round_trip(1);
    REQUIRE(freed[1] == 2);
    q.reset();
    REQUIRE(freed[0] == 1);
    REQUIRE(freed_elsewhere == 0);
}

REEF_TEST_CASE("many foreign_ptrs freed from the wrong shard are all deleted at home") {
    reset_counts();
    constexpr int n = 2000;
    auto batch = co_await smp::submit_to(1, [] {
        std::vector<foreign_ptr<std::unique_ptr<homed>>> v;
        for (int i = 0; i < n; ++i) {
            v.push_back(make_foreign(std::make_unique<homed>(i)));
        }
        return v;
    });
    REQUIRE(batch.size() == std::size_t(n));
    batch.clear();
    co_await round_trip(1);
    REQUIRE(made[1] == n);
    REQUIRE(freed[1] == n);
    REQUIRE(freed_elsewhere == 0);
}
