// data_source: the producer side of an input_stream. An implementation hands out
// buffers as they arrive; an empty buffer means end of stream.
//   class my_source final : public reef::data_source_impl { ... };
//   reef::input_stream<char> in(reef::data_source(std::make_unique<my_source>()));
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

#include <reef/core/future.hh>
#include <reef/core/temporary_buffer.hh>

namespace reef {

/// What a data_source does. Implement get(); skip() and close() have defaults.
/// Callers never have two calls outstanding at once: each get()/skip()/close() is
/// made after the future of the previous one resolved.
class data_source_impl {
public:
    virtual ~data_source_impl() = default;

    /// The next buffer of the stream, as big as is convenient; an empty buffer means
    /// end of stream (and get() keeps returning empty buffers). Fails with the error
    /// of the underlying transport.
    virtual future<temporary_buffer<char>> get() = 0;

    /// Discards the next `n` bytes and returns what follows them within the last
    /// buffer it looked at, possibly empty (an empty result does not mean end of
    /// stream: the next get() tells). The default reads with get() and drops; stops
    /// early at end of stream.
    virtual future<temporary_buffer<char>> skip(std::uint64_t n);

    /// Releases the source. The default does nothing. No get() may follow.
    virtual future<> close();
};

/// A move-only handle owning a data_source_impl. A default-constructed handle holds
/// nothing and must not be used until assigned.
class data_source {
public:
    data_source() noexcept = default;
    /// Takes ownership of `impl`.
    explicit data_source(std::unique_ptr<data_source_impl> impl) noexcept : impl_(std::move(impl)) {}
    data_source(data_source&&) noexcept = default;
    data_source& operator=(data_source&&) noexcept = default;

    /// See data_source_impl::get().
    future<temporary_buffer<char>> get() { return impl_->get(); }
    /// See data_source_impl::skip().
    future<temporary_buffer<char>> skip(std::uint64_t n) { return impl_->skip(n); }
    /// See data_source_impl::close().
    future<> close() { return impl_->close(); }

    /// The implementation (nullptr for an empty handle), for tests and adapters.
    data_source_impl* impl() const noexcept { return impl_.get(); }
    /// True when the handle owns an implementation.
    explicit operator bool() const noexcept { return bool(impl_); }

private:
    std::unique_ptr<data_source_impl> impl_;
};

}  // namespace reef
