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
// Each tick costs a timer interrupt and a signal frame, which on a virtual machine is
// tens of microseconds of the shard's time (measured: 1-connection echo round trips had
// a p99 of 27 us with ticks every quota, 9.7 us without any). So the timer ticks only as
// often as the work needs:
// - off while the shard has no tasks: the loop starts it before running tasks, and
//   stops it once a tick finds the shard without tasks (in idle(): a tick during an
//   iteration that found no work, or during a sleep);
// - relaxed, every 8 quotas, while batches of tasks end well within the quota by
//   themselves (a request/response server): a batch that runs on is cut by the clock
//   check in run_some_tasks(), every 128 tasks, or by the next tick if one task runs on;
// - strict, every quota, once a tick lands inside a batch, or a batch ran past the
//   quota: CPU-bound work (a loop calling maybe_yield()) is then preempted on time.
//   A tick that finds the shard between batches goes back to relaxed.
// So a long task that starts after a quiet spell may run up to 8 quotas (4 ms by
// default) before its first preemption; from then on, every quota.
int quota_signal() noexcept {
    return SIGRTMIN + 1;
}

void on_quota_signal(int) noexcept {
    if (auto* r = tl_reactor) {
        r->on_quota_tick();
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
        stop_quota_timer();
        set_preemption_monitor(nullptr);
        set_scheduler(nullptr);
        tl_reactor = nullptr;
    }
}

void reactor_impl::set_quota_mode(quota_mode m) noexcept {
    if (m == quota_mode_ || !has_quota_timer_) {
        return;
    }
    itimerspec its{};
    if (m != quota_mode::off) {
        auto q = std::max<std::int64_t>(cfg_.task_quota.count(), 10'000);
        if (m == quota_mode::relaxed) {
            q *= 8;
        }
        its.it_value.tv_sec = q / 1'000'000'000;
        its.it_value.tv_nsec = q % 1'000'000'000;
        its.it_interval = its.it_value;
    }
    ::timer_settime(static_cast<timer_t>(quota_timer_), 0, &its, nullptr);
    quota_mode_ = m;
    tick_in_batch_.store(false, std::memory_order_relaxed);
    tick_outside_batch_.store(false, std::memory_order_relaxed);
}

// Before running tasks: starts the timer, and applies what the ticks since the last
// call saw (see the top of this file).
void reactor_impl::start_quota_timer() noexcept {
    if (tick_in_batch_.exchange(false, std::memory_order_relaxed)) {
        strict_wanted_ = true;
    } else if (tick_outside_batch_.exchange(false, std::memory_order_relaxed)) {
        strict_wanted_ = false;
    }
    set_quota_mode(strict_wanted_ ? quota_mode::strict : quota_mode::relaxed);
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
    if (!active_groups_) {
        return;
    }
    in_batch_.store(true, std::memory_order_relaxed);
    const auto quota = std::uint64_t(cfg_.task_quota.count());
    const std::uint64_t batch_start = now_ns();
    std::uint64_t now = batch_start;
    bool over = false;  // the batch ran past the quota (clock check)
    while (active_groups_ && !need_preempt() && !over) {
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
        std::uint64_t start = now;
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
            // The timer may tick only every 8 quotas: many short tasks end the batch
            // on time by the clock (read every 128 tasks: ~0.2 ns a task).
            if ((n & 127) == 0 && now_ns() - batch_start >= quota) {
                over = true;
                break;
            }
        }
        now = now_ns();
        std::uint64_t elapsed = now - start;
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
    in_batch_.store(false, std::memory_order_relaxed);
    if (over || now - batch_start >= quota) {
        strict_wanted_ = true;  // applied by the next start_quota_timer()
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
    if (quota_mode_ != quota_mode::off &&
        preempt.tail.load(std::memory_order_relaxed) != preempt.head.load(std::memory_order_relaxed)) {
        stop_quota_timer();
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
        if (quota_mode_ != quota_mode::off && preempt.tail.load(std::memory_order_relaxed) != ticks) {
            stop_quota_timer();
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
            start_quota_timer();
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
    set_quota_mode(quota_mode::strict);
    for (int round = 0; round < 1000 && (have_tasks() || poll_once()); ++round) {
        preempt.head.store(preempt.tail.load(std::memory_order_relaxed), std::memory_order_relaxed);
        run_some_tasks();
    }
    stop_quota_timer();
}

void reactor_impl::run_until(bool (*done)(void*), void* arg) {
    auto saved_group = tl_current_group;
    while (!done(arg)) {
        if (have_tasks()) {
            start_quota_timer();
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
