// Calls from threads that are not shards. Each shard has an alien_queue, registered
// here while the shard runs; a producer finds the queue under the registry's mutex,
// appends under the queue's own mutex and wakes the shard. The shard's poller swaps the
// batch out and schedules each call as a task.
#include "alien_queue.hh"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <utility>

#include "shard_services.hh"
#include "smp_impl.hh"

namespace reef::detail {

namespace {

using alien::detail::work;

// The queues of the running shards (index = shard id). A producer holds a queue through
// a shared_ptr while it pushes, so a shard may stop (and drop its entry) meanwhile.
struct alien_registry {
    std::mutex mutex;
    std::vector<std::shared_ptr<alien_queue>> queues;
    unsigned live = 0;  // registered queues
};

alien_registry& registry() {
    static alien_registry r;
    return r;
}

}  // namespace

alien_queue::~alien_queue() = default;

void alien_queue::push(std::unique_ptr<work>& w) {
    std::lock_guard lock(mutex_);
    if (closed_) {
        throw alien::shard_not_running("reef::alien: the target shard has stopped");
    }
    incoming_.push_back(w.get());
    (void)w.release();
    // seq_cst, paired with the reactor's: either the shard sees pending_ in
    // try_enter_sleep() or wake() sees it sleeping (wake() fences before it looks).
    pending_.store(true, std::memory_order_seq_cst);
    // Under the lock: close() has not run, so the reactor is still alive.
    reactor_.wake();
}

bool alien_queue::poll() {
    if (!pending_.load(std::memory_order_acquire)) {
        return false;
    }
    {
        std::lock_guard lock(mutex_);
        taken_.swap(incoming_);
        pending_.store(false, std::memory_order_relaxed);
    }
    for (work* w : taken_) {
        link(w);
        schedule(w);
    }
    taken_.clear();
    return true;
}

bool alien_queue::try_enter_sleep() {
    return !pending_.load(std::memory_order_seq_cst);
}

void alien_queue::link(work* w) noexcept {
    w->prev_ = nullptr;
    w->next_ = started_;
    if (started_) {
        started_->prev_ = w;
    }
    started_ = w;
}

void alien_queue::finished(work* w) noexcept {
    if (w->prev_) {
        w->prev_->next_ = w->next_;
    } else if (started_ == w) {
        started_ = w->next_;
    }
    if (w->next_) {
        w->next_->prev_ = w->prev_;
    }
    delete w;
}

void alien_queue::close() noexcept {
    std::vector<work*> queued;
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
        queued.swap(incoming_);
        pending_.store(false, std::memory_order_relaxed);
    }
    auto never_ran = std::make_exception_ptr(alien::shard_not_running("reef::alien: the shard stopped before the call ran"));
    for (work* w : queued) {
        w->fail(never_ran);
        delete w;
    }
    // Scheduled or waiting when the loop ended: the task or continuation that would
    // finish them never runs now. Their callers get a failure instead of a hang. A call
    // that never ran is only referenced by the dead task queue and is freed; one that is
    // waiting is still referenced by the continuation it waits with, and stays.
    auto unfinished =
        std::make_exception_ptr(alien::shard_not_running("reef::alien: the shard stopped before the call finished"));
    for (work* w = std::exchange(started_, nullptr); w;) {
        work* next = w->next_;
        if (w->started_) {
            w->fail(unfinished);
        } else {
            w->fail(never_ran);
            delete w;
        }
        w = next;
    }
}

void alien_start(reactor_impl& r) {
    auto q = std::make_shared<alien_queue>(r);
    r.add_poller(q.get());
    try {
        auto& reg = registry();
        std::lock_guard lock(reg.mutex);
        std::size_t n = std::max<std::size_t>(all_reactors().size(), r.shard() + 1);
        if (reg.queues.size() < n) {
            reg.queues.resize(n);
        }
        reg.queues[r.shard()] = q;
        ++reg.live;
    } catch (...) {
        r.remove_poller(q.get());
        throw;
    }
    r.alien = q.get();
}

void alien_stop(reactor_impl& r) noexcept {
    if (!r.alien) {
        return;
    }
    std::shared_ptr<alien_queue> q;
    {
        auto& reg = registry();
        std::lock_guard lock(reg.mutex);
        q = std::move(reg.queues[r.shard()]);
        if (--reg.live == 0) {
            reg.queues.clear();
        }
    }
    r.remove_poller(q.get());
    q->close();
    r.alien = nullptr;
    // A producer may still hold q (it will find it closed); the last holder frees it.
}

}  // namespace reef::detail

namespace reef::alien::detail {

void submit(unsigned shard, std::unique_ptr<work>& w) {
    if (reef::detail::tl_reactor) {
        throw std::logic_error("reef::alien::submit_to/run_on called from a shard thread: use smp::submit_to");
    }
    std::shared_ptr<reef::detail::alien_queue> q;
    {
        auto& reg = reef::detail::registry();
        std::lock_guard lock(reg.mutex);
        if (reg.live == 0) {
            throw shard_not_running("reef::alien: the shards are not running");
        }
        if (shard >= reg.queues.size()) {
            throw std::out_of_range("reef::alien: no such shard");
        }
        q = reg.queues[shard];
    }
    if (!q) {
        throw shard_not_running("reef::alien: the target shard is not running");
    }
    q->push(w);
}

void finished(work* w) noexcept {
    auto* r = reef::detail::tl_reactor;
    if (r && r->alien) {
        r->alien->finished(w);
    } else {
        delete w;
    }
}

}  // namespace reef::alien::detail
