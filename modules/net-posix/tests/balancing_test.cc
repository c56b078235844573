#include <reef/net.hh>

#include <atomic>
#include <chrono>
#include <optional>
#include <vector>

#include <reef/reactor/sleep.hh>
#include <reef/reactor/smp.hh>
#include <reef/testing/test_case.hh>

#include "net_test_util.hh"

using namespace net_test;

namespace {

// What a shard's acceptor saw.
struct tally {
    std::atomic<int> accepted{0};
    std::atomic<bool> listening{false};
};

// Accepts from `s` until aborted, answering each connection with the shard's id and
// counting it in `t`.
future<> accept_and_tell_shard(server_socket& s, tally* t) {
    t->listening.store(true);
    std::vector<future<>> replies;
    for (;;) {
        auto f = co_await coroutine::as_future(s.accept());
        if (f.failed()) {
            f.ignore_ready_future();
            break;  // aborted
        }
        auto a = f.get();
        t->accepted.fetch_add(1);
        replies.push_back(coroutine::invoke([c = std::move(a.connection)]() mutable -> future<> {
            auto out = c.output();
            co_await out.write(fmt::format("{}", this_shard_id()));
            co_await out.close();
        }));
    }
    for (auto& r : replies) {
        co_await std::move(r);
    }
}

// Each shard's server_socket, reachable from shard 0 to abort it.
thread_local server_socket* tl_server = nullptr;

future<> serve_on_this_shard(socket_address addr, listen_options opts, tally* t) {
    auto s = listen(addr, opts);
    tl_server = &s;
    co_await accept_and_tell_shard(s, t);
    tl_server = nullptr;
}

// Runs an acceptor on both shards (shard 0's socket made first, so that its address is
// known), makes `n` connections and returns how many each shard served, checked against
// what each connection was told.
future<std::vector<int>> spread_connections(listen_options opts, int n) {
    tally t0;
    tally t1;
    auto s0 = listen(loopback_v4(), opts);
    auto addr = s0.local_address();
    tl_server = &s0;
    auto serve0 = accept_and_tell_shard(s0, &t0);
    auto serve1 = smp::submit_to(1, [addr, opts, &t1] { return serve_on_this_shard(addr, opts, &t1); });
    while (!t1.listening.load()) {
        co_await reef::sleep(std::chrono::milliseconds(1));
    }
    std::vector<int> told(2, 0);
    std::vector<future<connected_socket>> conns;
    for (int i = 0; i < n; ++i) {
        conns.push_back(connect(addr));
    }
    for (auto& f : conns) {
        auto c = co_await std::move(f);
        auto in = c.input();
        auto shard = co_await read_to_end(in);
        told.at(std::stoul(shard))++;
    }
    // The non-owning shard stops first, then the owner.
    co_await smp::submit_to(1, [] { tl_server->abort_accept(); });
    co_await std::move(serve1);
    tl_server->abort_accept();
    co_await std::move(serve0);
    if (told[0] != t0.accepted.load() || told[1] != t1.accepted.load()) {
        throw std::runtime_error("the shards' counts disagree with what the clients were told");
    }
    co_return told;
}

}  // namespace

REEF_TEST_CASE("spread: one listening socket hands connections to both shards in turn") {
    auto told = co_await spread_connections(listen_options{.balancing = load_balancing::spread}, 40);
    REQUIRE(told[0] + told[1] == 40);
    // Round robin: the two shards take turns.
    REQUIRE(told[0] == 20);
    REQUIRE(told[1] == 20);
}

REEF_TEST_CASE("reuse_port: the kernel spreads connections over both shards' sockets") {
    auto told = co_await spread_connections(listen_options{.balancing = load_balancing::reuse_port}, 64);
    REQUIRE(told[0] + told[1] == 64);
    REQUIRE(told[0] > 0);
    REQUIRE(told[1] > 0);
}

REEF_TEST_CASE("spread: a shard's second listen on the same address fails with EADDRINUSE") {
    auto s = listen(loopback_v4());
    int error = 0;
    try {
        auto again = listen(s.local_address());
    } catch (const std::system_error& e) {
        error = e.code().value();
    }
    REQUIRE(error == EADDRINUSE);
    co_return;
}

REEF_TEST_CASE("spread: when the owning shard stops listening, the others' accept fails with ECONNABORTED") {
    auto owner = listen(loopback_v4());
    auto addr = owner.local_address();
    std::atomic<bool> listening{false};
    auto other = smp::submit_to(1, [addr, &listening] {
        return coroutine::invoke([addr, &listening]() -> future<int> {
            auto s = listen(addr);
            listening.store(true);
            auto f = co_await coroutine::as_future(s.accept());
            co_return error_of(f);
        });
    });
    while (!listening.load()) {
        co_await reef::sleep(std::chrono::milliseconds(1));
    }
    owner = server_socket();
    REQUIRE(co_await std::move(other) == ECONNABORTED);
    // The port was released with the owner's socket.
    auto again = listen(addr);
    REQUIRE(again.local_address() == addr);
}

// Shard 1's listener in the backlog test, made and destroyed on shard 1.
thread_local std::optional<server_socket> tl_idle;

future<int> accept_n(server_socket& s, int n) {
    std::vector<accept_result> kept;
    for (int i = 0; i < n; ++i) {
        kept.push_back(co_await s.accept());
    }
    co_return n;
}

REEF_TEST_CASE("spread: a shard that does not accept holds at most its backlog; the rest go elsewhere") {
    constexpr int backlog = 3;
    constexpr int total = 12;
    auto s0 = listen(loopback_v4(), listen_options{.backlog = backlog});
    auto addr = s0.local_address();
    co_await smp::submit_to(1, [addr] { tl_idle.emplace(listen(addr, listen_options{.backlog = backlog})); });
    // Shard 0 accepts as connections come; shard 1 does not, until the end.
    auto here = accept_n(s0, total - backlog);
    std::vector<connected_socket> clients;
    for (int i = 0; i < total; ++i) {
        clients.push_back(co_await connect(addr));
    }
    REQUIRE(co_await std::move(here) == total - backlog);
    // Shard 1's queue holds exactly its backlog, ready at once.
    int queued = co_await smp::submit_to(1, [] {
        return coroutine::invoke([]() -> future<int> {
            int n = co_await accept_n(*tl_idle, backlog);
            tl_idle.reset();
            co_return n;
        });
    });
    REQUIRE(queued == backlog);
}
