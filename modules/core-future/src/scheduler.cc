// The standalone run queue: where tasks go on a thread without a scheduler hook.
#include <reef/core/scheduler.hh>

#include <cstdlib>
#include <memory>
#include <new>

namespace reef {

namespace {

// A growable ring of task pointers; push at either end, pop at the front.
class task_ring {
public:
    ~task_ring() { std::free(slots_); }
    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }
    void push_back(task* t) noexcept {
        reserve_one();
        slots_[(head_ + size_) & mask_] = t;
        ++size_;
    }
    void push_front(task* t) noexcept {
        reserve_one();
        head_ = (head_ - 1) & mask_;
        slots_[head_] = t;
        ++size_;
    }
    task* pop_front() noexcept {
        task* t = slots_[head_];
        head_ = (head_ + 1) & mask_;
        --size_;
        return t;
    }

private:
    void reserve_one() noexcept {
        if (size_ <= mask_ && slots_) [[likely]] {
            return;
        }
        std::size_t cap = slots_ ? (mask_ + 1) * 2 : 256;
        auto* n = static_cast<task**>(std::malloc(cap * sizeof(task*)));
        if (!n) {
            // Losing a task would hang its waiters forever; there is no way to report it.
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

task_ring& standalone_queue() noexcept {
    static thread_local task_ring q;
    return q;
}

}  // namespace

namespace detail {

void schedule_standalone(task* t) noexcept {
    standalone_queue().push_back(t);
}

void schedule_standalone_urgent(task* t) noexcept {
    standalone_queue().push_front(t);
}

}  // namespace detail

scheduler_hook* set_scheduler(scheduler_hook* hook) noexcept {
    auto* prev = detail::tl_scheduler;
    detail::tl_scheduler = hook;
    return prev;
}

const detail::preemption_monitor* set_preemption_monitor(const detail::preemption_monitor* m) noexcept {
    auto* prev = detail::tl_preempt;
    detail::tl_preempt = m ? m : &detail::never_preempt_monitor;
    return prev;
}

std::size_t run_pending_tasks() {
    auto& q = standalone_queue();
    std::size_t n = 0;
    while (!q.empty()) {
        task* t = q.pop_front();
        auto saved = detail::tl_current_group;
        detail::tl_current_group = t->group().id();
        t->run_and_dispose();
        detail::tl_current_group = saved;
        ++n;
        ++detail::tl_tasks_run;
    }
    return n;
}

std::size_t pending_tasks() noexcept {
    return standalone_queue().size();
}

}  // namespace reef
