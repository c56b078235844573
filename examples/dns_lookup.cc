// dns_lookup: looks names up with reef::net::dns, a small host(1). Every name on the
// command line is looked up at once; the answers are printed in command-line order.
// Without --server it uses /etc/hosts and the servers of /etc/resolv.conf; with
// --server it asks those servers only. Exits with 1 if any lookup failed.
//   build/examples/dns_lookup localhost
//   build/examples/dns_lookup --server 127.0.0.1:53 --type AAAA example.com
//   build/examples/dns_lookup --server 127.0.0.1:53 --type PTR 192.0.2.1
//   build/examples/dns_lookup --server 127.0.0.1:53 --type SRV _http._tcp.example.com
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/core.h>

#include <reef/core/coroutine.hh>
#include <reef/net.hh>
#include <reef/reactor.hh>

using namespace reef;
namespace dns = reef::net::dns;

namespace {

// The options of this program that take a value (the others are flags).
const std::vector<std::string_view> value_options = {"server", "type", "timeout-ms", "attempts"};

// app_template takes options only, so the names to look up are split off first: every
// argument that is neither an option nor the value of one (and all after "--").
std::vector<std::string> split_names(int argc, char** argv, std::vector<const char*>& rest) {
    auto reactor = reactor_options();
    auto logging = logging_options();
    auto takes_value = [&](std::string_view opt) {
        for (auto v : value_options) {
            if (opt == v) {
                return true;
            }
        }
        for (const auto* g : {&reactor, &logging}) {
            if (const auto* d = g->find(opt)) {
                return d->spec.type() != value_spec::kind::flag;
            }
        }
        return false;  // --help, --version, or unknown: app_template will judge
    };
    std::vector<std::string> names;
    rest.push_back(argv[0]);
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--") {
            names.insert(names.end(), argv + i + 1, argv + argc);
            break;
        }
        if (a.starts_with("--")) {
            rest.push_back(argv[i]);
            if (a.find('=') == std::string_view::npos && takes_value(a.substr(2)) && i + 1 < argc) {
                rest.push_back(argv[++i]);
            }
        } else {
            names.emplace_back(a);
        }
    }
    return names;
}

// "10.0.0.1:53", "[::1]:53", or an address alone (port 53).
std::optional<net::socket_address> parse_server(const std::string& text) {
    if (auto a = net::socket_address::parse(text)) {
        return a;
    }
    if (auto ip = net::inet_address::parse(text)) {
        return net::socket_address(*ip, 53);
    }
    return std::nullopt;
}

// One lookup of the kind --type asks for, its answer as lines of text.
future<std::vector<std::string>> look_up(dns::resolver& r, std::string type, std::string name) {
    std::vector<std::string> lines;
    if (type == "PTR") {
        auto ip = net::inet_address::parse(name);
        if (!ip) {
            throw std::invalid_argument(fmt::format("{}: not an IP address (--type PTR)", name));
        }
        auto host = co_await r.get_host_by_addr(*ip);
        for (const auto& n : host.names) {
            lines.push_back(fmt::format("{} has name {}", name, n));
        }
    } else if (type == "SRV") {
        // _service._proto.domain
        auto first = name.find('.');
        auto second = first == std::string::npos ? first : name.find('.', first + 1);
        if (!name.starts_with('_') || second == std::string::npos) {
            throw std::invalid_argument(fmt::format("{}: not _service._proto.domain (--type SRV)", name));
        }
        auto records = co_await r.get_srv_records(
            name.substr(0, first), name.substr(first + 1, second - first - 1), name.substr(second + 1));
        for (const auto& s : records) {
            lines.push_back(
                fmt::format("{} has SRV record {} {} {} {}", name, s.priority, s.weight, s.port, s.target));
        }
    } else {
        auto f = type == "A" ? dns::family::inet : type == "AAAA" ? dns::family::inet6 : dns::family::any;
        auto host = co_await r.get_host_by_name(name, f);
        if (!host.names.empty() && host.names[0] != name) {
            lines.push_back(fmt::format("{} is an alias for {}", name, host.names[0]));
        }
        for (const auto& a : host.addresses) {
            lines.push_back(fmt::format("{} has {} address {}", name, a.is_ipv4() ? "IPv4" : "IPv6", a));
        }
    }
    co_return lines;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<const char*> args;
    auto names = split_names(argc, argv, args);

    app_template app({.name = "dns_lookup",
                      .description = "dns_lookup [options] name...: looks names up with reef::net::dns"});
    app.add_options()("server", value<std::vector<std::string>>(),
                      "a server to ask (address or address:port; repeatable); default: /etc/resolv.conf's")(
        "type", value<std::string>("ADDR").choices({"ADDR", "A", "AAAA", "PTR", "SRV"}),
        "what to look up: ADDR (A and AAAA), A, AAAA, PTR (of an address), SRV (of _service._proto.domain)")(
        "timeout-ms", value<unsigned>(2000u), "how long a server has for the first try of a query")(
        "attempts", value<unsigned>(2u), "tries per server")("tcp", "query over TCP instead of UDP");

    return app.run(int(args.size()), args.data(), [&]() -> future<int> {
        const auto& cfg = app.configuration();
        if (names.empty()) {
            fmt::print(stderr, "dns_lookup: no name to look up (see --help)\n");
            co_return 2;
        }
        dns::options opts;
        if (cfg.contains("server")) {
            for (const auto& s : cfg["server"].as<std::vector<std::string>>()) {
                auto addr = parse_server(s);
                if (!addr) {
                    fmt::print(stderr, "dns_lookup: --server {}: not an address or address:port\n", s);
                    co_return 2;
                }
                opts.servers.push_back(*addr);
            }
            opts.lookups = dns::lookup_order::dns_only;
        }
        opts.timeout = std::chrono::milliseconds(cfg["timeout-ms"].as<unsigned>());
        opts.attempts = cfg["attempts"].as<unsigned>();
        if (cfg["tcp"].as<bool>()) {
            opts.protocol = dns::transport::tcp;
        }
        dns::resolver r(opts);
        const auto& type = cfg["type"].as<std::string>();

        std::vector<future<std::vector<std::string>>> lookups;
        for (const auto& n : names) {
            lookups.push_back(look_up(r, type, n));
        }
        int failed = 0;
        for (std::size_t i = 0; i < names.size(); ++i) {
            auto f = co_await coroutine::as_future(std::move(lookups[i]));
            if (f.failed()) {
                ++failed;
                try {
                    std::rethrow_exception(f.get_exception());
                } catch (const std::exception& e) {
                    fmt::print(stderr, "dns_lookup: {}\n", e.what());
                }
                continue;
            }
            for (const auto& line : f.get()) {
                fmt::print("{}\n", line);
            }
        }
        co_await r.close();
        co_return failed ? 1 : 0;
    });
}
