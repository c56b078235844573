// The out-of-line parts of deleter and the temporary_buffer<char> instantiation.
#include <reef/core/temporary_buffer.hh>

#include <reef/core/deleter.hh>

namespace reef {

namespace {

// A node that free()s a pointer: what a free() deleter becomes once it is shared.
struct free_node final : deleter::impl {
    explicit free_node(void* p, deleter n = deleter()) noexcept : impl(std::move(n)), ptr(p) {}
    ~free_node() override { std::free(ptr); }
    void* ptr;
};

}  // namespace

void deleter::release(std::uintptr_t bits) noexcept {
    if (bits & free_tag) {
        std::free(reinterpret_cast<void*>(bits & ~free_tag));
        return;
    }
    auto* i = reinterpret_cast<impl*>(bits);
    if (--i->refs == 0) {
        // The node's destructor releases its payload, then its `next` chain.
        delete i;
    }
}

deleter::impl* deleter::to_impl() {
    if (bits_ & free_tag) {
        // Allocate before changing anything, so a bad_alloc leaves the deleter intact.
        auto* n = new free_node(reinterpret_cast<void*>(bits_ & ~free_tag));
        bits_ = reinterpret_cast<std::uintptr_t>(static_cast<impl*>(n));
    }
    return reinterpret_cast<impl*>(bits_);
}

deleter deleter::share() {
    if (!bits_) {
        return deleter();
    }
    impl* i = to_impl();
    ++i->refs;
    return deleter(i);
}

void deleter::append(deleter d) {
    if (!d) {
        return;
    }
    if (!bits_) {
        *this = std::move(d);
        return;
    }
    // Walk to the end of the chain; chains are short (a buffer and its owners).
    impl* i = to_impl();
    while (i->next) {
        i = i->next.to_impl();
    }
    i->next = std::move(d);
}

deleter make_free_deleter(void* p) {
    deleter d;
    if (!p) {
        return d;
    }
    auto bits = reinterpret_cast<std::uintptr_t>(p);
    if (bits & deleter::free_tag) {
        // An odd address cannot carry the tag: fall back to a node.
        return deleter(new free_node(p));
    }
    d.bits_ = bits | deleter::free_tag;
    return d;
}

deleter make_free_deleter(deleter next, void* p) {
    if (!next) {
        return make_free_deleter(p);
    }
    if (!p) {
        return next;
    }
    return deleter(new free_node(p, std::move(next)));
}

template class temporary_buffer<char>;

}  // namespace reef
