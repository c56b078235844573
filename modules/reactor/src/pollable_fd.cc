// pollable_fd: forwards each operation to this shard's backend.
#include <reef/reactor/pollable_fd.hh>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <system_error>

#include "backend.hh"
#include "reactor_impl.hh"

namespace reef {

namespace {
detail::backend& io() {
    return detail::this_reactor().io();
}
}  // namespace

pollable_fd::pollable_fd(int fd) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        int e = errno;
        ::close(fd);
        throw std::system_error(e, std::system_category(), "fcntl(O_NONBLOCK)");
    }
    try {
        s_ = io().attach(fd);
    } catch (...) {
        ::close(fd);
        throw;
    }
}

pollable_fd pollable_fd::from_nonblocking(int fd) {
    pollable_fd p;
    try {
        p.s_ = io().attach(fd);
    } catch (...) {
        ::close(fd);
        throw;
    }
    return p;
}

pollable_fd& pollable_fd::operator=(pollable_fd&& o) noexcept {
    if (this != &o) {
        close();
        s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
}

int pollable_fd::get() const noexcept {
    return s_ ? s_->fd : -1;
}

namespace {
template <typename T>
future<T> closed_fd() {
    return make_exception_future<T>(
        std::make_exception_ptr(std::system_error(EBADF, std::system_category(), "pollable_fd is closed")));
}
}  // namespace

future<> pollable_fd::readable() {
    return s_ ? io().readable(*s_) : closed_fd<void>();
}
future<> pollable_fd::writable() {
    return s_ ? io().writable(*s_) : closed_fd<void>();
}
future<int> pollable_fd::poll(int events) {
    return s_ ? io().poll(*s_, events) : closed_fd<int>();
}
void pollable_fd::mark_stream() noexcept {
    if (s_) {
        s_->stream = true;
    }
}

future<std::size_t> pollable_fd::read_some(void* buf, std::size_t len) {
    return s_ ? io().read_some(*s_, buf, len) : closed_fd<std::size_t>();
}
future<std::size_t> pollable_fd::write_some(const void* buf, std::size_t len) {
    return s_ ? io().write_some(*s_, buf, len) : closed_fd<std::size_t>();
}
future<std::size_t> pollable_fd::sendmsg(const ::msghdr* msg, int flags) {
    return s_ ? io().sendmsg(*s_, msg, flags) : closed_fd<std::size_t>();
}
future<std::size_t> pollable_fd::recvmsg(::msghdr* msg, int flags) {
    return s_ ? io().recvmsg(*s_, msg, flags) : closed_fd<std::size_t>();
}
future<accept_result> pollable_fd::accept() {
    return s_ ? io().accept(*s_) : closed_fd<accept_result>();
}
future<> pollable_fd::connect(const ::sockaddr* addr, ::socklen_t len) {
    return s_ ? io().connect(*s_, addr, len) : closed_fd<void>();
}

void pollable_fd::shutdown(int how) {
    if (!s_) {
        throw std::system_error(EBADF, std::system_category(), "pollable_fd is closed");
    }
    if (::shutdown(s_->fd, how) != 0 && errno != ENOTCONN) {
        throw std::system_error(errno, std::system_category(), "shutdown");
    }
}

void pollable_fd::close() noexcept {
    if (s_) {
        if (auto* r = detail::tl_reactor) {
            r->io().forget(std::exchange(s_, nullptr));
        } else {
            // No reactor any more (its backend is gone): nothing can be waiting.
            ::close(s_->fd);
            delete std::exchange(s_, nullptr);
        }
    }
}

}  // namespace reef
