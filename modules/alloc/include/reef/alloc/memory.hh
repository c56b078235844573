// The per-shard allocator: each shard owns a contiguous address range, so the owner of a
// block is arithmetic on its address. Threads that are not bound to a shard, and every
// call before configure(), are served by the system allocator.
//   reef::memory::configure(2, 1 << 30);   // once, before the shard threads start
//   reef::memory::bind_shard(0);           // on shard 0's thread
//   void* p = reef::memory::allocate(64); reef::memory::free(p);
#pragma once

#include <cstddef>
#include <cstdint>

namespace reef::memory {

/// Largest size served from the per-size-class pools; bigger blocks are page spans.
inline constexpr std::size_t max_small_size = 16 * 1024;
/// The allocator's page: span granularity, and the alignment of every span.
inline constexpr std::size_t page_size = 4096;
/// Most shards configure() accepts.
inline constexpr unsigned max_shards = 256;

/// Reserves `shards` address ranges of `bytes_per_shard` each (rounded up to 2 MiB).
/// Call once, before any thread calls bind_shard(); later calls fail. Returns false when
/// the arguments are out of range, the reservation failed or it was already configured.
/// Nothing is committed until a shard allocates.
bool configure(unsigned shards, std::size_t bytes_per_shard) noexcept;
/// True after a successful configure().
bool configured() noexcept;
/// Number of shards given to configure(), 0 before it.
unsigned shard_count() noexcept;
/// Makes the calling thread the owner of shard `id`. One thread per shard; a thread binds
/// at most once. Returns false when not configured, `id` is out of range, or the shard
/// is already bound to another thread.
bool bind_shard(unsigned id) noexcept;
/// Hands the calling thread's pending remote frees to their owners, applies the frees
/// sent to its shard, and releases the shard so another thread may bind it (the reactor
/// calls it when a shard stops). Returns false when the thread was not bound.
bool unbind_shard() noexcept;
/// The shard bound to the calling thread, or -1.
int current_shard() noexcept;
/// Bytes of address space each shard's range holds (configure()'s size rounded up), 0
/// before configure().
std::size_t range_size() noexcept;
/// Caps the memory the calling shard may hold (page spans plus its huge blocks) at
/// `bytes`, at most its range; past it allocations ask the reclaimers and then fail.
/// The reactor sets it from --memory. Returns false when unbound or `bytes` < a page.
bool set_memory_limit(std::size_t bytes) noexcept;
/// The calling shard's cap in bytes (its range until set_memory_limit()), 0 when unbound.
std::size_t memory_limit() noexcept;
/// Asks the kernel to place shard `shard`'s pages on NUMA node `node` (preferred, not
/// strict: a full node falls back to others). Call before the shard allocates. Returns
/// false with errno set when the kernel refuses (e.g. no NUMA support).
bool set_numa_node(unsigned shard, unsigned node) noexcept;

/// Allocates `size` bytes aligned to 16 (8 for sizes up to 8). Never throws. Returns
/// nullptr when the calling shard is out of memory after asking its reclaimers.
/// Unbound threads get memory from the system allocator.
[[nodiscard]] void* allocate(std::size_t size) noexcept;
/// Like allocate() with `align` (a power of two, any size) alignment; nullptr when
/// `align` is not a power of two or memory is exhausted.
[[nodiscard]] void* allocate_aligned(std::size_t align, std::size_t size) noexcept;
/// Like allocate(), with the first `size` bytes zero (calloc). A huge block (at least
/// the huge threshold, mapped for itself) is zero already and is not written, so a
/// large calloc costs neither the time to clear it nor the memory until it is used.
[[nodiscard]] void* allocate_zeroed(std::size_t size) noexcept;
/// Frees a block from any of the functions above, on any thread; a block owned by
/// another shard is queued back to its owner. A pointer Reef does not own goes to the
/// system allocator. nullptr is ignored.
void free(void* ptr) noexcept;
/// free() with the size given at allocation (may skip a lookup; `size` is a hint only).
void free_sized(void* ptr, std::size_t size) noexcept;
/// Resizes keeping min(old, new) bytes of contents; in place when it can. Follows
/// realloc(): nullptr `ptr` allocates, size 0 frees and returns nullptr, and on failure
/// returns nullptr leaving `ptr` untouched.
[[nodiscard]] void* reallocate(void* ptr, std::size_t size) noexcept;
/// Bytes usable in the block at `ptr` (at least the size asked for); 0 for nullptr.
std::size_t usable_size(void* ptr) noexcept;
/// True when `ptr` lies in some shard's range (huge and system blocks are not owned).
bool owns(const void* ptr) noexcept;
/// The shard whose range holds `ptr`, or -1.
int shard_of(const void* ptr) noexcept;

/// Hands the frees this shard collected for other shards to their owners now (they are
/// otherwise sent in batches). The reactor calls it from its poll loop.
void flush_remote_frees() noexcept;
/// Applies the frees other shards sent to this one. Called by allocate() on its slow
/// path; the reactor calls it from its poll loop. Returns how many blocks were freed.
std::size_t drain_remote_frees() noexcept;
/// Returns the pages of this shard's free spans to the kernel (MADV_DONTNEED); the
/// address range stays reserved. Returns the bytes released.
std::size_t release_free_memory() noexcept;

/// A reclaimer frees what it can towards `wanted` bytes on the calling shard and returns
/// how many bytes it freed (0: nothing more to give). It may allocate and free.
using reclaimer_fn = std::size_t (*)(std::size_t wanted, void* arg);
/// Registers `fn` on the calling (bound) shard; asked, in order of registration, before an
/// allocation fails. Returns false when unbound or the table (8 per shard) is full.
bool register_reclaimer(reclaimer_fn fn, void* arg) noexcept;
/// Removes a reclaimer registered with the same `fn` and `arg` on the calling shard.
bool unregister_reclaimer(reclaimer_fn fn, void* arg) noexcept;

/// What a large-allocation report carries; `frames` holds `frame_count` return addresses.
struct large_allocation_report {
    std::size_t size;
    int shard;
    void* const* frames;
    int frame_count;
};
using large_allocation_reporter = void (*)(const large_allocation_report&);
/// Allocations of at least `bytes` made by a shard are reported with a backtrace
/// (0, the default, turns reports off). Process-wide.
void set_large_allocation_warning_threshold(std::size_t bytes) noexcept;
/// Replaces the report (default: size, shard and symbolized frames to stderr, without
/// allocating); nullptr restores the default.
void set_large_allocation_reporter(large_allocation_reporter fn) noexcept;
/// Allocations of at least `bytes` bypass the shard's range and are mapped directly
/// (default 64 MiB). Process-wide; set before allocating.
void set_huge_threshold(std::size_t bytes) noexcept;

/// Counters of one shard; exact only when read on that shard.
struct statistics {
    std::size_t bytes_in_use = 0;  ///< usable bytes of live blocks the shard owns
    std::size_t bytes_free = 0;    ///< bytes it may still allocate: free spans plus what the cap leaves
    std::size_t bytes_total = 0;   ///< the shard's cap (its range, or set_memory_limit())
    std::uint64_t allocations = 0;        ///< blocks allocated from this shard
    std::uint64_t frees = 0;              ///< this shard's blocks freed (local and remote)
    std::uint64_t cross_shard_frees = 0;  ///< blocks this shard freed for another owner
    std::uint64_t reclaims = 0;           ///< times the reclaimers were asked
    std::uint64_t failed_allocations = 0; ///< allocations that returned nullptr
    std::uint64_t huge_allocations = 0;   ///< blocks mapped directly (not in the range)
    std::uint64_t large_allocation_reports = 0;
};
/// The calling shard's counters; all zero on an unbound thread.
statistics stats() noexcept;

} // namespace reef::memory
