// The socket handles' destructors, kept out of line so that users of the headers do not
// instantiate the implementations' deleters everywhere.
#include <reef/net/connected_socket.hh>
#include <reef/net/server_socket.hh>
#include <reef/net/udp_channel.hh>

namespace reef::net {

connected_socket::~connected_socket() = default;
server_socket::~server_socket() = default;
udp_channel::~udp_channel() = default;

}  // namespace reef::net
