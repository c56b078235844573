// Timers: a periodic timer, a one-shot timer that cancels it, sleep(), and
// with_timeout() turning a slow operation into timed_out_error.
//   build/examples/timers_demo --ticks 5 --period-ms 20
#include <fmt/core.h>

#include <chrono>

#include <reef/reactor.hh>

using namespace std::chrono_literals;

int main(int argc, char** argv) {
    reef::app_template app({.name = "timers_demo", .description = "periodic and one-shot timers, sleep, timeouts"});
    app.add_options()("ticks", reef::value<unsigned>(5u), "ticks of the periodic timer before it is cancelled")(
        "period-ms", reef::value<unsigned>(20u), "period of the periodic timer");
    return app.run(argc, argv, [&]() -> reef::future<> {
        const unsigned ticks = app.configuration()["ticks"].as<unsigned>();
        const auto period = std::chrono::milliseconds(app.configuration()["period-ms"].as<unsigned>());
        auto start = reef::steady_clock_type::now();
        auto since = [&] {
            return std::chrono::duration_cast<std::chrono::milliseconds>(reef::steady_clock_type::now() - start).count();
        };

        // A periodic timer counts ticks; a one-shot timer cancels it after `ticks` periods.
        unsigned count = 0;
        reef::timer<> periodic([&] { fmt::print("[{:4} ms] tick {}\n", since(), ++count); });
        reef::promise<> stopped;
        reef::timer<> stopper([&] {
            periodic.cancel();
            fmt::print("[{:4} ms] periodic timer cancelled after {} ticks\n", since(), count);
            stopped.set_value();
        });
        periodic.arm_periodic(period);
        stopper.arm(period * ticks + period / 2);
        co_await stopped.get_future();

        // sleep() is a timer behind a future.
        co_await reef::sleep(10ms);
        fmt::print("[{:4} ms] slept 10 ms\n", since());

        // with_timeout() fails a future that is not ready by the deadline.
        auto slow = reef::sleep(200ms);
        auto r = co_await reef::coroutine::as_future(
            reef::with_timeout(reef::steady_clock_type::now() + 20ms, std::move(slow)));
        if (r.failed()) {
            try {
                r.get();
            } catch (const reef::timed_out_error& e) {
                fmt::print("[{:4} ms] the slow operation timed out: {}\n", since(), e.what());
            }
        }
    });
}
