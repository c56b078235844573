// socket_address: construction from kernel sockaddrs, the text forms, equality, hashing.
#include <reef/net/socket_address.hh>

#include <arpa/inet.h>

#include <charconv>
#include <cstddef>
#include <cstring>
#include <stdexcept>

#include "hash_bytes.hh"
#include "text_output.hh"

namespace reef::net {

namespace {

constexpr ::socklen_t path_offset = offsetof(::sockaddr_un, sun_path);

// A decimal port 0..65535: digits only, nothing else.
std::optional<std::uint16_t> parse_port(std::string_view s) noexcept {
    if (s.empty() || s.size() > 5) {
        return std::nullopt;
    }
    unsigned v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v > 65535) {
        return std::nullopt;
    }
    return std::uint16_t(v);
}

}  // namespace

socket_address::socket_address() noexcept {
    std::memset(&u_, 0, sizeof(u_));
    u_.sa.sa_family = AF_UNSPEC;
}

socket_address::socket_address(const inet_address& addr, std::uint16_t port) noexcept : socket_address() {
    if (addr.is_ipv4()) {
        u_.in.sin_family = AF_INET;
        u_.in.sin_port = htons(port);
        u_.in.sin_addr = addr.as_ipv4();
        len_ = sizeof(::sockaddr_in);
    } else {
        u_.in6.sin6_family = AF_INET6;
        u_.in6.sin6_port = htons(port);
        u_.in6.sin6_addr = addr.as_ipv6();
        u_.in6.sin6_scope_id = addr.scope_id();
        len_ = sizeof(::sockaddr_in6);
    }
}

socket_address::socket_address(const ::sockaddr_in& sa) noexcept : socket_address() {
    u_.in = sa;
    len_ = sizeof(sa);
}

socket_address::socket_address(const ::sockaddr_in6& sa) noexcept : socket_address() {
    u_.in6 = sa;
    len_ = sizeof(sa);
}

socket_address socket_address::from_sockaddr(const ::sockaddr* sa, ::socklen_t len) noexcept {
    socket_address r;
    if (!sa || len < ::socklen_t(sizeof(sa_family_t))) {
        return r;
    }
    switch (sa->sa_family) {
    case AF_INET:
        if (len >= ::socklen_t(sizeof(::sockaddr_in))) {
            std::memcpy(&r.u_.in, sa, sizeof(::sockaddr_in));
            r.len_ = sizeof(::sockaddr_in);
        }
        break;
    case AF_INET6:
        if (len >= ::socklen_t(sizeof(::sockaddr_in6))) {
            std::memcpy(&r.u_.in6, sa, sizeof(::sockaddr_in6));
            r.len_ = sizeof(::sockaddr_in6);
        }
        break;
    case AF_UNIX: {
        len = std::min<::socklen_t>(len, sizeof(::sockaddr_un));
        std::memcpy(&r.u_.un, sa, len);
        r.len_ = len;
        if (len > path_offset && r.u_.un.sun_path[0] != '\0') {
            // A path: keep exactly the name and its NUL, whatever length the kernel gave.
            std::size_t n = ::strnlen(r.u_.un.sun_path, std::min<std::size_t>(len - path_offset, max_unix_name));
            r.u_.un.sun_path[n] = '\0';
            r.len_ = ::socklen_t(path_offset + n + 1);
        }
        break;
    }
    default:
        break;
    }
    return r;
}

socket_address socket_address::unix_path(std::string_view path) {
    if (path.empty() || path.size() > max_unix_name || path.find('\0') != std::string_view::npos) {
        throw std::invalid_argument("socket_address::unix_path: the path must have 1 to 107 bytes and no NUL");
    }
    socket_address r;
    r.u_.un.sun_family = AF_UNIX;
    std::memcpy(r.u_.un.sun_path, path.data(), path.size());
    r.len_ = ::socklen_t(path_offset + path.size() + 1);
    return r;
}

socket_address socket_address::unix_abstract(std::string_view name) {
    if (name.size() > max_unix_name) {
        throw std::invalid_argument("socket_address::unix_abstract: the name may have at most 107 bytes");
    }
    socket_address r;
    r.u_.un.sun_family = AF_UNIX;
    if (!name.empty()) {
        std::memcpy(r.u_.un.sun_path + 1, name.data(), name.size());
    }
    r.len_ = ::socklen_t(path_offset + 1 + name.size());
    return r;
}

std::optional<socket_address> socket_address::parse(std::string_view text) noexcept {
    constexpr std::string_view unix_prefix = "unix:";
    if (text.starts_with(unix_prefix)) {
        std::string_view name = text.substr(unix_prefix.size());
        if (name.starts_with('@')) {
            name.remove_prefix(1);
            if (name.size() > max_unix_name) {
                return std::nullopt;
            }
            return unix_abstract(name);
        }
        if (name.empty() || name.size() > max_unix_name || name.find('\0') != std::string_view::npos) {
            return std::nullopt;
        }
        return unix_path(name);
    }
    std::string_view host;
    std::string_view port;
    if (text.starts_with('[')) {
        auto close = text.find("]:");
        if (close == std::string_view::npos) {
            return std::nullopt;
        }
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            return std::nullopt;
        }
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) {
            return std::nullopt;  // an IPv6 address needs brackets
        }
    }
    auto addr = inet_address::parse(host);
    auto p = parse_port(port);
    if (!addr || !p || (text.starts_with('[') != addr->is_ipv6())) {
        return std::nullopt;
    }
    return socket_address(*addr, *p);
}

bool socket_address::is_unix_abstract() const noexcept {
    return is_unix() && len_ > path_offset && u_.un.sun_path[0] == '\0';
}

inet_address socket_address::address() const noexcept {
    switch (family()) {
    case AF_INET: return inet_address(u_.in.sin_addr);
    case AF_INET6: return inet_address(u_.in6.sin6_addr, u_.in6.sin6_scope_id);
    default: return inet_address();
    }
}

std::uint16_t socket_address::port() const noexcept {
    switch (family()) {
    case AF_INET: return ntohs(u_.in.sin_port);
    case AF_INET6: return ntohs(u_.in6.sin6_port);
    default: return 0;
    }
}

socket_address socket_address::with_port(std::uint16_t port) const noexcept {
    socket_address r = *this;
    if (family() == AF_INET) {
        r.u_.in.sin_port = htons(port);
    } else if (family() == AF_INET6) {
        r.u_.in6.sin6_port = htons(port);
    }
    return r;
}

std::string_view socket_address::unix_name() const noexcept {
    if (!is_unix() || len_ <= path_offset) {
        return {};
    }
    std::size_t n = len_ - path_offset;
    if (u_.un.sun_path[0] == '\0') {
        return {u_.un.sun_path + 1, n - 1};
    }
    return {u_.un.sun_path, ::strnlen(u_.un.sun_path, n)};
}

std::size_t socket_address::format(char* out) const noexcept {
    char* p = out;
    auto put = [&p](std::string_view s) {
        if (!s.empty()) {  // an empty view may hold a null pointer, which memcpy must not get
            std::memcpy(p, s.data(), s.size());
            p += s.size();
        }
    };
    auto put_port = [&p, this] {
        *p++ = ':';
        p = std::to_chars(p, p + 5, port()).ptr;
    };
    switch (family()) {
    case AF_INET:
        p += address().format(p);
        put_port();
        break;
    case AF_INET6:
        *p++ = '[';
        p += address().format(p);
        *p++ = ']';
        put_port();
        break;
    case AF_UNIX:
        put("unix:");
        if (is_unix_abstract()) {
            *p++ = '@';
        }
        put(unix_name());
        break;
    default:
        put("unspec");
        break;
    }
    return std::size_t(p - out);
}

std::string socket_address::to_string() const {
    return detail::text_of(*this);
}

bool operator==(const socket_address& a, const socket_address& b) noexcept {
    if (a.family() != b.family()) {
        return false;
    }
    switch (a.family()) {
    case AF_INET:
    case AF_INET6:
        return a.port() == b.port() && a.address() == b.address();
    case AF_UNIX:
        return a.is_unix_abstract() == b.is_unix_abstract() && a.unix_name() == b.unix_name();
    default:
        return true;
    }
}

std::size_t socket_address::hash() const noexcept {
    std::uint64_t h = std::uint64_t(family());
    if (is_inet()) {
        h = detail::hash_mix(address().hash(), port());
    } else if (is_unix()) {
        auto name = unix_name();
        h = detail::hash_bytes(name.data(), name.size(), is_unix_abstract() ? 1 : 2);
    }
    return std::size_t(h);
}

std::ostream& operator<<(std::ostream& os, const socket_address& a) {
    return detail::write_text(os, a);
}

}  // namespace reef::net

fmt::format_context::iterator fmt::formatter<reef::net::socket_address>::format(const reef::net::socket_address& a,
                                                        fmt::format_context& ctx) const {
    return reef::net::detail::format_text(*this, a, ctx);
}
