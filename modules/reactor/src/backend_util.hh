// Helpers shared by the backends. Private to the reactor module.
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <exception>
#include <system_error>

#include <reef/core/future.hh>
#include <reef/reactor/pollable_fd.hh>

namespace reef::detail {

/// The current errno as a std::system_error naming the call.
inline std::exception_ptr errno_error(const char* what) {
    return std::make_exception_ptr(std::system_error(errno, std::system_category(), what));
}

/// An error code as a std::system_error naming the call (for -errno results).
inline std::exception_ptr code_error(int err, const char* what) {
    return std::make_exception_ptr(std::system_error(err, std::system_category(), what));
}

/// Registers an fd that is already non-blocking with this shard.
inline pollable_fd adopt_nonblocking_fd(int fd) {
    return pollable_fd::from_nonblocking(fd);
}

/// Reads the outcome of a non-blocking connect() that reported writability.
inline future<> finish_connect(int fd) {
    int err = 0;
    ::socklen_t len = sizeof(err);
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        return make_exception_future<>(errno_error("getsockopt(SO_ERROR)"));
    }
    if (err != 0) {
        return make_exception_future<>(code_error(err, "connect"));
    }
    return make_ready_future<>();
}

}  // namespace reef::detail
