// network_stack_registry: a process-wide table of stack factories under a mutex, and a
// per-thread instance of the default stack, remade when the default changes (noticed by
// a generation number, so current() takes no lock on its fast path).
#include <reef/net/stack.hh>

#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>

namespace reef::net {

namespace {

struct registry {
    std::mutex mutex;
    std::map<std::string, network_stack_registry::factory, std::less<>> factories;  // guarded by mutex
    std::string default_name;                                                        // guarded by mutex
    std::atomic<unsigned> generation{1};  // bumped whenever the default changes
};

registry& reg() {
    static registry r;
    return r;
}

struct shard_instance {
    unsigned generation = 0;
    std::unique_ptr<network_stack> stack;
};
thread_local shard_instance tl_instance;

}  // namespace

void network_stack_registry::add(std::string name, factory f, bool make_default) {
    auto& r = reg();
    std::lock_guard lock(r.mutex);
    bool is_default = make_default || r.default_name.empty() || r.default_name == name;
    if (is_default) {
        r.default_name = name;
        r.generation.fetch_add(1, std::memory_order_release);
    }
    r.factories.insert_or_assign(std::move(name), std::move(f));
}

bool network_stack_registry::contains(std::string_view name) {
    auto& r = reg();
    std::lock_guard lock(r.mutex);
    return r.factories.find(name) != r.factories.end();
}

std::vector<std::string> network_stack_registry::names() {
    auto& r = reg();
    std::lock_guard lock(r.mutex);
    std::vector<std::string> out;
    for (auto& [name, f] : r.factories) {
        out.push_back(name);
    }
    return out;
}

void network_stack_registry::set_default(std::string_view name) {
    auto& r = reg();
    std::lock_guard lock(r.mutex);
    if (r.factories.find(name) == r.factories.end()) {
        throw std::invalid_argument("network_stack_registry: no network stack called '" + std::string(name) + "'");
    }
    if (r.default_name != name) {
        r.default_name = std::string(name);
        r.generation.fetch_add(1, std::memory_order_release);
    }
}

std::string network_stack_registry::default_name() {
    auto& r = reg();
    std::lock_guard lock(r.mutex);
    return r.default_name;
}

network_stack* network_stack_registry::current() {
    auto& r = reg();
    unsigned gen = r.generation.load(std::memory_order_acquire);
    auto& inst = tl_instance;
    if (inst.generation == gen && inst.stack) [[likely]] {
        return inst.stack.get();
    }
    factory f;
    {
        std::lock_guard lock(r.mutex);
        auto it = r.factories.find(r.default_name);
        if (it == r.factories.end()) {
            return nullptr;
        }
        f = it->second;
        gen = r.generation.load(std::memory_order_relaxed);
    }
    // Made outside the lock: a factory may register or look up stacks itself.
    inst.stack = f();
    inst.generation = gen;
    return inst.stack.get();
}

}  // namespace reef::net
