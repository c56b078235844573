#include <reef/http/detail/byte_arena.hh>

#include <algorithm>
#include <cstring>

namespace reef::detail {

void byte_arena::append(const char* p, std::size_t n) {
    if (n > capacity_ - size_) {
        std::size_t cap = std::max<std::size_t>({capacity_ * 2, size_ + n, 256});
        std::unique_ptr<char[]> bigger(new char[cap]);
        if (size_) {
            std::memcpy(bigger.get(), data_.get(), size_);
        }
        data_ = std::move(bigger);
        capacity_ = cap;
    }
    if (n) {
        std::memcpy(data_.get() + size_, p, n);
        size_ += n;
    }
}

}  // namespace reef::detail
