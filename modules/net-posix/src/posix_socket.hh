// What the kernel-socket stack's pieces share: system-call helpers that throw
// std::system_error, a counted handle for state that in-flight operations keep alive,
// and the constructors of connections. Private to net-posix.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <exception>
#include <optional>
#include <string>
#include <utility>

#include <reef/net/connected_socket.hh>
#include <reef/net/socket_address.hh>
#include <reef/net/socket_options.hh>
#include <reef/reactor/pollable_fd.hh>

namespace reef::net::posix {

/// std::system_error(err) whose message names the operation ("connect to 1.2.3.4:80").
std::exception_ptr make_error(int err, const std::string& what);
[[noreturn]] void throw_error(int err, const std::string& what);
/// The errno of a std::system_error of the system or generic category; 0 for any other
/// exception.
int error_code_of(const std::exception_ptr& e) noexcept;

/// A descriptor owned until release(): closed if still held when destroyed.
class raw_fd {
public:
    explicit raw_fd(int fd) noexcept : fd_(fd) {}
    raw_fd(raw_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    raw_fd& operator=(raw_fd&&) = delete;
    ~raw_fd();
    int get() const noexcept { return fd_; }
    int release() noexcept { return std::exchange(fd_, -1); }

private:
    int fd_;
};

/// socket(2) with SOCK_NONBLOCK | SOCK_CLOEXEC. Throws std::system_error.
raw_fd open_socket(int family, int type);
/// setsockopt(2) / getsockopt(2) of an int. Throw std::system_error naming `what`.
void set_int_option(int fd, int level, int name, int value, const char* what);
int get_int_option(int fd, int level, int name, const char* what);
/// SO_SNDBUF / SO_RCVBUF when nonzero.
void set_buffer_sizes(int fd, std::size_t send, std::size_t receive);
/// TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT.
void set_keepalive_parameters(int fd, const keepalive_params& p);
keepalive_params get_keepalive_parameters(int fd);
/// TCP_NODELAY when `nodelay`, SO_KEEPALIVE with its timing when `keepalive` is set.
void set_tcp_options(int fd, bool nodelay, const std::optional<keepalive_params>& keepalive);
/// getsockname(2). Throws std::system_error.
socket_address local_address_of(int fd);
/// bind(2); EADDRINUSE and friends are thrown naming the address.
void bind_to(int fd, const socket_address& addr);

/// A pointer to an object with a `refs` count, deleting it when the last one goes.
/// Owner shard only (the count is not atomic).
template <typename T>
class counted {
public:
    counted() noexcept = default;
    /// Adopts a new object (whose count is 0).
    explicit counted(T* p) noexcept : p_(p) { ++p_->refs; }
    counted(const counted& o) noexcept : p_(o.p_) {
        if (p_) {
            ++p_->refs;
        }
    }
    counted(counted&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    counted& operator=(counted o) noexcept {
        std::swap(p_, o.p_);
        return *this;
    }
    ~counted() {
        if (p_ && --p_->refs == 0) {
            delete p_;
        }
    }
    T* operator->() const noexcept { return p_; }
    T& operator*() const noexcept { return *p_; }
    T* get() const noexcept { return p_; }

private:
    T* p_ = nullptr;
};

/// Makes a connection of an accepted or connected descriptor (registered with this
/// shard). `remote` is the peer's address as known.
connected_socket make_connection(pollable_fd fd, int family, const socket_address& remote);

}  // namespace reef::net::posix
