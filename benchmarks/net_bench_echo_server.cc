// The Reef echo server that net_bench drives: every shard listens on --address:--port
// and sends back whatever a connection reads, as docs/net.md's serving loop does
// (read, write, flush). Prints "ready PORT" once every shard listens; SIGTERM stops it.
//   build/benchmarks/net_bench_echo_server --smp 1 --cpuset 0 --reactor-backend epoll --port 0
#include <cstdint>
#include <cstdio>
#include <list>
#include <memory>
#include <stdexcept>
#include <string>

#include <reef/core/gate.hh>
#include <reef/net.hh>
#include <reef/reactor.hh>

using namespace reef;

namespace {

// One shard's listener and the connections it serves.
struct echo_shard {
    net::server_socket listener;
    std::list<net::connected_socket*> open;  // owner shard only: shut down when stopping
    gate serving;
    future<> accepting = make_ready_future<>();
    std::uint64_t failures = 0;
};

thread_local std::unique_ptr<echo_shard> tl_shard;

future<> serve(net::connected_socket conn) {
    auto& sh = *tl_shard;
    auto self = sh.open.insert(sh.open.end(), &conn);
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
        // A reset by the load generator ends this connection only.
        ++sh.failures;
    }
    sh.open.erase(self);
}

future<> accept_all(echo_shard& sh) {
    for (;;) {
        auto r = co_await coroutine::as_future(sh.listener.accept());
        if (r.failed()) {
            r.ignore_ready_future();  // ECONNABORTED once stopping
            co_return;
        }
        auto accepted = r.get();
        (void)with_gate(sh.serving, [c = std::move(accepted.connection)]() mutable { return serve(std::move(c)); });
    }
}

void listen_here(const net::socket_address& addr, const net::listen_options& opts) {
    tl_shard = std::make_unique<echo_shard>();
    tl_shard->listener = net::listen(addr, opts);
    tl_shard->accepting = accept_all(*tl_shard);
}

future<std::uint64_t> stop_here() {
    auto& sh = *tl_shard;
    sh.listener.abort_accept();
    co_await std::move(sh.accepting);
    for (auto* c : sh.open) {
        c->shutdown_input();
    }
    co_await sh.serving.close();
    auto failures = sh.failures;
    tl_shard.reset();
    co_return failures;
}

future<int> run(const app_template& app) {
    auto& cfg = app.configuration();
    auto ip = net::inet_address::parse(cfg["address"].as<std::string>());
    if (!ip) {
        throw std::invalid_argument("--address: not an IP address");
    }
    net::listen_options opts{.reuse_address = true};
    // One shard keeps its connections to itself; several share the port through the kernel.
    opts.balancing = smp::count == 1 ? net::load_balancing::this_shard : net::load_balancing::reuse_port;
    listen_here(net::socket_address(*ip, std::uint16_t(cfg["port"].as<unsigned>())), opts);
    auto addr = tl_shard->listener.local_address();
    co_await smp::invoke_on_others([addr, opts] { listen_here(addr, opts); });
    std::printf("ready %u\n", unsigned(addr.port()));
    std::fflush(stdout);

    int code = co_await app_template::stop_requested();
    std::uint64_t failures = 0;
    for (unsigned s = 0; s < smp::count; ++s) {
        failures += co_await smp::submit_to(s, [] { return stop_here(); });
    }
    if (failures != 0) {
        std::fprintf(stderr, "net_bench_echo_server: %llu connections failed\n", (unsigned long long)failures);
    }
    co_return code;
}

}  // namespace

int main(int argc, char** argv) {
    app_template app({.name = "net_bench_echo_server", .description = "the Reef echo server of net_bench"});
    app.add_options()("port", value<unsigned>(0u).max(65535), "port to listen on (0: any free port)")(
        "address", value<std::string>("127.0.0.1"), "address to listen on");
    return app.run(argc, argv, [&] { return run(app); });
}
