// The run loop of a shard: run tasks group by group until the quota expires, poll the
// backend and the other pollers, and sleep in the backend when there is nothing to do.
#include "reactor_impl.hh"
#include "timer_service.hh"

#include <signal.h>
#include <time.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <system_error>

namespace reef::detail {

// ---- the task quota timer ---------------------------------------------------------

namespace {

// A real-time signal delivered to the shard's own thread when its task quota expires.
// The handler moves the preemption counter that need_preempt() compares, and refreshes
// the lowres clock (which then needs no tick of its own while tasks run).
//
// The timer is periodic and armed only while the shard has tasks: the loop arms it
// before running tasks, and disarms it once a tick finds the shard without tasks (in
// idle(): a tick during the iteration that found no work, or during a sleep). A shard
// that alternates between short bursts of tasks and short sleeps (a request/response
// server) thus makes no timer system call per sleep, and a shard that only polls or
// sleeps long receives no ticks.
int quota_signal() noexcept {
    return SIGRTMIN + 1;
}

void on_quota_signal(int) noexcept {
    if (auto* r = tl_reactor) {
        r->preempt.tail.fetch_add(1, std::memory_order_relaxed);
    }
    int saved = errno;
    refresh_lowres_clock();
    errno = saved;
}

void install_quota_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction sa {};
        sa.sa_handler = on_quota_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (::sigaction(quota_signal(), &sa, nullptr) != 0) {
            throw std::system_error(errno, std::system_category(), "sigaction(task quota signal)");
        }
    });
}

std::uint64_t now_ns() noexcept {
    return std::uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count());
}

}  // namespace

// ---- reactor_impl -----------------------------------------------------------------

reactor_impl::reactor_impl(unsigned shard, const reactor_config& cfg) : shard_(shard), cfg_(cfg) {
    backend_config bc;
    bc.shard = shard;
    backend_ = make_backend(cfg.backend.empty() ? default_backend_name() : cfg.backend, bc);
}

reactor_impl::~reactor_impl() {
    unbind_from_thread();
    if (has_quota_timer_) {
        ::timer_delete(static_cast<timer_t>(quota_timer_));
    }
}

void reactor_impl::bind_to_thread() {
    if (tl_reactor && tl_reactor != this) {
        throw std::logic_error("a reactor is already running on this thread");
    }
    install_quota_handler();
    if (!has_quota_timer_) {
        sigevent sev{};
        sev.sigev_notify = SIGEV_THREAD_ID;
        sev.sigev_signo = quota_signal();
        sev._sigev_un._tid = ::gettid();
        timer_t t;
        if (::timer_create(CLOCK_MONOTONIC, &sev, &t) != 0) {
            throw std::system_error(errno, std::system_category(), "timer_create(task quota)");
        }
        quota_timer_ = t;
        has_quota_timer_ = true;
    }
    tl_reactor = this;
    set_scheduler(this);
    set_preemption_monitor(&preempt);
}

void reactor_impl::unbind_from_thread() noexcept {
    if (tl_reactor == this) {
        arm_quota_timer(false);
        set_preemption_monitor(nullptr);
        set_scheduler(nullptr);
        tl_reactor = nullptr;
    }
}

void reactor_impl::arm_quota_timer(bool on) noexcept {
    if (on == quota_timer_armed_ || !has_quota_timer_) {
        return;
    }
    itimerspec its{};
    if (on) {
        auto q = std::max<std::int64_t>(cfg_.task_quota.count(), 10'000);
        its.it_value.tv_sec = q / 1'000'000'000;
        its.it_value.tv_nsec = q % 1'000'000'000;
        its.it_interval = its.it_value;
    }
    ::timer_settime(static_cast<timer_t>(quota_timer_), 0, &its, nullptr);
    quota_timer_armed_ = on;
}

void reactor_impl::mark_active(unsigned id) noexcept {
    if (!(active_groups_ & (1u << id))) {
        active_groups_ |= 1u << id;
        // A group that was idle does not bank the time it did not use.
        groups_[id].vruntime = std::max(groups_[id].vruntime, min_vruntime_);
    }
}

void reactor_impl::schedule(task* t) noexcept {
    unsigned id = t->group().id();
    groups_[id].queue.push_back(t);
    mark_active(id);
}

void reactor_impl::schedule_urgent(task* t) noexcept {
    unsigned id = t->group().id();
    groups_[id].queue.push_front(t);
    mark_active(id);
}

void reactor_impl::run_some_tasks() {
    while (active_groups_ && !need_preempt()) {
        // The active group that has used the least CPU time relative to its shares.
        unsigned best = 0;
        std::uint64_t best_v = UINT64_MAX;
        for (std::uint32_t bits = active_groups_; bits; bits &= bits - 1) {
            unsigned id = unsigned(std::countr_zero(bits));
            if (groups_[id].vruntime < best_v) {
                best_v = groups_[id].vruntime;
                best = id;
            }
        }
        group& g = groups_[best];
        tl_current_group = best;
        std::uint64_t start = now_ns();
        std::uint64_t n = 0;
        // Run this group until its queue drains or the quota expires. The queue may be
        // empty already: a loop nested in a task (run_until) finds the bit of the group
        // whose turn it interrupted still set.
        while (!g.queue.empty()) {
            task* t = g.queue.pop_front();
            t->run_and_dispose();
            ++n;
            if (need_preempt()) {
                break;
            }
        }
        std::uint64_t elapsed = now_ns() - start;
        tl_current_group = 0;
        g.runtime_ns += elapsed;
        g.tasks_run += n;
        stats_.tasks_run += n;
        tl_tasks_run += n;
        float shares = group_shares(best);
        g.vruntime += std::uint64_t(double(elapsed) * 1000.0 / double(shares > 0 ? shares : 1));
        if (g.queue.empty()) {
            active_groups_ &= ~(1u << best);
        }
        min_vruntime_ = g.vruntime;
        for (std::uint32_t bits = active_groups_; bits; bits &= bits - 1) {
            min_vruntime_ = std::min(min_vruntime_, groups_[unsigned(std::countr_zero(bits))].vruntime);
        }
    }
}

bool reactor_impl::poll_once() {
    ++stats_.polls;
    bool work = backend_->poll_completions();
    for (auto* p : pollers_) {
        work |= p->poll();
    }
    return work;
}

void reactor_impl::idle() {
    // A quota tick during an iteration that ended without work: stop the ticks until
    // tasks come back (run() arms the timer again).
    if (quota_timer_armed_ &&
        preempt.tail.load(std::memory_order_relaxed) != preempt.head.load(std::memory_order_relaxed)) {
        arm_quota_timer(false);
    }
    if (cfg_.poll_mode) {
        return;  // keep polling
    }
    if (!cfg_.overprovisioned && cfg_.idle_poll_time.count() > 0) {
        auto until = std::chrono::steady_clock::now() + cfg_.idle_poll_time;
        while (std::chrono::steady_clock::now() < until) {
            if (poll_once() || have_tasks() || stopping()) {
                return;
            }
        }
    }
    // Announce the sleep, then look once more: a producer that saw sleeping_ false
    // before this store has already made its work visible to the pollers below.
    sleeping_.store(true, std::memory_order_seq_cst);
    bool can_sleep = !stopping();
    std::size_t entered = 0;
    for (; can_sleep && entered < pollers_.size(); ++entered) {
        can_sleep = pollers_[entered]->try_enter_sleep();
    }
    if (can_sleep && !have_tasks()) {
        auto deadline = std::chrono::steady_clock::time_point::max();
        for (auto* p : pollers_) {
            deadline = std::min(deadline, p->next_deadline());
        }
        std::optional<std::chrono::nanoseconds> timeout;
        if (deadline != std::chrono::steady_clock::time_point::max()) {
            timeout = std::max(std::chrono::nanoseconds(0), deadline - std::chrono::steady_clock::now());
        }
        // The quota timer stays armed: a sleep shorter than the quota costs no system
        // call for it; a tick that interrupts a longer sleep disarms it below.
        auto ticks = preempt.tail.load(std::memory_order_relaxed);
        ++stats_.sleeps;
        backend_->sleep(timeout);
        if (quota_timer_armed_ && preempt.tail.load(std::memory_order_relaxed) != ticks) {
            arm_quota_timer(false);
        }
    }
    sleeping_.store(false, std::memory_order_relaxed);
    for (std::size_t i = 0; i < entered; ++i) {
        pollers_[i]->exit_sleep();
    }
}

void reactor_impl::run() {
    if (tl_reactor != this) {
        bind_to_thread();
    }
    while (!stopping()) {
        if (have_tasks()) {
            arm_quota_timer(true);
        }
        // Acknowledge the quota signal: the next batch of tasks gets a fresh quota.
        preempt.head.store(preempt.tail.load(std::memory_order_relaxed), std::memory_order_relaxed);
        run_some_tasks();
        if (have_tasks()) {
            ++stats_.preemptions;
        }
        bool work = poll_once();
        if (!work && !have_tasks()) {
            idle();
        }
    }
    // Run what is queued, so that the continuations of the stop request complete;
    // bounded, in case something keeps producing work, and under the task quota (the
    // stop may have come while the shard slept, with the quota timer disarmed).
    arm_quota_timer(true);
    for (int round = 0; round < 1000 && (have_tasks() || poll_once()); ++round) {
        preempt.head.store(preempt.tail.load(std::memory_order_relaxed), std::memory_order_relaxed);
        run_some_tasks();
    }
    arm_quota_timer(false);
}

void reactor_impl::run_until(bool (*done)(void*), void* arg) {
    auto saved_group = tl_current_group;
    while (!done(arg)) {
        if (have_tasks()) {
            arm_quota_timer(true);
        }
        preempt.head.store(preempt.tail.load(std::memory_order_relaxed), std::memory_order_relaxed);
        run_some_tasks();
        if (done(arg)) {
            break;
        }
        bool work = poll_once();
        if (!work && !have_tasks() && !done(arg)) {
            idle();
        }
    }
    tl_current_group = saved_group;
}

void reactor_impl::request_stop() noexcept {
    stop_.store(true, std::memory_order_relaxed);
    wake();
}

void reactor_impl::wake() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (sleeping_.load(std::memory_order_relaxed)) {
        backend_->wake();
    }
}

void reactor_impl::add_poller(poller* p) {
    pollers_.push_back(p);
}

void reactor_impl::remove_poller(poller* p) noexcept {
    pollers_.erase(std::remove(pollers_.begin(), pollers_.end(), p), pollers_.end());
}

reactor_impl& this_reactor() {
    if (!tl_reactor) {
        throw std::logic_error("no reactor runs on this thread");
    }
    return *tl_reactor;
}

}  // namespace reef::detail
