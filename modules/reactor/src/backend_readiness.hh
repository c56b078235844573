// The shared machinery of readiness-driven backends (epoll, linux-aio poll): every
// operation tries its system call first and, on EAGAIN, forgets the readiness that the
// kernel disproved, waits for it to come back and retries. A subclass only has to make
// the kernel report readiness (arm) and pass on what it reports (on_ready).
// Private to the reactor module.
#pragma once

#include <poll.h>

#include <cstdint>
#include <exception>
#include <utility>
#include <vector>

#include "backend.hh"

namespace reef::detail {

/// poll(2) events that let a read-side operation make progress (epoll's EPOLL* bits
/// have the same values).
inline constexpr std::uint32_t readiness_in_events = POLLIN | POLLRDHUP | POLLHUP | POLLERR;
/// poll(2) events that let a write-side operation make progress.
inline constexpr std::uint32_t readiness_out_events = POLLOUT | POLLHUP | POLLERR;

/// Per-fd state of a readiness-driven backend; a backend may derive its own to add
/// what it needs (the aio backend keeps its poll iocbs there). Owner shard only.
struct readiness_fd_state : fd_state {
    /// Directions in which the kernel will report readiness without being asked again.
    enum : std::uint8_t { armed_read = 1, armed_write = 2, armed_both = 3 };

    std::uint32_t ready = 0;  // poll(2) events seen since the last EAGAIN, by direction
    unsigned users = 0;       // retries and kernel requests that still use this state
    std::uint8_t armed = 0;   // armed_* bits; a wait calls arm() when its bit is clear
    bool closed = false;      // forget() ran: the fd is closed, waiters were failed
    bool unpollable = false;  // the kernel cannot poll it (regular file): always ready
    bool drained = false;     // a short read emptied the stream (fd_state::stream)
    promise<>* read_waiter = nullptr;
    promise<>* write_waiter = nullptr;
    // The promises live here so that a wait allocates nothing.
    promise<> read_pr;
    promise<> write_pr;
};

/// Implements every operation of `backend` in terms of readiness. A subclass attaches
/// fds (creating a readiness_fd_state or a type derived from it), arms the kernel's
/// readiness reports, and calls on_ready() / fail_waiter() with what the kernel says,
/// then free_released() at the end of each batch of events.
class readiness_backend : public backend {
public:
    ~readiness_backend() override;

    /// Detaches (disarm()), fails the waiters with ECANCELED, closes the fd; the state
    /// is freed once nothing uses it any more (see release_if_unused()).
    void forget(fd_state* s) noexcept final;

    future<> readable(fd_state& s) final;
    future<> writable(fd_state& s) final;
    future<int> poll(fd_state& s, int events) final;
    future<std::size_t> read_some(fd_state& s, void* buf, std::size_t len) final;
    future<std::size_t> write_some(fd_state& s, const void* buf, std::size_t len) final;
    future<std::size_t> sendmsg(fd_state& s, const ::msghdr* msg, int flags) final;
    future<std::size_t> recvmsg(fd_state& s, ::msghdr* msg, int flags) final;
    future<accept_result> accept(fd_state& s) final;
    future<> connect(fd_state& s, const ::sockaddr* addr, ::socklen_t len) final;

protected:
    /// Makes sure the kernel will report the next readiness of `s` in one direction.
    /// Called when a waiter starts waiting and the direction's `armed` bit is clear;
    /// the subclass sets the bit for as long as the report is pending. May report at
    /// once (on_ready, fail_waiter). May throw (the wait then fails with the exception).
    virtual void arm(readiness_fd_state& s, bool read) = 0;

    /// Stops the kernel's reports about `s`; called by forget() while the fd is still
    /// open and `s` already marked closed. Reports still in flight must keep `s` alive
    /// by holding `users`. When the kernel holds the file for a report, disarm() should
    /// make it let go, so that the close() that follows really releases the file.
    virtual void disarm(readiness_fd_state& s) noexcept = 0;

    /// Records the poll(2) `events` the kernel reported for `s` and resolves the waiters
    /// they concern. Returns true if a waiter resolved. Ignores a closed state.
    [[gnu::always_inline]] bool on_ready(readiness_fd_state& s, std::uint32_t events) noexcept {
        if (s.closed) {
            return false;
        }
        s.ready |= events;
        bool work = false;
        if ((events & readiness_in_events) && s.read_waiter) {
            --waiters_;
            std::exchange(s.read_waiter, nullptr)->set_value();
            work = true;
        }
        if ((events & readiness_out_events) && s.write_waiter) {
            --waiters_;
            std::exchange(s.write_waiter, nullptr)->set_value();
            work = true;
        }
        return work;
    }

    /// Operations waiting for readiness on this backend. With none, a backend may skip
    /// asking the kernel for events when it polls: readiness it has not collected stays
    /// queued in the kernel, and an operation always tries its system call first.
    std::size_t waiters() const noexcept { return waiters_; }

    /// Fails the waiter of one direction (the kernel refused to watch the fd). Returns
    /// true if there was one.
    bool fail_waiter(readiness_fd_state& s, bool read, std::exception_ptr e) noexcept;

    /// Frees a closed state once no retry and no kernel request uses it any more. The
    /// free itself waits for free_released(), since the current batch of events may
    /// still name the state.
    void release_if_unused(readiness_fd_state* s) noexcept {
        if (s->closed && s->users == 0) {
            graveyard_.push_back(s);
        }
    }

    /// Frees the states released since the last call; call after each batch of events.
    void free_released() noexcept {
        if (!graveyard_.empty()) [[unlikely]] {
            free_graveyard();
        }
    }

private:
    template <typename T, typename Retry>
    future<T> retry_after(readiness_fd_state& s, bool read, Retry&& retry);
    future<> wait(readiness_fd_state& s, bool read);
    [[gnu::noinline]] void arm_waiter(readiness_fd_state& s, bool read) noexcept;
    void free_graveyard() noexcept;

    std::vector<readiness_fd_state*> graveyard_;
    std::size_t waiters_ = 0;  // waiter slots in use, over every state
};

}  // namespace reef::detail
