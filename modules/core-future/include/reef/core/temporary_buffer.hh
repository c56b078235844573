// temporary_buffer<CharT>: a contiguous run of bytes that owns (a share of) its memory
// through a deleter, so slices of one allocation can be passed around without copying.
//   auto b = reef::temporary_buffer<char>::copy_of("hello world");
//   auto w = b.share(6, 5);     // "world": same memory, freed when both are gone
#pragma once

#include <algorithm>
#include <cassert>
#include <concepts>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>
#include <type_traits>
#include <utility>

#include <reef/core/deleter.hh>
#include <reef/core/fwd.hh>

namespace reef {

namespace detail {
template <typename CharT>
concept string_char = std::same_as<CharT, char> || std::same_as<CharT, wchar_t> ||
                      std::same_as<CharT, char8_t> || std::same_as<CharT, char16_t> ||
                      std::same_as<CharT, char32_t>;
}  // namespace detail

/// A buffer of `size()` elements of CharT plus the deleter that keeps them alive.
/// Move-only; share() and share(pos, len) give more handles to the same memory
/// (zero-copy), clone() a private copy. The memory is released once, when the last
/// handle is gone. Single-thread, like its deleter. A default-constructed buffer is
/// empty and owns nothing.
template <typename CharT>
class temporary_buffer {
    static_assert(std::is_trivially_copyable_v<CharT>, "temporary_buffer holds trivially copyable elements");

public:
    using value_type = CharT;
    using iterator = CharT*;
    using const_iterator = const CharT*;

    /// An empty buffer. Does not allocate.
    temporary_buffer() noexcept = default;

    /// A buffer of `size` uninitialized elements, from malloc(). Throws std::bad_alloc.
    /// A size of 0 allocates nothing.
    explicit temporary_buffer(std::size_t size) : size_(size) {
        if (size) {
            buffer_ = static_cast<CharT*>(std::malloc(size * sizeof(CharT)));
            if (!buffer_) {
                throw std::bad_alloc();
            }
            deleter_ = make_free_deleter(buffer_);
        }
    }

    /// A buffer holding a copy of `src[0, size)`. One allocation (none for size 0).
    temporary_buffer(const CharT* src, std::size_t size) : temporary_buffer(size) {
        if (size) {
            std::memcpy(buffer_, src, size * sizeof(CharT));
        }
    }

    /// Adopts `buf[0, size)`, kept alive by `d` (released when the last handle dies).
    temporary_buffer(CharT* buf, std::size_t size, deleter d) noexcept
        : buffer_(buf), size_(size), deleter_(std::move(d)) {}

    temporary_buffer(temporary_buffer&& o) noexcept
        : buffer_(std::exchange(o.buffer_, nullptr)),
          size_(std::exchange(o.size_, 0)),
          deleter_(std::move(o.deleter_)) {}
    temporary_buffer& operator=(temporary_buffer&& o) noexcept {
        if (this != &o) {
            buffer_ = std::exchange(o.buffer_, nullptr);
            size_ = std::exchange(o.size_, 0);
            deleter_ = std::move(o.deleter_);
        }
        return *this;
    }
    temporary_buffer(const temporary_buffer&) = delete;
    temporary_buffer& operator=(const temporary_buffer&) = delete;
    ~temporary_buffer() = default;

    /// A buffer of `size` uninitialized elements whose address is a multiple of
    /// `alignment` (a power of two). Throws std::bad_alloc.
    static temporary_buffer aligned(std::size_t alignment, std::size_t size) {
        if (!size) {
            return temporary_buffer();
        }
        assert(alignment && (alignment & (alignment - 1)) == 0);
        alignment = std::max(alignment, sizeof(void*));
        std::size_t bytes = (size * sizeof(CharT) + alignment - 1) & ~(alignment - 1);
        void* p = std::aligned_alloc(alignment, bytes);
        if (!p) {
            throw std::bad_alloc();
        }
        return temporary_buffer(static_cast<CharT*>(p), size, make_free_deleter(p));
    }

    /// A buffer holding a copy of the bytes of `s`.
    static temporary_buffer copy_of(std::string_view s)
        requires(sizeof(CharT) == 1)
    {
        return temporary_buffer(reinterpret_cast<const CharT*>(s.data()), s.size());
    }

    /// The first element (nullptr when the buffer owns nothing).
    const CharT* get() const noexcept { return buffer_; }
    /// Writable access. A shared buffer's writes are seen by every share.
    CharT* get_write() noexcept { return buffer_; }
    /// Number of elements.
    std::size_t size() const noexcept { return size_; }
    /// True when size() == 0.
    bool empty() const noexcept { return size_ == 0; }
    /// Same as !empty().
    explicit operator bool() const noexcept { return size_ != 0; }
    const CharT* begin() const noexcept { return buffer_; }
    const CharT* end() const noexcept { return buffer_ + size_; }
    CharT* begin() noexcept { return buffer_; }
    CharT* end() noexcept { return buffer_ + size_; }
    /// Element `pos`; requires pos < size().
    CharT operator[](std::size_t pos) const noexcept {
        assert(pos < size_);
        return buffer_[pos];
    }

    /// Drops all but the first `n` elements (n <= size()). The memory stays owned.
    void trim(std::size_t n) noexcept {
        assert(n <= size_);
        size_ = n;
    }
    /// Drops the first `n` elements (n <= size()). The memory stays owned.
    void trim_front(std::size_t n) noexcept {
        assert(n <= size_);
        buffer_ += n;
        size_ -= n;
    }

    /// Another handle to the same elements (zero-copy). See deleter::share() for cost.
    temporary_buffer share() { return temporary_buffer(buffer_, size_, deleter_.share()); }
    /// A handle to elements [pos, pos + len) of this buffer (zero-copy).
    temporary_buffer share(std::size_t pos, std::size_t len) {
        assert(pos <= size_ && len <= size_ - pos);
        return temporary_buffer(buffer_ + pos, len, deleter_.share());
    }
    /// A private deep copy of the elements: independent memory, one allocation.
    temporary_buffer clone() const { return temporary_buffer(buffer_, size_); }
    /// This buffer cut to its first `n` elements (the buffer is moved from).
    temporary_buffer prefix(std::size_t n) && noexcept {
        temporary_buffer r(std::move(*this));
        r.trim(n);
        return r;
    }
    /// Gives up the memory: the buffer becomes empty and the caller gets the deleter
    /// (which now keeps the memory alive).
    deleter release() noexcept {
        buffer_ = nullptr;
        size_ = 0;
        return std::move(deleter_);
    }

    /// The elements as a string view (character types only).
    std::basic_string_view<CharT> view() const noexcept
        requires detail::string_char<CharT>
    {
        return {buffer_, size_};
    }
    /// The elements as a string view (character types only).
    explicit operator std::basic_string_view<CharT>() const noexcept
        requires detail::string_char<CharT>
    {
        return {buffer_, size_};
    }

    /// Same elements (not the same memory).
    friend bool operator==(const temporary_buffer& a, const temporary_buffer& b) noexcept {
        return a.size_ == b.size_ && (a.size_ == 0 || std::memcmp(a.buffer_, b.buffer_, a.size_ * sizeof(CharT)) == 0);
    }

private:
    CharT* buffer_ = nullptr;
    std::size_t size_ = 0;
    deleter deleter_;
};

/// The bytes of a char buffer as a std::string_view.
inline std::string_view to_string_view(const temporary_buffer<char>& b) noexcept {
    return {b.get(), b.size()};
}

namespace detail {
/// Reinterprets a buffer of one byte-sized type as another, keeping its memory and
/// deleter (no copy, no allocation).
template <typename To, typename From>
    requires(sizeof(To) == 1 && sizeof(From) == 1)
temporary_buffer<To> rebind_buffer(temporary_buffer<From>&& b) noexcept {
    if constexpr (std::is_same_v<To, From>) {
        return std::move(b);
    } else {
        auto* p = reinterpret_cast<To*>(b.get_write());
        std::size_t n = b.size();
        return temporary_buffer<To>(p, n, b.release());
    }
}
}  // namespace detail

extern template class temporary_buffer<char>;

}  // namespace reef
