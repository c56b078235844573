// socket_address: where a socket is or connects to: IPv4 or IPv6 address and port, or a
// unix-domain path or abstract name. Parsed from and formatted to text.
//   auto a = reef::net::socket_address::parse("[::1]:8080");   // std::optional
//   auto u = reef::net::socket_address::unix_abstract("reef-test");
//   fmt::print("{} {}\n", *a, u);                              // [::1]:8080 unix:@reef-test
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/core.h>

#include <reef/net/inet_address.hh>

namespace reef::net {

/// A socket address of one of the families AF_INET, AF_INET6, AF_UNIX, or unspecified
/// (AF_UNSPEC: "no address", the default value). A value type holding the sockaddr the
/// kernel takes, so a network stack can pass sockaddr()/length() straight to a system
/// call. Comparison and hashing look at what identifies the address: family, address,
/// port and scope id (IPv6 flow info is ignored), or the unix name.
class socket_address {
public:
    /// The longest text format() writes (a unix name of 107 bytes plus "unix:@").
    static constexpr std::size_t max_text_size = 6 + sizeof(::sockaddr_un::sun_path);
    /// The longest unix path or abstract name, in bytes.
    static constexpr std::size_t max_unix_name = sizeof(::sockaddr_un::sun_path) - 1;

    /// The unspecified address (family AF_UNSPEC).
    socket_address() noexcept;
    /// `addr`:`port` (port in host order). An IPv6 address keeps its scope id.
    socket_address(const inet_address& addr, std::uint16_t port) noexcept;
    explicit socket_address(const ::sockaddr_in& sa) noexcept;
    explicit socket_address(const ::sockaddr_in6& sa) noexcept;
    /// Copies what the kernel returned (accept, getsockname, recvmsg). An unknown family
    /// or a too short length gives the unspecified address; a unix address of no name
    /// (an unbound peer) is an unnamed unix address.
    static socket_address from_sockaddr(const ::sockaddr* sa, ::socklen_t len) noexcept;

    /// A unix-domain address bound to a file system path. Throws std::invalid_argument
    /// for an empty path, one longer than max_unix_name or one containing a NUL byte.
    static socket_address unix_path(std::string_view path);
    /// A unix-domain address in Linux's abstract namespace (no file; the name may hold
    /// any bytes). Throws std::invalid_argument for a name longer than max_unix_name.
    static socket_address unix_abstract(std::string_view name);

    /// Parses the text forms that format() writes:
    ///   "1.2.3.4:80", "[::1]:80", "[fe80::1%2]:80" (or "%eth0"), "unix:/path", "unix:@name".
    /// The port is decimal, 0..65535, required for IP addresses. No names are resolved.
    /// nullopt for anything else. Never throws.
    static std::optional<socket_address> parse(std::string_view text) noexcept;

    /// AF_INET, AF_INET6, AF_UNIX or AF_UNSPEC.
    int family() const noexcept { return u_.sa.sa_family; }
    bool is_unspecified() const noexcept { return family() == AF_UNSPEC; }
    /// An IPv4 or IPv6 address.
    bool is_inet() const noexcept { return family() == AF_INET || family() == AF_INET6; }
    bool is_unix() const noexcept { return family() == AF_UNIX; }
    /// A unix address in the abstract namespace.
    bool is_unix_abstract() const noexcept;

    /// The IP address (with its scope id). 0.0.0.0 for an address that is not inet.
    inet_address address() const noexcept;
    /// The port in host order; 0 for an address that is not inet.
    std::uint16_t port() const noexcept;
    /// The same address with another port (inet only; others are returned unchanged).
    socket_address with_port(std::uint16_t port) const noexcept;
    /// A unix address's path or abstract name (without the leading NUL); empty for an
    /// unnamed one and for other families.
    std::string_view unix_name() const noexcept;

    /// The sockaddr and its length, for system calls.
    const ::sockaddr* sockaddr() const noexcept { return &u_.sa; }
    ::socklen_t length() const noexcept { return len_; }

    /// Writes the text form to `out` (room for max_text_size characters); returns its
    /// length. No NUL is written. IPv4 "a.b.c.d:port", IPv6 "[addr%scope]:port", unix
    /// "unix:/path" or "unix:@abstract" ("unix:" when unnamed), unspecified "unspec".
    std::size_t format(char* out) const noexcept;
    /// The text form, as a string.
    std::string to_string() const;

    friend bool operator==(const socket_address& a, const socket_address& b) noexcept;

    /// A hash consistent with operator==.
    std::size_t hash() const noexcept;

private:
    union storage {
        ::sockaddr sa;
        ::sockaddr_in in;
        ::sockaddr_in6 in6;
        ::sockaddr_un un;
    } u_;
    ::socklen_t len_ = 0;
};

/// Writes the text form of `a`.
std::ostream& operator<<(std::ostream& os, const socket_address& a);

}  // namespace reef::net

template <>
struct std::hash<reef::net::socket_address> {
    std::size_t operator()(const reef::net::socket_address& a) const noexcept { return a.hash(); }
};

/// `{}` formats the text form; the string-view format specs apply to it.
template <>
struct fmt::formatter<reef::net::socket_address> : fmt::formatter<fmt::string_view> {
    fmt::format_context::iterator format(const reef::net::socket_address& a, fmt::format_context& ctx) const;
};
