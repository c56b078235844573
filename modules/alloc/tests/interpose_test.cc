// The interposition layer: this executable links reef-alloc-interpose, so malloc, free,
// operator new and friends are Reef's. Shard 0 is the test thread, shard 1 a std::thread.
#include <reef/alloc/memory.hh>

#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <map>
#include <new>
#include <string>
#include <thread>
#include <vector>

namespace mem = reef::memory;

namespace {

constexpr std::size_t shard_bytes = std::size_t{16} << 20;

// Called at the start of every test case: configures once and binds the test thread.
void bind_main() {
    if (!mem::configured()) {
        REQUIRE(mem::configure(2, shard_bytes));
    }
    if (mem::current_shard() < 0) {
        REQUIRE(mem::bind_shard(0));
    }
    REQUIRE(mem::current_shard() == 0);
}

bool aligned(const void* p, std::size_t a) {
    return reinterpret_cast<std::uintptr_t>(p) % a == 0;
}

void fill(void* p, std::size_t n, unsigned seed) {
    auto* b = static_cast<unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) {
        b[i] = static_cast<unsigned char>(i * 131 + seed);
    }
}

bool check(const void* p, std::size_t n, unsigned seed) {
    auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) {
        if (b[i] != static_cast<unsigned char>(i * 131 + seed)) {
            return false;
        }
    }
    return true;
}

// Keeps the optimizer from pairing or removing new/delete and malloc/free.
template <typename T>
T* launder_ptr(T* p) {
    asm volatile("" : "+r"(p));
    return p;
}

} // namespace

TEST_CASE("malloc, free, malloc_usable_size are Reef's on a bound thread") {
    bind_main();
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{8}, std::size_t{24},
                          std::size_t{100}, std::size_t{4096}, std::size_t{20000},
                          std::size_t{1} << 20}) {
        void* p = launder_ptr(std::malloc(n));
        REQUIRE(p != nullptr);
        CHECK(mem::owns(p));
        CHECK(aligned(p, n <= 8 ? 8 : 16));
        CHECK(malloc_usable_size(p) >= n);
        fill(p, n, 3);
        CHECK(check(p, n, 3));
        std::free(p);
    }
    std::free(nullptr);
    CHECK(malloc_usable_size(nullptr) == 0);
    errno = 0;
    void* big = launder_ptr(std::malloc(shard_bytes * 2));
    CHECK(big == nullptr);
    CHECK(errno == ENOMEM);
}

TEST_CASE("calloc zeroes and checks overflow") {
    bind_main();
    // Dirty some memory first so that recycled blocks would show garbage.
    for (std::size_t n : {std::size_t{64}, std::size_t{1000}, std::size_t{70000}}) {
        void* d = launder_ptr(std::malloc(n));
        REQUIRE(d);
        std::memset(d, 0xAB, n);
        std::free(d);
        auto* c = static_cast<unsigned char*>(launder_ptr(std::calloc(n, 1)));
        REQUIRE(c);
        CHECK(mem::owns(c));
        bool zero = true;
        for (std::size_t i = 0; i < n; ++i) {
            zero = zero && c[i] == 0;
        }
        CHECK(zero);
        std::free(c);
    }
    void* z = launder_ptr(std::calloc(0, 16));
    CHECK(z != nullptr);
    std::free(z);
    errno = 0;
    CHECK(launder_ptr(std::calloc(SIZE_MAX / 2, 3)) == nullptr);
    CHECK(errno == ENOMEM);
    errno = 0;
    CHECK(launder_ptr(std::calloc(std::size_t{1} << 33, std::size_t{1} << 33)) == nullptr);
    CHECK(errno == ENOMEM);
}

// Resident bytes of this process (/proc/self/statm).
std::size_t resident_bytes() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    REQUIRE(f);
    unsigned long size = 0, resident = 0;
    REQUIRE(std::fscanf(f, "%lu %lu", &size, &resident) == 2);
    std::fclose(f);
    return resident * 4096;
}

TEST_CASE("calloc of a huge block neither writes nor commits its pages, and it reads as zero") {
    bind_main();
    mem::set_huge_threshold(std::size_t{1} << 20);
    constexpr std::size_t n = std::size_t{12} << 20;
    std::size_t before = resident_bytes();
    auto* c = static_cast<unsigned char*>(launder_ptr(std::calloc(n, 1)));
    REQUIRE(c);
    std::size_t after = resident_bytes();
    CHECK(mem::stats().huge_allocations >= 1);
    // Zeroing 12 MiB would have made them resident; a fresh mapping is not.
    CHECK(after < before + (std::size_t{2} << 20));
    bool zero = true;
    for (std::size_t i = 0; i < n; i += 4096 * 7 + 13) {
        zero = zero && c[i] == 0;
    }
    CHECK(zero);
    std::memset(c, 0xCD, n);  // dirty it, free it, and a new one is still zero
    std::free(c);
    c = static_cast<unsigned char*>(launder_ptr(std::calloc(n / 4, 4)));
    REQUIRE(c);
    zero = true;
    for (std::size_t i = 0; i < n; i += 4096 * 5 + 7) {
        zero = zero && c[i] == 0;
    }
    CHECK(zero);
    std::free(c);
    mem::set_huge_threshold(std::size_t{64} << 20);
}

TEST_CASE("realloc grows and shrinks keeping contents") {
    bind_main();
    void* p = std::realloc(nullptr, 10);  // realloc(nullptr, n) is malloc
    REQUIRE(p);
    CHECK(mem::owns(p));
    fill(p, 10, 7);
    std::size_t kept = 10;
    for (std::size_t n : {std::size_t{40}, std::size_t{300}, std::size_t{5000},
                          std::size_t{40000}, std::size_t{300000}, std::size_t{2000},
                          std::size_t{64}, std::size_t{9}, std::size_t{123456}}) {
        void* q = std::realloc(p, n);
        REQUIRE(q);
        CHECK(mem::owns(q));
        CHECK(check(q, std::min(kept, n), 7));
        fill(q, n, 7);
        kept = n;
        p = q;
    }
    // realloc(p, 0) frees and returns nullptr, as glibc.
    CHECK(std::realloc(p, 0) == nullptr);
    // Failure leaves the block alone.
    void* r = std::malloc(100);
    fill(r, 100, 9);
    errno = 0;
    CHECK(std::realloc(r, shard_bytes * 2) == nullptr);
    CHECK(errno == ENOMEM);
    CHECK(check(r, 100, 9));
    void* r2 = reallocarray(r, 20, 10);
    REQUIRE(r2);
    CHECK(check(r2, 100, 9));
    errno = 0;
    CHECK(reallocarray(r2, SIZE_MAX / 2, 4) == nullptr);
    CHECK(errno == ENOMEM);
    std::free(r2);
}

TEST_CASE("aligned allocations for every power of two up to 64 KiB") {
    bind_main();
    for (std::size_t a = 1; a <= 64 * 1024; a <<= 1) {
        for (std::size_t n : {std::size_t{1}, a, a + 1, 3 * a}) {
            INFO("align " << a << " size " << n);
            void* p1 = launder_ptr(aligned_alloc(a, n));
            REQUIRE(p1);
            CHECK(aligned(p1, a));
            CHECK(mem::owns(p1));
            CHECK(malloc_usable_size(p1) >= n);
            fill(p1, n, 1);
            void* p2 = nullptr;
            if (a >= sizeof(void*)) {
                REQUIRE(posix_memalign(&p2, a, n) == 0);
                CHECK(aligned(p2, a));
                CHECK(mem::owns(p2));
                fill(p2, n, 2);
            }
            void* p3 = launder_ptr(memalign(a, n));
            REQUIRE(p3);
            CHECK(aligned(p3, a));
            CHECK(mem::owns(p3));
            fill(p3, n, 3);
            void* p4 = ::operator new(n, std::align_val_t{a});
            CHECK(aligned(p4, a));
            CHECK(mem::owns(p4));
            fill(p4, n, 4);
            void* p5 = ::operator new[](n, std::align_val_t{a}, std::nothrow);
            REQUIRE(p5);
            CHECK(aligned(p5, a));
            fill(p5, n, 5);
            CHECK(check(p1, n, 1));
            CHECK((!p2 || check(p2, n, 2)));
            CHECK(check(p3, n, 3));
            CHECK(check(p4, n, 4));
            CHECK(check(p5, n, 5));
            std::free(p1);
            std::free(p2);
            std::free(p3);
            ::operator delete(p4, n, std::align_val_t{a});
            ::operator delete[](p5, std::align_val_t{a}, std::nothrow);
        }
    }
    void* v = launder_ptr(valloc(100));
    REQUIRE(v);
    CHECK(aligned(v, 4096));
    CHECK(mem::owns(v));
    std::free(v);
    void* pv = launder_ptr(pvalloc(5000));
    REQUIRE(pv);
    CHECK(aligned(pv, 4096));
    CHECK(malloc_usable_size(pv) >= 8192);
    std::free(pv);
    volatile std::size_t a48 = 48;
    void* m = launder_ptr(memalign(a48, 10));  // rounded up to 64, as glibc
    REQUIRE(m);
    CHECK(aligned(m, 64));
    std::free(m);
}

TEST_CASE("invalid alignments") {
    bind_main();
    void* p = reinterpret_cast<void*>(0x1);
    volatile std::size_t zero = 0, four = 4, odd = 24;  // opaque: no compile-time warnings
    CHECK(posix_memalign(&p, zero, 8) == EINVAL);
    CHECK(posix_memalign(&p, four, 8) == EINVAL);  // not a multiple of sizeof(void*)
    CHECK(posix_memalign(&p, odd, 8) == EINVAL);   // not a power of two
    CHECK(p == reinterpret_cast<void*>(0x1));    // untouched
    CHECK(posix_memalign(&p, 64, shard_bytes * 2) == ENOMEM);
    errno = 0;
    CHECK(launder_ptr(aligned_alloc(odd, 48)) == nullptr);
    CHECK(errno == EINVAL);
}

TEST_CASE("operator new and delete, every form") {
    bind_main();
    int* a = launder_ptr(new int(5));
    CHECK(mem::owns(a));
    delete a;
    int* b = launder_ptr(new int[100]());
    CHECK(mem::owns(b));
    delete[] b;
    int* c = launder_ptr(new (std::nothrow) int(1));
    REQUIRE(c);
    CHECK(mem::owns(c));
    ::operator delete(c, std::nothrow);
    int* d = launder_ptr(new (std::nothrow) int[10]);
    REQUIRE(d);
    ::operator delete[](d, std::nothrow);
    void* e = ::operator new(200);
    CHECK(mem::owns(e));
    ::operator delete(e, 200);
    void* f = ::operator new[](300);
    ::operator delete[](f, 300);
    struct alignas(256) over {
        char x[300];
    };
    over* g = launder_ptr(new over);
    CHECK(aligned(g, 256));
    CHECK(mem::owns(g));
    delete g;  // sized + aligned delete
    over* h = launder_ptr(new over[3]);
    CHECK(aligned(h, 256));
    delete[] h;
    over* i = launder_ptr(new (std::nothrow) over);
    REQUIRE(i);
    CHECK(aligned(i, 256));
    delete i;
    void* j = ::operator new(64, std::align_val_t{128});
    ::operator delete(j, std::align_val_t{128});
    void* k = ::operator new[](64, std::align_val_t{128});
    ::operator delete[](k, std::align_val_t{128});
    void* l = ::operator new[](64, std::align_val_t{128});
    ::operator delete[](l, 64, std::align_val_t{128});
    void* m = ::operator new(64, std::align_val_t{128}, std::nothrow);
    ::operator delete(m, std::align_val_t{128}, std::nothrow);
}

TEST_CASE("new throws bad_alloc when the shard is exhausted, and works after freeing") {
    bind_main();
    // One request larger than the range.
    bool threw = false;
    try {
        void* p = ::operator new(shard_bytes * 2);
        ::operator delete(p);
    } catch (const std::bad_alloc&) {
        threw = true;
    }
    CHECK(threw);
    CHECK(::operator new(shard_bytes * 2, std::nothrow) == nullptr);
    CHECK(::operator new[](shard_bytes * 2, std::nothrow) == nullptr);
    CHECK(::operator new(shard_bytes * 2, std::align_val_t{4096}, std::nothrow) == nullptr);

    // Fill the range with 1 MiB blocks; no assertion (which may allocate) until freed.
    void* blocks[64] = {};
    int count = 0;
    bool exhausted = false;
    bool nothrow_null = false;
    try {
        while (count < 64) {
            blocks[count] = ::operator new(std::size_t{1} << 20);
            ++count;
        }
    } catch (const std::bad_alloc&) {
        exhausted = true;
        nothrow_null = ::operator new(std::size_t{1} << 20, std::nothrow) == nullptr;
    }
    for (int n = 0; n < count; ++n) {
        ::operator delete(blocks[n]);
    }
    CHECK(exhausted);
    CHECK(nothrow_null);
    CHECK(count > 4);
    CHECK(count < 16);
    CHECK(mem::stats().failed_allocations > 0);
    // Works again.
    void* again = ::operator new(std::size_t{1} << 20);
    CHECK(mem::owns(again));
    ::operator delete(again);
    std::vector<char> v(std::size_t{4} << 20, 'x');
    CHECK(mem::owns(v.data()));
}

TEST_CASE("standard containers on Reef memory") {
    bind_main();
    std::map<std::string, std::vector<int>> m;
    std::vector<std::string> keys;
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 5000; ++i) {
            std::string k = "key-number-" + std::to_string(i) + "-with-a-long-enough-suffix";
            m[k].push_back(i + round);
            if (round == 0) {
                keys.push_back(k);
            }
        }
        for (int i = 0; i < 5000; i += 3) {
            m.erase(keys[static_cast<std::size_t>(i)]);
        }
    }
    CHECK(mem::owns(keys.data()));
    CHECK(mem::owns(keys[0].data()));
    std::size_t sum = 0;
    for (auto& [k, v] : m) {
        CHECK(v.size() >= 1);
        sum += v.size();
    }
    CHECK(sum > 3000);
    std::string s;
    for (int i = 0; i < 100000; ++i) {
        s += static_cast<char>('a' + i % 26);
    }
    CHECK(mem::owns(s.data()));
    CHECK(s[25] == 'z');
}

TEST_CASE("a block freed on another shard goes through the cross-shard path") {
    bind_main();
    std::atomic<void*> from_worker{nullptr};
    std::atomic<void*> from_main{nullptr};
    std::atomic<int> step{0};
    std::atomic<bool> ok{true};
    std::atomic<std::uint64_t> worker_cross{0};
    std::thread worker([&] {
        if (!mem::bind_shard(1)) {
            ok = false;
            step = 1;
            return;
        }
        void* p = launder_ptr(std::malloc(200));
        fill(p, 200, 11);
        from_worker = p;
        step = 1;
        while (step.load() < 2) {
            std::this_thread::yield();
        }
        void* q = from_main.load();
        std::uint64_t before = mem::stats().cross_shard_frees;
        std::free(q);
        worker_cross = mem::stats().cross_shard_frees - before;
        if (mem::shard_of(q) != 0) {
            ok = false;
        }
        mem::unbind_shard();  // flushes the batch to shard 0
        step = 3;
    });
    while (step.load() < 1) {
        std::this_thread::yield();
    }
    REQUIRE(ok.load());
    void* p = from_worker.load();
    CHECK(mem::owns(p));
    CHECK(mem::shard_of(p) == 1);
    CHECK(check(p, 200, 11));
    CHECK(malloc_usable_size(p) >= 200);
    std::uint64_t before = mem::stats().cross_shard_frees;
    std::free(p);
    CHECK(mem::stats().cross_shard_frees == before + 1);
    mem::flush_remote_frees();
    from_main = launder_ptr(std::malloc(300));
    step = 2;
    while (step.load() < 3) {
        std::this_thread::yield();
    }
    worker.join();
    CHECK(ok.load());
    CHECK(worker_cross.load() == 1);
    CHECK(mem::drain_remote_frees() >= 1);
}

TEST_CASE("an unbound thread's allocations are the system's") {
    bind_main();
    void* sys_block = nullptr;
    bool ok = true;
    std::size_t usable = 0;
    std::thread t([&] {
        ok = ok && mem::current_shard() == -1;
        void* p = launder_ptr(std::malloc(100));
        ok = ok && p && !mem::owns(p);
        ok = ok && malloc_usable_size(p) >= 100;
        p = std::realloc(p, 5000);
        ok = ok && p && !mem::owns(p);
        std::free(p);
        auto* c = static_cast<unsigned char*>(launder_ptr(std::calloc(10, 10)));
        ok = ok && c && !mem::owns(c) && c[0] == 0 && c[99] == 0;
        std::free(c);
        int* i = launder_ptr(new int(3));
        ok = ok && !mem::owns(i);
        delete i;
        void* a = launder_ptr(aligned_alloc(4096, 100));
        ok = ok && a && !mem::owns(a) && aligned(a, 4096);
        std::free(a);
        void* pm = nullptr;
        ok = ok && posix_memalign(&pm, 256, 10) == 0 && aligned(pm, 256) && !mem::owns(pm);
        std::free(pm);
        std::string s(1000, 'q');
        ok = ok && !mem::owns(s.data());
        sys_block = std::malloc(64);  // freed by the bound test thread below
        // A block of a shard freed from an unbound thread goes back to its owner.
    });
    t.join();
    CHECK(ok);
    REQUIRE(sys_block);
    CHECK(!mem::owns(sys_block));
    usable = malloc_usable_size(sys_block);
    CHECK(usable >= 64);
    CHECK(usable < 4096);
    std::free(sys_block);
}
