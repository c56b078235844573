// inet_address: parsing with inet_pton, formatting with inet_ntop, both on stack buffers.
#include <reef/net/inet_address.hh>

#include <arpa/inet.h>
#include <net/if.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "hash_bytes.hh"
#include "text_output.hh"

namespace reef::net {

inet_address::inet_address(const ::in_addr& a) noexcept {
    std::memcpy(bytes_.data(), &a, 4);
}

inet_address::inet_address(const ::in6_addr& a, std::uint32_t scope_id) noexcept
    : scope_(scope_id), family_(family::inet6) {
    std::memcpy(bytes_.data(), &a, 16);
}

inet_address inet_address::from_ipv4(std::uint32_t host_order) noexcept {
    ::in_addr a{};
    a.s_addr = htonl(host_order);
    return inet_address(a);
}

inet_address inet_address::any_ipv6() noexcept {
    return inet_address(::in6addr_any);
}

inet_address inet_address::loopback_ipv6() noexcept {
    return inet_address(::in6addr_loopback);
}

namespace {

// An interface index ("2") or name ("lo"); nullopt when neither.
std::optional<std::uint32_t> parse_scope(std::string_view s) noexcept {
    if (s.empty()) {
        return std::nullopt;
    }
    std::uint32_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && end == s.data() + s.size()) {
        return v;
    }
    if (s.size() >= IF_NAMESIZE) {
        return std::nullopt;
    }
    char name[IF_NAMESIZE] = {};
    std::memcpy(name, s.data(), s.size());
    unsigned idx = ::if_nametoindex(name);
    if (idx == 0) {
        return std::nullopt;
    }
    return idx;
}

}  // namespace

std::optional<inet_address> inet_address::parse(std::string_view text) noexcept {
    std::string_view addr = text;
    std::string_view scope;
    bool has_scope = false;
    if (auto pct = text.find('%'); pct != std::string_view::npos) {
        addr = text.substr(0, pct);
        scope = text.substr(pct + 1);
        has_scope = true;
    }
    char buf[INET6_ADDRSTRLEN] = {};
    if (addr.empty() || addr.size() >= sizeof(buf)) {
        return std::nullopt;
    }
    std::memcpy(buf, addr.data(), addr.size());
    if (addr.find(':') == std::string_view::npos) {
        ::in_addr a{};
        if (has_scope || ::inet_pton(AF_INET, buf, &a) != 1) {
            return std::nullopt;
        }
        return inet_address(a);
    }
    ::in6_addr a{};
    if (::inet_pton(AF_INET6, buf, &a) != 1) {
        return std::nullopt;
    }
    std::uint32_t scope_id = 0;
    if (has_scope) {
        auto s = parse_scope(scope);
        if (!s) {
            return std::nullopt;
        }
        scope_id = *s;
    }
    return inet_address(a, scope_id);
}

::in_addr inet_address::as_ipv4() const noexcept {
    ::in_addr a{};
    std::memcpy(&a, is_ipv4() ? bytes_.data() : bytes_.data() + 12, 4);
    return a;
}

::in6_addr inet_address::as_ipv6() const noexcept {
    ::in6_addr a{};
    if (is_ipv6()) {
        std::memcpy(&a, bytes_.data(), 16);
    } else {
        a.s6_addr[10] = 0xff;
        a.s6_addr[11] = 0xff;
        std::memcpy(&a.s6_addr[12], bytes_.data(), 4);
    }
    return a;
}

bool inet_address::is_loopback() const noexcept {
    if (is_ipv4()) {
        return bytes_[0] == 127;
    }
    return std::memcmp(bytes_.data(), &::in6addr_loopback, 16) == 0;
}

bool inet_address::is_unspecified() const noexcept {
    return std::all_of(bytes_.begin(), bytes_.begin() + std::ptrdiff_t(size()), [](std::uint8_t b) { return b == 0; });
}

std::size_t inet_address::format(char* out) const noexcept {
    char buf[INET6_ADDRSTRLEN];
    if (!::inet_ntop(int(family_), bytes_.data(), buf, sizeof(buf))) {
        buf[0] = '\0';  // cannot happen for these families and this buffer size
    }
    std::size_t n = std::strlen(buf);
    std::memcpy(out, buf, n);
    if (is_ipv6() && scope_ != 0) {
        out[n++] = '%';
        n = std::size_t(std::to_chars(out + n, out + max_text_size, scope_).ptr - out);
    }
    return n;
}

std::string inet_address::to_string() const {
    return detail::text_of(*this);
}

std::size_t inet_address::hash() const noexcept {
    std::uint64_t h = detail::hash_bytes(bytes_.data(), size(), std::uint64_t(family_));
    return std::size_t(detail::hash_mix(h, scope_));
}

std::ostream& operator<<(std::ostream& os, const inet_address& a) {
    return detail::write_text(os, a);
}

}  // namespace reef::net

fmt::format_context::iterator fmt::formatter<reef::net::inet_address>::format(const reef::net::inet_address& a,
                                                        fmt::format_context& ctx) const {
    return reef::net::detail::format_text(*this, a, ctx);
}
