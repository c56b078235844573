// output_stream<CharT>: buffered writing to a data_sink. Small writes are batched into
// one buffer per put(); large ones go to the sink without that copy.
//   reef::output_stream<char> out(std::move(sink), 8192);
//   co_await out.write("hello\n"); co_await out.flush(); co_await out.close();
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <exception>
#include <string_view>
#include <utility>
#include <vector>

#include <reef/core/data_sink.hh>
#include <reef/core/detail/stream_await.hh>
#include <reef/core/future.hh>
#include <reef/core/temporary_buffer.hh>

namespace reef {

/// Writes to a data_sink through a buffer of buffer_size() bytes. A write that fits in
/// the buffer is copied there and returns a ready future without allocating. When the
/// buffer fills, it is put() to the sink; at most one put is in flight at a time, and
/// the next one waits for it (that wait is the back-pressure a write's future carries).
/// A write of buffer_size() bytes or more bypasses the buffer: a temporary_buffer is
/// handed to the sink as is (zero-copy), raw bytes are copied once into their own
/// buffer. CharT is a byte type.
///
/// Ordering: every call takes its bytes (and the buffered ones before them) at once,
/// so bytes reach the sink in call order even when calls are made without waiting for
/// earlier futures; flush() and close() cover exactly the bytes written before them.
/// Failures: the first failure of the sink fails the operation that sees it and every
/// later one, close() included; close() still closes the sink. Always close() a stream
/// (and wait for it) before destroying it, or buffered bytes are lost. Owner thread
/// only; the stream must not move while an operation is pending.
template <typename CharT>
class output_stream {
    static_assert(sizeof(CharT) == 1, "output_stream writes bytes: CharT must be a byte type");

public:
    using char_type = CharT;

    /// A stream with no sink; only assignment and destruction are allowed.
    output_stream() noexcept = default;
    /// A stream over `sink` with a buffer of `size` bytes (at least 1). Allocates the
    /// buffer at the first write.
    output_stream(data_sink sink, std::size_t size) noexcept
        : sink_(std::move(sink)), size_(std::max<std::size_t>(size, 1)) {}
    /// A stream over `sink` with the buffer size the sink prefers.
    explicit output_stream(data_sink sink) noexcept
        : size_(std::max<std::size_t>(sink.buffer_size(), 1)) {
        sink_ = std::move(sink);
    }
    output_stream(output_stream&&) noexcept = default;
    output_stream& operator=(output_stream&&) noexcept = default;

    /// Writes `p[0, n)`. The bytes are copied (or put) before write() returns, so the
    /// caller may reuse them at once. Resolves when the stream can take more: at once
    /// unless a full buffer had to wait for the put in flight. Fails with the sink's
    /// failure, here or at a later call.
    future<> write(const CharT* p, std::size_t n) {
        if (n <= buf_.size() - end_ && healthy()) [[likely]] {
            if (n) {
                std::memcpy(buf_.get_write() + end_, p, n);
            }
            end_ += n;
            return make_ready_future<>();
        }
        return write_slow(reinterpret_cast<const char*>(p), n, temporary_buffer<char>());
    }

    /// Writes the bytes of `s`; see write(const CharT*, size_t).
    future<> write(std::string_view s) { return write(reinterpret_cast<const CharT*>(s.data()), s.size()); }

    /// Writes `b`: copied into the stream's buffer when smaller than buffer_size(),
    /// otherwise handed to the sink as is (zero-copy, after the buffered bytes).
    future<> write(temporary_buffer<CharT> b) {
        const std::size_t n = b.size();
        if (n < size_ && n <= buf_.size() - end_ && healthy()) [[likely]] {
            if (n) {
                std::memcpy(buf_.get_write() + end_, b.get(), n);
            }
            end_ += n;
            return make_ready_future<>();
        }
        const char* p = reinterpret_cast<const char*>(b.get());
        return write_slow(p, n, detail::rebind_buffer<char>(std::move(b)));
    }

    /// Puts the buffered bytes, waits until every put is done, then flushes the sink.
    /// Allocates a coroutine frame.
    future<> flush() { return finish(take_buffer(), false); }

    /// Flushes as flush() does, then closes the sink, even after a failure. Fails with
    /// the first failure of the sink, if any (also one an earlier call reported). No
    /// operation may follow.
    future<> close() { return finish(take_buffer(), true); }

    /// The size of the stream's buffer.
    std::size_t buffer_size() const noexcept { return size_; }

private:
    bool healthy() const noexcept { return !error_ && !in_flight_.failed(); }

    // The first failure of the sink, picked up from the put in flight if it failed.
    std::exception_ptr failure() noexcept {
        if (!error_ && in_flight_.failed()) {
            error_ = in_flight_.get_exception();
            in_flight_ = make_ready_future<>();
        }
        return error_;
    }
    // Keeps the first failure; later ones are consumed and dropped.
    void note(std::exception_ptr e) noexcept {
        if (!error_) {
            error_ = std::move(e);
        }
    }
    // The buffered bytes, cut to size (empty when there are none).
    temporary_buffer<char> take_buffer() noexcept {
        if (end_ == 0) {
            return temporary_buffer<char>();
        }
        buf_.trim(std::exchange(end_, 0));
        return std::move(buf_);
    }

    // Waits for the put in flight; never fails (a failure is noted).
    future<> drain() {
        if (in_flight_.available()) {
            (void)failure();
            return make_ready_future<>();
        }
        return std::exchange(in_flight_, make_ready_future<>()).then_wrapped([this](future<> f) noexcept {
            if (f.failed()) {
                note(f.get_exception());
            } else {
                f.ignore_ready_future();
            }
        });
    }

    future<> write_slow(const char* p, std::size_t n, temporary_buffer<char> owner);
    future<> submit(temporary_buffer<char> first, temporary_buffer<char> second);
    future<> finish(temporary_buffer<char> last, bool closing);

    // Resolves the gate of a slow operation when it ends, whichever way it ends.
    struct gate_opener {
        promise<>& done;
        ~gate_opener() { done.set_value(); }
    };

    data_sink sink_;
    temporary_buffer<char> buf_;  // capacity size_; bytes [0, end_) are written
    std::size_t end_ = 0;
    std::size_t size_ = 0;
    future<> in_flight_ = make_ready_future<>();  // the put in the background
    future<> gate_ = make_ready_future<>();       // resolves when the last slow operation ends
    std::exception_ptr error_;                    // the first failure of the sink
};

template <typename CharT>
future<> output_stream<CharT>::write_slow(const char* p, std::size_t n, temporary_buffer<char> owner) {
    if (auto e = failure()) {
        return make_exception_future<>(std::move(e));
    }
    if (n >= size_) {
        // Large: no copy into the stream's buffer. The caller's buffer goes as is.
        temporary_buffer<char> big = owner.empty() ? temporary_buffer<char>(p, n) : std::move(owner);
        return submit(take_buffer(), std::move(big));
    }
    if (buf_.empty()) {
        buf_ = temporary_buffer<char>(size_);
        end_ = 0;
    }
    std::size_t k = std::min(n, buf_.size() - end_);
    if (k) {
        std::memcpy(buf_.get_write() + end_, p, k);
    }
    end_ += k;
    if (k == n) {
        return make_ready_future<>();
    }
    // The buffer is full: it goes to the sink, the rest starts a fresh one now, so that
    // later writes land after it whenever the put happens.
    temporary_buffer<char> full = take_buffer();
    buf_ = temporary_buffer<char>(size_);
    std::memcpy(buf_.get_write(), p + k, n - k);
    end_ = n - k;
    return submit(std::move(full), temporary_buffer<char>());
}

template <typename CharT>
future<> output_stream<CharT>::submit(temporary_buffer<char> first, temporary_buffer<char> second) {
    promise<> done;
    future<> prev = std::exchange(gate_, done.get_future());
    gate_opener opener{done};
    co_await std::move(prev);  // never fails
    co_await drain();
    if (error_) {
        co_await coroutine::exception(error_);
    }
    if (first.empty()) {
        in_flight_ = sink_.put(std::move(second));
    } else if (second.empty()) {
        in_flight_ = sink_.put(std::move(first));
    } else {
        std::vector<temporary_buffer<char>> both;
        both.reserve(2);
        both.push_back(std::move(first));
        both.push_back(std::move(second));
        in_flight_ = sink_.put(std::move(both));
    }
    // The put goes on in the background unless it already failed.
    if (auto e = failure()) {
        co_await coroutine::exception(std::move(e));
    }
}

template <typename CharT>
future<> output_stream<CharT>::finish(temporary_buffer<char> last, bool closing) {
    promise<> done;
    future<> prev = std::exchange(gate_, done.get_future());
    gate_opener opener{done};
    co_await std::move(prev);
    co_await drain();
    if (!error_ && !last.empty()) {
        in_flight_ = sink_.put(std::move(last));
        co_await drain();
    }
    if (!error_) {
        auto f = co_await detail::await_settled(sink_.flush());
        if (f.failed()) {
            note(f.get_exception());
        }
    }
    if (closing) {
        buf_ = temporary_buffer<char>();
        auto f = co_await detail::await_settled(sink_.close());
        if (f.failed()) {
            note(f.get_exception());
        }
    }
    if (error_) {
        co_await coroutine::exception(error_);
    }
}

extern template class output_stream<char>;

}  // namespace reef
