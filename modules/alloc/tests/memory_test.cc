#include <reef/alloc/memory.hh>

#include "size_classes.hh"

#include <catch2/catch.hpp>

#include <atomic>
#include <barrier>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace mem = reef::memory;

namespace {

constexpr std::size_t shard_bytes = std::size_t{256} << 20;

void ensure_configured() {
    if (!mem::configured()) {
        REQUIRE(mem::configure(2, shard_bytes));
    }
}

// Runs `f` on a new thread bound to shard `id`, while the caller waits.
template <typename F>
void on_shard(unsigned id, F f) {
    ensure_configured();
    bool bound = false;
    std::thread t([&] {
        bound = mem::bind_shard(id);
        if (bound) {
            f();
            mem::unbind_shard();
        }
    });
    t.join();
    REQUIRE(bound);
}

std::uint8_t pattern(const void* p, std::size_t i) {
    return static_cast<std::uint8_t>((reinterpret_cast<std::uintptr_t>(p) >> 4) * 7 + i * 31);
}

void fill(void* p, std::size_t n) {
    auto* b = static_cast<std::uint8_t*>(p);
    for (std::size_t i = 0; i < n; ++i) {
        b[i] = pattern(p, i);
    }
}

bool check(const void* p, std::size_t n) {
    auto* b = static_cast<const std::uint8_t*>(p);
    for (std::size_t i = 0; i < n; ++i) {
        if (b[i] != pattern(p, i)) {
            return false;
        }
    }
    return true;
}

} // namespace

TEST_CASE("size classes cover every small size with bounded waste") {
    using namespace reef::memory::detail;
    for (std::size_t s = 1; s <= mem::max_small_size; ++s) {
        unsigned c = class_of(s);
        REQUIRE(c < class_count);
        REQUIRE(classes.size[c] >= s);
        REQUIRE((c == 0 || classes.size[c - 1] < s));
        if (s > 64) {
            REQUIRE((classes.size[c] - s) * 5 <= classes.size[c]);
        }
    }
    for (unsigned c = 0; c < class_count; ++c) {
        REQUIRE(classes.capacity[c] >= 8);
        REQUIRE(classes.pages[c] <= max_span_pages);
        REQUIRE((classes.size[c] < 16 || classes.size[c] % 16 == 0));
    }
}

TEST_CASE("allocate and free on a bound shard use the shard's range") {
    on_shard(0, [] {
        auto before = mem::stats();
        CHECK(mem::current_shard() == 0);
        std::vector<std::size_t> sizes{0, 1, 8, 9, 16, 17, 64, 100, 1000, 4096, 16384, 16385, 65536,
                                       std::size_t{1} << 20};
        std::vector<void*> ptrs;
        for (std::size_t s : sizes) {
            void* p = mem::allocate(s);
            REQUIRE(p);
            CHECK(mem::owns(p));
            CHECK(mem::shard_of(p) == 0);
            CHECK(mem::usable_size(p) >= s);
            if (s > 8) {
                CHECK(reinterpret_cast<std::uintptr_t>(p) % 16 == 0);
            }
            fill(p, s);
            ptrs.push_back(p);
        }
        auto mid = mem::stats();
        CHECK(mid.allocations == before.allocations + sizes.size());
        CHECK(mid.bytes_in_use > before.bytes_in_use);
        CHECK(mid.bytes_free + mid.bytes_in_use <= mid.bytes_total);
        for (std::size_t i = 0; i < sizes.size(); ++i) {
            CHECK(check(ptrs[i], sizes[i]));
            if (i % 2) {
                mem::free_sized(ptrs[i], sizes[i]);
            } else {
                mem::free(ptrs[i]);
            }
        }
        mem::free(nullptr);
        auto after = mem::stats();
        CHECK(after.frees == before.frees + sizes.size());
        CHECK(after.bytes_in_use == before.bytes_in_use);
    });
}

TEST_CASE("allocate_aligned honours every power of two up to 64 KiB and beyond") {
    on_shard(1, [] {
        auto before = mem::stats();
        for (std::size_t align = 1; align <= (std::size_t{1} << 21); align *= 2) {
            for (std::size_t size : {std::size_t{1}, std::size_t{100}, align, align * 3 / 2 + 1, std::size_t{20000}}) {
                void* p = mem::allocate_aligned(align, size);
                REQUIRE(p);
                INFO("align " << align << " size " << size);
                CHECK(reinterpret_cast<std::uintptr_t>(p) % align == 0);
                CHECK(mem::owns(p));
                CHECK(mem::usable_size(p) >= size);
                std::memset(p, 0xab, size);
                mem::free(p);
            }
        }
        CHECK(mem::allocate_aligned(3, 10) == nullptr);
        CHECK(mem::allocate_aligned(0, 10) == nullptr);
        CHECK(mem::stats().bytes_in_use == before.bytes_in_use);
    });
}

TEST_CASE("reallocate grows and shrinks keeping contents") {
    on_shard(0, [] {
        auto before = mem::stats();
        std::size_t chain[] = {10, 100, 1000, 20000, 200000, 1 << 20, 50000, 3000, 24, 5, 70000};
        void* p = mem::reallocate(nullptr, chain[0]);
        REQUIRE(p);
        fill(p, chain[0]);
        std::size_t old = chain[0];
        for (std::size_t i = 1; i < std::size(chain); ++i) {
            std::size_t n = chain[i];
            void* q = mem::reallocate(p, n);
            REQUIRE(q);
            INFO("from " << old << " to " << n);
            // The contents moved with the block: the pattern depends on the address, so
            // compare against the old address's pattern before refilling.
            auto* b = static_cast<std::uint8_t*>(q);
            bool same = true;
            for (std::size_t k = 0; k < std::min(old, n); ++k) {
                same = same && b[k] == pattern(p, k);
            }
            CHECK(same);
            fill(q, n);
            p = q;
            old = n;
        }
        mem::free(p);

        // A large block grows and shrinks in place when the pages after it are free.
        void* big = mem::allocate(64 * 1024);
        REQUIRE(big);
        void* grown = mem::reallocate(big, 256 * 1024);
        CHECK(grown == big);
        void* shrunk = mem::reallocate(grown, 100 * 1024);
        CHECK(shrunk == big);
        CHECK(mem::usable_size(shrunk) == 100 * 1024);
        void* small = mem::allocate(40);
        void* same = mem::reallocate(small, 30);
        CHECK(same == small);
        CHECK(mem::reallocate(same, 0) == nullptr);
        mem::free(shrunk);
        CHECK(mem::stats().bytes_in_use == before.bytes_in_use);
    });
}

TEST_CASE("a block freed on another shard goes back to its owner") {
    std::vector<void*> blocks;
    on_shard(0, [&] {
        for (int i = 0; i < 300; ++i) {
            blocks.push_back(mem::allocate(static_cast<std::size_t>(16 + i * 50)));
        }
    });
    std::size_t in_use_before_free = 0;
    on_shard(0, [&] { in_use_before_free = mem::stats().bytes_in_use; });
    CHECK(in_use_before_free > 0);
    on_shard(1, [&] {
        auto before = mem::stats();
        for (void* p : blocks) {
            mem::free(p);
        }
        CHECK(mem::stats().cross_shard_frees == before.cross_shard_frees + blocks.size());
    });
    on_shard(0, [&] {
        auto before = mem::stats();
        // unbind_shard() on shard 1 flushed its batches; the owner applies them here.
        CHECK(mem::drain_remote_frees() == blocks.size());
        auto after = mem::stats();
        CHECK(after.frees == before.frees + blocks.size());
        CHECK(after.bytes_in_use + 0 < in_use_before_free);
    });
}

TEST_CASE("random sizes across two shards with cross-shard frees keep contents and leak nothing") {
    ensure_configured();
    constexpr int ops = 60000;
    std::mutex mu;
    std::vector<std::pair<void*, std::size_t>> mailbox[2]; // blocks sent to shard i's thread
    std::atomic<int> errors{0};
    std::atomic<int> bind_failures{0};
    std::barrier sync(2);
    mem::statistics start[2], end[2];
    auto body = [&](unsigned id) {
        if (!mem::bind_shard(id)) {
            ++bind_failures;
            sync.arrive_and_drop();
            return;
        }
        start[id] = mem::stats();
        std::mt19937_64 rng(id * 7919 + 1);
        std::vector<std::pair<void*, std::size_t>> live;
        std::vector<std::pair<void*, std::size_t>> inbox;
        auto release = [&](std::pair<void*, std::size_t> b) {
            if (!check(b.first, b.second)) {
                ++errors;
            }
            mem::free(b.first);
        };
        for (int i = 0; i < ops; ++i) {
            unsigned action = static_cast<unsigned>(rng() % 8);
            if (live.size() < 200 || action < 4) {
                // Sizes spread evenly over the powers of two from 8 B to 64 KiB.
                std::size_t bits = 3 + rng() % 14;
                std::size_t size = (std::size_t{1} << bits) + rng() % (std::size_t{1} << bits);
                size = std::min<std::size_t>(size, 64 * 1024);
                void* p = (action == 3) ? mem::allocate_aligned(std::size_t{64} << (rng() % 4), size)
                                        : mem::allocate(size);
                if (!p || mem::shard_of(p) != static_cast<int>(id)) {
                    ++errors;
                    continue;
                }
                fill(p, size);
                live.emplace_back(p, size);
            } else if (action < 6) {
                std::size_t k = rng() % live.size();
                release(live[k]);
                live[k] = live.back();
                live.pop_back();
            } else if (action == 6) {
                std::size_t k = rng() % live.size();
                std::lock_guard lock(mu);
                mailbox[1 - id].push_back(live[k]);
                live[k] = live.back();
                live.pop_back();
            } else {
                std::size_t k = rng() % live.size();
                std::size_t old = live[k].second;
                std::size_t n = 8 + rng() % (64 * 1024);
                void* q = mem::reallocate(live[k].first, n);
                if (!q) {
                    ++errors;
                    continue;
                }
                auto* b = static_cast<std::uint8_t*>(q);
                for (std::size_t j = 0; j < std::min(old, n); ++j) {
                    if (b[j] != pattern(live[k].first, j)) {
                        ++errors;
                        break;
                    }
                }
                fill(q, n);
                live[k] = {q, n};
            }
            if (i % 512 == 0) {
                {
                    std::lock_guard lock(mu);
                    inbox.swap(mailbox[id]);
                }
                for (auto& b : inbox) {
                    release(b);
                }
                inbox.clear();
                mem::flush_remote_frees();
                mem::drain_remote_frees();
            }
        }
        for (auto& b : live) {
            release(b);
        }
        sync.arrive_and_wait(); // both have stopped mailing
        {
            std::lock_guard lock(mu);
            inbox.swap(mailbox[id]);
        }
        for (auto& b : inbox) {
            release(b);
        }
        mem::flush_remote_frees();
        sync.arrive_and_wait(); // every remote free is published
        mem::drain_remote_frees();
        end[id] = mem::stats();
        mem::unbind_shard();
    };
    std::thread a(body, 0u), b(body, 1u);
    a.join();
    b.join();
    REQUIRE(bind_failures == 0);
    CHECK(errors == 0);
    for (int i = 0; i < 2; ++i) {
        INFO("shard " << i);
        CHECK(end[i].bytes_in_use == start[i].bytes_in_use);
        CHECK(end[i].allocations - start[i].allocations > 10000);
        CHECK(end[i].cross_shard_frees > start[i].cross_shard_frees);
        CHECK(end[i].failed_allocations == start[i].failed_allocations);
    }
    // Allocations made here count on their shard, frees count on the owner.
    CHECK(end[0].allocations + end[1].allocations - start[0].allocations - start[1].allocations ==
          end[0].frees + end[1].frees - start[0].frees - start[1].frees);
}

TEST_CASE("an unbound thread gets memory from the system allocator") {
    ensure_configured();
    void* owned = nullptr;
    on_shard(0, [&] { owned = mem::allocate(1000); });
    std::size_t base = 0;
    on_shard(0, [&] { base = mem::stats().bytes_in_use; });
    bool ok = true;
    std::thread t([&] {
        ok = ok && mem::current_shard() == -1;
        void* p = mem::allocate(100);
        ok = ok && p && !mem::owns(p) && mem::shard_of(p) == -1 && mem::usable_size(p) >= 100;
        std::memset(p, 1, 100);
        void* a = mem::allocate_aligned(4096, 100);
        ok = ok && a && reinterpret_cast<std::uintptr_t>(a) % 4096 == 0 && !mem::owns(a);
        void* q = mem::reallocate(p, 5000);
        ok = ok && q && static_cast<unsigned char*>(q)[99] == 1 && !mem::owns(q);
        mem::free(q);
        mem::free(a);
        ok = ok && mem::stats().allocations == 0;
        // A Reef block freed from an unbound thread still goes back to its owner.
        mem::free(owned);
    });
    t.join();
    CHECK(ok);
    on_shard(0, [&] {
        CHECK(mem::drain_remote_frees() == 1);
        CHECK(mem::stats().bytes_in_use == base - 1024);
    });
}

TEST_CASE("free of a system pointer goes to the system allocator") {
    on_shard(1, [] {
        void* p = std::malloc(100);
        REQUIRE(p);
        CHECK_FALSE(mem::owns(p));
        CHECK(mem::usable_size(p) >= 100);
        void* q = mem::reallocate(p, 200);
        REQUIRE(q);
        CHECK_FALSE(mem::owns(q));
        auto before = mem::stats();
        mem::free(q);
        CHECK(mem::stats().frees == before.frees);
    });
}

TEST_CASE("huge allocations are mapped directly and freed from any thread") {
    void* p = nullptr;
    on_shard(0, [&] {
        mem::set_huge_threshold(std::size_t{8} << 20);
        auto before = mem::stats();
        p = mem::allocate(std::size_t{16} << 20);
        REQUIRE(p);
        CHECK_FALSE(mem::owns(p));
        CHECK(mem::usable_size(p) >= (std::size_t{16} << 20));
        std::memset(p, 7, std::size_t{16} << 20);
        void* a = mem::allocate_aligned(std::size_t{4} << 20, std::size_t{10} << 20);
        REQUIRE(a);
        CHECK(reinterpret_cast<std::uintptr_t>(a) % (std::size_t{4} << 20) == 0);
        void* r = mem::reallocate(a, std::size_t{20} << 20);
        REQUIRE(r);
        mem::free(r);
        CHECK(mem::stats().huge_allocations == before.huge_allocations + 3);
        mem::set_huge_threshold(std::size_t{64} << 20);
    });
    on_shard(1, [&] { mem::free(p); });
}

namespace {
std::size_t reported_size = 0;
int reported_frames = 0;
void capture_report(const mem::large_allocation_report& r) {
    reported_size = r.size;
    reported_frames = r.frame_count;
}
} // namespace

TEST_CASE("allocations above the warning threshold are reported with a backtrace") {
    on_shard(0, [] {
        mem::set_large_allocation_reporter(capture_report);
        mem::set_large_allocation_warning_threshold(std::size_t{1} << 20);
        void* small = mem::allocate(100 * 1024);
        CHECK(reported_size == 0);
        void* big = mem::allocate(std::size_t{2} << 20);
        CHECK(reported_size == (std::size_t{2} << 20));
        CHECK(reported_frames > 0);
        CHECK(mem::stats().large_allocation_reports >= 1);
        mem::set_large_allocation_warning_threshold(0);
        mem::set_large_allocation_reporter(nullptr);
        mem::free(small);
        mem::free(big);
    });
}

TEST_CASE("configure and bind_shard refuse misuse") {
    ensure_configured();
    CHECK_FALSE(mem::configure(2, shard_bytes));
    CHECK(mem::shard_count() == 2);
    on_shard(0, [] {
        CHECK_FALSE(mem::bind_shard(0));
        bool other = true;
        std::thread t([&] { other = mem::bind_shard(0) || mem::bind_shard(2); });
        t.join();
        CHECK_FALSE(other);
        mem::reclaimer_fn none = [](std::size_t, void*) -> std::size_t { return 0; };
        CHECK(mem::register_reclaimer(none, nullptr));
        CHECK_FALSE(mem::unregister_reclaimer(none, &other));
        CHECK(mem::unregister_reclaimer(none, nullptr));
    });
}

TEST_CASE("release_free_memory returns free spans to the kernel") {
    on_shard(1, [] {
        // Start with no dirty pages: otherwise the frees below may cross the automatic
        // release threshold left near by earlier tests, and nothing remains to release.
        mem::release_free_memory();
        std::vector<void*> blocks;
        for (int i = 0; i < 16; ++i) {
            blocks.push_back(mem::allocate(256 * 1024));
            std::memset(blocks.back(), 3, 256 * 1024);
            blocks.push_back(mem::allocate(20 * 1024)); // keeps the spans from merging into one
        }
        for (std::size_t i = 0; i < blocks.size(); i += 2) {
            mem::free(blocks[i]);
        }
        CHECK(mem::release_free_memory() >= std::size_t{4} << 20);
        void* p = mem::allocate(256 * 1024);
        REQUIRE(p);
        CHECK(static_cast<unsigned char*>(p)[1000] == 0);
        mem::free(p);
        for (std::size_t i = 1; i < blocks.size(); i += 2) {
            mem::free(blocks[i]);
        }
    });
}
