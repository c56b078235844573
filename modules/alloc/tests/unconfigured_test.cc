#include <reef/alloc.hh>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>

namespace mem = reef::memory;

namespace {
void* from_before_configure = nullptr;
}

TEST_CASE("before configure every call goes to the system allocator") {
    CHECK_FALSE(mem::configured());
    CHECK(mem::shard_count() == 0);
    CHECK_FALSE(mem::bind_shard(0));
    CHECK(mem::current_shard() == -1);
    void* p = mem::allocate(100);
    REQUIRE(p);
    CHECK_FALSE(mem::owns(p));
    CHECK(mem::shard_of(p) == -1);
    CHECK(mem::usable_size(p) >= 100);
    std::memset(p, 5, 100);
    void* q = mem::reallocate(p, 1000);
    REQUIRE(q);
    CHECK(static_cast<unsigned char*>(q)[50] == 5);
    mem::free(q);
    void* a = mem::allocate_aligned(1 << 16, 10);
    REQUIRE(a);
    CHECK(reinterpret_cast<std::uintptr_t>(a) % (1 << 16) == 0);
    mem::free(a);
    CHECK_FALSE(mem::owns(nullptr));
    CHECK(mem::usable_size(nullptr) == 0);
    CHECK(mem::stats().allocations == 0);
    CHECK(mem::drain_remote_frees() == 0);
    from_before_configure = mem::allocate(64);
}

TEST_CASE("configure rejects bad arguments and a second call") {
    CHECK_FALSE(mem::configure(0, 1 << 20));
    CHECK_FALSE(mem::configure(1, 0));
    CHECK_FALSE(mem::configure(mem::max_shards + 1, 1 << 20));
    REQUIRE(mem::configure(1, 1 << 20));
    CHECK(mem::configured());
    CHECK(mem::shard_count() == 1);
    CHECK_FALSE(mem::configure(1, 1 << 20));
    CHECK_FALSE(mem::bind_shard(1));
    REQUIRE(mem::bind_shard(0));
    CHECK(mem::stats().bytes_total == (std::size_t{2} << 20));
    // A block the system gave out before configure() is still freed by the system.
    CHECK_FALSE(mem::owns(from_before_configure));
    mem::free(from_before_configure);
    void* p = mem::allocate(64);
    CHECK(mem::owns(p));
    mem::free(p);
    CHECK(mem::unbind_shard());
    CHECK_FALSE(mem::unbind_shard());
}
