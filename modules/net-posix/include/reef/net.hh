// Everything for networking with Reef: the abstract API (addresses, connections,
// listening and datagram sockets, network stacks), the default, kernel-socket stack,
// DNS (reef::net::dns) and TLS (reef::net::tls).
//   #include <reef/net.hh>
//   auto ss = reef::net::listen(reef::net::socket_address(reef::net::inet_address::loopback_ipv4(), 8080));
//   auto [conn, peer] = co_await ss.accept();
#pragma once

#include <reef/net/api.hh>
#include <reef/net/default_stack.hh>
#include <reef/net/dns.hh>
#include <reef/net/posix_stack.hh>
#include <reef/net/tls.hh>
