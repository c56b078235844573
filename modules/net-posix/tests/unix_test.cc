#include <reef/net.hh>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

#include <reef/reactor/sleep.hh>
#include <reef/reactor/smp.hh>
#include <reef/testing/test_case.hh>

#include "net_test_util.hh"

using namespace net_test;

namespace {

// A socket file path under the temporary directory, removed when this goes.
struct temp_socket_path {
    std::string path = fmt::format("/tmp/{}.sock", unique_name("path"));
    ~temp_socket_path() { ::unlink(path.c_str()); }
};

// One echo round trip over a fresh connection to `ss`, which this shard accepts.
future<> echo_once(server_socket& ss, std::string_view message) {
    auto accepted = ss.accept();
    auto c = co_await connect(ss.local_address());
    auto a = co_await std::move(accepted);
    auto back = co_await echo_round_trip(c, std::move(a.connection), std::string(message));
    if (back != message) {
        throw std::runtime_error("echo mismatch: " + back);
    }
}

}  // namespace

REEF_TEST_CASE("a unix socket on a path: listen, connect, echo, addresses") {
    temp_socket_path tmp;
    auto addr = socket_address::unix_path(tmp.path);
    auto ss = listen(addr, listen_options{.balancing = load_balancing::this_shard});
    REQUIRE(ss.local_address() == addr);
    struct stat st{};
    REQUIRE(::stat(tmp.path.c_str(), &st) == 0);
    REQUIRE(S_ISSOCK(st.st_mode));

    auto accepted = ss.accept();
    auto c = co_await connect(addr);
    auto a = co_await std::move(accepted);
    REQUIRE(c.remote_address() == addr);
    REQUIRE(a.connection.local_address() == addr);
    // The client did not bind: its address has no name.
    REQUIRE(a.remote_address.is_unix());
    REQUIRE(a.remote_address.unix_name().empty());
    // TCP options mean nothing here: setters do nothing, getters say no.
    c.set_nodelay(true);
    REQUIRE_FALSE(c.get_nodelay());
    REQUIRE_FALSE(c.get_keepalive());

    REQUIRE(co_await echo_round_trip(c, std::move(a.connection), "through the file system") ==
            "through the file system");
}

REEF_TEST_CASE("a unix socket in the abstract namespace: no file, same behaviour") {
    auto addr = socket_address::unix_abstract(unique_name("abstract"));
    auto ss = listen(addr, listen_options{.balancing = load_balancing::this_shard});
    REQUIRE(ss.local_address() == addr);
    REQUIRE(ss.local_address().is_unix_abstract());
    co_await echo_once(ss, "no file needed");
    co_await echo_once(ss, std::string(300000, 'z'));
}

REEF_TEST_CASE("a client bound to an abstract name shows up with it at the server") {
    auto addr = socket_address::unix_abstract(unique_name("server"));
    auto client_name = socket_address::unix_abstract(unique_name("client"));
    auto ss = listen(addr, listen_options{.balancing = load_balancing::this_shard});
    auto accepted = ss.accept();
    auto c = co_await connect(addr, client_name);
    auto a = co_await std::move(accepted);
    REQUIRE(a.remote_address == client_name);
    REQUIRE(c.local_address() == client_name);
}

REEF_TEST_CASE("unix connect errors: a missing path is ENOENT, an abstract name nobody listens on ECONNREFUSED") {
    auto missing = co_await coroutine::as_future(connect(socket_address::unix_path("/nonexistent/reef/socket")));
    REQUIRE(error_of(missing) == ENOENT);
    auto refused = co_await coroutine::as_future(connect(socket_address::unix_abstract(unique_name("nobody"))));
    REQUIRE(error_of(refused) == ECONNREFUSED);
}

REEF_TEST_CASE("a unix connect to a full backlog waits for room instead of failing") {
    auto addr = socket_address::unix_abstract(unique_name("backlog"));
    auto ss = listen(addr, listen_options{.balancing = load_balancing::this_shard, .backlog = 1});
    std::vector<future<connected_socket>> clients;
    for (int i = 0; i < 6; ++i) {
        clients.push_back(connect(addr));
    }
    // Accepting makes room: every connect completes.
    std::vector<accept_result> accepted;
    for (int i = 0; i < 6; ++i) {
        accepted.push_back(co_await ss.accept());
    }
    for (auto& f : clients) {
        auto c = co_await std::move(f);
        REQUIRE(c.remote_address() == addr);
    }
}

REEF_TEST_CASE("unix connections are spread over both shards") {
    auto addr = socket_address::unix_abstract(unique_name("spread"));
    auto ss = listen(addr);
    std::atomic<bool> listening{false};
    std::atomic<int> served_remotely{0};
    auto remote = smp::submit_to(1, [addr, &listening, &served_remotely]() {
        return coroutine::invoke([addr, &listening, &served_remotely]() -> future<> {
            auto s = listen(addr);
            listening.store(true);
            for (int i = 0; i < 4; ++i) {
                auto a = co_await s.accept();
                co_await echo(std::move(a.connection));
                served_remotely.fetch_add(1);
            }
        });
    });
    while (!listening.load()) {
        co_await reef::sleep(std::chrono::milliseconds(1));
    }
    std::vector<future<>> local;
    std::vector<future<>> clients;
    for (int i = 0; i < 8; ++i) {
        clients.push_back(coroutine::invoke([addr, i]() -> future<> {
            auto c = co_await connect(addr);
            auto in = c.input();
            auto out = c.output();
            auto msg = fmt::format("client {}", i);
            co_await out.write(msg);
            co_await out.close();
            if (co_await read_to_end(in) != msg) {
                throw std::runtime_error("echo mismatch");
            }
        }));
    }
    for (int i = 0; i < 4; ++i) {
        auto a = co_await ss.accept();
        local.push_back(echo(std::move(a.connection)));
    }
    for (auto& f : clients) {
        co_await std::move(f);
    }
    for (auto& f : local) {
        co_await std::move(f);
    }
    co_await std::move(remote);
    REQUIRE(served_remotely.load() == 4);
}
