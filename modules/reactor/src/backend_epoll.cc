// The epoll backend: every fd is registered once, edge-triggered, for input and output,
// so the kernel always reports readiness and arm() is never needed. The operations
// (the system call first, a wait for readiness only on EAGAIN) are readiness_backend's.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "backend_readiness.hh"

namespace reef::detail {

namespace {

static_assert(EPOLLIN == POLLIN && EPOLLOUT == POLLOUT && EPOLLERR == POLLERR && EPOLLHUP == POLLHUP &&
                  EPOLLRDHUP == POLLRDHUP && EPOLLPRI == POLLPRI,
              "epoll events are reported to readiness_backend as poll(2) events");

class epoll_backend final : public readiness_backend {
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
        auto* s = new readiness_fd_state;
        s->fd = fd;
        // Registered for good: the kernel reports every edge in both directions.
        s->armed = readiness_fd_state::armed_both;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = s;
        if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
            int e = errno;
            if (e != EPERM) {
                delete s;
                throw std::system_error(e, std::system_category(), "epoll_ctl(ADD)");
            }
            // Regular files and similar cannot be polled: they are always ready.
            s->ready = readiness_in_events | readiness_out_events;
            s->unpollable = true;
        }
        return s;
    }

    bool poll_completions() override {
        if (waiters() == 0) {
            // Nobody waits: events stay queued in the kernel until someone does, and
            // skipping the system call keeps a busy loop (cross-shard messages, timers)
            // from paying one per iteration.
            free_released();
            return false;
        }
        return process_events(::epoll_wait(epfd_, events_, max_events, 0));
    }

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

    void arm(readiness_fd_state&, bool) override {
        // Never called: attach() leaves both directions armed.
    }

    void disarm(readiness_fd_state& s) noexcept override {
        if (!s.unpollable) {
            ::epoll_ctl(epfd_, EPOLL_CTL_DEL, s.fd, nullptr);
        }
    }

    bool process_events(int n) {
        bool work = false;
        for (int i = 0; i < n; ++i) {
            auto* s = static_cast<readiness_fd_state*>(events_[i].data.ptr);
            if (!s) {
                std::uint64_t v;
                [[maybe_unused]] auto r = ::read(wakefd_, &v, sizeof(v));
                continue;
            }
            work |= on_ready(*s, events_[i].events);
        }
        free_released();
        return work;
    }

    int epfd_ = -1;
    int wakefd_ = -1;
    epoll_event events_[max_events];
};

}  // namespace

std::unique_ptr<backend> make_epoll_backend(const backend_config& cfg) {
    return std::make_unique<epoll_backend>(cfg);
}

}  // namespace reef::detail
