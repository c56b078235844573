// listen(), connect() and make_udp_channel() on this shard's default network stack: the
// kernel-socket stack unless another one was made the default in network_stack_registry.
//   auto ss = reef::net::listen(*reef::net::socket_address::parse("127.0.0.1:8080"));
//   auto conn = co_await reef::net::connect(ss.local_address());
#pragma once

#include <reef/core/future.hh>
#include <reef/net/connected_socket.hh>
#include <reef/net/server_socket.hh>
#include <reef/net/socket_address.hh>
#include <reef/net/socket_options.hh>
#include <reef/net/stack.hh>
#include <reef/net/udp_channel.hh>

namespace reef::net {

/// This shard's instance of the default stack (network_stack_registry::current()),
/// registering the kernel-socket stack first when no stack is registered.
network_stack& default_stack();

/// Listens on `addr` for this shard; see network_stack::listen(). Call it on every shard
/// that should receive connections (with the same address and balancing policy). Throws
/// std::system_error: EADDRINUSE, EACCES, EADDRNOTAVAIL, ...
server_socket listen(const socket_address& addr, const listen_options& opts = {});

/// Connects to `remote` (from `local` unless unspecified); see network_stack::connect().
/// Fails with std::system_error: ECONNREFUSED, ETIMEDOUT, ENOENT (unix path), ...
future<connected_socket> connect(const socket_address& remote, const socket_address& local = {},
                                 const connect_options& opts = {});

/// A datagram channel bound to `local` (port 0: any free port); see
/// network_stack::make_udp_channel(). Throws std::system_error.
udp_channel make_udp_channel(const socket_address& local, const udp_options& opts = {});
/// A datagram channel on the IPv4 wildcard address and a free port.
udp_channel make_udp_channel();

}  // namespace reef::net
