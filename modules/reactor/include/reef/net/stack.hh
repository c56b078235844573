// network_stack: what a network implementation (the kernel's sockets, a user-space
// TCP/IP stack) provides, and the registry that says which one a program uses.
//   reef::net::network_stack_registry::add("native", [] { return make_native_stack(); }, true);
//   auto* stack = reef::net::network_stack_registry::current();   // this shard's instance
//   auto conn = co_await stack->connect(addr, {}, {});
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <reef/core/future.hh>
#include <reef/net/connected_socket.hh>
#include <reef/net/server_socket.hh>
#include <reef/net/socket_address.hh>
#include <reef/net/socket_options.hh>
#include <reef/net/udp_channel.hh>

namespace reef::net {

/// A network implementation. One instance per shard (network_stack_registry makes
/// them); each call is made on that shard and its results belong to it.
class network_stack {
public:
    virtual ~network_stack() = default;

    /// The name it is registered under ("posix", "native", ...).
    virtual std::string_view name() const noexcept = 0;

    /// Listens on `addr` for this shard. Every shard that wants connections of that
    /// address calls listen() itself; opts.balancing says how connections are spread
    /// over them. Throws std::system_error (EADDRINUSE, EACCES, EADDRNOTAVAIL, ...).
    virtual server_socket listen(const socket_address& addr, const listen_options& opts) = 0;

    /// Connects to `remote`, from `local` unless it is unspecified. Fails with
    /// std::system_error: ECONNREFUSED, ETIMEDOUT, ENETUNREACH, ENOENT (no such unix
    /// path), ...
    virtual future<connected_socket> connect(const socket_address& remote, const socket_address& local,
                                             const connect_options& opts) = 0;

    /// A datagram socket bound to `local` (port 0: the kernel picks one). Its family is
    /// `local`'s. Throws std::system_error.
    virtual udp_channel make_udp_channel(const socket_address& local, const udp_options& opts) = 0;
};

/// The process-wide list of network stacks by name, and the default one. Any thread;
/// registration takes a lock, current() does not (after a shard's first call).
class network_stack_registry {
public:
    /// Makes one shard's instance of a stack; called on that shard.
    using factory = std::function<std::unique_ptr<network_stack>()>;

    /// Registers `f` under `name`, replacing a stack of that name. It becomes the
    /// default when `make_default` is set or when no default was chosen yet.
    static void add(std::string name, factory f, bool make_default = false);
    /// True when a stack called `name` is registered.
    static bool contains(std::string_view name);
    /// The registered names, sorted.
    static std::vector<std::string> names();
    /// Makes `name` the default. Throws std::invalid_argument for an unknown name.
    static void set_default(std::string_view name);
    /// The default's name; empty when nothing is registered.
    static std::string default_name();

    /// This shard's instance of the default stack: made on the shard's first call, and
    /// again after the default changes. nullptr when nothing is registered. The
    /// instance lives until the thread ends.
    static network_stack* current();
};

}  // namespace reef::net
