// data_sink: the consumer side of an output_stream. An implementation takes buffers
// (zero-copy: it may keep them) and sends or stores them in order.
//   class my_sink final : public reef::data_sink_impl { ... };
//   reef::output_stream<char> out(reef::data_sink(std::make_unique<my_sink>()), 8192);
#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include <reef/core/future.hh>
#include <reef/core/temporary_buffer.hh>

namespace reef {

/// What a data_sink does. Implement put(temporary_buffer); the other members have
/// defaults. Callers never have two calls outstanding at once: each call is made after
/// the future of the previous one resolved. A failed put() may leave the sink unusable;
/// close() is still called to release it. A derived class that overrides one put()
/// should add `using data_sink_impl::put;` to keep the other visible.
class data_sink_impl {
public:
    virtual ~data_sink_impl() = default;

    /// Takes `buf` (the sink may keep it, zero-copy) and resolves once the bytes are
    /// accepted; bytes of successive puts stay in order.
    virtual future<> put(temporary_buffer<char> buf) = 0;

    /// Takes several buffers at once, in order (a gather write). The default puts them
    /// one by one, stopping at the first failure.
    virtual future<> put(std::vector<temporary_buffer<char>> bufs);

    /// Pushes accepted bytes further (for sinks that buffer). The default does nothing.
    virtual future<> flush();

    /// Releases the sink after the last put()/flush(). The default does nothing.
    virtual future<> close();

    /// The buffer size the sink prefers; an output_stream made without an explicit
    /// size uses it. The default is 8192.
    virtual std::size_t buffer_size() const noexcept { return 8192; }
};

/// A move-only handle owning a data_sink_impl. A default-constructed handle holds
/// nothing and must not be used until assigned.
class data_sink {
public:
    data_sink() noexcept = default;
    /// Takes ownership of `impl`.
    explicit data_sink(std::unique_ptr<data_sink_impl> impl) noexcept : impl_(std::move(impl)) {}
    data_sink(data_sink&&) noexcept = default;
    data_sink& operator=(data_sink&&) noexcept = default;

    /// See data_sink_impl::put(temporary_buffer).
    future<> put(temporary_buffer<char> buf) { return impl_->put(std::move(buf)); }
    /// See data_sink_impl::put(std::vector<temporary_buffer<char>>).
    future<> put(std::vector<temporary_buffer<char>> bufs) { return impl_->put(std::move(bufs)); }
    /// See data_sink_impl::flush().
    future<> flush() { return impl_->flush(); }
    /// See data_sink_impl::close().
    future<> close() { return impl_->close(); }
    /// See data_sink_impl::buffer_size().
    std::size_t buffer_size() const noexcept { return impl_->buffer_size(); }

    /// The implementation (nullptr for an empty handle), for tests and adapters.
    data_sink_impl* impl() const noexcept { return impl_.get(); }
    /// True when the handle owns an implementation.
    explicit operator bool() const noexcept { return bool(impl_); }

private:
    std::unique_ptr<data_sink_impl> impl_;
};

}  // namespace reef
