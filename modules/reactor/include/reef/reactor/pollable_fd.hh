// pollable_fd: a non-blocking file descriptor driven by this shard's reactor backend.
// The primitives the network modules build on: readiness waits, reads, writes,
// sendmsg/recvmsg, accept and connect, each returning a future.
//   reef::pollable_fd fd(::socket(AF_INET, SOCK_STREAM, 0));
//   co_await fd.connect(addr, len); auto n = co_await fd.write_some(buf, size);
#pragma once

#include <sys/socket.h>

#include <cstddef>

#include <reef/core/future.hh>

namespace reef {

namespace detail {
struct fd_state;
}

class pollable_fd;

/// What accept() yields: the connected socket and the peer's address.
struct accept_result;

/// A file descriptor owned by one shard and registered with its reactor backend. Move-
/// only; destroying it (or close()) fails its pending operations with
/// std::system_error(ECANCELED) and closes the descriptor. Every operation must be
/// called on the owning shard. Failures are std::system_error with the errno.
class pollable_fd {
public:
    /// Holds nothing.
    pollable_fd() noexcept = default;
    /// Takes ownership of `fd`, makes it non-blocking and registers it with this
    /// shard's backend. Closes `fd` and throws std::system_error on failure. Needs a
    /// running reactor on this thread.
    explicit pollable_fd(int fd);
    /// Like pollable_fd(fd) for an fd already in non-blocking mode (skips fcntl).
    static pollable_fd from_nonblocking(int fd);
    pollable_fd(pollable_fd&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
    pollable_fd& operator=(pollable_fd&& o) noexcept;
    pollable_fd(const pollable_fd&) = delete;
    pollable_fd& operator=(const pollable_fd&) = delete;
    ~pollable_fd() { close(); }

    /// The descriptor, or -1.
    int get() const noexcept;
    explicit operator bool() const noexcept { return s_ != nullptr; }

    /// Declares the descriptor a byte stream (a TCP or unix stream socket, a pipe): a
    /// read_some() that returns fewer bytes than asked has emptied the kernel's buffer.
    /// The readiness backends (epoll, linux-aio) then wait for the next readiness
    /// report before the next read instead of trying a read that would fail with
    /// EAGAIN: one system call less per message. Wrong for datagram sockets, inotify
    /// and other descriptors whose short read can leave data behind (the next read
    /// would wait for new data). No effect on io_uring, which never tries first.
    void mark_stream() noexcept;

    /// Resolves when a read would not block (data, end of file, or an error pending).
    future<> readable();
    /// Resolves when a write would not block.
    future<> writable();
    /// Resolves with the poll(2) events among `events` (POLLIN, POLLOUT, ...) that occurred.
    future<int> poll(int events);

    /// Reads at most `len` bytes into `buf`, waiting until at least one byte (or end of
    /// file: 0) is there. `buf` must stay valid until the future resolves.
    future<std::size_t> read_some(void* buf, std::size_t len);
    /// Writes at most `len` bytes of `buf`, waiting until at least one can be written.
    future<std::size_t> write_some(const void* buf, std::size_t len);
    /// sendmsg(2) / recvmsg(2), waiting for readiness as needed. The msghdr and its
    /// buffers must stay valid until the future resolves.
    future<std::size_t> sendmsg(const ::msghdr* msg, int flags = 0);
    future<std::size_t> recvmsg(::msghdr* msg, int flags = 0);
    /// Accepts one connection of a listening socket; the new socket is non-blocking,
    /// close-on-exec, and registered with this shard.
    future<accept_result> accept();
    /// Connects a socket; resolves once connected, fails with the connection's error
    /// (ECONNREFUSED, ETIMEDOUT, ...).
    future<> connect(const ::sockaddr* addr, ::socklen_t len);

    /// shutdown(2): SHUT_RD, SHUT_WR or SHUT_RDWR. Throws std::system_error.
    void shutdown(int how);
    /// Fails pending operations with ECANCELED and closes the descriptor. Idempotent.
    void close() noexcept;

private:
    detail::fd_state* s_ = nullptr;
};

struct accept_result {
    pollable_fd fd;
    ::sockaddr_storage address{};
    ::socklen_t address_len = 0;
};

}  // namespace reef
