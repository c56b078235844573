// A tour of reef::future without a reactor: coroutines awaiting each other, then()
// chains, a promise resolved later, failures caught without crashing, and waiting for
// several futures at once.
// main() drives everything with reef::sync_wait(), which runs this thread's queue of
// ready tasks until the awaited future resolves.
#include <reef/core/coroutine.hh>
#include <reef/core/future.hh>
#include <reef/core/when_all.hh>

#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>

namespace {

// A coroutine that returns a future: here it finishes at once, so its future is ready.
reef::future<int> price_of(const std::string& item) {
    co_return item == "coffee" ? 3 : 2;
}

// A coroutine awaiting other coroutines: awaiting a ready future does not suspend.
reef::future<int> bill(std::string a, std::string b) {
    int pa = co_await price_of(a);
    int pb = co_await price_of(b);
    std::printf("  bill: %s costs %d, %s costs %d\n", a.c_str(), pa, b.c_str(), pb);
    co_return pa + pb;
}

// Awaits a value that someone else provides later, through a promise.
reef::future<std::string> greet(reef::future<std::string> name) {
    std::printf("  greet: waiting for a name...\n");
    std::string n = co_await std::move(name);  // suspends: the promise is not set yet
    std::printf("  greet: got '%s'\n", n.c_str());
    co_return "hello, " + n;
}

// Fails by throwing: the exception is caught by the coroutine machinery and travels
// inside the returned future.
reef::future<int> parse_positive(int v) {
    if (v <= 0) {
        throw std::invalid_argument("not positive: " + std::to_string(v));
    }
    co_return v;
}

// Fails without throwing: the failure is placed in the future directly.
reef::future<int> divide(int a, int b) {
    if (b == 0) {
        co_return reef::coroutine::make_exception(std::domain_error("division by zero"));
    }
    co_return a / b;
}

// Awaits a future without throwing: as_future hands back the failed future itself.
reef::future<> inspect_failure() {
    auto f = co_await reef::coroutine::as_future(divide(4, 0));
    std::printf("  as_future: divide(4, 0) failed = %s\n", f.failed() ? "yes" : "no");
    f.ignore_ready_future();
}

// Waits for two values that may arrive in any order.
reef::future<int> sum_both(reef::future<int> a, reef::future<int> b) {
    auto [x, y] = co_await reef::when_all_succeed(std::move(a), std::move(b));
    co_return x + y;
}

}  // namespace

int main() {
    std::printf("1. coroutines awaiting coroutines\n");
    int total = reef::sync_wait(bill("coffee", "bagel"));
    std::printf("  total = %d\n", total);

    std::printf("2. a then() chain\n");
    auto chained = price_of("tea").then([](int p) { return p * 10; }).then([](int cents) {
        return std::to_string(cents) + " dimes";
    });
    std::printf("  tea costs %s\n", reef::sync_wait(std::move(chained)).c_str());

    std::printf("3. a promise resolved later\n");
    reef::promise<std::string> name;
    auto greeting = greet(name.get_future());
    std::printf("  main: the greeting is %s\n", greeting.available() ? "ready" : "not ready yet");
    name.set_value("reef");
    std::printf("  main: %s\n", reef::sync_wait(std::move(greeting)).c_str());

    std::printf("4. failed futures\n");
    try {
        reef::sync_wait(parse_positive(-1));
    } catch (const std::invalid_argument& e) {
        std::printf("  caught: %s\n", e.what());
    }
    auto recovered = divide(1, 0).handle_exception([](const std::exception_ptr& ep) {
        try {
            std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            std::printf("  handle_exception saw: %s; using 0\n", e.what());
        }
        return 0;
    });
    std::printf("  divide(1, 0) recovered as %d\n", reef::sync_wait(std::move(recovered)));
    reef::sync_wait(inspect_failure());

    std::printf("5. waiting for several futures\n");
    reef::promise<int> first;
    reef::promise<int> second;
    auto both = sum_both(first.get_future(), second.get_future());
    second.set_value(40);
    std::printf("  second value set; sum ready: %s\n", both.available() ? "yes" : "no");
    first.set_value(2);
    std::printf("  sum = %d\n", reef::sync_wait(std::move(both)));

    std::printf("done\n");
    return 0;
}
