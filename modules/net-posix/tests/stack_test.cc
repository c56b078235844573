#include <reef/net.hh>

#include <atomic>
#include <stdexcept>

#include <reef/reactor/smp.hh>
#include <reef/testing/test_case.hh>

#include "net_test_util.hh"

using namespace net_test;

namespace {

std::atomic<int> listens{0};
std::atomic<int> connects{0};

// A stack that counts calls and passes them to the kernel-socket stack.
class counting_stack final : public network_stack {
public:
    std::string_view name() const noexcept override { return "counting"; }
    server_socket listen(const socket_address& addr, const listen_options& opts) override {
        listens.fetch_add(1);
        return inner_->listen(addr, opts);
    }
    future<connected_socket> connect(const socket_address& remote, const socket_address& local,
                                     const connect_options& opts) override {
        connects.fetch_add(1);
        return inner_->connect(remote, local, opts);
    }
    udp_channel make_udp_channel(const socket_address& local, const udp_options& opts) override {
        return inner_->make_udp_channel(local, opts);
    }

private:
    std::unique_ptr<network_stack> inner_ = make_posix_stack();
};

}  // namespace

REEF_TEST_CASE("the kernel-socket stack is the default, registered as posix on first use") {
    REQUIRE(default_stack().name() == "posix");
    REQUIRE(network_stack_registry::contains("posix"));
    REQUIRE(network_stack_registry::default_name() == "posix");
    co_return;
}

REEF_TEST_CASE("another registered stack can replace the default, and the free functions follow it") {
    register_posix_stack();
    network_stack_registry::add("counting", [] { return std::make_unique<counting_stack>(); });
    REQUIRE(network_stack_registry::default_name() == "posix");  // not asked to be the default
    network_stack_registry::set_default("counting");
    REQUIRE(default_stack().name() == "counting");
    REQUIRE(network_stack_registry::names() == std::vector<std::string>{"counting", "posix"});

    auto ss = listen(loopback_v4(), listen_options{.balancing = load_balancing::this_shard});
    auto accepted = ss.accept();
    auto c = co_await connect(ss.local_address());
    co_await std::move(accepted);
    REQUIRE(listens.load() == 1);
    REQUIRE(connects.load() == 1);
    // Every shard uses its own instance of the new default.
    auto other = co_await smp::submit_to(1, [] { return std::string(default_stack().name()); });
    REQUIRE(other == "counting");

    network_stack_registry::set_default("posix");
    REQUIRE(default_stack().name() == "posix");
    REQUIRE_THROWS_AS(network_stack_registry::set_default("no-such-stack"), std::invalid_argument);
}
