// Forward declarations of the abstract network API (reef::net), for headers that only
// name its types.
//   #include <reef/net/fwd.hh>
//   reef::future<reef::net::connected_socket> dial(const reef::net::socket_address& to);
#pragma once

namespace reef::net {

class inet_address;
class socket_address;
struct keepalive_params;
struct listen_options;
struct connect_options;
struct udp_options;
struct input_options;
class connected_socket_impl;
class connected_socket;
class server_socket_impl;
class server_socket;
struct accept_result;
struct datagram;
class udp_channel_impl;
class udp_channel;
class network_stack;
class network_stack_registry;

}  // namespace reef::net
