// foreign_ptr<P>: an owning pointer that may travel to other shards but is always
// destroyed on the shard that made it (its owner).
//   auto p = reef::make_foreign(std::make_unique<entry>(key));        // owner: this shard
//   co_await reef::smp::submit_to(1, [p = std::move(p)] { use(*p); }); // freed back home
#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

#include <reef/core/future.hh>
#include <reef/reactor/smp.hh>

namespace reef {

namespace detail {

/// Destroys what an owning pointer of type P owns (delete for a raw pointer, reset
/// otherwise) and leaves it null.
template <typename P>
void destroy_owned(P& p) noexcept {
    if constexpr (std::is_pointer_v<P>) {
        delete std::exchange(p, nullptr);
    } else {
        P gone = std::move(p);
        p = P();
    }
}

}  // namespace detail

/// Wraps an owning pointer (std::unique_ptr, std::shared_ptr, or a raw pointer that owns
/// what it points to) so that whatever it owns is released on the shard where the
/// foreign_ptr was made. It may be moved to and used on any shard; dereferencing it on
/// another shard is the caller's business (the object is not synchronized). Move-only.
template <typename PtrType>
class foreign_ptr {
public:
    /// The pointee type.
    using element_type = typename std::pointer_traits<PtrType>::element_type;
    /// A plain pointer to the pointee.
    using pointer = element_type*;

    /// A null foreign_ptr owned by the calling shard.
    foreign_ptr() noexcept : ptr_(), owner_(this_shard_id()) {}
    /// A null foreign_ptr owned by the calling shard.
    foreign_ptr(std::nullptr_t) noexcept : foreign_ptr() {}
    /// Takes ownership of `p`; the calling shard becomes the owner.
    foreign_ptr(PtrType p) noexcept : ptr_(std::move(p)), owner_(this_shard_id()) {}
    /// Takes `o`'s pointer and owner; `o` becomes null.
    foreign_ptr(foreign_ptr&& o) noexcept : ptr_(std::exchange(o.ptr_, PtrType())), owner_(o.owner_) {}
    /// Releases the current pointee (on its owner shard) and takes `o`'s.
    foreign_ptr& operator=(foreign_ptr&& o) noexcept {
        if (this != &o) {
            release_owned();
            ptr_ = std::exchange(o.ptr_, PtrType());
            owner_ = o.owner_;
        }
        return *this;
    }
    foreign_ptr(const foreign_ptr&) = delete;
    foreign_ptr& operator=(const foreign_ptr&) = delete;

    /// Releases the pointee: here if this is the owner shard, otherwise by a message to
    /// the owner (fire-and-forget: the object is freed there later; one allocation). If
    /// the shards no longer run (smp::count shrank below the owner), releases it here.
    ~foreign_ptr() { release_owned(); }

    /// The pointee, or nullptr.
    pointer get() const noexcept {
        if constexpr (std::is_pointer_v<PtrType>) {
            return ptr_;
        } else {
            return ptr_.get();
        }
    }
    /// The pointee; must not be null.
    element_type& operator*() const noexcept { return *get(); }
    /// The pointee; must not be null.
    pointer operator->() const noexcept { return get(); }
    /// True when not null.
    explicit operator bool() const noexcept { return get() != nullptr; }

    /// The shard where the pointee will be released.
    unsigned get_owner_shard() const noexcept { return owner_; }

    /// Gives up ownership: returns the wrapped pointer, leaving this null. The caller
    /// becomes responsible for releasing it on the owner shard.
    PtrType release() noexcept { return std::exchange(ptr_, PtrType()); }

    /// Releases the current pointee (on its owner shard) and takes `p`, owned by the
    /// calling shard.
    void reset(PtrType p = PtrType()) noexcept {
        release_owned();
        ptr_ = std::move(p);
        owner_ = this_shard_id();
    }

    /// Releases the current pointee on its owner shard and resolves when that is done
    /// (at once on the owner shard). Leaves this null. Fails with std::out_of_range if
    /// the owner shard does not exist.
    future<> destroy() {
        if (!ptr_ || owner_ == this_shard_id()) {
            detail::destroy_owned(ptr_);
            return make_ready_future<>();
        }
        return smp::submit_to(owner_, [p = std::exchange(ptr_, PtrType())]() mutable {
            // Released here, on the owner: the message itself is freed on the sender,
            // with p already null.
            detail::destroy_owned(p);
        });
    }

    /// A new foreign_ptr sharing the pointee, with the copy of the pointer made on the
    /// owner shard (for copyable pointer types such as std::shared_ptr). This foreign_ptr
    /// must stay alive until the result is ready. Fails with std::out_of_range if the
    /// owner shard does not exist.
    future<foreign_ptr> copy() const
        requires std::is_copy_constructible_v<PtrType>
    {
        return smp::submit_to(owner_, [p = &ptr_] { return foreign_ptr(PtrType(*p)); });
    }

private:
    void release_owned() noexcept {
        if (!ptr_) {
            return;
        }
        if (owner_ == this_shard_id() || owner_ >= smp::count) {
            detail::destroy_owned(ptr_);
            return;
        }
        // Fire-and-forget: the result future is dropped; the message carries the pointer
        // to the owner, which releases it there.
        (void)smp::submit_to(owner_, [p = std::exchange(ptr_, PtrType())]() mutable { detail::destroy_owned(p); });
    }

    PtrType ptr_;
    unsigned owner_;
};

/// Wraps `p` in a foreign_ptr owned by the calling shard.
template <typename PtrType>
foreign_ptr<PtrType> make_foreign(PtrType p) noexcept {
    return foreign_ptr<PtrType>(std::move(p));
}

}  // namespace reef
