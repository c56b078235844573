#include <reef/core/do_with.hh>

#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace reef;

namespace {

// Counts live instances, to see when do_with destroys its values.
struct tracked {
    static inline int live = 0;
    int value;
    explicit tracked(int v) : value(v) { ++live; }
    tracked(tracked&& o) noexcept : value(o.value) { ++live; }
    tracked(const tracked& o) : value(o.value) { ++live; }
    ~tracked() { --live; }
};

}  // namespace

TEST_CASE("do_with passes the values by reference and returns the function's result") {
    auto f = do_with(std::string("abc"), 3, [](std::string& s, int& n) {
        s += std::to_string(n);
        return make_ready_future<std::string>(s);
    });
    REQUIRE(f.get() == "abc3");
}

TEST_CASE("do_with accepts functions returning plain values or void") {
    REQUIRE(do_with(2, [](int& x) { return x * 21; }).get() == 42);
    int seen = 0;
    do_with(7, [&](int& x) { seen = x; }).get();
    REQUIRE(seen == 7);
}

TEST_CASE("do_with destroys the values when the ready future is returned") {
    REQUIRE(tracked::live == 0);
    int inside = 0;
    auto f = do_with(tracked(1), [&](tracked& t) {
        inside = tracked::live;  // the caller's temporary and the held value
        return t.value;
    });
    REQUIRE(inside == 2);
    REQUIRE(tracked::live == 0);
    REQUIRE(f.get() == 1);
}

TEST_CASE("do_with keeps the values at stable addresses until a pending future resolves") {
    promise<> p;
    const tracked* address = nullptr;
    auto f = do_with(tracked(5), std::vector<int>{1, 2}, [&](tracked& t, std::vector<int>& v) {
        address = &t;
        return p.get_future().then([&t, &v] {
            v.push_back(t.value);
            return int(v.size()) * 100 + v.back();
        });
    });
    REQUIRE_FALSE(f.available());
    REQUIRE(tracked::live == 1);
    REQUIRE(address != nullptr);
    run_pending_tasks();
    REQUIRE(tracked::live == 1);
    p.set_value();
    REQUIRE(sync_wait(std::move(f)) == 305);
    REQUIRE(tracked::live == 0);
}

TEST_CASE("do_with keeps a coroutine lambda alive while it is suspended") {
    promise<int> p;
    auto f = do_with(std::string("x"),
                     [&p, suffix = std::string("-suffix")](std::string& s) -> future<std::string> {
                         int n = co_await p.get_future();
                         co_return s + std::to_string(n) + suffix;
                     });
    p.set_value(4);
    REQUIRE(sync_wait(std::move(f)) == "x4-suffix");
}

TEST_CASE("do_with allocates one holder and nothing more whether ready or pending") {
    auto before = task_allocations();
    auto ready = do_with(1, [](int& x) { return make_ready_future<int>(x); });
    REQUIRE(task_allocations() - before == 1);
    REQUIRE(ready.get() == 1);
    promise<int> p;
    before = task_allocations();
    auto pending = do_with(1, [&](int&) { return p.get_future(); });
    REQUIRE(task_allocations() - before == 1);
    p.set_value(2);
    REQUIRE(sync_wait(std::move(pending)) == 2);
    REQUIRE(task_allocations() - before == 1);
}

TEST_CASE("do_with forwards a synchronous throw as a failed future and frees the values") {
    auto failures = abandoned_failures();
    auto f = do_with(tracked(1), [](tracked&) -> future<int> { throw std::runtime_error("sync"); });
    REQUIRE(tracked::live == 0);
    REQUIRE_THROWS_WITH(f.get(), "sync");
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("do_with forwards a failure that arrives later") {
    auto failures = abandoned_failures();
    promise<> p;
    auto f = do_with(tracked(1), [&](tracked&) { return p.get_future(); });
    p.set_exception(std::runtime_error("later"));
    REQUIRE_THROWS_WITH(sync_wait(std::move(f)), "later");
    REQUIRE(tracked::live == 0);
    REQUIRE(abandoned_failures() == failures);
}

TEST_CASE("do_with copies lvalue values and moves rvalues") {
    std::string kept = "kept";
    auto moved = std::make_unique<int>(9);
    auto f = do_with(kept, std::move(moved), [](std::string& s, std::unique_ptr<int>& u) {
        s += "!";
        return s + std::to_string(*u);
    });
    REQUIRE(f.get() == "kept!9");
    REQUIRE(kept == "kept");
    REQUIRE(moved == nullptr);
}

TEST_CASE("do_with takes a function held in a variable") {
    auto fn = [](int& a, int& b) { return a + b; };
    REQUIRE(do_with(1, 2, fn).get() == 3);
}
