// A TLS echo server on every shard: reef::net::tls over the kernel-socket stack.
//
// Every shard listens on --address:--port (one listening socket whose connections are
// spread over the shards) with the certificate chain --cert and its key --key, and
// sends back whatever a client sends, over TLS. Port 0 picks a free port; the server
// prints "listening on ADDRESS" once every shard listens. With --client-ca, clients
// must present a certificate issued by one of that file's CAs. SIGINT or SIGTERM stops
// it: the shards stop accepting, end their connections with close_notify and exit.
//   build/examples/tls_echo --port 10443 --cert server.pem --key server.key
//   openssl s_client -connect 127.0.0.1:10443 -CAfile ca.pem -servername localhost
#include <list>
#include <stdexcept>
#include <string>

#include <fmt/core.h>

#include <reef/core/gate.hh>
#include <reef/net.hh>
#include <reef/reactor.hh>

using namespace reef;
namespace tls = reef::net::tls;

namespace {

// One shard's server. A sharded<> service: start() builds one per shard, stop() calls
// stop() on each.
class tls_echo_service {
public:
    explicit tls_echo_service(tls::server_credentials creds) : creds_(std::move(creds)) {}

    // Listens on `addr` (the same address on every shard) and starts accepting.
    net::socket_address listen(net::socket_address addr) {
        net::listen_options opts;
        opts.reuse_address = true;
        listener_ = tls::listen(creds_, addr, opts);
        accepting_ = accept_loop();
        return listener_.local_address();
    }

    future<> stop() {
        if (listener_) {
            listener_.abort_accept();
            co_await std::move(accepting_);
        }
        for (auto* c : live_) {
            c->shutdown_input();  // its pending read ends: the echo loop finishes
        }
        co_await connections_.close();
    }

private:
    future<> accept_loop() {
        for (;;) {
            auto accepted = co_await coroutine::as_future(listener_.accept());
            if (accepted.failed()) {
                accepted.ignore_ready_future();  // ECONNABORTED: we are stopping
                co_return;
            }
            auto a = accepted.get();
            (void)with_gate(connections_,
                            [this, c = std::move(a.connection)]() mutable { return serve(std::move(c)); });
        }
    }

    // Echoes one connection until the client's close_notify (or a stop), then sends its
    // own. A client that fails the handshake or vanishes without close_notify is
    // reported on stderr; the server goes on.
    future<> serve(net::connected_socket conn) {
        auto me = live_.insert(live_.end(), &conn);
        auto in = conn.input();
        auto out = conn.output();
        try {
            for (auto buf = co_await in.read(); !buf.empty(); buf = co_await in.read()) {
                co_await out.write(std::move(buf));
                co_await out.flush();
            }
            co_await out.close();
        } catch (const std::exception& e) {
            fmt::print(stderr, "connection from {}: {}\n", conn.remote_address(), e.what());
        }
        live_.erase(me);
    }

    tls::server_credentials creds_;
    net::server_socket listener_;
    future<> accepting_ = make_ready_future<>();
    std::list<net::connected_socket*> live_;
    gate connections_;
};

}  // namespace

int main(int argc, char** argv) {
    app_template app({.name = "tls_echo", .description = "a TLS echo server on every shard"});
    app.add_options()("port", value<unsigned>(10443u), "TCP port to listen on (0: any free port)")(
        "address", value<std::string>("127.0.0.1"), "IP address to listen on")(
        "cert", value<std::string>(), "PEM file with the server's certificate chain, leaf first")(
        "key", value<std::string>(), "PEM file with the certificate's private key")(
        "client-ca", value<std::string>(""), "PEM file of CAs whose client certificates are required");
    return app.run(argc, argv, [&]() -> future<int> {
        auto& cfg = app.configuration();
        auto ip = net::inet_address::parse(cfg["address"].as<std::string>());
        if (!ip) {
            throw std::invalid_argument("--address: not an IP address: " + cfg["address"].as<std::string>());
        }
        if (!cfg.contains("cert") || !cfg.contains("key")) {
            throw std::invalid_argument("--cert and --key are required");
        }
        // Loaded once; every shard's copy of the handle shares the GnuTLS credentials.
        tls::server_credentials creds;
        creds.set_x509_key_file(cfg["cert"].as<std::string>(), cfg["key"].as<std::string>());
        if (auto ca = cfg["client-ca"].as<std::string>(); !ca.empty()) {
            creds.set_x509_trust_file(ca);
            creds.set_client_auth(tls::client_auth::require);
        }

        sharded<tls_echo_service> service;
        co_await service.start(creds);
        // Shard 0 listens first: with port 0 the kernel picks the port the others use.
        auto addr =
            service.local().listen(net::socket_address(*ip, std::uint16_t(cfg["port"].as<unsigned>())));
        co_await service.invoke_on_others([addr](tls_echo_service& s) { s.listen(addr); });
        fmt::print("listening on {}\n", addr);
        std::fflush(stdout);

        int code = co_await app_template::stop_requested();
        co_await service.stop();
        co_return code;
    });
}
