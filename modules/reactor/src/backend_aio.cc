// The linux-aio backend: readiness through one-shot IOCB_CMD_POLL iocbs, submitted in
// one io_submit per loop iteration and reaped with io_getevents; wake() through an
// eventfd with a poll iocb armed on it. Raw system calls, no libaio.
//
// Every iocb belongs to an aio_request whose address is the iocb's aio_data, and a
// completion calls the request's `complete` function: readiness polls now, disk reads
// and writes (io-sched) later, each kind with its own function, queued with queue().
//
// Each waiting direction of an fd holds one poll iocb in the kernel, so the context
// size (backend_config::queue_depth, at least; the kernel often fits twice as many)
// bounds the waits in flight; beyond it, waits stay queued until completions make
// room. A forgotten fd's iocbs are cancelled, and its state lives until their events
// have come back (readiness_fd_state::users counts them).
//
// A poll iocb's wake-up does not always complete it at once: when the kernel cannot take
// the context's lock in the waker (io_submit holds it a moment for every poll it adds),
// it hands the completion to a kworker of the waker's CPU, which may wait milliseconds
// behind whatever runs there (a load generator on the other CPU: 0.5 % of requests,
// waiting up to 4.5 ms). So the backend does not rely on every event arriving: the polls
// it has out with a waiter are also asked with poll(2), before it blocks and at most
// every rescue_interval while it polls with nothing reaped, and a ready fd's waiter is
// resolved without its iocb (whose late event then only records readiness).
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "backend_readiness.hh"
#include "backend_util.hh"

namespace reef::detail {

namespace {

// ---- system calls (-errno on failure) ----------------------------------------------

long result_of(long r) noexcept {
    return r < 0 ? -errno : r;
}
long io_setup(unsigned nr_events, aio_context_t* ctx) noexcept {
    return result_of(::syscall(SYS_io_setup, nr_events, ctx));
}
long io_destroy(aio_context_t ctx) noexcept {
    return result_of(::syscall(SYS_io_destroy, ctx));
}
long io_submit(aio_context_t ctx, long n, ::iocb** iocbs) noexcept {
    return result_of(::syscall(SYS_io_submit, ctx, n, iocbs));
}
long io_cancel(aio_context_t ctx, ::iocb* cb, ::io_event* result) noexcept {
    return result_of(::syscall(SYS_io_cancel, ctx, cb, result));
}
long io_getevents(aio_context_t ctx, long min_nr, long nr, ::io_event* events, ::timespec* timeout) noexcept {
    return result_of(::syscall(SYS_io_getevents, ctx, min_nr, nr, events, timeout));
}

// The header of the completion ring the kernel maps at the context's address (fs/aio.c,
// struct aio_ring). Only head and tail are read, to skip io_getevents when it is empty.
struct aio_ring_header {
    unsigned id;
    unsigned nr;
    unsigned head;
    unsigned tail;
    unsigned magic;
    unsigned compat_features;
    unsigned incompat_features;
    unsigned header_length;
};
constexpr unsigned aio_ring_magic = 0xa10a10a1;

// A number from a /proc/sys file, or nullopt.
std::optional<unsigned long> read_proc_number(const char* path) noexcept {
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return std::nullopt;
    }
    char buf[32];
    ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
    ::close(fd);
    if (n <= 0) {
        return std::nullopt;
    }
    buf[n] = '\0';
    char* end = nullptr;
    unsigned long v = std::strtoul(buf, &end, 10);
    if (end == buf) {
        return std::nullopt;
    }
    return v;
}

// ---- requests ----------------------------------------------------------------------

class aio_backend;

/// One iocb and what to do when it completes. Owner shard only.
struct aio_request {
    enum class stage : std::uint8_t { idle, queued, submitted };

    ::iocb cb{};  // aio_data = this request's address
    /// Called exactly once per queueing: with the event's result when the kernel
    /// completes the iocb, or with -errno when it could not be submitted (-ECANCELED
    /// when it was dropped before submission). Returns true if a waiter resolved.
    bool (*complete)(aio_backend& b, aio_request& r, std::int64_t res) noexcept = nullptr;
    stage at = stage::idle;
    bool drop = false;  // set while queued: complete with -ECANCELED instead of submitting
};

struct aio_fd_state;

/// A one-shot IOCB_CMD_POLL for one direction of an fd.
struct poll_request final : aio_request {
    static constexpr std::uint32_t unwatched = ~std::uint32_t(0);

    aio_fd_state* owner = nullptr;
    bool read = false;
    std::uint32_t watch_slot = unwatched;  // index in aio_backend::watched_ while in the kernel
};

struct aio_fd_state final : readiness_fd_state {
    explicit aio_fd_state(int fd_) noexcept;
    poll_request polls[2];  // [0] read side, [1] write side
};

// ---- the backend -------------------------------------------------------------------

class aio_backend final : public readiness_backend {
public:
    explicit aio_backend(const backend_config& cfg);
    ~aio_backend() override;

    std::string_view name() const noexcept override { return "aio"; }

    fd_state* attach(int fd) override { return new aio_fd_state(fd); }

    bool poll_completions() override {
        bool work = flush();
        if (!ring_empty()) {
            ::timespec zero{};
            work |= reap(0, &zero);
        } else if (!work && !watched_.empty() && waiters() != 0) {
            auto now = std::chrono::steady_clock::now();
            if (now >= next_rescue_) {
                next_rescue_ = now + rescue_interval;
                work |= rescue_late_polls();
            }
        }
        free_released();
        return work;
    }

    void sleep(std::optional<std::chrono::nanoseconds> timeout) override {
        // Submit what the last tasks armed, the wake poll first; if that already
        // resolved somebody (a refused submission), only look for events.
        bool work = flush();
        if (wake_.at != aio_request::stage::submitted) [[unlikely]] {
            // The wake poll could not be armed: never block for long without it.
            timeout = std::min(timeout.value_or(std::chrono::milliseconds(1)),
                               std::chrono::nanoseconds(std::chrono::milliseconds(1)));
        }
        ::timespec ts{};
        // Never block while a watched fd is ready but its event is still on its way.
        if (!work && !watched_.empty() && waiters() != 0) {
            work = rescue_late_polls();
        }
        if (work) {
            reap(0, &ts);
        } else if (timeout) {
            ts.tv_sec = timeout->count() / 1'000'000'000;
            ts.tv_nsec = timeout->count() % 1'000'000'000;
            reap(1, &ts);
        } else {
            reap(1, nullptr);
        }
        free_released();
    }

    void wake() noexcept override {
        std::uint64_t one = 1;
        [[maybe_unused]] auto r = ::write(wakefd_, &one, sizeof(one));
    }

private:
    friend struct aio_fd_state;  // its poll requests complete through on_poll_done

    static constexpr int max_events = 256;
    // Readiness arms collected during a task run are submitted together; this many
    // are submitted at once, without waiting for the end of the run.
    static constexpr std::size_t early_submit = 128;
    // How often a polling shard that reaps nothing asks poll(2) about its waiting fds,
    // and how many it asks at once (the next call goes on from there).
    static constexpr std::chrono::microseconds rescue_interval{200};
    static constexpr std::size_t rescue_batch = 256;

    static bool on_poll_done(aio_backend& b, aio_request& r, std::int64_t res) noexcept;
    static bool on_wake(aio_backend& b, aio_request& r, std::int64_t res) noexcept;

    void arm(readiness_fd_state& s, bool read) override;
    void disarm(readiness_fd_state& s) noexcept override;
    void await_cancelled(aio_fd_state& s) noexcept;

    void queue(aio_request& r) {
        queue_.push_back(&r);
        r.at = aio_request::stage::queued;
    }
    bool flush() noexcept;
    bool reap(long min_nr, ::timespec* timeout) noexcept;

    void watch(poll_request& r) {
        r.watch_slot = std::uint32_t(watched_.size());
        watched_.push_back(&r);
    }
    void unwatch(poll_request& r) noexcept {
        if (r.watch_slot == poll_request::unwatched) {
            return;
        }
        poll_request* last = watched_.back();
        watched_[r.watch_slot] = last;
        last->watch_slot = r.watch_slot;
        watched_.pop_back();
        r.watch_slot = poll_request::unwatched;
    }
    bool rescue_late_polls() noexcept;

    bool ring_empty() const noexcept {
        // An event is in the ring from the moment the kernel completes its iocb, so an
        // empty ring means io_getevents would find nothing.
        return ring_ && __atomic_load_n(&ring_->head, __ATOMIC_RELAXED) ==
                            __atomic_load_n(&ring_->tail, __ATOMIC_ACQUIRE);
    }

    aio_context_t ctx_ = 0;
    bool kernel_full_ = false;  // io_submit said EAGAIN since the last reaped event
    unsigned orphans_ = 0;      // queued or submitted requests of closed states
    bool quiet_ = false;        // shutting down: completions resolve nobody
    int wakefd_ = -1;
    aio_request wake_;                       // the poll iocb on wakefd_
    const aio_ring_header* ring_ = nullptr;  // nullptr when its layout is not the known one
    std::vector<aio_request*> queue_;        // waiting for io_submit, in order
    std::vector<::iocb*> batch_;             // the argument of io_submit
    std::vector<poll_request*> watched_;     // poll iocbs in the kernel, of open fds
    std::vector<::pollfd> rescue_fds_;       // rescue_late_polls()'s question to poll(2)
    std::vector<poll_request*> rescue_of_;   // the request of each of rescue_fds_
    std::size_t rescue_next_ = 0;            // where the next rescue_late_polls() starts
    std::chrono::steady_clock::time_point next_rescue_{};
    ::io_event events_[max_events];
};

aio_fd_state::aio_fd_state(int fd_) noexcept {
    fd = fd_;
    for (int i = 0; i < 2; ++i) {
        poll_request& r = polls[i];
        r.owner = this;
        r.read = i == 0;
        r.complete = &aio_backend::on_poll_done;
        r.cb.aio_data = std::uint64_t(reinterpret_cast<std::uintptr_t>(&r));
        r.cb.aio_lio_opcode = IOCB_CMD_POLL;
        r.cb.aio_fildes = std::uint32_t(fd_);
        // ERR and HUP are always reported; RDHUP wakes a reader on a half-closed peer.
        r.cb.aio_buf = r.read ? std::uint64_t(POLLIN | POLLRDHUP) : std::uint64_t(POLLOUT);
    }
}

aio_backend::aio_backend(const backend_config& cfg) {
    // Room for the wake poll and one fd at least; no more than the system allows all
    // contexts together (a context asking for more is refused outright).
    unsigned depth = std::max(cfg.queue_depth, 2u);
    auto max_nr = read_proc_number("/proc/sys/fs/aio-max-nr");
    if (max_nr && *max_nr >= 2 && depth > *max_nr) {
        depth = unsigned(*max_nr);
    }
    if (long r = io_setup(depth, &ctx_); r < 0) {
        int e = int(-r);
        std::string what = "io_setup(" + std::to_string(depth) + " events)";
        if (e == EAGAIN) {
            auto in_use = read_proc_number("/proc/sys/fs/aio-nr");
            what += ": the system-wide limit fs.aio-max-nr (" + (max_nr ? std::to_string(*max_nr) : "?") +
                    ", in use " + (in_use ? std::to_string(*in_use) : "?") +
                    ") is exhausted; raise it (sysctl fs.aio-max-nr) or lower the queue depth";
        }
        throw std::system_error(e, std::system_category(), what);
    }
    wakefd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wakefd_ < 0) {
        int e = errno;
        io_destroy(ctx_);
        throw std::system_error(e, std::system_category(), "eventfd");
    }
    auto* ring = reinterpret_cast<const aio_ring_header*>(ctx_);
    if (ring->magic == aio_ring_magic && ring->incompat_features == 0) {
        ring_ = ring;
    }
    wake_.complete = &on_wake;
    wake_.cb.aio_data = std::uint64_t(reinterpret_cast<std::uintptr_t>(&wake_));
    wake_.cb.aio_lio_opcode = IOCB_CMD_POLL;
    wake_.cb.aio_fildes = std::uint32_t(wakefd_);
    wake_.cb.aio_buf = POLLIN;
    // Arm the wake poll now: a kernel without IOCB_CMD_POLL fails here, not later.
    ::iocb* first = &wake_.cb;
    if (long r = io_submit(ctx_, 1, &first); r != 1) {
        int e = r < 0 ? int(-r) : EAGAIN;
        ::close(wakefd_);
        io_destroy(ctx_);
        throw std::system_error(e, std::system_category(), "io_submit(IOCB_CMD_POLL on the wake eventfd)");
    }
    wake_.at = aio_request::stage::submitted;
    queue_.reserve(early_submit);
    batch_.reserve(early_submit + 1);
    // Every poll in flight is watched: reserved here, so that flush() does not allocate
    // for it (the kernel fits about twice the context size).
    watched_.reserve(2 * std::size_t(depth) + 2);
    rescue_fds_.reserve(rescue_batch);
    rescue_of_.reserve(rescue_batch);
}

aio_backend::~aio_backend() {
    // States closed with requests still out are freed once those report: queued ones
    // here, submitted ones (cancelled by disarm()) as their events arrive. Other
    // requests belong to fds that outlive the backend; io_destroy cancels them.
    quiet_ = true;
    for (auto* r : queue_) {
        if (r->drop) {
            r->at = aio_request::stage::idle;
            r->complete(*this, *r, -ECANCELED);
        }
    }
    queue_.clear();
    for (int i = 0; orphans_ > 0 && i < 100; ++i) {
        ::timespec ts{0, 10'000'000};
        reap(1, &ts);
    }
    io_destroy(ctx_);
    ::close(wakefd_);
    free_released();
}

void aio_backend::arm(readiness_fd_state& base, bool read) {
    auto& s = static_cast<aio_fd_state&>(base);
    poll_request& r = s.polls[read ? 0 : 1];
    // The direction's bit is clear, so its request is idle: completed or never used.
    queue(r);
    s.armed |= read ? readiness_fd_state::armed_read : readiness_fd_state::armed_write;
    ++s.users;
    if (queue_.size() >= early_submit && !kernel_full_) {
        flush();
    }
}

void aio_backend::disarm(readiness_fd_state& base) noexcept {
    auto& s = static_cast<aio_fd_state&>(base);
    bool in_kernel = false;
    for (poll_request& r : s.polls) {
        if (r.at == aio_request::stage::queued) {
            r.drop = true;
            ++orphans_;
        } else if (r.at == aio_request::stage::submitted) {
            unwatch(r);  // the fd is about to close: poll(2) must not ask about its number
            // The event still comes, as a completion (mask 0) or as the result the
            // kernel had already posted (io_cancel then fails with EINVAL); until it
            // does, the request holds the state.
            ::io_event ignored{};
            io_cancel(ctx_, &r.cb, &ignored);
            ++orphans_;
            in_kernel = true;
        }
    }
    if (in_kernel) {
        await_cancelled(s);
    }
}

// A poll iocb holds a reference to its file, and a cancelled one lets go of it in a
// kernel worker, after the forget() that cancelled it. Were the fd closed before that,
// the worker's release would be the last one, and a kernel thread's release is
// deferred: the peer would see end of file (a listening port would close) only later.
// So wait here, briefly, until the kernel gave the iocbs back; other events reaped
// meanwhile are handled as usual.
void aio_backend::await_cancelled(aio_fd_state& s) noexcept {
    using clock = std::chrono::steady_clock;
    auto deadline = clock::now() + std::chrono::milliseconds(100);
    auto in_kernel = [&s] {
        return s.polls[0].at == aio_request::stage::submitted ||
               s.polls[1].at == aio_request::stage::submitted;
    };
    while (in_kernel()) {
        auto left = deadline - clock::now();
        if (left <= clock::duration::zero()) {
            break;  // closed anyway; the file is released when the worker gets to it
        }
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        ::timespec ts{ns / 1'000'000'000, ns % 1'000'000'000};
        reap(1, &ts);
    }
}

bool aio_backend::on_poll_done(aio_backend& b, aio_request& base, std::int64_t res) noexcept {
    auto& r = static_cast<poll_request&>(base);
    aio_fd_state& s = *r.owner;
    b.unwatch(r);
    s.armed &= std::uint8_t(~(r.read ? readiness_fd_state::armed_read : readiness_fd_state::armed_write));
    --s.users;
    if (s.closed) {
        // A late event of a forgotten fd: only its state's lifetime is left to settle.
        r.drop = false;
        --b.orphans_;
        b.release_if_unused(&s);
        return false;
    }
    if (b.quiet_) {
        return false;
    }
    if (res < 0) {
        return b.fail_waiter(s, r.read, code_error(int(-res), "io_submit(IOCB_CMD_POLL)"));
    }
    return b.on_ready(s, std::uint32_t(res));
}

bool aio_backend::on_wake(aio_backend& b, aio_request& r, std::int64_t) noexcept {
    // Drain first: a wake() after this read completes the next poll at once.
    std::uint64_t v;
    [[maybe_unused]] auto n = ::read(b.wakefd_, &v, sizeof(v));
    if (!b.quiet_) {
        r.at = aio_request::stage::queued;  // re-armed by the next flush, before any sleep
    }
    return false;
}

// Submits the wake poll (when it needs re-arming) and the queued requests with one
// io_submit. Requests the kernel refuses complete with the error; when it is out of
// room (EAGAIN) the rest stays queued, in order.
bool aio_backend::flush() noexcept {
    bool wake_queued = wake_.at == aio_request::stage::queued;
    // The kernel decides how many requests fit (io_setup's count, often more). Once it
    // said EAGAIN, only completions make room: until some are reaped, submit nothing
    // but the wake poll, which goes first so that the room its own completion freed
    // is still there for it.
    bool take_queue = !queue_.empty() && !kernel_full_;
    if (!take_queue && !wake_queued) {
        return false;
    }
    bool work = false;
    batch_.clear();
    if (wake_queued) {
        batch_.push_back(&wake_.cb);
    }
    if (take_queue) {
        std::size_t kept = 0;
        for (auto* r : queue_) {
            if (r->drop) {
                r->at = aio_request::stage::idle;
                work |= r->complete(*this, *r, -ECANCELED);
            } else {
                queue_[kept++] = r;
                batch_.push_back(&r->cb);
            }
        }
        queue_.resize(kept);
    }
    std::size_t done = 0;
    while (done < batch_.size()) {
        long n = io_submit(ctx_, long(batch_.size() - done), batch_.data() + done);
        if (n > 0) {
            for (long k = 0; k < n; ++k) {
                auto* r = reinterpret_cast<aio_request*>(std::uintptr_t(batch_[done + std::size_t(k)]->aio_data));
                r->at = aio_request::stage::submitted;
                if (r->complete == &on_poll_done) {
                    watch(static_cast<poll_request&>(*r));
                }
            }
            done += std::size_t(n);
            continue;
        }
        int err = n < 0 ? int(-n) : EAGAIN;
        if (err == EAGAIN) {
            kernel_full_ = true;  // retried once completions were reaped
            break;
        }
        // The first iocb of what is left was refused; the ones after it were not tried.
        auto* r = reinterpret_cast<aio_request*>(std::uintptr_t(batch_[done]->aio_data));
        r->at = aio_request::stage::idle;
        work |= r->complete(*this, *r, -err);
        ++done;
    }
    if (take_queue) {
        std::size_t handled = done - std::min<std::size_t>(done, wake_queued ? 1 : 0);
        if (handled == queue_.size()) {
            queue_.clear();
        } else {
            queue_.erase(queue_.begin(), queue_.begin() + std::ptrdiff_t(handled));
        }
    }
    return work;
}

// Asks poll(2) about the fds whose poll iocbs are in the kernel with a waiter (at most
// rescue_batch of them, round robin) and resolves the waiters of the ready ones; their
// iocbs stay out, and report later. Returns true if a waiter resolved.
bool aio_backend::rescue_late_polls() noexcept {
    rescue_fds_.clear();
    rescue_of_.clear();
    std::size_t n = watched_.size();
    std::size_t start = rescue_next_ < n ? rescue_next_ : 0;
    std::size_t i = 0;
    for (; i < n && rescue_fds_.size() < rescue_batch; ++i) {
        poll_request* r = watched_[(start + i) % n];
        aio_fd_state& s = *r->owner;
        if (!(r->read ? s.read_waiter : s.write_waiter)) {
            continue;  // nobody waits on this direction: its event can come when it comes
        }
        rescue_fds_.push_back({s.fd, short(r->cb.aio_buf), 0});
        rescue_of_.push_back(r);
    }
    rescue_next_ = (start + i) % n;
    if (rescue_fds_.empty() || ::poll(rescue_fds_.data(), rescue_fds_.size(), 0) <= 0) {
        return false;
    }
    bool work = false;
    for (std::size_t k = 0; k < rescue_fds_.size(); ++k) {
        if (auto ev = rescue_fds_[k].revents) {
            work |= on_ready(*rescue_of_[k]->owner, std::uint32_t(std::uint16_t(ev)));
        }
    }
    return work;
}

bool aio_backend::reap(long min_nr, ::timespec* timeout) noexcept {
    long n = io_getevents(ctx_, min_nr, max_events, events_, timeout);
    if (n <= 0) {
        return false;  // nothing, or EINTR: the loop comes back
    }
    kernel_full_ = false;
    bool work = false;
    for (long i = 0; i < n; ++i) {
        auto* r = reinterpret_cast<aio_request*>(std::uintptr_t(events_[i].data));
        r->at = aio_request::stage::idle;
        work |= r->complete(*this, *r, events_[i].res);
    }
    return work;
}

}  // namespace

std::unique_ptr<backend> make_aio_backend(const backend_config& cfg) {
    return std::make_unique<aio_backend>(cfg);
}

}  // namespace reef::detail
