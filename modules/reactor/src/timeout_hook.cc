// core-future's timeout hook on top of the reactor's steady-clock timers, so that
// semaphore, condition_variable and queue waits can time out on a shard.
#include <new>

#include "timer_service.hh"

namespace reef::detail {

namespace {

// The timer of one timeout_entry, built inside the entry's hook storage.
struct hook_timer final : timer_base {
    explicit hook_timer(timeout_entry& e) noexcept : timer_base(timer_clock::steady, &fire), entry(&e) {}
    static void fire(timer_base& b) noexcept {
        auto& self = static_cast<hook_timer&>(b);
        timeout_entry* e = self.entry;
        self.~hook_timer();  // out of the heap and the expired list already
        e->expire();         // may destroy the entry, storage included
    }
    timeout_entry* entry;
};

static_assert(sizeof(hook_timer) <= timeout_entry::hook_storage_size,
              "timeout_entry::hook_storage_size is too small for the reactor's timer node");
static_assert(alignof(hook_timer) <= alignof(std::max_align_t));

hook_timer* node_of(timeout_entry& e) noexcept {
    return std::launder(static_cast<hook_timer*>(e.hook_storage()));
}

class timeout_hook_impl final : public timeout_hook {
public:
    void arm(timeout_entry& e, timeout_clock::time_point deadline) noexcept override {
        auto* t = new (e.hook_storage()) hook_timer(e);
        if (timer_service* s = tl_timers) [[likely]] {
            // A vector growth failing here would leave the wait without a deadline: no
            // way to report it from a noexcept arm(), so it terminates.
            s->arm(*t,
                   std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count(),
                   0);
        }
    }
    void cancel(timeout_entry& e) noexcept override {
        hook_timer* t = node_of(e);
        if (t->queued()) {
            if (timer_service* s = tl_timers) {
                s->cancel(*t);
            }
        }
        t->~hook_timer();
    }
};

// Stateless and never destroyed: entries may be cancelled after their shard stopped.
constinit timeout_hook_impl the_hook;

}  // namespace

timeout_hook& reactor_timeout_hook() noexcept {
    return the_hook;
}

}  // namespace reef::detail
