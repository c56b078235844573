// The epoll backend: every fd is registered once, edge-triggered, for input and output.
// Operations try the system call first and wait for readiness only on EAGAIN.
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "backend.hh"
#include "backend_util.hh"

namespace reef::detail {

namespace {

struct epoll_fd_state final : fd_state {
    std::uint32_t ready = 0;  // events seen since the last EAGAIN, by direction
    unsigned ops = 0;         // operations waiting to retry: they still use this state
    bool closed = false;
    bool unpollable = false;
    promise<>* read_waiter = nullptr;
    promise<>* write_waiter = nullptr;
    // The promises live here so that a wait allocates nothing.
    promise<> read_pr;
    promise<> write_pr;
};

constexpr std::uint32_t in_events = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
constexpr std::uint32_t out_events = EPOLLOUT | EPOLLHUP | EPOLLERR;

class epoll_backend final : public backend {
public:
    explicit epoll_backend(const backend_config&) {
        epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
        if (epfd_ < 0) {
            throw std::system_error(errno, std::system_category(), "epoll_create1");
        }
        wakefd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (wakefd_ < 0) {
            int e = errno;
            ::close(epfd_);
            throw std::system_error(e, std::system_category(), "eventfd");
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = nullptr;  // nullptr marks the wake eventfd
        if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev) != 0) {
            int e = errno;
            ::close(wakefd_);
            ::close(epfd_);
            throw std::system_error(e, std::system_category(), "epoll_ctl(eventfd)");
        }
    }
    ~epoll_backend() override {
        ::close(wakefd_);
        ::close(epfd_);
    }

    std::string_view name() const noexcept override { return "epoll"; }

    fd_state* attach(int fd) override {
        auto* s = new epoll_fd_state;
        s->fd = fd;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = s;
        if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
            int e = errno;
            delete s;
            if (e != EPERM) {
                throw std::system_error(e, std::system_category(), "epoll_ctl(ADD)");
            }
            // Regular files and similar cannot be polled: they are always ready.
            s = new epoll_fd_state;
            s->fd = fd;
            s->ready = in_events | out_events;
            s->unpollable = true;
        }
        return s;
    }

    void forget(fd_state* base) noexcept override {
        auto* s = static_cast<epoll_fd_state*>(base);
        if (!s->unpollable) {
            ::epoll_ctl(epfd_, EPOLL_CTL_DEL, s->fd, nullptr);
        }
        if (s->read_waiter) {
            std::exchange(s->read_waiter, nullptr)->set_exception(cancelled());
        }
        if (s->write_waiter) {
            std::exchange(s->write_waiter, nullptr)->set_exception(cancelled());
        }
        ::close(s->fd);
        s->fd = -1;
        s->closed = true;
        release_if_unused(s);
    }

    future<> readable(fd_state& base) override { return wait(static_cast<epoll_fd_state&>(base), true); }
    future<> writable(fd_state& base) override { return wait(static_cast<epoll_fd_state&>(base), false); }

    future<int> poll(fd_state& base, int events) override {
        auto& s = static_cast<epoll_fd_state&>(base);
        pollfd p{s.fd, short(events), 0};
        int r = ::poll(&p, 1, 0);
        if (r < 0) {
            return make_exception_future<int>(errno_error("poll"));
        }
        if (r > 0 && p.revents) {
            return make_ready_future<int>(int(p.revents));
        }
        if (events & (POLLIN | POLLPRI | POLLRDHUP)) {
                return retry_after<int>(s, true, [this, &s, events] { return poll(s, events); });
        }
        return retry_after<int>(s, false, [this, &s, events] { return poll(s, events); });
    }

    future<std::size_t> read_some(fd_state& base, void* buf, std::size_t len) override {
        auto& s = static_cast<epoll_fd_state&>(base);
        ssize_t r = ::read(s.fd, buf, len);
        if (r >= 0) {
            return make_ready_future<std::size_t>(std::size_t(r));
        }
        if (errno != EAGAIN) {
            return make_exception_future<std::size_t>(errno_error("read"));
        }
        return retry_after<std::size_t>(s, true, [this, &s, buf, len] { return read_some(s, buf, len); });
    }

    future<std::size_t> write_some(fd_state& base, const void* buf, std::size_t len) override {
        auto& s = static_cast<epoll_fd_state&>(base);
        ssize_t r = ::write(s.fd, buf, len);
        if (r >= 0) {
            return make_ready_future<std::size_t>(std::size_t(r));
        }
        if (errno != EAGAIN) {
            return make_exception_future<std::size_t>(errno_error("write"));
        }
        return retry_after<std::size_t>(s, false, [this, &s, buf, len] { return write_some(s, buf, len); });
    }

    future<std::size_t> sendmsg(fd_state& base, const ::msghdr* msg, int flags) override {
        auto& s = static_cast<epoll_fd_state&>(base);
        ssize_t r = ::sendmsg(s.fd, msg, flags | MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r >= 0) {
            return make_ready_future<std::size_t>(std::size_t(r));
        }
        if (errno != EAGAIN) {
            return make_exception_future<std::size_t>(errno_error("sendmsg"));
        }
        return retry_after<std::size_t>(s, false, [this, &s, msg, flags] { return sendmsg(s, msg, flags); });
    }

    future<std::size_t> recvmsg(fd_state& base, ::msghdr* msg, int flags) override {
        auto& s = static_cast<epoll_fd_state&>(base);
        ssize_t r = ::recvmsg(s.fd, msg, flags | MSG_DONTWAIT);
        if (r >= 0) {
            return make_ready_future<std::size_t>(std::size_t(r));
        }
        if (errno != EAGAIN) {
            return make_exception_future<std::size_t>(errno_error("recvmsg"));
        }
        return retry_after<std::size_t>(s, true, [this, &s, msg, flags] { return recvmsg(s, msg, flags); });
    }

    future<accept_result> accept(fd_state& base) override {
        auto& s = static_cast<epoll_fd_state&>(base);
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

    future<> connect(fd_state& base, const ::sockaddr* addr, ::socklen_t len) override {
        auto& s = static_cast<epoll_fd_state&>(base);
        if (::connect(s.fd, addr, len) == 0) {
            return make_ready_future<>();
        }
        if (errno != EINPROGRESS) {
            return make_exception_future<>(errno_error("connect"));
        }
        return retry_after<void>(s, false, [&s] { return finish_connect(s.fd); });
    }

    bool poll_completions() override { return process_events(::epoll_wait(epfd_, events_, max_events, 0)); }

    void sleep(std::optional<std::chrono::nanoseconds> timeout) override {
        if (timeout) {
            timespec ts{};
            ts.tv_sec = timeout->count() / 1'000'000'000;
            ts.tv_nsec = timeout->count() % 1'000'000'000;
            process_events(::epoll_pwait2(epfd_, events_, max_events, &ts, nullptr));
        } else {
            process_events(::epoll_pwait2(epfd_, events_, max_events, nullptr, nullptr));
        }
    }

    void wake() noexcept override {
        std::uint64_t one = 1;
        [[maybe_unused]] auto r = ::write(wakefd_, &one, sizeof(one));
    }

private:
    static constexpr int max_events = 256;

    static std::exception_ptr cancelled() {
        return std::make_exception_ptr(std::system_error(ECANCELED, std::system_category(), "pollable_fd closed"));
    }

    // Frees a closed state once no operation will touch it again; the free itself waits
    // for the end of the current event batch, which may still name the state.
    void release_if_unused(epoll_fd_state* s) noexcept {
        if (s->closed && s->ops == 0) {
            graveyard_.push_back(s);
        }
    }

    // The slow path of an operation: forget the readiness that EAGAIN disproved, wait
    // for it to come back, then run `retry` (the operation again) unless the fd was
    // closed meanwhile.
    template <typename T, typename Retry>
    future<T> retry_after(epoll_fd_state& s, bool read, Retry&& retry) {
        s.ready &= ~(read ? in_events : out_events);
        ++s.ops;
        return wait(s, read).then_wrapped([this, &s, retry = std::forward<Retry>(retry)](future<> f) mutable -> future<T> {
            --s.ops;
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

    future<> wait(epoll_fd_state& s, bool read) {
        std::uint32_t mask = read ? in_events : out_events;
        if (s.ready & mask) {
            return make_ready_future<>();
        }
        promise<>*& slot = read ? s.read_waiter : s.write_waiter;
        if (slot) {
            return make_exception_future<>(std::make_exception_ptr(std::logic_error(
                read ? "pollable_fd: a read-side operation is already waiting on this fd"
                     : "pollable_fd: a write-side operation is already waiting on this fd")));
        }
        promise<>& pr = read ? s.read_pr : s.write_pr;
        pr = promise<>();
        slot = &pr;
        return pr.get_future();
    }

    bool process_events(int n) {
        bool work = false;
        for (int i = 0; i < n; ++i) {
            auto* s = static_cast<epoll_fd_state*>(events_[i].data.ptr);
            if (!s) {
                std::uint64_t v;
                [[maybe_unused]] auto r = ::read(wakefd_, &v, sizeof(v));
                continue;
            }
            if (s->closed) {
                continue;
            }
            std::uint32_t ev = events_[i].events;
            s->ready |= ev;
            if ((ev & in_events) && s->read_waiter) {
                std::exchange(s->read_waiter, nullptr)->set_value();
                work = true;
            }
            if ((ev & out_events) && s->write_waiter) {
                std::exchange(s->write_waiter, nullptr)->set_value();
                work = true;
            }
        }
        for (auto* s : graveyard_) {
            delete s;
        }
        graveyard_.clear();
        return work;
    }

    int epfd_ = -1;
    int wakefd_ = -1;
    epoll_event events_[max_events];
    std::vector<epoll_fd_state*> graveyard_;
};

}  // namespace

std::unique_ptr<backend> make_epoll_backend(const backend_config& cfg) {
    return std::make_unique<epoll_backend>(cfg);
}

}  // namespace reef::detail
