// Datagram channels of the kernel-socket stack. A receive is one recvmsg (a ring
// operation on io_uring) into the channel's scratch buffer, whose bytes are then copied
// into a buffer of the datagram's exact size (so that a small datagram does not pin 64
// KiB). Sends are serialized by a semaphore, each one sendmsg gathering the fragments.
// The state lives while an operation is in flight, since the kernel may write into its
// buffers until the operation completes, even after close().
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <optional>
#include <cerrno>
#include <vector>

#include <fmt/format.h>

#include <reef/core/coroutine.hh>
#include <reef/core/semaphore.hh>

#include "posix_socket.hh"
#include "posix_stack_impl.hh"

namespace reef::net::posix {

namespace {

struct udp_state {
    udp_state(pollable_fd f, const socket_address& l, std::size_t max) noexcept
        : fd(std::move(f)), local(l), scratch(max) {}

    unsigned refs = 0;
    pollable_fd fd;
    socket_address local;
    temporary_buffer<char> scratch;  // where recvmsg writes
    ::msghdr rmsg{};
    ::iovec riov{};
    ::sockaddr_storage rname{};
    std::optional<promise<datagram>> receiver;  // the caller of a receive still in flight
    semaphore send_lock{1};
    bool closed = false;
    bool input_shut = false;
    bool output_shut = false;
};

using udp_ref = counted<udp_state>;

std::exception_ptr closed_error() {
    return make_error(EBADF, "udp_channel is closed");
}

std::exception_ptr input_shut_error() {
    return make_error(ESHUTDOWN, "receive: input was shut down");
}

class posix_udp_channel final : public udp_channel_impl {
public:
    explicit posix_udp_channel(const udp_ref& s) noexcept : s_(s) {}
    ~posix_udp_channel() override { close(); }

    future<datagram> receive() override {
        if (s_->closed) {
            return make_exception_future<datagram>(closed_error());
        }
        if (s_->input_shut) {
            return make_exception_future<datagram>(input_shut_error());
        }
        auto& s = *s_;
        s.riov = ::iovec{s.scratch.get_write(), s.scratch.size()};
        s.rmsg = ::msghdr{};
        s.rmsg.msg_name = &s.rname;
        s.rmsg.msg_namelen = sizeof(s.rname);
        s.rmsg.msg_iov = &s.riov;
        s.rmsg.msg_iovlen = 1;
        auto f = s.fd.recvmsg(&s.rmsg, 0);
        if (f.available()) {
            return received(s, std::move(f));
        }
        // The kernel does not end a datagram receive on shutdown(SHUT_RD): the waiter
        // lets shutdown_input() end it.
        s.receiver.emplace();
        auto result = s.receiver->get_future();
        (void)std::move(f).then_wrapped([s = s_](future<std::size_t> r) noexcept {
            if (s->receiver) {
                auto pr = std::move(*s->receiver);
                s->receiver.reset();
                received(*s, std::move(r)).forward_to(std::move(pr));
            } else {
                r.ignore_ready_future();
            }
        });
        return result;
    }

    future<> send(const socket_address& to, std::vector<temporary_buffer<char>> fragments) override {
        return send_one(s_, to, std::move(fragments));
    }

    void shutdown_input() override {
        s_->input_shut = true;
        if (s_->receiver) {
            auto pr = std::move(*s_->receiver);
            s_->receiver.reset();
            pr.set_exception(input_shut_error());
        }
    }
    void shutdown_output() override { s_->output_shut = true; }

    void close() override {
        if (!s_->closed) {
            s_->closed = true;
            s_->fd.close();
        }
    }
    bool is_closed() const noexcept override { return s_->closed; }
    socket_address local_address() const override { return s_->local; }

private:
    // The datagram of a completed recvmsg.
    static future<datagram> received(udp_state& s, future<std::size_t> r) {
        if (r.failed()) {
            return make_exception_future<datagram>(r.get_exception());
        }
        std::size_t n = r.get();
        datagram d;
        d.data = temporary_buffer<char>(s.scratch.get(), std::min(n, s.scratch.size()));
        d.source = socket_address::from_sockaddr(reinterpret_cast<const ::sockaddr*>(&s.rname), s.rmsg.msg_namelen);
        d.truncated = (s.rmsg.msg_flags & MSG_TRUNC) != 0;
        return make_ready_future<datagram>(std::move(d));
    }

    // A coroutine of its own (not a member), so that it keeps the state alive however
    // long it waits for its turn.
    static future<> send_one(udp_ref s, socket_address to, std::vector<temporary_buffer<char>> fragments) {
        co_await s->send_lock.wait();
        struct unlock {
            udp_ref& s;
            ~unlock() { s->send_lock.signal(); }
        } release{s};
        if (s->closed) {
            co_await coroutine::exception(closed_error());
        }
        if (s->output_shut) {
            co_await coroutine::exception(make_error(EPIPE, fmt::format("send to {}: output was shut down", to)));
        }
        std::vector<::iovec> iov;
        iov.reserve(fragments.size());
        for (auto& f : fragments) {
            iov.push_back(::iovec{f.get_write(), f.size()});
        }
        ::msghdr msg{};
        msg.msg_name = const_cast<::sockaddr*>(to.sockaddr());
        msg.msg_namelen = to.length();
        msg.msg_iov = iov.data();
        msg.msg_iovlen = iov.size();
        auto f = co_await coroutine::as_future(s->fd.sendmsg(&msg, 0));
        if (f.failed()) {
            auto e = f.get_exception();
            int code = error_code_of(e);
            co_await coroutine::exception(code ? make_error(code, fmt::format("send to {}", to)) : e);
        }
        f.ignore_ready_future();
    }

    udp_ref s_;
};

}  // namespace

udp_channel make_udp_channel(const socket_address& local, const udp_options& opts) {
    if (!local.is_inet() && !local.is_unix()) {
        throw_error(EAFNOSUPPORT, fmt::format("make_udp_channel on {}", local));
    }
    raw_fd fd = open_socket(local.family(), SOCK_DGRAM);
    if (opts.reuse_address) {
        set_int_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    }
    set_buffer_sizes(fd.get(), opts.send_buffer_size, opts.receive_buffer_size);
    bind_to(fd.get(), local);
    socket_address bound = local_address_of(fd.get());
    udp_ref s(new udp_state(pollable_fd::from_nonblocking(fd.release()), bound,
                            std::max<std::size_t>(opts.max_datagram_size, 1)));
    return udp_channel(std::make_unique<posix_udp_channel>(s));
}

}  // namespace reef::net::posix
