#include <reef/reactor/signals.hh>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <reef/core/coroutine.hh>
#include <reef/reactor/smp.hh>
#include <reef/testing/test_case.hh>

using namespace reef;
using namespace std::chrono_literals;

namespace {

// `s` with newlines written as \n, so that Catch's TAP output stays one line per result.
std::string escaped(std::string s) {
    std::string out;
    for (char ch : s) {
        out += ch == '\n' ? std::string("\\n") : std::string(1, ch);
    }
    return out;
}

// Yields until `done` is true or `limit` passed; true if done.
future<bool> wait_for(const bool& done, std::chrono::steady_clock::duration limit = 10s) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (!done && std::chrono::steady_clock::now() < until) {
        co_await coroutine::maybe_yield();
    }
    co_return done;
}

bool blocked_here(int signo) {
    sigset_t mask;
    ::pthread_sigmask(SIG_BLOCK, nullptr, &mask);
    return sigismember(&mask, signo);
}

}  // namespace

REEF_TEST_CASE("handle_signal runs the handler on shard 0 when the signal arrives") {
    bool got = false;
    unsigned shard = 99;
    handle_signal(SIGUSR1, [&] {
        got = true;
        shard = this_shard_id();
    });
    // Shard 0 takes it; the other shards block it.
    REQUIRE_FALSE(blocked_here(SIGUSR1));
    ::kill(::getpid(), SIGUSR1);
    REQUIRE(co_await wait_for(got));
    REQUIRE(shard == 0);
    co_await stop_signal_handling();
    REQUIRE_FALSE(blocked_here(SIGUSR1));
    struct sigaction now {};
    ::sigaction(SIGUSR1, nullptr, &now);
    REQUIRE(now.sa_handler == SIG_DFL);
}

REEF_TEST_CASE("each delivery runs the handler again, and a new handler replaces the old one") {
    int first = 0, second = 0;
    handle_signal(SIGUSR1, [&] { ++first; });
    for (int i = 1; i <= 3; ++i) {
        ::kill(::getpid(), SIGUSR1);
        bool done = false;
        auto until = std::chrono::steady_clock::now() + 10s;
        while (first < i && std::chrono::steady_clock::now() < until) {
            co_await coroutine::maybe_yield();
        }
        done = first == i;
        REQUIRE(done);
    }
    handle_signal(SIGUSR1, [&] { ++second; });
    ::kill(::getpid(), SIGUSR1);
    bool got = false;
    handle_signal(SIGUSR2, [&] { got = true; });
    ::kill(::getpid(), SIGUSR2);
    REQUIRE(co_await wait_for(got));
    auto until = std::chrono::steady_clock::now() + 10s;
    while (second == 0 && std::chrono::steady_clock::now() < until) {
        co_await coroutine::maybe_yield();
    }
    REQUIRE(second == 1);
    REQUIRE(first == 3);
    co_await stop_signal_handling();
}

REEF_TEST_CASE("a handler that throws is reported and the next signal is still handled") {
    int calls = 0;
    handle_signal(SIGUSR1, [&] {
        ++calls;
        throw std::runtime_error("handler failed on purpose");
    });
    ::kill(::getpid(), SIGUSR1);
    auto until = std::chrono::steady_clock::now() + 10s;
    while (calls < 1 && std::chrono::steady_clock::now() < until) {
        co_await coroutine::maybe_yield();
    }
    ::kill(::getpid(), SIGUSR1);
    while (calls < 2 && std::chrono::steady_clock::now() < until) {
        co_await coroutine::maybe_yield();
    }
    REQUIRE(calls == 2);
    co_await stop_signal_handling();
}

REEF_TEST_CASE("a signal landing on a thread that is not a shard still runs the handler on shard 0") {
    bool got = false;
    unsigned shard = 99;
    handle_signal(SIGUSR2, [&] {
        got = true;
        shard = this_shard_id();
    });
    // A foreign thread with the signal unblocked, raising it at itself: our sigaction
    // handler runs there and tells shard 0.
    std::thread t([] {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR2);
        ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
        ::pthread_kill(::pthread_self(), SIGUSR2);
    });
    t.join();
    REQUIRE(co_await wait_for(got));
    REQUIRE(shard == 0);
    co_await stop_signal_handling();
}

REEF_TEST_CASE("the other shards block a handled signal soon after handle_signal") {
    handle_signal(SIGUSR1, [] {});
    auto until = std::chrono::steady_clock::now() + 10s;
    bool blocked = false;
    while (!blocked && std::chrono::steady_clock::now() < until) {
        blocked = co_await smp::submit_to(1, [] { return blocked_here(SIGUSR1); });
    }
    REQUIRE(blocked);
    co_await stop_signal_handling();
}

REEF_TEST_CASE("handle_signal refuses the wrong shard and signals it cannot handle") {
    REQUIRE_THROWS_AS(handle_signal(SIGKILL, [] {}), std::invalid_argument);
    REQUIRE_THROWS_AS(handle_signal(SIGSTOP, [] {}), std::invalid_argument);
    REQUIRE_THROWS_AS(handle_signal(SIGSEGV, [] {}), std::invalid_argument);
    REQUIRE_THROWS_AS(handle_signal(SIGRTMIN + 1, [] {}), std::invalid_argument);
    REQUIRE_THROWS_AS(handle_signal(0, [] {}), std::invalid_argument);
    bool refused = co_await smp::submit_to(1, [] {
        try {
            handle_signal(SIGUSR1, [] {});
        } catch (const std::logic_error&) {
            return true;
        }
        return false;
    });
    REQUIRE(refused);
    // Nothing was started: stopping is immediate.
    auto f = stop_signal_handling();
    REQUIRE(f.available());
    co_await std::move(f);
}

TEST_CASE("handle_signal outside running shards is refused") {
    REQUIRE_THROWS_AS(handle_signal(SIGUSR1, [] {}), std::logic_error);
}

// ---- a running application in a child process -------------------------------------------

namespace {

std::string app_child_path() {
    char buf[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    REQUIRE(n > 0);
    std::string self(buf, std::size_t(n));
    return self.substr(0, self.rfind('/') + 1) + "app_child";
}

// A running app_child with pipes on its stdout and stderr.
class child {
public:
    explicit child(std::vector<std::string> args) {
        std::vector<std::string> all{app_child_path()};
        if (const char* b = std::getenv("REEF_BACKEND"); b && *b) {
            all.push_back("--reactor-backend");
            all.push_back(b);
        }
        all.insert(all.end(), args.begin(), args.end());
        int out[2], err[2];
        REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
        REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
        std::vector<char*> argv;
        for (auto& a : all) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        pid_ = ::fork();
        if (pid_ == 0) {
            // The child: no Catch assertions here (they would be reported twice).
            ::dup2(out[1], 1);
            ::dup2(err[1], 2);
            // The test runner's mask and dispositions must not leak into the child.
            sigset_t none;
            sigemptyset(&none);
            ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
            ::signal(SIGINT, SIG_DFL);
            ::signal(SIGTERM, SIG_DFL);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        REQUIRE(pid_ > 0);
        ::close(out[1]);
        ::close(err[1]);
        out_ = out[0];
        err_ = err[0];
    }
    ~child() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        ::close(out_);
        ::close(err_);
    }

    // Reads stdout until it contains `text`; false after `limit`.
    bool wait_for_output(const std::string& text, std::chrono::milliseconds limit = 20s) {
        auto until = std::chrono::steady_clock::now() + limit;
        while (out.find(text) == std::string::npos) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                until - std::chrono::steady_clock::now());
            if (left.count() <= 0 || !read_some(out_, out, int(left.count()))) {
                return out.find(text) != std::string::npos;
            }
        }
        return true;
    }

    void send(int signo) { REQUIRE(::kill(pid_, signo) == 0); }

    // Waits for the exit (collecting the rest of the output); the raw wait status.
    int wait(std::chrono::milliseconds limit = 30s) {
        auto until = std::chrono::steady_clock::now() + limit;
        while (read_some(out_, out, 100) || read_some(err_, err, 0)) {
            if (std::chrono::steady_clock::now() > until) {
                break;
            }
        }
        int status = 0;
        while (::waitpid(pid_, &status, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() > until) {
                FAIL("the child did not exit in time; output: " << out << " / " << err);
            }
            std::this_thread::sleep_for(10ms);
        }
        pid_ = -1;
        while (read_some(err_, err, 0)) {
        }
        while (read_some(out_, out, 0)) {
        }
        return status;
    }

    std::string out, err;

private:
    // Appends what `fd` has within `timeout_ms`; false at end of file or on timeout.
    static bool read_some(int fd, std::string& to, int timeout_ms) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) {
            return false;
        }
        char buf[4096];
        ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n <= 0) {
            return false;
        }
        to.append(buf, std::size_t(n));
        return true;
    }

    pid_t pid_ = -1;
    int out_ = -1;
    int err_ = -1;
};

int exit_code(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

}  // namespace

TEST_CASE("SIGTERM stops a running application gracefully with the code it chooses") {
    child c({"--smp", "2", "--overprovisioned", "--exit-code", "7"});
    REQUIRE(c.wait_for_output("ready shards=2\n"));
    c.send(SIGTERM);
    int status = c.wait();
    INFO(escaped(c.out + c.err));
    REQUIRE(exit_code(status) == 7);
    REQUIRE(escaped(c.out) == escaped("ready shards=2\nstop requested with code 0\nbye from shard 1\n"));
    REQUIRE(c.err.empty());
}

TEST_CASE("SIGINT stops a running application gracefully with exit code 0") {
    child c({"--smp", "2", "--overprovisioned"});
    REQUIRE(c.wait_for_output("ready shards=2\n"));
    c.send(SIGINT);
    int status = c.wait();
    INFO(escaped(c.out + c.err));
    REQUIRE(exit_code(status) == 0);
    REQUIRE(escaped(c.out) == escaped("ready shards=2\nstop requested with code 0\nbye from shard 1\n"));
    REQUIRE(c.err.empty());
}

TEST_CASE("a second stop signal ends an application that does not finish, at once") {
    child c({"--smp", "2", "--overprovisioned", "--mode", "ignore"});
    REQUIRE(c.wait_for_output("ready shards=2\n"));
    c.send(SIGTERM);
    // The first one is handled and the application keeps going.
    std::this_thread::sleep_for(300ms);
    c.send(SIGINT);
    int status = c.wait();
    INFO(escaped(c.out + c.err));
    REQUIRE(exit_code(status) == 128 + SIGINT);
    REQUIRE(escaped(c.err) == escaped("app_child: second stop signal, exiting at once\n"));
}

TEST_CASE("a second stop signal ends the process even while shard 0 is stuck") {
    child c({"--smp", "2", "--overprovisioned", "--mode", "busy", "--blocked-reactor-notify-ms", "100000"});
    REQUIRE(c.wait_for_output("ready shards=2\n"));
    c.send(SIGTERM);
    std::this_thread::sleep_for(100ms);
    c.send(SIGTERM);
    int status = c.wait();
    INFO(escaped(c.out + c.err));
    REQUIRE(exit_code(status) == 128 + SIGTERM);
    REQUIRE_THAT(escaped(c.err), Catch::EndsWith("app_child: second stop signal, exiting at once\\n"));
}

TEST_CASE("a handled signal reaches the running application's handler on shard 0") {
    child c({"--smp", "2", "--overprovisioned"});
    REQUIRE(c.wait_for_output("ready shards=2\n"));
    c.send(SIGUSR1);
    REQUIRE(c.wait_for_output("usr1 on shard 0\n"));
    c.send(SIGTERM);
    int status = c.wait();
    REQUIRE(exit_code(status) == 0);
}

TEST_CASE("the child's function's value and failure become its exit code") {
    {
        child c({"--mode", "return", "--exit-code", "42", "--overprovisioned"});
        REQUIRE(exit_code(c.wait()) == 42);
        REQUIRE(c.out.empty());
    }
    {
        child c({"--mode", "fail", "--overprovisioned"});
        REQUIRE(exit_code(c.wait()) == 1);
        REQUIRE(escaped(c.err) == escaped("app_child: error: child failed on purpose\n"));
    }
}

TEST_CASE("bad command lines of a real program exit with 2 and one line") {
    struct bad_case {
        std::vector<std::string> args;
        std::string line;
    };
    std::vector<bad_case> cases{
        {{"--bogus"}, "app_child: error: unrecognised option '--bogus' (see --help)\n"},
        {{"--smp", "0"}, "app_child: error: option '--smp': must be at least 1, got '0' (see --help)\n"},
        {{"--task-quota-ms", "-2"},
         "app_child: error: option '--task-quota-ms': must be greater than 0, got '-2' (see --help)\n"},
        {{"--mode", "dance"},
         "app_child: error: option '--mode': unknown mode 'dance' (available: wait, ignore, busy, fail, "
         "return) (see --help)\n"},
        {{"--exit-code", "x"},
         "app_child: error: option '--exit-code': expected an integer, got 'x' (see --help)\n"},
    };
    for (auto& bc : cases) {
        INFO(bc.args[0]);
        child c(bc.args);
        REQUIRE(exit_code(c.wait()) == 2);
        REQUIRE(escaped(c.err) == escaped(bc.line));
        REQUIRE(c.out.empty());
    }
    child r({"--reactor-backend", "kqueue"});
    REQUIRE(exit_code(r.wait()) == 2);
    REQUIRE_THAT(
        escaped(r.err),
        Catch::StartsWith(
            "app_child: error: option '--reactor-backend': unknown reactor backend 'kqueue' (available: "));
    REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

TEST_CASE("--help and --version of a real program exit with 0") {
    child h({"--help"});
    REQUIRE(exit_code(h.wait()) == 0);
    REQUIRE_THAT(escaped(h.out), Catch::Contains("Reactor options:") && Catch::Contains("--mode TEXT") &&
                                     Catch::Contains("Logging options:"));
    child v({"--version"});
    REQUIRE(exit_code(v.wait()) == 0);
    REQUIRE(escaped(v.out) == escaped("app_child 1.2.3\n"));
}
