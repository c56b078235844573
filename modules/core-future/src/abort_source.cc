// The out-of-line parts of abort_source: aborting and moving.
#include <reef/core/abort_source.hh>

namespace reef {

abort_source::abort_source(abort_source&& o) noexcept
    : subscribers_(std::move(o.subscribers_)),
      reason_(std::exchange(o.reason_, nullptr)) {}

abort_source& abort_source::operator=(abort_source&& o) noexcept {
    if (this != &o) {
        subscribers_ = std::move(o.subscribers_);
        reason_ = std::exchange(o.reason_, nullptr);
    }
    return *this;
}

abort_source::~abort_source() = default;

void abort_source::request_abort() noexcept {
    request_abort_ex(std::exception_ptr());
}

void abort_source::request_abort_ex(std::exception_ptr ex) noexcept {
    if (reason_) {
        return;
    }
    reason_ = ex ? std::move(ex) : std::make_exception_ptr(abort_requested_exception());
    // Unlink each subscriber before calling it: the callback may destroy its own
    // subscription (or others), and the list must be consistent when it does.
    // Nothing new can subscribe meanwhile, since reason_ is set.
    while (!subscribers_.empty()) {
        subscription& s = subscribers_.pop_front();
        s.ops_->invoke(s.storage_, reason_);
    }
}

}  // namespace reef
