// The hot instantiations of future and promise, compiled once.
#include <reef/core/future.hh>

namespace reef {

template class future<void>;
template class promise<void>;

}  // namespace reef
