// The kernel-socket network stack: TCP, UDP and unix-domain sockets driven by this
// shard's reactor backend (ring operations on io_uring, readiness plus non-blocking
// calls on epoll and aio). Registered as "posix"; the default stack unless replaced.
//   reef::net::register_posix_stack();      // lists it in network_stack_registry::names()
//   auto stack = reef::net::make_posix_stack();
#pragma once

#include <memory>
#include <string_view>

#include <reef/net/stack.hh>

namespace reef::net {

/// The name the kernel-socket stack is registered under.
inline constexpr std::string_view posix_stack_name = "posix";

/// A new instance of the kernel-socket stack, for one shard. It keeps no state of its
/// own: its sockets belong to the shard that made them.
std::unique_ptr<network_stack> make_posix_stack();

/// Registers the kernel-socket stack in network_stack_registry under "posix"; it
/// becomes the default only if no default was chosen. Idempotent; any thread.
void register_posix_stack();

}  // namespace reef::net
