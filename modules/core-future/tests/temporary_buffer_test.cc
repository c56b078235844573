#include <reef/core/temporary_buffer.hh>

#include <catch2/catch.hpp>

#include "counting_new.hh"

#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include <reef/core/deleter.hh>

using namespace reef;

namespace {
// Catch prints a const char* operand as a C string; compare addresses as addresses.
const void* addr(const void* p) {
    return p;
}
}  // namespace

namespace {

// A block whose release is counted, to check "released once, at the end".
struct counted_block {
    int releases = 0;
    char bytes[32] = "0123456789abcdefghijklmnopqrstu";

    temporary_buffer<char> buffer() {
        return temporary_buffer<char>(bytes, 31, make_deleter([this] { ++releases; }));
    }
};

}  // namespace

TEST_CASE("a default-constructed buffer is empty and owns nothing") {
    std::size_t before = counting_new::count;
    temporary_buffer<char> b;
    bool owns = bool(b.release());
    std::size_t after = counting_new::count;
    REQUIRE(after == before);
    REQUIRE_FALSE(owns);
    REQUIRE(b.empty());
    REQUIRE(b.size() == 0);
    REQUIRE(addr(b.get()) == addr(nullptr));
    REQUIRE(addr(b.begin()) == addr(b.end()));
}

TEST_CASE("a buffer of a size allocates that many bytes, and a size of zero allocates nothing") {
    temporary_buffer<char> b(100);
    REQUIRE(b.size() == 100);
    REQUIRE(addr(b.get()) != addr(nullptr));
    b.get_write()[99] = 'x';
    REQUIRE(b[99] == 'x');
    temporary_buffer<char> z(0);
    REQUIRE(z.empty());
    REQUIRE(addr(z.get()) == addr(nullptr));
}

TEST_CASE("a buffer built from a pointer and a size copies the bytes") {
    char src[] = "hello";
    temporary_buffer<char> b(src, 5);
    src[0] = 'j';
    REQUIRE(addr(b.get()) != addr(src));
    REQUIRE(b.view() == "hello");
}

TEST_CASE("an adopted buffer calls its deleter once, when it is destroyed") {
    counted_block blk;
    {
        auto b = blk.buffer();
        REQUIRE(addr(b.get()) == addr(blk.bytes));
        REQUIRE(blk.releases == 0);
    }
    REQUIRE(blk.releases == 1);
}

TEST_CASE("shares and slices keep the memory until the last one is gone, then release it once") {
    counted_block blk;
    {
        auto b = blk.buffer();
        auto whole = b.share();
        auto mid = b.share(10, 6);
        REQUIRE(addr(whole.get()) == addr(b.get()));
        REQUIRE(addr(mid.get()) == addr(blk.bytes + 10));
        REQUIRE(mid.view() == "abcdef");
        auto tail = mid.share(2, 4);
        REQUIRE(tail.view() == "cdef");
        b = temporary_buffer<char>();
        whole = temporary_buffer<char>();
        REQUIRE(blk.releases == 0);
        mid = temporary_buffer<char>();
        REQUIRE(blk.releases == 0);
        REQUIRE(tail.view() == "cdef");
    }
    REQUIRE(blk.releases == 1);
}

TEST_CASE("sharing a malloc buffer allocates one node the first time and nothing after") {
    temporary_buffer<char> b(64);
    std::size_t before = counting_new::count;
    auto s1 = b.share();
    std::size_t after_first = counting_new::count;
    auto s2 = b.share();
    auto s3 = s1.share(1, 10);
    auto s4 = s3.share();
    std::size_t after_all = counting_new::count;
    REQUIRE(after_first == before + 1);
    REQUIRE(after_all == before + 1);
    REQUIRE(addr(s3.get()) == addr(b.get() + 1));
}

TEST_CASE("sharing a custom deleter never allocates") {
    counted_block blk;
    {
        auto b = blk.buffer();
        std::size_t before = counting_new::count;
        auto s1 = b.share();
        auto s2 = b.share(3, 3);
        std::size_t after = counting_new::count;
        REQUIRE(after == before);
    }
    REQUIRE(blk.releases == 1);
}

TEST_CASE("a clone is an independent copy") {
    auto a = temporary_buffer<char>::copy_of("original");
    auto c = a.clone();
    REQUIRE(addr(c.get()) != addr(a.get()));
    REQUIRE(c == a);
    c.get_write()[0] = 'O';
    REQUIRE(a.view() == "original");
    REQUIRE(c.view() == "Original");
    a = temporary_buffer<char>();
    REQUIRE(c.view() == "Original");
}

TEST_CASE("a clone of a shared slice does not keep the original memory alive") {
    counted_block blk;
    temporary_buffer<char> c;
    {
        auto b = blk.buffer();
        c = b.share(0, 4).clone();
    }
    REQUIRE(blk.releases == 1);
    REQUIRE(c.view() == "0123");
}

TEST_CASE("trim and trim_front cut a buffer without copying") {
    auto b = temporary_buffer<char>::copy_of("0123456789");
    const char* base = b.get();
    b.trim_front(2);
    REQUIRE(addr(b.get()) == addr(base + 2));
    b.trim(5);
    REQUIRE(b.view() == "23456");
    b.trim_front(5);
    REQUIRE(b.empty());
}

TEST_CASE("prefix moves the buffer and keeps its first bytes") {
    auto b = temporary_buffer<char>::copy_of("prefix-rest");
    const char* base = b.get();
    auto p = std::move(b).prefix(6);
    REQUIRE(addr(p.get()) == addr(base));
    REQUIRE(p.view() == "prefix");
    REQUIRE(b.empty());
}

TEST_CASE("release hands the deleter over and empties the buffer") {
    counted_block blk;
    deleter d;
    {
        auto b = blk.buffer();
        d = b.release();
        REQUIRE(b.empty());
        REQUIRE(addr(b.get()) == addr(nullptr));
    }
    REQUIRE(blk.releases == 0);
    d.reset();
    REQUIRE(blk.releases == 1);
}

TEST_CASE("moving a buffer leaves the source empty and transfers ownership") {
    counted_block blk;
    {
        auto a = blk.buffer();
        temporary_buffer<char> b(std::move(a));
        REQUIRE(a.empty());
        REQUIRE(addr(a.get()) == addr(nullptr));
        REQUIRE(b.size() == 31);
        temporary_buffer<char> c;
        c = std::move(b);
        REQUIRE(b.empty());
        REQUIRE(blk.releases == 0);
    }
    REQUIRE(blk.releases == 1);
}

TEST_CASE("assigning over a buffer releases what it held") {
    counted_block blk;
    auto b = blk.buffer();
    b = temporary_buffer<char>::copy_of("x");
    REQUIRE(blk.releases == 1);
    REQUIRE(b.view() == "x");
}

TEST_CASE("aligned buffers start at a multiple of the alignment") {
    for (std::size_t align : {8u, 64u, 512u, 4096u}) {
        auto b = temporary_buffer<char>::aligned(align, 100);
        REQUIRE(b.size() == 100);
        REQUIRE(reinterpret_cast<std::uintptr_t>(b.get()) % align == 0);
        auto s = b.share(10, 10);  // shares of aligned memory are released by free() too
        REQUIRE(addr(s.get()) == addr(b.get() + 10));
    }
    REQUIRE(temporary_buffer<char>::aligned(4096, 0).empty());
}

TEST_CASE("copy_of, equality and string views") {
    auto a = temporary_buffer<char>::copy_of("abc");
    auto b = temporary_buffer<char>::copy_of("abc");
    auto c = temporary_buffer<char>::copy_of("abd");
    REQUIRE(a == b);
    REQUIRE_FALSE(a == c);
    REQUIRE(a != c);
    REQUIRE(temporary_buffer<char>() == temporary_buffer<char>::copy_of(""));
    REQUIRE(std::string_view(a) == "abc");
    REQUIRE(to_string_view(a) == "abc");
    REQUIRE(std::string(a.begin(), a.end()) == "abc");
}

TEST_CASE("a buffer of uint8_t works like a buffer of char") {
    auto b = temporary_buffer<std::uint8_t>::copy_of("\x01\x02\x03");
    REQUIRE(b.size() == 3);
    REQUIRE(b[2] == 3);
    auto s = b.share(1, 2);
    REQUIRE(s[0] == 2);
    auto c = b.clone();
    REQUIRE(c == b);
}

TEST_CASE("make_deleter runs its function once, when the last share is released") {
    int calls = 0;
    {
        deleter d = make_deleter([&] { ++calls; });
        deleter s1 = d.share();
        deleter s2 = s1.share();
        d.reset();
        s1 = deleter();
        REQUIRE(calls == 0);
    }
    REQUIRE(calls == 1);
}

TEST_CASE("make_object_deleter keeps an object alive and destroys it at release") {
    struct owner {
        std::vector<char> storage;
        int* destroyed;
        owner(std::vector<char> s, int* d) : storage(std::move(s)), destroyed(d) {}
        owner(owner&& o) noexcept : storage(std::move(o.storage)), destroyed(std::exchange(o.destroyed, nullptr)) {}
        ~owner() {
            if (destroyed) {
                ++*destroyed;
            }
        }
    };
    int destroyed = 0;
    {
        std::vector<char> storage(1000, 'z');
        char* data = storage.data();
        temporary_buffer<char> b(data, 1000, make_object_deleter(owner(std::move(storage), &destroyed)));
        auto s = b.share(500, 10);
        b = temporary_buffer<char>();
        REQUIRE(destroyed == 0);
        REQUIRE(s.view() == std::string(10, 'z'));  // the vector is still alive
    }
    REQUIRE(destroyed == 1);
}

TEST_CASE("an appended deleter runs after the first one, once every share is gone") {
    std::string order;
    {
        deleter d = make_deleter([&] { order += 'a'; });
        d.append(make_deleter([&] { order += 'b'; }));
        d.append(make_deleter([&] { order += 'c'; }));
        deleter s = d.share();
        d.reset();
        REQUIRE(order.empty());
    }
    REQUIRE(order == "abc");
}

TEST_CASE("appending to a free deleter or an empty one keeps both releases") {
    int calls = 0;
    {
        deleter d = make_free_deleter(std::malloc(10));
        d.append(make_deleter([&] { ++calls; }));
        deleter e;
        e.append(make_deleter([&] { ++calls; }));
        REQUIRE(bool(e));
    }
    REQUIRE(calls == 2);
}

TEST_CASE("a free deleter chained to another releases both") {
    int calls = 0;
    {
        deleter d = make_free_deleter(make_deleter([&] { ++calls; }), std::malloc(16));
        deleter s = d.share();
    }
    REQUIRE(calls == 1);
    REQUIRE_FALSE(make_free_deleter(nullptr));
}

TEST_CASE("sharing an empty deleter gives an empty deleter") {
    deleter d;
    REQUIRE_FALSE(d.share());
    temporary_buffer<char> unowned(nullptr, 0, deleter());
    REQUIRE_FALSE(unowned.share().release());
}
