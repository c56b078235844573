// What the server and client tests share: a sharded http::server started on 127.0.0.1
// with the test's routes for the length of a test body, and counters summed over shards.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>

#include <reef/core/coroutine.hh>
#include <reef/http/server.hh>
#include <reef/net/tls.hh>
#include <reef/reactor/sharded.hh>

namespace http_test {

using namespace reef;

inline net::socket_address loopback() {
    return net::socket_address(net::inet_address::loopback_ipv4(), 0);
}

/// Starts a server on every shard with `cfg` and the routes `add_routes` adds, listening
/// on 127.0.0.1 (HTTPS with `tls`); runs `fn(address, servers)`, then stops the servers
/// and rethrows what `fn` failed with.
template <typename Routes, typename Fn>
future<> with_server_routes(http::server_config cfg, Routes add_routes, Fn fn,
                            const net::tls::server_credentials* tls) {
    sharded<http::server> servers;
    co_await servers.start(cfg);
    co_await servers.invoke_on_all([add_routes](http::server& s) { add_routes(s.router()); });
    auto addr = tls ? co_await http::listen_on_all_shards(servers, loopback(), *tls)
                    : co_await http::listen_on_all_shards(servers, loopback());
    auto r = co_await coroutine::as_future(futurize_invoke(fn, addr, servers));
    co_await servers.stop();
    if (r.failed()) {
        std::rethrow_exception(r.get_exception());
    }
}

/// A counter summed over every shard's server.
inline future<std::uint64_t> total(sharded<http::server>& servers, std::uint64_t http::server_stats::*field) {
    return servers.map_reduce0([field](http::server& s) { return s.stats().*field; }, std::uint64_t(0),
                               std::plus<>());
}

}  // namespace http_test
