// The standalone run queue: where tasks go on a thread without a scheduler hook.
#include <reef/core/scheduler.hh>

#include <reef/core/detail/task_queue.hh>

namespace reef {

namespace {

detail::task_queue& standalone_queue() noexcept {
    static thread_local detail::task_queue q;
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
