// The reactor's side of the allocator (reef::memory): before the shards start, the
// address ranges are reserved and each shard's share of --memory is computed (NUMA node
// from hwloc); on each shard thread the range is bound, capped, drained of the frees
// other shards send back, and its counters are exported as metrics.
//
// Built with the Meson option allocator=reef (REEF_ALLOCATOR_REEF). With allocator=system
// (and in sanitizer builds) nothing is configured: reef::memory serves every thread from
// the system allocator through the same API, and no memory metrics are registered.
#include "memory_service.hh"

#include <hwloc.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <string>

#include <reef/alloc/memory.hh>
#include <reef/reactor/log.hh>
#include <reef/reactor/metrics.hh>
#include <reef/reactor/timer.hh>

#include "reactor_impl.hh"

namespace reef::detail {

namespace {

logger memory_log("memory");

#ifdef REEF_ALLOCATOR_REEF
constexpr bool reef_allocator = true;
#else
constexpr bool reef_allocator = false;
#endif

constexpr std::size_t mib = std::size_t{1} << 20;
constexpr std::size_t gib = std::size_t{1} << 30;
/// The least memory a shard may be given: its reactor, rings and services need it.
constexpr std::size_t min_shard_memory = 8 * mib;
/// A shard that has allocated nothing for this long since it last went to sleep gives
/// its free memory back: class caches to their spans, spare spans dropped, free pages
/// returned to the kernel (memory::release_free_memory()).
constexpr auto idle_release_after = std::chrono::seconds(1);

// What run_shards() decided for this run; written on the calling thread before the shard
// threads start (thread creation orders it before their reads).
struct memory_plan {
    bool active = false;           // shards bind to reef::memory
    unsigned shards = 0;           // shards of this run that get a range
    std::size_t per_shard = 0;     // each shard's cap in bytes
};
memory_plan g_plan;

std::size_t physical_memory() noexcept {
    long pages = ::sysconf(_SC_PHYS_PAGES);
    long page = ::sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? std::size_t(pages) * std::size_t(page) : 4 * gib;
}

// The NUMA node (OS index) of each CPU in `cpus`, or an empty vector when the machine
// has one node or hwloc cannot tell.
std::vector<int> numa_nodes_of(const std::vector<unsigned>& cpus) {
    std::vector<int> nodes;
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0) {
        return nodes;
    }
    if (hwloc_topology_load(topo) == 0) {
        int count = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
        if (count > 1) {
            nodes.assign(cpus.size(), -1);
            for (int n = 0; n < count; ++n) {
                hwloc_obj_t node = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, unsigned(n));
                for (std::size_t i = 0; i < cpus.size(); ++i) {
                    if (node->cpuset && hwloc_bitmap_isset(node->cpuset, cpus[i])) {
                        nodes[i] = int(node->os_index);
                    }
                }
            }
        }
    }
    hwloc_topology_destroy(topo);
    return nodes;
}

class memory_poller final : public poller {
public:
    explicit memory_poller(class memory_service& s) noexcept : service_(s) {}
    // Frees this shard queued for other owners go out on every poll, so their memory is
    // usable again without waiting for a full batch; frees sent here are applied.
    bool poll() override {
        memory::flush_remote_frees();
        return memory::drain_remote_frees() > 0;
    }
    bool try_enter_sleep() override;

private:
    class memory_service& service_;
};

}  // namespace

class memory_service {
public:
    explicit memory_service(reactor_impl& r) : r_(r), poller_(*this) {
        idle_timer_.set_callback([this] { on_idle_timer(); });
        r_.add_poller(&poller_);
        using metrics::label_set;
        auto gauge = [&](const char* name, std::size_t memory::statistics::*field, const char* help) {
            regs_.push_back(metrics::make_gauge(
                name, [field] { return double(memory::stats().*field); }, help, label_set{}));
        };
        auto counter = [&](const char* name, std::uint64_t memory::statistics::*field, const char* help) {
            regs_.push_back(metrics::make_counter(
                name, [field] { return double(memory::stats().*field); }, help, label_set{}));
        };
        gauge("memory_allocated_bytes", &memory::statistics::bytes_in_use, "Bytes of live blocks the shard owns");
        gauge("memory_free_bytes", &memory::statistics::bytes_free, "Bytes the shard may still allocate");
        gauge("memory_total_bytes", &memory::statistics::bytes_total, "The shard's memory (its share of --memory)");
        counter("memory_allocations", &memory::statistics::allocations, "Blocks allocated by the shard");
        counter("memory_frees", &memory::statistics::frees, "Blocks of the shard freed, locally or by other shards");
        counter("memory_cross_shard_frees", &memory::statistics::cross_shard_frees,
                "Blocks the shard freed on behalf of their owner shard");
        counter("memory_reclaims", &memory::statistics::reclaims, "Times the shard's reclaimers were asked for memory");
        counter("memory_failed_allocations", &memory::statistics::failed_allocations,
                "Allocations that failed for lack of memory");
        counter("memory_huge_allocations", &memory::statistics::huge_allocations,
                "Blocks mapped directly from the kernel (above the huge threshold)");
        counter("memory_large_allocation_reports", &memory::statistics::large_allocation_reports,
                "Allocations reported above --large-allocation-warning-threshold");
        regs_.push_back(metrics::make_counter(
            "memory_idle_releases", [this] { return double(idle_releases_); },
            "Times the shard, idle for a second, gave its free memory back to the kernel", label_set{}));
        regs_.push_back(metrics::make_counter(
            "memory_idle_released_bytes", [this] { return double(idle_released_bytes_); },
            "Bytes of free pages the shard gave back to the kernel when idle", label_set{}));
    }

    // The shard is about to sleep: unless it has allocated nothing since the last
    // release, check again in a second whether it stayed idle.
    void on_sleep() {
        if (idle_timer_.armed()) {
            return;
        }
        auto allocs = memory::stats().allocations;
        if (allocs == released_at_) {
            return;  // nothing to give back that was not given already
        }
        armed_at_ = allocs;
        idle_timer_.arm(idle_release_after);
    }
    ~memory_service() {
        regs_.clear();
        r_.remove_poller(&poller_);
    }
    memory_service(const memory_service&) = delete;
    memory_service& operator=(const memory_service&) = delete;

private:
    void on_idle_timer() noexcept {
        auto allocs = memory::stats().allocations;
        if (allocs != armed_at_) {
            return;  // the shard worked meanwhile: its next sleep arms the timer again
        }
        idle_released_bytes_ += memory::release_free_memory();
        ++idle_releases_;
        released_at_ = memory::stats().allocations;
    }

    reactor_impl& r_;
    memory_poller poller_;
    timer<> idle_timer_;
    std::uint64_t armed_at_ = 0;                   // allocations when the timer was armed
    std::uint64_t released_at_ = ~std::uint64_t(0); // allocations at the last idle release
    std::uint64_t idle_releases_ = 0;
    std::uint64_t idle_released_bytes_ = 0;
    std::vector<metrics::registration> regs_;
};

namespace {

bool memory_poller::try_enter_sleep() {
    memory::flush_remote_frees();
    service_.on_sleep();
    return true;
}

}  // namespace

bool reef_allocator_enabled() noexcept {
    return reef_allocator;
}

void memory_prepare(const smp_config& cfg, unsigned n, const std::vector<unsigned>& cpus) {
    g_plan = {};
    memory::set_large_allocation_warning_threshold(cfg.large_allocation_warning_threshold);
    std::size_t phys = physical_memory();
    std::size_t per_shard;
    if (cfg.memory) {
        per_shard = cfg.memory / n;
        if (per_shard < min_shard_memory) {
            throw std::invalid_argument("--memory " + std::to_string(cfg.memory >> 20) + "M leaves each of the " +
                                        std::to_string(n) + " shards less than the " +
                                        std::to_string(min_shard_memory >> 20) + "M a shard needs");
        }
    } else {
        // All but a reserve for the kernel, other processes and memory outside the shards.
        std::size_t reserve = std::max(phys / 14, std::min(phys / 2, gib + gib / 2));
        per_shard = std::max((phys - reserve) / n, min_shard_memory);
    }
    if (!reef_allocator) {
        return;
    }
    if (!memory::configured()) {
        // Address space only (nothing is committed until used): one range per CPU this
        // process may use (at least 8, so later runs with more shards fit), each large
        // enough for the whole machine, within 32 TiB in total.
        unsigned slots = std::clamp<unsigned>(std::max<unsigned>({n, unsigned(cpus.size()), 8u}), 1u,
                                              memory::max_shards);
        std::size_t range = std::bit_ceil(std::max({phys, per_shard, gib}));
        range = std::min(range, std::size_t{1} << 40);
        range = std::max(std::min(range, std::bit_floor((std::size_t{32} << 40) / slots)), std::bit_ceil(per_shard));
        if (!memory::configure(slots, range)) {
            memory_log.warn("could not reserve {} x {} MiB of address space for the shards' memory; "
                            "using the system allocator",
                            slots, range >> 20);
            return;
        }
        auto nodes = numa_nodes_of(cpus);
        for (unsigned i = 0; i < nodes.size() && i < slots; ++i) {
            if (nodes[i] >= 0 && !memory::set_numa_node(i, unsigned(nodes[i]))) {
                memory_log.debug("shard {}: memory not placed on NUMA node {}", i, nodes[i]);
            }
        }
    }
    unsigned have = memory::shard_count();
    if (n > have) {
        memory_log.warn("{} shards, but the allocator was set up for {} in this process: shards {} and up use "
                        "the system allocator",
                        n, have, have);
    }
    if (per_shard > memory::range_size()) {
        memory_log.warn("each shard's memory is limited to {} MiB (the range reserved at the first start)",
                        memory::range_size() >> 20);
        per_shard = memory::range_size();
    }
    g_plan.active = true;
    g_plan.shards = std::min(n, have);
    g_plan.per_shard = per_shard;
}

void memory_start(reactor_impl& r) {
    if (!g_plan.active || r.shard() >= g_plan.shards) {
        return;
    }
    if (!memory::bind_shard(r.shard())) {
        // Another thread still holds the range (a shard of an earlier run that did not
        // stop): this shard runs on the system allocator rather than share it.
        memory_log.warn("shard {}: the allocator's range {} is busy; using the system allocator", r.shard(),
                        r.shard());
        return;
    }
    memory::set_memory_limit(g_plan.per_shard);
    try {
        r.memory = new memory_service(r);
    } catch (...) {
        memory::unbind_shard();
        throw;
    }
}

void memory_stop(reactor_impl& r) noexcept {
    if (!r.memory) {
        return;
    }
    delete r.memory;
    r.memory = nullptr;
    memory::unbind_shard();
}

}  // namespace reef::detail
