// Kernel-socket connections: the system-call helpers, and a connection's input source
// and output sink over its pollable_fd.
//
// Input: each get() reads straight into a fresh temporary_buffer, sized between the
// input_options bounds (doubling while reads fill the buffer, halving when they come
// back under a quarter full), and hands it out trimmed: no copy.
// Output: the sink queues the buffers it is given and a sender writes everything queued
// with one sendmsg (up to 64 buffers), so that writes made while a send is in flight go
// out together. put() resolves at once while the queue holds less than its limit;
// flush() waits until the queue is empty.
#include "posix_socket.hh"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <deque>
#include <optional>
#include <system_error>

#include <fmt/format.h>

namespace reef::net::posix {

std::exception_ptr make_error(int err, const std::string& what) {
    return std::make_exception_ptr(std::system_error(err, std::system_category(), what));
}

void throw_error(int err, const std::string& what) {
    throw std::system_error(err, std::system_category(), what);
}

int error_code_of(const std::exception_ptr& e) noexcept {
    try {
        std::rethrow_exception(e);
    } catch (const std::system_error& se) {
        if (se.code().category() == std::system_category() || se.code().category() == std::generic_category()) {
            return se.code().value();
        }
    } catch (...) {
    }
    return 0;
}

raw_fd::~raw_fd() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

raw_fd open_socket(int family, int type) {
    int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw_error(errno, "socket");
    }
    return raw_fd(fd);
}

void set_int_option(int fd, int level, int name, int value, const char* what) {
    if (::setsockopt(fd, level, name, &value, sizeof(value)) != 0) {
        throw_error(errno, fmt::format("setsockopt({})", what));
    }
}

int get_int_option(int fd, int level, int name, const char* what) {
    int value = 0;
    ::socklen_t len = sizeof(value);
    if (::getsockopt(fd, level, name, &value, &len) != 0) {
        throw_error(errno, fmt::format("getsockopt({})", what));
    }
    return value;
}

void set_buffer_sizes(int fd, std::size_t send, std::size_t receive) {
    if (send) {
        set_int_option(fd, SOL_SOCKET, SO_SNDBUF, int(std::min<std::size_t>(send, INT32_MAX)), "SO_SNDBUF");
    }
    if (receive) {
        set_int_option(fd, SOL_SOCKET, SO_RCVBUF, int(std::min<std::size_t>(receive, INT32_MAX)), "SO_RCVBUF");
    }
}

void set_keepalive_parameters(int fd, const keepalive_params& p) {
    set_int_option(fd, IPPROTO_TCP, TCP_KEEPIDLE, int(p.idle.count()), "TCP_KEEPIDLE");
    set_int_option(fd, IPPROTO_TCP, TCP_KEEPINTVL, int(p.interval.count()), "TCP_KEEPINTVL");
    set_int_option(fd, IPPROTO_TCP, TCP_KEEPCNT, int(p.count), "TCP_KEEPCNT");
}

keepalive_params get_keepalive_parameters(int fd) {
    keepalive_params p;
    p.idle = std::chrono::seconds(get_int_option(fd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE"));
    p.interval = std::chrono::seconds(get_int_option(fd, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL"));
    p.count = unsigned(get_int_option(fd, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT"));
    return p;
}

void set_tcp_options(int fd, bool nodelay, const std::optional<keepalive_params>& keepalive) {
    if (nodelay) {
        set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
    }
    if (keepalive) {
        set_int_option(fd, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE");
        set_keepalive_parameters(fd, *keepalive);
    }
}

socket_address local_address_of(int fd) {
    ::sockaddr_storage ss{};
    ::socklen_t len = sizeof(ss);
    if (::getsockname(fd, reinterpret_cast<::sockaddr*>(&ss), &len) != 0) {
        throw_error(errno, "getsockname");
    }
    return socket_address::from_sockaddr(reinterpret_cast<::sockaddr*>(&ss), len);
}

void bind_to(int fd, const socket_address& addr) {
    if (::bind(fd, addr.sockaddr(), addr.length()) != 0) {
        throw_error(errno, fmt::format("bind to {}", addr));
    }
}

namespace {

// One connection's state, shared by its connected_socket_impl, source and sink (the
// users) and by the operations in flight. The descriptor closes when the last user
// goes; the state itself when the last operation is done too. Owner shard only.
struct conn_state {
    conn_state(pollable_fd f, int fam, const socket_address& peer) noexcept
        : fd(std::move(f)), family(fam), remote(peer) {}

    bool tcp() const noexcept { return family == AF_INET || family == AF_INET6; }

    // Adapts the next read's size to how full this one came back.
    void adapt(std::size_t got, std::size_t asked) noexcept {
        if (got == asked) {
            read_size = std::min(asked * 2, max_read);
        } else if (got < asked / 4) {
            read_size = std::max(asked / 2, min_read);
        }
    }

    future<> enqueue(temporary_buffer<char> b);
    void push(temporary_buffer<char> b) {
        if (!b.empty()) {
            out_bytes += b.size();
            out_q.push_back(std::move(b));
        }
    }
    future<> room();
    future<> drained();
    void send_some() noexcept;
    bool sent(future<std::size_t> r) noexcept;
    void fail_output(std::exception_ptr e) noexcept;

    unsigned refs = 0;
    unsigned users = 0;
    pollable_fd fd;
    int family;
    socket_address remote;

    std::size_t min_read = 8192;
    std::size_t max_read = 65536;
    std::size_t read_size = 8192;

    std::deque<temporary_buffer<char>> out_q;  // queued, not yet sent; the front may be half sent
    std::size_t out_bytes = 0;                 // bytes in out_q
    std::size_t out_limit = 65536;             // put() waits while out_bytes is above it
    bool sending = false;                      // a sendmsg is in flight (or being issued)
    std::exception_ptr out_error;              // the first send failure; later calls fail with it
    std::optional<promise<>> room_waiter;      // a put() waiting for out_bytes <= out_limit
    std::optional<promise<>> drain_waiter;     // a flush() waiting for an empty queue
    ::msghdr msg{};                            // the sendmsg in flight and its vector
    std::array<::iovec, 64> iov{};
};

using conn_ref = counted<conn_state>;

// A user of the connection: holding one keeps the descriptor open.
class conn_user {
public:
    explicit conn_user(conn_ref s) noexcept : s_(std::move(s)) { ++s_->users; }
    conn_user(const conn_user&) = delete;
    conn_user& operator=(const conn_user&) = delete;
    ~conn_user() {
        if (--s_->users == 0) {
            // Pending operations fail with ECANCELED; their continuations still hold
            // the state until they have run.
            s_->fd.close();
        }
    }
    conn_state* operator->() const noexcept { return s_.get(); }
    const conn_ref& ref() const noexcept { return s_; }

private:
    conn_ref s_;
};

future<> conn_state::enqueue(temporary_buffer<char> b) {
    if (out_error) {
        return make_exception_future<>(out_error);
    }
    push(std::move(b));
    return room();
}

// Starts the sender if needed, then resolves when the queue is below its limit.
future<> conn_state::room() {
    if (!sending && !out_q.empty()) {
        sending = true;
        send_some();
    }
    if (out_error) {
        return make_exception_future<>(out_error);
    }
    if (out_bytes <= out_limit) {
        return make_ready_future<>();
    }
    room_waiter.emplace();
    return room_waiter->get_future();
}

future<> conn_state::drained() {
    if (out_error) {
        return make_exception_future<>(out_error);
    }
    if (out_q.empty()) {
        return make_ready_future<>();
    }
    drain_waiter.emplace();
    return drain_waiter->get_future();
}

// Sends what is queued, one sendmsg per round, until the queue is empty or a send has
// to wait (then its continuation carries on). Completes rounds in place while the kernel
// takes the bytes at once (the readiness backends try the call first).
void conn_state::send_some() noexcept {
    for (;;) {
        std::size_t n = 0;
        for (auto& b : out_q) {
            if (n == iov.size()) {
                break;
            }
            iov[n++] = ::iovec{b.get_write(), b.size()};
        }
        msg = ::msghdr{};
        msg.msg_iov = iov.data();
        msg.msg_iovlen = n;
        auto f = fd.sendmsg(&msg, 0);
        if (!f.available()) {
            (void)std::move(f).then_wrapped([self = conn_ref(this)](future<std::size_t> r) noexcept {
                if (self->sent(std::move(r))) {
                    self->send_some();
                }
            });
            return;
        }
        if (!sent(std::move(f))) {
            return;
        }
    }
}

// Takes the result of one sendmsg; true when more is left to send.
bool conn_state::sent(future<std::size_t> r) noexcept {
    if (r.failed()) {
        fail_output(r.get_exception());
        return false;
    }
    std::size_t n = r.get();
    out_bytes -= n;
    while (n) {
        auto& front = out_q.front();
        if (n < front.size()) {
            front.trim_front(n);
            break;
        }
        n -= front.size();
        out_q.pop_front();
    }
    if (room_waiter && out_bytes <= out_limit) {
        auto pr = std::move(*room_waiter);
        room_waiter.reset();
        pr.set_value();
    }
    if (out_q.empty()) {
        sending = false;
        if (drain_waiter) {
            auto pr = std::move(*drain_waiter);
            drain_waiter.reset();
            pr.set_value();
        }
        return false;
    }
    return true;
}

void conn_state::fail_output(std::exception_ptr e) noexcept {
    out_error = std::move(e);
    out_q.clear();
    out_bytes = 0;
    sending = false;
    if (room_waiter) {
        auto pr = std::move(*room_waiter);
        room_waiter.reset();
        pr.set_exception(out_error);
    }
    if (drain_waiter) {
        auto pr = std::move(*drain_waiter);
        drain_waiter.reset();
        pr.set_exception(out_error);
    }
}

class posix_source final : public data_source_impl {
public:
    explicit posix_source(const conn_ref& s) noexcept : u_(s) {}

    future<temporary_buffer<char>> get() override {
        temporary_buffer<char> buf(u_->read_size);
        char* p = buf.get_write();
        std::size_t n = buf.size();
        // The continuation owns the buffer (the kernel may write into it until the read
        // completes, even after a close) and a reference to the state, not `this`.
        return u_->fd.read_some(p, n).then([s = u_.ref(), buf = std::move(buf)](std::size_t got) mutable {
            s->adapt(got, buf.size());
            buf.trim(got);
            return std::move(buf);
        });
    }

private:
    conn_user u_;
};

class posix_sink final : public data_sink_impl {
public:
    posix_sink(const conn_ref& s, std::size_t buffer_size) noexcept : u_(s), buffer_size_(buffer_size) {}

    future<> put(temporary_buffer<char> buf) override { return u_->enqueue(std::move(buf)); }

    future<> put(std::vector<temporary_buffer<char>> bufs) override {
        if (u_->out_error) {
            return make_exception_future<>(u_->out_error);
        }
        for (auto& b : bufs) {
            u_->push(std::move(b));
        }
        return u_->room();
    }

    future<> flush() override { return u_->drained(); }

    // Sends what is queued, then the FIN.
    future<> close() override {
        return u_->drained().then([s = u_.ref()] {
            if (s->fd) {
                s->fd.shutdown(SHUT_WR);
            }
        });
    }

    std::size_t buffer_size() const noexcept override { return buffer_size_; }

private:
    conn_user u_;
    std::size_t buffer_size_;
};

class posix_connection final : public connected_socket_impl {
public:
    explicit posix_connection(const conn_ref& s) noexcept : u_(s) {}

    data_source source(const input_options& opts) override {
        u_->min_read = std::max<std::size_t>(opts.min_read, 1);
        u_->max_read = std::max(opts.max_read, u_->min_read);
        u_->read_size = u_->min_read;
        return data_source(std::make_unique<posix_source>(u_.ref()));
    }

    data_sink sink(std::size_t buffer_size) override {
        u_->out_limit = std::max<std::size_t>(4 * buffer_size, 65536);
        return data_sink(std::make_unique<posix_sink>(u_.ref(), buffer_size));
    }

    void shutdown_input() override { u_->fd.shutdown(SHUT_RD); }
    void shutdown_output() override { u_->fd.shutdown(SHUT_WR); }

    void set_nodelay(bool on) override {
        if (u_->tcp()) {
            set_int_option(fd(), IPPROTO_TCP, TCP_NODELAY, on, "TCP_NODELAY");
        }
    }
    bool get_nodelay() const override {
        return u_->tcp() && get_int_option(fd(), IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY") != 0;
    }
    void set_keepalive(bool on) override {
        if (u_->tcp()) {
            set_int_option(fd(), SOL_SOCKET, SO_KEEPALIVE, on, "SO_KEEPALIVE");
        }
    }
    bool get_keepalive() const override {
        return u_->tcp() && get_int_option(fd(), SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE") != 0;
    }
    void set_keepalive_parameters(const keepalive_params& p) override {
        if (u_->tcp()) {
            posix::set_keepalive_parameters(fd(), p);
        }
    }
    keepalive_params get_keepalive_parameters() const override {
        return u_->tcp() ? posix::get_keepalive_parameters(fd()) : keepalive_params{};
    }
    void set_send_buffer_size(std::size_t bytes) override { set_buffer_sizes(fd(), bytes, 0); }
    std::size_t get_send_buffer_size() const override {
        return std::size_t(get_int_option(fd(), SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF"));
    }
    void set_receive_buffer_size(std::size_t bytes) override { set_buffer_sizes(fd(), 0, bytes); }
    std::size_t get_receive_buffer_size() const override {
        return std::size_t(get_int_option(fd(), SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF"));
    }

    socket_address local_address() const override { return local_address_of(fd()); }
    socket_address remote_address() const override { return u_->remote; }

private:
    int fd() const noexcept { return u_->fd.get(); }

    conn_user u_;
};

}  // namespace

connected_socket make_connection(pollable_fd fd, int family, const socket_address& remote) {
    fd.mark_stream();  // TCP and unix stream sockets: a short read emptied the buffer
    conn_ref s(new conn_state(std::move(fd), family, remote));
    return connected_socket(std::make_unique<posix_connection>(s));
}

}  // namespace reef::net::posix
