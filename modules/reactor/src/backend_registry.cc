// Builds backends by name. Which backends exist is decided by Meson (the 'backends'
// option) through the generated backend_list.inc; nothing here names a backend.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <system_error>

#include "backend.hh"

namespace reef::detail {

#define REEF_BACKEND(n) std::unique_ptr<backend> make_##n##_backend(const backend_config&);
#include "backend_list.inc"
#undef REEF_BACKEND

namespace {

struct backend_entry {
    std::string_view name;
    std::unique_ptr<backend> (*make)(const backend_config&);
};

const backend_entry registry[] = {
#define REEF_BACKEND(n) {#n, &make_##n##_backend},
#include "backend_list.inc"
#undef REEF_BACKEND
};

// Preference when none is named: a ring that batches submission and completion first.
constexpr std::string_view preference[] = {"io_uring", "epoll", "aio"};

}  // namespace

const std::vector<std::string_view>& compiled_backends() noexcept {
    static const std::vector<std::string_view> names = [] {
        std::vector<std::string_view> v;
        for (auto p : preference) {
            for (auto& e : registry) {
                if (e.name == p) {
                    v.push_back(e.name);
                }
            }
        }
        return v;
    }();
    return names;
}

std::string default_backend_name() {
    std::string errors;
    for (auto name : compiled_backends()) {
        try {
            make_backend(name, backend_config{});
            return std::string(name);
        } catch (const std::exception& e) {
            errors += std::string(errors.empty() ? "" : "; ") + std::string(name) + ": " + e.what();
        }
    }
    throw std::runtime_error("no reactor backend works on this system (" + errors + ")");
}

std::unique_ptr<backend> make_backend(std::string_view name, const backend_config& cfg) {
    for (auto& e : registry) {
        if (e.name == name) {
            return e.make(cfg);
        }
    }
    std::string list;
    for (auto n : compiled_backends()) {
        list += (list.empty() ? "" : ", ") + std::string(n);
    }
    throw std::invalid_argument("unknown reactor backend '" + std::string(name) + "': this build has " + list);
}

}  // namespace reef::detail
