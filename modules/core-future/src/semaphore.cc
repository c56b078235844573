// The out-of-line parts of semaphore: waking, cancelling and failing waiters, and the
// checked operations of semaphore_units.
#include <reef/core/semaphore.hh>

#include <stdexcept>

namespace reef {

semaphore::~semaphore() {
    if (!waiters_.empty()) {
        fail_all(std::make_exception_ptr(broken_semaphore()));
    }
}

void semaphore::wake() noexcept {
    while (!waiters_.empty()) {
        semaphore_waiter& w = waiters_.front();
        if (!w.wanted()) {
            waiters_.pop_front();  // its future is gone: granting would leak the units
            --nr_waiters_;
            delete &w;
            continue;
        }
        if (count_ < 0 || static_cast<std::size_t>(count_) < w.units_) {
            break;  // FIFO: the head blocks everyone behind it
        }
        count_ -= static_cast<std::ptrdiff_t>(w.units_);
        waiters_.pop_front();
        --nr_waiters_;
        // Resolving a promise only schedules the waiting task: nothing re-enters here.
        w.on_granted();
        delete &w;
    }
}

void semaphore::cancel(semaphore_waiter& w, std::exception_ptr e) noexcept {
    const bool was_head = waiters_.is_front(w);
    w.unlink();
    --nr_waiters_;
    w.on_failed(std::move(e));
    delete &w;
    if (was_head) {
        wake();  // smaller waits behind a cancelled large one may fit now
    }
}

void semaphore::fail_all(const std::exception_ptr& e) noexcept {
    while (!waiters_.empty()) {
        semaphore_waiter& w = waiters_.pop_front();
        --nr_waiters_;
        w.on_failed(e);
        delete &w;
    }
}

void semaphore::broken() noexcept {
    broken(std::make_exception_ptr(broken_semaphore()));
}

void semaphore::broken(std::exception_ptr ex) noexcept {
    ex_ = ex ? std::move(ex) : std::make_exception_ptr(broken_semaphore());
    fail_all(ex_);
}

void semaphore_waiter::cancel(std::exception_ptr e) noexcept {
    assert(is_linked() && sem_);
    sem_->cancel(*this, std::move(e));
}

std::size_t semaphore_units::return_units(std::size_t n) {
    if (n > n_) {
        throw std::invalid_argument("semaphore_units::return_units: more units than held");
    }
    if (n) {
        n_ -= n;
        sem_->signal(n);
    }
    return n_;
}

semaphore_units semaphore_units::split(std::size_t n) {
    if (n > n_) {
        throw std::invalid_argument("semaphore_units::split: more units than held");
    }
    if (!sem_) {
        return semaphore_units();  // holds nothing, so n == 0
    }
    n_ -= n;
    return semaphore_units(*sem_, n);
}

void semaphore_units::adopt(semaphore_units&& o) {
    if (!o.n_) {
        return;
    }
    if (n_ && sem_ != o.sem_) {
        throw std::invalid_argument("semaphore_units::adopt: units of another semaphore");
    }
    sem_ = o.sem_;
    n_ += std::exchange(o.n_, 0);
}

}  // namespace reef
