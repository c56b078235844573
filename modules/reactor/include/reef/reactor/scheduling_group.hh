// Scheduling groups: classes of work that share a shard's CPU by their shares. Tasks
// inherit the group they were created in; the reactor picks, each time, the group that
// has used the least CPU time relative to its shares.
//   auto bg = co_await reef::create_scheduling_group("compaction", 100);
//   co_await reef::with_scheduling_group(bg, [] { return compact(); });
#pragma once

#include <coroutine>
#include <string>
#include <string_view>

#include <reef/core/future.hh>
#include <reef/core/task.hh>

namespace reef {

/// Creates a group with `shares` (1..1000; the main group has 1000) on every shard.
/// Fails with std::runtime_error when all max_scheduling_groups are in use and with
/// std::invalid_argument for shares outside 1..1000. Ready at once.
future<scheduling_group> create_scheduling_group(std::string_view name, float shares);

/// Releases a group created by create_scheduling_group(); its id may be reused. The
/// group must have no tasks left on any shard.
future<> destroy_scheduling_group(scheduling_group sg);

/// Changes the shares of a group (every shard sees the change at its next decision).
void set_scheduling_group_shares(scheduling_group sg, float shares);

/// The name and shares of a group.
std::string scheduling_group_name(scheduling_group sg);
float scheduling_group_shares(scheduling_group sg) noexcept;

/// The default group, where everything runs unless told otherwise.
inline scheduling_group default_scheduling_group() noexcept {
    return scheduling_group();
}

namespace detail {
template <typename Func>
class group_task final : public task {
public:
    group_task(scheduling_group sg, Func&& f) : task(sg), f_(std::move(f)) {}
    void run_and_dispose() noexcept override {
        futurize_invoke(f_).forward_to(std::move(pr_));
        delete this;
    }
    static void* operator new(std::size_t n) { return task_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { task_free(p, n); }
    using result = futurize_result_t<Func&>;
    promise<typename result::value_type> pr_;

private:
    Func f_;
};
}  // namespace detail

/// Runs `f` in group `sg` (and everything it schedules, unless it switches again) and
/// returns its result. Runs `f` at once when already in `sg`; otherwise queues one task.
template <typename Func>
auto with_scheduling_group(scheduling_group sg, Func&& f) -> futurize_result_t<Func&> {
    if (sg == current_scheduling_group()) {
        return futurize_invoke(f);
    }
    auto* t = new detail::group_task<std::decay_t<Func>>(sg, std::forward<Func>(f));
    auto fut = t->pr_.get_future();
    schedule(t);
    return fut;
}

namespace coroutine {
/// co_await switch_to(sg): moves the calling coroutine to group `sg` (it continues
/// there after one trip through the queue; at once if already there).
class [[nodiscard]] switch_to {
public:
    explicit switch_to(scheduling_group sg) noexcept : sg_(sg) {}
    bool await_ready() const noexcept { return current_scheduling_group() == sg_; }
    template <typename P>
    void await_suspend(std::coroutine_handle<P> h) noexcept {
        static_assert(std::is_base_of_v<task, P>, "switch_to needs a coroutine returning reef::future");
        h.promise().set_group(sg_);
        schedule(&h.promise());
    }
    void await_resume() const noexcept {}

private:
    scheduling_group sg_;
};
}  // namespace coroutine

}  // namespace reef
