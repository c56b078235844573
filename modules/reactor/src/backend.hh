// The interface every reactor backend implements (io_uring, epoll, linux-aio), and the
// registry that builds one by name. Private to the reactor module.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <reef/core/future.hh>
#include <reef/reactor/pollable_fd.hh>

namespace reef::detail {

/// Per-file-descriptor state kept by a backend. Each backend derives its own (waiters,
/// registration flags); the reactor and pollable_fd only see this part.
struct fd_state {
    int fd = -1;
    /// Set by pollable_fd::mark_stream(): a read that returns fewer bytes than asked has
    /// emptied the kernel's buffer (stream sockets, pipes), so the next read may wait
    /// for readiness instead of trying first.
    bool stream = false;
    virtual ~fd_state() = default;
};

/// What a backend is built with.
struct backend_config {
    unsigned shard = 0;
    unsigned queue_depth = 1024;  // submission ring size where the backend has one
};

/// One backend instance per shard, used only by its shard's thread except wake().
/// I/O operations never block: they complete at once when the kernel can, and
/// otherwise resolve their future from poll() or sleep() on a later loop iteration.
/// System-call failures fail the future with std::system_error (errno, system_category).
class backend {
public:
    virtual ~backend() = default;

    /// The name used on the command line (--reactor-backend).
    virtual std::string_view name() const noexcept = 0;

    /// Starts managing `fd` (already non-blocking). The state belongs to the backend
    /// until forget(). May throw std::system_error.
    virtual fd_state* attach(int fd) = 0;
    /// Stops managing the fd: fails its pending operations with ECANCELED (as
    /// std::system_error), closes the fd and frees the state.
    virtual void forget(fd_state* s) noexcept = 0;

    /// Resolves when the fd is readable / writable (POLLIN / POLLOUT or an error).
    virtual future<> readable(fd_state& s) = 0;
    virtual future<> writable(fd_state& s) = 0;
    /// Resolves with the poll(2) events that occurred among `events`.
    virtual future<int> poll(fd_state& s, int events) = 0;

    /// read(2) of at most `len` bytes; 0 means end of file.
    virtual future<std::size_t> read_some(fd_state& s, void* buf, std::size_t len) = 0;
    /// write(2) of at most `len` bytes; resolves with how many were written (> 0).
    virtual future<std::size_t> write_some(fd_state& s, const void* buf, std::size_t len) = 0;
    /// sendmsg(2) / recvmsg(2); the msghdr and what it points to must live until the
    /// future resolves.
    virtual future<std::size_t> sendmsg(fd_state& s, const ::msghdr* msg, int flags) = 0;
    virtual future<std::size_t> recvmsg(fd_state& s, ::msghdr* msg, int flags) = 0;
    /// accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC.
    virtual future<accept_result> accept(fd_state& s) = 0;
    /// connect(2) of a non-blocking socket; resolves when connected.
    virtual future<> connect(fd_state& s, const ::sockaddr* addr, ::socklen_t len) = 0;

    /// Processes whatever completions are ready without blocking. Returns true if
    /// anything was done (a waiter resolved).
    virtual bool poll_completions() = 0;

    /// Blocks until an fd event, a wake(), or `timeout` (nullopt: no timeout), then
    /// processes completions. Called only when the shard has nothing else to do.
    virtual void sleep(std::optional<std::chrono::nanoseconds> timeout) = 0;

    /// Interrupts sleep() from any thread. Async-signal-safe and thread-safe.
    virtual void wake() noexcept = 0;
};

/// The backends compiled into this build, in order of preference.
const std::vector<std::string_view>& compiled_backends() noexcept;

/// The backend used when none is named: the first compiled one that works here.
std::string default_backend_name();

/// Builds the backend called `name`. Throws std::invalid_argument naming the compiled
/// backends when `name` is not one of them, and std::system_error when the kernel
/// refuses it (io_uring disabled, aio limits).
std::unique_ptr<backend> make_backend(std::string_view name, const backend_config& cfg);

}  // namespace reef::detail
