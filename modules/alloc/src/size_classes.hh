// Private: the size classes of the small-object pools and the span length of each.
// Classes: 8, 16, 32, 48, 64, then four per doubling (p+p/4, p+p/2, p+3p/4, 2p) up to
// 16 KiB, so above 64 bytes a block wastes under 20% of its size. Every class from 16 up
// is a multiple of 16, which keeps the malloc alignment guarantee.
#pragma once

#include <reef/alloc/memory.hh>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace reef::memory::detail {

inline constexpr unsigned class_count = 37;
inline constexpr unsigned max_span_pages = 32;

struct size_class_table {
    std::uint32_t size[class_count]{};
    std::uint32_t pages[class_count]{};    // span length in pages
    std::uint32_t capacity[class_count]{}; // blocks per span
    std::uint32_t cache_max[class_count]{}; // freed blocks a shard keeps in front of the spans
    std::uint8_t lookup[max_small_size / 8 + 1]{}; // (size + 7) / 8 -> class
};

constexpr size_class_table make_size_class_table() {
    size_class_table t;
    unsigned n = 0;
    for (std::uint32_t s : {8u, 16u, 32u, 48u, 64u}) {
        t.size[n++] = s;
    }
    for (std::uint32_t p = 64; p < max_small_size; p *= 2) {
        for (std::uint32_t q = 1; q <= 4; ++q) {
            t.size[n++] = p + p / 4 * q;
        }
    }
    for (unsigned c = 0; c < class_count; ++c) {
        // The shortest span holding at least 8 blocks whose tail waste is within 1/16;
        // failing that, the span with the least waste.
        std::uint32_t best = 0;
        std::uint64_t best_waste = ~std::uint64_t{0};
        for (std::uint32_t pages = 1; pages <= max_span_pages; ++pages) {
            std::uint64_t bytes = std::uint64_t{pages} * page_size;
            std::uint64_t cap = bytes / t.size[c];
            if (cap == 0) {
                continue;
            }
            std::uint64_t waste = bytes - cap * t.size[c];
            if (cap >= 8 && waste * 16 <= bytes) {
                best = pages;
                break;
            }
            if (waste * max_span_pages / pages < best_waste) {
                best_waste = waste * max_span_pages / pages;
                best = pages;
            }
        }
        t.pages[c] = best;
        t.capacity[c] = static_cast<std::uint32_t>(std::uint64_t{best} * page_size / t.size[c]);
        // About 128 KiB of blocks per class, at least 16 and at most 2048 of them.
        std::uint32_t keep = 128 * 1024 / t.size[c];
        t.cache_max[c] = keep < 16 ? 16 : keep > 2048 ? 2048 : keep;
    }
    // One table for every small size: a single load finds the class (2 KiB, of which
    // the common sizes use the first few lines).
    unsigned c = 0;
    for (unsigned i = 0; i <= max_small_size / 8; ++i) {
        while (t.size[c] < i * 8) {
            ++c;
        }
        t.lookup[i] = static_cast<std::uint8_t>(c);
    }
    return t;
}

inline constexpr size_class_table classes = make_size_class_table();

/// The class of a block of `size` bytes, 0 < size <= max_small_size (0 maps to class 0).
inline unsigned class_of(std::size_t size) noexcept {
    return classes.lookup[(size + 7) >> 3];
}

} // namespace reef::memory::detail
