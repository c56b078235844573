// The process-wide table of scheduling groups: names and shares. Shards read the shares
// when they decide which group runs next.
#include <reef/reactor/scheduling_group.hh>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>

#include "reactor_impl.hh"

namespace reef {

namespace {

struct group_slot {
    std::string name;
    std::atomic<float> shares{0};
    bool used = false;
};

std::mutex table_mutex;  // guards names and `used`; not on any hot path
group_slot table[max_scheduling_groups];

struct table_init {
    table_init() {
        table[0].name = "main";
        table[0].shares.store(1000);
        table[0].used = true;
    }
} init_once;

void check_shares(float shares) {
    if (!(shares >= 1 && shares <= 1000)) {
        throw std::invalid_argument("scheduling group shares must be within 1..1000, got " + std::to_string(shares));
    }
}

}  // namespace

future<scheduling_group> create_scheduling_group(std::string_view name, float shares) {
    try {
        check_shares(shares);
        std::lock_guard lock(table_mutex);
        for (unsigned i = 1; i < max_scheduling_groups; ++i) {
            if (!table[i].used) {
                table[i].used = true;
                table[i].name = std::string(name);
                table[i].shares.store(shares);
                return make_ready_future<scheduling_group>(scheduling_group(i));
            }
        }
        throw std::runtime_error("cannot create scheduling group '" + std::string(name) + "': all " +
                                 std::to_string(max_scheduling_groups) + " groups are in use");
    } catch (...) {
        return make_exception_future<scheduling_group>(std::current_exception());
    }
}

future<> destroy_scheduling_group(scheduling_group sg) {
    if (sg.is_main()) {
        return make_exception_future<>(std::invalid_argument("the main scheduling group cannot be destroyed"));
    }
    std::lock_guard lock(table_mutex);
    table[sg.id()].used = false;
    table[sg.id()].name.clear();
    return make_ready_future<>();
}

void set_scheduling_group_shares(scheduling_group sg, float shares) {
    check_shares(shares);
    table[sg.id()].shares.store(shares, std::memory_order_relaxed);
}

std::string scheduling_group_name(scheduling_group sg) {
    std::lock_guard lock(table_mutex);
    return table[sg.id()].name;
}

float scheduling_group_shares(scheduling_group sg) noexcept {
    return table[sg.id()].shares.load(std::memory_order_relaxed);
}

namespace detail {
float group_shares(unsigned id) noexcept {
    return table[id].shares.load(std::memory_order_relaxed);
}
}  // namespace detail

}  // namespace reef
