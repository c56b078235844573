// A small non-cryptographic hash for addresses (FNV-1a over bytes, then a 64-bit mix).
// Private to the reactor module.
#pragma once

#include <cstddef>
#include <cstdint>

namespace reef::net::detail {

/// Mixes `v` into `h` (the finalizer of splitmix64 over their combination).
inline std::uint64_t hash_mix(std::uint64_t h, std::uint64_t v) noexcept {
    std::uint64_t x = h ^ (v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2));
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/// FNV-1a of `p[0, n)` starting from `seed`, then mixed.
inline std::uint64_t hash_bytes(const void* p, std::size_t n, std::uint64_t seed) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ull ^ seed;
    auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) {
        h = (h ^ b[i]) * 0x100000001b3ull;
    }
    return hash_mix(h, n);
}

}  // namespace reef::net::detail
