// The stall detector of one shard, kept behind reactor_impl::stalls by
// stall_detector_start(). Private to the reactor module (tests reach it to tune the
// rate limit).
//
// A per-thread POSIX timer on the thread's CPU-time clock ticks every quarter of the
// threshold while the shard runs (disarmed while it sleeps). Its signal handler compares
// reactor_stats::polls, which grows every loop iteration, with the value it saw at the
// previous tick: when it has not moved for the threshold, a task or poller is holding
// the shard, and the handler captures a backtrace (once per stall) into a preallocated
// slot. The detector's poller, which runs on the first loop iteration after the stall,
// symbolizes it and logs "reactor stalled for N ms on shard S" with the backtrace
// through the "stall_detector" logger, counts reactor_stats::stalls and applies the
// rate limit. So the handler only reads a counter, reads a clock and calls backtrace();
// everything that allocates runs in normal context. A shard that never returns is
// never reported (the report is written when the stall ends).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "reactor_impl.hh"

namespace reef::detail {

/// Detects and reports tasks or pollers that hold one shard longer than
/// reactor_config::blocked_reactor_notify. Created and used on its shard only.
class stall_detector final : public poller {
public:
    /// Most stack frames kept per report.
    static constexpr int max_frames = 64;

    /// Creates the timer (not armed) and installs the signal handler once per process.
    /// Throws std::system_error when the timer cannot be created.
    explicit stall_detector(reactor_impl& r);
    ~stall_detector() override;
    stall_detector(const stall_detector&) = delete;

    /// Starts watching: sets the baseline and arms the timer.
    void arm() noexcept;
    /// Stops watching (the shard sleeps or stops).
    void disarm() noexcept;

    /// Reports a stall captured by the signal handler, if any. Never counts as work.
    bool poll() override;
    bool try_enter_sleep() override {
        disarm();
        return true;
    }
    void exit_sleep() override { arm(); }

    /// At most `reports` reports per `window`; stalls beyond that are counted, and the
    /// number of suppressed reports is printed with the next report (and at shutdown).
    /// Defaults: 5 per minute.
    void set_rate_limit(unsigned reports, std::chrono::steady_clock::duration window) noexcept {
        max_reports_ = reports;
        window_ = window;
    }
    /// Reports written so far.
    std::uint64_t reports() const noexcept { return reports_total_; }
    /// Stalls not reported because of the rate limit, since the last report.
    std::uint64_t suppressed() const noexcept { return suppressed_; }

    /// The signal handler's work: one tick of the timer on this shard's thread.
    /// `interrupted_pc` is the program counter the signal interrupted (0 if unknown).
    void on_tick(void* interrupted_pc) noexcept;

private:
    void report(std::int64_t stalled_ns, void* const* frames, int n);
    void write_hang_report(std::int64_t stalled_ns) noexcept;

    reactor_impl& r_;
    std::int64_t threshold_ns_;
    void* timer_ = nullptr;  // timer_t
    bool has_timer_ = false;

    // Touched by the signal handler (same thread), ordered with signal fences.
    std::atomic<bool> armed_{false};
    std::atomic<bool> pending_{false};  // a capture waits for poll()
    std::uint64_t last_polls_ = 0;
    std::int64_t last_progress_ns_ = 0;  // thread CPU time when polls last moved
    bool captured_ = false;              // this stall was captured already
    bool hang_reported_ = false;         // this stall was reported from the handler
    unsigned hang_reports_ = 0;          // reports written from the handler, ever
    std::int64_t hang_ns_ = 0;           // a stall this long is reported while it lasts
    std::int64_t stall_start_ns_ = 0;
    int nframes_ = 0;
    void* frames_[max_frames];

    // Rate limit (normal context only).
    unsigned max_reports_ = 5;
    std::chrono::steady_clock::duration window_ = std::chrono::minutes(1);
    std::chrono::steady_clock::time_point window_start_{};
    unsigned reports_in_window_ = 0;
    std::uint64_t suppressed_ = 0;
    std::uint64_t reports_total_ = 0;
};

}  // namespace reef::detail
