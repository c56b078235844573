// Fixtures shared by the core-future tests.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>

#include <reef/core/exceptions.hh>
#include <reef/core/scheduler.hh>

namespace reef::testing {

/// Checks, when it goes out of scope, that no failed future was reported as abandoned
/// while it lived.
struct no_abandoned_failures {
    std::uint64_t before = abandoned_failures();
    ~no_abandoned_failures() { CHECK(abandoned_failures() == before); }
};

/// Runs the standalone queue until nothing is left, including tasks queued by tasks.
inline void run_all() {
    while (run_pending_tasks() != 0) {
    }
}

/// Makes need_preempt() true for as long as it lives.
struct forced_preemption {
    detail::preemption_monitor monitor;
    const detail::preemption_monitor* previous;
    forced_preemption() {
        monitor.head.store(1);
        previous = set_preemption_monitor(&monitor);
    }
    ~forced_preemption() { set_preemption_monitor(previous); }
    forced_preemption(const forced_preemption&) = delete;
    forced_preemption& operator=(const forced_preemption&) = delete;
};

}  // namespace reef::testing
