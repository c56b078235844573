// The Seastar peer of benchmarks/net_bench_echo_server.cc, written for net_bench against
// Seastar's public API: one listener on --address:--port, and every connection sends back
// whatever it reads (read, write, flush) until the peer closes. Prints "ready PORT" once it
// listens; SIGTERM stops it (accepting ends, open connections are shut down, exit 0).
// Built by benchmarks/peers/seastar_peer.py's compile() against a Seastar build's
// seastar.pc (benchmarks/net_bench_peers.py does it); nothing of it is linked into Reef.
//   seastar_echo-HASH --smp 1 --cpuset 0 --reactor-backend epoll --port 0
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <list>
#include <string>

#include <seastar/core/app-template.hh>
#include <seastar/core/coroutine.hh>
#include <seastar/core/future-util.hh>
#include <seastar/core/gate.hh>
#include <seastar/core/seastar.hh>
#include <seastar/core/signal.hh>
#include <seastar/net/api.hh>
#include <seastar/net/inet_address.hh>

namespace ss = seastar;

namespace {

// The listener and the connections it serves (one shard: --smp 1, as net_bench runs it).
struct echo_server {
    ss::server_socket listener;
    std::list<ss::connected_socket*> open;  // shut down when stopping
    ss::gate serving;
    std::uint64_t failures = 0;
};

ss::future<> serve(echo_server& srv, ss::connected_socket conn) {
    auto self = srv.open.insert(srv.open.end(), &conn);
    auto in = conn.input();
    auto out = conn.output();
    bool failed = false;
    try {
        for (;;) {
            auto buf = co_await in.read();
            if (buf.empty()) {
                break;
            }
            co_await out.write(std::move(buf));
            co_await out.flush();
        }
    } catch (...) {
        failed = true;  // a reset by the load generator ends this connection only
    }
    // Seastar's output_stream must be closed before it is destroyed, also after a failure.
    try {
        co_await out.close();
    } catch (...) {
        failed = true;
    }
    srv.failures += failed ? 1 : 0;
    srv.open.erase(self);
}

ss::future<> accept_all(echo_server& srv) {
    for (;;) {
        ss::accept_result accepted;
        try {
            accepted = co_await srv.listener.accept();
        } catch (...) {
            co_return;  // abort_accept() once stopping
        }
        (void)ss::with_gate(srv.serving, [&srv, c = std::move(accepted.connection)]() mutable {
            return serve(srv, std::move(c));
        });
    }
}

ss::future<int> run(ss::app_template& app) {
    auto& cfg = app.configuration();
    auto address = cfg["address"].as<std::string>();
    auto port = cfg["port"].as<unsigned>();
    if (port > 65535) {
        std::fprintf(stderr, "seastar_echo: --port out of range\n");
        co_return 2;
    }
    ss::promise<> stop_requested;
    ss::handle_signal(SIGTERM, [&stop_requested] { stop_requested.set_value(); }, true);
    ss::handle_signal(SIGINT, [&stop_requested] { stop_requested.set_value(); }, true);

    echo_server srv;
    ss::listen_options opts;
    opts.reuse_address = true;
    srv.listener = ss::listen(ss::socket_address(ss::net::inet_address(address), std::uint16_t(port)), opts);
    auto accepting = accept_all(srv);
    std::printf("ready %u\n", unsigned(srv.listener.local_address().port()));
    std::fflush(stdout);

    co_await stop_requested.get_future();
    srv.listener.abort_accept();
    co_await std::move(accepting);
    for (auto* c : srv.open) {
        c->shutdown_input();
    }
    co_await srv.serving.close();
    if (srv.failures != 0) {
        std::fprintf(stderr, "seastar_echo: %llu connections failed\n", (unsigned long long)srv.failures);
    }
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    ss::app_template::seastar_options opts;
    opts.name = "seastar_echo";
    opts.description = "net_bench's Seastar echo server";
    opts.auto_handle_sigint_sigterm = false;
    ss::app_template app(std::move(opts));
    namespace po = boost::program_options;
    app.add_options()("port", po::value<unsigned>()->default_value(0), "port to listen on (0: any free port)")(
        "address", po::value<std::string>()->default_value("127.0.0.1"), "address to listen on");
    return app.run(argc, argv, [&app] { return run(app); });
}
