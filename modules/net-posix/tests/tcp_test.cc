#include <reef/net.hh>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <system_error>
#include <vector>

#include <reef/core/when_all.hh>
#include <reef/reactor/pollable_fd.hh>
#include <reef/reactor/sleep.hh>
#include <reef/reactor/smp.hh>
#include <reef/testing/test_case.hh>

#include "net_test_util.hh"

using namespace net_test;

namespace {

// A listening socket on 127.0.0.1 accepted by this shard only.
server_socket listen_here(const socket_address& addr = loopback_v4(), listen_options opts = {}) {
    opts.balancing = load_balancing::this_shard;
    return listen(addr, opts);
}

// A client and the server side of the same connection.
struct conn_pair {
    connected_socket client;
    connected_socket server;
    socket_address peer;
};

future<conn_pair> connect_pair(server_socket& ss, connect_options opts = {}) {
    auto accepted = ss.accept();
    auto client = co_await connect(ss.local_address(), {}, opts);
    auto a = co_await std::move(accepted);
    co_return conn_pair{std::move(client), std::move(a.connection), a.remote_address};
}

// A raw client socket, connected through the reactor, for what the API does not offer
// (SO_LINGER 0).
future<pollable_fd> raw_connect(const socket_address& to) {
    pollable_fd fd(::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    co_await fd.connect(to.sockaddr(), to.length());
    co_return std::move(fd);
}

// Both streams of one end of a connection.
struct duplex {
    input_stream<char> in;
    output_stream<char> out;
};

duplex streams_of(connected_socket& s) {
    return duplex{s.input(), s.output()};
}

}  // namespace

REEF_TEST_CASE("a connection carries bytes both ways and the peer's close is the end of the stream") {
    auto ss = listen_here();
    auto p = co_await connect_pair(ss);
    auto [cin, cout] = streams_of(p.client);
    auto [sin, sout] = streams_of(p.server);
    co_await cout.write("hello");
    co_await cout.flush();
    auto got = co_await sin.read_exactly(5);
    REQUIRE(to_string_view(got) == "hello");
    co_await sout.write("world, and goodbye");
    co_await sout.close();
    REQUIRE(co_await read_to_end(cin) == "world, and goodbye");
    REQUIRE(cin.eof());
    co_await cout.close();
    REQUIRE((co_await sin.read()).empty());
}

REEF_TEST_CASE("addresses: the client's remote is the server's local and the other way round") {
    auto ss = listen_here();
    REQUIRE(ss.local_address().port() != 0);
    REQUIRE(ss.local_address().address() == inet_address::loopback_ipv4());
    auto p = co_await connect_pair(ss);
    REQUIRE(p.client.remote_address() == ss.local_address());
    REQUIRE(p.server.local_address() == ss.local_address());
    REQUIRE(p.server.remote_address() == p.client.local_address());
    REQUIRE(p.peer == p.client.local_address());
}

REEF_TEST_CASE("connect binds to the local address it is given") {
    auto ss = listen_here();
    auto accepted = ss.accept();
    auto client = co_await connect(ss.local_address(), loopback_v4(0));
    auto a = co_await std::move(accepted);
    REQUIRE(client.local_address().address() == inet_address::loopback_ipv4());
    REQUIRE(a.remote_address == client.local_address());
}

REEF_TEST_CASE("32 MiB each way, at once, arrive byte for byte") {
    constexpr std::uint64_t total = 32 << 20;
    auto ss = listen_here();
    auto p = co_await connect_pair(ss);
    auto [cin, cout] = streams_of(p.client);
    auto [sin, sout] = streams_of(p.server);
    auto [up, down] = co_await coroutine::all(
        [&] { return check_pattern(sin, 1); }, [&] { return check_pattern(cin, 2); },
        [&] { return send_pattern(cout, total, 1); }, [&] { return send_pattern(sout, total, 2); });
    REQUIRE(up == total);
    REQUIRE(down == total);
}

REEF_TEST_CASE("half-close: after shutting its output down a client still reads the reply") {
    auto ss = listen_here();
    auto p = co_await connect_pair(ss);
    auto cin = p.client.input();
    auto cout = p.client.output();
    co_await cout.write("request");
    co_await cout.close();  // FIN after the bytes
    auto sin = p.server.input();
    auto sout = p.server.output();
    auto request = co_await read_to_end(sin);
    REQUIRE(request == "request");
    co_await sout.write("reply to " + request);
    co_await sout.close();
    REQUIRE(co_await read_to_end(cin) == "reply to request");
}

REEF_TEST_CASE("shutdown_output sends the end of stream; shutdown_input ends a pending read") {
    auto ss = listen_here();
    auto p = co_await connect_pair(ss);
    auto sin = p.server.input();
    p.client.shutdown_output();
    REQUIRE((co_await sin.read()).empty());

    auto cin = p.client.input();
    auto pending = cin.read();
    REQUIRE_FALSE(pending.available());
    p.client.shutdown_input();
    auto b = co_await std::move(pending);
    REQUIRE(b.empty());
}

REEF_TEST_CASE("a peer closing in the middle of a read_exactly is an early end of stream") {
    auto ss = listen_here();
    auto p = co_await connect_pair(ss);
    auto cout = p.client.output();
    co_await cout.write("only 12 byte");
    co_await cout.close();
    auto sin = p.server.input();
    auto b = co_await sin.read_exactly(100);
    REQUIRE(b.size() == 12);
    REQUIRE(sin.eof());
}

REEF_TEST_CASE("a peer reset (SO_LINGER 0) fails the read with ECONNRESET and later writes with an error, no SIGPIPE") {
    auto ss = listen_here();
    auto accepted = ss.accept();
    auto raw = co_await raw_connect(ss.local_address());
    auto a = co_await std::move(accepted);
    ::linger lg{1, 0};
    REQUIRE(::setsockopt(raw.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0);
    co_await raw.write_some("x", 1);
    raw.close();  // RST

    auto sin = a.connection.input();
    int read_error = 0;
    for (int i = 0; i < 3 && !read_error; ++i) {
        auto f = co_await coroutine::as_future(sin.read());
        if (f.failed()) {
            read_error = error_of(f);
        } else {
            f.ignore_ready_future();  // the byte sent before the reset may come first
        }
    }
    REQUIRE(read_error == ECONNRESET);

    auto sout = a.connection.output();
    int write_error = 0;
    for (int i = 0; i < 10 && !write_error; ++i) {
        auto f = co_await coroutine::as_future(sout.write(std::string(65536, 'y')));
        if (!f.failed()) {
            f = co_await coroutine::as_future(sout.flush());
        }
        write_error = error_of(f);
    }
    REQUIRE((write_error == EPIPE || write_error == ECONNRESET));
    auto c = co_await coroutine::as_future(sout.close());
    REQUIRE(c.failed());
    c.ignore_ready_future();
}

REEF_TEST_CASE("connecting to a closed port fails with ECONNREFUSED") {
    auto f = co_await coroutine::as_future(connect(loopback_v4(closed_port())));
    REQUIRE(error_of(f) == ECONNREFUSED);
}

REEF_TEST_CASE("a connect nobody answers fails with ETIMEDOUT after its timeout") {
    // A listener that never accepts, with a backlog of 1: once its queue is full the
    // kernel drops further SYNs, so a connect neither completes nor fails.
    auto ss = listen_here(loopback_v4(), listen_options{.backlog = 1});
    std::vector<connected_socket> fillers;
    int error = 0;
    auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < 8 && !error; ++i) {
        started = std::chrono::steady_clock::now();
        auto f = co_await coroutine::as_future(
            connect(ss.local_address(), {}, connect_options{.timeout = std::chrono::milliseconds(150)}));
        if (f.failed()) {
            error = error_of(f);
        } else {
            fillers.push_back(f.get());
        }
    }
    REQUIRE(error == ETIMEDOUT);
    REQUIRE(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(140));
}

REEF_TEST_CASE("listening twice on one address fails with EADDRINUSE") {
    auto ss = listen_here();
    int error = 0;
    try {
        auto again = listen_here(ss.local_address());
    } catch (const std::system_error& e) {
        error = e.code().value();
    }
    REQUIRE(error == EADDRINUSE);
    co_return;
}

REEF_TEST_CASE("abort_accept fails the pending accept with ECONNABORTED, under every policy, and frees the port") {
    for (auto policy : {load_balancing::this_shard, load_balancing::reuse_port, load_balancing::spread}) {
        INFO("policy " << int(policy));
        auto ss = listen(loopback_v4(), listen_options{.balancing = policy});
        auto port = ss.local_address().port();
        auto pending = ss.accept();
        REQUIRE_FALSE(pending.available());
        ss.abort_accept();
        auto f = co_await coroutine::as_future(std::move(pending));
        REQUIRE(error_of(f) == ECONNABORTED);
        auto later = co_await coroutine::as_future(ss.accept());
        REQUIRE(error_of(later) == ECONNABORTED);
        ss = server_socket();
        // The port is free again at once.
        auto again = listen(loopback_v4(port), listen_options{.reuse_address = true, .balancing = policy});
        REQUIRE(again.local_address().port() == port);
    }
}

REEF_TEST_CASE("destroying a server_socket with an accept pending fails the accept") {
    auto ss = std::make_unique<server_socket>(listen_here());
    auto pending = ss->accept();
    ss.reset();
    auto f = co_await coroutine::as_future(std::move(pending));
    REQUIRE(error_of(f) == ECONNABORTED);
}

REEF_TEST_CASE("socket options: nodelay, keepalive and its timing, buffer sizes") {
    listen_options lo;
    lo.keepalive = keepalive_params{std::chrono::seconds(30), std::chrono::seconds(5), 4};
    lo.receive_buffer_size = 256 << 10;
    auto ss = listen_here(loopback_v4(), lo);
    connect_options co;
    co.keepalive = keepalive_params{std::chrono::seconds(60), std::chrono::seconds(10), 3};
    co.send_buffer_size = 128 << 10;
    auto p = co_await connect_pair(ss, co);

    REQUIRE(p.client.get_nodelay());
    REQUIRE(p.server.get_nodelay());
    p.client.set_nodelay(false);
    REQUIRE_FALSE(p.client.get_nodelay());

    REQUIRE(p.server.get_keepalive());
    REQUIRE(p.server.get_keepalive_parameters() == *lo.keepalive);
    REQUIRE(p.client.get_keepalive());
    REQUIRE(p.client.get_keepalive_parameters() == *co.keepalive);
    p.client.set_keepalive(false);
    REQUIRE_FALSE(p.client.get_keepalive());
    keepalive_params k{std::chrono::seconds(11), std::chrono::seconds(2), 7};
    p.client.set_keepalive_parameters(k);
    REQUIRE(p.client.get_keepalive_parameters() == k);

    // Linux reports twice what was asked.
    REQUIRE(p.client.get_send_buffer_size() == 2 * (128 << 10));
    REQUIRE(p.server.get_receive_buffer_size() == 2 * (256 << 10));
    p.server.set_send_buffer_size(64 << 10);
    REQUIRE(p.server.get_send_buffer_size() == 2 * (64 << 10));
}

REEF_TEST_CASE("IPv6 loopback: listen, connect, echo") {
    auto ss = listen_here(loopback_v6());
    REQUIRE(ss.local_address().family() == AF_INET6);
    auto accepted = ss.accept();
    auto client = co_await connect(ss.local_address());
    auto a = co_await std::move(accepted);
    REQUIRE(a.remote_address.address() == inet_address::loopback_ipv6());
    REQUIRE(co_await echo_round_trip(client, std::move(a.connection), "over IPv6") == "over IPv6");
}

REEF_TEST_CASE("the connection closes when the socket and its streams are all gone") {
    auto ss = listen_here();
    auto p = co_await connect_pair(ss);
    auto sin = p.server.input();
    {
        auto cout = p.client.output();
        co_await cout.write("last words");
        co_await cout.flush();
        p.client = connected_socket();
        // The output stream still holds the connection open.
    }
    REQUIRE(co_await read_to_end(sin) == "last words");
}

// Accepts `n` connections and echoes each until its end; returns how many it served.
future<int> serve_echo(server_socket& s, int n) {
    std::vector<future<>> served;
    for (int i = 0; i < n; ++i) {
        auto a = co_await s.accept();
        served.push_back(echo(std::move(a.connection)));
    }
    for (auto& f : served) {
        co_await std::move(f);
    }
    co_return n;
}

// On another shard: listens on `addr`, says so, and serves `n` connections.
future<int> listen_and_serve(socket_address addr, int n, std::atomic<bool>* listening) {
    auto s = listen(addr);
    listening->store(true);
    co_return co_await serve_echo(s, n);
}

// A client that makes `rounds` round trips of a message naming it, then closes.
future<> echo_client(socket_address addr, int id, int rounds) {
    auto c = co_await connect(addr);
    auto in = c.input();
    auto out = c.output();
    for (int r = 0; r < rounds; ++r) {
        auto msg = fmt::format("connection {} round {};", id, r);
        co_await out.write(msg);
        co_await out.flush();
        auto back = co_await in.read_exactly(msg.size());
        if (to_string_view(back) != msg) {
            throw std::runtime_error("echo mismatch");
        }
    }
    co_await out.close();
    if (!(co_await in.read()).empty()) {
        throw std::runtime_error("bytes after the end");
    }
}

REEF_TEST_CASE("200 concurrent connections served on both shards echo their bytes") {
    constexpr int connections = 200;
    // Both shards listen (spread, round robin): each serves half of the connections.
    auto ss = listen(loopback_v4());
    auto addr = ss.local_address();
    std::atomic<bool> listening{false};
    auto remote = smp::submit_to(1, [addr, &listening] { return listen_and_serve(addr, connections / 2, &listening); });
    while (!listening.load()) {
        co_await reef::sleep(std::chrono::milliseconds(1));
    }
    auto local = serve_echo(ss, connections / 2);
    std::vector<future<>> clients;
    for (int i = 0; i < connections; ++i) {
        clients.push_back(echo_client(addr, i, 5));
    }
    for (auto& f : clients) {
        co_await std::move(f);
    }
    REQUIRE(co_await std::move(local) == connections / 2);
    REQUIRE(co_await std::move(remote) == connections / 2);
}
