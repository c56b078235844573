// The abstract network API in one include: addresses, options, connections, listening
// and datagram sockets, and the network_stack interface with its registry. Network
// stacks (net-posix, net-native) implement it; <reef/net.hh> adds the default stack.
//   #include <reef/net/api.hh>
//   reef::future<> serve(reef::net::server_socket& ss);
#pragma once

#include <reef/net/connected_socket.hh>
#include <reef/net/inet_address.hh>
#include <reef/net/server_socket.hh>
#include <reef/net/socket_address.hh>
#include <reef/net/socket_options.hh>
#include <reef/net/stack.hh>
#include <reef/net/udp_channel.hh>
