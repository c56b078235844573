// A TCP echo server and client on every shard.
//
// Server (the default): every shard listens on --address:--port (one listening socket
// whose connections are spread over the shards, or one SO_REUSEPORT socket per shard
// with --balancing reuse-port) and sends back whatever it reads. Port 0 picks a free
// port; the server prints "listening on ADDRESS" once every shard listens. SIGINT or
// SIGTERM stops it: the shards stop accepting, end their connections and exit.
//   build/examples/tcp_echo --port 10000
//   socat - TCP:127.0.0.1:10000
//
// Client (--connect ADDRESS): --connections connections spread over the shards, each
// sending --count messages of --size bytes and checking each echo byte for byte.
//   build/examples/tcp_echo --connect 127.0.0.1:10000 --connections 8 --count 1000
#include <chrono>
#include <list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/core.h>

#include <reef/core/gate.hh>
#include <reef/net.hh>
#include <reef/reactor.hh>

using namespace reef;

namespace {

// One shard's server: its listening socket, the connections it serves, and a gate that
// closes once they are all done.
struct shard_server {
    net::server_socket listener;
    std::list<net::connected_socket*> live;  // to end them when stopping
    gate connections;
    future<> accepting = make_ready_future<>();
};

thread_local std::unique_ptr<shard_server> tl_server;

// Echoes one connection until the client's end of stream (or a stop), then closes.
future<> echo(net::connected_socket conn) {
    auto& srv = *tl_server;
    auto me = srv.live.insert(srv.live.end(), &conn);
    auto in = conn.input();
    auto out = conn.output();
    try {
        for (;;) {
            auto buf = co_await in.read();
            if (buf.empty()) {
                break;
            }
            co_await out.write(std::move(buf));
            co_await out.flush();
        }
        co_await out.close();
    } catch (const std::exception& e) {
        // A client that resets its connection ends it; the server goes on.
        fmt::print(stderr, "connection from {}: {}\n", conn.remote_address(), e.what());
    }
    srv.live.erase(me);
}

future<> accept_loop(shard_server& srv) {
    for (;;) {
        auto accepted = co_await coroutine::as_future(srv.listener.accept());
        if (accepted.failed()) {
            accepted.ignore_ready_future();  // ECONNABORTED: we are stopping
            co_return;
        }
        auto [conn, peer] = accepted.get();
        // Runs in the background, holding the gate until the connection ends.
        (void)with_gate(srv.connections, [c = std::move(conn)]() mutable { return echo(std::move(c)); });
    }
}

// Listens on this shard and starts accepting.
void start_shard(const net::socket_address& addr, const net::listen_options& opts) {
    tl_server = std::make_unique<shard_server>();
    tl_server->listener = net::listen(addr, opts);
    tl_server->accepting = accept_loop(*tl_server);
}

future<> stop_shard() {
    auto& srv = *tl_server;
    srv.listener.abort_accept();
    co_await std::move(srv.accepting);
    for (auto* c : srv.live) {
        c->shutdown_input();  // its pending read ends: the echo loop finishes
    }
    co_await srv.connections.close();
    tl_server.reset();
}

future<int> run_server(const app_template& app) {
    auto& cfg = app.configuration();
    auto ip = net::inet_address::parse(cfg["address"].as<std::string>());
    if (!ip) {
        throw std::invalid_argument("--address: not an IP address: " + cfg["address"].as<std::string>());
    }
    net::listen_options opts;
    opts.reuse_address = true;
    opts.balancing = cfg["balancing"].as<std::string>() == "reuse-port" ? net::load_balancing::reuse_port
                                                                        : net::load_balancing::spread;
    // Shard 0 listens first: with port 0 the kernel picks the port the others then use.
    start_shard(net::socket_address(*ip, std::uint16_t(cfg["port"].as<unsigned>())), opts);
    auto addr = tl_server->listener.local_address();
    co_await smp::invoke_on_others([addr, opts] { start_shard(addr, opts); });
    fmt::print("listening on {}\n", addr);
    std::fflush(stdout);

    int code = co_await app_template::stop_requested();
    co_await smp::invoke_on_all([] { return stop_shard(); });
    co_return code;
}

// One client connection: `count` messages of `size` bytes, each echo checked.
future<> client_connection(net::socket_address to, unsigned id, unsigned count, unsigned size) {
    auto conn = co_await net::connect(to);
    auto in = conn.input();
    auto out = conn.output();
    std::string msg(size, '\0');
    for (unsigned i = 0; i < count; ++i) {
        for (unsigned k = 0; k < size; ++k) {
            msg[k] = char('a' + (id + i + k) % 26);
        }
        co_await out.write(msg);
        co_await out.flush();
        auto back = co_await in.read_exactly(size);
        if (to_string_view(back) != msg) {
            throw std::runtime_error(fmt::format("connection {}: message {} came back different", id, i));
        }
    }
    co_await out.close();
    if (!(co_await in.read()).empty()) {
        throw std::runtime_error(fmt::format("connection {}: bytes after the last echo", id));
    }
}

future<int> run_client(const app_template& app) {
    auto& cfg = app.configuration();
    auto to = net::socket_address::parse(cfg["connect"].as<std::string>());
    if (!to) {
        throw std::invalid_argument("--connect: not an address (1.2.3.4:80, [::1]:80, unix:/path): " +
                                    cfg["connect"].as<std::string>());
    }
    unsigned connections = cfg["connections"].as<unsigned>();
    unsigned count = cfg["count"].as<unsigned>();
    unsigned size = cfg["size"].as<unsigned>();
    auto started = std::chrono::steady_clock::now();
    // Shard s runs the connections whose number is s modulo the number of shards.
    co_await smp::invoke_on_all([to = *to, connections, count, size]() -> future<> {
        std::vector<future<>> mine;
        for (unsigned id = this_shard_id(); id < connections; id += smp::count) {
            mine.push_back(client_connection(to, id, count, size));
        }
        std::exception_ptr failure;
        for (auto& f : mine) {
            auto r = co_await coroutine::as_future(std::move(f));
            if (r.failed() && !failure) {
                failure = r.get_exception();
            } else {
                r.ignore_ready_future();
            }
        }
        if (failure) {
            std::rethrow_exception(failure);
        }
    });
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    fmt::print("{} round trips of {} bytes on {} connections to {} in {:.1f} ms\n", std::uint64_t(count) * connections,
               size, connections, *to, ms);
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    app_template app({.name = "tcp_echo", .description = "a TCP echo server (default) or client (--connect)"});
    app.add_options()("port", value<unsigned>(10000u).max(65535), "server: port to listen on (0: any free port)")(
        "address", value<std::string>("127.0.0.1"), "server: address to listen on (0.0.0.0 or :: for every interface)")(
        "balancing", value<std::string>("spread").choices({"spread", "reuse-port"}),
        "server: one listening socket spread over the shards, or one SO_REUSEPORT socket per shard")(
        "connect", value<std::string>(), "client mode: the server's address (127.0.0.1:10000, [::1]:10000, unix:/path)")(
        "connections", value<unsigned>(4u).min(1), "client: connections, spread over the shards")(
        "count", value<unsigned>(100u), "client: messages per connection")(
        "size", value<unsigned>(64u).min(1), "client: bytes per message");
    return app.run(argc, argv, [&]() -> future<int> {
        if (!app.configuration()["connect"].empty()) {
            return run_client(app);
        }
        return run_server(app);
    });
}
