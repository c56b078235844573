#include <reef/net.hh>

#include <string>
#include <vector>

#include <reef/testing/test_case.hh>

#include "net_test_util.hh"

using namespace net_test;

namespace {

temporary_buffer<char> text(std::string_view s) {
    return temporary_buffer<char>::copy_of(s);
}

// A ping from `a` to `b` and the pong back, checking contents and source addresses.
future<> ping_pong(udp_channel& a, udp_channel& b) {
    co_await a.send(b.local_address(), text("ping"));
    auto d = co_await b.receive();
    REQUIRE(to_string_view(d.data) == "ping");
    REQUIRE(d.source == a.local_address());
    REQUIRE_FALSE(d.truncated);
    co_await b.send(d.source, text("pong"));
    auto r = co_await a.receive();
    REQUIRE(to_string_view(r.data) == "pong");
    REQUIRE(r.source == b.local_address());
}

}  // namespace

REEF_TEST_CASE("UDP over IPv4 loopback: a round trip with the right source addresses") {
    auto a = make_udp_channel(loopback_v4());
    auto b = make_udp_channel(loopback_v4());
    REQUIRE(a.local_address().port() != 0);
    REQUIRE(a.local_address().address() == inet_address::loopback_ipv4());
    co_await ping_pong(a, b);
}

REEF_TEST_CASE("UDP over IPv6 loopback: a round trip with the right source addresses") {
    auto a = make_udp_channel(loopback_v6());
    auto b = make_udp_channel(loopback_v6());
    REQUIRE(a.local_address().family() == AF_INET6);
    co_await ping_pong(a, b);
}

REEF_TEST_CASE("datagrams between unix sockets in the abstract namespace") {
    auto a = make_udp_channel(socket_address::unix_abstract(unique_name("dgram-a")));
    auto b = make_udp_channel(socket_address::unix_abstract(unique_name("dgram-b")));
    co_await ping_pong(a, b);
}

REEF_TEST_CASE("fragments sent together arrive as one datagram") {
    auto a = make_udp_channel(loopback_v4());
    auto b = make_udp_channel(loopback_v4());
    std::vector<temporary_buffer<char>> frags;
    frags.push_back(text("one "));
    frags.push_back(text("two "));
    frags.push_back(text("three"));
    co_await a.send(b.local_address(), std::move(frags));
    auto d = co_await b.receive();
    REQUIRE(to_string_view(d.data) == "one two three");
}

REEF_TEST_CASE("sends made without waiting go out in order, and every datagram arrives") {
    auto a = make_udp_channel(loopback_v4());
    auto b = make_udp_channel(loopback_v4(), udp_options{.receive_buffer_size = 1 << 20});
    constexpr int count = 200;
    std::vector<future<>> sends;
    for (int i = 0; i < count; ++i) {
        sends.push_back(a.send(b.local_address(), text(fmt::format("datagram {}", i))));
    }
    for (auto& f : sends) {
        co_await std::move(f);
    }
    for (int i = 0; i < count; ++i) {
        auto d = co_await b.receive();
        REQUIRE(to_string_view(d.data) == fmt::format("datagram {}", i));
    }
}

REEF_TEST_CASE("a 60000-byte datagram arrives whole; a small max_datagram_size cuts and flags it") {
    auto a = make_udp_channel(loopback_v4());
    auto b = make_udp_channel(loopback_v4());
    temporary_buffer<char> big(60000);
    fill_pattern(big.get_write(), 0, big.size(), 7);
    co_await a.send(b.local_address(), big.share());
    auto d = co_await b.receive();
    bool whole = d.data == big;  // not in the assertion: Catch would print 60000 bytes
    REQUIRE(whole);
    REQUIRE_FALSE(d.truncated);

    auto small = make_udp_channel(loopback_v4(), udp_options{.max_datagram_size = 100});
    co_await a.send(small.local_address(), big.share());
    auto cut = co_await small.receive();
    REQUIRE(cut.truncated);
    REQUIRE(cut.data.size() == 100);
    bool prefix = std::string_view(cut.data.get(), 100) == std::string_view(big.get(), 100);
    REQUIRE(prefix);
}

REEF_TEST_CASE("UDP failures are values: wrong family, oversized datagram") {
    auto v4 = make_udp_channel(loopback_v4());
    auto wrong = co_await coroutine::as_future(v4.send(loopback_v6(9), text("x")));
    REQUIRE(error_of(wrong) == EAFNOSUPPORT);
    auto huge = co_await coroutine::as_future(v4.send(loopback_v4(9), temporary_buffer<char>(70000)));
    REQUIRE(error_of(huge) == EMSGSIZE);
}

REEF_TEST_CASE("close fails a pending receive with ECANCELED and later calls with EBADF") {
    auto a = make_udp_channel(loopback_v4());
    auto pending = a.receive();
    REQUIRE_FALSE(pending.available());
    a.close();
    REQUIRE(a.is_closed());
    auto f = co_await coroutine::as_future(std::move(pending));
    REQUIRE(error_of(f) == ECANCELED);
    auto later = co_await coroutine::as_future(a.receive());
    REQUIRE(error_of(later) == EBADF);
    auto send = co_await coroutine::as_future(a.send(loopback_v4(9), text("x")));
    REQUIRE(error_of(send) == EBADF);
}

REEF_TEST_CASE("shutdown_input ends a pending receive; shutdown_output refuses sends") {
    auto a = make_udp_channel(loopback_v4());
    auto pending = a.receive();
    a.shutdown_input();
    auto f = co_await coroutine::as_future(std::move(pending));
    REQUIRE(error_of(f) == ESHUTDOWN);
    a.shutdown_output();
    auto s = co_await coroutine::as_future(a.send(loopback_v4(9), text("x")));
    REQUIRE(error_of(s) == EPIPE);
}

REEF_TEST_CASE("make_udp_channel() binds the IPv4 wildcard on a free port") {
    auto a = make_udp_channel();
    REQUIRE(a.local_address().address() == inet_address::any_ipv4());
    REQUIRE(a.local_address().port() != 0);
    auto b = make_udp_channel(loopback_v4());
    co_await b.send(loopback_v4(a.local_address().port()), text("to the wildcard"));
    auto d = co_await a.receive();
    REQUIRE(to_string_view(d.data) == "to the wildcard");
}
