// connected_socket: one end of a stream connection (TCP or unix), read and written
// through input_stream / output_stream. Network stacks implement connected_socket_impl.
//   auto in = sock.input();  auto out = sock.output();
//   auto buf = co_await in.read();   co_await out.write(buf.get(), buf.size());
//   co_await out.close();            // flushes, then shuts the sending side down (FIN)
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

#include <reef/core/data_sink.hh>
#include <reef/core/data_source.hh>
#include <reef/core/input_stream.hh>
#include <reef/core/output_stream.hh>
#include <reef/net/socket_address.hh>
#include <reef/net/socket_options.hh>

namespace reef::net {

/// What a network stack implements for a connection. Owner shard only. The options
/// calls are synchronous and throw std::system_error when the stack refuses them; on a
/// socket where an option has no meaning (TCP_NODELAY on a unix socket) a setter does
/// nothing and the getter returns false / zero.
class connected_socket_impl {
public:
    virtual ~connected_socket_impl() = default;

    /// A source reading the connection: buffers as they arrive, an empty buffer at the
    /// peer's orderly close. Fails with the connection's error (ECONNRESET, ...). The
    /// source keeps the connection open while it exists.
    virtual data_source source(const input_options& opts) = 0;
    /// A sink writing the connection, preferring buffers of `buffer_size` bytes. Its
    /// close() shuts the sending side down after the queued bytes are sent. The sink
    /// keeps the connection open while it exists.
    virtual data_sink sink(std::size_t buffer_size) = 0;

    /// shutdown(SHUT_RD): a pending or later read returns end of stream.
    virtual void shutdown_input() = 0;
    /// shutdown(SHUT_WR): the peer reads end of stream. Bytes still queued in a sink
    /// are not sent: close the output stream instead to send them first.
    virtual void shutdown_output() = 0;

    virtual void set_nodelay(bool on) = 0;
    virtual bool get_nodelay() const = 0;
    virtual void set_keepalive(bool on) = 0;
    virtual bool get_keepalive() const = 0;
    virtual void set_keepalive_parameters(const keepalive_params& p) = 0;
    virtual keepalive_params get_keepalive_parameters() const = 0;
    virtual void set_send_buffer_size(std::size_t bytes) = 0;
    virtual std::size_t get_send_buffer_size() const = 0;
    virtual void set_receive_buffer_size(std::size_t bytes) = 0;
    virtual std::size_t get_receive_buffer_size() const = 0;

    virtual socket_address local_address() const = 0;
    virtual socket_address remote_address() const = 0;
};

/// A stream connection: a move-only handle owning a connected_socket_impl. The
/// connection closes when the handle and every stream made from it are gone (close
/// the output stream first, or queued bytes are lost). Owner shard only. A default-
/// constructed handle holds nothing and must not be used until assigned.
class connected_socket {
public:
    connected_socket() noexcept = default;
    /// Takes ownership of `impl`.
    explicit connected_socket(std::unique_ptr<connected_socket_impl> impl) noexcept : impl_(std::move(impl)) {}
    connected_socket(connected_socket&&) noexcept = default;
    connected_socket& operator=(connected_socket&&) noexcept = default;
    ~connected_socket();

    /// A stream reading the connection. Make one per connection: two streams would
    /// each get part of the bytes.
    input_stream<char> input(const input_options& opts = {}) { return input_stream<char>(impl_->source(opts)); }
    /// A stream writing the connection through a buffer of `buffer_size` bytes; small
    /// writes are batched, large ones go out without a copy. Make one per connection.
    /// Its close() flushes and then shuts the sending side down.
    output_stream<char> output(std::size_t buffer_size = 8192) {
        return output_stream<char>(impl_->sink(buffer_size), buffer_size);
    }

    /// See connected_socket_impl::shutdown_input() / shutdown_output().
    void shutdown_input() { impl_->shutdown_input(); }
    void shutdown_output() { impl_->shutdown_output(); }

    /// TCP_NODELAY: send small segments at once instead of waiting to fill them.
    void set_nodelay(bool on) { impl_->set_nodelay(on); }
    bool get_nodelay() const { return impl_->get_nodelay(); }
    /// SO_KEEPALIVE: probe an idle connection (timing: set_keepalive_parameters()).
    void set_keepalive(bool on) { impl_->set_keepalive(on); }
    bool get_keepalive() const { return impl_->get_keepalive(); }
    void set_keepalive_parameters(const keepalive_params& p) { impl_->set_keepalive_parameters(p); }
    keepalive_params get_keepalive_parameters() const { return impl_->get_keepalive_parameters(); }
    /// SO_SNDBUF / SO_RCVBUF. The getters return what the kernel reports (Linux
    /// reserves twice the size asked for, for its bookkeeping).
    void set_send_buffer_size(std::size_t bytes) { impl_->set_send_buffer_size(bytes); }
    std::size_t get_send_buffer_size() const { return impl_->get_send_buffer_size(); }
    void set_receive_buffer_size(std::size_t bytes) { impl_->set_receive_buffer_size(bytes); }
    std::size_t get_receive_buffer_size() const { return impl_->get_receive_buffer_size(); }

    /// This end's address, and the peer's.
    socket_address local_address() const { return impl_->local_address(); }
    socket_address remote_address() const { return impl_->remote_address(); }

    /// True when the handle holds a connection.
    explicit operator bool() const noexcept { return bool(impl_); }
    /// The implementation, for stacks and adapters (TLS) that wrap a connection.
    connected_socket_impl* impl() const noexcept { return impl_.get(); }

private:
    std::unique_ptr<connected_socket_impl> impl_;
};

}  // namespace reef::net
