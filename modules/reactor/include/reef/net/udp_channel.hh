// udp_channel: a datagram socket bound to a local address, sending to and receiving
// from any peer. Network stacks implement udp_channel_impl.
//   auto ch = stack.make_udp_channel(reef::net::socket_address(reef::net::inet_address::loopback_ipv4(), 0), {});
//   co_await ch.send(peer, reef::temporary_buffer<char>::copy_of("ping"));
//   auto d = co_await ch.receive();   // d.data, d.source
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include <reef/core/future.hh>
#include <reef/core/temporary_buffer.hh>
#include <reef/net/socket_address.hh>

namespace reef::net {

/// A received datagram and its sender.
struct datagram {
    temporary_buffer<char> data;
    socket_address source;
    /// The datagram was longer than udp_options::max_datagram_size and was cut.
    bool truncated = false;
};

/// What a network stack implements for a datagram socket. Owner shard only.
class udp_channel_impl {
public:
    virtual ~udp_channel_impl() = default;
    /// The next datagram. One receive() at a time.
    virtual future<datagram> receive() = 0;
    /// Sends the concatenation of `fragments` as one datagram to `to`. Calls may
    /// overlap: datagrams go out in call order.
    virtual future<> send(const socket_address& to, std::vector<temporary_buffer<char>> fragments) = 0;
    /// Stops receiving: the pending and later receive() fail with
    /// std::system_error(ESHUTDOWN). Stops sending: later send() fail with EPIPE.
    virtual void shutdown_input() = 0;
    virtual void shutdown_output() = 0;
    /// Closes the socket: pending calls fail with std::system_error(ECANCELED), later
    /// ones with EBADF. Idempotent.
    virtual void close() = 0;
    virtual bool is_closed() const noexcept = 0;
    /// The bound address (with the port the kernel chose for port 0).
    virtual socket_address local_address() const = 0;
};

/// A move-only handle owning a udp_channel_impl; destroying it closes the channel.
/// Owner shard only.
class udp_channel {
public:
    udp_channel() noexcept = default;
    /// Takes ownership of `impl`.
    explicit udp_channel(std::unique_ptr<udp_channel_impl> impl) noexcept : impl_(std::move(impl)) {}
    udp_channel(udp_channel&&) noexcept = default;
    udp_channel& operator=(udp_channel&&) noexcept = default;
    ~udp_channel();

    /// The next datagram, with its source. Fails with std::system_error (ECANCELED after
    /// close(), EBADF after it). One receive() at a time.
    future<datagram> receive() { return impl_->receive(); }
    /// Sends `data` as one datagram to `to`. Fails with std::system_error (EMSGSIZE for
    /// a datagram too large, EAFNOSUPPORT for a peer of the other family, ...).
    future<> send(const socket_address& to, temporary_buffer<char> data) {
        std::vector<temporary_buffer<char>> one;
        one.push_back(std::move(data));
        return impl_->send(to, std::move(one));
    }
    /// Sends the concatenation of `fragments` as one datagram to `to` (a gather write).
    future<> send(const socket_address& to, std::vector<temporary_buffer<char>> fragments) {
        return impl_->send(to, std::move(fragments));
    }
    /// See udp_channel_impl.
    void shutdown_input() { impl_->shutdown_input(); }
    void shutdown_output() { impl_->shutdown_output(); }
    void close() { impl_->close(); }
    bool is_closed() const noexcept { return impl_->is_closed(); }
    socket_address local_address() const { return impl_->local_address(); }

    /// True when the handle holds a channel.
    explicit operator bool() const noexcept { return bool(impl_); }
    /// The implementation, for stacks and adapters.
    udp_channel_impl* impl() const noexcept { return impl_.get(); }

private:
    std::unique_ptr<udp_channel_impl> impl_;
};

}  // namespace reef::net
