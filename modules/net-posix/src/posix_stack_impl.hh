// The kernel-socket stack's operations, one file each, called by posix_network_stack.
// Private to net-posix.
#pragma once

#include <reef/core/future.hh>
#include <reef/net/connected_socket.hh>
#include <reef/net/server_socket.hh>
#include <reef/net/socket_address.hh>
#include <reef/net/socket_options.hh>
#include <reef/net/udp_channel.hh>

namespace reef::net::posix {

/// See network_stack::listen() (posix_server_socket.cc).
server_socket listen(const socket_address& addr, const listen_options& opts);
/// See network_stack::connect() (posix_connect.cc).
future<connected_socket> connect(const socket_address& remote, const socket_address& local, const connect_options& opts);
/// See network_stack::make_udp_channel() (posix_udp_channel.cc).
udp_channel make_udp_channel(const socket_address& local, const udp_options& opts);

}  // namespace reef::net::posix
