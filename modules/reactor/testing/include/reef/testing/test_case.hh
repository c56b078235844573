// Reactor-aware test cases: the body of REEF_TEST_CASE is a coroutine that runs on
// shard 0 of live shards (2 by default), on the backend named by REEF_BACKEND.
//   REEF_TEST_CASE("submit_to reaches the other shard") {
//       REQUIRE(co_await reef::smp::submit_to(1, [] { return reef::this_shard_id(); }) == 1);
//   }
#pragma once

#include <functional>

#include <catch2/catch.hpp>

#include <reef/reactor/config.hh>
#include <reef/core/future.hh>

namespace reef::testing {

/// Shards, backend and options the next test bodies run with. Defaults: 2 shards, the
/// backend in $REEF_BACKEND (or the default backend), threads not pinned.
smp_config& test_config() noexcept;

/// Runs `body` on shard 0 of freshly started shards and waits for it; rethrows its
/// failure (a failed REQUIRE included) on the test's thread.
void run_in_reactor(std::function<future<>()> body);

/// The backend the tests run on ($REEF_BACKEND, or empty for the default).
const char* test_backend() noexcept;

}  // namespace reef::testing

#define REEF_TESTING_CAT2(a, b) a##b
#define REEF_TESTING_CAT(a, b) REEF_TESTING_CAT2(a, b)

#define REEF_TESTING_CASE_IMPL(fn, ...)                                  \
    static ::reef::future<> fn();                                        \
    TEST_CASE(__VA_ARGS__) { ::reef::testing::run_in_reactor(&fn); }     \
    static ::reef::future<> fn()

/// A Catch2 test case whose body is a coroutine returning reef::future<> run inside a
/// live reactor. Takes the same arguments as TEST_CASE (name, then optional tags).
#define REEF_TEST_CASE(...) REEF_TESTING_CASE_IMPL(REEF_TESTING_CAT(reef_test_body_, __LINE__), __VA_ARGS__)
