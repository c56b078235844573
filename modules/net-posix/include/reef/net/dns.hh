// DNS on c-ares, driven by this shard's reactor: names to addresses (A and AAAA),
// addresses to names (PTR) and SRV records, honouring /etc/hosts and a server list.
//   auto addrs = co_await reef::net::dns::resolve_name("example.com");
//   reef::net::dns::resolver r({.servers = {*reef::net::socket_address::parse("127.0.0.1:53")}});
//   auto srv = co_await r.get_srv_records("http", "tcp", "example.com"); co_await r.close();
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include <reef/core/future.hh>
#include <reef/net/inet_address.hh>
#include <reef/net/socket_address.hh>

namespace reef::net::dns {

namespace detail {
struct default_resolver_slot;
}

/// Which addresses a name lookup asks for: both families (A and AAAA), IPv4 only (A)
/// or IPv6 only (AAAA).
enum class family : std::uint8_t { any, inet, inet6 };

/// Where host lookups (names and addresses, not SRV) look, and in which order.
enum class lookup_order : std::uint8_t {
    hosts_then_dns,  ///< the hosts file, then the servers (the default)
    dns_then_hosts,  ///< the servers, then the hosts file
    dns_only,        ///< the servers only
    hosts_only,      ///< the hosts file only: no query leaves the process
};

/// How queries travel: UDP (retried over TCP when an answer is truncated), or always TCP.
enum class transport : std::uint8_t { udp, tcp };

/// How a resolver is set up. Everything left at its default comes from the system's
/// resolver configuration (/etc/resolv.conf, or `resolv_conf`).
struct options {
    /// The servers to ask, in order, with their ports (IPv4 or IPv6; c-ares 1.18 drops
    /// the scope id of a link-local IPv6 server). Empty: the nameservers of resolv.conf.
    std::vector<socket_address> servers;
    /// How long a server has to answer the first try of a query; c-ares doubles it for
    /// every later round over the servers. Default: resolv.conf's, or 5 s.
    std::optional<std::chrono::milliseconds> timeout;
    /// How many times each server is tried before a query fails with timeout_error (or
    /// connection refused). Default: resolv.conf's, or 4.
    std::optional<unsigned> attempts;
    /// The domains appended to names with fewer dots than resolv.conf's ndots (1). An
    /// empty list turns searching off. Default: resolv.conf's search/domain lines.
    std::optional<std::vector<std::string>> search_domains;
    /// Hosts file and servers, in which order. The hosts file is /etc/hosts: c-ares 1.18
    /// has no per-resolver path for it (see the module's README).
    lookup_order lookups = lookup_order::hosts_then_dns;
    /// UDP (with TCP for truncated answers) or TCP only.
    transport protocol = transport::udp;
    /// The resolv.conf to read instead of /etc/resolv.conf (empty: the system's).
    std::string resolv_conf;
};

/// What a host lookup found. names[0] is the canonical name, the others its aliases;
/// the addresses are in the order to try them (RFC 6724 order for name lookups), without
/// duplicates.
struct host_entry {
    std::vector<std::string> names;
    std::vector<inet_address> addresses;
};

/// One SRV record (RFC 2782).
struct srv_record {
    std::uint16_t priority = 0;
    std::uint16_t weight = 0;
    std::uint16_t port = 0;
    /// The host serving it, without the trailing dot.
    std::string target;
};

/// The reasons a lookup fails: c-ares's status codes, with their values.
enum class errc : int {
    no_data = 1,              ///< the name exists but has no record of the type asked for
    format_error = 2,         ///< the server could not read the query
    server_failure = 3,       ///< the server failed (SERVFAIL)
    not_found = 4,            ///< no such name (NXDOMAIN), or not in the hosts file
    not_implemented = 5,      ///< the server does not do this kind of query
    refused = 6,              ///< the server refused the query
    bad_query = 7,            ///< the query was malformed
    bad_name = 8,             ///< the name is not a valid domain name
    bad_family = 9,           ///< an unsupported address family
    bad_response = 10,        ///< the answer could not be read
    connection_refused = 11,  ///< no server could be reached
    timed_out = 12,           ///< no server answered in time
    end_of_file = 13,         ///< a server closed the connection
    file_error = 14,          ///< a configuration file could not be read
    no_memory = 15,           ///< out of memory
    destruction = 16,         ///< the resolver was destroyed with the query in flight
    bad_string = 17,          ///< a malformed string
    bad_flags = 18,           ///< illegal flags
    no_name = 19,             ///< the name is neither numeric nor a valid host name
    bad_hints = 20,           ///< illegal hints
    not_initialized = 21,     ///< c-ares was not initialized
    cancelled = 24,           ///< the resolver was closed with the query in flight
};

/// The category of dns::errc codes ("dns"); message() is c-ares's description.
const std::error_category& dns_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), dns_category()};
}

/// A failed lookup: code() holds the errc (in dns_category()), what() names the query
/// ("resolving 'x.test': Domain name not found"), name() is the name or address asked for.
class error : public std::system_error {
public:
    error(errc code, std::string name, const std::string& what);
    /// The name (or the address, for a reverse lookup) the failed query asked about.
    const std::string& name() const noexcept { return *name_; }

private:
    std::shared_ptr<const std::string> name_;  // shared: exceptions are copied
};

/// No server answered within the configured timeouts and attempts (errc::timed_out).
class timeout_error : public error {
public:
    using error::error;
};

/// The resolver was closed or destroyed while the query was in flight, or before it was
/// asked (errc::cancelled or errc::destruction).
class cancelled_error : public error {
public:
    using error::error;
};

/// A DNS resolver of one shard: every call, and its destruction, on the shard that made
/// it. Lookups run concurrently; none blocks the shard on the network (the hosts file and,
/// at construction, resolv.conf are small reads of local files, as in c-ares). Lookups
/// fail with dns::error (timeout_error, cancelled_error for their cases). Move-only; a
/// moved-from resolver may only be destroyed or assigned to.
class resolver {
public:
    /// A resolver set up by `opts`. Reads resolv.conf (unless every setting is given).
    /// Throws dns::error (errc::file_error, ...) or std::invalid_argument for a server
    /// that is not an IP address. Needs a running reactor on this thread.
    explicit resolver(const options& opts = {});
    resolver(resolver&&) noexcept;
    resolver& operator=(resolver&&) noexcept;
    /// Fails lookups still in flight with cancelled_error, closes the sockets.
    ~resolver();

    /// The addresses of `name` (a host name or a numeric address), of the family asked
    /// for, in the order to try them. Fails with errc::not_found / errc::no_data when there
    /// are none.
    future<std::vector<inet_address>> resolve_name(std::string name, family f = family::any);
    /// The canonical name, aliases and addresses of `name`.
    future<host_entry> get_host_by_name(std::string name, family f = family::any);
    /// The names of `addr` (a PTR lookup, or the hosts file); addresses holds `addr`.
    future<host_entry> get_host_by_addr(const inet_address& addr);
    /// The SRV records of `_service._proto.domain` ("http", "tcp", "example.com"; a
    /// leading underscore may be given), in the order the server sent them.
    future<std::vector<srv_record>> get_srv_records(std::string_view service, std::string_view proto,
                                                    std::string_view domain);

    /// Fails the lookups in flight with cancelled_error, closes the sockets, and resolves
    /// once nothing of the resolver runs any more. Later lookups fail with
    /// cancelled_error. Idempotent.
    future<> close();

    class impl;

private:
    friend struct detail::default_resolver_slot;
    std::shared_ptr<impl> impl_;
};

/// This shard's default resolver: made with default options (resolv.conf's servers,
/// /etc/hosts first) on the shard's first use. It holds no socket and no timer while no
/// lookup is in flight; lookups still in flight when the shards stop are abandoned.
resolver& default_resolver();

/// resolver::resolve_name() on this shard's default resolver.
future<std::vector<inet_address>> resolve_name(std::string name, family f = family::any);
/// resolver::get_host_by_name() on this shard's default resolver.
future<host_entry> get_host_by_name(std::string name, family f = family::any);
/// resolver::get_host_by_addr() on this shard's default resolver.
future<host_entry> get_host_by_addr(const inet_address& addr);
/// resolver::get_srv_records() on this shard's default resolver.
future<std::vector<srv_record>> get_srv_records(std::string_view service, std::string_view proto,
                                                std::string_view domain);

}  // namespace reef::net::dns

template <>
struct std::is_error_code_enum<reef::net::dns::errc> : std::true_type {};
