// The operations of readiness-driven backends: the system call first, and on EAGAIN a
// wait for readiness followed by a retry.
#include "backend_readiness.hh"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "backend_util.hh"

namespace reef::detail {

namespace {

std::exception_ptr cancelled() {
    return std::make_exception_ptr(
        std::system_error(ECANCELED, std::system_category(), "pollable_fd closed"));
}

readiness_fd_state& state_of(fd_state& s) noexcept {
    return static_cast<readiness_fd_state&>(s);
}

}  // namespace

readiness_backend::~readiness_backend() {
    free_graveyard();
}

void readiness_backend::free_graveyard() noexcept {
    for (auto* s : graveyard_) {
        delete s;
    }
    graveyard_.clear();
}

void readiness_backend::forget(fd_state* base) noexcept {
    auto* s = static_cast<readiness_fd_state*>(base);
    // Closed first: a report that arrives while disarm() runs resolves nobody; and used
    // by this call, so that such a report does not release the state under it.
    s->closed = true;
    ++s->users;
    disarm(*s);
    if (s->read_waiter) {
        --waiters_;
        std::exchange(s->read_waiter, nullptr)->set_exception(cancelled());
    }
    if (s->write_waiter) {
        --waiters_;
        std::exchange(s->write_waiter, nullptr)->set_exception(cancelled());
    }
    ::close(s->fd);
    s->fd = -1;
    --s->users;
    release_if_unused(s);
}

bool readiness_backend::fail_waiter(readiness_fd_state& s, bool read, std::exception_ptr e) noexcept {
    promise<>*& slot = read ? s.read_waiter : s.write_waiter;
    if (!slot) {
        return false;
    }
    --waiters_;
    std::exchange(slot, nullptr)->set_exception(std::move(e));
    return true;
}

future<> readiness_backend::wait(readiness_fd_state& s, bool read) {
    std::uint32_t mask = read ? readiness_in_events : readiness_out_events;
    if (s.ready & mask) {
        return make_ready_future<>();
    }
    promise<>*& slot = read ? s.read_waiter : s.write_waiter;
    if (slot) {
        return make_exception_future<>(std::make_exception_ptr(
            std::logic_error(read ? "pollable_fd: a read-side operation is already waiting on this fd"
                                  : "pollable_fd: a write-side operation is already waiting on this fd")));
    }
    promise<>& pr = read ? s.read_pr : s.write_pr;
    pr = promise<>();
    slot = &pr;
    ++waiters_;
    // Registered backends (epoll) keep both bits set: no call on their path. A result
    // arm() sets at once is kept by the promise until get_future().
    if (!(s.armed & (read ? readiness_fd_state::armed_read : readiness_fd_state::armed_write))) {
        arm_waiter(s, read);
    }
    return pr.get_future();
}

void readiness_backend::arm_waiter(readiness_fd_state& s, bool read) noexcept {
    try {
        arm(s, read);
    } catch (...) {
        fail_waiter(s, read, std::current_exception());
    }
}

// The slow path of an operation: forget the readiness that EAGAIN disproved, wait for it
// to come back, then run `retry` (the operation again) unless the fd was closed meanwhile.
template <typename T, typename Retry>
future<T> readiness_backend::retry_after(readiness_fd_state& s, bool read, Retry&& retry) {
    s.ready &= ~(read ? readiness_in_events : readiness_out_events);
    ++s.users;
    return wait(s, read).then_wrapped(
        [this, &s, retry = std::forward<Retry>(retry)](future<> f) mutable -> future<T> {
            --s.users;
            if (s.closed) {
                f.ignore_ready_future();
                release_if_unused(&s);
                return make_exception_future<T>(cancelled());
            }
            if (f.failed()) {
                return make_exception_future<T>(f.get_exception());
            }
            return retry();
        });
}

future<> readiness_backend::readable(fd_state& base) {
    return wait(state_of(base), true);
}

future<> readiness_backend::writable(fd_state& base) {
    return wait(state_of(base), false);
}

future<int> readiness_backend::poll(fd_state& base, int events) {
    auto& s = state_of(base);
    pollfd p{s.fd, short(events), 0};
    int r = ::poll(&p, 1, 0);
    if (r < 0) {
        return make_exception_future<int>(errno_error("poll"));
    }
    if (r > 0 && p.revents) {
        return make_ready_future<int>(int(p.revents));
    }
    bool read = (events & (POLLIN | POLLPRI | POLLRDHUP)) != 0;
    return retry_after<int>(s, read, [this, &s, events] { return poll(s, events); });
}

future<std::size_t> readiness_backend::read_some(fd_state& base, void* buf, std::size_t len) {
    auto& s = state_of(base);
    if (s.drained && !(s.ready & readiness_in_events)) {
        // The last read emptied the stream and no readiness came since: the read would
        // fail with EAGAIN. Wait first.
        return retry_after<std::size_t>(s, true, [this, &s, buf, len] { return read_some(s, buf, len); });
    }
    ssize_t r = ::read(s.fd, buf, len);
    if (r >= 0) {
        if (s.stream && r > 0 && std::size_t(r) < len) {
            // A short read of a byte stream took everything there was: forget the
            // readiness it used, so the next read waits for a new report. Hang-up and
            // error bits stay: the next read must see them at once.
            s.ready &= ~std::uint32_t(POLLIN);
            s.drained = true;
        }
        return make_ready_future<std::size_t>(std::size_t(r));
    }
    if (errno != EAGAIN) {
        return make_exception_future<std::size_t>(errno_error("read"));
    }
    return retry_after<std::size_t>(s, true, [this, &s, buf, len] { return read_some(s, buf, len); });
}

future<std::size_t> readiness_backend::write_some(fd_state& base, const void* buf, std::size_t len) {
    auto& s = state_of(base);
    ssize_t r = ::write(s.fd, buf, len);
    if (r >= 0) {
        return make_ready_future<std::size_t>(std::size_t(r));
    }
    if (errno != EAGAIN) {
        return make_exception_future<std::size_t>(errno_error("write"));
    }
    return retry_after<std::size_t>(s, false, [this, &s, buf, len] { return write_some(s, buf, len); });
}

future<std::size_t> readiness_backend::sendmsg(fd_state& base, const ::msghdr* msg, int flags) {
    auto& s = state_of(base);
    ssize_t r;
    if (msg->msg_iovlen == 1 && !msg->msg_name && !msg->msg_control) {
        // One buffer: send(2) skips copying in the msghdr and the iovec.
        r = ::send(s.fd, msg->msg_iov[0].iov_base, msg->msg_iov[0].iov_len, flags | MSG_NOSIGNAL | MSG_DONTWAIT);
    } else {
        r = ::sendmsg(s.fd, msg, flags | MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    if (r >= 0) {
        return make_ready_future<std::size_t>(std::size_t(r));
    }
    if (errno != EAGAIN) {
        return make_exception_future<std::size_t>(errno_error("sendmsg"));
    }
    return retry_after<std::size_t>(s, false, [this, &s, msg, flags] { return sendmsg(s, msg, flags); });
}

future<std::size_t> readiness_backend::recvmsg(fd_state& base, ::msghdr* msg, int flags) {
    auto& s = state_of(base);
    ssize_t r = ::recvmsg(s.fd, msg, flags | MSG_DONTWAIT);
    if (r >= 0) {
        return make_ready_future<std::size_t>(std::size_t(r));
    }
    if (errno != EAGAIN) {
        return make_exception_future<std::size_t>(errno_error("recvmsg"));
    }
    return retry_after<std::size_t>(s, true, [this, &s, msg, flags] { return recvmsg(s, msg, flags); });
}

future<accept_result> readiness_backend::accept(fd_state& base) {
    auto& s = state_of(base);
    accept_result res;
    res.address_len = sizeof(res.address);
    int fd = ::accept4(s.fd, reinterpret_cast<sockaddr*>(&res.address), &res.address_len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
        try {
            res.fd = adopt_nonblocking_fd(fd);
        } catch (...) {
            return make_exception_future<accept_result>(std::current_exception());
        }
        return make_ready_future<accept_result>(std::move(res));
    }
    if (errno != EAGAIN) {
        return make_exception_future<accept_result>(errno_error("accept4"));
    }
    return retry_after<accept_result>(s, true, [this, &s] { return accept(s); });
}

future<> readiness_backend::connect(fd_state& base, const ::sockaddr* addr, ::socklen_t len) {
    auto& s = state_of(base);
    if (::connect(s.fd, addr, len) == 0) {
        return make_ready_future<>();
    }
    if (errno != EINPROGRESS) {
        return make_exception_future<>(errno_error("connect"));
    }
    return retry_after<void>(s, false, [&s] { return finish_connect(s.fd); });
}

}  // namespace reef::detail
