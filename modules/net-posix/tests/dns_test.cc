#include <reef/net/dns.hh>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <reef/core/coroutine.hh>
#include <reef/reactor/sleep.hh>
#include <reef/reactor/smp.hh>
#include <reef/testing/test_case.hh>

extern char** environ;

using namespace reef;
using namespace reef::net;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A port on 127.0.0.1 that is free for both UDP and TCP right now.
std::uint16_t free_port() {
    for (int tries = 0; tries < 20; ++tries) {
        int u = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        socket_address any(inet_address::loopback_ipv4(), 0);
        ::bind(u, any.sockaddr(), any.length());
        ::sockaddr_storage ss{};
        ::socklen_t len = sizeof(ss);
        ::getsockname(u, reinterpret_cast<::sockaddr*>(&ss), &len);
        auto port = socket_address::from_sockaddr(reinterpret_cast<::sockaddr*>(&ss), len).port();
        int t = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        auto same = any.with_port(port);
        bool tcp_free = ::bind(t, same.sockaddr(), same.length()) == 0;
        ::close(t);
        ::close(u);
        if (tcp_free) {
            return port;
        }
    }
    throw std::runtime_error("no free port on 127.0.0.1");
}

// A dnsmasq started by the test on 127.0.0.1 and a free port, answering only from its
// own hosts file and records (no upstream, no /etc/hosts, NXDOMAIN for unknown names
// under .test). Killed and reaped by stop() or the destructor, whatever the outcome.
class dnsmasq {
public:
    /// Starts dnsmasq with `hosts` as its hosts file and `records` as extra options
    /// ("--srv-host=...", "--ptr-record=...", "--cname=..."); resolves once it answers.
    static future<dnsmasq> start(std::string hosts, std::vector<std::string> records = {}) {
        dnsmasq d;
        char dir_template[] = "/tmp/reef-dns-test-XXXXXX";
        if (!::mkdtemp(dir_template)) {
            throw std::runtime_error("mkdtemp failed");
        }
        d.dir_ = dir_template;
        std::ofstream(d.dir_ / "hosts") << hosts;
        for (int attempt = 0; attempt < 5; ++attempt) {
            d.port_ = free_port();
            d.spawn(records);
            if (co_await d.wait_ready()) {
                co_return d;
            }
            d.stop();
        }
        throw std::runtime_error("dnsmasq did not start: " + d.log());
    }

    dnsmasq(dnsmasq&& o) noexcept : dir_(std::move(o.dir_)), pid_(std::exchange(o.pid_, -1)), port_(o.port_) {
        o.dir_.clear();
    }
    dnsmasq& operator=(dnsmasq&&) = delete;
    ~dnsmasq() {
        stop();
        if (!dir_.empty()) {
            std::error_code ec;
            fs::remove_all(dir_, ec);
        }
    }

    socket_address address() const { return socket_address(inet_address::loopback_ipv4(), port_); }

    /// Kills dnsmasq and waits for it. Idempotent.
    void stop() noexcept {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            int status = 0;
            while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
            }
            pid_ = -1;
        }
    }

    /// What dnsmasq wrote (for failure messages).
    std::string log() const {
        std::stringstream s;
        for (const char* f : {"stderr", "log"}) {
            std::ifstream in(dir_ / f);
            if (in) {
                s << in.rdbuf();
            }
        }
        return s.str();
    }

private:
    dnsmasq() = default;

    void spawn(const std::vector<std::string>& records) {
        std::vector<std::string> args = {
            "dnsmasq",
            "--no-daemon",
            "--conf-file=/dev/null",
            "--pid-file=",
            "--no-resolv",
            "--no-hosts",
            "--addn-hosts=" + (dir_ / "hosts").string(),
            "--local=/test/",
            "--bogus-priv",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            fmt::format("--port={}", port_),
            "--user=root",
            "--group=root",
            "--log-facility=" + (dir_ / "log").string(),
        };
        args.insert(args.end(), records.begin(), records.end());
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        auto err = (dir_ / "stderr").string();
        posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const char* program = std::getenv("REEF_DNSMASQ");
        int rc = ::posix_spawnp(&pid_, program ? program : "dnsmasq", &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) {
            pid_ = -1;
            throw std::system_error(rc, std::system_category(), "posix_spawnp(dnsmasq)");
        }
    }

    // True once dnsmasq accepts TCP connections on its port; false if it exited.
    future<bool> wait_ready() {
        auto addr = address();
        for (int i = 0; i < 500; ++i) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                co_return false;
            }
            int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            bool up = ::connect(fd, addr.sockaddr(), addr.length()) == 0;  // loopback: never waits
            ::close(fd);
            if (up) {
                co_return true;
            }
            co_await sleep(10ms);
        }
        co_return false;
    }

    fs::path dir_;
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
};

const char* test_hosts =
    "10.1.2.3 alpha.test al1\n"
    "fd00::5 alpha.test\n"
    "10.9.9.9 beta.test\n";

std::vector<std::string> test_records() {
    return {
        "--srv-host=_http._tcp.svc.test,alpha.test,8080,10,60",
        "--srv-host=_http._tcp.svc.test,beta.test,8081,20,5",
        "--ptr-record=5.4.3.10.in-addr.arpa,ptr.test",
        "--cname=www.test,alpha.test",
    };
}

// Options that ask `server` only: no hosts file, no search domains.
dns::options server_options(const socket_address& server, std::chrono::milliseconds timeout = 2000ms,
                            unsigned attempts = 2) {
    dns::options o;
    o.servers = {server};
    o.timeout = timeout;
    o.attempts = attempts;
    o.search_domains = std::vector<std::string>{};
    o.lookups = dns::lookup_order::dns_only;
    return o;
}

dns::options options_for(const dnsmasq& d) {
    return server_options(d.address());
}

inet_address ip(const char* text) {
    return *inet_address::parse(text);
}

// The failure of `f` as a dns::error's code, rethrowing anything else.
template <typename T>
dns::errc error_of(future<T>& f) {
    REQUIRE(f.failed());
    try {
        std::rethrow_exception(f.get_exception());
    } catch (const dns::error& e) {
        return dns::errc(e.code().value());
    }
}

// A server on 127.0.0.1 that takes queries and never answers: a bound UDP socket that
// is never read, and on the same port a TCP socket whose connections are never accepted.
struct silent_server {
    silent_server() {
        for (int tries = 0; tries < 20 && tcp < 0; ++tries) {
            address = socket_address(inet_address::loopback_ipv4(), free_port());
            udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            tcp = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (::bind(udp, address.sockaddr(), address.length()) != 0 ||
                ::bind(tcp, address.sockaddr(), address.length()) != 0 || ::listen(tcp, 64) != 0) {
                ::close(udp);
                ::close(tcp);
                udp = tcp = -1;
            }
        }
        if (tcp < 0) {
            throw std::runtime_error("silent_server: no port");
        }
    }
    silent_server(const silent_server&) = delete;
    ~silent_server() {
        ::close(udp);
        ::close(tcp);
    }
    int udp = -1;
    int tcp = -1;
    socket_address address;
};

// Resolves `count` names of the hosts file made by many_hosts() at once on this shard.
future<int> resolve_many(socket_address server, int count) {
    dns::resolver r(server_options(server, 2000ms, 3));
    std::vector<future<std::vector<inet_address>>> lookups;
    for (int i = 0; i < count; ++i) {
        lookups.push_back(r.resolve_name(fmt::format("host{}.test", i % 50), dns::family::inet));
    }
    int right = 0;
    for (int i = 0; i < count; ++i) {
        auto addrs = co_await std::move(lookups[i]);
        if (addrs.size() == 1 && addrs[0] == inet_address::from_ipv4(0x0a000000u + std::uint32_t(i % 50))) {
            ++right;
        }
    }
    co_await r.close();
    co_return right;
}

// How many descriptors this process has open.
std::size_t open_descriptors() {
    auto it = fs::directory_iterator("/proc/self/fd");
    return std::size_t(std::distance(fs::begin(it), fs::end(it)));
}

std::string many_hosts() {
    std::string h;
    for (int i = 0; i < 50; ++i) {
        h += fmt::format("10.0.0.{} host{}.test\n", i, i);
    }
    return h;
}

}  // namespace

REEF_TEST_CASE("names resolve to their A and AAAA records through dnsmasq") {
    auto server = co_await dnsmasq::start(test_hosts, test_records());
    dns::resolver r(options_for(server));

    auto v4 = co_await r.resolve_name("alpha.test", dns::family::inet);
    REQUIRE(v4 == std::vector<inet_address>{ip("10.1.2.3")});
    auto v6 = co_await r.resolve_name("alpha.test", dns::family::inet6);
    REQUIRE(v6 == std::vector<inet_address>{ip("fd00::5")});
    auto both = co_await r.resolve_name("alpha.test");
    REQUIRE(both.size() == 2);
    REQUIRE(std::count(both.begin(), both.end(), ip("10.1.2.3")) == 1);
    REQUIRE(std::count(both.begin(), both.end(), ip("fd00::5")) == 1);
    co_await r.close();
}

REEF_TEST_CASE("get_host_by_name gives the canonical name, the aliases and the addresses") {
    auto server = co_await dnsmasq::start(test_hosts, test_records());
    dns::resolver r(options_for(server));

    auto direct = co_await r.get_host_by_name("beta.test", dns::family::inet);
    REQUIRE(direct.names == std::vector<std::string>{"beta.test"});
    REQUIRE(direct.addresses == std::vector<inet_address>{ip("10.9.9.9")});

    // www.test is a CNAME of alpha.test.
    auto aliased = co_await r.get_host_by_name("www.test", dns::family::inet);
    REQUIRE(aliased.names.size() == 2);
    REQUIRE(aliased.names[0] == "alpha.test");
    REQUIRE(aliased.names[1] == "www.test");
    REQUIRE(aliased.addresses == std::vector<inet_address>{ip("10.1.2.3")});
    co_await r.close();
}

REEF_TEST_CASE("an address resolves to its name with a PTR query") {
    auto server = co_await dnsmasq::start(test_hosts, test_records());
    dns::resolver r(options_for(server));

    auto from_hosts = co_await r.get_host_by_addr(ip("10.1.2.3"));
    REQUIRE(from_hosts.names.at(0) == "alpha.test");
    REQUIRE(from_hosts.addresses == std::vector<inet_address>{ip("10.1.2.3")});
    auto v6 = co_await r.get_host_by_addr(ip("fd00::5"));
    REQUIRE(v6.names.at(0) == "alpha.test");
    auto record = co_await r.get_host_by_addr(ip("10.3.4.5"));
    REQUIRE(record.names.at(0) == "ptr.test");
    co_await r.close();
}

REEF_TEST_CASE("SRV records come back with their priority, weight, port and target") {
    auto server = co_await dnsmasq::start(test_hosts, test_records());
    dns::resolver r(options_for(server));

    auto srv = co_await r.get_srv_records("http", "tcp", "svc.test");
    REQUIRE(srv.size() == 2);
    std::sort(srv.begin(), srv.end(), [](const auto& a, const auto& b) { return a.priority < b.priority; });
    REQUIRE(srv[0].priority == 10);
    REQUIRE(srv[0].weight == 60);
    REQUIRE(srv[0].port == 8080);
    REQUIRE(srv[0].target == "alpha.test");
    REQUIRE(srv[1].priority == 20);
    REQUIRE(srv[1].weight == 5);
    REQUIRE(srv[1].port == 8081);
    REQUIRE(srv[1].target == "beta.test");
    // The underscores may be given too.
    auto again = co_await r.get_srv_records("_http", "_tcp", "svc.test");
    REQUIRE(again.size() == 2);
    co_await r.close();
}

REEF_TEST_CASE("an unknown name fails with not_found, naming the name") {
    auto server = co_await dnsmasq::start(test_hosts, test_records());
    dns::resolver r(options_for(server));

    auto f = co_await coroutine::as_future(r.resolve_name("nope.test"));
    REQUIRE(f.failed());
    try {
        std::rethrow_exception(f.get_exception());
    } catch (const dns::error& e) {
        REQUIRE(e.code() == dns::errc::not_found);
        REQUIRE(e.code().category().name() == std::string("dns"));
        REQUIRE(e.name() == "nope.test");
        REQUIRE(std::string(e.what()).find("nope.test") != std::string::npos);
    }
    auto reverse = co_await coroutine::as_future(r.get_host_by_addr(ip("10.200.0.1")));
    REQUIRE(error_of(reverse) == dns::errc::not_found);
    auto srv = co_await coroutine::as_future(r.get_srv_records("ldap", "tcp", "svc.test"));
    REQUIRE(error_of(srv) == dns::errc::not_found);
    co_await r.close();
}

REEF_TEST_CASE("lookups over TCP reach the same answers") {
    auto server = co_await dnsmasq::start(test_hosts, test_records());
    auto o = options_for(server);
    o.protocol = dns::transport::tcp;
    dns::resolver r(o);

    auto v4 = co_await r.resolve_name("alpha.test", dns::family::inet);
    REQUIRE(v4 == std::vector<inet_address>{ip("10.1.2.3")});
    auto srv = co_await r.get_srv_records("http", "tcp", "svc.test");
    REQUIRE(srv.size() == 2);
    auto missing = co_await coroutine::as_future(r.resolve_name("nope.test", dns::family::inet));
    REQUIRE(error_of(missing) == dns::errc::not_found);
    co_await r.close();
}

REEF_TEST_CASE("a server that never answers fails the lookup with timeout_error in the configured time") {
    silent_server silent;
    dns::resolver r(server_options(silent.address, 200ms, 1));

    auto start = steady_clock_type::now();
    auto f = co_await coroutine::as_future(r.resolve_name("slow.test", dns::family::inet));
    auto took = steady_clock_type::now() - start;
    REQUIRE(f.failed());
    try {
        std::rethrow_exception(f.get_exception());
    } catch (const dns::timeout_error& e) {
        REQUIRE(e.code() == dns::errc::timed_out);
        REQUIRE(e.name() == "slow.test");
    }
    REQUIRE(took >= 150ms);
    REQUIRE(took < 2s);
    co_await r.close();
}

REEF_TEST_CASE("a server port where nothing listens fails the lookup with connection_refused") {
    dns::resolver r(server_options(socket_address(inet_address::loopback_ipv4(), free_port()), 500ms, 1));
    auto f = co_await coroutine::as_future(r.resolve_name("alpha.test", dns::family::inet));
    REQUIRE(error_of(f) == dns::errc::connection_refused);
    co_await r.close();
}

REEF_TEST_CASE("no socket stays open once the lookups are done") {
    auto server = co_await dnsmasq::start(test_hosts, test_records());
    dns::resolver r(options_for(server));
    auto before = open_descriptors();
    co_await r.resolve_name("alpha.test");
    co_await r.get_srv_records("http", "tcp", "svc.test");
    co_await sleep(10ms);  // the watchers see their sockets close
    REQUIRE(open_descriptors() == before);
    co_await r.close();
}

REEF_TEST_CASE("many concurrent lookups on two shards all get their answers") {
    auto server = co_await dnsmasq::start(many_hosts());
    auto addr = server.address();
    constexpr int per_shard = 300;
    auto other = smp::submit_to(1, [addr] { return resolve_many(addr, per_shard); });
    auto here = co_await resolve_many(addr, per_shard);
    REQUIRE(here == per_shard);
    REQUIRE(co_await std::move(other) == per_shard);
}

REEF_TEST_CASE("localhost resolves from /etc/hosts without any server") {
    dns::options o;
    o.lookups = dns::lookup_order::hosts_only;
    o.resolv_conf = "/dev/null";
    dns::resolver r(o);
    auto addrs = co_await r.resolve_name("localhost", dns::family::inet);
    REQUIRE(std::find(addrs.begin(), addrs.end(), inet_address::loopback_ipv4()) != addrs.end());
    auto names = co_await r.get_host_by_addr(inet_address::loopback_ipv4());
    REQUIRE(!names.names.empty());
    co_await r.close();

    // The default resolver of each shard reads /etc/hosts first too.
    auto here = co_await dns::resolve_name("localhost", dns::family::inet);
    REQUIRE(std::find(here.begin(), here.end(), inet_address::loopback_ipv4()) != here.end());
    auto there = co_await smp::submit_to(1, [] { return dns::resolve_name("localhost", dns::family::inet); });
    REQUIRE(std::find(there.begin(), there.end(), inet_address::loopback_ipv4()) != there.end());
}

REEF_TEST_CASE("numeric names resolve without a query") {
    dns::resolver r(server_options(socket_address(inet_address::loopback_ipv4(), free_port())));
    REQUIRE(co_await r.resolve_name("192.0.2.7") == std::vector<inet_address>{ip("192.0.2.7")});
    REQUIRE(co_await r.resolve_name("2001:db8::7") == std::vector<inet_address>{ip("2001:db8::7")});
    co_await r.close();
}

REEF_TEST_CASE("closing the resolver fails a lookup in flight with cancelled_error") {
    silent_server silent;
    dns::resolver r(server_options(silent.address, 5000ms, 1));

    auto start = steady_clock_type::now();
    auto pending = r.resolve_name("slow.test");
    auto srv = r.get_srv_records("http", "tcp", "slow.test");
    co_await sleep(20ms);  // the queries are out
    REQUIRE_FALSE(pending.available());
    co_await r.close();
    auto f = co_await coroutine::as_future(std::move(pending));
    REQUIRE(f.failed());
    try {
        std::rethrow_exception(f.get_exception());
    } catch (const dns::cancelled_error& e) {
        REQUIRE(e.name() == "slow.test");
    }
    auto s = co_await coroutine::as_future(std::move(srv));
    REQUIRE((error_of(s) == dns::errc::cancelled || error_of(s) == dns::errc::destruction));
    REQUIRE(steady_clock_type::now() - start < 2s);

    // After close(), lookups fail at once; close() again does nothing.
    auto late = co_await coroutine::as_future(r.resolve_name("alpha.test"));
    REQUIRE(error_of(late) == dns::errc::cancelled);
    co_await r.close();
}

REEF_TEST_CASE("destroying a resolver with lookups in flight fails them with cancelled_error") {
    silent_server silent;
    auto o = server_options(silent.address, 5000ms);
    o.protocol = dns::transport::tcp;  // connected (by the kernel), never answered
    std::vector<future<std::vector<inet_address>>> pending;
    {
        dns::resolver r(o);
        for (int i = 0; i < 10; ++i) {
            pending.push_back(r.resolve_name(fmt::format("n{}.test", i)));
        }
        co_await sleep(10ms);
    }
    for (auto& p : pending) {
        auto f = co_await coroutine::as_future(std::move(p));
        REQUIRE(f.failed());
        try {
            std::rethrow_exception(f.get_exception());
        } catch (const dns::cancelled_error&) {
        }
    }
}

REEF_TEST_CASE("a server that is not an IP address is refused") {
    dns::options o;
    o.servers = {socket_address::unix_abstract("dns")};
    REQUIRE_THROWS_AS(dns::resolver(o), std::invalid_argument);
    co_return;
}
