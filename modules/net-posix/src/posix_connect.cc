// connect() of the kernel-socket stack. TCP connects through pollable_fd::connect (a
// ring operation on io_uring, a non-blocking connect plus a writability wait on the
// readiness backends), with an optional timer that closes the socket at the deadline.
// A unix-domain connect either completes at once or fails with EAGAIN while the
// listener's backlog is full; it is retried after short sleeps, never blocking.
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include <fmt/format.h>

#include <reef/core/coroutine.hh>
#include <reef/reactor/clock.hh>
#include <reef/reactor/sleep.hh>
#include <reef/reactor/timer.hh>

#include "posix_socket.hh"
#include "posix_stack_impl.hh"

namespace reef::net::posix {

namespace {

// How long a unix connect retries a full backlog when no timeout is given (about as
// long as the kernel retries an unanswered TCP SYN).
constexpr std::chrono::seconds unix_backlog_patience{120};

// A socket of the remote's family with the options applied, bound to `local` if given.
raw_fd prepare(const socket_address& remote, const socket_address& local, const connect_options& opts) {
    if (!remote.is_inet() && !remote.is_unix()) {
        throw_error(EAFNOSUPPORT, fmt::format("connect to {}", remote));
    }
    raw_fd fd = open_socket(remote.family(), SOCK_STREAM);
    if (remote.is_inet()) {
        set_tcp_options(fd.get(), opts.nodelay, opts.keepalive);
    }
    set_buffer_sizes(fd.get(), opts.send_buffer_size, opts.receive_buffer_size);
    if (!local.is_unspecified()) {
        bind_to(fd.get(), local);
    }
    return fd;
}

future<connected_socket> connect_unix(raw_fd fd, socket_address remote, std::chrono::milliseconds timeout) {
    auto patience = timeout.count() > 0 ? std::chrono::duration_cast<std::chrono::nanoseconds>(timeout)
                                        : std::chrono::nanoseconds(unix_backlog_patience);
    auto deadline = steady_clock_type::now() + patience;
    auto delay = std::chrono::milliseconds(1);
    while (::connect(fd.get(), remote.sockaddr(), remote.length()) != 0) {
        int e = errno;
        if (e == EAGAIN && steady_clock_type::now() >= deadline) {
            e = ETIMEDOUT;
        }
        if (e != EAGAIN) {
            co_return coroutine::exception(make_error(e, fmt::format("connect to {}", remote)));
        }
        co_await sleep(delay);
        delay = std::min(delay * 2, std::chrono::milliseconds(32));
    }
    co_return make_connection(pollable_fd::from_nonblocking(fd.release()), AF_UNIX, remote);
}

future<connected_socket> connect_tcp(raw_fd fd, socket_address remote, std::chrono::milliseconds timeout) {
    pollable_fd pfd = pollable_fd::from_nonblocking(fd.release());
    bool timed_out = false;
    timer<> deadline;
    if (timeout.count() > 0) {
        // Closing the socket fails the connect in flight (ECANCELED), reported as ETIMEDOUT.
        deadline.set_callback([&pfd, &timed_out] {
            timed_out = true;
            pfd.close();
        });
        deadline.arm(timeout);
    }
    auto f = co_await coroutine::as_future(pfd.connect(remote.sockaddr(), remote.length()));
    deadline.cancel();
    if (f.failed()) {
        auto e = f.get_exception();
        int code = timed_out ? ETIMEDOUT : error_code_of(e);
        co_return coroutine::exception(code ? make_error(code, fmt::format("connect to {}", remote)) : e);
    }
    co_return make_connection(std::move(pfd), remote.family(), remote);
}

}  // namespace

future<connected_socket> connect(const socket_address& remote, const socket_address& local, const connect_options& opts) {
    try {
        raw_fd fd = prepare(remote, local, opts);
        if (remote.is_unix()) {
            return connect_unix(std::move(fd), remote, opts.timeout);
        }
        return connect_tcp(std::move(fd), remote, opts.timeout);
    } catch (...) {
        return make_exception_future<connected_socket>(std::current_exception());
    }
}

}  // namespace reef::net::posix
