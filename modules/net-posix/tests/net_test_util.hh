// Helpers shared by the net-posix tests: loopback addresses, a byte pattern to check
// transfers against, stream helpers and an echo service. They report problems by
// throwing (never with Catch2 assertions), so they may run on any shard.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <reef/core/coroutine.hh>
#include <reef/net.hh>

namespace net_test {

using namespace reef;
using namespace reef::net;

inline socket_address loopback_v4(std::uint16_t port = 0) {
    return socket_address(inet_address::loopback_ipv4(), port);
}

inline socket_address loopback_v6(std::uint16_t port = 0) {
    return socket_address(inet_address::loopback_ipv6(), port);
}

/// A TCP port on 127.0.0.1 that nothing listens on (bound, then released).
inline std::uint16_t closed_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto addr = loopback_v4();
    if (::bind(fd, addr.sockaddr(), addr.length()) != 0) {
        ::close(fd);
        throw std::runtime_error("bind");
    }
    ::sockaddr_storage ss{};
    ::socklen_t len = sizeof(ss);
    ::getsockname(fd, reinterpret_cast<::sockaddr*>(&ss), &len);
    ::close(fd);
    return socket_address::from_sockaddr(reinterpret_cast<::sockaddr*>(&ss), len).port();
}

/// A unique name for unix sockets of this process.
inline std::string unique_name(std::string_view what) {
    static unsigned n = 0;
    return fmt::format("reef-net-test-{}-{}-{}", ::getpid(), what, n++);
}

/// Byte `i` of the pattern `seed`: cheap, and different at every offset of a period far
/// longer than any transfer.
inline char pattern_byte(std::uint64_t i, std::uint64_t seed) noexcept {
    std::uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ seed;
    return char(x >> 56 ^ x >> 29 ^ i);
}

inline void fill_pattern(char* p, std::uint64_t offset, std::size_t n, std::uint64_t seed) noexcept {
    for (std::size_t k = 0; k < n; ++k) {
        p[k] = pattern_byte(offset + k, seed);
    }
}

/// Writes `total` bytes of pattern `seed` in writes of varying sizes (small ones batched
/// by the stream, large ones handed over without a copy), then closes the stream.
inline future<> send_pattern(output_stream<char>& out, std::uint64_t total, std::uint64_t seed) {
    std::uint64_t sent = 0;
    std::uint64_t step = 0;
    while (sent < total) {
        // Sizes cycle through 1 byte .. 192 KiB.
        std::size_t n = std::size_t(1) << (step++ % 18);
        n = std::size_t(std::min<std::uint64_t>(total - sent, n + (step % 7) * 113));
        temporary_buffer<char> b(n);
        fill_pattern(b.get_write(), sent, n, seed);
        if (n < 4096) {
            co_await out.write(b.get(), n);
        } else {
            co_await out.write(std::move(b));
        }
        sent += n;
    }
    co_await out.close();
}

/// Reads to the end of the stream, checking every byte against pattern `seed`; returns
/// the count. Throws std::runtime_error at the first wrong byte.
inline future<std::uint64_t> check_pattern(input_stream<char>& in, std::uint64_t seed) {
    std::uint64_t got = 0;
    for (;;) {
        auto b = co_await in.read();
        if (b.empty()) {
            co_return got;
        }
        for (std::size_t k = 0; k < b.size(); ++k) {
            if (b[k] != pattern_byte(got + k, seed)) {
                throw std::runtime_error(fmt::format("byte {} differs", got + k));
            }
        }
        got += b.size();
    }
}

/// Everything the stream has until its end.
inline future<std::string> read_to_end(input_stream<char>& in) {
    std::string s;
    for (;;) {
        auto b = co_await in.read();
        if (b.empty()) {
            co_return s;
        }
        s.append(b.get(), b.size());
    }
}

/// Echoes a connection until the peer's end of stream, then closes its output.
inline future<> echo(connected_socket s) {
    auto in = s.input();
    auto out = s.output();
    for (;;) {
        auto b = co_await in.read();
        if (b.empty()) {
            break;
        }
        co_await out.write(std::move(b));
        co_await out.flush();
    }
    co_await out.close();
}

/// Echoes `server` while `client` sends `message` and closes its output; returns what
/// the client read back until the end of the stream.
inline future<std::string> echo_round_trip(connected_socket& client, connected_socket server, std::string message) {
    auto served = echo(std::move(server));
    auto in = client.input();
    auto out = client.output();
    co_await out.write(message);
    co_await out.close();
    auto back = co_await read_to_end(in);
    co_await std::move(served);
    co_return back;
}

/// The errno of a failed future's std::system_error; 0 when it did not fail, -1 when it
/// failed with something else.
template <typename T>
int error_of(future<T>& f) {
    if (!f.failed()) {
        return 0;
    }
    try {
        std::rethrow_exception(f.get_exception());
    } catch (const std::system_error& e) {
        return e.code().value();
    } catch (...) {
        return -1;
    }
}

}  // namespace net_test
