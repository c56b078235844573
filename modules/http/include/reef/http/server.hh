// reef::http::server: an HTTP/1.1 server on one shard: accepts connections from its
// listeners, parses requests (pipelined), routes them to handlers and writes the replies
// of a pipelined batch with one send. Run one per shard with sharded<server>.
//   reef::sharded<reef::http::server> srv;
//   co_await srv.start(reef::http::server_config{});
//   co_await srv.invoke_on_all([](reef::http::server& s) { s.router().get("/", hello); });
//   auto addr = co_await reef::http::listen_on_all_shards(srv,
//   *reef::net::socket_address::parse("127.0.0.1:10000")); co_await srv.stop();   // graceful: in-flight
//   requests finish, idle connections close
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include <reef/core/future.hh>
#include <reef/core/gate.hh>
#include <reef/http/parser.hh>
#include <reef/http/routes.hh>
#include <reef/net/server_socket.hh>
#include <reef/net/socket_address.hh>
#include <reef/net/socket_options.hh>
#include <reef/net/tls.hh>
#include <reef/reactor/metrics.hh>
#include <reef/reactor/sharded.hh>
#include <reef/reactor/timer.hh>

namespace reef::http {

namespace srv {
class connection;
class common_headers;
}  // namespace srv

/// Limits and timeouts of a server. Copied to each shard.
struct server_config {
    /// The `Server` header's value ("" for none).
    std::string server_name = "reef";
    /// The `server` label of the server's metrics; two servers on one shard need
    /// different names (the second gets "-2" appended, and so on).
    std::string metrics_name = "http";
    /// Request line, header and body limits (parser errors answer 400, 413, 414, 431,
    /// 501 or 505 and close the connection).
    parser_limits limits;
    /// From the first byte of a request (or from accepting the connection) until its
    /// head is complete. Then: 408 and close.
    std::chrono::milliseconds header_timeout{10'000};
    /// How long a keep-alive connection may wait for its next request. Then: close.
    std::chrono::milliseconds idle_timeout{60'000};
    /// How long one read of a request body may wait for bytes. Then the body read fails
    /// with request_timeout_error (408 and close).
    std::chrono::milliseconds body_timeout{30'000};
    /// How long sending a reply may wait for the client to read. Then: close.
    std::chrono::milliseconds write_timeout{60'000};
    /// How long stop() lets in-flight requests finish before it cuts their connections.
    std::chrono::milliseconds stop_timeout{10'000};
    /// Connections a shard serves at once; more are accepted and closed at once (0: no
    /// limit).
    std::size_t max_connections = 0;
    /// Requests served on one connection before it is closed (0: no limit).
    std::size_t max_requests_per_connection = 0;
    /// Unread request body bytes the server reads and drops after a reply to keep the
    /// connection; a longer rest closes the connection instead.
    std::uint64_t max_discard = 256 * 1024;
    /// Bytes of replies gathered before they are sent (pipelined replies go out
    /// together up to this much).
    std::size_t write_batch = 16 * 1024;
};

/// What a shard's server counted since it started.
struct server_stats {
    std::uint64_t requests = 0;           ///< requests answered (parse errors included)
    std::uint64_t replies[5] = {};        ///< replies by class: 1xx (100 Continue not counted) .. 5xx
    std::uint64_t connections_total = 0;  ///< connections accepted
    std::uint64_t connections_open = 0;   ///< connections being served now
    std::uint64_t bytes_received = 0;     ///< bytes read from clients
    std::uint64_t bytes_sent = 0;         ///< bytes written to clients (head and body)
    std::uint64_t timeouts = 0;           ///< connections ended by a header, idle, body or write timeout
    std::uint64_t handler_errors = 0;     ///< handlers that failed (answered 500 or their error status)
};

/// One shard's HTTP server. Owner shard only; made and stopped on its shard (sharded<>
/// does both). Routes are set before serving (router()).
class server {
public:
    /// A server with `cfg`. Registers its metrics on this shard.
    explicit server(server_config cfg = {});
    server(const server&) = delete;
    server& operator=(const server&) = delete;
    ~server();

    /// The routing table of this shard's server.
    routes& router() noexcept { return routes_; }
    /// The configuration.
    const server_config& config() const noexcept { return cfg_; }
    /// The counters.
    const server_stats& stats() const noexcept { return stats_; }

    /// Listens on `addr` on this shard (net::listen) and serves its connections.
    /// Returns the bound address (useful with port 0). Throws std::system_error
    /// (EADDRINUSE, ...), or std::logic_error after stop().
    net::socket_address listen(const net::socket_address& addr,
                               const net::listen_options& opts = default_listen());
    /// Listens with TLS (net::tls::listen): HTTPS. As listen().
    net::socket_address listen(const net::socket_address& addr, const net::tls::server_credentials& creds,
                               const net::listen_options& opts = default_listen(),
                               net::tls::tls_options tls = {});
    /// Serves the connections of an existing listener.
    void serve(net::server_socket listener);

    /// Stops gracefully: stops accepting, closes connections waiting for a request,
    /// lets requests in flight finish and closes their connections after their reply;
    /// after config().stop_timeout, cuts the connections still open. Resolves when every
    /// connection is gone. Idempotent.
    future<> stop();

    /// Listening options with SO_REUSEADDR.
    static net::listen_options default_listen() {
        net::listen_options o;
        o.reuse_address = true;
        return o;
    }

private:
    friend class srv::connection;
    future<> accept_loop(net::server_socket& listener);
    future<> run_connection(std::unique_ptr<srv::connection> c);
    void sweep() noexcept;
    void register_metrics();

    server_config cfg_;
    routes routes_;
    server_stats stats_;
    std::unique_ptr<srv::common_headers> common_;  // the Server and Date lines of every reply
    std::list<net::server_socket> listeners_;
    std::vector<future<>> accepting_;
    std::list<srv::connection*> connections_;
    gate gate_;
    timer<lowres_clock> sweeper_;
    bool stopping_ = false;
    std::string metrics_name_;
    std::vector<metrics::registration> metrics_;
};

/// Starts listening on `addr` on every shard of `servers` (shard 0 first, so that port 0
/// picks one port for all; connections are spread over the shards by net-posix
/// balancing) and returns the bound address.
future<net::socket_address> listen_on_all_shards(sharded<server>& servers, net::socket_address addr,
                                                 net::listen_options opts = server::default_listen());

/// As listen_on_all_shards(), with TLS (each shard gets a copy of the credentials
/// handle, which shares one GnuTLS object).
future<net::socket_address> listen_on_all_shards(sharded<server>& servers, net::socket_address addr,
                                                 net::tls::server_credentials creds,
                                                 net::listen_options opts = server::default_listen(),
                                                 net::tls::tls_options tls = {});

}  // namespace reef::http
