// Reporting of failed futures that nobody looked at.
#include <reef/core/exceptions.hh>

#include <cstdio>
#include <typeinfo>

namespace reef {

namespace {

void default_abandoned_failure_handler(const std::exception_ptr& e) noexcept {
    const char* what = "unknown exception";
    const char* type = "?";
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        what = ex.what();
        type = typeid(ex).name();
    } catch (...) {
    }
    std::fprintf(stderr, "reef: a failed future was destroyed without being looked at: %s (%s)\n", what,
                 type);
}

constinit thread_local abandoned_failure_handler tl_handler = nullptr;
constinit thread_local std::uint64_t tl_abandoned = 0;

}  // namespace

abandoned_failure_handler set_abandoned_failure_handler(abandoned_failure_handler h) noexcept {
    auto prev = tl_handler;
    tl_handler = h;
    return prev ? prev : &default_abandoned_failure_handler;
}

std::uint64_t abandoned_failures() noexcept {
    return tl_abandoned;
}

namespace detail {

void report_abandoned_failure(const std::exception_ptr& e) noexcept {
    ++tl_abandoned;
    (tl_handler ? tl_handler : &default_abandoned_failure_handler)(e);
}

std::exception_ptr make_broken_promise() noexcept {
    // Built once per thread: a broken promise is common at shutdown and the
    // exception object is immutable, so sharing it is safe.
    static thread_local const std::exception_ptr ep = std::make_exception_ptr(broken_promise());
    return ep;
}

}  // namespace detail

}  // namespace reef
