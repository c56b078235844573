// The c-ares channel on the reactor: socket functions that make pollable_fds, one
// watcher per socket and direction, and the timeout timer.
#include "dns_channel.hh"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <chrono>
#include <coroutine>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <reef/core/coroutine.hh>
#include <reef/core/task.hh>
#include <reef/reactor/clock.hh>

namespace reef::net::dns::detail {

void init_library() {
    // ares_library_init is not thread-safe; on Linux it only counts. Never cleaned up:
    // channels may live until their threads end.
    static std::once_flag once;
    std::call_once(once, [] {
        int rc = ares_library_init(ARES_LIB_INIT_ALL);
        if (rc != ARES_SUCCESS) {
            throw error(errc(rc), {}, "initializing c-ares");
        }
    });
}

namespace {

// Suspends the coroutine and resumes it as a task of its own, so that what follows runs
// from the scheduler, never inside the c-ares call that started the coroutine.
struct resume_as_task final : task {
    std::coroutine_handle<> h;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> c) noexcept {
        h = c;
        schedule(this);
    }
    void await_resume() const noexcept {}
    void run_and_dispose() noexcept override { h.resume(); }
};

const char* lookups_text(lookup_order o) noexcept {
    switch (o) {
        case lookup_order::hosts_then_dns:
            return "fb";
        case lookup_order::dns_then_hosts:
            return "bf";
        case lookup_order::dns_only:
            return "b";
        case lookup_order::hosts_only:
            return "f";
    }
    return "fb";
}

// The server list for ares_set_servers_ports, as nodes in one vector.
std::vector<ares_addr_port_node> server_nodes(const std::vector<socket_address>& servers) {
    std::vector<ares_addr_port_node> nodes(servers.size());
    for (std::size_t i = 0; i < servers.size(); ++i) {
        const auto& s = servers[i];
        auto& n = nodes[i];
        if (!s.is_inet()) {
            throw std::invalid_argument("dns::resolver: server " + s.to_string() + " is not an IP address");
        }
        auto a = s.address();
        if (a.is_ipv4()) {
            n.family = AF_INET;
            n.addr.addr4 = a.as_ipv4();
        } else {
            n.family = AF_INET6;
            auto v6 = a.as_ipv6();
            std::memcpy(&n.addr.addr6, &v6, sizeof(v6));
        }
        int port = s.port() ? s.port() : 53;
        n.udp_port = port;
        n.tcp_port = port;
        n.next = i + 1 < servers.size() ? &nodes[i + 1] : nullptr;
    }
    return nodes;
}

}  // namespace

const ares_socket_functions channel::socket_functions = {
    &channel::sock_open,     &channel::sock_close, &channel::sock_connect,
    &channel::sock_recvfrom, &channel::sock_sendv,
};

std::shared_ptr<channel> channel::make(const options& opts) {
    init_library();
    auto nodes = server_nodes(opts.servers);
    std::shared_ptr<channel> c(new channel());

    ares_options o{};
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS;
    o.sock_state_cb = &channel::sock_state;
    o.sock_state_cb_data = c.get();
    o.lookups = const_cast<char*>(lookups_text(opts.lookups));  // c-ares copies it
    int flags = 0;
    if (opts.protocol == transport::tcp) {
        flags |= ARES_FLAG_USEVC;
    }
    std::vector<char*> domains;
    if (opts.search_domains) {
        if (opts.search_domains->empty()) {
            flags |= ARES_FLAG_NOSEARCH;
        }
        for (const auto& d : *opts.search_domains) {
            domains.push_back(const_cast<char*>(d.c_str()));
        }
        o.domains = domains.data();
        o.ndomains = int(domains.size());
        mask |= ARES_OPT_DOMAINS;
    }
    if (flags) {
        o.flags = flags;
        mask |= ARES_OPT_FLAGS;
    }
    if (opts.timeout) {
        o.timeout = int(std::max<std::chrono::milliseconds::rep>(1, opts.timeout->count()));
        mask |= ARES_OPT_TIMEOUTMS;
    }
    if (opts.attempts) {
        o.tries = int(std::max(1u, *opts.attempts));
        mask |= ARES_OPT_TRIES;
    }
    if (!opts.resolv_conf.empty()) {
        o.resolvconf_path = const_cast<char*>(opts.resolv_conf.c_str());
        mask |= ARES_OPT_RESOLVCONF;
    }

    int rc = ares_init_options(&c->ch_, &o, mask);
    if (rc != ARES_SUCCESS) {
        c->ch_ = nullptr;
        throw error(errc(rc), {}, "initializing the resolver");
    }
    ares_set_socket_functions(c->ch_, &socket_functions, c.get());
    if (!nodes.empty()) {
        rc = ares_set_servers_ports(c->ch_, nodes.data());
        if (rc != ARES_SUCCESS) {
            throw error(errc(rc), {}, "setting the resolver's servers");
        }
    }
    c->timer_.set_callback([p = c.get()] { p->on_timer(); });
    return c;
}

channel::~channel() {
    shut_down();
}

void channel::shut_down() noexcept {
    if (!ch_) {
        return;
    }
    // Queries first (their callbacks fail the futures), then the channel, which closes
    // its sockets through sock_close. ch_ stays valid meanwhile: c-ares calls us back.
    ares_cancel(ch_);
    ares_destroy(ch_);
    ch_ = nullptr;
    timer_.cancel();
    for (auto& [fd, s] : sockets_) {
        s->closed = true;
        s->fd.close();
    }
    sockets_.clear();
}

future<> channel::close() {
    shut_down();
    if (!closed_) {
        closed_.emplace(watchers_.close());
    }
    return closed_->get_future();
}

void channel::update_timer() noexcept {
    if (!ch_) {
        return;
    }
    ::timeval tv{};
    if (!ares_timeout(ch_, nullptr, &tv)) {
        timer_.cancel();  // no query in flight
        return;
    }
    auto delay = std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
    try {
        timer_.rearm(steady_clock_type::now() +
                     std::chrono::duration_cast<steady_clock_type::duration>(delay));
    } catch (...) {
        // No reactor on this thread: only possible while it is being torn down.
    }
}

void channel::process(ares_socket_t read_fd, ares_socket_t write_fd) noexcept {
    if (!ch_) {
        return;
    }
    ares_process_fd(ch_, read_fd, write_fd);
    update_timer();
}

void channel::on_timer() noexcept {
    // Both descriptors "bad": c-ares only looks at the queries whose time is up.
    process(ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

void channel::on_state(ares_socket_t fd, bool read, bool write) noexcept {
    auto it = sockets_.find(fd);
    if (it == sockets_.end()) {
        return;
    }
    socket_ptr s = it->second;
    s->want_read = read;
    s->want_write = write;
    if (read && !s->reading) {
        start_watcher(s, true);
    }
    if (write && !s->writing) {
        start_watcher(s, false);
    }
}

void channel::start_watcher(const socket_ptr& s, bool read) noexcept {
    try {
        gate::holder h(watchers_);
        auto self = shared_from_this();
        (read ? s->reading : s->writing) = true;
        // Detached: the watcher ends when c-ares stops wanting the direction or closes
        // the socket; the gate lets close() wait for it.
        (void)watch(std::move(self), s, read, std::move(h));
    } catch (...) {
        // Closed (the gate) or being destroyed (no owner): nothing to watch for.
    }
}

future<> channel::watch(std::shared_ptr<channel> self, socket_ptr s, bool read, gate::holder h) {
    // Started from inside a c-ares callback: c-ares is not re-entrant, so the first
    // ares_process_fd must wait for a task of its own.
    co_await resume_as_task{};
    const bool& wanted = read ? s->want_read : s->want_write;
    while (wanted && !s->closed && self->is_open()) {
        // poll() rather than readable(): it asks the kernel for the level, and c-ares
        // reads and writes the socket itself, behind the backend's back.
        auto f = co_await coroutine::as_future(s->fd.poll(read ? POLLIN : POLLOUT));
        bool ok = !f.failed();
        f.ignore_ready_future();
        if (s->closed || !self->is_open() || !ok) {
            // Closed, or the backend refused to watch it (then the query's timeout ends
            // it, as for a server that never answers).
            break;
        }
        int fd = s->fd.get();
        self->process(read ? fd : ARES_SOCKET_BAD, read ? ARES_SOCKET_BAD : fd);
    }
    (read ? s->reading : s->writing) = false;
}

ares_socket_t channel::sock_open(int domain, int type, int protocol, void* self) {
    auto* c = static_cast<channel*>(self);
    int fd = ::socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0) {
        return ARES_SOCKET_BAD;
    }
    if (type == SOCK_STREAM) {
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    try {
        auto s = std::make_shared<socket_state>(pollable_fd::from_nonblocking(fd));
        c->sockets_[fd] = std::move(s);
    } catch (const std::system_error& e) {
        // from_nonblocking() closed the descriptor.
        errno = e.code().category() == std::system_category() ? e.code().value() : ENOMEM;
        return ARES_SOCKET_BAD;
    } catch (...) {
        errno = ENOMEM;
        return ARES_SOCKET_BAD;
    }
    return fd;
}

int channel::sock_close(ares_socket_t fd, void* self) {
    auto* c = static_cast<channel*>(self);
    auto it = c->sockets_.find(fd);
    if (it == c->sockets_.end()) {
        errno = EBADF;
        return -1;
    }
    // A watcher waiting on it wakes with ECANCELED and sees `closed`.
    socket_ptr s = std::move(it->second);
    c->sockets_.erase(it);
    s->closed = true;
    s->fd.close();
    return 0;
}

int channel::sock_connect(ares_socket_t fd, const ::sockaddr* addr, ares_socklen_t len, void*) {
    // Non-blocking: a TCP connect returns EINPROGRESS, and c-ares waits for writability.
    return ::connect(fd, addr, len);
}

ares_ssize_t channel::sock_recvfrom(ares_socket_t fd, void* buf, std::size_t len, int flags, ::sockaddr* from,
                                    ares_socklen_t* from_len, void*) {
    return ::recvfrom(fd, buf, len, flags | MSG_DONTWAIT, from, from_len);
}

ares_ssize_t channel::sock_sendv(ares_socket_t fd, const ::iovec* iov, int count, void*) {
    ::msghdr msg{};
    msg.msg_iov = const_cast<::iovec*>(iov);
    msg.msg_iovlen = std::size_t(count);
    return ::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
}

void channel::sock_state(void* self, ares_socket_t fd, int read, int write) {
    static_cast<channel*>(self)->on_state(fd, read != 0, write != 0);
}

}  // namespace reef::net::dns::detail
