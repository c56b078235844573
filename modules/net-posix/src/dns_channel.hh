// A c-ares channel driven by this shard's reactor. c-ares creates its sockets through
// our socket functions, so each one is a pollable_fd of this shard; its socket-state
// callback says which directions it waits for, and a watcher per direction waits with
// pollable_fd::poll() (level-triggered on every backend) and hands the event to
// ares_process_fd(). One timer carries c-ares's next timeout. Private to net-posix.
#pragma once

#include <ares.h>

#include <memory>
#include <optional>
#include <unordered_map>

#include <reef/core/future.hh>
#include <reef/core/gate.hh>
#include <reef/core/shared_future.hh>
#include <reef/net/dns.hh>
#include <reef/reactor/pollable_fd.hh>
#include <reef/reactor/timer.hh>

namespace reef::net::dns::detail {

/// Calls ares_library_init once per process.
void init_library();

/// The channel and everything that drives it. Owner shard only. Held by a shared_ptr:
/// the watchers keep it alive until they have seen their socket close.
class channel : public std::enable_shared_from_this<channel> {
public:
    /// Makes the c-ares channel for `opts`. Throws dns::error or std::invalid_argument.
    static std::shared_ptr<channel> make(const options& opts);
    channel(const channel&) = delete;
    channel& operator=(const channel&) = delete;
    ~channel();

    /// The c-ares channel; nullptr once shut down.
    ares_channel get() const noexcept { return ch_; }
    bool is_open() const noexcept { return ch_ != nullptr; }

    /// To be called after starting queries: arms the timer for c-ares's next timeout.
    void update_timer() noexcept;

    /// True while a socket is open or the timer is armed (a lookup is in flight).
    bool busy() const noexcept { return !sockets_.empty() || timer_.armed(); }

    /// Cancels the queries in flight (their callbacks run with ARES_ECANCELLED), destroys
    /// the c-ares channel and closes its sockets. Idempotent; never yields.
    void shut_down() noexcept;
    /// shut_down(), then resolves once every watcher has finished. Any number of calls.
    future<> close();

private:
    struct socket_state {
        explicit socket_state(pollable_fd f) noexcept : fd(std::move(f)) {}
        pollable_fd fd;
        bool want_read = false;  // what c-ares last asked for
        bool want_write = false;
        bool reading = false;  // a watcher runs for this direction
        bool writing = false;
        bool closed = false;  // c-ares closed it
    };
    using socket_ptr = std::shared_ptr<socket_state>;

    channel() = default;

    void process(ares_socket_t read_fd, ares_socket_t write_fd) noexcept;
    void on_timer() noexcept;
    void on_state(ares_socket_t fd, bool read, bool write) noexcept;
    void start_watcher(const socket_ptr& s, bool read) noexcept;
    static future<> watch(std::shared_ptr<channel> self, socket_ptr s, bool read, gate::holder h);

    // The socket functions c-ares calls instead of the system's; `self` is the channel.
    static ares_socket_t sock_open(int domain, int type, int protocol, void* self);
    static int sock_close(ares_socket_t fd, void* self);
    static int sock_connect(ares_socket_t fd, const ::sockaddr* addr, ares_socklen_t len, void* self);
    static ares_ssize_t sock_recvfrom(ares_socket_t fd, void* buf, std::size_t len, int flags,
                                      ::sockaddr* from, ares_socklen_t* from_len, void* self);
    static ares_ssize_t sock_sendv(ares_socket_t fd, const ::iovec* iov, int count, void* self);
    static void sock_state(void* self, ares_socket_t fd, int read, int write);
    static const ares_socket_functions socket_functions;

    ares_channel ch_ = nullptr;
    std::unordered_map<int, socket_ptr> sockets_;  // by descriptor
    timer<> timer_;
    gate watchers_;
    std::optional<shared_future<>> closed_;  // set by the first close()
};

}  // namespace reef::net::dns::detail
