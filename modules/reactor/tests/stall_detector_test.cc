#include "stall_detector.hh"

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <regex>
#include <string>

#include <reef/core/coroutine.hh>
#include <reef/reactor/smp.hh>
#include <reef/testing/stderr_capture.hh>
#include <reef/testing/test_case.hh>

using namespace reef;
using reef::testing::stderr_capture;
using namespace std::chrono_literals;

namespace {


std::chrono::nanoseconds thread_cpu() {
    timespec ts;
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// Holds the CPU for `d` of this thread's CPU time (wall time may be longer on a busy
// machine; the detector measures CPU time too).
[[gnu::noinline]] void hold_the_shard(std::chrono::nanoseconds d) {
    auto start = thread_cpu();
    while (thread_cpu() - start < d) {
    }
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) {
        ++n;
    }
    return n;
}

// Captured output for a failure message: one line, so that the TAP stream stays valid.
std::string one_line(std::string s) {
    std::replace(s.begin(), s.end(), '\n', '|');
    return s;
}

detail::stall_detector& detector() {
    auto* d = detail::this_reactor().stalls;
    REQUIRE(d != nullptr);
    return *d;
}

// Lets the loop go round a few times (so that the detector's poller runs).
future<> let_the_loop_poll() {
    for (int i = 0; i < 5; ++i) {
        co_await smp::submit_to(1, [] {});
    }
}

void run_with_threshold(std::chrono::milliseconds threshold, std::function<future<>()> body) {
    auto& cfg = testing::test_config().reactor;
    auto saved = cfg.blocked_reactor_notify;
    cfg.blocked_reactor_notify = threshold;
    try {
        testing::run_in_reactor(std::move(body));
    } catch (...) {
        cfg.blocked_reactor_notify = saved;
        throw;
    }
    cfg.blocked_reactor_notify = saved;
}

}  // namespace

TEST_CASE("a task holding the shard for 100 ms is reported once, with a backtrace, and counted") {
    run_with_threshold(25ms, []() -> future<> {
        auto& stats = detail::this_reactor().stats();
        auto stalls_before = stats.stalls;
        stderr_capture cap;
        hold_the_shard(100ms);
        co_await let_the_loop_poll();
        auto text = cap.finish();
        INFO(one_line(text));
        CHECK(stats.stalls == stalls_before + 1);
        CHECK(detector().reports() == 1);
        CHECK(count_of(text, "reactor stalled for") == 1);
        std::smatch m;
        REQUIRE(std::regex_search(text, m, std::regex(R"(WARN  \[shard 0\] stall_detector - reactor stalled for (\d+) ms on shard 0, backtrace:\n  0x[0-9a-f]+)")));
        // Measured from the last tick that saw progress: at least the threshold, at
        // most what the task held plus a tick.
        auto ms = std::stoi(m[1].str());
        CHECK(ms >= 25);
        CHECK(ms <= 150);
        // The frames point into this program (module+offset, usable with addr2line).
        CHECK(text.find("stall_detector_test+0x") != std::string::npos);
    });
}

TEST_CASE("a stall that goes on is reported while it lasts, from the signal handler") {
    run_with_threshold(25ms, []() -> future<> {
        stderr_capture cap;
        hold_the_shard(400ms);
        auto during = cap.finish();  // before the loop runs again: only the handler wrote
        INFO(one_line(during));
        CHECK(count_of(during, "has been stalled for") == 1);
        REQUIRE(std::regex_search(during, std::regex(R"(reef: shard 0 has been stalled for \d+ ms and is still running; stack when the stall began:\n  0x[0-9a-f]+)")));
        stderr_capture after;
        co_await let_the_loop_poll();
        auto text = after.finish();
        INFO(one_line(text));
        CHECK(count_of(text, "reactor stalled for") == 1);  // the full report, at the end
    });
}

TEST_CASE("a shard running many short tasks is not reported") {
    run_with_threshold(25ms, []() -> future<> {
        auto& stats = detail::this_reactor().stats();
        auto stalls_before = stats.stalls;
        stderr_capture cap;
        auto start = thread_cpu();
        // 300 ms of CPU in tasks of 0.2 ms, each followed by a trip through the loop.
        while (thread_cpu() - start < 300ms) {
            hold_the_shard(200us);
            co_await coroutine::maybe_yield();
        }
        co_await let_the_loop_poll();
        auto text = cap.finish();
        INFO(one_line(text));
        CHECK(stats.stalls == stalls_before);
        CHECK(text.find("reactor stalled") == std::string::npos);
    });
}

TEST_CASE("stalls beyond the rate limit are counted and summarized in the next report") {
    run_with_threshold(25ms, []() -> future<> {
        auto& stats = detail::this_reactor().stats();
        auto& d = detector();
        d.set_rate_limit(5, 1s);
        auto stalls_before = stats.stalls;
        stderr_capture cap;
        auto window_start = std::chrono::steady_clock::now();
        for (int i = 0; i < 7; ++i) {
            hold_the_shard(60ms);
            co_await let_the_loop_poll();
        }
        CHECK(stats.stalls == stalls_before + 7);
        CHECK(d.reports() == 5);
        CHECK(d.suppressed() == 2);
        // Once the window has passed, the next report says how many were left out.
        while (std::chrono::steady_clock::now() - window_start < 1100ms) {
            co_await smp::submit_to(1, [] {});
        }
        hold_the_shard(60ms);
        co_await let_the_loop_poll();
        auto text = cap.finish();
        INFO(one_line(text));
        CHECK(stats.stalls == stalls_before + 8);
        CHECK(d.reports() == 6);
        CHECK(d.suppressed() == 0);
        CHECK(count_of(text, "reactor stalled for") == 6);
        CHECK(count_of(text, "(2 earlier stall reports were suppressed)") == 1);
    });
}

TEST_CASE("a zero threshold turns the detector off") {
    run_with_threshold(0ms, []() -> future<> {
        CHECK(detail::this_reactor().stalls == nullptr);
        auto stalls_before = detail::this_reactor().stats().stalls;
        hold_the_shard(60ms);
        co_await let_the_loop_poll();
        CHECK(detail::this_reactor().stats().stalls == stalls_before);
    });
}
