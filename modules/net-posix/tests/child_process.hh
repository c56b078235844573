// A program a test runs next to the reactor (openssl, curl): its stdin and its merged
// stdout/stderr on pipes driven by the reactor, and a deadline after which it is killed
// so no read waits forever. Destroying it kills and reaps the process, so a failing test
// leaves nothing running. Test helper: reports problems by throwing.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <reef/core/coroutine.hh>
#include <reef/core/temporary_buffer.hh>
#include <reef/reactor/pollable_fd.hh>
#include <reef/reactor/sleep.hh>
#include <reef/reactor/timer.hh>

extern char** environ;

namespace net_test {

class child_process {
public:
    /// Starts `argv` (argv[0] looked up in PATH unless it holds a '/'); it is killed
    /// with SIGKILL once `deadline` has passed.
    child_process(std::vector<std::string> argv, std::chrono::milliseconds deadline)
        : argv_(std::move(argv)) {
        int in[2];
        int out[2];
        if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
            throw std::runtime_error("pipe2 failed");
        }
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_adddup2(&fa, out[1], 2);
        std::vector<char*> args;
        for (auto& a : argv_) {
            args.push_back(a.data());
        }
        args.push_back(nullptr);
        int rc = ::posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        ::close(in[0]);
        ::close(out[1]);
        if (rc != 0) {
            ::close(in[1]);
            ::close(out[0]);
            pid_ = -1;
            throw std::runtime_error(fmt::format("cannot start {}: {}", argv_[0], std::strerror(rc)));
        }
        stdin_ = reef::pollable_fd(in[1]);
        stdout_ = reef::pollable_fd(out[0]);
        killer_.set_callback([this] { kill(); });
        killer_.arm(deadline);
    }
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    ~child_process() {
        kill();
        reap(0);
    }

    /// Writes all of `data` to the program's stdin.
    reef::future<> write(std::string data) {
        std::size_t done = 0;
        while (done < data.size()) {
            done += co_await stdin_.write_some(data.data() + done, data.size() - done);
        }
    }
    /// Closes the program's stdin (it reads end of file).
    void close_stdin() { stdin_.close(); }

    /// Reads the program's output until it holds `needle`; returns all of it so far.
    /// Throws when the output ends (or the deadline kills the program) first.
    reef::future<std::string> read_until(std::string needle) {
        while (output_.find(needle) == std::string::npos) {
            if (!co_await read_more()) {
                throw std::runtime_error(
                    fmt::format("{} ended without writing '{}'; it wrote:\n{}", argv_[0], needle, output_));
            }
        }
        co_return output_;
    }
    /// Reads the program's output to its end; returns all of it.
    reef::future<std::string> read_to_end() {
        while (co_await read_more()) {
        }
        co_return output_;
    }
    /// Everything read so far.
    const std::string& output() const noexcept { return output_; }

    /// Waits for the program to exit; returns its exit code, or 128 + the signal that
    /// ended it.
    reef::future<int> wait() {
        while (!reap(WNOHANG)) {
            co_await reef::sleep(std::chrono::milliseconds(5));
        }
        co_return *status_;
    }

    /// Sends `sig` while the program runs.
    void kill(int sig = SIGKILL) noexcept {
        if (pid_ > 0 && !status_) {
            ::kill(pid_, sig);
        }
    }

private:
    reef::future<bool> read_more() {
        reef::temporary_buffer<char> buf(4096);
        auto n = co_await stdout_.read_some(buf.get_write(), buf.size());
        output_.append(buf.get(), n);
        co_return n != 0;
    }

    // Collects the exit status; true once the program is gone.
    bool reap(int flags) noexcept {
        if (status_ || pid_ <= 0) {
            return true;
        }
        int st = 0;
        pid_t r = ::waitpid(pid_, &st, flags);
        if (r != pid_) {
            return false;
        }
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        killer_.cancel();
        return true;
    }

    std::vector<std::string> argv_;
    pid_t pid_ = -1;
    std::optional<int> status_;
    reef::pollable_fd stdin_;
    reef::pollable_fd stdout_;
    std::string output_;
    reef::timer<> killer_;
};

}  // namespace net_test
