// server_socket: a listening socket's accept side on one shard. Network stacks
// implement server_socket_impl.
//   auto ss = stack.listen(addr, {});      // stack: a reef::net::network_stack
//   for (;;) { auto [conn, peer] = co_await ss.accept(); (void)serve(std::move(conn)); }
#pragma once

#include <memory>
#include <utility>

#include <reef/core/future.hh>
#include <reef/net/connected_socket.hh>
#include <reef/net/socket_address.hh>

namespace reef::net {

/// A connection accepted by server_socket::accept(), and where it comes from.
struct accept_result {
    connected_socket connection;
    socket_address remote_address;
};

/// What a network stack implements for a listening socket. Owner shard only.
class server_socket_impl {
public:
    virtual ~server_socket_impl() = default;
    /// The next connection for this shard. One accept() at a time.
    virtual future<accept_result> accept() = 0;
    /// Fails the pending accept() and every later one with
    /// std::system_error(ECONNABORTED), and stops taking connections for this shard.
    virtual void abort_accept() = 0;
    /// The address the socket is bound to (with the port the kernel chose for port 0).
    virtual socket_address local_address() const = 0;
};

/// A move-only handle owning a server_socket_impl; destroying it stops listening on
/// this shard (as abort_accept() does). Owner shard only.
class server_socket {
public:
    server_socket() noexcept = default;
    /// Takes ownership of `impl`.
    explicit server_socket(std::unique_ptr<server_socket_impl> impl) noexcept : impl_(std::move(impl)) {}
    server_socket(server_socket&&) noexcept = default;
    server_socket& operator=(server_socket&&) noexcept = default;
    ~server_socket();

    /// The next connection for this shard. Fails with std::system_error: ECONNABORTED
    /// after abort_accept(), EMFILE and the like when the process is out of resources.
    /// One accept() at a time; may allocate.
    future<accept_result> accept() { return impl_->accept(); }
    /// See server_socket_impl::abort_accept(). Idempotent.
    void abort_accept() { impl_->abort_accept(); }
    /// See server_socket_impl::local_address().
    socket_address local_address() const { return impl_->local_address(); }

    /// True when the handle holds a listening socket.
    explicit operator bool() const noexcept { return bool(impl_); }
    /// The implementation, for stacks and adapters.
    server_socket_impl* impl() const noexcept { return impl_.get(); }

private:
    std::unique_ptr<server_socket_impl> impl_;
};

}  // namespace reef::net
