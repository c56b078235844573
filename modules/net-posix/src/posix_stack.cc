// posix_network_stack, its registration, and the free functions on the default stack.
#include <reef/net/default_stack.hh>
#include <reef/net/posix_stack.hh>

#include <mutex>

#include "posix_stack_impl.hh"

namespace reef::net {

namespace {

class posix_network_stack final : public network_stack {
public:
    std::string_view name() const noexcept override { return posix_stack_name; }

    server_socket listen(const socket_address& addr, const listen_options& opts) override {
        return posix::listen(addr, opts);
    }

    future<connected_socket> connect(const socket_address& remote, const socket_address& local,
                                     const connect_options& opts) override {
        return posix::connect(remote, local, opts);
    }

    udp_channel make_udp_channel(const socket_address& local, const udp_options& opts) override {
        return posix::make_udp_channel(local, opts);
    }
};

}  // namespace

std::unique_ptr<network_stack> make_posix_stack() {
    return std::make_unique<posix_network_stack>();
}

void register_posix_stack() {
    static std::once_flag once;
    std::call_once(once, [] { network_stack_registry::add(std::string(posix_stack_name), &make_posix_stack); });
}

network_stack& default_stack() {
    if (auto* s = network_stack_registry::current()) [[likely]] {
        return *s;
    }
    register_posix_stack();
    return *network_stack_registry::current();
}

server_socket listen(const socket_address& addr, const listen_options& opts) {
    return default_stack().listen(addr, opts);
}

future<connected_socket> connect(const socket_address& remote, const socket_address& local, const connect_options& opts) {
    return default_stack().connect(remote, local, opts);
}

udp_channel make_udp_channel(const socket_address& local, const udp_options& opts) {
    return default_stack().make_udp_channel(local, opts);
}

udp_channel make_udp_channel() {
    return make_udp_channel(socket_address(inet_address::any_ipv4(), 0));
}

}  // namespace reef::net
