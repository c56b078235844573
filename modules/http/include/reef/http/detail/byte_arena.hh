// byte_arena: a growable run of bytes that keeps its capacity across messages, for the
// parts of an HTTP head that arrive split across buffers.
//   reef::detail::byte_arena a;  a.append("GET / ", 6);  a.clear();   // capacity kept
#pragma once

#include <cstddef>
#include <memory>

namespace reef::detail {

/// Bytes appended at the end; no initialization of spare capacity. Grows by doubling,
/// so data() may move on append(): hold offsets, not pointers, while appending. Owner
/// thread only. append() throws std::bad_alloc.
class byte_arena {
public:
    byte_arena() noexcept = default;
    byte_arena(byte_arena&&) noexcept = default;
    byte_arena& operator=(byte_arena&&) noexcept = default;

    /// Appends `n` bytes from `p`.
    void append(const char* p, std::size_t n);
    /// Forgets the contents; keeps the capacity.
    void clear() noexcept { size_ = 0; }
    /// Frees the memory.
    void release() noexcept {
        data_.reset();
        size_ = capacity_ = 0;
    }
    const char* data() const noexcept { return data_.get(); }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return capacity_; }

private:
    std::unique_ptr<char[]> data_;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

}  // namespace reef::detail
