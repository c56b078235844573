// The out-of-line part of sharded<>: its exceptions and the report of a sharded<>
// destroyed while started.
#include <reef/reactor/sharded.hh>

#include <cassert>
#include <cstdio>

namespace reef::detail {

void report_sharded_not_stopped(const char* service_name) noexcept {
    std::fprintf(stderr,
                 "reef: sharded<%s> destroyed without stop(); its instances are leaked (call and await "
                 "stop() before destroying it)\n",
                 service_name);
    assert(!"sharded<> destroyed without stop()");
}

std::exception_ptr make_no_sharded_instance(const char* what) noexcept {
    return std::make_exception_ptr(no_sharded_instance_exception(what));
}

std::exception_ptr make_sharded_stopping(const char* what) noexcept {
    return std::make_exception_ptr(sharded_stopping_exception(what));
}

std::exception_ptr make_sharded_misuse(const char* what) noexcept {
    return std::make_exception_ptr(std::logic_error(what));
}

}  // namespace reef::detail
