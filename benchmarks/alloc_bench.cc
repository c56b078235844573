// Reef's allocator against glibc malloc, jemalloc, tcmalloc and mimalloc on the same
// workloads in one run inside live shards: small fixed-size blocks, random sizes, blocks
// freed on another shard, and an HTTP-like request. Allocators alternate round by round;
// the report gives each one's median and the ratio reef/other.
//   build/benchmarks/alloc_bench [--quick] [--json] [--rounds N] [--only WORKLOAD] [--smp 2]
//
// Every allocator is reached through the same three function pointers (malloc-like,
// free-like, realloc-like), so each pays the same call. glibc is reached through its
// internal entry points (__libc_*), which bypass any interposed malloc; jemalloc, tcmalloc
// and mimalloc are loaded with dlopen(RTLD_LOCAL), so they replace nothing in the process
// and serve only the blocks this benchmark asks them for. A library that is not installed
// is skipped with a line saying so. The program's own memory (working-set arrays,
// cross-shard messages) comes from whatever allocator the build gives Reef programs
// (Meson option `allocator`), the same for every allocator measured.
#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <reef/alloc/memory.hh>
#include <reef/core/coroutine.hh>
#include <reef/core/future.hh>
#include <reef/reactor/app_template.hh>
#include <reef/reactor/detail/runtime.hh>
#include <reef/reactor/sleep.hh>
#include <reef/reactor/smp.hh>

// glibc's own malloc, whatever the program links in front of it.
extern "C" {
void* __libc_malloc(std::size_t);          // NOLINT: glibc's name
void __libc_free(void*);                   // NOLINT: glibc's name
void* __libc_realloc(void*, std::size_t);  // NOLINT: glibc's name
}

namespace {

using clock_type = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------
// The allocators

struct allocator {
    std::string name;
    void* (*malloc_fn)(std::size_t);
    void (*free_fn)(void*);
    void* (*realloc_fn)(void*, std::size_t);
    /// Called on the freeing shard after each batch of frees of another shard's blocks, or
    /// nullptr: reef hands the frees it collected back to their owner, as the reactor also
    /// does on every poll when Reef is built with allocator=reef (with allocator=system,
    /// nothing else would).
    void (*flush_fn)();
};

[[noreturn]] void out_of_memory(const allocator& a, std::size_t size) {
    std::fprintf(stderr, "alloc_bench: %s returned nullptr for %zu bytes\n", a.name.c_str(), size);
    std::abort();
}

inline void* allocate(const allocator& a, std::size_t size) {
    void* p = a.malloc_fn(size);
    if (!p) [[unlikely]] {
        out_of_memory(a, size);
    }
    return p;
}

inline void* reallocate(const allocator& a, void* p, std::size_t size) {
    void* q = a.realloc_fn(p, size);
    if (!q) [[unlikely]] {
        out_of_memory(a, size);
    }
    return q;
}

/// Writes the first and the last byte of a block, so that no allocator gains by handing
/// out memory nobody touches.
inline void touch(void* p, std::size_t size, std::uint64_t v) noexcept {
    auto* c = static_cast<char*>(p);
    c[0] = static_cast<char>(v);
    c[size - 1] = static_cast<char>(v);
}

/// A shared library to compare with, and the names of its three functions.
struct library {
    const char* name;
    const char* soname;
    const char* malloc_name;
    const char* free_name;
    const char* realloc_name;
};

// Sonames of Debian 12's libjemalloc2, libtcmalloc-minimal4 and libmimalloc2.0.
constexpr library libraries[] = {
    {"jemalloc", "libjemalloc.so.2", "malloc", "free", "realloc"},
    {"tcmalloc", "libtcmalloc_minimal.so.4", "tc_malloc", "tc_free", "tc_realloc"},
    {"mimalloc", "libmimalloc.so.2", "mi_malloc", "mi_free", "mi_realloc"},
};

/// Resolves `symbol` in the library `handle`, checking that the definition found is the
/// library's own: dlsym on a handle searches the library's dependencies too, and glibc
/// also defines malloc.
void* own_symbol(void* handle, const char* symbol, std::string& why) {
    void* f = ::dlsym(handle, symbol);
    link_map* lm = nullptr;
    Dl_info info{};
    if (!f || ::dlinfo(handle, RTLD_DI_LINKMAP, &lm) != 0 || !::dladdr(f, &info) || !lm || !info.dli_fname ||
        std::strcmp(info.dli_fname, lm->l_name) != 0) {
        why = std::string("no ") + symbol + " of its own";
        return nullptr;
    }
    return f;
}

/// The allocators to compare, reef first. Libraries that cannot be loaded are listed in
/// `skipped` with the reason.
std::vector<allocator> load_allocators(std::vector<std::string>& skipped) {
    std::vector<allocator> out;
    out.push_back({"reef", &reef::memory::allocate, &reef::memory::free, &reef::memory::reallocate,
                   &reef::memory::flush_remote_frees});
    out.push_back({"glibc", &__libc_malloc, &__libc_free, &__libc_realloc, nullptr});
    for (const library& l : libraries) {
        void* h = ::dlopen(l.soname, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char* e = ::dlerror();
            skipped.push_back(std::string(l.name) + ": " + (e ? e : "dlopen failed"));
            continue;
        }
        std::string why;
        void* m = own_symbol(h, l.malloc_name, why);
        void* f = m ? own_symbol(h, l.free_name, why) : nullptr;
        void* r = f ? own_symbol(h, l.realloc_name, why) : nullptr;
        if (!r) {
            skipped.push_back(std::string(l.name) + ": " + l.soname + " has " + why);
            continue;  // the handle stays open: unloading an allocator is never safe
        }
        out.push_back({l.name, reinterpret_cast<void* (*)(std::size_t)>(m),
                       reinterpret_cast<void (*)(void*)>(f),
                       reinterpret_cast<void* (*)(void*, std::size_t)>(r), nullptr});
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// Reef's shards

// True on a shard thread this program bound to reef's allocator (and so must unbind).
thread_local bool tl_bound_here = false;

/// Binds the calling shard's thread to its range of reef's allocator, unless the reactor
/// already did (it does with allocator=reef). configure() must have been called.
void bind_this_shard() {
    int want = static_cast<int>(reef::this_shard_id());
    if (reef::memory::current_shard() == want) {
        return;
    }
    if (!reef::memory::bind_shard(reef::this_shard_id())) {
        throw std::runtime_error("reef::memory::bind_shard(" + std::to_string(want) + ") failed (bound to " +
                                 std::to_string(reef::memory::current_shard()) + ")");
    }
    tl_bound_here = true;
}

void unbind_this_shard() {
    if (tl_bound_here) {
        reef::memory::unbind_shard();
        tl_bound_here = false;
    }
}

/// Configures reef's allocator if the reactor did not (1 GiB of address space per shard,
/// nothing committed until used), then binds every shard: configure() must come before
/// any bind.
reef::future<> bind_all_shards() {
    if (!reef::memory::configured() && !reef::memory::configure(reef::smp::count, std::size_t{1} << 30)) {
        throw std::runtime_error("reef::memory::configure failed");
    }
    for (unsigned s = 0; s < reef::smp::count; ++s) {
        co_await reef::smp::submit_to(s, [] { bind_this_shard(); });
    }
}

reef::future<> unbind_all_shards() {
    for (unsigned s = 0; s < reef::smp::count; ++s) {
        co_await reef::smp::submit_to(s, [] { unbind_this_shard(); });
    }
}

// ---------------------------------------------------------------------------------------
// Precomputed sequences: made once with a fixed seed, so every allocator sees the same
// sizes and slots and the random number generator is not timed.

constexpr std::size_t seq_len = 1 << 16;  // entries before a sequence repeats
constexpr std::size_t seq_mask = seq_len - 1;

constexpr std::size_t small_size = 32;
constexpr std::uint32_t small_window = 1000;

constexpr std::uint32_t mixed_window = 4096;
constexpr std::size_t mixed_min = 8, mixed_max = 4096;

constexpr std::uint32_t cross_batch = 256;
constexpr std::uint32_t cross_in_flight = 8;  // batches sent and not yet freed, at most
constexpr std::size_t cross_min = 64, cross_max = 1024;

struct slot_and_size {
    std::uint32_t slot;
    std::uint32_t size;
};

constexpr unsigned max_headers = 20;
constexpr unsigned vector_count = 3;

/// What one HTTP-like request allocates.
struct request_profile {
    std::uint8_t headers;                      // 8..20 header strings
    std::uint8_t header_size[max_headers];     // 16..128 bytes each
    std::uint8_t vector_length[vector_count];  // 1..16 elements of 16 bytes, grown one by one
    std::uint16_t response_size;               // 2..8 KiB, grown by realloc from 256 B
};
constexpr std::size_t request_object_size = 300;
constexpr std::size_t read_buffer_size = 4096;
constexpr std::size_t read_bytes = 1024;  // of the read buffer filled by the "socket"
constexpr std::size_t vector_element = 16;
constexpr std::size_t response_initial = 256;
constexpr std::size_t response_piece = 256;   // appended at a time
constexpr std::uint32_t request_window = 64;  // requests alive at once
constexpr std::size_t profile_count = 1024;

struct sequences {
    std::vector<std::uint32_t> small_slots;  // random slot of the 1000-block window
    std::vector<slot_and_size> mixed;        // slot to replace, size of the new block
    std::vector<std::uint32_t> cross_sizes;
    std::vector<request_profile> requests;
};

/// A size drawn log-uniformly from [lo, hi]: each doubling of size is equally likely,
/// closer to what programs allocate than a uniform draw, which is mostly large blocks.
std::uint32_t log_uniform(std::mt19937_64& rng, std::size_t lo, std::size_t hi) {
    std::uniform_real_distribution<double> u(std::log(double(lo)), std::log(double(hi) + 1));
    return static_cast<std::uint32_t>(
        std::clamp<double>(std::floor(std::exp(u(rng))), double(lo), double(hi)));
}

std::uint32_t uniform(std::mt19937_64& rng, std::uint32_t lo, std::uint32_t hi) {
    return std::uniform_int_distribution<std::uint32_t>(lo, hi)(rng);
}

sequences make_sequences() {
    std::mt19937_64 rng(20240601);
    sequences s;
    s.small_slots.resize(seq_len);
    for (auto& v : s.small_slots) {
        v = uniform(rng, 0, small_window - 1);
    }
    s.mixed.resize(seq_len);
    for (auto& v : s.mixed) {
        v = {uniform(rng, 0, mixed_window - 1), log_uniform(rng, mixed_min, mixed_max)};
    }
    s.cross_sizes.resize(seq_len);
    for (auto& v : s.cross_sizes) {
        v = log_uniform(rng, cross_min, cross_max);
    }
    s.requests.resize(profile_count);
    for (auto& r : s.requests) {
        r.headers = static_cast<std::uint8_t>(uniform(rng, 8, max_headers));
        for (auto& h : r.header_size) {
            h = static_cast<std::uint8_t>(uniform(rng, 16, 128));
        }
        for (auto& v : r.vector_length) {
            v = static_cast<std::uint8_t>(uniform(rng, 1, 16));
        }
        r.response_size = static_cast<std::uint16_t>(uniform(rng, 2048, 8192));
    }
    return s;
}

const sequences* g_seq = nullptr;  // made on shard 0 before any workload runs

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// ---------------------------------------------------------------------------------------
// Workloads. Each runs `n` operations with one allocator and returns the seconds the
// operations took; filling and emptying a working set happen outside the timed part.

/// malloc(32), write a byte, free: the same block comes back at once.
double small_pair(const allocator& a, std::uint64_t n) {
    auto t0 = clock_type::now();
    for (std::uint64_t i = 0; i < n; ++i) {
        void* p = allocate(a, small_size);
        touch(p, small_size, i);
        a.free_fn(p);
    }
    return seconds_since(t0);
}

/// small_pair after a burst: 4096 blocks of 32 B allocated and freed first (untimed), as
/// a server does when a burst of requests ends, so the class's per-thread cache starts
/// at its bound; then malloc(32), write, free.
double small_pair_after_burst(const allocator& a, std::uint64_t n) {
    std::vector<void*> burst(4096);
    for (auto& p : burst) {
        p = allocate(a, small_size);
        touch(p, small_size, 1);
    }
    for (void* p : burst) {
        a.free_fn(p);
    }
    return small_pair(a, n);
}

/// 1000 blocks of 32 B alive; each operation frees one (the oldest, or a random one) and
/// allocates its replacement.
template <bool Random>
double small_window_run(const allocator& a, std::uint64_t n) {
    std::vector<void*> live(small_window);
    for (auto& p : live) {
        p = allocate(a, small_size);
        touch(p, small_size, 1);
    }
    const std::uint32_t* slots = g_seq->small_slots.data();
    std::uint32_t fifo = 0;
    auto t0 = clock_type::now();
    for (std::uint64_t i = 0; i < n; ++i) {
        std::uint32_t k;
        if constexpr (Random) {
            k = slots[i & seq_mask];
        } else {
            k = fifo;
            fifo = fifo + 1 == small_window ? 0 : fifo + 1;
        }
        a.free_fn(live[k]);
        void* p = allocate(a, small_size);
        touch(p, small_size, i);
        live[k] = p;
    }
    double t = seconds_since(t0);
    for (void* p : live) {
        a.free_fn(p);
    }
    return t;
}

/// 4096 blocks of 8 B..4 KiB (log-uniform) alive; each operation frees a random one and
/// allocates a block of the next size in its place.
double mixed_sizes(const allocator& a, std::uint64_t n) {
    const slot_and_size* seq = g_seq->mixed.data();
    std::vector<void*> live(mixed_window);
    for (std::uint32_t k = 0; k < mixed_window; ++k) {
        std::uint32_t size = seq[(seq_len - 1 - k) & seq_mask].size;
        live[k] = allocate(a, size);
        touch(live[k], size, k);
    }
    auto t0 = clock_type::now();
    for (std::uint64_t i = 0; i < n; ++i) {
        slot_and_size e = seq[i & seq_mask];
        a.free_fn(live[e.slot]);
        void* p = allocate(a, e.size);
        touch(p, e.size, i);
        live[e.slot] = p;
    }
    double t = seconds_since(t0);
    for (void* p : live) {
        a.free_fn(p);
    }
    return t;
}

/// Shard 0 allocates batches of 256 blocks of 64 B..1 KiB and sends each to shard 1 with
/// smp::submit_to, which frees them; at most 8 batches are in flight. `n` blocks, timed
/// from the first allocation until shard 1 has freed the last batch and said so. The
/// transport is the same for every allocator.
///
/// A message leaves only when its sender's reactor polls. So that shard 1 frees one batch
/// while shard 0 allocates the next (instead of the two taking turns on bursts of 8, with
/// shard 1 falling asleep between them and the run timing its wake-ups), shard 0 lets
/// its reactor poll after each batch by waiting for an already expired timer.
reef::future<double> cross_shard(const allocator& a, std::uint64_t n) {
    const std::uint64_t batches = std::max<std::uint64_t>(1, n / cross_batch);
    const std::uint32_t* sizes = g_seq->cross_sizes.data();
    std::vector<std::vector<void*>> slots(cross_in_flight, std::vector<void*>(cross_batch));
    std::vector<std::optional<reef::future<>>> in_flight(cross_in_flight);
    std::uint64_t next_size = 0;
    auto t0 = clock_type::now();
    for (std::uint64_t b = 0; b < batches; ++b) {
        auto k = static_cast<std::uint32_t>(b % cross_in_flight);
        if (in_flight[k]) {
            co_await std::move(*in_flight[k]);  // shard 1 is done with this slot's blocks
            in_flight[k].reset();
        }
        std::vector<void*>& slot = slots[k];
        for (void*& p : slot) {
            std::uint32_t size = sizes[next_size++ & seq_mask];
            p = allocate(a, size);
            touch(p, size, b);
        }
        in_flight[k] = reef::smp::submit_to(1, [&slot, &a] {
            for (void* p : slot) {
                a.free_fn(p);
            }
            if (a.flush_fn) {
                a.flush_fn();
            }
        });
        co_await reef::sleep(std::chrono::nanoseconds(0));
    }
    for (std::uint64_t b = batches - std::min<std::uint64_t>(batches, cross_in_flight); b < batches; ++b) {
        co_await std::move(*in_flight[b % cross_in_flight]);
    }
    co_return seconds_since(t0);
}

/// One HTTP-like request in flight.
struct live_request {
    void* object = nullptr;
    void* read_buffer = nullptr;  // freed once the request is processed
    void* headers[max_headers] = {};
    unsigned header_count = 0;
    void* vectors[vector_count] = {};
    char* response = nullptr;
    const request_profile* profile = nullptr;
};

/// Reads a request: the request object, a 4 KiB read buffer, and the header strings
/// copied out of it.
void start_request(const allocator& a, live_request& r, const request_profile& p) {
    r.profile = &p;
    r.object = allocate(a, request_object_size);
    std::memset(r.object, 0, request_object_size);
    r.read_buffer = allocate(a, read_buffer_size);
    auto* text = static_cast<char*>(r.read_buffer);
    std::memset(text, 'h', read_bytes);
    text[read_buffer_size - 1] = 0;
    std::size_t at = 0;
    r.header_count = p.headers;
    for (unsigned h = 0; h < p.headers; ++h) {
        std::size_t size = p.header_size[h];
        r.headers[h] = allocate(a, size);
        std::memcpy(r.headers[h], text + at, size);
        at = (at + size) % (read_bytes - 128);
    }
}

/// Handles a request: drops the read buffer, builds a few small vectors one element at
/// a time (grown by doubling as std::vector does) and a response grown by realloc.
void process_request(const allocator& a, live_request& r) {
    a.free_fn(r.read_buffer);
    r.read_buffer = nullptr;
    const request_profile& p = *r.profile;
    for (unsigned v = 0; v < vector_count; ++v) {
        char* data = nullptr;
        std::size_t capacity = 0;
        for (std::size_t e = 0; e < p.vector_length[v]; ++e) {
            if (e == capacity) {
                std::size_t grown = capacity ? capacity * 2 : 1;
                auto* bigger = static_cast<char*>(allocate(a, grown * vector_element));
                if (data) {
                    std::memcpy(bigger, data, capacity * vector_element);
                    a.free_fn(data);
                }
                data = bigger;
                capacity = grown;
            }
            std::memset(data + e * vector_element, int(e), vector_element);
        }
        r.vectors[v] = data;
    }
    std::size_t capacity = response_initial;
    auto* out = static_cast<char*>(allocate(a, capacity));
    for (std::size_t len = 0; len < p.response_size;) {
        std::size_t piece = std::min<std::size_t>(response_piece, p.response_size - len);
        if (len + piece > capacity) {
            capacity *= 2;
            out = static_cast<char*>(reallocate(a, out, capacity));
        }
        std::memset(out + len, 'r', piece);
        len += piece;
    }
    r.response = out;
}

/// Frees everything a request still holds.
void finish_request(const allocator& a, live_request& r) {
    if (!r.object) {
        return;
    }
    for (unsigned h = 0; h < r.header_count; ++h) {
        a.free_fn(r.headers[h]);
    }
    for (void* v : r.vectors) {
        a.free_fn(v);
    }
    a.free_fn(r.response);
    a.free_fn(r.read_buffer);
    a.free_fn(r.object);
    r = live_request{};
}

/// 64 requests alive at once. Each step finishes the oldest request and starts a new one
/// in its place, and processes the request started 32 steps before, so the frees of
/// one request interleave with the allocations of others.
double http_requests(const allocator& a, std::uint64_t n) {
    const request_profile* profiles = g_seq->requests.data();
    std::vector<live_request> slots(request_window);
    auto step = [&](std::uint64_t i) {
        live_request& fresh = slots[i % request_window];
        finish_request(a, fresh);
        start_request(a, fresh, profiles[i % profile_count]);
        live_request& half = slots[(i + request_window / 2) % request_window];
        if (half.read_buffer) {
            process_request(a, half);
        }
    };
    for (std::uint64_t i = 0; i < request_window; ++i) {
        step(i);
    }
    auto t0 = clock_type::now();
    for (std::uint64_t i = request_window; i < request_window + n; ++i) {
        step(i);
    }
    double t = seconds_since(t0);
    for (auto& r : slots) {
        finish_request(a, r);
    }
    return t;
}

struct workload {
    const char* name;
    const char* unit;  // what one operation is
    const char* description;
    bool cross_shard;  // needs two shards; the target is "within 1.5x of the best"
    double (*sync)(const allocator&, std::uint64_t);
    reef::future<double> (*async)(const allocator&, std::uint64_t);
};

const workload workloads[] = {
    {"small_pair", "pair", "malloc(32), write, free: the block comes straight back", false, &small_pair,
     nullptr},
    {"small_pair_after_burst", "pair",
     "small_pair after 4096 blocks of 32 B were allocated and freed: caches start full", false,
     &small_pair_after_burst, nullptr},
    {"small_fifo", "pair", "1000 blocks of 32 B alive; free the oldest, allocate a new one", false,
     &small_window_run<false>, nullptr},
    {"small_random", "pair", "1000 blocks of 32 B alive; free a random one, allocate a new one", false,
     &small_window_run<true>, nullptr},
    {"mixed_sizes", "pair",
     "4096 blocks of 8 B-4 KiB (log-uniform) alive; free a random one, allocate the next size, "
     "write its first and last byte",
     false, &mixed_sizes, nullptr},
    {"http_request", "request",
     "64 requests alive: a 300 B object, a 4 KiB read buffer, 8-20 headers of 16-128 B, "
     "3 vectors grown to 1-16 x 16 B, a response realloc'ed from 256 B to 2-8 KiB",
     false, &http_requests, nullptr},
    {"cross_shard", "block",
     "shard 0 allocates batches of 256 blocks of 64 B-1 KiB (log-uniform), shard 1 frees them; "
     "8 batches in flight",
     true, nullptr, &cross_shard},
};

reef::future<double> run_workload(const workload& w, const allocator& a, std::uint64_t n) {
    if (w.sync) {
        co_return w.sync(a, n);
    }
    co_return co_await w.async(a, n);
}

// ---------------------------------------------------------------------------------------
// Statistics and reports

struct settings {
    bool json = false;
    bool quick = false;
    unsigned rounds = 15;
    double min_time_ms = 10;
    std::vector<std::string> only;     // workloads to run (all when empty)
    std::vector<std::string> against;  // allocators to compare reef with (all when empty)
};

struct summary {
    double median = 0, mad = 0, min = 0, max = 0;
};

double median_of(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

summary summarize(const std::vector<double>& ns) {
    summary s;
    s.median = median_of(ns);
    s.min = *std::min_element(ns.begin(), ns.end());
    s.max = *std::max_element(ns.begin(), ns.end());
    std::vector<double> dev;
    dev.reserve(ns.size());
    for (double v : ns) {
        dev.push_back(std::fabs(v - s.median));
    }
    s.mad = median_of(dev);
    return s;
}

/// CPU time used by the whole machine and by this process: the difference, over a run,
/// is what other processes took. On a shared machine that is the first thing to check
/// (the cross-shard workload needs both CPUs to itself).
struct cpu_sample {
    double machine_busy = -1;  // seconds of all CPUs not idle (steal counts as busy); -1: unknown
    double own = 0;            // seconds used by this process
    clock_type::time_point at = clock_type::now();
};

cpu_sample sample_cpu() {
    cpu_sample c;
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    c.own = double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
    if (std::FILE* f = std::fopen("/proc/stat", "r")) {
        unsigned long long user, nice, system, idle, iowait, irq, softirq, steal;
        if (std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &system, &idle,
                        &iowait, &irq, &softirq, &steal) == 8) {
            c.machine_busy =
                double(user + nice + system + irq + softirq + steal) / double(::sysconf(_SC_CLK_TCK));
        }
        std::fclose(f);
    }
    return c;
}

/// Above this share of the CPUs taken by other processes, results are flagged unreliable.
constexpr double busy_share = 0.02;

/// The share of the machine's CPUs (0..1) that other processes used between `a` and `b`,
/// or a negative number when /proc/stat could not be read.
double others_cpu_share(const cpu_sample& a, const cpu_sample& b) {
    double elapsed = std::chrono::duration<double>(b.at - a.at).count();
    long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (a.machine_busy < 0 || b.machine_busy < 0 || elapsed <= 0 || cpus <= 0) {
        return -1;
    }
    double others = (b.machine_busy - a.machine_busy) - (b.own - a.own);
    return std::clamp(others / (elapsed * double(cpus)), 0.0, 1.0);
}

struct workload_result {
    const workload* w;
    std::uint64_t ops_per_run;
    std::vector<summary> per_allocator;  // in the order of the allocators
    double others_cpu_share = -1;        // what other processes took meanwhile (-1: unknown)
    // Cross-shard workload: one-way cache line transfer between the shards' CPUs, in ns,
    // measured before and after it (-1: not measured).
    double line_ns_before = -1, line_ns_after = -1;

    /// reef's median over allocator i's: below 1, reef is faster.
    double reef_ratio(std::size_t i) const { return per_allocator[0].median / per_allocator[i].median; }
    /// The workload's target: faster than every other allocator on one shard; within 1.5x
    /// of the best across shards.
    bool target_met() const {
        if (per_allocator.size() < 2) {
            return true;
        }
        double best_other = per_allocator[1].median;
        for (std::size_t i = 2; i < per_allocator.size(); ++i) {
            best_other = std::min(best_other, per_allocator[i].median);
        }
        double reef = per_allocator[0].median;
        return w->cross_shard ? reef <= 1.5 * best_other : reef < best_other;
    }
    const char* verdict() const {
        return per_allocator.size() < 2 ? "n/a (nothing to compare with)" : target_met() ? "met" : "NOT met";
    }
    const char* target_text() const {
        return w->cross_shard ? "within 1.5x of the best" : "faster than every other";
    }
};

std::string json_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += c;
        }
    }
    return out;
}

std::string utc_now() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

void print_workload(const workload_result& r, const std::vector<allocator>& allocs) {
    std::printf("\n%s: %s\n", r.w->name, r.w->description);
    std::printf("  %-10s %12s %9s %10s %10s %10s\n", "allocator", ("ns/" + std::string(r.w->unit)).c_str(),
                "+-mad", "min", "max", "reef/this");
    for (std::size_t i = 0; i < allocs.size(); ++i) {
        const summary& s = r.per_allocator[i];
        std::printf("  %-10s %12.2f %9.2f %10.2f %10.2f %10.3f\n", allocs[i].name.c_str(), s.median, s.mad,
                    s.min, s.max, r.reef_ratio(i));
    }
    std::printf("  target (%s): %s\n", r.target_text(), r.verdict());
    if (r.others_cpu_share >= 0) {
        std::printf("  other processes used %.1f%% of the CPUs meanwhile%s\n", r.others_cpu_share * 100,
                    r.others_cpu_share > busy_share ? ": not reliable, run again on a quiet machine" : "");
    }
    if (r.line_ns_before >= 0 && r.line_ns_after >= 0) {
        std::printf(
            "  a cache line takes %.0f ns from one shard's CPU to the other (%.0f ns before the workload, "
            "%.0f after): cross-shard results scale with it\n",
            (r.line_ns_before + r.line_ns_after) / 2, r.line_ns_before, r.line_ns_after);
    }
    std::fflush(stdout);
}

void print_summary(const std::vector<workload_result>& results, const std::vector<allocator>& allocs) {
    std::printf("\nreef/this, median over median (below 1.000: reef is faster)\n  %-14s", "workload");
    for (std::size_t i = 1; i < allocs.size(); ++i) {
        std::printf(" %9s", allocs[i].name.c_str());
    }
    std::printf("  target\n");
    for (const auto& r : results) {
        std::printf("  %-14s", r.w->name);
        for (std::size_t i = 1; i < allocs.size(); ++i) {
            std::printf(" %9.3f", r.reef_ratio(i));
        }
        std::printf("  %s: %s\n", r.target_text(), r.verdict());
    }
}

std::string json_share(double share) {
    return share < 0 ? std::string("null") : std::to_string(share);
}

void print_json(const std::vector<workload_result>& results, const std::vector<allocator>& allocs,
                const std::vector<std::string>& skipped, const settings& cfg, double others) {
    std::ostringstream o;
    o << "{\n  \"benchmark\": \"alloc_bench\",\n  \"date\": \"" << utc_now()
      << "\",\n  \"runner\": \"shard 0 of " << reef::smp::count << ", backend "
      << json_escape(reef::detail::current_backend_name()) << "\",\n"
      << "  \"config\": {\"rounds\": " << cfg.rounds << ", \"min_time_ms\": " << cfg.min_time_ms
      << ", \"quick\": " << (cfg.quick ? "true" : "false") << "},\n"
      << "  \"others_cpu_share\": " << json_share(others) << ",\n"
      << "  \"reef_ratio\": \"reef's median ns/op divided by this allocator's: below 1, reef is faster\",\n"
      << "  \"skipped\": [";
    for (std::size_t i = 0; i < skipped.size(); ++i) {
        o << (i ? ", " : "") << '"' << json_escape(skipped[i]) << '"';
    }
    o << "],\n  \"results\": [";
    bool first = true;
    for (const auto& r : results) {
        for (std::size_t i = 0; i < allocs.size(); ++i) {
            const summary& s = r.per_allocator[i];
            o << (first ? "\n" : ",\n") << "    {\"workload\": \"" << r.w->name << "\", \"allocator\": \""
              << allocs[i].name << "\", \"unit\": \"" << r.w->unit << "\", \"ops_per_run\": " << r.ops_per_run
              << ", \"median_ns\": " << s.median << ", \"mad_ns\": " << s.mad << ", \"min_ns\": " << s.min
              << ", \"max_ns\": " << s.max << ", \"reef_ratio\": " << r.reef_ratio(i)
              << ", \"others_cpu_share\": " << json_share(r.others_cpu_share);
            if (r.w->cross_shard) {
                o << ", \"cache_line_ns_before\": " << r.line_ns_before
                  << ", \"cache_line_ns_after\": " << r.line_ns_after;
            }
            o << "}";
            first = false;
        }
    }
    o << "\n  ],\n  \"targets\": [";
    for (std::size_t i = 0; i < results.size(); ++i) {
        o << (i ? ",\n" : "\n") << "    {\"workload\": \"" << results[i].w->name << "\", \"target\": \""
          << results[i].target_text() << "\", \"met\": " << (results[i].target_met() ? "true" : "false")
          << "}";
    }
    o << "\n  ]\n}\n";
    std::fputs(o.str().c_str(), stdout);
}

// ---------------------------------------------------------------------------------------
// The driver

inline void spin_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// The line the two shards hand back and forth; alone on its cache line.
struct alignas(64) ping_line {
    std::atomic<std::uint32_t> value{0};
};
ping_line g_ping;

/// Waits until g_ping holds `v`; false after `limit` (the other side never came).
bool wait_for(std::uint32_t v, clock_type::time_point limit) noexcept {
    for (unsigned spins = 0; g_ping.value.load(std::memory_order_acquire) != v; ++spins) {
        spin_pause();
        if ((spins & 1023) == 0 && clock_type::now() > limit) {
            return false;
        }
    }
    return true;
}

/// One-way latency, in ns, of handing a cache line from shard 0's CPU to shard 1's and
/// back (ping-pong on one atomic), or -1 if shard 1 did not answer. The cross-shard
/// workload moves every block's lines between the two CPUs, so its results follow this
/// number; on a virtual machine it changes when the host moves the vCPUs (46 ns and
/// 210 ns were both seen on the machine of benchmarks/ALLOC_RESULTS.md).
reef::future<double> cache_line_transfer_ns(std::uint32_t trips) {
    g_ping.value.store(0, std::memory_order_relaxed);
    auto responder = reef::smp::submit_to(1, [trips] {
        auto limit = clock_type::now() + std::chrono::seconds(1);
        g_ping.value.store(1, std::memory_order_release);  // started
        for (std::uint32_t i = 0; i < trips; ++i) {
            if (!wait_for(2 * i + 2, limit)) {
                return;
            }
            g_ping.value.store(2 * i + 3, std::memory_order_release);
        }
    });
    co_await reef::sleep(std::chrono::nanoseconds(0));  // a poll sends the message
    auto limit = clock_type::now() + std::chrono::seconds(1);
    double ns = -1;
    if (wait_for(1, limit)) {
        auto t0 = clock_type::now();
        std::uint32_t i = 0;
        for (; i < trips; ++i) {
            g_ping.value.store(2 * i + 2, std::memory_order_release);
            if (!wait_for(2 * i + 3, limit)) {
                break;
            }
        }
        if (i == trips) {
            ns = std::chrono::duration<double, std::nano>(clock_type::now() - t0).count() / (2.0 * trips);
        }
    }
    co_await std::move(responder);
    co_return ns;
}

/// Lets the reactor poll between runs (a run holds the shard for up to min_time_ms).
reef::future<> let_reactor_poll() {
    co_await reef::coroutine::maybe_yield();
}

/// Finds an operation count for which the slowest allocator's run lasts about `target`
/// seconds (so no run holds the shard much longer). These runs are the warm-up too.
reef::future<std::uint64_t> calibrate(const workload& w, const std::vector<allocator>& allocs,
                                      double target) {
    const std::uint64_t min_ops = w.cross_shard ? cross_batch : 64;
    std::uint64_t n = min_ops;
    for (;;) {
        double t = co_await run_workload(w, allocs[0], n);
        co_await let_reactor_poll();
        if (t >= target / 2 || n >= (std::uint64_t{1} << 36)) {
            n = static_cast<std::uint64_t>(double(n) * target / std::max(t, 1e-9));
            break;
        }
        n = static_cast<std::uint64_t>(double(n) * std::clamp(target * 1.2 / std::max(t, 1e-9), 2.0, 100.0));
    }
    n = std::max(n, min_ops);
    double slowest = 0;
    for (const allocator& a : allocs) {
        slowest = std::max(slowest, co_await run_workload(w, a, n));
        co_await let_reactor_poll();
    }
    co_return std::max(min_ops, static_cast<std::uint64_t>(double(n) * target / std::max(slowest, 1e-9)));
}

/// Measures `w` with every allocator: `rounds` rounds, each running every allocator once,
/// starting one allocator later each round, so that none always runs first or after the
/// same neighbour and slow drift of the machine spreads over all of them.
reef::future<workload_result> measure(const workload& w, const std::vector<allocator>& allocs,
                                      const settings& cfg) {
    workload_result r{&w, 0, {}};
    cpu_sample start = sample_cpu();
    r.ops_per_run = co_await calibrate(w, allocs, cfg.min_time_ms / 1000);
    std::vector<std::vector<double>> ns(allocs.size());
    for (unsigned round = 0; round < cfg.rounds; ++round) {
        for (std::size_t j = 0; j < allocs.size(); ++j) {
            std::size_t i = (round + j) % allocs.size();
            double t = co_await run_workload(w, allocs[i], r.ops_per_run);
            ns[i].push_back(t * 1e9 / double(r.ops_per_run));
            co_await let_reactor_poll();
        }
    }
    for (auto& v : ns) {
        r.per_allocator.push_back(summarize(v));
    }
    r.others_cpu_share = others_cpu_share(start, sample_cpu());
    co_return r;
}

bool selected(const workload& w, const settings& cfg) {
    return cfg.only.empty() || std::find(cfg.only.begin(), cfg.only.end(), w.name) != cfg.only.end();
}

reef::future<int> run(const settings& cfg) {
    for (const auto& name : cfg.only) {
        if (std::none_of(std::begin(workloads), std::end(workloads),
                         [&](const workload& w) { return name == w.name; })) {
            std::fprintf(stderr, "alloc_bench: no workload is called '%s'\n", name.c_str());
            co_return 2;
        }
    }
    for (const auto& name : cfg.against) {
        if (name != "glibc" && name != "none" &&
            std::none_of(std::begin(libraries), std::end(libraries),
                         [&](const library& l) { return name == l.name; })) {
            std::fprintf(stderr, "alloc_bench: no allocator is called '%s'\n", name.c_str());
            co_return 2;
        }
    }
    std::vector<std::string> skipped;
    std::vector<allocator> allocs = load_allocators(skipped);
    if (!cfg.against.empty()) {
        // reef stays first: it is the baseline of every ratio.
        std::erase_if(allocs, [&](const allocator& a) {
            return a.name != "reef" &&
                   std::find(cfg.against.begin(), cfg.against.end(), a.name) == cfg.against.end();
        });
    }
    for (const auto& s : skipped) {
        std::fprintf(stderr, "alloc_bench: skipping %s\n", s.c_str());
    }
    sequences seq = make_sequences();
    g_seq = &seq;
    co_await bind_all_shards();
    cpu_sample start = sample_cpu();
    if (!cfg.json) {
        std::printf("# alloc_bench %s: shard 0 of %u, backend %s; allocators:", utc_now().c_str(),
                    reef::smp::count, std::string(reef::detail::current_backend_name()).c_str());
        for (const auto& a : allocs) {
            std::printf(" %s", a.name.c_str());
        }
        std::printf(
            "\n# %u rounds of ~%g ms per allocator, allocators in rotating order; median, median absolute "
            "deviation, min and max of the rounds, in ns per op\n",
            cfg.rounds, cfg.min_time_ms);
        for (const auto& s : skipped) {
            std::printf("# skipped %s\n", s.c_str());
        }
    }
    std::vector<workload_result> results;
    for (const workload& w : workloads) {
        if (!selected(w, cfg)) {
            continue;
        }
        if (w.cross_shard && reef::smp::count < 2) {
            std::fprintf(stderr, "alloc_bench: skipping %s: it needs --smp 2 or more\n", w.name);
            continue;
        }
        const std::uint32_t trips = cfg.quick ? 2000 : 20000;
        double before = w.cross_shard ? co_await cache_line_transfer_ns(trips) : -1;
        results.push_back(co_await measure(w, allocs, cfg));
        if (w.cross_shard) {
            results.back().line_ns_before = before;
            results.back().line_ns_after = co_await cache_line_transfer_ns(trips);
        }
        if (!cfg.json) {
            print_workload(results.back(), allocs);
        }
    }
    co_await unbind_all_shards();
    g_seq = nullptr;
    double others = others_cpu_share(start, sample_cpu());
    if (cfg.json) {
        print_json(results, allocs, skipped, cfg, others);
    } else {
        print_summary(results, allocs);
        if (others >= 0) {
            std::printf(
                "\n# other processes used %.1f%% of the CPUs during the run%s\n", others * 100,
                others > busy_share ? ": the numbers are not reliable, run again on a quiet machine" : "");
        }
    }
    std::fflush(stdout);
    co_return 0;
}

/// jemalloc's shared library holds 2.6 KiB of initial-exec TLS (DF_STATIC_TLS), more than
/// glibc keeps spare for libraries loaded later by dlopen(), which then fails with
/// "cannot allocate memory in static TLS block". The spare is a tunable read when the
/// program starts, so the program restarts itself once with it raised. If that fails,
/// it goes on and jemalloc is reported as skipped.
void make_room_for_dlopened_tls(char** argv) {
    constexpr std::string_view tunable = "glibc.rtld.optional_static_tls=";
    const char* current = std::getenv("GLIBC_TUNABLES");
    if (current && std::strstr(current, tunable.data())) {
        return;
    }
    std::string value = current && *current ? std::string(current) + ":" : std::string();
    value += std::string(tunable) + "16384";
    // By its real path, not /proc/self/exe, so the process keeps its name (ps, perf).
    char self[4096];
    ssize_t len = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0 && ::setenv("GLIBC_TUNABLES", value.c_str(), 1) == 0) {
        self[len] = '\0';
        ::execv(self, argv);
    }
}

}  // namespace

int main(int argc, char** argv) {
    make_room_for_dlopened_tls(argv);
    reef::app_template app({.name = "alloc_bench",
                            .description = "Reef's allocator against glibc, jemalloc, tcmalloc and mimalloc, "
                                           "in live shards (the cross-shard workload needs --smp 2)"});
    app.add_options()("json", "print one JSON object instead of the tables")(
        "quick", "3 rounds of ~2 ms: for CI (an explicit --rounds or --min-time-ms wins)")(
        "rounds", reef::value<unsigned>(15u).min(1), "measured rounds; each runs every allocator once")(
        "min-time-ms", reef::value<double>(10.0).above(0), "length of the slowest allocator's run")(
        "only", reef::value<std::vector<std::string>>(),
        "run only this workload: small_pair, small_pair_after_burst, small_fifo, small_random, mixed_sizes, http_request, "
        "cross_shard")("against", reef::value<std::vector<std::string>>(),
                       "compare reef with this allocator only: glibc, jemalloc, tcmalloc, mimalloc, none");
    // A run holds its shard for up to --min-time-ms on purpose; the stall detector's
    // default (25 ms) would interrupt it with reports. A later option on the command line wins.
    std::vector<const char*> args{argv[0], "--blocked-reactor-notify-ms", "1000"};
    args.insert(args.end(), argv + 1, argv + argc);
    settings cfg;
    return app.run(int(args.size()), args.data(), [&]() -> reef::future<int> {
        const auto& m = app.configuration();
        cfg.json = m["json"].as<bool>();
        cfg.quick = m["quick"].as<bool>();
        cfg.rounds = cfg.quick && !m.given("rounds") ? 3 : m["rounds"].as<unsigned>();
        cfg.min_time_ms = cfg.quick && !m.given("min-time-ms") ? 2.0 : m["min-time-ms"].as<double>();
        if (m.given("only")) {
            cfg.only = m["only"].as<std::vector<std::string>>();
        }
        if (m.given("against")) {
            cfg.against = m["against"].as<std::vector<std::string>>();
        }
        return run(cfg);
    });
}
