// The stall detector (design in stall_detector.hh) and its service hooks.
#include "stall_detector.hh"

#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <iterator>
#include <mutex>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include <reef/reactor/log.hh>

#include "shard_services.hh"

namespace reef::detail {

namespace {

logger stall_log("stall_detector");

// The quota timer uses SIGRTMIN+1 (reactor.cc).
int stall_signal() noexcept {
    return SIGRTMIN + 2;
}

// The detector of this thread; read by the signal handler.
constinit thread_local stall_detector* tl_detector = nullptr;

// The signal trampoline every handler returns through (the C library's sa_restorer),
// which appears in a backtrace taken in a handler as the frame below the handler.
void* g_signal_trampoline = nullptr;

std::int64_t thread_cpu_ns() noexcept {
    timespec ts;
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void on_stall_signal(int, siginfo_t*, void* uc) noexcept {
    auto* d = tl_detector;
    if (!d) {
        return;  // a tick queued before the detector stopped
    }
    void* pc = nullptr;
#if defined(__x86_64__)
    pc = reinterpret_cast<void*>(static_cast<ucontext_t*>(uc)->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
    pc = reinterpret_cast<void*>(static_cast<ucontext_t*>(uc)->uc_mcontext.pc);
#else
    (void)uc;
#endif
    int saved_errno = errno;
    d->on_tick(pc);
    errno = saved_errno;
}

void install_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        // backtrace() loads libgcc's unwinder on first use, which allocates and takes
        // the loader lock: do it here, not in the signal handler.
        void* warm[2];
        (void)::backtrace(warm, 2);
        struct sigaction sa {};
        sa.sa_sigaction = on_stall_signal;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (::sigaction(stall_signal(), &sa, nullptr) != 0) {
            throw std::system_error(errno, std::system_category(), "sigaction(stall detector signal)");
        }
        struct sigaction installed {};
        if (::sigaction(stall_signal(), nullptr, &installed) == 0) {
            g_signal_trampoline = reinterpret_cast<void*>(installed.sa_restorer);
        }
    });
}

// "0x55d0c2a1b2c3 /path/to/binary+0x1b2c3 reef::foo(int)+0x2a" (the symbol only when
// the dynamic symbol table has it: build with -rdynamic for names from the executable).
std::string describe_frame(void* addr) {
    std::string s = fmt::format("0x{:x}", reinterpret_cast<std::uintptr_t>(addr));
    Dl_info info{};
    if (::dladdr(addr, &info) == 0 || !info.dli_fname) {
        return s;
    }
    auto a = reinterpret_cast<std::uintptr_t>(addr);
    fmt::format_to(std::back_inserter(s), " {}+0x{:x}", info.dli_fname, a - reinterpret_cast<std::uintptr_t>(info.dli_fbase));
    if (info.dli_sname && info.dli_saddr) {
        int status = -1;
        char* demangled = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
        fmt::format_to(std::back_inserter(s), " {}+0x{:x}", status == 0 && demangled ? demangled : info.dli_sname,
                       a - reinterpret_cast<std::uintptr_t>(info.dli_saddr));
        std::free(demangled);
    }
    return s;
}

}  // namespace

stall_detector::stall_detector(reactor_impl& r)
    : r_(r), threshold_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(r.config().blocked_reactor_notify).count()) {
    // A stall still going on after 8 thresholds (and at least 100 ms) is reported at once.
    hang_ns_ = std::max<std::int64_t>(8 * threshold_ns_, 100'000'000);
    install_handler();
    sigevent sev{};
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = stall_signal();
    sev._sigev_un._tid = ::gettid();
    timer_t t;
    // The thread's CPU-time clock: a shard descheduled by the kernel on a busy machine is
    // not stalled, and a sleeping shard's timer does not tick.
    if (::timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &t) != 0) {
        throw std::system_error(errno, std::system_category(), "timer_create(stall detector)");
    }
    timer_ = t;
    has_timer_ = true;
}

stall_detector::~stall_detector() {
    disarm();
    if (has_timer_) {
        ::timer_delete(static_cast<timer_t>(timer_));
    }
}

void stall_detector::arm() noexcept {
    if (armed_.load(std::memory_order_relaxed) || !has_timer_) {
        return;
    }
    last_polls_ = r_.stats().polls;
    last_progress_ns_ = thread_cpu_ns();
    captured_ = false;
    std::atomic_signal_fence(std::memory_order_release);
    armed_.store(true, std::memory_order_relaxed);
    // A quarter of the threshold: a stall is seen within 1.25 thresholds.
    std::int64_t tick = std::max<std::int64_t>(threshold_ns_ / 4, 1'000'000);
    itimerspec its{};
    its.it_value.tv_sec = tick / 1'000'000'000;
    its.it_value.tv_nsec = tick % 1'000'000'000;
    its.it_interval = its.it_value;
    ::timer_settime(static_cast<timer_t>(timer_), 0, &its, nullptr);
}

void stall_detector::disarm() noexcept {
    if (!armed_.load(std::memory_order_relaxed)) {
        return;
    }
    armed_.store(false, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    itimerspec its{};
    ::timer_settime(static_cast<timer_t>(timer_), 0, &its, nullptr);
}

// Signal context: reads, compares, and at most one backtrace() into the preallocated slot.
void stall_detector::on_tick(void* interrupted_pc) noexcept {
    if (!armed_.load(std::memory_order_relaxed)) {
        return;
    }
    std::atomic_signal_fence(std::memory_order_acquire);
    // The loop may be between reading and storing the counter: any value it shows is
    // one it really had, and a moving counter is all that matters.
    std::uint64_t polls = __atomic_load_n(&r_.stats().polls, __ATOMIC_RELAXED);
    std::int64_t now = thread_cpu_ns();
    if (polls != last_polls_) {
        last_polls_ = polls;
        last_progress_ns_ = now;
        captured_ = false;
        hang_reported_ = false;
        return;
    }
    // A stall that goes on is also reported now, from here: a shard that never comes
    // back would otherwise never be reported at all (the full report waits for the
    // stall to end). Raw addresses only: symbolizing is not safe in a signal handler.
    if (captured_ && !hang_reported_ && hang_reports_ < max_reports_ && now - last_progress_ns_ >= hang_ns_) {
        hang_reported_ = true;
        ++hang_reports_;
        write_hang_report(now - last_progress_ns_);
    }
    if (captured_ || now - last_progress_ns_ < threshold_ns_ || pending_.load(std::memory_order_relaxed)) {
        return;
    }
    captured_ = true;
    int n = ::backtrace(frames_, max_frames);
    // Drop the frames of this handler: the interrupted code starts below the last
    // signal trampoline (the last: when the quota timer's signal arrived at the same
    // time, its handler is stacked between this one and the interrupted code), or else
    // at the frame whose address is the interrupted pc.
    int skip = -1;
    for (int i = 0; g_signal_trampoline && i < n; ++i) {
        if (frames_[i] == g_signal_trampoline) {
            skip = i + 1;
        }
    }
    for (int i = 0; skip < 0 && i < n; ++i) {
        if (frames_[i] == interrupted_pc) {
            skip = i;
        }
    }
    skip = skip < 0 ? 0 : skip;
    for (int i = skip; i < n; ++i) {
        frames_[i - skip] = frames_[i];
    }
    nframes_ = n - skip;
    stall_start_ns_ = last_progress_ns_;
    std::atomic_signal_fence(std::memory_order_release);
    pending_.store(true, std::memory_order_relaxed);
}

namespace {
// Appends `v` in decimal (or hex) to `out`; async-signal-safe.
char* put_number(char* out, std::uint64_t v, unsigned base = 10) noexcept {
    char tmp[24];
    int n = 0;
    do {
        unsigned d = unsigned(v % base);
        tmp[n++] = char(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    while (n) {
        *out++ = tmp[--n];
    }
    return out;
}
char* put_text(char* out, const char* s) noexcept {
    while (*s) {
        *out++ = *s++;
    }
    return out;
}
}  // namespace

// Signal context: formats by hand and writes once.
void stall_detector::write_hang_report(std::int64_t stalled_ns) noexcept {
    char buf[64 + max_frames * 24];
    char* p = buf;
    p = put_text(p, "reef: shard ");
    p = put_number(p, r_.shard());
    p = put_text(p, " has been stalled for ");
    p = put_number(p, std::uint64_t(stalled_ns / 1'000'000));
    p = put_text(p, " ms and is still running; stack when the stall began:");
    for (int i = 0; i < nframes_; ++i) {
        p = put_text(p, "\n  0x");
        p = put_number(p, reinterpret_cast<std::uintptr_t>(frames_[i]), 16);
    }
    *p++ = '\n';
    [[maybe_unused]] auto w = ::write(STDERR_FILENO, buf, std::size_t(p - buf));
}

bool stall_detector::poll() {
    if (!pending_.load(std::memory_order_relaxed)) [[likely]] {
        return false;
    }
    std::atomic_signal_fence(std::memory_order_acquire);
    // Copy the slot before releasing it to the handler.
    void* frames[max_frames];
    int n = nframes_;
    std::copy(frames_, frames_ + n, frames);
    std::int64_t stalled = thread_cpu_ns() - stall_start_ns_;
    std::atomic_signal_fence(std::memory_order_release);
    pending_.store(false, std::memory_order_relaxed);
    report(stalled, frames, n);
    return false;
}

void stall_detector::report(std::int64_t stalled_ns, void* const* frames, int n) {
    ++r_.stats().stalls;
    auto now = std::chrono::steady_clock::now();
    if (reports_in_window_ == 0 || now - window_start_ >= window_) {
        window_start_ = now;
        reports_in_window_ = 0;
    }
    if (reports_in_window_ >= max_reports_) {
        ++suppressed_;
        return;
    }
    ++reports_in_window_;
    ++reports_total_;
    std::string text = fmt::format("reactor stalled for {} ms on shard {}", stalled_ns / 1'000'000, r_.shard());
    if (suppressed_) {
        fmt::format_to(std::back_inserter(text), " ({} earlier stall reports were suppressed)", suppressed_);
        suppressed_ = 0;
    }
    text += ", backtrace:";
    for (int i = 0; i < n; ++i) {
        text += "\n  ";
        text += describe_frame(frames[i]);
    }
    stall_log.warn("{}", text);
}

// ---- service hooks ------------------------------------------------------------------

void stall_detector_start(reactor_impl& r) {
    if (r.config().blocked_reactor_notify.count() <= 0) {
        return;  // disabled
    }
    stall_detector* d;
    try {
        d = new stall_detector(r);
    } catch (const std::system_error& e) {
        // Not fatal: the shard runs without stall reports.
        stall_log.warn("stall detector disabled on shard {}: {}", r.shard(), e.what());
        return;
    }
    try {
        r.add_poller(d);
    } catch (...) {
        delete d;
        throw;
    }
    r.stalls = d;
    tl_detector = d;
    d->arm();
}

void stall_detector_stop(reactor_impl& r) noexcept {
    auto* d = r.stalls;
    if (!d) {
        return;
    }
    d->disarm();
    tl_detector = nullptr;
    r.remove_poller(d);
    try {
        d->poll();  // a stall that ended with the loop is still reported
    } catch (...) {
    }
    if (d->suppressed()) {
        stall_log.warn("{} stall reports were suppressed on shard {} (rate limit)", d->suppressed(), r.shard());
    }
    r.stalls = nullptr;
    delete d;
}

}  // namespace reef::detail
