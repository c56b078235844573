// Listening sockets of the kernel-socket stack.
//
// this_shard and reuse_port: a socket per shard, accepted with pollable_fd::accept() (a
// ring operation on io_uring), whose connections stay on the shard.
//
// spread: one socket per address, owned by the first shard that listened on it. The
// owner's accept loop waits for readiness, accepts with accept4(2) until EAGAIN, and
// hands each descriptor to the next listening shard (round robin) through
// smp::submit_to; that shard registers it with its own backend when its accept() takes
// it. Every listening shard has a slot in the group: a pointer to its member (written
// only by that shard, under the registry lock) and a count of connections sent to it
// but not yet accepted. The owner skips a shard whose count reached the backlog, and
// when every shard is full it stops accepting (the kernel's backlog takes over) until a
// member takes a connection and wakes it.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>

#include <reef/core/coroutine.hh>
#include <reef/net/server_socket.hh>
#include <reef/reactor/log.hh>
#include <reef/reactor/sleep.hh>
#include <reef/reactor/smp.hh>

#include "posix_socket.hh"
#include "posix_stack_impl.hh"

namespace reef::net::posix {

namespace {

logger net_log("net-posix");

std::exception_ptr aborted() {
    return make_error(ECONNABORTED, "accept: listening was stopped");
}

// A configured, bound, listening socket.
raw_fd make_listener(const socket_address& addr, const listen_options& opts, bool reuse_port) {
    if (addr.is_unspecified()) {
        throw_error(EAFNOSUPPORT, "listen: no address given");
    }
    raw_fd fd = open_socket(addr.family(), SOCK_STREAM);
    if (opts.reuse_address) {
        set_int_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    }
    if (reuse_port) {
        set_int_option(fd.get(), SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
    }
    // Accepted sockets inherit these from the listening one: no system call per
    // connection.
    if (addr.is_inet()) {
        set_tcp_options(fd.get(), opts.nodelay, opts.keepalive);
    }
    set_buffer_sizes(fd.get(), opts.send_buffer_size, opts.receive_buffer_size);
    bind_to(fd.get(), addr);
    if (::listen(fd.get(), opts.backlog) != 0) {
        throw_error(errno, fmt::format("listen on {}", addr));
    }
    return fd;
}

// this_shard and reuse_port.
class local_listener final : public server_socket_impl {
public:
    local_listener(pollable_fd fd, const socket_address& local) noexcept : fd_(std::move(fd)), local_(local) {}

    future<accept_result> accept() override {
        if (!fd_) {
            return make_exception_future<accept_result>(aborted());
        }
        // The continuation uses no member: the listener may be gone when it runs.
        return fd_.accept().then_wrapped([family = local_.family()](future<reef::accept_result> f) {
            if (f.failed()) {
                auto e = f.get_exception();
                return make_exception_future<accept_result>(error_code_of(e) == ECANCELED ? aborted() : e);
            }
            auto r = f.get();
            auto peer = socket_address::from_sockaddr(reinterpret_cast<const ::sockaddr*>(&r.address), r.address_len);
            return make_ready_future<accept_result>(accept_result{make_connection(std::move(r.fd), family, peer), peer});
        });
    }

    // Closing the socket fails a pending accept (ECANCELED, reported as ECONNABORTED)
    // and frees the port at once.
    void abort_accept() override { fd_.close(); }

    socket_address local_address() const override { return local_; }

private:
    pollable_fd fd_;
    socket_address local_;
};

class spread_member;

// One listening address of the spread policy, shared by its members on every shard.
struct spread_group {
    struct slot {
        std::atomic<spread_member*> member{nullptr};  // written by its shard under the registry lock
        std::atomic<int> queued{0};                   // sent to the shard, not yet accepted there
    };

    spread_group(const socket_address& a, unsigned owner_shard, unsigned shards, int backlog)
        : address(a), owner(owner_shard), limit(std::max(backlog, 1)), nslots(shards),
          slots(std::make_unique<slot[]>(shards)) {}

    // The next shard (round robin from `next`) with a member and room; -1 when none.
    int find_room(bool advance) noexcept {
        for (unsigned i = 0; i < nslots; ++i) {
            unsigned s = (next + i) % nslots;
            if (slots[s].member.load() && slots[s].queued.load() < limit) {
                if (advance) {
                    next = s + 1;
                }
                return int(s);
            }
        }
        return -1;
    }

    // On the owner: a member made room.
    void wake() noexcept {
        if (room) {
            auto pr = std::move(*room);
            room.reset();
            pr.set_value();
        } else {
            woken = true;
        }
    }

    const socket_address address;
    const unsigned owner;
    const int limit;
    const unsigned nslots;
    std::unique_ptr<slot[]> slots;
    std::atomic<bool> closed{false};         // the owner's member left: no more connections
    std::atomic<bool> owner_waiting{false};  // the owner waits for room: members must wake it

    // Owner shard only.
    pollable_fd fd;
    unsigned next = 0;
    std::optional<promise<>> room;
    bool woken = false;
};

struct spread_registry {
    std::mutex mutex;
    std::unordered_map<socket_address, std::shared_ptr<spread_group>> groups;  // guarded by mutex
};

spread_registry& registry() {
    static spread_registry r;
    return r;
}

// A connection sent to a shard, not accepted yet: a bare descriptor.
struct pending_connection {
    int fd;
    socket_address peer;
};

// Tells the owner, if it waits for room, that this shard took a connection.
void made_room(const std::shared_ptr<spread_group>& g) {
    if (g->owner_waiting.exchange(false)) {
        (void)smp::submit_to(g->owner, [g] { g->wake(); });
    }
}

class spread_member final : public server_socket_impl {
public:
    spread_member(std::shared_ptr<spread_group> g, unsigned shard) noexcept : g_(std::move(g)), shard_(shard) {}
    ~spread_member() override { leave(); }

    future<accept_result> accept() override {
        if (!queue_.empty()) {
            auto p = std::move(queue_.front());
            queue_.pop_front();
            return futurize_invoke([&] { return take(p); });
        }
        if (left_ || g_->closed.load()) {
            return make_exception_future<accept_result>(aborted());
        }
        waiter_.emplace();
        return waiter_->get_future();
    }

    void abort_accept() override { leave(); }

    socket_address local_address() const override { return g_->address; }

    // On this shard: a connection from the owner.
    void deliver(pending_connection p) noexcept {
        if (waiter_) {
            auto pr = std::move(*waiter_);
            waiter_.reset();
            try {
                pr.set_value(take(p));
            } catch (...) {
                pr.set_exception(std::current_exception());
            }
        } else {
            queue_.push_back(std::move(p));
        }
    }

    // The group closed: a waiting accept() has nothing more to wait for.
    void group_closed() noexcept { fail_waiter(); }

private:
    accept_result take(pending_connection& p) {
        g_->slots[shard_].queued.fetch_sub(1);
        made_room(g_);
        int family = g_->address.family();
        return accept_result{make_connection(pollable_fd::from_nonblocking(p.fd), family, p.peer), p.peer};
    }

    void fail_waiter() noexcept {
        if (waiter_) {
            auto pr = std::move(*waiter_);
            waiter_.reset();
            pr.set_exception(aborted());
        }
    }

    void leave() noexcept;

    std::shared_ptr<spread_group> g_;
    unsigned shard_;
    std::deque<pending_connection> queue_;
    std::optional<promise<accept_result>> waiter_;
    bool left_ = false;
};

// On the shard a connection was sent to: hand it to the member, or close it when the
// shard stopped listening meanwhile.
void deliver_here(const std::shared_ptr<spread_group>& g, pending_connection p) noexcept {
    auto& slot = g->slots[this_shard_id()];
    if (auto* m = slot.member.load()) {
        m->deliver(std::move(p));
        return;
    }
    ::close(p.fd);
    slot.queued.fetch_sub(1);
    made_room(g);
}

void spread_member::leave() noexcept {
    if (left_) {
        return;
    }
    left_ = true;
    const bool owner = shard_ == g_->owner;
    {
        auto& r = registry();
        std::lock_guard lock(r.mutex);
        g_->slots[shard_].member.store(nullptr);
        if (owner) {
            g_->closed.store(true);
            auto it = r.groups.find(g_->address);
            if (it != r.groups.end() && it->second == g_) {
                r.groups.erase(it);
            }
        }
    }
    for (auto& p : queue_) {
        ::close(p.fd);
        g_->slots[shard_].queued.fetch_sub(1);
    }
    queue_.clear();
    fail_waiter();
    if (owner) {
        // Closing frees the port now; the accept loop sees the failed poll and ends.
        g_->fd.close();
        g_->wake();
        for (unsigned s = 0; s < g_->nslots; ++s) {
            if (s != shard_ && g_->slots[s].member.load()) {
                (void)smp::submit_to(s, [g = g_, s] {
                    if (auto* m = g->slots[s].member.load()) {
                        m->group_closed();
                    }
                });
            }
        }
    } else {
        made_room(g_);
    }
}

// The owner's loop: accept while some shard has room, hand connections out.
future<> accept_loop(std::shared_ptr<spread_group> g) {
    while (!g->closed.load()) {
        if (g->find_room(false) < 0) {
            g->owner_waiting.store(true);
            if (g->find_room(false) >= 0) {
                g->owner_waiting.store(false);
                continue;
            }
            if (std::exchange(g->woken, false)) {
                continue;
            }
            g->room.emplace();
            co_await g->room->get_future();
            continue;
        }
        ::sockaddr_storage ss{};
        ::socklen_t len = sizeof(ss);
        int fd = ::accept4(g->fd.get(), reinterpret_cast<::sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK) {
                auto f = co_await coroutine::as_future(g->fd.poll(POLLIN));
                if (f.failed()) {
                    f.ignore_ready_future();  // closed by the owner's member
                    co_return;
                }
                f.ignore_ready_future();
                continue;
            }
            if (e == ECONNABORTED || e == EINTR || e == EPROTO) {
                continue;  // that connection is gone; the next one may be fine
            }
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
                net_log.warn("accept on {}: {}; retrying in 10 ms", g->address, std::system_category().message(e));
                co_await sleep(std::chrono::milliseconds(10));
                continue;
            }
            co_return;  // EBADF, EINVAL: the socket was closed
        }
        pending_connection p{fd, socket_address::from_sockaddr(reinterpret_cast<const ::sockaddr*>(&ss), len)};
        int target = g->find_room(true);
        if (target < 0) {
            ::close(fd);  // the last member left in between
            continue;
        }
        g->slots[target].queued.fetch_add(1);
        if (unsigned(target) == this_shard_id()) {
            deliver_here(g, std::move(p));
        } else {
            (void)smp::submit_to(unsigned(target), [g, p = std::move(p)]() mutable { deliver_here(g, std::move(p)); });
        }
        co_await coroutine::maybe_yield();
    }
}

server_socket listen_spread(const socket_address& addr, const listen_options& opts) {
    const unsigned me = this_shard_id();
    std::shared_ptr<spread_group> g;
    std::unique_ptr<spread_member> m;
    {
        auto& r = registry();
        std::lock_guard lock(r.mutex);
        // Port 0 asks for a new port: never a group of its own.
        if (!(addr.is_inet() && addr.port() == 0)) {
            auto it = r.groups.find(addr);
            if (it != r.groups.end()) {
                g = it->second;
                if (me >= g->nslots || g->slots[me].member.load()) {
                    throw_error(EADDRINUSE, fmt::format("listen on {}: this shard listens there already", addr));
                }
                m = std::make_unique<spread_member>(g, me);
                g->slots[me].member.store(m.get());
                return server_socket(std::move(m));
            }
        }
        // Made under the lock, so that two shards listening at once on a new address
        // end up in one group instead of one failing with EADDRINUSE.
        raw_fd fd = make_listener(addr, opts, false);
        socket_address local = local_address_of(fd.get());
        g = std::make_shared<spread_group>(local, me, smp::count, opts.backlog);
        g->fd = pollable_fd::from_nonblocking(fd.release());
        m = std::make_unique<spread_member>(g, me);
        g->slots[me].member.store(m.get());
        r.groups[local] = g;
    }
    (void)accept_loop(g);
    return server_socket(std::move(m));
}

}  // namespace

server_socket listen(const socket_address& addr, const listen_options& opts) {
    switch (opts.balancing) {
    case load_balancing::spread:
        return listen_spread(addr, opts);
    case load_balancing::reuse_port:
        if (!addr.is_inet()) {
            throw_error(EOPNOTSUPP, fmt::format("listen on {}: reuse_port needs a TCP address", addr));
        }
        [[fallthrough]];
    case load_balancing::this_shard:
        break;
    }
    raw_fd fd = make_listener(addr, opts, opts.balancing == load_balancing::reuse_port);
    socket_address local = local_address_of(fd.get());
    return server_socket(std::make_unique<local_listener>(pollable_fd::from_nonblocking(fd.release()), local));
}

}  // namespace reef::net::posix
