// A doubly-linked intrusive list for wait queues: nodes embed a list_hook, the list
// never allocates, and a node can leave from the middle in O(1). Internal to Reef.
//   struct node : reef::detail::list_hook { int v; };   reef::detail::intrusive_list<node> l;
#pragma once

#include <cassert>
#include <utility>

namespace reef::detail {

template <typename T>
class intrusive_list;

/// The links a node embeds. Unlinked when next_ is null. Destroying a linked hook
/// unlinks it, so a node may die while queued without corrupting its list.
class list_hook {
public:
    list_hook() noexcept = default;
    list_hook(const list_hook&) = delete;
    list_hook& operator=(const list_hook&) = delete;
    ~list_hook() { unlink(); }

    /// True while the node is in a list.
    bool is_linked() const noexcept { return next_ != nullptr; }

    /// Removes the node from its list (no effect when unlinked). O(1).
    void unlink() noexcept {
        if (next_) {
            prev_->next_ = next_;
            next_->prev_ = prev_;
            next_ = nullptr;
            prev_ = nullptr;
        }
    }

    /// Puts this (unlinked) node where `o` is; `o` ends up unlinked. Used by moves.
    void take_place_of(list_hook& o) noexcept {
        assert(!is_linked());
        if (o.next_) {
            next_ = o.next_;
            prev_ = o.prev_;
            next_->prev_ = this;
            prev_->next_ = this;
            o.next_ = nullptr;
            o.prev_ = nullptr;
        }
    }

private:
    template <typename T>
    friend class intrusive_list;

    // Links the unlinked node `n` just before this one.
    void insert_before(list_hook& n) noexcept {
        assert(!n.is_linked());
        n.next_ = this;
        n.prev_ = prev_;
        prev_->next_ = &n;
        prev_ = &n;
    }

    list_hook* next_ = nullptr;
    list_hook* prev_ = nullptr;
};

/// A circular list of T (which derives publicly from list_hook) around a sentinel.
/// Does not own its nodes and keeps no count. Owner thread only.
template <typename T>
class intrusive_list {
public:
    intrusive_list() noexcept { reset(); }
    intrusive_list(intrusive_list&& o) noexcept {
        reset();
        steal(o);
    }
    intrusive_list& operator=(intrusive_list&& o) noexcept {
        if (this != &o) {
            clear();
            steal(o);
        }
        return *this;
    }
    /// Leaves the nodes still linked unlinked (they are not destroyed).
    ~intrusive_list() {
        clear();
        head_.next_ = nullptr;  // the sentinel's own destructor must not touch the nodes
        head_.prev_ = nullptr;
    }

    bool empty() const noexcept { return head_.next_ == &head_; }

    /// The first node. Requires !empty().
    T& front() noexcept {
        assert(!empty());
        return static_cast<T&>(*head_.next_);
    }

    /// Appends the unlinked node `n`.
    void push_back(T& n) noexcept { head_.insert_before(static_cast<list_hook&>(n)); }

    /// Unlinks and returns the first node. Requires !empty().
    T& pop_front() noexcept {
        T& n = front();
        static_cast<list_hook&>(n).unlink();
        return n;
    }

    /// True when `n` is the first node.
    bool is_front(const T& n) const noexcept { return head_.next_ == static_cast<const list_hook*>(&n); }

    /// Unlinks every node without destroying it.
    void clear() noexcept {
        while (!empty()) {
            pop_front();
        }
    }

private:
    void reset() noexcept {
        head_.next_ = &head_;
        head_.prev_ = &head_;
    }
    void steal(intrusive_list& o) noexcept {
        if (o.empty()) {
            return;
        }
        head_.next_ = o.head_.next_;
        head_.prev_ = o.head_.prev_;
        head_.next_->prev_ = &head_;
        head_.prev_->next_ = &head_;
        o.reset();
    }

    list_hook head_;
};

}  // namespace reef::detail
