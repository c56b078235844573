#include <reef/net/socket_address.hh>

#include <arpa/inet.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_set>

#include <catch2/catch.hpp>
#include <fmt/format.h>

using reef::net::inet_address;
using reef::net::socket_address;

namespace {

std::string round_trip(std::string_view text) {
    auto a = socket_address::parse(text);
    REQUIRE(a.has_value());
    return a->to_string();
}

}  // namespace

TEST_CASE("IPv4 and IPv6 addresses parse and format back to the same text") {
    CHECK(inet_address::parse("127.0.0.1")->to_string() == "127.0.0.1");
    CHECK(inet_address::parse("::1")->to_string() == "::1");
    CHECK(inet_address::parse("2001:db8::42")->to_string() == "2001:db8::42");
    CHECK(inet_address::parse("::ffff:1.2.3.4")->to_string() == "::ffff:1.2.3.4");
    CHECK(inet_address::parse("fe80::1%2")->to_string() == "fe80::1%2");
    CHECK(inet_address::parse("fe80::1%2")->scope_id() == 2);
}

TEST_CASE("an IPv6 scope may be an interface name") {
    auto a = inet_address::parse("fe80::1%lo");
    REQUIRE(a);
    CHECK(a->scope_id() != 0);
    CHECK_FALSE(inet_address::parse("fe80::1%no-such-interface0"));
}

TEST_CASE("malformed IP addresses are refused as values, not exceptions") {
    for (auto bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4%1", "::1::2", "fe80::1%", "abc", " 1.2.3.4",
                     "1.2.3.4 ", "01.2.3.4x", "[::1]", "12345::1"}) {
        INFO(bad);
        CHECK_FALSE(inet_address::parse(bad));
    }
}

TEST_CASE("inet_address knows its family, loopback and wildcard") {
    auto v4 = inet_address::loopback_ipv4();
    CHECK(v4.is_ipv4());
    CHECK(v4.is_loopback());
    CHECK(v4 == inet_address::from_ipv4(0x7f000001));
    CHECK(inet_address::any_ipv4().is_unspecified());
    CHECK(inet_address::loopback_ipv6().is_loopback());
    CHECK(inet_address::any_ipv6().is_unspecified());
    CHECK(inet_address::any_ipv4() != inet_address::any_ipv6());
    auto mapped = v4.as_ipv6();
    char text[INET6_ADDRSTRLEN];
    ::inet_ntop(AF_INET6, &mapped, text, sizeof(text));
    CHECK(std::string(text) == "::ffff:127.0.0.1");
}

TEST_CASE("socket addresses parse and format in every family") {
    CHECK(round_trip("127.0.0.1:80") == "127.0.0.1:80");
    CHECK(round_trip("0.0.0.0:0") == "0.0.0.0:0");
    CHECK(round_trip("[::1]:65535") == "[::1]:65535");
    CHECK(round_trip("[fe80::1%3]:8080") == "[fe80::1%3]:8080");
    CHECK(round_trip("unix:/tmp/reef.sock") == "unix:/tmp/reef.sock");
    CHECK(round_trip("unix:@reef-abstract") == "unix:@reef-abstract");
    CHECK(socket_address().to_string() == "unspec");
}

TEST_CASE("socket address parse errors are values") {
    for (auto bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+80",
                     "127.0.0.1:80x", "::1:80", "[::1]80", "[::1]:", "[127.0.0.1]:80", "localhost:80", "unix:",
                     "[::1]:123456"}) {
        INFO(bad);
        CHECK_FALSE(socket_address::parse(bad));
    }
    std::string long_path = "unix:/" + std::string(200, 'x');
    CHECK_FALSE(socket_address::parse(long_path));
}

TEST_CASE("unix addresses: paths, abstract names, and their limits") {
    auto p = socket_address::unix_path("/run/x.sock");
    CHECK(p.is_unix());
    CHECK_FALSE(p.is_unix_abstract());
    CHECK(p.unix_name() == "/run/x.sock");
    auto a = socket_address::unix_abstract("name");
    CHECK(a.is_unix_abstract());
    CHECK(a.unix_name() == "name");
    CHECK(a != socket_address::unix_path("name"));
    CHECK_THROWS_AS(socket_address::unix_path(""), std::invalid_argument);
    CHECK_THROWS_AS(socket_address::unix_path(std::string(108, 'x')), std::invalid_argument);
    CHECK_THROWS_AS(socket_address::unix_path(std::string("a\0b", 3)), std::invalid_argument);
    CHECK_NOTHROW(socket_address::unix_path(std::string(107, 'x')));
    CHECK_THROWS_AS(socket_address::unix_abstract(std::string(108, 'x')), std::invalid_argument);
}

TEST_CASE("addresses from the kernel compare equal to the ones built by hand") {
    ::sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(4242);
    sin.sin_addr.s_addr = htonl(0x7f000001);
    auto a = socket_address::from_sockaddr(reinterpret_cast<::sockaddr*>(&sin), sizeof(sin));
    CHECK(a == *socket_address::parse("127.0.0.1:4242"));
    CHECK(a.port() == 4242);
    CHECK(a.address() == inet_address::loopback_ipv4());
    CHECK(a.with_port(1).port() == 1);

    // A path as getsockname returns it: the length may cover bytes past the NUL.
    ::sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::strcpy(sun.sun_path, "/tmp/k");
    auto u = socket_address::from_sockaddr(reinterpret_cast<::sockaddr*>(&sun), sizeof(sun));
    CHECK(u == socket_address::unix_path("/tmp/k"));
    CHECK(u.length() == socket_address::unix_path("/tmp/k").length());

    // An unbound peer: only the family.
    auto unnamed = socket_address::from_sockaddr(reinterpret_cast<::sockaddr*>(&sun), sizeof(sa_family_t));
    CHECK(unnamed.is_unix());
    CHECK(unnamed.unix_name().empty());
    CHECK(unnamed.to_string() == "unix:");

    CHECK(socket_address::from_sockaddr(reinterpret_cast<::sockaddr*>(&sin), 3).is_unspecified());
}

TEST_CASE("equal addresses hash alike; different ones land in different buckets") {
    std::unordered_set<socket_address> set;
    set.insert(*socket_address::parse("127.0.0.1:1"));
    set.insert(*socket_address::parse("127.0.0.1:1"));
    set.insert(*socket_address::parse("127.0.0.1:2"));
    set.insert(*socket_address::parse("[::1]:1"));
    set.insert(*socket_address::parse("[fe80::1%1]:1"));
    set.insert(*socket_address::parse("[fe80::1%2]:1"));
    set.insert(socket_address::unix_path("x"));
    set.insert(socket_address::unix_abstract("x"));
    set.insert(socket_address());
    CHECK(set.size() == 8);
    CHECK(std::hash<inet_address>()(*inet_address::parse("::1")) == std::hash<inet_address>()(inet_address::loopback_ipv6()));
}

TEST_CASE("addresses print through fmt and ostreams") {
    auto a = *socket_address::parse("[::1]:9");
    CHECK(fmt::format("{}", a) == "[::1]:9");
    CHECK(fmt::format("<{:>10}>", *socket_address::parse("1.2.3.4:5")) == "< 1.2.3.4:5>");
    CHECK(fmt::format("{}", inet_address::loopback_ipv4()) == "127.0.0.1");
    std::ostringstream os;
    os << a << ' ' << a.address();
    CHECK(os.str() == "[::1]:9 ::1");
}
