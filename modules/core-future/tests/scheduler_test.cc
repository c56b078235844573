#include <reef/core/scheduler.hh>

#include <catch2/catch.hpp>

#include <vector>

#include <reef/core/future.hh>

using namespace reef;

namespace {

struct recording_task final : task {
    std::vector<int>& log;
    int id;
    recording_task(std::vector<int>& l, int i) : log(l), id(i) {}
    void run_and_dispose() noexcept override {
        log.push_back(id);
        delete this;
    }
};

struct capturing_hook final : scheduler_hook {
    std::vector<task*> normal;
    std::vector<task*> urgent;
    void schedule(task* t) noexcept override { normal.push_back(t); }
    void schedule_urgent(task* t) noexcept override { urgent.push_back(t); }
};

}  // namespace

TEST_CASE("the standalone queue runs tasks in order, urgent ones first") {
    std::vector<int> log;
    schedule(new recording_task(log, 1));
    schedule(new recording_task(log, 2));
    schedule_urgent(new recording_task(log, 0));
    REQUIRE(pending_tasks() == 3);
    auto before = tasks_run();
    REQUIRE(run_pending_tasks() == 3);
    REQUIRE(tasks_run() - before == 3);
    REQUIRE(log == std::vector<int>{0, 1, 2});
    REQUIRE(pending_tasks() == 0);
}

TEST_CASE("the queue grows past its initial capacity without losing tasks") {
    std::vector<int> log;
    for (int i = 0; i < 10000; ++i) {
        schedule(new recording_task(log, i));
    }
    for (int i = -1; i > -100; --i) {
        schedule_urgent(new recording_task(log, i));
    }
    run_pending_tasks();
    REQUIRE(log.size() == 10099);
    REQUIRE(log.front() == -99);
    REQUIRE(log[99] == 0);
    REQUIRE(log.back() == 9999);
}

TEST_CASE("an installed scheduler hook receives every runnable task") {
    capturing_hook hook;
    auto* prev = set_scheduler(&hook);
    promise<int> p;
    auto f = p.get_future().then([](int v) { return v + 1; });
    p.set_value(1);
    REQUIRE(hook.normal.size() == 1);
    REQUIRE(pending_tasks() == 0);
    set_scheduler(prev);
    hook.normal[0]->run_and_dispose();
    REQUIRE(f.get() == 2);
}

TEST_CASE("tasks remember the scheduling group they were created in") {
    std::vector<int> log;
    auto* t = new recording_task(log, 1);
    REQUIRE(t->group() == scheduling_group());
    t->set_group(scheduling_group(3));
    REQUIRE(t->group().id() == 3);
    schedule(t);
    run_pending_tasks();
    REQUIRE(log.size() == 1);
}

TEST_CASE("need_preempt follows the installed monitor") {
    REQUIRE_FALSE(need_preempt());
    detail::preemption_monitor m;
    auto prev = set_preemption_monitor(&m);
    REQUIRE_FALSE(need_preempt());
    m.tail.store(5);
    REQUIRE(need_preempt());
    m.head.store(5);
    REQUIRE_FALSE(need_preempt());
    set_preemption_monitor(prev);
    REQUIRE_FALSE(need_preempt());
}
