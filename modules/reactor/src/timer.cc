// The timers of a shard: deadline heaps per clock, the tasks that run expired timers'
// callbacks, the lowres clock's refresh, and sleep(). The lowres clock is refreshed at
// every poll, and while tasks run by the task-quota signal (reactor.cc); only a shard
// whose quota is longer than the lowres resolution (1 ms) keeps a tick signal of its
// own while awake.
#include "timer_service.hh"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <stdexcept>
#include <system_error>

#include <reef/core/scheduler.hh>
#include <reef/reactor/sleep.hh>

#include "shard_services.hh"

namespace reef::detail {

namespace {

// The lowres clock's tick: a real-time signal delivered to the shard's own thread.
// (The reactor's task quota uses SIGRTMIN + 1.)
int lowres_tick_signal() noexcept {
    return SIGRTMIN + 3;
}
constexpr long lowres_tick_ns = 1'000'000;

void on_lowres_tick(int) noexcept {
    int saved = errno;
    refresh_lowres_clock();
    errno = saved;
}

void install_lowres_tick_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction sa {};
        sa.sa_handler = on_lowres_tick;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (::sigaction(lowres_tick_signal(), &sa, nullptr) != 0) {
            throw std::system_error(errno, std::system_category(), "sigaction(lowres clock tick)");
        }
    });
}

std::int64_t steady_now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Moves this thread's lowres reading to `now` unless it is already later (the tick
// handler may interrupt a refresh: neither ever moves it back).
void store_lowres(std::int64_t now) noexcept {
    std::int64_t cur = tl_lowres_now.load(std::memory_order_relaxed);
    while (cur < now && !tl_lowres_now.compare_exchange_weak(cur, now, std::memory_order_relaxed)) {
    }
}

}  // namespace

void refresh_lowres_clock() noexcept {
    store_lowres(steady_now_ns());
}

// ---- timer_heap -----------------------------------------------------------------

void timer_heap::push(timer_base& t) {
    heap_.push_back(&t);
    sift_up(heap_.size() - 1);
}

void timer_heap::sift_up(std::size_t i) noexcept {
    timer_base* t = heap_[i];
    while (i > 0) {
        std::size_t parent = (i - 1) / 2;
        if (!earlier(t, heap_[parent])) {
            break;
        }
        place(heap_[parent], i);
        i = parent;
    }
    place(t, i);
}

void timer_heap::sift_down(std::size_t i) noexcept {
    timer_base* t = heap_[i];
    const std::size_t n = heap_.size();
    for (;;) {
        std::size_t child = 2 * i + 1;
        if (child >= n) {
            break;
        }
        if (child + 1 < n && earlier(heap_[child + 1], heap_[child])) {
            ++child;
        }
        if (!earlier(heap_[child], t)) {
            break;
        }
        place(heap_[child], i);
        i = child;
    }
    place(t, i);
}

void timer_heap::erase(timer_base& t) noexcept {
    std::size_t i = t.index_;
    timer_base* last = heap_.back();
    heap_.pop_back();
    t.index_ = timer_base::not_queued;
    if (last != &t) {
        place(last, i);
        sift_up(i);
        sift_down(last->index_);
    }
}

timer_base& timer_heap::pop() noexcept {
    timer_base& t = *heap_.front();
    erase(t);
    return t;
}

void timer_heap::replace(timer_base& from, timer_base& to) noexcept {
    place(&to, from.index_);
    from.index_ = timer_base::not_queued;
}

void timer_heap::clear() noexcept {
    for (timer_base* t : heap_) {
        t->index_ = timer_base::not_queued;
    }
    heap_.clear();
}

// ---- timer_dispatch ---------------------------------------------------------------

void timer_dispatch::run_and_dispose() noexcept {
    queued = false;
    while (!expired.empty()) {
        timer_base& t = expired.pop_front();
        t.fire_(t);  // may destroy t, cancel others (they leave `expired`), rearm
        if (!expired.empty() && need_preempt()) {
            queued = true;
            schedule(this);
            return;
        }
    }
}

// ---- timer_service ----------------------------------------------------------------

timer_service::timer_service(reactor_impl& r) : r_(r) {
    for (unsigned i = 0; i < max_scheduling_groups; ++i) {
        dispatch_[i].set_group(scheduling_group(i));
    }
    for (auto& h : heaps_) {
        h.reserve(64);
    }
    refresh_lowres_clock();
    if (r.config().task_quota.count() <= lowres_tick_ns) {
        return;  // the quota signal refreshes the clock often enough
    }
    install_lowres_tick_handler();
    sigevent sev{};
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = lowres_tick_signal();
    sev._sigev_un._tid = ::gettid();
    if (::timer_create(CLOCK_MONOTONIC, &sev, &tick_) != 0) {
        throw std::system_error(errno, std::system_category(), "timer_create(lowres clock tick)");
    }
    has_tick_ = true;
    set_tick(true);
}

timer_service::~timer_service() {
    if (has_tick_) {
        set_tick(false);
        ::timer_delete(tick_);
    }
    // Timers still armed are forgotten: they stay valid objects that are simply never
    // fired, and cancelling or destroying them later touches nothing of this service.
    for (auto& h : heaps_) {
        h.clear();
    }
    for (auto& d : dispatch_) {
        d.expired.clear();
    }
}

void timer_service::set_tick(bool on) noexcept {
    if (on == tick_on_ || !has_tick_) {
        return;
    }
    itimerspec its{};
    if (on) {
        its.it_value.tv_nsec = lowres_tick_ns;
        its.it_interval.tv_nsec = lowres_tick_ns;
    }
    ::timer_settime(tick_, 0, &its, nullptr);
    tick_on_ = on;
}

void timer_service::arm(timer_base& t, std::int64_t deadline, std::int64_t period) {
    t.deadline_ = deadline;
    t.period_ = period > 0 ? period : 0;
    t.seq_ = seq_++;
    t.group_ = static_cast<std::uint16_t>(tl_current_group);
    heaps_[unsigned(t.clock_)].push(t);
}

void timer_service::cancel(timer_base& t) noexcept {
    if (t.index_ != timer_base::not_queued) {
        heaps_[unsigned(t.clock_)].erase(t);
    }
    t.unlink();
}

void timer_service::move(timer_base& to, timer_base& from) noexcept {
    to.deadline_ = from.deadline_;
    to.period_ = from.period_;
    to.seq_ = from.seq_;
    to.group_ = from.group_;
    if (from.index_ != timer_base::not_queued) {
        heaps_[unsigned(from.clock_)].replace(from, to);
    }
    to.take_place_of(from);  // the expired list, if it is there
}

bool timer_service::expire(timer_heap& h, std::int64_t now) noexcept {
    bool any = false;
    while (!h.empty() && h.top()->deadline_ <= now) {
        timer_base& t = h.pop();
        any = true;
        if (t.period_) {
            // The next tick after now: ticks missed while the shard was busy are skipped.
            t.deadline_ += t.period_;
            if (t.deadline_ <= now) {
                t.deadline_ = now + t.period_;
            }
            t.seq_ = seq_++;
            h.push(t);  // cannot allocate: pop() just made room
        }
        if (!t.is_linked()) {  // a periodic timer whose last callback has not run yet
            timer_dispatch& d = dispatch_[t.group_];
            d.expired.push_back(t);
            if (!d.queued) {
                d.queued = true;
                schedule(&d);
            }
        }
    }
    return any;
}

bool timer_service::expire_manual() noexcept {
    auto& h = heaps_[unsigned(timer_clock::manual)];
    if (h.empty()) {
        return false;
    }
    return expire(h, manual_now.load(std::memory_order_acquire));
}

bool end_sleeps_for_stop() noexcept;

bool timer_service::poll() {
    if (r_.stopping() && end_sleeps_for_stop()) [[unlikely]] {
        return true;  // the waiters of the ended sleeps are queued
    }
    std::int64_t now = steady_now_ns();
    store_lowres(now);
    bool work = expire(heaps_[unsigned(timer_clock::steady)], now);
    auto& lowres = heaps_[unsigned(timer_clock::lowres)];
    if (!lowres.empty()) {
        work |= expire(lowres, tl_lowres_now.load(std::memory_order_relaxed));
    }
    work |= expire_manual();
    return work;
}

bool timer_service::try_enter_sleep() {
    set_tick(false);  // a sleeping shard needs no tick; poll() refreshes on waking
    return true;
}

void timer_service::exit_sleep() {
    refresh_lowres_clock();
    set_tick(true);
}

std::chrono::steady_clock::time_point timer_service::next_deadline() const {
    std::int64_t next = INT64_MAX;
    for (auto c : {timer_clock::steady, timer_clock::lowres}) {
        const auto& h = heaps_[unsigned(c)];
        if (!h.empty()) {
            next = std::min(next, h.top()->deadline_);
        }
    }
    if (next == INT64_MAX) {
        return std::chrono::steady_clock::time_point::max();
    }
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(next));
}

// ---- the functions timer<Clock> calls ------------------------------------------------

void timer_arm(timer_base& t, std::int64_t deadline, std::int64_t period) {
    if (t.queued()) {
        throw std::logic_error("timer::arm: the timer is already armed (use rearm)");
    }
    timer_service* s = tl_timers;
    if (!s) {
        throw std::logic_error("timer::arm: timers need a running reactor on this thread");
    }
    s->arm(t, deadline, period);
}

void timer_cancel(timer_base& t) noexcept {
    if (timer_service* s = tl_timers) {
        s->cancel(t);
    }
}

void timer_move(timer_base& to, timer_base& from) noexcept {
    if (timer_service* s = tl_timers) {
        s->move(to, from);
    }
}

// ---- sleep ----------------------------------------------------------------------------

namespace {

std::int64_t clock_now_ns(timer_clock c) noexcept {
    switch (c) {
        case timer_clock::lowres:
            return lowres_clock::now().time_since_epoch().count();
        case timer_clock::manual:
            return manual_now.load(std::memory_order_acquire);
        case timer_clock::steady:
            break;
    }
    return steady_now_ns();
}

std::int64_t deadline_after(timer_clock c, std::int64_t ns) noexcept {
    std::int64_t now = clock_now_ns(c);
    return ns > INT64_MAX - now ? INT64_MAX : now + ns;
}

struct sleeper;
// The sleeps in progress on this shard, so that a stopping shard can end them instead
// of leaking them with whatever waits on them (owner thread only).
constinit thread_local sleeper* tl_sleepers = nullptr;

// One sleep in progress: owned by its timer until it fires or is aborted.
struct sleeper final : timer_base {
    explicit sleeper(timer_clock c) noexcept : timer_base(c, &fire) {
        next = tl_sleepers;
        if (next) {
            next->prev = this;
        }
        tl_sleepers = this;
    }
    ~sleeper() {
        if (prev) {
            prev->next = next;
        } else {
            tl_sleepers = next;
        }
        if (next) {
            next->prev = prev;
        }
    }
    static void fire(timer_base& b) noexcept {
        auto* s = static_cast<sleeper*>(&b);
        s->pr.set_value();
        delete s;
    }
    promise<> pr;
    abort_source::subscription sub;
    sleeper* prev = nullptr;
    sleeper* next = nullptr;
};

// Fails every sleep in progress with sleep_aborted: called while the shard stops, so
// that the coroutines waiting on them unwind and free their frames.
bool end_all_sleeps() noexcept {
    bool any = false;
    while (auto* s = tl_sleepers) {
        timer_cancel(*s);
        s->pr.set_exception(std::make_exception_ptr(sleep_aborted()));
        delete s;
        any = true;
    }
    return any;
}

// The failure of an aborted sleep: sleep_aborted for a plain request_abort(), the
// abort_source's own exception otherwise.
std::exception_ptr sleep_abort_reason(const std::exception_ptr& reason) noexcept {
    try {
        std::rethrow_exception(reason);
    } catch (const abort_requested_exception&) {
        return std::make_exception_ptr(sleep_aborted());
    } catch (...) {
        return reason;
    }
}

}  // namespace

bool end_sleeps_for_stop() noexcept {
    return end_all_sleeps();
}

future<> sleep_ns(timer_clock c, std::int64_t ns) {
    auto* s = new sleeper(c);
    try {
        timer_arm(*s, deadline_after(c, ns), 0);
    } catch (...) {
        delete s;
        return make_exception_future<>(std::current_exception());
    }
    return s->pr.get_future();  // the timer cannot fire before this returns
}

future<> sleep_abortable_ns(timer_clock c, std::int64_t ns, abort_source& as) {
    if (as.abort_requested()) {
        return make_exception_future<>(sleep_abort_reason(as.abort_requested_exception_ptr()));
    }
    auto* s = new sleeper(c);
    try {
        timer_arm(*s, deadline_after(c, ns), 0);
    } catch (...) {
        delete s;
        return make_exception_future<>(std::current_exception());
    }
    auto f = s->pr.get_future();
    s->sub = as.subscribe([s](const std::exception_ptr& reason) noexcept {
        timer_cancel(*s);
        s->pr.set_exception(sleep_abort_reason(reason));
        delete s;  // also ends this subscription: touch nothing after
    });
    return f;
}

// ---- start and stop -------------------------------------------------------------------

void timers_start(reactor_impl& r) {
    auto* s = new timer_service(r);
    r.timers = s;
    tl_timers = s;
    r.add_poller(s);
    set_timeout_hook(&reactor_timeout_hook());
}

void timers_stop(reactor_impl& r) noexcept {
    timer_service* s = r.timers;
    if (!s) {
        return;
    }
    set_timeout_hook(nullptr);
    r.remove_poller(s);
    if (tl_timers == s) {
        tl_timers = nullptr;
    }
    r.timers = nullptr;
    delete s;
    tl_lowres_now.store(0, std::memory_order_relaxed);  // now() reads steady_clock again
}

}  // namespace reef::detail
