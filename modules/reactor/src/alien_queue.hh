// The queue through which threads that are not shards hand calls to one shard
// (reef/reactor/alien.hh). Private to the reactor module.
#pragma once

#include <atomic>
#include <mutex>
#include <vector>

#include <reef/reactor/alien.hh>

#include "reactor_impl.hh"

namespace reef::detail {

/// One shard's incoming alien calls: a mutex-protected vector that producers append to
/// and the shard's poller swaps out. Not a hot path: one lock per call and per batch.
class alien_queue final : public poller {
public:
    explicit alien_queue(reactor_impl& r) noexcept : reactor_(r) {}
    alien_queue(const alien_queue&) = delete;
    ~alien_queue() override;

    /// Any thread: queues `w` (taking it from the caller) and wakes the shard. Throws
    /// alien::shard_not_running, leaving `w` with the caller, once close() was called.
    void push(std::unique_ptr<alien::detail::work>& w);

    /// Shard thread: schedules the queued calls as tasks.
    bool poll() override;
    /// Shard thread: false while calls are queued (the shard must not sleep).
    bool try_enter_sleep() override;

    /// Shard thread: a started call finished; unlinks and frees it.
    void finished(alien::detail::work* w) noexcept;

    /// Shard thread, after its loop ended for good (no task of this shard runs again):
    /// refuses new calls; fails and frees the queued ones and the scheduled ones that
    /// never ran; fails the ones that started and still wait (they stay allocated: the
    /// continuation they wait with still points at them).
    void close() noexcept;

private:
    void link(alien::detail::work* w) noexcept;

    reactor_impl& reactor_;
    std::mutex mutex_;
    std::vector<alien::detail::work*> incoming_;  // guarded by mutex_
    bool closed_ = false;                         // guarded by mutex_
    // Set (under mutex_) when incoming_ becomes non-empty, cleared by the poller: lets
    // poll() and try_enter_sleep() look without locking.
    std::atomic<bool> pending_{false};
    std::vector<alien::detail::work*> taken_;    // shard only: the swapped-out batch
    alien::detail::work* started_ = nullptr;     // shard only: calls running, a list
};

}  // namespace reef::detail
