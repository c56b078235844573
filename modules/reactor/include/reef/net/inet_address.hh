// inet_address: an IPv4 or IPv6 address (with the scope id of a link-local IPv6
// address), parsed from and formatted to text without allocating.
//   auto a = reef::net::inet_address::parse("fe80::1%2");   // std::optional
//   fmt::print("{}\n", *a);                                  // fe80::1%2
#pragma once

#include <netinet/in.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/core.h>

namespace reef::net {

/// An IP address of either family. A value type: copyable, comparable, hashable. The
/// default value is the IPv4 wildcard 0.0.0.0. An IPv4 address and its IPv4-mapped
/// IPv6 form (::ffff:a.b.c.d) are different values.
class inet_address {
public:
    /// The address family, with the values of AF_INET and AF_INET6.
    enum class family : std::uint8_t { inet = AF_INET, inet6 = AF_INET6 };

    /// The longest text format() writes: an IPv6 address with a 10-digit scope id.
    static constexpr std::size_t max_text_size = INET6_ADDRSTRLEN + 11;

    /// 0.0.0.0.
    inet_address() noexcept = default;
    /// An IPv4 address.
    explicit inet_address(const ::in_addr& a) noexcept;
    /// An IPv6 address; `scope_id` is the interface index of a link-local address (0:
    /// none).
    explicit inet_address(const ::in6_addr& a, std::uint32_t scope_id = 0) noexcept;

    /// An IPv4 address from a number in host byte order (0x7f000001 is 127.0.0.1).
    static inet_address from_ipv4(std::uint32_t host_order) noexcept;
    /// 0.0.0.0 / 127.0.0.1 / :: / ::1.
    static inet_address any_ipv4() noexcept { return inet_address(); }
    static inet_address loopback_ipv4() noexcept { return from_ipv4(0x7f000001); }
    static inet_address any_ipv6() noexcept;
    static inet_address loopback_ipv6() noexcept;

    /// Parses a dotted IPv4 address ("10.0.0.1") or an IPv6 address ("::1",
    /// "2001:db8::1", "::ffff:1.2.3.4"), the latter optionally followed by "%scope":
    /// an interface index ("%2") or name ("%lo", looked up with if_nametoindex). No
    /// brackets, no port, no names to resolve. nullopt for anything else. Never
    /// throws; does not allocate.
    static std::optional<inet_address> parse(std::string_view text) noexcept;

    /// Which family this address belongs to.
    family get_family() const noexcept { return family_; }
    bool is_ipv4() const noexcept { return family_ == family::inet; }
    bool is_ipv6() const noexcept { return family_ == family::inet6; }
    /// The address as the kernel stores it (for an IPv6 address: its low 4 bytes,
    /// meaningful only for an IPv4-mapped one).
    ::in_addr as_ipv4() const noexcept;
    /// The address in IPv6 form: itself, or the IPv4-mapped form of an IPv4 address.
    ::in6_addr as_ipv6() const noexcept;
    /// The scope id (interface index) of an IPv6 address; 0 for IPv4.
    std::uint32_t scope_id() const noexcept { return scope_; }
    /// 16 bytes for IPv6, 4 for IPv4, in network order.
    const std::uint8_t* data() const noexcept { return bytes_.data(); }
    std::size_t size() const noexcept { return is_ipv4() ? 4 : 16; }

    /// 127.0.0.0/8 or ::1.
    bool is_loopback() const noexcept;
    /// 0.0.0.0 or ::.
    bool is_unspecified() const noexcept;

    /// Writes the text form ("127.0.0.1", "fe80::1%2") to `out`, which has room for
    /// max_text_size characters; returns its length. No NUL is written.
    std::size_t format(char* out) const noexcept;
    /// The text form, as a string.
    std::string to_string() const;

    friend bool operator==(const inet_address&, const inet_address&) noexcept = default;

    /// A hash of the family, the bytes and the scope id.
    std::size_t hash() const noexcept;

private:
    std::array<std::uint8_t, 16> bytes_{};  // IPv4: the first 4 bytes, the rest zero
    std::uint32_t scope_ = 0;
    family family_ = family::inet;
};

/// Writes the text form of `a`.
std::ostream& operator<<(std::ostream& os, const inet_address& a);

}  // namespace reef::net

template <>
struct std::hash<reef::net::inet_address> {
    std::size_t operator()(const reef::net::inet_address& a) const noexcept { return a.hash(); }
};

/// `{}` formats the text form; the string-view format specs (width, fill, alignment)
/// apply to it.
template <>
struct fmt::formatter<reef::net::inet_address> : fmt::formatter<fmt::string_view> {
    fmt::format_context::iterator format(const reef::net::inet_address& a, fmt::format_context& ctx) const;
};
