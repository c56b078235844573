#include <reef/alloc/memory.hh>

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>
#include <vector>

namespace mem = reef::memory;

namespace {

constexpr std::size_t range = std::size_t{4} << 20;
constexpr std::size_t block = 64 * 1024;

// The Catch2 thread is the one shard of a 4 MiB configuration.
void ensure_bound() {
    if (mem::current_shard() < 0) {
        REQUIRE(mem::configure(1, range));
        REQUIRE(mem::bind_shard(0));
    }
}

std::vector<void*> fill_range() {
    std::vector<void*> held;
    for (std::size_t i = 0; i < 2 * range / block; ++i) {
        void* p = mem::allocate(block);
        if (!p) {
            break;
        }
        std::memset(p, 1, block);
        held.push_back(p);
    }
    return held;
}

struct cache {
    std::vector<void*> blocks;
    int calls = 0;
};

std::size_t give_back_half(std::size_t, void* arg) {
    auto* c = static_cast<cache*>(arg);
    ++c->calls;
    std::size_t freed = 0;
    for (std::size_t n = (c->blocks.size() + 1) / 2; n > 0; --n) {
        freed += mem::usable_size(c->blocks.back());
        mem::free(c->blocks.back());
        c->blocks.pop_back();
    }
    return freed;
}

std::size_t give_nothing(std::size_t, void* arg) {
    ++static_cast<cache*>(arg)->calls;
    return 0;
}

} // namespace

TEST_CASE("an exhausted shard returns nullptr and works again after frees") {
    ensure_bound();
    auto before = mem::stats();
    auto held = fill_range();
    CHECK(held.size() == range / block);
    CHECK(mem::allocate(block) == nullptr);
    CHECK(mem::allocate(100) == nullptr);
    CHECK(mem::allocate_aligned(4096, 100) == nullptr);
    auto full = mem::stats();
    CHECK(full.failed_allocations == before.failed_allocations + 4); // fill_range() ends on one
    CHECK(full.bytes_free == 0);
    for (void* p : held) {
        mem::free(p);
    }
    CHECK(mem::stats().bytes_in_use == before.bytes_in_use);
    // The freed blocks coalesced: the whole range is one span again.
    CHECK(mem::stats().bytes_free == range);
    void* whole = mem::allocate(range);
    REQUIRE(whole);
    mem::free(whole);
    void* p = mem::allocate(100);
    REQUIRE(p);
    mem::free(p);
    CHECK(mem::stats().bytes_free >= range - 64 * 1024); // the class keeps its current span
}

TEST_CASE("an allocation larger than the range fails without disturbing the shard") {
    ensure_bound();
    auto before = mem::stats();
    CHECK(mem::allocate(range + 1) == nullptr);
    CHECK(mem::reallocate(mem::allocate(10), range * 2) == nullptr);
    CHECK(mem::stats().failed_allocations == before.failed_allocations + 2);
    CHECK(mem::stats().bytes_in_use == before.bytes_in_use + 16); // the block realloc left alone
}

TEST_CASE("reclaimers are asked to free memory before an allocation fails") {
    ensure_bound();
    cache c;
    c.blocks = fill_range();
    auto before = mem::stats();
    REQUIRE(mem::register_reclaimer(give_back_half, &c));
    std::size_t cached = c.blocks.size();
    void* p = mem::allocate(block);
    CHECK(p);
    CHECK(c.calls == 1);
    CHECK(c.blocks.size() == cached / 2);
    CHECK(mem::stats().reclaims == before.reclaims + 1);
    CHECK(mem::stats().failed_allocations == before.failed_allocations);
    mem::free(p);
    REQUIRE(mem::unregister_reclaimer(give_back_half, &c));

    // A reclaimer with nothing to give is still asked once, then the allocation fails.
    cache none;
    auto refill = fill_range();
    REQUIRE(mem::register_reclaimer(give_nothing, &none));
    auto mid = mem::stats();
    CHECK(mem::allocate(block) == nullptr);
    CHECK(none.calls == 1);
    CHECK(mem::stats().reclaims == mid.reclaims + 1);
    CHECK(mem::stats().failed_allocations == mid.failed_allocations + 1);
    REQUIRE(mem::unregister_reclaimer(give_nothing, &none));
    for (void* b : refill) {
        mem::free(b);
    }
    for (void* b : c.blocks) {
        mem::free(b);
    }
}

TEST_CASE("set_memory_limit caps spans and huge blocks below the range") {
    ensure_bound();
    REQUIRE(mem::range_size() == range);
    CHECK(mem::memory_limit() == range);
    CHECK_FALSE(mem::set_memory_limit(100)); // less than a page
    REQUIRE(mem::set_memory_limit(range / 2));
    CHECK(mem::stats().bytes_total == range / 2);
    auto held = fill_range();
    // An earlier test left one small block (and so one small span) allocated.
    CHECK(held.size() * block <= range / 2);
    CHECK(held.size() >= range / 2 / block - 1);
    CHECK(mem::allocate(block) == nullptr);
    for (void* p : held) {
        mem::free(p);
    }
    // Huge blocks (mapped outside the range) count against the cap too.
    mem::set_huge_threshold(256 * 1024);
    constexpr std::size_t huge = 768 * 1024;
    void* h1 = mem::allocate(huge);
    REQUIRE(h1);
    CHECK(mem::stats().huge_allocations >= 1);
    CHECK_FALSE(mem::owns(h1));
    void* h2 = mem::allocate(huge);
    REQUIRE(h2);
    CHECK(mem::allocate(huge) == nullptr); // 3 x 768 KiB is over the 2 MiB cap
    std::memset(h2, 7, huge);
    mem::free(h1);
    void* h3 = mem::allocate(huge); // the freed huge block's budget is back
    CHECK(h3);
    mem::free(h3);
    mem::free(h2);
    mem::set_huge_threshold(std::size_t{64} << 20);
    // Raising the cap beyond the range clamps it to the range.
    REQUIRE(mem::set_memory_limit(range * 4));
    CHECK(mem::memory_limit() == range);
    held = fill_range();
    CHECK(held.size() >= range / block - 1);
    for (void* p : held) {
        mem::free(p);
    }
}

TEST_CASE("set_numa_node checks its arguments") {
    ensure_bound();
    CHECK_FALSE(mem::set_numa_node(1, 0));    // one shard configured
    CHECK_FALSE(mem::set_numa_node(0, 5000)); // node out of range
    // Node 0 exists on every Linux machine; a kernel without NUMA (or a sandbox that
    // forbids mbind) refuses with ENOSYS or EPERM, which is not an error of ours.
    errno = 0;
    bool placed = mem::set_numa_node(0, 0);
    CHECK((placed || errno == ENOSYS || errno == EPERM));
}
