// The reactor's use of the allocator: shards bound to their ranges, malloc and new served
// from them (allocator=reef), frees on another shard returned through the poller, the
// per-shard cap from --memory, memory metrics, large-allocation reports, threads that
// are not shards. With allocator=system (sanitizer builds) the same API is served by the
// system allocator and the shards bind nothing: the checks say which mode they expect.
#include <reef/alloc/memory.hh>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <reef/core/coroutine.hh>
#include <reef/reactor/metrics.hh>
#include <reef/reactor/sleep.hh>
#include <reef/reactor/smp.hh>
#include <reef/testing/test_case.hh>

#include "smp_impl.hh"

using namespace reef;
using namespace std::chrono_literals;

namespace {

#ifdef REEF_ALLOCATOR_REEF
constexpr bool reef_mode = true;
#else
constexpr bool reef_mode = false;
#endif

// Waits (letting the shard's poller run) until `done()` holds or a second passes.
template <typename F>
future<bool> eventually(F done) {
    for (int i = 0; i < 1000; ++i) {
        if (done()) {
            co_return true;
        }
        co_await sleep(1ms);
    }
    co_return done();
}

// Hides `p` from the optimizer, which may otherwise drop a new/delete pair whose memory
// is barely used (and with it the allocation under test).
template <typename T>
T* keep(T* p) noexcept {
    asm volatile("" : "+r"(p) : : "memory");
    return p;
}

// Runs `body` in fresh shards configured by `cfg` (a copy of the test configuration).
void run_with(const smp_config& cfg, std::function<future<>()> body) {
    detail::run_shards(cfg, [&body]() -> future<int> {
        return futurize_invoke(body).then([] { return 0; });
    });
}

} // namespace

REEF_TEST_CASE("each shard allocates malloc and new from its own range") {
    co_await smp::invoke_on_all([] {
        int shard = int(this_shard_id());
        void* m = std::malloc(100);
        auto n = std::make_unique<std::string>(200, 'x');
        if (reef_mode) {
            REQUIRE(memory::current_shard() == shard);
            CHECK(memory::shard_of(m) == shard);
            CHECK(memory::shard_of(n.get()) == shard);
            CHECK(memory::shard_of(n->data()) == shard);
            CHECK(memory::stats().bytes_total > 0);
        } else {
            CHECK(memory::current_shard() == -1);
            CHECK(memory::shard_of(m) == -1);
            CHECK(memory::stats().allocations == 0);
        }
        std::free(m);
    });
}

REEF_TEST_CASE("blocks freed on another shard go back to their owner") {
    constexpr int count = 1000;
    auto before = memory::stats();
    auto blocks = std::make_shared<std::vector<char*>>();
    for (int i = 0; i < count; ++i) {
        char* p = static_cast<char*>(std::malloc(64 + i % 512));
        std::memset(p, i & 0xff, 64);
        blocks->push_back(p);
    }
    auto mid = memory::stats();
    auto sent = co_await smp::submit_to(1, [blocks] {
        auto b1 = memory::stats();
        for (int i = 0; i < count; ++i) {
            char* p = (*blocks)[i];
            REQUIRE(static_cast<unsigned char>(p[63]) == (i & 0xff)); // contents arrived intact
            std::free(p);
        }
        return memory::stats().cross_shard_frees - b1.cross_shard_frees;
    });
    if (!reef_mode) {
        CHECK(sent == 0);
        co_return;
    }
    CHECK(sent == count);
    CHECK(mid.bytes_in_use > before.bytes_in_use);
    // Shard 1 hands the batches back on its next poll; shard 0's poller applies them.
    bool returned = co_await eventually([&] { return memory::stats().frees >= mid.frees + count; });
    CHECK(returned);
    // The 1000 blocks (about 320 KB) are no longer counted as in use.
    CHECK(memory::stats().bytes_in_use + 250000 < mid.bytes_in_use);
}

REEF_TEST_CASE("the memory metrics are exported per shard") {
    auto all = co_await metrics::collect_all();
    auto text = metrics::format_prometheus(all);
    bool has_metric = text.find("memory_allocated_bytes{shard=\"1\"}") != std::string::npos;
    bool has_counter = text.find("memory_cross_shard_frees{shard=\"0\"}") != std::string::npos;
    CHECK(has_metric == reef_mode);
    CHECK(has_counter == reef_mode);
}

namespace {

// Resident bytes of this process (/proc/self/statm).
std::size_t resident_bytes() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    REQUIRE(f);
    unsigned long size = 0, resident = 0;
    REQUIRE(std::fscanf(f, "%lu %lu", &size, &resident) == 2);
    std::fclose(f);
    return resident * std::size_t(::sysconf(_SC_PAGESIZE));
}

// The value of `name{shard="0"}` in the Prometheus text of every shard's metrics.
future<double> shard0_metric(const std::string& name) {
    auto text = metrics::format_prometheus(co_await metrics::collect_all());
    auto key = name + "{shard=\"0\"} ";
    auto at = text.find(key);
    co_return at == std::string::npos ? -1.0 : std::stod(text.substr(at + key.size()));
}

} // namespace

REEF_TEST_CASE("a shard idle for a second gives its free memory back to the kernel") {
    if (!reef_mode) {
        co_return;  // the system allocator keeps its own policy
    }
    auto releases_before = co_await shard0_metric("memory_idle_releases");
    REQUIRE(releases_before >= 0);
    constexpr std::size_t block = 16 << 10, count = 2048;  // 32 MiB
    std::size_t live;
    {
        std::vector<char*> blocks;
        blocks.reserve(count);
        for (std::size_t i = 0; i < count; ++i) {
            blocks.push_back(keep(static_cast<char*>(std::malloc(block))));
            REQUIRE(blocks.back());
            std::memset(blocks.back(), 1, block);
        }
        live = resident_bytes();
        for (char* p : blocks) {
            std::free(p);
        }
    }
    // Nothing allocates on this shard while it sleeps: after a second its idle timer
    // gives the freed pages back.
    co_await sleep(2500ms);
    auto after = resident_bytes();
    INFO("resident with the blocks " << (live >> 20) << " MiB, after the idle release " << (after >> 20) << " MiB");
    CHECK(after + (count * block) / 2 < live);
    CHECK(co_await shard0_metric("memory_idle_releases") > releases_before);
    CHECK(co_await shard0_metric("memory_idle_released_bytes") > 0);
    // And the shard allocates as before.
    void* p = keep(std::malloc(block));
    REQUIRE(p);
    std::free(p);
}

REEF_TEST_CASE("a thread that is not a shard allocates from the system and may free shard blocks") {
    char* shard_block = static_cast<char*>(std::malloc(256));
    std::memset(shard_block, 5, 256);
    auto before = memory::stats();
    std::atomic<int> owner_seen{-2};
    std::atomic<bool> ok{false};
    std::thread t([&] {
        void* own = std::malloc(1000);
        auto s = std::make_unique<std::vector<int>>(1000, 7);
        owner_seen = memory::shard_of(own);
        ok = memory::current_shard() == -1 && (*s)[999] == 7 && shard_block[255] == 5;
        std::free(own);
        std::free(shard_block); // a shard's block freed by a stranger: queued to its owner
    });
    t.join();
    CHECK(ok.load());
    CHECK(owner_seen.load() == -1);
    if (reef_mode) {
        bool returned = co_await eventually([&] { return memory::stats().frees > before.frees; });
        CHECK(returned);
    }
}

TEST_CASE("--memory caps each shard: new throws bad_alloc, the shard recovers") {
    smp_config cfg = testing::test_config();
    cfg.memory = 2 * (std::size_t{64} << 20); // 64 MiB per shard
    bool threw = false;
    std::uint64_t failed = 0;
    bool recovered = false;
    run_with(cfg, [&]() -> future<> {
        if (!reef_mode) {
            co_return;
        }
        CHECK(memory::memory_limit() == (std::size_t{64} << 20));
        CHECK(memory::stats().bytes_total == (std::size_t{64} << 20));
        auto before = memory::stats();
        std::vector<std::unique_ptr<char[]>> held;
        try {
            for (int i = 0; i < 200; ++i) {
                held.emplace_back(keep(new char[1 << 20])); // 200 MiB: more than the cap
            }
        } catch (const std::bad_alloc&) {
            threw = true;
        }
        CHECK(held.size() >= 50);
        CHECK(held.size() < 64);
        // malloc reports the same exhaustion as nullptr.
        void* m = keep(std::malloc(4 << 20));
        CHECK(m == nullptr);
        failed = memory::stats().failed_allocations - before.failed_allocations;
        held.clear();
        // The memory is usable again, by this shard and for large blocks.
        std::unique_ptr<char[]> again(keep(new char[32 << 20]));
        again[0] = 1;
        again[(32 << 20) - 1] = 2;
        recovered = again[0] + again[(32 << 20) - 1] == 3;
        // The other shard was never affected.
        bool other_fine = co_await smp::submit_to(1, [] {
            std::unique_ptr<char[]> p(keep(new char[16 << 20]));
            p[0] = 1;
            return p[0] == 1;
        });
        CHECK(other_fine);
    });
    if (reef_mode) {
        CHECK(threw);
        CHECK(failed >= 2);
        CHECK(recovered);
    }
}

TEST_CASE("--memory too small for the shards is refused with a clear error") {
    smp_config cfg = testing::test_config();
    cfg.memory = std::size_t{4} << 20; // 2 MiB per shard
    try {
        run_with(cfg, []() -> future<> { co_return; });
        FAIL("run_shards accepted 2 MiB per shard");
    } catch (const std::invalid_argument& e) {
        std::string what = e.what();
        CHECK(what.find("--memory") != std::string::npos);
        CHECK(what.find("2 shards") != std::string::npos);
    }
}

namespace {
std::atomic<int> g_reports{0};
std::atomic<std::size_t> g_reported_size{0};
std::atomic<int> g_reported_frames{0};
void record_report(const memory::large_allocation_report& r) {
    g_reports.fetch_add(1);
    g_reported_size = r.size;
    g_reported_frames = r.frame_count;
}
} // namespace

TEST_CASE("allocations above --large-allocation-warning-threshold are reported with a backtrace") {
    smp_config cfg = testing::test_config();
    cfg.large_allocation_warning_threshold = std::size_t{1} << 20;
    memory::set_large_allocation_reporter(record_report);
    g_reports = 0;
    run_with(cfg, [&]() -> future<> {
        std::unique_ptr<char[]> small(keep(new char[512 << 10]));
        std::unique_ptr<char[]> big(keep(new char[3 << 20]));
        big[0] = small[0] = 1;
        co_return;
    });
    memory::set_large_allocation_reporter(nullptr);
    memory::set_large_allocation_warning_threshold(0);
    if (reef_mode) {
        CHECK(g_reports.load() == 1);
        CHECK(g_reported_size.load() == (std::size_t{3} << 20));
        CHECK(g_reported_frames.load() > 1);
    } else {
        CHECK(g_reports.load() == 0);
    }
}
