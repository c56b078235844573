// Captures what a test writes to stderr (fd 2), for tests of logging and reports.
//   reef::testing::stderr_capture cap; log.warn("x"); REQUIRE(cap.finish().find("x") != npos);
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace reef::testing {

/// Redirects fd 2 into a memory file from construction until finish() (or
/// destruction), and returns what was written. Not thread-safe; one at a time.
class stderr_capture {
public:
    stderr_capture() {
        std::fflush(stderr);
        fd_ = ::memfd_create("stderr_capture", 0);
        saved_ = ::dup(STDERR_FILENO);
        if (fd_ < 0 || saved_ < 0 || ::dup2(fd_, STDERR_FILENO) < 0) {
            throw std::runtime_error("stderr_capture: cannot redirect stderr");
        }
    }
    stderr_capture(const stderr_capture&) = delete;
    stderr_capture& operator=(const stderr_capture&) = delete;
    ~stderr_capture() { (void)finish(); }

    /// Restores stderr and returns everything written since construction. Idempotent.
    std::string finish() {
        if (fd_ < 0) {
            return text_;
        }
        std::fflush(stderr);
        ::dup2(saved_, STDERR_FILENO);
        ::close(saved_);
        ::lseek(fd_, 0, SEEK_SET);
        char buf[4096];
        for (ssize_t n; (n = ::read(fd_, buf, sizeof(buf))) > 0;) {
            text_.append(buf, std::size_t(n));
        }
        ::close(fd_);
        fd_ = -1;
        return text_;
    }

private:
    int fd_ = -1;
    int saved_ = -1;
    std::string text_;
};

}  // namespace reef::testing
