// The per-shard allocator. Layout: one reservation holds every shard's range, each at a
// power-of-two stride, so the owner of an address is a subtraction and a shift. Inside a
// range, pages [0, top_) have been handed to spans; spans are free (kept in bins by
// length), small (carved into blocks of one size class) or large (one block). A page
// descriptor array beside the range records each span on its first and last page (on
// every page for small spans, so an interior block finds its span).
#include <reef/alloc/memory.hh>

#include "size_classes.hh"

#include <algorithm>
#include <initializer_list>
#include <atomic>
#include <bit>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <execinfo.h>
#include <malloc.h>
#include <mutex>
#include <new>
#include <sys/mman.h>
#include <cerrno>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef REEF_SANITIZE
extern "C" {
void* __libc_malloc(std::size_t);
void __libc_free(void*);
void* __libc_memalign(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
}
#endif

namespace reef::memory {
namespace {

using detail::classes;
using detail::class_count;
using detail::class_of;

// The system allocator, for unbound threads and pointers Reef does not own. Outside
// sanitizer builds it is reached through glibc's internal names, so it keeps working
// once the later interposition layer defines malloc itself.
void* sys_malloc(std::size_t size) noexcept {
#ifdef REEF_SANITIZE
    return std::malloc(size);
#else
    return __libc_malloc(size);
#endif
}
void* sys_memalign(std::size_t align, std::size_t size) noexcept {
#ifdef REEF_SANITIZE
    void* p = nullptr;
    return posix_memalign(&p, std::max(align, sizeof(void*)), size) == 0 ? p : nullptr;
#else
    return __libc_memalign(align, size);
#endif
}
void* sys_realloc(void* p, std::size_t size) noexcept {
#ifdef REEF_SANITIZE
    return std::realloc(p, size);
#else
    return __libc_realloc(p, size);
#endif
}
void sys_free(void* p) noexcept {
#ifdef REEF_SANITIZE
    std::free(p);
#else
    __libc_free(p);
#endif
}
// The system's malloc_usable_size. Once the interposition layer defines
// malloc_usable_size, calling it by name would come back here, so outside sanitizer
// builds glibc's is looked up with dlsym(RTLD_NEXT) once (dlsym may allocate: that goes
// through malloc, never through this function, so there is no recursion).
std::size_t sys_usable_size(void* p) noexcept {
#ifdef REEF_SANITIZE
    return ::malloc_usable_size(p);
#else
    using fn_t = std::size_t (*)(void*);
    static std::atomic<fn_t> fn{nullptr};
    fn_t f = fn.load(std::memory_order_acquire);
    if (!f) [[unlikely]] {
        f = reinterpret_cast<fn_t>(::dlsym(RTLD_NEXT, "malloc_usable_size"));
        if (!f) {
            // Not found: read glibc's chunk header, whose size field
            // sits in the word before the block (low 3 bits are flags; bit 1: mmapped).
            f = [](void* q) noexcept -> std::size_t {
                std::size_t head = static_cast<const std::size_t*>(q)[-1];
                std::size_t chunk = head & ~std::size_t{7};
                return chunk - ((head & 2) ? 2 : 1) * sizeof(std::size_t);
            };
        }
        fn.store(f, std::memory_order_release);
    }
    return f(p);
#endif
}

constexpr std::uint32_t nil = ~std::uint32_t{0};
constexpr unsigned page_shift = 12;
static_assert(std::size_t{1} << page_shift == page_size);
constexpr std::size_t range_granule = std::size_t{2} << 20;
constexpr std::uint32_t commit_chunk = 512; // pages committed at a time (2 MiB)
constexpr unsigned bin_count = 32;
constexpr std::uint32_t remote_batch = 64;
constexpr unsigned max_reclaimers = 8;

enum : std::uint8_t { st_free = 0, st_small = 1, st_large = 2 };

struct page_desc {
    std::uint32_t first;   // the span's first page: every page of a small span, first and last page otherwise
    std::uint32_t npages;  // span length: first and last page
    std::uint8_t state;    // first and last page
    std::uint8_t cls;      // small span: its size class
    std::uint8_t dirty;    // free span: touched since its pages were last released
    std::uint8_t listed;   // small span: on its class's partial list
    std::uint32_t prev;    // free span: bin list; small span: partial list
    std::uint32_t next;
    std::uint32_t in_use;  // small span: live blocks
    std::uint32_t bump;    // small span: blocks carved so far
    void* free_list;       // small span: freed blocks, linked through their first word
};

struct class_pool {
    std::uint32_t current = nil; // span blocks are taken from
    std::uint32_t partial = nil; // other spans with free blocks
    std::uint32_t spare = nil;   // an empty span kept on the partial list against churn
};

// Blocks one shard frees for another travel as arrays of pointers: the owner reads
// eight per cache line and can prefetch ahead, instead of chasing a list through blocks
// that sit in the other core's cache. Each (sender, owner) pair has a few arrays in the
// allocator's own metadata; one in flight stays busy until the owner has applied it.
constexpr std::uint32_t remote_array_cap = 62;
constexpr unsigned remote_arrays_per_pair = 4;
struct remote_array {
    void* next = nullptr; // inbox link; first, like a block's
    std::uint32_t count = 0;
    std::atomic<std::uint32_t> busy{0};
    void* ptrs[remote_array_cap];
};
static_assert(sizeof(remote_array) == 512);

struct outgoing_batch {
    // The array being filled, and where to look for the next free one.
    remote_array* cur = nullptr;
    remote_array* arrays = nullptr; // remote_arrays_per_pair of them
    unsigned next_array = 0;
    bool arrays_made = false;
    // When every array is in flight: a list linked through the blocks themselves.
    void* head = nullptr;
    void* tail = nullptr;
    std::uint32_t count = 0;
};

struct reclaimer_entry {
    reclaimer_fn fn;
    void* arg;
};

// Freed blocks of one class kept in front of the spans: a free pushes, an allocation
// pops, and only an overflow or a miss touches the spans.
// The counters double as statistics, and each fast path touches one: an allocation
// bumps `pops`; a free counts `room` down, and only when it goes negative does the slow
// path fold the pushes since the last check into `pushed` and trim the cache if it is
// over three quarters of the class's cache_max. So pushes = pushed + (room_set - room),
// a cache holds at most cache_max blocks (one more during a check), and a check comes
// at most every cache_max / 4 frees: `room` counts frees only, so a loop whose frees
// and allocations balance would otherwise pay a check every max - count frees, every
// free when the cache sat full.
struct class_cache {
    void* head = nullptr;
    std::uint64_t pops = 0;    // blocks handed out by allocations
    std::uint64_t pushed = 0;  // blocks freed into the cache, up to the last check
    std::int32_t room = 0;     // frees left before the next check
    std::int32_t room_set = 0; // what `room` was set to at the last check
    std::uint64_t pushes() const noexcept { return pushed + static_cast<std::uint64_t>(room_set - room); }
};
static_assert(sizeof(class_cache) == 32);

struct shard {
    // Everything but inbox_ and bound_ belongs to the owner thread.
    // The fast paths read the first lines only: the range, the descriptors, the
    // counters they bump and the caches.
    char* base = nullptr;
    page_desc* pages = nullptr;
    std::size_t range_bytes = 0; // bytes of the range that may hold blocks
    // Per page: 1 + the size class of the small span holding it, 0 for any other page.
    // One byte per page keeps the lookup of every free within a few cache lines.
    std::uint8_t* page_class = nullptr;
    std::uint64_t allocations = 0; // allocations on slow paths (the caches count the rest)
    std::uint64_t frees = 0;       // frees of large blocks (the caches count the rest)
    unsigned id = 0;
    class_cache cache[class_count];
    // Per class: blocks that left a cache other than by an allocation (to the spans, or
    // to a slow path), mod 2^32. Slow paths only.
    std::uint32_t cache_taken[class_count] = {};
    std::uint32_t limit = 0;     // pages in the range
    std::uint32_t budget = 0;    // pages the shard may hold: spans plus its huge blocks
    std::uint32_t top = 0;       // pages [0, top) belong to spans
    std::uint32_t committed = 0; // pages [0, committed) are readable and writable
    std::uint32_t high_water = 0; // pages [top, high_water) may hold dirty memory
    std::uint32_t bins[bin_count];
    std::size_t free_span_pages = 0;
    std::size_t dirty_pages = 0;
    std::size_t release_threshold = 0; // dirty free pages that trigger a release
    class_pool pools[class_count];
    outgoing_batch* outgoing = nullptr; // one per shard
    reclaimer_entry reclaimers[max_reclaimers];
    unsigned nreclaimers = 0;
    bool reclaiming = false;
    statistics st;
    // Pages of live huge blocks this shard allocated; freed by any thread.
    std::atomic<std::size_t> huge_pages{0};
    alignas(64) std::atomic<bool> bound{false};
    // Blocks other threads freed, linked through their first word; pushed by anyone
    // with one CAS per batch, taken whole by the owner with one exchange.
    alignas(64) std::atomic<void*> inbox{nullptr};
};

struct global_state {
    std::atomic<std::uintptr_t> base{0};
    std::atomic<std::uintptr_t> span{0}; // bytes of all ranges; published last
    unsigned shift = 0;
    unsigned nshards = 0;
    std::size_t bytes_per_shard = 0;
    shard* shards = nullptr;
    std::atomic<bool> configuring{false};
    std::atomic<std::size_t> warn_threshold{0};
    std::atomic<large_allocation_reporter> reporter{nullptr};
    std::atomic<std::size_t> huge_threshold{std::size_t{64} << 20};
};

global_state g;

thread_local shard* tl_shard __attribute__((tls_model("initial-exec"))) = nullptr;
thread_local bool tl_reporting __attribute__((tls_model("initial-exec"))) = false;

inline shard* owner_of(const void* p) noexcept {
    std::uintptr_t span = g.span.load(std::memory_order_acquire);
    std::uintptr_t off = reinterpret_cast<std::uintptr_t>(p) - g.base.load(std::memory_order_relaxed);
    return off < span ? &g.shards[off >> g.shift] : nullptr;
}

inline std::uint32_t page_of(const shard& s, const void* p) noexcept {
    return static_cast<std::uint32_t>((static_cast<const char*>(p) - s.base) >> page_shift);
}

inline char* addr_of(const shard& s, std::uint32_t page) noexcept {
    return s.base + (std::size_t{page} << page_shift);
}

// ---- huge blocks: mapped directly, tracked in a small locked table ----

struct huge_entry {
    std::uintptr_t ptr;     // 0 empty, 1 deleted
    std::size_t size;       // bytes usable
    void* map;              // the mapping (may start before ptr for big alignments)
    std::size_t map_size;
    shard* owner;           // the shard whose budget the block counts against, or null
};
constexpr std::size_t huge_slots = 4096;
huge_entry huge_table[huge_slots];
std::mutex huge_mutex;
std::atomic<std::size_t> huge_live{0};

inline std::size_t huge_hash(std::uintptr_t p) noexcept {
    return static_cast<std::size_t>((p >> page_shift) * 0x9E3779B97F4A7C15ull >> 52) % huge_slots;
}

void* huge_allocate(shard* owner, std::size_t align, std::size_t size) noexcept {
    align = std::max(align, page_size);
    std::size_t len = (size + page_size - 1) & ~(page_size - 1);
    if (len < size || len + align < len) {
        return nullptr;
    }
    std::size_t map_size = len + (align > page_size ? align : 0);
    void* m = ::mmap(nullptr, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        return nullptr;
    }
    std::uintptr_t p = (reinterpret_cast<std::uintptr_t>(m) + align - 1) & ~(align - 1);
    std::lock_guard lock(huge_mutex);
    std::size_t i = huge_hash(p);
    for (std::size_t n = 0; n < huge_slots; ++n, i = (i + 1) % huge_slots) {
        if (huge_table[i].ptr <= 1) {
            huge_table[i] = {p, len, m, map_size, owner};
            if (owner) {
                owner->huge_pages.fetch_add(len >> page_shift, std::memory_order_relaxed);
            }
            huge_live.fetch_add(1, std::memory_order_relaxed);
            return reinterpret_cast<void*>(p);
        }
    }
    ::munmap(m, map_size);
    return nullptr;
}

// Finds a huge block; with `remove`, takes it out of the table and unmaps it.
bool huge_lookup(const void* ptr, std::size_t* size, bool remove) noexcept {
    if (huge_live.load(std::memory_order_relaxed) == 0) {
        return false;
    }
    auto p = reinterpret_cast<std::uintptr_t>(ptr);
    void* map = nullptr;
    std::size_t map_size = 0;
    shard* owner = nullptr;
    std::size_t len = 0;
    {
        std::lock_guard lock(huge_mutex);
        std::size_t i = huge_hash(p);
        for (std::size_t n = 0; n < huge_slots && huge_table[i].ptr != 0; ++n, i = (i + 1) % huge_slots) {
            if (huge_table[i].ptr == p) {
                if (size) {
                    *size = huge_table[i].size;
                }
                if (!remove) {
                    return true;
                }
                map = huge_table[i].map;
                map_size = huge_table[i].map_size;
                owner = huge_table[i].owner;
                len = huge_table[i].size;
                huge_table[i].ptr = 1;
                huge_live.fetch_sub(1, std::memory_order_relaxed);
                break;
            }
        }
    }
    if (!map) {
        return false;
    }
    ::munmap(map, map_size);
    if (owner) {
        owner->huge_pages.fetch_sub(len >> page_shift, std::memory_order_relaxed);
    }
    return true;
}

// ---- page spans ----

inline unsigned bin_of(std::uint32_t npages) noexcept {
    return static_cast<unsigned>(std::bit_width(npages)) - 1;
}

void insert_free(shard& s, std::uint32_t start, std::uint32_t n, bool dirty) noexcept {
    page_desc& d = s.pages[start];
    d.first = start;
    d.npages = n;
    d.state = st_free;
    d.dirty = dirty;
    page_desc& last = s.pages[start + n - 1];
    last.first = start;
    last.npages = n;
    last.state = st_free;
    unsigned b = bin_of(n);
    d.prev = nil;
    d.next = s.bins[b];
    if (d.next != nil) {
        s.pages[d.next].prev = start;
    }
    s.bins[b] = start;
    s.free_span_pages += n;
    if (dirty) {
        s.dirty_pages += n;
    }
}

void remove_free(shard& s, std::uint32_t start) noexcept {
    page_desc& d = s.pages[start];
    if (d.prev != nil) {
        s.pages[d.prev].next = d.next;
    } else {
        s.bins[bin_of(d.npages)] = d.next;
    }
    if (d.next != nil) {
        s.pages[d.next].prev = d.prev;
    }
    s.free_span_pages -= d.npages;
    if (d.dirty) {
        s.dirty_pages -= d.npages;
    }
}

// Makes pages [top, top + n) part of the spans, committing memory as needed.
// Pages the shard may still add to its spans or huge blocks under its budget.
inline std::size_t budget_left(const shard& s) noexcept {
    std::size_t used = std::size_t{s.top} + s.huge_pages.load(std::memory_order_relaxed);
    return used < s.budget ? s.budget - used : 0;
}

bool grow_top(shard& s, std::uint32_t n) noexcept {
    if (n > s.limit - s.top || n > budget_left(s)) {
        return false;
    }
    std::uint32_t new_top = s.top + n;
    if (new_top > s.committed) {
        std::uint32_t target = std::min(s.limit, (new_top + commit_chunk - 1) / commit_chunk * commit_chunk);
        if (::mprotect(addr_of(s, s.committed), std::size_t{target - s.committed} << page_shift,
                       PROT_READ | PROT_WRITE) != 0) {
            return false;
        }
        s.committed = target;
    }
    s.top = new_top;
    s.high_water = std::max(s.high_water, new_top);
    return true;
}

// First fit within the length's bin, then the head of any longer bin.
std::uint32_t alloc_pages(shard& s, std::uint32_t n) noexcept {
    std::uint32_t found = nil;
    unsigned b = bin_of(n);
    for (std::uint32_t i = s.bins[b]; i != nil; i = s.pages[i].next) {
        if (s.pages[i].npages >= n) {
            found = i;
            break;
        }
    }
    for (unsigned k = b + 1; found == nil && k < bin_count; ++k) {
        found = s.bins[k];
    }
    if (found != nil) {
        std::uint32_t have = s.pages[found].npages;
        bool dirty = s.pages[found].dirty;
        remove_free(s, found);
        if (have > n) {
            insert_free(s, found + n, have - n, dirty);
        }
        return found;
    }
    std::uint32_t start = s.top;
    return grow_top(s, n) ? start : nil;
}

std::size_t release_pages(shard& s) noexcept {
    std::size_t released = 0;
    for (unsigned b = 0; b < bin_count; ++b) {
        for (std::uint32_t i = s.bins[b]; i != nil; i = s.pages[i].next) {
            page_desc& d = s.pages[i];
            if (d.dirty) {
                ::madvise(addr_of(s, i), std::size_t{d.npages} << page_shift, MADV_DONTNEED);
                released += std::size_t{d.npages} << page_shift;
                s.dirty_pages -= d.npages;
                d.dirty = 0;
            }
        }
    }
    if (s.high_water > s.top) {
        ::madvise(addr_of(s, s.top), std::size_t{s.high_water - s.top} << page_shift, MADV_DONTNEED);
        released += std::size_t{s.high_water - s.top} << page_shift;
        s.high_water = s.top;
    }
    return released;
}

// Frees a span, merging it with free neighbours; a span reaching top shrinks top.
void free_pages(shard& s, std::uint32_t start, std::uint32_t n) noexcept {
    if (start > 0 && s.pages[start - 1].state == st_free) {
        std::uint32_t left = s.pages[start - 1].first;
        n += s.pages[left].npages;
        remove_free(s, left);
        start = left;
    }
    std::uint32_t right = start + n;
    if (right < s.top && s.pages[right].state == st_free) {
        n += s.pages[right].npages;
        remove_free(s, right);
    }
    if (start + n == s.top) {
        s.top = start;
    } else {
        insert_free(s, start, n, true);
    }
    if (s.dirty_pages + (s.high_water - s.top) > s.release_threshold) {
        release_pages(s);
    }
}

void mark_large(shard& s, std::uint32_t start, std::uint32_t n) noexcept {
    for (std::uint32_t p : {start, start + n - 1}) {
        s.pages[p].first = start;
        s.pages[p].npages = n;
        s.pages[p].state = st_large;
    }
}

// Gives an empty small span back to the page heap; its pages stop being small.
void free_small_span(shard& s, std::uint32_t sp) noexcept {
    std::uint32_t n = s.pages[sp].npages;
    std::memset(s.page_class + sp, 0, n);
    free_pages(s, sp, n);
}

// ---- remote frees ----

void publish(shard& owner, void* head, void* tail) noexcept {
    void* old = owner.inbox.load(std::memory_order_relaxed);
    do {
        *static_cast<void**>(tail) = old;
    } while (!owner.inbox.compare_exchange_weak(old, head, std::memory_order_release,
                                                std::memory_order_relaxed));
}

void local_free(shard& s, void* p) noexcept;

// Inbox items are blocks (linked through their first word) or arrays, tagged in bit 0.
inline void* tag_array(remote_array* a) noexcept {
    return reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(a) | 1);
}

std::size_t drain(shard& s) noexcept {
    if (s.inbox.load(std::memory_order_relaxed) == nullptr) {
        return 0;
    }
    void* p = s.inbox.exchange(nullptr, std::memory_order_acquire);
    std::size_t n = 0;
    while (p) {
        auto bits = reinterpret_cast<std::uintptr_t>(p);
        if (bits & 1) {
            auto* a = reinterpret_cast<remote_array*>(bits & ~std::uintptr_t{1});
            void* next = a->next;
            std::uint32_t count = a->count;
            constexpr std::uint32_t ahead = 8;
            for (std::uint32_t i = 0; i < count && i < ahead; ++i) {
                __builtin_prefetch(a->ptrs[i], 1);
            }
            for (std::uint32_t i = 0; i < count; ++i) {
                if (i + ahead < count) {
                    __builtin_prefetch(a->ptrs[i + ahead], 1);
                }
                local_free(s, a->ptrs[i]);
            }
            // Read everything first: the sender refills the array once it is not busy.
            a->busy.store(0, std::memory_order_release);
            n += count;
            p = next;
        } else {
            void* next = *static_cast<void**>(p);
            local_free(s, p);
            p = next;
            ++n;
        }
    }
    return n;
}

void publish_array(shard& owner, remote_array* a) noexcept {
    publish(owner, tag_array(a), a);
}

void flush(shard& s) noexcept {
    for (unsigned o = 0; o < g.nshards; ++o) {
        outgoing_batch& b = s.outgoing[o];
        if (b.cur && b.cur->count > 0) {
            publish_array(g.shards[o], b.cur);
            b.cur = nullptr;
        }
        if (b.head) {
            publish(g.shards[o], b.head, b.tail);
            b.head = b.tail = nullptr;
            b.count = 0;
        }
    }
}

// A free array of the pair, marked busy, or nullptr when all are in flight.
remote_array* grab_array(outgoing_batch& b) noexcept {
    if (!b.arrays_made) {
        new (b.arrays) remote_array[remote_arrays_per_pair];
        b.arrays_made = true;
    }
    for (unsigned k = 0; k < remote_arrays_per_pair; ++k) {
        unsigned i = (b.next_array + k) % remote_arrays_per_pair;
        remote_array& a = b.arrays[i];
        if (a.busy.load(std::memory_order_acquire) == 0) {
            a.busy.store(1, std::memory_order_relaxed);
            a.count = 0;
            b.next_array = i + 1;
            return &a;
        }
    }
    return nullptr;
}

void remote_free(shard* self, shard& owner, void* p) noexcept {
    if (!self) {
        publish(owner, p, p);
        return;
    }
    ++self->st.cross_shard_frees;
    outgoing_batch& b = self->outgoing[owner.id];
    remote_array* a = b.cur;
    if (!a) [[unlikely]] {
        a = b.cur = grab_array(b);
    }
    if (a) [[likely]] {
        a->ptrs[a->count] = p;
        if (++a->count == remote_array_cap) {
            publish_array(owner, a);
            b.cur = nullptr;
        }
        return;
    }
    *static_cast<void**>(p) = b.head;
    if (!b.head) {
        b.tail = p;
    }
    b.head = p;
    if (++b.count >= remote_batch) {
        publish(owner, b.head, b.tail);
        b.head = b.tail = nullptr;
        b.count = 0;
    }
}

// ---- out of memory ----

void unlink_partial(shard& s, class_pool& pool, page_desc& d) noexcept {
    if (d.prev != nil) {
        s.pages[d.prev].next = d.next;
    } else {
        pool.partial = d.next;
    }
    if (d.next != nil) {
        s.pages[d.next].prev = d.prev;
    }
    d.listed = 0;
}

// Gives the empty spans the pools keep back to the page heap.
std::size_t drop_spares(shard& s) noexcept {
    std::size_t n = 0;
    for (class_pool& pool : s.pools) {
        if (pool.spare != nil) {
            std::uint32_t sp = pool.spare;
            pool.spare = nil;
            unlink_partial(s, pool, s.pages[sp]);
            free_small_span(s, sp);
            ++n;
        }
    }
    return n;
}

// Drains remote frees and asks the reclaimers; returns whether anything was freed.
std::size_t flush_caches(shard& s) noexcept;

bool recover(shard& s, std::size_t wanted) noexcept {
    std::size_t progress = drain(s);
    progress += flush_caches(s);
    progress += drop_spares(s);
    if (!s.reclaiming && s.nreclaimers > 0) {
        s.reclaiming = true; // a reclaimer that allocates must not recurse into reclaim
        ++s.st.reclaims;
        for (unsigned i = 0; i < s.nreclaimers; ++i) {
            progress += s.reclaimers[i].fn(wanted, s.reclaimers[i].arg);
        }
        s.reclaiming = false;
        progress += drain(s);
    }
    return progress > 0;
}

constexpr int max_recover_rounds = 8;

// ---- small blocks ----

bool refill(shard& s, unsigned c) noexcept {
    class_pool& pool = s.pools[c];
    if (pool.partial != nil) {
        std::uint32_t sp = pool.partial;
        page_desc& d = s.pages[sp];
        if (pool.spare == sp) {
            pool.spare = nil;
        }
        pool.partial = d.next;
        if (d.next != nil) {
            s.pages[d.next].prev = nil;
        }
        d.listed = 0;
        pool.current = sp;
        return true;
    }
    std::uint32_t n = classes.pages[c];
    std::uint32_t sp = alloc_pages(s, n);
    if (sp == nil) {
        return false;
    }
    for (std::uint32_t i = sp; i < sp + n; ++i) {
        // Every page says small and its class: a free finds the class with one lookup.
        s.pages[i].first = sp;
        s.pages[i].state = st_small;
        s.pages[i].cls = static_cast<std::uint8_t>(c);
        s.page_class[i] = static_cast<std::uint8_t>(c + 1);
    }
    page_desc& d = s.pages[sp];
    d.npages = n;
    d.cls = static_cast<std::uint8_t>(c);
    d.listed = 0;
    d.in_use = 0;
    d.bump = 0;
    d.free_list = nullptr;
    s.pages[sp + n - 1].npages = n;
    pool.current = sp;
    return true;
}

inline void* take_block(shard& s, unsigned c) noexcept {
    std::uint32_t sp = s.pools[c].current;
    if (sp == nil) {
        return nullptr;
    }
    page_desc& d = s.pages[sp];
    void* p = d.free_list;
    if (p) {
        d.free_list = *static_cast<void**>(p);
    } else if (d.bump < classes.capacity[c]) {
        p = addr_of(s, sp) + std::size_t{d.bump} * classes.size[c];
        ++d.bump;
    } else {
        return nullptr;
    }
    ++d.in_use;
    s.st.bytes_in_use += classes.size[c];
    return p;
}

// Takes a cached block for a slow path (which counts the allocation itself).
inline void* cache_take(shard& s, unsigned c) noexcept {
    class_cache& k = s.cache[c];
    void* p = k.head;
    if (p) {
        k.head = *static_cast<void**>(p);
        ++s.cache_taken[c];
    }
    return p;
}

void* small_alloc_slow(shard& s, unsigned c) noexcept {
    if (drain(s) > 0) {
        // Drained blocks went to the caches.
        if (void* p = cache_take(s, c)) {
            return p;
        }
    }
    for (int round = 0;; ++round) {
        if (refill(s, c)) {
            return take_block(s, c);
        }
        if (round == max_recover_rounds || !recover(s, std::size_t{classes.pages[c]} << page_shift)) {
            break;
        }
        if (void* p = take_block(s, c)) {
            return p;
        }
    }
    ++s.st.failed_allocations;
    return nullptr;
}

// The class's cache is empty: a block from its spans.
[[gnu::noinline]] void* small_alloc_miss(shard& s, unsigned c) noexcept {
    void* p = take_block(s, c);
    if (!p) {
        p = small_alloc_slow(s, c);
    }
    if (p) {
        ++s.allocations;
    }
    return p;
}

inline void* small_alloc(shard& s, unsigned c) noexcept {
    class_cache& k = s.cache[c];
    if (void* p = k.head) [[likely]] {
        k.head = *static_cast<void**>(p);
        ++k.pops;
        return p;
    }
    return small_alloc_miss(s, c);
}

// Gives a block back to its span (the block is out of every cache).
void small_free(shard& s, std::uint32_t sp, void* p) noexcept {
    page_desc& d = s.pages[sp];
    unsigned c = d.cls;
    *static_cast<void**>(p) = d.free_list;
    d.free_list = p;
    --d.in_use;
    s.st.bytes_in_use -= classes.size[c];
    class_pool& pool = s.pools[c];
    if (sp == pool.current) {
        return;
    }
    if (d.in_use == 0 && pool.spare == nil && d.listed) {
        pool.spare = sp;
    } else if (d.in_use == 0) {
        if (d.listed) {
            unlink_partial(s, pool, d);
        }
        free_small_span(s, sp);
    } else if (!d.listed) {
        // The span was full: it has a free block again.
        d.listed = 1;
        d.prev = nil;
        d.next = pool.partial;
        if (d.next != nil) {
            s.pages[d.next].prev = sp;
        }
        pool.partial = sp;
    }
}

// Blocks in the cache of class `c`.
inline std::uint32_t cache_count(const shard& s, unsigned c) noexcept {
    const class_cache& k = s.cache[c];
    return static_cast<std::uint32_t>(k.pushes() - k.pops) - s.cache_taken[c];
}

// Returns cached blocks of class `c` to their spans until `keep` remain.
void trim_cache(shard& s, unsigned c, std::uint32_t keep) noexcept {
    class_cache& k = s.cache[c];
    for (std::uint32_t n = cache_count(s, c); n > keep; --n) {
        void* p = k.head;
        assert(p && "class cache count out of step with its list");
        k.head = *static_cast<void**>(p);
        ++s.cache_taken[c];
        small_free(s, s.pages[page_of(s, p)].first, p);
    }
}

// `room` ran out: trims the cache if it is over its bound and sets the next check.
[[gnu::noinline]] void cache_check(shard& s, unsigned c) noexcept {
    class_cache& k = s.cache[c];
    k.pushed = k.pushes();
    k.room_set = k.room;
    std::uint32_t max = classes.cache_max[c];
    if (cache_count(s, c) > max - max / 4) {
        trim_cache(s, c, max / 2);
    }
    k.room = k.room_set = static_cast<std::int32_t>(max - std::min(max, cache_count(s, c)));
}

// Returns every cached block to its span; the number of blocks returned.
std::size_t flush_caches(shard& s) noexcept {
    std::size_t n = 0;
    for (unsigned c = 0; c < class_count; ++c) {
        n += cache_count(s, c);
        trim_cache(s, c, 0);
    }
    return n;
}

// A block of class `c` of this shard freed on the shard.
inline void cache_free(shard& s, unsigned c, void* p) noexcept {
    class_cache& k = s.cache[c];
    // Both loads before the store into the block: a load that follows a store to an
    // address the core cannot yet rule out may be held back behind it, and once the
    // core has seen such a pair alias (same low 12 bits), it keeps holding it back.
    void* head = k.head;
    std::int32_t room = k.room - 1;
    *static_cast<void**>(p) = head;
    k.head = p;
    k.room = room;
    if (room < 0) [[unlikely]] {
        cache_check(s, c);
    }
}

// ---- large blocks ----

void report_large(shard& s, std::size_t size) noexcept {
    std::size_t threshold = g.warn_threshold.load(std::memory_order_relaxed);
    if (threshold == 0 || size < threshold || tl_reporting) {
        return;
    }
    tl_reporting = true;
    ++s.st.large_allocation_reports;
    void* frames[32];
    int n = ::backtrace(frames, 32);
    large_allocation_report r{size, static_cast<int>(s.id), frames, n};
    if (auto fn = g.reporter.load(std::memory_order_acquire)) {
        fn(r);
    } else {
        char line[128];
        int len = std::snprintf(line, sizeof line, "reef::memory: large allocation of %zu bytes on shard %u\n",
                                size, s.id);
        if (len > 0 && ::write(2, line, static_cast<std::size_t>(len)) < 0) {
            // Nothing to do when stderr is gone.
        }
        ::backtrace_symbols_fd(frames, n, 2);
    }
    tl_reporting = false;
}

void* large_alloc(shard& s, std::size_t size, std::size_t align) noexcept {
    report_large(s, size);
    if (size >= g.huge_threshold.load(std::memory_order_relaxed)) {
        std::size_t pages = (size + page_size - 1) >> page_shift;
        for (int round = 0;; ++round) {
            if (pages <= budget_left(s)) {
                if (void* p = huge_allocate(&s, align, size)) {
                    ++s.st.huge_allocations;
                    return p;
                }
                break; // the kernel refused the mapping
            }
            if (round == max_recover_rounds || !recover(s, pages << page_shift)) {
                break;
            }
        }
        ++s.st.failed_allocations;
        return nullptr;
    }
    if (size > g.bytes_per_shard || align > g.bytes_per_shard) {
        ++s.st.failed_allocations; // the range can never hold it
        return nullptr;
    }
    std::uint32_t n = static_cast<std::uint32_t>((size + page_size - 1) >> page_shift);
    std::uint32_t extra = align > page_size ? static_cast<std::uint32_t>(align >> page_shift) - 1 : 0;
    for (int round = 0;; ++round) {
        std::uint32_t start = alloc_pages(s, n + extra);
        if (start != nil) {
            std::uint32_t at = start;
            if (extra) {
                auto a = reinterpret_cast<std::uintptr_t>(addr_of(s, start));
                at = page_of(s, reinterpret_cast<void*>((a + align - 1) & ~(align - 1)));
            }
            mark_large(s, at, n);
            if (at > start) {
                free_pages(s, start, at - start);
            }
            if (start + n + extra > at + n) {
                free_pages(s, at + n, start + n + extra - (at + n));
            }
            ++s.allocations;
            s.st.bytes_in_use += std::size_t{n} << page_shift;
            return addr_of(s, at);
        }
        if (round == max_recover_rounds || !recover(s, std::size_t{n + extra} << page_shift)) {
            break;
        }
    }
    ++s.st.failed_allocations;
    return nullptr;
}

void local_free(shard& s, void* p) noexcept {
    std::uint32_t pg = page_of(s, p);
    if (unsigned c1 = s.page_class[pg]) [[likely]] {
        cache_free(s, c1 - 1, p);
        return;
    }
    std::uint32_t sp = s.pages[pg].first;
    std::uint32_t n = s.pages[sp].npages;
    ++s.frees;
    s.st.bytes_in_use -= std::size_t{n} << page_shift;
    free_pages(s, sp, n);
}

std::size_t owned_usable_size(shard& s, const void* p) noexcept {
    const page_desc& d = s.pages[s.pages[page_of(s, p)].first];
    return d.state == st_small ? classes.size[d.cls] : std::size_t{d.npages} << page_shift;
}

// Resizes a large block in place on its owner; false when it cannot.
bool resize_large_in_place(shard& s, std::uint32_t sp, std::size_t size) noexcept {
    std::uint32_t have = s.pages[sp].npages;
    std::uint32_t want = static_cast<std::uint32_t>((size + page_size - 1) >> page_shift);
    if (want == have) {
        return true;
    }
    if (want < have) {
        mark_large(s, sp, want);
        s.st.bytes_in_use -= std::size_t{have - want} << page_shift;
        free_pages(s, sp + want, have - want);
        return true;
    }
    std::uint32_t need = want - have;
    std::uint32_t right = sp + have;
    if (right < s.top && s.pages[right].state == st_free && s.pages[right].npages >= need) {
        std::uint32_t rn = s.pages[right].npages;
        bool dirty = s.pages[right].dirty;
        remove_free(s, right);
        if (rn > need) {
            insert_free(s, right + need, rn - need, dirty);
        }
    } else if (right != s.top || !grow_top(s, need)) {
        return false;
    }
    mark_large(s, sp, want);
    s.st.bytes_in_use += std::size_t{need} << page_shift;
    return true;
}

void* allocate_on(shard& s, std::size_t align, std::size_t size) noexcept {
    if (align <= 16 || (align <= page_size && size <= max_small_size)) {
        if (size <= max_small_size && align <= 16) {
            // Class 8 is only 8-aligned; every class from 16 up is a multiple of 16.
            return small_alloc(s, class_of(std::max(size, align)));
        }
        if (size <= max_small_size) {
            // Blocks sit at multiples of the class size from a page boundary, so a class
            // that is a multiple of `align` (a power of two up to a page) is aligned.
            for (unsigned c = class_of(std::max(size, align)); c < class_count; ++c) {
                if (classes.size[c] % align == 0) {
                    return small_alloc(s, c);
                }
            }
        }
    }
    return large_alloc(s, std::max<std::size_t>(size, 1), std::max(align, page_size));
}

} // namespace

bool configure(unsigned shards, std::size_t bytes_per_shard) noexcept {
    if (shards == 0 || shards > max_shards || bytes_per_shard == 0 ||
        bytes_per_shard > (std::size_t{1} << 40)) {
        return false;
    }
    if (g.configuring.exchange(true)) {
        return false;
    }
    std::size_t bytes = (bytes_per_shard + range_granule - 1) / range_granule * range_granule;
    std::size_t stride = std::bit_ceil(bytes);
    std::size_t total = stride * shards;
    // Over-reserve by one stride so the ranges can start on a stride boundary.
    void* r = ::mmap(nullptr, total + stride, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) {
        g.configuring.store(false);
        return false;
    }
    auto raw = reinterpret_cast<std::uintptr_t>(r);
    std::uintptr_t base = (raw + stride - 1) & ~(stride - 1);
    if (base > raw) {
        ::munmap(r, base - raw);
    }
    if (raw + stride > base) {
        ::munmap(reinterpret_cast<void*>(base + total), raw + stride - base);
    }
    std::uint32_t pages = static_cast<std::uint32_t>(bytes >> page_shift);
    std::size_t shard_bytes = (sizeof(shard) * shards + 63) & ~std::size_t{63};
    std::size_t batch_bytes = sizeof(outgoing_batch) * shards * shards;
    std::size_t array_bytes = sizeof(remote_array) * remote_arrays_per_pair * shards * shards;
    std::size_t desc_bytes = sizeof(page_desc) * pages;
    std::size_t class_bytes = (std::size_t{pages} + 63) & ~std::size_t{63};
    std::size_t arrays_at = (shard_bytes + batch_bytes + (desc_bytes + class_bytes) * shards + 63) & ~std::size_t{63};
    std::size_t meta_size = arrays_at + array_bytes;
    void* m = ::mmap(nullptr, meta_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0);
    if (m == MAP_FAILED) {
        ::munmap(reinterpret_cast<void*>(base), total);
        g.configuring.store(false);
        return false;
    }
    char* meta = static_cast<char*>(m);
    auto* arr = reinterpret_cast<shard*>(meta);
    auto* batches = reinterpret_cast<outgoing_batch*>(meta + shard_bytes);
    char* descs = meta + shard_bytes + batch_bytes;
    for (unsigned i = 0; i < shards; ++i) {
        shard* s = new (&arr[i]) shard;
        s->id = i;
        s->base = reinterpret_cast<char*>(base + stride * i);
        s->pages = reinterpret_cast<page_desc*>(descs + desc_bytes * i);
        s->page_class = reinterpret_cast<std::uint8_t*>(descs + desc_bytes * shards + class_bytes * i);
        s->limit = pages;
        s->budget = pages;
        s->range_bytes = bytes;
        for (unsigned c = 0; c < class_count; ++c) {
            s->cache[c].room = s->cache[c].room_set = static_cast<std::int32_t>(classes.cache_max[c]);
        }
        std::fill(std::begin(s->bins), std::end(s->bins), nil);
        s->release_threshold = std::max<std::size_t>(pages / 8, 2048);
        s->outgoing = new (batches + std::size_t{i} * shards) outgoing_batch[shards];
        for (unsigned o = 0; o < shards; ++o) {
            auto* arrays = reinterpret_cast<remote_array*>(
                meta + arrays_at + sizeof(remote_array) * remote_arrays_per_pair * (std::size_t{i} * shards + o));
            s->outgoing[o].arrays = arrays; // constructed on first use: only pairs that talk touch theirs
        }
        s->st.bytes_total = bytes;
    }
    g.shards = arr;
    g.nshards = shards;
    g.shift = static_cast<unsigned>(std::countr_zero(stride));
    g.bytes_per_shard = bytes;
    g.base.store(base, std::memory_order_relaxed);
    g.span.store(total, std::memory_order_release);
    return true;
}

bool configured() noexcept {
    return g.span.load(std::memory_order_acquire) != 0;
}

unsigned shard_count() noexcept {
    return configured() ? g.nshards : 0;
}

bool bind_shard(unsigned id) noexcept {
    if (!configured() || id >= g.nshards || tl_shard) {
        return false;
    }
    if (g.shards[id].bound.exchange(true, std::memory_order_acquire)) {
        return false;
    }
    tl_shard = &g.shards[id];
    return true;
}

bool unbind_shard() noexcept {
    shard* s = tl_shard;
    if (!s) {
        return false;
    }
    flush(*s);
    drain(*s);
    tl_shard = nullptr;
    s->bound.store(false, std::memory_order_release);
    return true;
}

int current_shard() noexcept {
    return tl_shard ? static_cast<int>(tl_shard->id) : -1;
}

namespace {

[[gnu::noinline]] void* allocate_slow(shard* s, std::size_t size) noexcept {
    if (!s) {
        return sys_malloc(size);
    }
    if (size <= max_small_size) {
        return small_alloc(*s, class_of(size));
    }
    return large_alloc(*s, size, page_size);
}

// Everything free() does not do inline: large blocks, other shards' blocks, huge and
// system blocks, unbound threads.
[[gnu::noinline]] void free_slow(shard* self, void* ptr) noexcept {
    if (shard* owner = owner_of(ptr)) [[likely]] {
        if (self == owner) {
            local_free(*self, ptr);
        } else {
            remote_free(self, *owner, ptr);
        }
        return;
    }
    if (!ptr) {
        return;
    }
    if (!huge_lookup(ptr, nullptr, true)) {
        sys_free(ptr);
    }
}

} // namespace

void* allocate(std::size_t size) noexcept {
    // The common case inline: a bound shard, a small size, a block in the class's cache.
    shard* s = tl_shard;
    if (s && size <= max_small_size) [[likely]] {
        unsigned c = class_of(size);
        class_cache& k = s->cache[c];
        if (void* p = k.head) [[likely]] {
            k.head = *static_cast<void**>(p);
            ++k.pops;
            return p;
        }
        return small_alloc_miss(*s, c);
    }
    return allocate_slow(s, size);
}

void* allocate_zeroed(std::size_t size) noexcept {
    void* p = allocate(size);
    // On a bound shard a size at or above the huge threshold gets a mapping of its own,
    // fresh from the kernel: zero pages that are not touched until used.
    if (p && !(tl_shard && size >= g.huge_threshold.load(std::memory_order_relaxed))) {
        std::memset(p, 0, size);
    }
    return p;
}

void* allocate_aligned(std::size_t align, std::size_t size) noexcept {
    if (align == 0 || !std::has_single_bit(align)) {
        return nullptr;
    }
    shard* s = tl_shard;
    if (!s) {
        return align <= 16 ? sys_malloc(size) : sys_memalign(align, size);
    }
    return allocate_on(*s, align, size);
}

void free(void* ptr) noexcept {
    // The common case inline: a small block of the calling shard goes to its class cache.
    shard* self = tl_shard;
    if (self) [[likely]] {
        std::uintptr_t off = reinterpret_cast<std::uintptr_t>(ptr) - reinterpret_cast<std::uintptr_t>(self->base);
        if (off < self->range_bytes) [[likely]] {
            if (unsigned c1 = self->page_class[off >> page_shift]) [[likely]] {
                cache_free(*self, c1 - 1, ptr);
                return;
            }
        }
    }
    free_slow(self, ptr);
}

void free_sized(void* ptr, std::size_t) noexcept {
    free(ptr);
}

std::size_t usable_size(void* ptr) noexcept {
    if (!ptr) {
        return 0;
    }
    if (shard* owner = owner_of(ptr)) {
        // Descriptors of a live block do not change until it is freed, so any thread may read them.
        return owned_usable_size(*owner, ptr);
    }
    std::size_t size = 0;
    if (huge_lookup(ptr, &size, false)) {
        return size;
    }
    return sys_usable_size(ptr);
}

namespace {

// reallocate() of anything but a small block of the calling shard.
[[gnu::noinline]] void* reallocate_slow(void* ptr, std::size_t size) noexcept {
    shard* owner = owner_of(ptr);
    std::size_t old = 0;
    if (owner) {
        old = owned_usable_size(*owner, ptr);
        if (owner == tl_shard) {
            std::uint32_t sp = owner->pages[page_of(*owner, ptr)].first;
            if (owner->pages[sp].state == st_small) {
                if (size <= old && (size > old / 2 || old <= 64)) {
                    return ptr;
                }
            } else if (size > max_small_size && resize_large_in_place(*owner, sp, size)) {
                return ptr;
            }
        } else if (size <= old && size > old / 2) {
            return ptr;
        }
    } else if (huge_lookup(ptr, &old, false)) {
        if (size <= old && size > old / 2) {
            return ptr;
        }
    } else {
        return sys_realloc(ptr, size);
    }
    void* q = allocate(size);
    if (!q) {
        return nullptr;
    }
    std::memcpy(q, ptr, std::min(old, size));
    free(ptr);
    return q;
}

} // namespace

void* reallocate(void* ptr, std::size_t size) noexcept {
    if (!ptr) {
        return allocate(size);
    }
    if (size == 0) {
        free(ptr);
        return nullptr;
    }
    // The common case inline: a small block of the calling shard.
    shard* self = tl_shard;
    if (self) [[likely]] {
        std::uintptr_t off = reinterpret_cast<std::uintptr_t>(ptr) - reinterpret_cast<std::uintptr_t>(self->base);
        if (off < self->range_bytes) [[likely]] {
            if (unsigned c1 = self->page_class[off >> page_shift]) [[likely]] {
                std::size_t old = classes.size[c1 - 1];
                if (size <= old && (size > old / 2 || old <= 64)) {
                    return ptr;
                }
                void* q = allocate(size);
                if (!q) {
                    return nullptr;
                }
                std::memcpy(q, ptr, std::min(old, size));
                cache_free(*self, c1 - 1, ptr);
                return q;
            }
        }
    }
    return reallocate_slow(ptr, size);
}

bool owns(const void* ptr) noexcept {
    return owner_of(ptr) != nullptr;
}

int shard_of(const void* ptr) noexcept {
    shard* s = owner_of(ptr);
    return s ? static_cast<int>(s->id) : -1;
}

void flush_remote_frees() noexcept {
    if (shard* s = tl_shard) {
        flush(*s);
    }
}

std::size_t drain_remote_frees() noexcept {
    shard* s = tl_shard;
    return s ? drain(*s) : 0;
}

std::size_t release_free_memory() noexcept {
    shard* s = tl_shard;
    if (!s) {
        return 0;
    }
    flush_caches(*s);
    drop_spares(*s);
    return release_pages(*s);
}

bool register_reclaimer(reclaimer_fn fn, void* arg) noexcept {
    shard* s = tl_shard;
    if (!s || !fn || s->nreclaimers == max_reclaimers) {
        return false;
    }
    s->reclaimers[s->nreclaimers++] = {fn, arg};
    return true;
}

bool unregister_reclaimer(reclaimer_fn fn, void* arg) noexcept {
    shard* s = tl_shard;
    if (!s) {
        return false;
    }
    for (unsigned i = 0; i < s->nreclaimers; ++i) {
        if (s->reclaimers[i].fn == fn && s->reclaimers[i].arg == arg) {
            std::copy(s->reclaimers + i + 1, s->reclaimers + s->nreclaimers, s->reclaimers + i);
            --s->nreclaimers;
            return true;
        }
    }
    return false;
}

void set_large_allocation_warning_threshold(std::size_t bytes) noexcept {
    g.warn_threshold.store(bytes, std::memory_order_relaxed);
}

void set_large_allocation_reporter(large_allocation_reporter fn) noexcept {
    g.reporter.store(fn, std::memory_order_release);
}

void set_huge_threshold(std::size_t bytes) noexcept {
    g.huge_threshold.store(std::max(bytes, max_small_size + 1), std::memory_order_relaxed);
}

statistics stats() noexcept {
    shard* s = tl_shard;
    if (!s) {
        return {};
    }
    statistics r = s->st;
    r.allocations = s->allocations;
    r.frees = s->frees;
    for (unsigned c = 0; c < class_count; ++c) {
        const class_cache& k = s->cache[c];
        r.allocations += k.pops;
        r.frees += k.pushes();
        r.bytes_in_use -= std::size_t{cache_count(*s, c)} * classes.size[c];
    }
    r.bytes_free = (s->free_span_pages + budget_left(*s)) << page_shift;
    r.bytes_total = std::size_t{s->budget} << page_shift;
    return r;
}

bool set_memory_limit(std::size_t bytes) noexcept {
    shard* s = tl_shard;
    if (!s || bytes < page_size) {
        return false;
    }
    s->budget = static_cast<std::uint32_t>(std::min<std::size_t>(bytes >> page_shift, s->limit));
    s->release_threshold = std::max<std::size_t>(s->budget / 8, 2048);
    return true;
}

std::size_t memory_limit() noexcept {
    shard* s = tl_shard;
    return s ? std::size_t{s->budget} << page_shift : 0;
}

std::size_t range_size() noexcept {
    return configured() ? g.bytes_per_shard : 0;
}

bool set_numa_node(unsigned shard_id, unsigned node) noexcept {
    if (!configured() || shard_id >= g.nshards || node >= 1024) {
        errno = EINVAL;
        return false;
    }
    // MPOL_PREFERRED: pages come from `node` while it has memory, from elsewhere after,
    // so a full node slows the shard down instead of failing its allocations.
    constexpr int mpol_preferred = 1;
    unsigned long mask[1024 / (8 * sizeof(unsigned long))] = {};
    mask[node / (8 * sizeof(unsigned long))] = 1ul << (node % (8 * sizeof(unsigned long)));
    const shard& s = g.shards[shard_id];
    long rc = ::syscall(SYS_mbind, s.base, g.bytes_per_shard, mpol_preferred, mask, 1024ul + 1, 0u);
    return rc == 0;
}

} // namespace reef::memory
