// A growable ring of task pointers, pushed at either end and popped at the front: the
// run queue of the standalone scheduler and of each scheduling group in the reactor.
// Internal to Reef.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>

#include <reef/core/task.hh>

namespace reef::detail {

class task_queue {
public:
    task_queue() noexcept = default;
    task_queue(const task_queue&) = delete;
    task_queue& operator=(const task_queue&) = delete;
    ~task_queue() { std::free(slots_); }

    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }

    void push_back(task* t) noexcept {
        if (size_ > mask_ || !slots_) [[unlikely]] {
            grow();
        }
        slots_[(head_ + size_) & mask_] = t;
        ++size_;
    }
    void push_front(task* t) noexcept {
        if (size_ > mask_ || !slots_) [[unlikely]] {
            grow();
        }
        head_ = (head_ - 1) & mask_;
        slots_[head_] = t;
        ++size_;
    }
    /// Requires !empty().
    task* pop_front() noexcept {
        task* t = slots_[head_];
        head_ = (head_ + 1) & mask_;
        --size_;
        return t;
    }

private:
    // Doubles the ring. Out of memory here cannot be reported to anyone (scheduling is
    // noexcept, and dropping a task would hang its waiters forever): abort loudly.
    [[gnu::noinline]] void grow() noexcept {
        std::size_t cap = slots_ ? (mask_ + 1) * 2 : 128;
        auto* n = static_cast<task**>(std::malloc(cap * sizeof(task*)));
        if (!n) {
            std::fputs("reef: out of memory growing a task queue\n", stderr);
            std::abort();
        }
        for (std::size_t i = 0; i < size_; ++i) {
            n[i] = slots_[(head_ + i) & mask_];
        }
        std::free(slots_);
        slots_ = n;
        head_ = 0;
        mask_ = cap - 1;
    }

    task** slots_ = nullptr;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
    std::size_t mask_ = 0;
};

}  // namespace reef::detail
