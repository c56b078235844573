// input_stream<CharT>: buffered, zero-copy reading from a data_source: whole buffers,
// exact sizes gathered across fragments, skips, and push-style consumers.
//   reef::input_stream<char> in(std::move(source));
//   auto header = co_await in.read_exactly(4);   // shorter only at end of stream
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include <reef/core/data_source.hh>
#include <reef/core/detail/stream_await.hh>
#include <reef/core/future.hh>
#include <reef/core/temporary_buffer.hh>

namespace reef {

/// A consumer's answer: it used the whole buffer and wants the next one.
struct continue_consuming {};

/// A consumer's answer: it is done; `buffer` (the part it did not use, possibly empty)
/// goes back into the stream for the next read.
template <typename CharT>
class stop_consuming {
public:
    explicit stop_consuming(temporary_buffer<CharT> buffer) noexcept : buffer_(std::move(buffer)) {}
    /// The unused rest of the buffer.
    temporary_buffer<CharT>& get_buffer() noexcept { return buffer_; }

private:
    temporary_buffer<CharT> buffer_;
};

/// A consumer's answer: it used the whole buffer and wants the next `n` bytes of the
/// stream skipped before it is called again.
class skip_bytes {
public:
    explicit skip_bytes(std::uint64_t n) noexcept : n_(n) {}
    /// The number of bytes to skip.
    std::uint64_t get_value() const noexcept { return n_; }

private:
    std::uint64_t n_;
};

/// One of continue_consuming, stop_consuming<CharT> or skip_bytes; what a consumer
/// passed to input_stream::consume() returns for each buffer. Implicitly built from any
/// of the three.
template <typename CharT>
class consumption_result {
public:
    /// What the consumer asked for.
    enum class kind : std::uint8_t { continue_consuming, stop_consuming, skip_bytes };

    consumption_result(continue_consuming) noexcept {}
    consumption_result(stop_consuming<CharT> s) noexcept
        : kind_(kind::stop_consuming), buffer_(std::move(s.get_buffer())) {}
    consumption_result(skip_bytes s) noexcept : kind_(kind::skip_bytes), skip_(s.get_value()) {}

    /// Which answer this is.
    kind get_kind() const noexcept { return kind_; }
    /// The buffer to put back (stop_consuming only; empty otherwise).
    temporary_buffer<CharT>& get_buffer() noexcept { return buffer_; }
    /// The number of bytes to skip (skip_bytes only; 0 otherwise).
    std::uint64_t get_skip() const noexcept { return skip_; }

private:
    kind kind_ = kind::continue_consuming;
    temporary_buffer<CharT> buffer_;
    std::uint64_t skip_ = 0;
};

/// A callable that input_stream<CharT>::consume() feeds: takes a temporary_buffer<CharT>
/// and returns a consumption_result<CharT> or a future of one.
template <typename C, typename CharT>
concept input_stream_consumer =
    std::invocable<C&, temporary_buffer<CharT>> &&
    std::same_as<futurize_result_t<C&, temporary_buffer<CharT>>, future<consumption_result<CharT>>>;

/// Reads a data_source through a one-fragment buffer. Reads hand out the source's
/// buffers (or slices of them) without copying, except read_exactly() when it has to
/// gather a value split across fragments. CharT is a byte type (char, uint8_t...).
///
/// Contract: one operation at a time (wait for a future before the next call), on the
/// owner thread; the stream must not move while an operation is pending. Source
/// failures fail the operation that saw them. close() before destruction releases the
/// source cleanly.
template <typename CharT>
class input_stream {
    static_assert(sizeof(CharT) == 1, "input_stream reads bytes: CharT must be a byte type");

public:
    using char_type = CharT;
    using tmp_buf = temporary_buffer<CharT>;

    /// A stream with no source; only assignment and destruction are allowed.
    input_stream() noexcept = default;
    /// A stream reading `fd`.
    explicit input_stream(data_source fd) noexcept : fd_(std::move(fd)) {}
    input_stream(input_stream&&) noexcept = default;
    input_stream& operator=(input_stream&&) noexcept = default;

    /// The next available bytes: the buffered rest of a fragment or the next fragment,
    /// never copied. An empty buffer means end of stream. With buffered data, returns a
    /// ready future and does not allocate.
    future<tmp_buf> read() {
        if (!buf_.empty()) [[likely]] {
            return make_ready_future<tmp_buf>(std::move(buf_));
        }
        return read_slow();
    }

    /// Exactly `n` bytes, gathered across fragments when needed (zero-copy when they sit
    /// in one fragment, one allocation and copy otherwise). Returns fewer only when the
    /// stream ends first (then eof() is true), an empty buffer at end of stream. A
    /// failure of the source loses the bytes gathered so far.
    future<tmp_buf> read_exactly(std::size_t n) {
        if (buf_.size() >= n) [[likely]] {
            return make_ready_future<tmp_buf>(take_front(n));
        }
        return read_exactly_slow(n);
    }

    /// Between 1 and `n` bytes (n > 0), from what is buffered or else from the next
    /// fragment; never copies. An empty buffer means end of stream.
    future<tmp_buf> read_up_to(std::size_t n) {
        if (!buf_.empty()) [[likely]] {
            return make_ready_future<tmp_buf>(take_front(std::min(n, buf_.size())));
        }
        return read_up_to_slow(n);
    }

    /// Discards the next `n` bytes, across fragments (through data_source::skip()).
    /// Skipping past the end is not an error: the next read returns end of stream.
    future<> skip(std::uint64_t n) {
        if (n <= buf_.size()) [[likely]] {
            drop_front(n);
            return make_ready_future<>();
        }
        return skip_slow(n - buf_.size());
    }

    /// True once a read has met the end of the source and nothing is buffered.
    bool eof() const noexcept { return eof_ && buf_.empty(); }

    /// Feeds the stream to `consumer`, one buffer at a time, until it answers
    /// stop_consuming (its buffer goes back into the stream) or the stream ends (the
    /// consumer is then called once with an empty buffer, and consume() resolves
    /// whatever it answers). skip_bytes(n) skips n bytes before the next call. Fails
    /// with the first failure of the source or the consumer. `consumer` must outlive
    /// the returned future. One coroutine frame per call; none per buffer while the
    /// source and the consumer return ready futures.
    ///
    /// Example: collect lines until a blank one, leaving the rest of the stream unread.
    /// \code
    ///   struct header_reader {
    ///       std::vector<std::string> lines;
    ///       std::string partial;
    ///       reef::future<reef::consumption_result<char>> operator()(reef::temporary_buffer<char> buf) {
    ///           using result = reef::consumption_result<char>;
    ///           for (std::size_t nl; (nl = reef::to_string_view(buf).find('\n')) != std::string_view::npos;) {
    ///               partial.append(buf.get(), nl);
    ///               buf.trim_front(nl + 1);
    ///               if (partial.empty()) {  // the blank line: give the rest back
    ///                   return reef::make_ready_future<result>(reef::stop_consuming<char>(std::move(buf)));
    ///               }
    ///               lines.push_back(std::exchange(partial, {}));
    ///           }
    ///           partial.append(buf.get(), buf.size());  // an empty buffer (the end) adds nothing
    ///           return reef::make_ready_future<result>(reef::continue_consuming{});
    ///       }
    ///   };
    ///   header_reader r;
    ///   co_await in.consume(r);      // then in.read() returns the bytes after the blank line
    /// \endcode
    template <typename Consumer>
        requires input_stream_consumer<Consumer, CharT>
    future<> consume(Consumer& consumer);

    /// Same as consume(Consumer&) for a consumer the stream keeps until it resolves.
    template <typename Consumer>
        requires(!std::is_reference_v<Consumer> && input_stream_consumer<Consumer, CharT>)
    future<> consume(Consumer&& consumer) {
        return consume_owned(std::move(consumer));
    }

    /// Closes the source; buffered bytes are dropped. No read may follow.
    future<> close() {
        buf_ = tmp_buf();
        if (!fd_) {
            return make_ready_future<>();
        }
        return fd_.close();
    }

    /// Gives up the source (buffered bytes are dropped); the stream is left empty.
    data_source detach() && noexcept {
        buf_ = tmp_buf();
        return std::move(fd_);
    }

private:
    // The first `n` bytes of the buffer, cut off (n <= buf_.size()).
    tmp_buf take_front(std::size_t n) {
        if (n == buf_.size()) {
            return std::move(buf_);
        }
        if (n == 0) {
            return tmp_buf();
        }
        tmp_buf front = buf_.share(0, n);
        buf_.trim_front(n);
        return front;
    }
    void drop_front(std::size_t n) noexcept {
        if (n == buf_.size()) {
            buf_ = tmp_buf();  // release the fragment now, not at the next read
        } else {
            buf_.trim_front(n);
        }
    }
    // Installs a buffer from the source; an empty one is the end of the stream.
    void refill(temporary_buffer<char>&& b) noexcept {
        if (b.empty()) {
            eof_ = true;
        }
        buf_ = detail::rebind_buffer<CharT>(std::move(b));
    }

    future<tmp_buf> read_slow();
    future<tmp_buf> read_exactly_slow(std::size_t n);
    future<tmp_buf> read_up_to_slow(std::size_t n);
    future<> skip_slow(std::uint64_t n);
    template <typename Consumer>
    future<> consume_owned(Consumer consumer);

    data_source fd_;
    tmp_buf buf_;       // the unread rest of the current fragment
    bool eof_ = false;  // the source returned its end-of-stream buffer
};

template <typename CharT>
future<temporary_buffer<CharT>> input_stream<CharT>::read_slow() {
    if (eof_) {
        return make_ready_future<tmp_buf>();
    }
    // then() runs at once on a ready source: no allocation on that path either.
    return fd_.get().then([this](temporary_buffer<char> b) {
        refill(std::move(b));
        return std::move(buf_);
    });
}

template <typename CharT>
future<temporary_buffer<CharT>> input_stream<CharT>::read_up_to_slow(std::size_t n) {
    if (eof_ || n == 0) {
        return make_ready_future<tmp_buf>();
    }
    return fd_.get().then([this, n](temporary_buffer<char> b) {
        refill(std::move(b));
        return take_front(std::min(n, buf_.size()));
    });
}

template <typename CharT>
future<temporary_buffer<CharT>> input_stream<CharT>::read_exactly_slow(std::size_t n) {
    if (eof_ && buf_.empty()) {
        co_return tmp_buf();
    }
    if (buf_.empty()) {
        // The value may sit whole in the next fragment: then no copy is needed.
        auto f = co_await detail::await_settled(fd_.get());
        if (f.failed()) {
            co_return coroutine::exception(f.get_exception());
        }
        refill(f.get());
        if (buf_.size() >= n || eof_) {
            co_return take_front(std::min(n, buf_.size()));
        }
    }
    tmp_buf out(n);
    std::size_t have = 0;
    for (;;) {
        std::size_t k = std::min(n - have, buf_.size());
        std::memcpy(out.get_write() + have, buf_.get(), k);
        have += k;
        drop_front(k);
        if (have == n) {
            co_return std::move(out);
        }
        auto f = co_await detail::await_settled(fd_.get());
        if (f.failed()) {
            co_return coroutine::exception(f.get_exception());
        }
        refill(f.get());
        if (eof_) {
            out.trim(have);
            co_return std::move(out);
        }
    }
}

template <typename CharT>
future<> input_stream<CharT>::skip_slow(std::uint64_t n) {
    buf_ = tmp_buf();
    if (eof_) {
        return make_ready_future<>();
    }
    return fd_.skip(n).then([this](temporary_buffer<char> rest) {
        // An empty rest is not the end of the stream; the next read finds out.
        buf_ = detail::rebind_buffer<CharT>(std::move(rest));
    });
}

template <typename CharT>
template <typename Consumer>
    requires input_stream_consumer<Consumer, CharT>
future<> input_stream<CharT>::consume(Consumer& consumer) {
    for (;;) {
        if (buf_.empty() && !eof_) {
            auto f = co_await detail::await_settled(fd_.get());
            if (f.failed()) {
                co_await coroutine::exception(f.get_exception());
            }
            refill(f.get());
        }
        const bool last = buf_.empty();  // the end of the stream: the consumer's last call
        auto r = co_await detail::await_settled(futurize_invoke(consumer, std::move(buf_)));
        if (r.failed()) {
            co_await coroutine::exception(r.get_exception());
        }
        consumption_result<CharT> res = r.get();
        switch (res.get_kind()) {
        case consumption_result<CharT>::kind::stop_consuming:
            buf_ = std::move(res.get_buffer());
            co_return;
        case consumption_result<CharT>::kind::skip_bytes:
            if (!last) {
                auto s = co_await detail::await_settled(skip(res.get_skip()));
                if (s.failed()) {
                    co_await coroutine::exception(s.get_exception());
                }
            }
            break;
        case consumption_result<CharT>::kind::continue_consuming:
            break;
        }
        if (last) {
            co_return;
        }
    }
}

template <typename CharT>
template <typename Consumer>
future<> input_stream<CharT>::consume_owned(Consumer consumer) {
    auto f = co_await detail::await_settled(consume(consumer));
    if (f.failed()) {
        co_await coroutine::exception(f.get_exception());
    }
}

extern template class input_stream<char>;

}  // namespace reef
