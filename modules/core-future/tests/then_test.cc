#include <reef/core/future.hh>

#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace reef;

namespace {
struct counting_handler {
    static inline int calls = 0;
    static void handle(const std::exception_ptr&) noexcept { ++calls; }
};
struct handler_guard {
    abandoned_failure_handler prev;
    handler_guard() : prev(set_abandoned_failure_handler(&counting_handler::handle)) { counting_handler::calls = 0; }
    ~handler_guard() { set_abandoned_failure_handler(prev); }
};
}  // namespace

TEST_CASE("continuations run in the order the values arrive") {
    std::vector<int> order;
    promise<> p1, p2, p3;
    auto f1 = p1.get_future().then([&] { order.push_back(1); });
    auto f2 = p2.get_future().then([&] { order.push_back(2); });
    auto f3 = p3.get_future().then([&] { order.push_back(3); });
    p2.set_value();
    p3.set_value();
    p1.set_value();
    run_pending_tasks();
    REQUIRE(order == std::vector<int>{2, 3, 1});
    sync_wait(std::move(f1));
    sync_wait(std::move(f2));
    sync_wait(std::move(f3));
}

TEST_CASE("a chain of then runs each step in sequence") {
    promise<int> p;
    std::vector<std::string> steps;
    auto f = p.get_future()
                 .then([&](int v) { steps.push_back("a"); return v + 1; })
                 .then([&](int v) { steps.push_back("b"); return make_ready_future<int>(v * 2); })
                 .then([&](int v) { steps.push_back("c"); return std::to_string(v); });
    p.set_value(1);
    REQUIRE(sync_wait(std::move(f)) == "4");
    REQUIRE(steps == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("then on a ready future runs at once") {
    bool ran = false;
    auto f = make_ready_future<int>(1).then([&](int) { ran = true; });
    REQUIRE(ran);
    REQUIRE(f.available());
    f.get();
}

TEST_CASE("a continuation returning an unready future is forwarded without loss") {
    promise<int> outer, inner;
    auto f = outer.get_future().then([&](int v) { return inner.get_future().then([v](int w) { return v + w; }); });
    outer.set_value(1);
    run_pending_tasks();
    REQUIRE_FALSE(f.available());
    inner.set_value(2);
    REQUIRE(sync_wait(std::move(f)) == 3);
}

TEST_CASE("an exception thrown by a continuation fails the next future") {
    auto f = make_ready_future<int>(1).then([](int) -> int { throw std::runtime_error("boom"); });
    REQUIRE(f.failed());
    REQUIRE_THROWS_WITH(f.get(), "boom");
}

TEST_CASE("a failure skips then continuations and reaches the end of the chain") {
    promise<int> p;
    int calls = 0;
    auto f = p.get_future().then([&](int v) { ++calls; return v; }).then([&](int v) { ++calls; return v; });
    p.set_exception(std::runtime_error("early"));
    REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "early");
    REQUIRE(calls == 0);
}

TEST_CASE("then_wrapped sees failures and values") {
    auto f = make_exception_future<int>(std::runtime_error("x")).then_wrapped([](future<int> f) {
        REQUIRE(f.failed());
        f.ignore_ready_future();
        return 5;
    });
    REQUIRE(f.get() == 5);
    promise<int> p;
    auto g = p.get_future().then_wrapped([](future<int> f) { return f.get() + 1; });
    p.set_value(9);
    REQUIRE(sync_wait(std::move(g)) == 10);
}

TEST_CASE("finally runs on success and failure and keeps the result") {
    int runs = 0;
    auto ok = make_ready_future<int>(3).finally([&] { ++runs; });
    REQUIRE(ok.get() == 3);
    auto bad = make_exception_future<int>(std::runtime_error("bad")).finally([&] { ++runs; });
    REQUIRE_THROWS_WITH(bad.get(), "bad");
    REQUIRE(runs == 2);
    promise<> gate;
    auto slow = make_ready_future<int>(4).finally([&] { return gate.get_future(); });
    REQUIRE_FALSE(slow.available());
    gate.set_value();
    REQUIRE(sync_wait(std::move(slow)) == 4);
}

TEST_CASE("a failing finally replaces the result and reports the original failure") {
    handler_guard g;
    auto f = make_exception_future<int>(std::runtime_error("first")).finally([] { throw std::logic_error("second"); });
    REQUIRE_THROWS_AS(f.get(), std::logic_error);
    REQUIRE(counting_handler::calls == 1);
}

TEST_CASE("handle_exception turns a failure into a value") {
    auto f = make_exception_future<int>(std::runtime_error("x")).handle_exception([](std::exception_ptr) { return 7; });
    REQUIRE(f.get() == 7);
    auto g = make_ready_future<int>(1).handle_exception([](std::exception_ptr) { return 7; });
    REQUIRE(g.get() == 1);
    auto v = make_exception_future<>(std::runtime_error("x")).handle_exception([](std::exception_ptr) {});
    REQUIRE_FALSE(v.failed());
    v.get();
}

TEST_CASE("handle_exception_type catches only its type") {
    auto f = make_exception_future<int>(std::out_of_range("r")).handle_exception_type([](std::out_of_range& e) {
        return int(std::string(e.what()).size());
    });
    REQUIRE(f.get() == 1);
    auto g = make_exception_future<int>(std::runtime_error("r")).handle_exception_type([](std::out_of_range&) {
        return 0;
    });
    REQUIRE_THROWS_AS(g.get(), std::runtime_error);
}

TEST_CASE("discard_result keeps failure and drops the value") {
    auto f = make_ready_future<int>(1).discard_result();
    REQUIRE(f.available());
    f.get();
    auto g = make_exception_future<int>(std::runtime_error("x")).discard_result();
    REQUIRE(g.failed());
    g.ignore_ready_future();
}

TEST_CASE("forward_to moves a pending result to another promise") {
    promise<int> src, dst;
    auto out = dst.get_future();
    src.get_future().forward_to(std::move(dst));
    src.set_value(11);
    REQUIRE(sync_wait(std::move(out)) == 11);

    promise<int> src2, dst2;
    auto out2 = dst2.get_future().then([](int v) { return v + 1; });
    src2.get_future().forward_to(std::move(dst2));
    src2.set_exception(std::runtime_error("fwd"));
    REQUIRE_THROWS_WITH(sync_wait(std::move(out2)), "fwd");
}

TEST_CASE("forward_to before the destination's future is taken still delivers") {
    promise<int> src, dst;
    src.get_future().forward_to(std::move(dst));
    src.set_value(3);
    run_pending_tasks();
}

TEST_CASE("a failed future destroyed unobserved is reported once") {
    handler_guard g;
    { auto f = make_exception_future<int>(std::runtime_error("lost")); }
    REQUIRE(counting_handler::calls == 1);
    {
        promise<int> p;
        auto f = p.get_future();
        p.set_exception(std::runtime_error("lost too"));
    }
    REQUIRE(counting_handler::calls == 2);
    {
        auto f = make_exception_future<int>(std::runtime_error("seen"));
        f.ignore_ready_future();
    }
    REQUIRE(counting_handler::calls == 2);
}

TEST_CASE("setting an exception on a promise whose future is gone is reported") {
    handler_guard g;
    promise<int> p;
    { auto f = p.get_future(); }
    p.set_exception(std::runtime_error("nobody"));
    REQUIRE(counting_handler::calls == 1);
    promise<int> q;
    { auto f = q.get_future(); }
    q.set_value(1);  // a value nobody wants is simply dropped
    REQUIRE(counting_handler::calls == 1);
}

TEST_CASE("a broken promise wakes a waiting continuation") {
    auto p = std::make_unique<promise<int>>();
    auto f = p->get_future().then([](int v) { return v; });
    p.reset();
    REQUIRE_THROWS_AS(sync_wait(std::move(f)), broken_promise);
}

TEST_CASE("get on an unready future throws future_not_ready") {
    promise<int> p;
    auto f = p.get_future();
    REQUIRE_THROWS_AS(f.get(), future_not_ready);
    p.set_value(1);
    REQUIRE(f.get() == 1);
}

TEST_CASE("sync_wait detects a future that can never resolve") {
    promise<int> p;
    auto f = p.get_future();
    REQUIRE_THROWS_AS(sync_wait(std::move(f)), sync_wait_deadlock);
}

TEST_CASE("futurize_invoke turns throws and plain values into futures") {
    auto a = futurize_invoke([] { return 1; });
    REQUIRE(a.get() == 1);
    auto b = futurize_invoke([]() -> int { throw std::runtime_error("t"); });
    REQUIRE(b.failed());
    b.ignore_ready_future();
    auto c = futurize_invoke([](int x) { return make_ready_future<int>(x); }, 4);
    REQUIRE(c.get() == 4);
    auto d = futurize_invoke([] {});
    static_assert(std::is_same_v<decltype(d), future<>>);
    d.get();
}

TEST_CASE("move-only values travel through continuations") {
    promise<std::unique_ptr<int>> p;
    auto f = p.get_future().then([](std::unique_ptr<int> v) { return *v; });
    p.set_value(std::make_unique<int>(8));
    REQUIRE(sync_wait(std::move(f)) == 8);
}

TEST_CASE("preemption defers a ready continuation to the queue") {
    detail::preemption_monitor m;
    m.tail.store(1);
    auto prev = set_preemption_monitor(&m);
    bool ran = false;
    auto f = make_ready_future<int>(1).then([&](int v) { ran = true; return v; });
    REQUIRE_FALSE(ran);
    REQUIRE(pending_tasks() == 1);
    set_preemption_monitor(prev);
    REQUIRE(sync_wait(std::move(f)) == 1);
    REQUIRE(ran);
}
