// The io_uring backend: every operation is a ring operation (RECV, SEND, ACCEPT,
// CONNECT, POLL_ADD, ...), queued while tasks run and submitted together with the reap
// of completions by one io_uring_enter per loop iteration. A ring per shard, set up with
// SINGLE_ISSUER | DEFER_TASKRUN so the kernel completes work only when the loop asks.
//
// Per fd there is one operation slot per direction (reads, accepts and read-side polls
// share one; writes, connects and write-side polls the other), holding the promise, the
// arguments and the addresses the kernel writes: an operation allocates nothing.
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <variant>
#include <vector>

#include "backend.hh"
#include "backend_util.hh"

namespace reef::detail {

namespace {

struct uring_fd_state;

enum class op_kind : std::uint8_t {
    none,
    readable,  // POLL_ADD resolving future<>
    writable,
    poll,      // POLL_ADD resolving future<int>
    read,      // RECV on sockets, READ otherwise
    write,     // SEND on sockets, WRITE otherwise
    recvmsg,
    sendmsg,
    accept,
    connect,
};

const char* op_name(op_kind k, bool socket) noexcept {
    switch (k) {
    case op_kind::none: return "none";
    case op_kind::readable: return "poll(readable)";
    case op_kind::writable: return "poll(writable)";
    case op_kind::poll: return "poll";
    case op_kind::read: return socket ? "recv" : "read";
    case op_kind::write: return socket ? "send" : "write";
    case op_kind::recvmsg: return "recvmsg";
    case op_kind::sendmsg: return "sendmsg";
    case op_kind::accept: return "accept4";
    case op_kind::connect: return "connect";
    }
    return "?";
}

// One direction of an fd: at most one operation in flight. Its address (tagged) is the
// user_data of the SQE, so a completion finds its operation without a lookup.
struct uring_op {
    uring_fd_state* owner = nullptr;
    op_kind kind = op_kind::none;
    bool read_side = false;
    // The SQE in flight is the POLL_ADD armed after the operation met EAGAIN; its
    // completion resubmits the operation (or, for connect, reads SO_ERROR).
    bool waiting_ready = false;
    bool in_flight = false;  // an SQE of this slot has no reaped CQE yet
    unsigned events = 0;     // poll()'s mask
    int flags = 0;           // msg flags
    void* buf = nullptr;     // read/write buffer, or the msghdr
    std::size_t len = 0;
    // The address accept() fills in, or the one connect() was given (copied, since the
    // SQE is submitted after the call returns).
    ::sockaddr_storage addr{};
    ::socklen_t addrlen = 0;
    std::variant<std::monostate, promise<>, promise<std::size_t>, promise<int>, promise<accept_result>> pr;
};

struct uring_fd_state final : fd_state {
    uring_op rd;
    uring_op wr;
    unsigned inflight = 0;  // SQEs naming this state whose CQE was not reaped yet
    bool socket = false;
    bool closed = false;
    uring_fd_state* next_closing = nullptr;  // list of closed states awaiting CQEs
    uring_fd_state* prev_closing = nullptr;
};

// user_data: a uring_op* or uring_fd_state* (8-byte aligned) with a tag in the low bits.
constexpr std::uint64_t tag_op = 0;
constexpr std::uint64_t tag_cancel = 1;  // ASYNC_CANCEL for a closed state
constexpr std::uint64_t tag_wake = 2;    // the eventfd read that wake() completes
constexpr std::uint64_t tag_wake_poll = 3;  // its readiness poll, where reads cannot wait
constexpr std::uint64_t tag_mask = 7;

constexpr short in_events = POLLIN | POLLPRI | POLLRDHUP;

std::exception_ptr cancelled() {
    return std::make_exception_ptr(std::system_error(ECANCELED, std::system_category(), "pollable_fd closed"));
}

std::exception_ptr second_waiter(bool read) {
    return std::make_exception_ptr(
        std::logic_error(read ? "pollable_fd: a read-side operation is already waiting on this fd"
                              : "pollable_fd: a write-side operation is already waiting on this fd"));
}

// Clamp of one read or write (an SQE's length is 32 bits; Linux moves at most this much
// per call anyway).
constexpr std::size_t max_io = 0x7ffff000;

class io_uring_backend final : public backend {
public:
    explicit io_uring_backend(const backend_config& cfg) {
        setup_ring(cfg.queue_depth ? cfg.queue_depth : 1024);
        wakefd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (wakefd_ < 0) {
            int e = errno;
            ::io_uring_queue_exit(&ring_);
            throw std::system_error(e, std::system_category(), "eventfd");
        }
        arm_wake();
    }

    ~io_uring_backend() override {
        // Tearing the ring down cancels whatever is still in flight; the states that
        // waited for those completions go with it.
        ::io_uring_queue_exit(&ring_);
        ::close(wakefd_);
        while (closing_) {
            auto* s = closing_;
            closing_ = s->next_closing;
            delete s;
        }
    }

    std::string_view name() const noexcept override { return "io_uring"; }

    fd_state* attach(int fd) override {
        auto* s = new uring_fd_state;
        s->fd = fd;
        s->rd.owner = s;
        s->rd.read_side = true;
        s->wr.owner = s;
        if (fd == accepted_fd_) {
            s->socket = true;  // just accepted: no need to ask
        } else {
            struct ::stat st;
            s->socket = ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
        }
        return s;
    }

    void forget(fd_state* base) noexcept override {
        auto* s = static_cast<uring_fd_state*>(base);
        s->closed = true;
        if (s->inflight == 0) {
            ::close(s->fd);
            delete s;
            return;
        }
        // Operations in flight hold the file open: cancel them before closing, and run
        // the cancellation now (submit, then the task work that completes the cancelled
        // requests) so that close() below really releases the file, as with epoll. Their
        // CQEs fail the promises with ECANCELED when reaped; only then does the kernel
        // no longer touch their buffers, and only then is the state freed.
        queue_cancel(*s);
        submit(true);
        ::close(s->fd);
        s->fd = -1;
        s->next_closing = closing_;
        if (closing_) {
            closing_->prev_closing = s;
        }
        closing_ = s;
    }

    future<> readable(fd_state& base) override {
        auto& s = static_cast<uring_fd_state&>(base);
        return start<void>(s.rd, op_kind::readable, [](uring_op&) {});
    }

    future<> writable(fd_state& base) override {
        auto& s = static_cast<uring_fd_state&>(base);
        return start<void>(s.wr, op_kind::writable, [](uring_op&) {});
    }

    future<int> poll(fd_state& base, int events) override {
        auto& s = static_cast<uring_fd_state&>(base);
        uring_op& op = (events & in_events) ? s.rd : s.wr;
        return start<int>(op, op_kind::poll, [events](uring_op& o) { o.events = unsigned(events); });
    }

    // Reads are not tried before queueing: in a request/response exchange the data is
    // rarely there when the read is issued, so the try is a wasted system call; a RECV
    // queued now goes out in this iteration's io_uring_enter and completes there if the
    // data arrives.
    future<std::size_t> read_some(fd_state& base, void* buf, std::size_t len) override {
        auto& s = static_cast<uring_fd_state&>(base);
        return start<std::size_t>(s.rd, op_kind::read, [buf, len](uring_op& o) {
            o.buf = buf;
            o.len = std::min(len, max_io);
        });
    }

    // Writes are not tried with a direct send() first either. Measured with 64-byte
    // ping-pongs over socketpairs on one shard (CPU time per round trip, 3 alternating
    // runs on a shared 2-core machine): 1 pair 5.6-6.1 us with or without the try,
    // 100 pairs 4.2-4.3 us without and 4.3-4.4 us with it. The try costs a system
    // call per write and saves none: the SEND goes out in the io_uring_enter that
    // the loop makes anyway, batched with every other fd's operations.
    future<std::size_t> write_some(fd_state& base, const void* buf, std::size_t len) override {
        auto& s = static_cast<uring_fd_state&>(base);
        return start<std::size_t>(s.wr, op_kind::write, [buf, len](uring_op& o) {
            o.buf = const_cast<void*>(buf);
            o.len = std::min(len, max_io);
        });
    }

    future<std::size_t> sendmsg(fd_state& base, const ::msghdr* msg, int flags) override {
        auto& s = static_cast<uring_fd_state&>(base);
        return start<std::size_t>(s.wr, op_kind::sendmsg, [msg, flags](uring_op& o) {
            o.buf = const_cast<::msghdr*>(msg);
            o.flags = (flags | MSG_NOSIGNAL) & ~MSG_DONTWAIT;
        });
    }

    future<std::size_t> recvmsg(fd_state& base, ::msghdr* msg, int flags) override {
        auto& s = static_cast<uring_fd_state&>(base);
        return start<std::size_t>(s.rd, op_kind::recvmsg, [msg, flags](uring_op& o) {
            o.buf = msg;
            o.flags = flags & ~MSG_DONTWAIT;
        });
    }

    future<accept_result> accept(fd_state& base) override {
        auto& s = static_cast<uring_fd_state&>(base);
        return start<accept_result>(s.rd, op_kind::accept, [](uring_op&) {});
    }

    future<> connect(fd_state& base, const ::sockaddr* addr, ::socklen_t len) override {
        auto& s = static_cast<uring_fd_state&>(base);
        if (len > sizeof(::sockaddr_storage)) {
            return make_exception_future<>(code_error(EINVAL, "connect"));
        }
        return start<void>(s.wr, op_kind::connect, [addr, len](uring_op& o) {
            std::memcpy(&o.addr, addr, len);
            o.addrlen = len;
        });
    }

    bool poll_completions() override {
        // Nothing queued and the kernel flags no pending completion work
        // (IORING_SQ_TASKRUN) nor overflowed CQEs: no system call, only CQ memory reads.
        if (::io_uring_sq_ready(&ring_) != 0 || kernel_has_work()) {
            submit(true);
        }
        if (::io_uring_cq_ready(&ring_) == 0) {
            return false;
        }
        return reap();
    }

    void sleep(std::optional<std::chrono::nanoseconds> timeout) override {
        ensure_started();
        ::io_uring_cqe* cqe = nullptr;
        if (timeout) {
            __kernel_timespec ts{};
            ts.tv_sec = timeout->count() / 1'000'000'000;
            ts.tv_nsec = timeout->count() % 1'000'000'000;
            ::io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
        } else {
            ::io_uring_submit_and_wait(&ring_, 1);
        }
        reap();
    }

    void wake() noexcept override {
        std::uint64_t one = 1;
        [[maybe_unused]] auto r = ::write(wakefd_, &one, sizeof(one));
    }

private:
    void setup_ring(unsigned depth) {
        // From the best mode to the plainest, stepping down when the kernel refuses
        // a flag (EINVAL). R_DISABLED: the reactor is built on another thread than the
        // one that runs it, and SINGLE_ISSUER binds the ring to the thread enabling it.
        constexpr unsigned base = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
        const unsigned modes[] = {
            base | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
                IORING_SETUP_R_DISABLED,
            base | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
            base,
            IORING_SETUP_CQSIZE,
            0,
        };
        int err = 0;
        for (unsigned flags : modes) {
            ::io_uring_params p{};
            p.flags = flags;
            p.cq_entries = depth * 4;
            err = ::io_uring_queue_init_params(depth, &ring_, &p);
            if (err == 0) {
                disabled_ = flags & IORING_SETUP_R_DISABLED;
                return;
            }
            if (err != -EINVAL) {
                break;
            }
        }
        throw std::system_error(-err, std::system_category(), "io_uring_setup");
    }

    // Called before every system call on the ring: the first one comes from the
    // shard's own thread, which enables the ring (SINGLE_ISSUER binds it to that
    // thread). The ring fd is not registered (IORING_REGISTER_RING_FDS): that saved
    // 1-2% in the socketpair ping-pong of write_some's comment, but a registration
    // belongs to the thread, and the backend is destroyed on another thread, whose own
    // registration liburing would then drop.
    void ensure_started() noexcept {
        if (!started_) [[unlikely]] {
            if (disabled_) {
                // liburing 2.3 declares io_uring_enable_rings() but does not export it.
                ::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
                disabled_ = false;
            }
            started_ = true;
        }
    }

    // Completion work the kernel holds until we enter: task work (DEFER_TASKRUN and
    // COOP_TASKRUN set IORING_SQ_TASKRUN for it) or CQEs that overflowed the CQ ring.
    // In the plain mode the kernel posts CQEs by itself and the CQ ring tells all.
    bool kernel_has_work() const noexcept {
        return IO_URING_READ_ONCE(*ring_.sq.kflags) & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN);
    }

    // Submits what is queued; with `get_events`, also runs the kernel's pending
    // completion work so that CQEs are posted (needed with DEFER_TASKRUN).
    int submit(bool get_events) noexcept {
        ensure_started();
        for (;;) {
            int r = get_events ? ::io_uring_submit_and_get_events(&ring_) : ::io_uring_submit(&ring_);
            if (r == -EBUSY || r == -EAGAIN) {
                // Old kernels refuse submissions while completions overflow: make room.
                ::io_uring_get_events(&ring_);
                reap();
                continue;
            }
            return r;
        }
    }

    // A free SQE; when the submission queue is full, submits it to make room.
    ::io_uring_sqe* get_sqe() noexcept {
        ::io_uring_sqe* sqe = ::io_uring_get_sqe(&ring_);
        for (int failures = 0; !sqe; sqe = ::io_uring_get_sqe(&ring_)) [[unlikely]] {
            int r = submit(false);
            if (r < 0 && r != -EINTR && ++failures > 100) {
                // The ring refuses every submission (used from a thread other than
                // its shard's?): nothing can make progress.
                std::fprintf(stderr, "reef: io_uring submission failed: %s\n", std::strerror(-r));
                std::abort();
            }
        }
        return sqe;
    }

    void arm_wake() noexcept {
        auto* sqe = get_sqe();
        ::io_uring_prep_read(sqe, wakefd_, &wake_value_, sizeof(wake_value_), 0);
        ::io_uring_sqe_set_data64(sqe, tag_wake);
    }

    // Claims the slot, fills it with `setup` and queues its SQE.
    template <typename T, typename Setup>
    future<T> start(uring_op& op, op_kind kind, Setup&& setup) {
        if (op.kind != op_kind::none) {
            return make_exception_future<T>(second_waiter(op.read_side));
        }
        op.kind = kind;
        op.waiting_ready = false;
        setup(op);
        auto& pr = op.pr.template emplace<promise<T>>();
        auto f = pr.get_future();
        queue(op);
        return f;
    }

    static std::uint64_t data_of(uring_op& op) noexcept {
        return reinterpret_cast<std::uintptr_t>(&op) | tag_op;
    }

    // Queues the SQE of the operation in `op` (or its readiness poll).
    void queue(uring_op& op) noexcept {
        auto& s = *op.owner;
        auto* sqe = get_sqe();
        if (op.waiting_ready) {
            ::io_uring_prep_poll_add(sqe, s.fd, op.read_side ? POLLIN : POLLOUT);
        } else {
            switch (op.kind) {
            case op_kind::readable: ::io_uring_prep_poll_add(sqe, s.fd, POLLIN); break;
            case op_kind::writable: ::io_uring_prep_poll_add(sqe, s.fd, POLLOUT); break;
            case op_kind::poll: ::io_uring_prep_poll_add(sqe, s.fd, op.events); break;
            case op_kind::read:
                if (s.socket) {
                    ::io_uring_prep_recv(sqe, s.fd, op.buf, op.len, 0);
                } else {
                    ::io_uring_prep_read(sqe, s.fd, op.buf, unsigned(op.len), std::uint64_t(-1));
                }
                break;
            case op_kind::write:
                if (s.socket) {
                    ::io_uring_prep_send(sqe, s.fd, op.buf, op.len, MSG_NOSIGNAL);
                } else {
                    ::io_uring_prep_write(sqe, s.fd, op.buf, unsigned(op.len), std::uint64_t(-1));
                }
                break;
            case op_kind::recvmsg: ::io_uring_prep_recvmsg(sqe, s.fd, static_cast<::msghdr*>(op.buf), unsigned(op.flags)); break;
            case op_kind::sendmsg: {
                auto* m = static_cast<const ::msghdr*>(op.buf);
                if (m->msg_iovlen == 1 && !m->msg_name && !m->msg_control) {
                    // One buffer: SEND skips importing the msghdr and its iovec.
                    ::io_uring_prep_send(sqe, s.fd, m->msg_iov[0].iov_base, m->msg_iov[0].iov_len, int(op.flags));
                } else {
                    ::io_uring_prep_sendmsg(sqe, s.fd, m, unsigned(op.flags));
                }
                break;
            }
            case op_kind::accept:
                op.addrlen = sizeof(op.addr);
                ::io_uring_prep_accept(sqe, s.fd, reinterpret_cast<::sockaddr*>(&op.addr), &op.addrlen,
                                       SOCK_NONBLOCK | SOCK_CLOEXEC);
                break;
            case op_kind::connect:
                ::io_uring_prep_connect(sqe, s.fd, reinterpret_cast<const ::sockaddr*>(&op.addr), op.addrlen);
                break;
            case op_kind::none: ::io_uring_prep_nop(sqe); break;
            }
        }
        ::io_uring_sqe_set_data64(sqe, data_of(op));
        op.in_flight = true;
        ++s.inflight;
    }

    void queue_cancel(uring_fd_state& s) noexcept {
        if (cancel_by_fd_) {
            auto* sqe = get_sqe();
            ::io_uring_prep_cancel_fd(sqe, s.fd, IORING_ASYNC_CANCEL_ALL);
            ::io_uring_sqe_set_data64(sqe, reinterpret_cast<std::uintptr_t>(&s) | tag_cancel);
            ++s.inflight;
            return;
        }
        for (uring_op* op : {&s.rd, &s.wr}) {
            if (op->in_flight) {
                auto* sqe = get_sqe();
                ::io_uring_prep_cancel64(sqe, data_of(*op), 0);
                ::io_uring_sqe_set_data64(sqe, reinterpret_cast<std::uintptr_t>(&s) | tag_cancel);
                ++s.inflight;
            }
        }
    }

    // Reaps the posted CQEs; true if a waiter was resolved. Each CQE is released before
    // it is handled, so a handler may submit (and reap) again.
    bool reap() noexcept {
        bool work = false;
        for (;;) {
            // Read straight from the CQ ring: liburing's peek enters the kernel when the
            // ring is empty.
            for (;;) {
                unsigned head = *ring_.cq.khead;
                if (head == io_uring_smp_load_acquire(ring_.cq.ktail)) {
                    break;
                }
                const ::io_uring_cqe& cqe = ring_.cq.cqes[head & ring_.cq.ring_mask];
                std::uint64_t data = cqe.user_data;
                int res = cqe.res;
                ::io_uring_cq_advance(&ring_, 1);
                work |= dispatch(data, res);
            }
            if (!::io_uring_cq_has_overflow(&ring_)) {
                return work;
            }
            ::io_uring_get_events(&ring_);  // flushes the overflowed CQEs into the ring
        }
    }

    bool dispatch(std::uint64_t data, int res) noexcept {
        if (data == LIBURING_UDATA_TIMEOUT) {
            return false;  // liburing's own timeout on kernels without EXT_ARG
        }
        switch (data & tag_mask) {
        case tag_op: return complete(*reinterpret_cast<uring_op*>(data & ~tag_mask), res);
        case tag_cancel: {
            auto* s = reinterpret_cast<uring_fd_state*>(data & ~tag_mask);
            --s->inflight;
            if (res == -EINVAL && cancel_by_fd_) {
                // No IORING_ASYNC_CANCEL_FD here: cancel each operation by its user_data.
                cancel_by_fd_ = false;
                queue_cancel(*s);
            }
            release_if_done(s);
            return false;
        }
        case tag_wake:
            if (res == -EAGAIN) {
                // An eventfd read that cannot wait in the ring (old kernels): wait for
                // readability instead, then read again.
                auto* sqe = get_sqe();
                ::io_uring_prep_poll_add(sqe, wakefd_, POLLIN);
                ::io_uring_sqe_set_data64(sqe, tag_wake_poll);
                return false;
            }
            arm_wake();
            return false;
        case tag_wake_poll: arm_wake(); return false;
        default: return false;
        }
    }

    void release_if_done(uring_fd_state* s) noexcept {
        if (s->closed && s->inflight == 0) {
            if (s->prev_closing) {
                s->prev_closing->next_closing = s->next_closing;
            } else {
                closing_ = s->next_closing;
            }
            if (s->next_closing) {
                s->next_closing->prev_closing = s->prev_closing;
            }
            delete s;
        }
    }

    // Fails the operation's promise; quietly when nobody waits any more.
    static void fail_op(uring_op& op, std::exception_ptr e, bool quiet) noexcept {
        std::visit(
            [&](auto& pr) {
                if constexpr (!std::is_same_v<std::decay_t<decltype(pr)>, std::monostate>) {
                    if (!quiet || pr.has_consumer()) {
                        pr.set_exception(std::move(e));
                    }
                }
            },
            op.pr);
    }

    // A CQE of an operation slot.
    bool complete(uring_op& op, int res) noexcept {
        auto& s = *op.owner;
        op.in_flight = false;
        --s.inflight;
        op_kind kind = op.kind;
        if (s.closed) {
            if (kind == op_kind::accept && !op.waiting_ready && res >= 0) {
                ::close(res);
            }
            op.kind = op_kind::none;
            fail_op(op, cancelled(), true);
            release_if_done(&s);
            return true;
        }
        if (res == -EINTR || (res == -EAGAIN && op.waiting_ready)) {
            queue(op);
            return false;
        }
        if (op.waiting_ready) {
            // The readiness poll after EAGAIN fired (or failed with the fd's error).
            op.waiting_ready = false;
            if (res >= 0) {
                if (kind == op_kind::connect) {
                    op.kind = op_kind::none;
                    auto& pr = std::get<promise<>>(op.pr);
                    auto done = finish_connect(s.fd);
                    if (done.failed()) {
                        pr.set_exception(done.get_exception());
                    } else {
                        pr.set_value();
                    }
                    return true;
                }
                queue(op);
                return false;
            }
        } else if (res == -EAGAIN || (kind == op_kind::connect && (res == -EINPROGRESS || res == -EALREADY))) {
            op.waiting_ready = true;
            queue(op);
            return false;
        }
        op.kind = op_kind::none;
        if (res < 0) {
            fail_op(op, code_error(-res, op_name(kind, s.socket)), false);
            return true;
        }
        switch (kind) {
        case op_kind::readable:
        case op_kind::writable:
        case op_kind::connect: std::get<promise<>>(op.pr).set_value(); break;
        case op_kind::poll: std::get<promise<int>>(op.pr).set_value(res); break;
        case op_kind::read:
        case op_kind::write:
        case op_kind::recvmsg:
        case op_kind::sendmsg: std::get<promise<std::size_t>>(op.pr).set_value(std::size_t(res)); break;
        case op_kind::accept: {
            auto& pr = std::get<promise<accept_result>>(op.pr);
            accept_result r;
            std::memcpy(&r.address, &op.addr, sizeof(op.addr));
            r.address_len = op.addrlen;
            try {
                accepted_fd_ = res;
                r.fd = adopt_nonblocking_fd(res);
                accepted_fd_ = -1;
            } catch (...) {
                accepted_fd_ = -1;
                pr.set_exception(std::current_exception());
                break;
            }
            pr.set_value(std::move(r));
            break;
        }
        case op_kind::none: break;
        }
        return true;
    }

    ::io_uring ring_{};
    bool disabled_ = false;  // set up with R_DISABLED, not enabled yet
    bool started_ = false;
    bool cancel_by_fd_ = true;
    int wakefd_ = -1;
    int accepted_fd_ = -1;
    std::uint64_t wake_value_ = 0;
    uring_fd_state* closing_ = nullptr;
};

}  // namespace

std::unique_ptr<backend> make_io_uring_backend(const backend_config& cfg) {
    return std::make_unique<io_uring_backend>(cfg);
}

}  // namespace reef::detail
