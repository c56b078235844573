// Signals as tasks on shard 0.
//
// A handled signal is blocked in every shard thread but shard 0's (the other shards
// inherit the mask when app_template blocks it before they start, or block it when
// handle_signal() asks them to). Wherever the kernel delivers it, shard 0 or a thread
// that is not a shard, our handler records it in an atomic bit set and writes to an
// eventfd; shard 0 reads that eventfd through its reactor backend in a coroutine and
// queues the registered handler as a task. An eventfd works with every backend; a
// signalfd does not (linux-aio re-checks poll readiness from a kernel worker thread,
// which sees none of our signals).
#include <reef/reactor/signals.hh>

#include <fcntl.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include <reef/core/coroutine.hh>
#include <reef/reactor/pollable_fd.hh>
#include <reef/reactor/smp.hh>

#include "reactor_impl.hh"
#include "signals_impl.hh"

namespace reef {

namespace {

// Shared with the asynchronous handler, hence lock-free atomics only.
std::atomic<int> g_notify_fd{-1};              // eventfd; created once, never closed
std::atomic<std::uint64_t> g_pending{0};       // bit per signal delivered, not yet read
std::atomic<std::uint64_t> g_stop_signals{0};  // signals under the second-signal rule
std::atomic<unsigned> g_stop_count{0};         // stop signals the handler saw
char g_exit_line[256];                         // written before the rule is armed
std::atomic<std::size_t> g_exit_line_len{0};

std::uint64_t bit(int signo) noexcept {
    return std::uint64_t(1) << unsigned(signo);
}

void on_signal(int signo) noexcept {
    int saved_errno = errno;
    if (g_stop_signals.load(std::memory_order_relaxed) & bit(signo)) {
        if (g_stop_count.fetch_add(1, std::memory_order_relaxed) >= 1) {
            detail::exit_for_signal(signo);
        }
    }
    g_pending.fetch_or(bit(signo), std::memory_order_release);
    int fd = g_notify_fd.load(std::memory_order_relaxed);
    if (fd >= 0) {
        std::uint64_t one = 1;
        [[maybe_unused]] auto w = ::write(fd, &one, sizeof(one));
    }
    errno = saved_errno;
}

struct sigaction our_action() noexcept {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sa;
}

int notify_fd() {
    static std::once_flag once;
    std::call_once(once, [] {
        int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (fd < 0) {
            throw std::system_error(errno, std::system_category(), "eventfd (signals)");
        }
        g_notify_fd.store(fd, std::memory_order_release);
    });
    return g_notify_fd.load(std::memory_order_acquire);
}

// Takes every signal of `set` that is pending for this thread or the process, so that
// unblocking them does not deliver stale ones. The signals must be blocked here.
void discard_pending(const sigset_t& set) noexcept {
    if (sigisemptyset(&set)) {
        return;
    }
    timespec zero{};
    while (true) {
        int r = ::sigtimedwait(&set, nullptr, &zero);
        if (r > 0 || (r < 0 && errno == EINTR)) {
            continue;
        }
        break;
    }
}

// One handler call, queued on shard 0 in the main scheduling group.
class handler_task final : public task {
public:
    handler_task(int signo, std::function<void()> f)
        : task(scheduling_group()),
          signo_(signo),
          f_(std::move(f)) {}
    void run_and_dispose() noexcept override {
        try {
            f_();
        } catch (const std::exception& e) {
            fmt::print(stderr, "reef: the handler of signal {} ({}) failed: {}\n", signo_,
                       ::strsignal(signo_), e.what());
        } catch (...) {
            fmt::print(stderr, "reef: the handler of signal {} ({}) failed with an unknown exception\n",
                       signo_, ::strsignal(signo_));
        }
        delete this;
    }

private:
    int signo_;
    std::function<void()> f_;
};

// Shard 0's signal state while any signal is handled.
struct signal_service {
    pollable_fd notify;       // a duplicate of the eventfd, registered with shard 0's backend
    sigset_t unblocked_here;  // what handle_signal() unblocked in shard 0's thread
    std::map<int, std::function<void()>> handlers;
    std::map<int, struct sigaction> old_actions;
    std::vector<future<>> masking;  // blocking the signals on the other shards
    future<> reader = make_ready_future<>();
    bool stopping = false;

    signal_service() { sigemptyset(&unblocked_here); }
};

signal_service* g_service = nullptr;  // shard 0 only

future<> read_signals(signal_service& s) {
    while (!s.stopping) {
        std::uint64_t count = 0;
        auto r = co_await coroutine::as_future(s.notify.read_some(&count, sizeof(count)));
        if (r.failed()) {
            auto e = r.get_exception();
            if (!s.stopping) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    fmt::print(stderr, "reef: reading signals failed, no more are handled: {}\n", ex.what());
                }
            }
            co_return;
        }
        if (r.get() == 0) {
            co_return;
        }
        std::uint64_t bits = g_pending.exchange(0, std::memory_order_acquire);
        for (int signo = 1; bits; ++signo) {
            if (bits & bit(signo)) {
                bits &= ~bit(signo);
                auto it = s.handlers.find(signo);
                if (it != s.handlers.end()) {
                    schedule(new handler_task(signo, it->second));
                }
            }
        }
    }
}

void check_signal(int signo) {
    bool rejected = signo <= 0 || signo >= 64 || signo >= SIGRTMIN || signo == SIGKILL || signo == SIGSTOP ||
                    signo == SIGSEGV || signo == SIGBUS || signo == SIGILL || signo == SIGFPE ||
                    signo == SIGTRAP || signo == SIGSYS;
    if (rejected) {
        throw std::invalid_argument(
            fmt::format("handle_signal: signal {} cannot be handled (kill, stop, fault and "
                        "real-time signals are refused)",
                        signo));
    }
}

void register_handler(int signo, std::function<void()> handler, bool keep_stop_rule) {
    if (!detail::tl_reactor || this_shard_id() != 0) {
        throw std::logic_error("handle_signal() must be called on shard 0 of running shards");
    }
    check_signal(signo);
    if (!keep_stop_rule) {
        g_stop_signals.fetch_and(~bit(signo), std::memory_order_relaxed);
    }
    if (!g_service) {
        int fd = ::fcntl(notify_fd(), F_DUPFD_CLOEXEC, 0);
        if (fd < 0) {
            throw std::system_error(errno, std::system_category(), "dup (signals eventfd)");
        }
        auto s = std::make_unique<signal_service>();
        s->notify = pollable_fd::from_nonblocking(fd);
        s->reader = read_signals(*s);
        g_service = s.release();
    }
    signal_service& s = *g_service;
    if (s.handlers.count(signo)) {
        s.handlers[signo] = std::move(handler);
        return;
    }
    struct sigaction sa = our_action(), old{};
    if (::sigaction(signo, &sa, &old) != 0) {
        throw std::system_error(errno, std::system_category(), fmt::format("sigaction({})", signo));
    }
    s.old_actions.emplace(signo, old);
    s.handlers.emplace(signo, std::move(handler));
    // Shard 0 takes the signal; a copy already pending (blocked before the shards
    // started) is delivered to our handler right here.
    sigset_t one, mask;
    sigemptyset(&one);
    sigaddset(&one, signo);
    ::pthread_sigmask(SIG_UNBLOCK, &one, &mask);
    if (sigismember(&mask, signo)) {
        sigaddset(&s.unblocked_here, signo);
    }
    if (smp::count > 1) {
        s.masking.push_back(smp::invoke_on_others([signo] {
            sigset_t set;
            sigemptyset(&set);
            sigaddset(&set, signo);
            ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
        }));
    }
}

}  // namespace

void handle_signal(int signo, std::function<void()> handler) {
    register_handler(signo, std::move(handler), false);
}

future<> stop_signal_handling() {
    signal_service* s = g_service;
    if (!s || s->stopping || this_shard_id() != 0) {
        co_return;
    }
    s->stopping = true;
    // Blocked again first, so that no handler runs on this thread while the rest is
    // put back; then the previous dispositions.
    ::pthread_sigmask(SIG_BLOCK, &s->unblocked_here, nullptr);
    for (auto& [signo, old] : s->old_actions) {
        ::sigaction(signo, &old, nullptr);
    }
    s->notify.close();  // fails the pending read: the reader ends
    auto r = co_await coroutine::as_future(std::move(s->reader));
    r.ignore_ready_future();
    for (auto& f : s->masking) {
        auto m = co_await coroutine::as_future(std::move(f));
        m.ignore_ready_future();
    }
    g_pending.store(0, std::memory_order_relaxed);
    g_service = nullptr;
    delete s;
}

// ---- stop signals for app_template ----------------------------------------------------

namespace detail {

namespace {
sigset_t stop_signals() noexcept {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
}
}  // namespace

void handle_stop_signal(int signo, std::function<void()> handler) {
    register_handler(signo, std::move(handler), true);
}

stop_signal_guard::stop_signal_guard(std::string_view app_name) {
    notify_fd();
    auto line = fmt::format("{}: second stop signal, exiting at once\n", app_name);
    std::size_t n = std::min(line.size(), sizeof(g_exit_line));
    std::memcpy(g_exit_line, line.data(), n);
    g_exit_line[n - 1] = '\n';
    g_exit_line_len.store(n, std::memory_order_release);
    sigset_t set = stop_signals();
    ::pthread_sigmask(SIG_BLOCK, &set, &old_mask_);
    struct sigaction sa = our_action();
    if (::sigaction(SIGINT, &sa, &old_int_) != 0) {
        int e = errno;
        ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
        throw std::system_error(e, std::system_category(), "sigaction(SIGINT)");
    }
    if (::sigaction(SIGTERM, &sa, &old_term_) != 0) {
        int e = errno;
        ::sigaction(SIGINT, &old_int_, nullptr);
        ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
        throw std::system_error(e, std::system_category(), "sigaction(SIGTERM)");
    }
    g_stop_count.store(0, std::memory_order_relaxed);
    g_stop_signals.store(bit(SIGINT) | bit(SIGTERM), std::memory_order_relaxed);
}

stop_signal_guard::~stop_signal_guard() {
    sigset_t set = stop_signals();
    ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
    g_stop_signals.store(0, std::memory_order_relaxed);
    discard_pending(set);
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
    g_pending.fetch_and(~(bit(SIGINT) | bit(SIGTERM)), std::memory_order_relaxed);
    ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

void exit_for_signal(int signo) noexcept {
    std::size_t n = g_exit_line_len.load(std::memory_order_acquire);
    if (n) {
        [[maybe_unused]] auto w = ::write(STDERR_FILENO, g_exit_line, n);
    }
    ::_exit(128 + signo);
}

}  // namespace detail

}  // namespace reef
