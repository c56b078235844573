// server: listeners and their accept loops, the connection list, the periodic sweep that
// enforces the timeouts, graceful stop, and the server's metrics.
#include <reef/http/server.hh>

#include <algorithm>
#include <set>
#include <stdexcept>

#include <fmt/core.h>

#include <reef/core/coroutine.hh>
#include <reef/net/default_stack.hh>
#include <reef/reactor/log.hh>
#include <reef/reactor/sleep.hh>
#include <reef/reactor/smp.hh>

#include "connection.hh"
#include "http_date.hh"

namespace reef::http {

namespace {

logger& server_log() {
    static logger log("http-server");
    return log;
}

// The metrics names of the servers alive on this shard (so that two get two labels).
thread_local std::set<std::string> tl_metrics_names;

std::string claim_metrics_name(const std::string& wanted) {
    std::string name = wanted;
    for (unsigned n = 2; tl_metrics_names.count(name); ++n) {
        name = fmt::format("{}-{}", wanted, n);
    }
    tl_metrics_names.insert(name);
    return name;
}

// The sweep runs often enough to end a wait within a quarter of its timeout.
std::chrono::milliseconds sweep_period(const server_config& cfg) {
    auto shortest = std::min({cfg.header_timeout, cfg.idle_timeout, cfg.body_timeout, cfg.write_timeout});
    return std::clamp(shortest / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
}

}  // namespace

server::server(server_config cfg)
    : cfg_(std::move(cfg)),
      common_(std::make_unique<srv::common_headers>(cfg_.server_name)),
      sweeper_([this] { sweep(); }) {
    metrics_name_ = claim_metrics_name(cfg_.metrics_name);
    register_metrics();
    sweeper_.arm_periodic(sweep_period(cfg_));
}

server::~server() {
    sweeper_.cancel();
    tl_metrics_names.erase(metrics_name_);
}

void server::register_metrics() {
    using metrics::label_set;
    label_set base{{"server", metrics_name_}};
    struct counted {
        std::string_view name;
        std::string_view help;
        std::uint64_t server_stats::*field;
    };
    static constexpr counted counters[] = {
        {"http_requests_total", "HTTP requests answered", &server_stats::requests},
        {"http_connections_total", "HTTP connections accepted", &server_stats::connections_total},
        {"http_received_bytes_total", "Bytes read from HTTP clients", &server_stats::bytes_received},
        {"http_sent_bytes_total", "Bytes written to HTTP clients", &server_stats::bytes_sent},
        {"http_timeouts_total", "HTTP connections ended by a header, idle, body or write timeout",
         &server_stats::timeouts},
        {"http_handler_errors_total", "HTTP handlers that failed", &server_stats::handler_errors},
    };
    for (auto& c : counters) {
        metrics_.push_back(metrics::make_counter(
            std::string(c.name), [this, f = c.field] { return double(stats_.*f); }, std::string(c.help),
            base));
    }
    metrics_.push_back(metrics::make_gauge(
        "http_connections_open", [this] { return double(stats_.connections_open); },
        "HTTP connections being served", base));
    static constexpr std::string_view classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    for (std::size_t i = 0; i < 5; ++i) {
        label_set l = base;
        l.push_back({"class", std::string(classes[i])});
        metrics_.push_back(metrics::make_counter(
            "http_replies_total", [this, i] { return double(stats_.replies[i]); },
            "HTTP replies by status class", std::move(l)));
    }
}

net::socket_address server::listen(const net::socket_address& addr, const net::listen_options& opts) {
    if (stopping_) {
        throw std::logic_error("http::server::listen() after stop()");
    }
    auto ss = net::listen(addr, opts);
    auto bound = ss.local_address();
    serve(std::move(ss));
    return bound;
}

net::socket_address server::listen(const net::socket_address& addr, const net::tls::server_credentials& creds,
                                   const net::listen_options& opts, net::tls::tls_options tls) {
    if (stopping_) {
        throw std::logic_error("http::server::listen() after stop()");
    }
    if (tls.alpn_protocols.empty()) {
        tls.alpn_protocols.push_back("http/1.1");
    }
    auto ss = net::tls::listen(creds, addr, opts, std::move(tls));
    auto bound = ss.local_address();
    serve(std::move(ss));
    return bound;
}

void server::serve(net::server_socket listener) {
    if (stopping_) {
        throw std::logic_error("http::server::serve() after stop()");
    }
    listeners_.push_back(std::move(listener));
    accepting_.push_back(accept_loop(listeners_.back()));
}

future<> server::accept_loop(net::server_socket& listener) {
    for (;;) {
        auto accepted = co_await coroutine::as_future(listener.accept());
        if (accepted.failed()) {
            auto e = accepted.get_exception();
            if (stopping_) {
                co_return;
            }
            try {
                std::rethrow_exception(e);
            } catch (const std::system_error& se) {
                if (se.code().value() == ECONNABORTED) {
                    co_return;
                }
                // EMFILE and friends: wait a little rather than spin.
                server_log().warn("accept failed: {}", se.what());
            } catch (const std::exception& ex) {
                server_log().warn("accept failed: {}", ex.what());
            }
            co_await sleep(std::chrono::milliseconds(10));
            continue;
        }
        auto [sock, peer] = accepted.get();
        ++stats_.connections_total;
        if (stopping_ || (cfg_.max_connections && stats_.connections_open >= cfg_.max_connections)) {
            continue;  // dropping the socket closes it
        }
        std::unique_ptr<srv::connection> c;
        try {
            c = std::make_unique<srv::connection>(*this, std::move(sock));
        } catch (const std::exception& ex) {
            server_log().warn("connection from {} refused: {}", peer, ex.what());
            continue;
        }
        gate_.enter();
        c->self = connections_.insert(connections_.end(), c.get());
        ++stats_.connections_open;
        (void)run_connection(std::move(c));
    }
}

future<> server::run_connection(std::unique_ptr<srv::connection> c) {
    co_await c->serve();
    connections_.erase(c->self);
    --stats_.connections_open;
    c.reset();
    gate_.leave();
}

void server::sweep() noexcept {
    auto now = lowres_clock::now();
    for (auto* c : connections_) {
        auto p = c->phase();
        if (p != srv::conn_phase::handling && p != srv::conn_phase::done && now >= c->deadline()) {
            c->expire();
        }
    }
}

future<> server::stop() {
    if (stopping_) {
        co_return;
    }
    stopping_ = true;
    for (auto& l : listeners_) {
        l.abort_accept();
    }
    for (auto& f : accepting_) {
        co_await std::move(f);
    }
    accepting_.clear();
    for (auto* c : connections_) {
        c->stop_if_idle();
    }
    // Requests in flight get stop_timeout to finish; then their connections are cut.
    timer<lowres_clock> cutter([this] {
        for (auto* c : connections_) {
            c->cut();
        }
    });
    cutter.arm(lowres_clock::now() + cfg_.stop_timeout);
    co_await gate_.close();
    cutter.cancel();
    sweeper_.cancel();
    listeners_.clear();
}

future<net::socket_address> listen_on_all_shards(sharded<server>& servers, net::socket_address addr,
                                                 net::listen_options opts) {
    // Shard 0 first: with port 0 the kernel picks the port the other shards then use.
    auto bound = co_await servers.invoke_on(0, [addr, opts](server& s) { return s.listen(addr, opts); });
    co_await servers.invoke_on_all([bound, opts](server& s) {
        if (this_shard_id() != 0) {
            s.listen(bound, opts);
        }
    });
    co_return bound;
}

future<net::socket_address> listen_on_all_shards(sharded<server>& servers, net::socket_address addr,
                                                 net::tls::server_credentials creds, net::listen_options opts,
                                                 net::tls::tls_options tls) {
    auto bound = co_await servers.invoke_on(
        0, [addr, creds, opts, tls](server& s) { return s.listen(addr, creds, opts, tls); });
    co_await servers.invoke_on_all([bound, creds, opts, tls](server& s) {
        if (this_shard_id() != 0) {
            s.listen(bound, creds, opts, tls);
        }
    });
    co_return bound;
}

}  // namespace reef::http
