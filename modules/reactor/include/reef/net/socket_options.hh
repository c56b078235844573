// The options of listening, connecting and datagram sockets, and of a connection's
// input stream, shared by every network stack.
//   reef::net::listen_options lo{.reuse_address = true, .balancing = reef::net::load_balancing::reuse_port};
//   reef::net::connect_options co{.timeout = std::chrono::seconds(5)};
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

namespace reef::net {

/// TCP keepalive timing: after `idle` without traffic, a probe every `interval`; the
/// connection fails with ETIMEDOUT after `count` unanswered probes. The defaults are
/// Linux's own.
struct keepalive_params {
    std::chrono::seconds idle{7200};
    std::chrono::seconds interval{75};
    unsigned count = 9;
    friend bool operator==(const keepalive_params&, const keepalive_params&) = default;
};

/// How the connections of one listening address are spread over the shards that
/// listen on it (every shard that wants connections calls listen() itself).
enum class load_balancing : unsigned char {
    /// One kernel listening socket, owned by the first shard that listened on the
    /// address; it accepts and hands each connection to the next listening shard
    /// (round robin, skipping a shard whose queue of unaccepted connections is full).
    /// When the owning shard's server_socket goes away, the socket closes and the other
    /// shards' accept() fail with ECONNABORTED.
    spread,
    /// A socket per shard with SO_REUSEPORT; the kernel hashes each connection to one
    /// of them. TCP only. Every shard's socket must use the same bound address.
    reuse_port,
    /// A socket accepted by this shard only, whose connections stay on it.
    this_shard,
};

/// Options of network_stack::listen().
struct listen_options {
    /// SO_REUSEADDR: bind even while connections of an earlier listener linger in
    /// TIME_WAIT.
    bool reuse_address = false;
    /// How connections reach the listening shards.
    load_balancing balancing = load_balancing::spread;
    /// The kernel's queue of connections not yet accepted (listen(2) backlog); also
    /// bounds the per-shard queue of the `spread` policy.
    int backlog = 1024;
    /// SO_SNDBUF / SO_RCVBUF of the accepted connections, in bytes (0: the kernel's
    /// default, which autotunes). Set on the listening socket, so that the window
    /// scale is negotiated for it.
    std::size_t send_buffer_size = 0;
    std::size_t receive_buffer_size = 0;
    /// TCP_NODELAY on accepted TCP connections (output streams batch writes already).
    bool nodelay = true;
    /// Enables keepalive on accepted TCP connections, with these parameters.
    std::optional<keepalive_params> keepalive;
};

/// Options of network_stack::connect().
struct connect_options {
    /// TCP_NODELAY (TCP only).
    bool nodelay = true;
    /// SO_SNDBUF / SO_RCVBUF in bytes, set before connecting (0: the kernel's default).
    std::size_t send_buffer_size = 0;
    std::size_t receive_buffer_size = 0;
    /// Enables keepalive with these parameters (TCP only).
    std::optional<keepalive_params> keepalive;
    /// Gives up after this long with std::system_error(ETIMEDOUT); zero: wait as long as
    /// the kernel does (minutes for an unanswered TCP SYN).
    std::chrono::milliseconds timeout{0};
};

/// Options of network_stack::make_udp_channel().
struct udp_options {
    /// SO_REUSEADDR.
    bool reuse_address = false;
    /// SO_SNDBUF / SO_RCVBUF in bytes (0: the kernel's default).
    std::size_t send_buffer_size = 0;
    std::size_t receive_buffer_size = 0;
    /// The largest datagram receive() returns whole; longer ones are cut to this size
    /// and flagged. The default holds any UDP datagram.
    std::size_t max_datagram_size = 65536;
};

/// How a connection's input stream reads: each read asks for between `min_read` and
/// `max_read` bytes, growing while reads fill their buffer and shrinking when they come
/// back mostly empty.
struct input_options {
    std::size_t min_read = 8192;
    std::size_t max_read = 65536;
};

}  // namespace reef::net
