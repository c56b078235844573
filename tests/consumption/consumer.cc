// Uses reef-core-future from outside the tree: a coroutine awaits a promise that is
// resolved later, a then() continues it, and sync_wait() drives it from main().
#include <reef/core/future.hh>

#include <cstdio>

namespace {

reef::future<int> add_later(reef::future<int> a, int b) {
    int v = co_await std::move(a);
    co_return v + b;
}

}  // namespace

int main() {
    reef::promise<int> p;
    auto sum = add_later(p.get_future(), 2).then([](int v) { return v * 2; });
    p.set_value(19);
    std::printf("consumer: %d\n", reef::sync_wait(std::move(sum)));
    return 0;
}
