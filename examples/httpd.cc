// An HTTP/1.1 server on every shard.
//
// Routes: "/" answers "Hello, World!" in plain text, "/json" {"message":"Hello, World!"},
// "/static/*" the files of --static-dir (by default examples/httpd_root, whose
// index.html is at /static/), "/metrics" every shard's metrics in the Prometheus text
// format, and POST "/echo" streams the request's body back. Every shard listens on --address:--port
// (net-posix spreads the connections); port 0 picks a free port. The server prints "listening on ADDRESS"
// once every shard listens. With --tls-cert and --tls-key it serves HTTPS instead. SIGINT or SIGTERM stops it
// gracefully: no new connections, requests in flight finish, idle connections close.
//   build/examples/httpd --port 10000
//   curl http://127.0.0.1:10000/   curl http://127.0.0.1:10000/static/
#include <chrono>
#include <stdexcept>
#include <string>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <reef/http.hh>
#include <reef/net.hh>
#include <reef/reactor.hh>

#ifndef REEF_HTTPD_ROOT
#define REEF_HTTPD_ROOT "examples/httpd_root"
#endif

using namespace reef;

namespace {

// Plain functions returning ready futures: no coroutine frame, nothing allocated.
future<http::reply> hello(http::request&) {
    return make_ready_future<http::reply>(http::reply::text("Hello, World!"));
}

future<http::reply> hello_json(http::request&) {
    return make_ready_future<http::reply>(http::reply::json({{"message", "Hello, World!"}}));
}

// Streams the request's body back as it arrives (a chunked reply): bodies of any size
// pass through in constant memory.
future<http::reply> echo(http::request& req) {
    http::reply r;
    r.write_body("application/octet-stream", [&req](output_stream<char>& out) -> future<> {
        auto& in = req.body();
        while (auto b = co_await in.read()) {
            co_await out.write(std::move(b));
        }
    });
    return make_ready_future<http::reply>(std::move(r));
}

void add_routes(http::routes& r, const std::string& static_dir) {
    r.get("/", hello);
    r.get("/json", hello_json);
    r.post("/echo", echo);
    r.get("/static/*", http::file_handler(static_dir));
    r.get("/metrics", http::metrics_handler());
}

future<int> run(const app_template& app) {
    auto& cfg = app.configuration();
    auto ip = net::inet_address::parse(cfg["address"].as<std::string>());
    if (!ip) {
        throw std::invalid_argument("--address: not an IP address: " + cfg["address"].as<std::string>());
    }
    auto static_dir = cfg["static-dir"].as<std::string>();
    auto cert = cfg["tls-cert"].as<std::string>();
    auto key = cfg["tls-key"].as<std::string>();
    if (cert.empty() != key.empty()) {
        throw std::invalid_argument("--tls-cert and --tls-key go together");
    }

    http::server_config scfg;
    scfg.header_timeout = std::chrono::milliseconds(cfg["header-timeout-ms"].as<unsigned>());
    scfg.idle_timeout = std::chrono::milliseconds(cfg["idle-timeout-ms"].as<unsigned>());
    net::listen_options lopts = http::server::default_listen();
    if (cfg["balancing"].as<std::string>() == "reuse-port") {
        lopts.balancing = net::load_balancing::reuse_port;
    }

    sharded<http::server> servers;
    co_await servers.start(scfg);
    auto serve = [&]() -> future<net::socket_address> {
        co_await servers.invoke_on_all([static_dir](http::server& s) { add_routes(s.router(), static_dir); });
        net::socket_address at(*ip, std::uint16_t(cfg["port"].as<unsigned>()));
        if (cert.empty()) {
            co_return co_await http::listen_on_all_shards(servers, at, lopts);
        }
        // Loaded once; each shard's copy of the handle shares the GnuTLS credentials.
        net::tls::server_credentials creds;
        creds.set_x509_key_file(cert, key);
        creds.enable_session_resumption();  // clients coming back skip the certificate exchange
        co_return co_await http::listen_on_all_shards(servers, at, creds, lopts);
    };
    auto started = co_await coroutine::as_future(serve());  // `serve` lives in this frame
    if (started.failed()) {
        co_await servers.stop();
        std::rethrow_exception(started.get_exception());
    }
    fmt::print("listening on {}\n", started.get());
    std::fflush(stdout);

    int code = co_await app_template::stop_requested();
    co_await servers.stop();
    co_return code;
}

}  // namespace

int main(int argc, char** argv) {
    app_template app({.name = "httpd", .description = "an HTTP/1.1 server on every shard"});
    app.add_options()("port", value<unsigned>(10000u).max(65535), "TCP port to listen on (0: any free port)")(
        "address", value<std::string>("127.0.0.1"),
        "IP address to listen on (0.0.0.0 or :: for every interface)")(
        "static-dir", value<std::string>(REEF_HTTPD_ROOT), "directory served under /static/")(
        "balancing", value<std::string>("spread").choices({"spread", "reuse-port"}),
        "one listening socket spread over the shards, or one SO_REUSEPORT socket per shard")(
        "tls-cert", value<std::string>(""), "PEM certificate chain: serve HTTPS (with --tls-key)")(
        "tls-key", value<std::string>(""), "PEM private key of --tls-cert")(
        "header-timeout-ms", value<unsigned>(10000u), "time a client has to send a request head")(
        "idle-timeout-ms", value<unsigned>(60000u), "time a keep-alive connection may stay idle");
    return app.run(argc, argv, [&]() { return run(app); });
}
