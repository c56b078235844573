// pipe<T>: a one-way channel of T with a bounded buffer, split into a reader and a
// writer that can live in different coroutines. Destroying the writer ends the stream.
//   reef::pipe<int> p(4);
//   co_await p.writer.write(1);   std::optional<int> v = co_await p.reader.read();  // nullopt: end
#pragma once

#include <cassert>
#include <cstddef>
#include <exception>
#include <optional>
#include <utility>

#include <reef/core/future.hh>
#include <reef/core/queue.hh>

namespace reef {

/// Writing to a pipe whose reader is gone.
struct broken_pipe_exception : std::exception {
    const char* what() const noexcept override { return "broken pipe: the reader is gone"; }
};

template <typename T>
class pipe;

namespace detail {
// Shared by a pipe's reader and writer; freed when both are gone. nullopt in the
// queue marks the end of the stream.
template <typename T>
struct pipe_buffer {
    explicit pipe_buffer(std::size_t size) : q(size) {}
    queue<std::optional<T>> q;
    bool reader_alive = true;
    bool writer_alive = true;
};
}  // namespace detail

/// The reading end of a pipe<T>. Move-only; owner thread only. One read() at a time
/// by convention, though concurrent reads are served in order.
template <typename T>
class pipe_reader {
public:
    pipe_reader(pipe_reader&& o) noexcept : buf_(std::exchange(o.buf_, nullptr)) {}
    pipe_reader& operator=(pipe_reader&& o) noexcept {
        if (this != &o) {
            close();
            buf_ = std::exchange(o.buf_, nullptr);
        }
        return *this;
    }
    pipe_reader(const pipe_reader&) = delete;
    pipe_reader& operator=(const pipe_reader&) = delete;
    /// Closes the reading end: pending and later writes fail with broken_pipe_exception.
    ~pipe_reader() { close(); }

    /// The next item, or nullopt at the end of the stream (the writer is gone and
    /// everything it wrote was read). Waits while the buffer is empty (one allocation);
    /// ready at once otherwise. Must not be called on a moved-from reader.
    future<std::optional<T>> read() {
        assert(buf_ && "read() on a moved-from pipe_reader");
        if (buf_->q.empty() && !buf_->writer_alive) {
            return make_ready_future<std::optional<T>>(std::nullopt);
        }
        return buf_->q.pop_eventually();
    }

private:
    friend class pipe<T>;
    explicit pipe_reader(detail::pipe_buffer<T>* b) noexcept : buf_(b) {}

    void close() noexcept {
        if (auto* b = std::exchange(buf_, nullptr)) {
            b->reader_alive = false;
            if (b->writer_alive) {
                b->q.abort(std::make_exception_ptr(broken_pipe_exception()));
            } else {
                delete b;
            }
        }
    }

    detail::pipe_buffer<T>* buf_;
};

/// The writing end of a pipe<T>. Move-only; owner thread only. Destroying it ends the
/// stream: the reader gets what was written, then nullopt.
template <typename T>
class pipe_writer {
public:
    pipe_writer(pipe_writer&& o) noexcept : buf_(std::exchange(o.buf_, nullptr)) {}
    pipe_writer& operator=(pipe_writer&& o) noexcept {
        if (this != &o) {
            close();
            buf_ = std::exchange(o.buf_, nullptr);
        }
        return *this;
    }
    pipe_writer(const pipe_writer&) = delete;
    pipe_writer& operator=(const pipe_writer&) = delete;
    /// Ends the stream (see the class comment).
    ~pipe_writer() { close(); }

    /// Writes `v`: ready at once while the buffer has room or the reader waits;
    /// otherwise waits for room (one allocation). Fails with broken_pipe_exception when
    /// the reader is gone, also while waiting. Must not be called on a moved-from writer.
    future<> write(T v) {
        assert(buf_ && "write() on a moved-from pipe_writer");
        if (!buf_->reader_alive) [[unlikely]] {
            return make_exception_future<>(broken_pipe_exception());
        }
        return buf_->q.push_eventually(std::optional<T>(std::move(v)));
    }

private:
    friend class pipe<T>;
    explicit pipe_writer(detail::pipe_buffer<T>* b) noexcept : buf_(b) {}

    void close() noexcept {
        if (auto* b = std::exchange(buf_, nullptr)) {
            b->writer_alive = false;
            if (!b->reader_alive) {
                delete b;
            } else if (b->q.empty()) {
                // Wakes a waiting read with the end of stream. With items buffered the
                // reader finds the end after them (q empty and no writer).
                try {
                    (void)b->q.try_push(std::nullopt);
                } catch (...) {
                    // Out of memory for the marker: a waiting read was handed it
                    // directly, a later read() finds the end anyway.
                }
            }
        }
    }

    detail::pipe_buffer<T>* buf_;
};

/// A pipe with room for `size` (at least 1) items in flight. Spell it reef::pipe:
/// with `using namespace reef`, a bare `pipe` is ambiguous with POSIX ::pipe(). Take `reader` and `writer`
/// out with std::move and hand them to the two sides. Allocates the shared buffer once.
template <typename T>
class pipe {
public:
    explicit pipe(std::size_t size) : pipe(new detail::pipe_buffer<T>(size > 0 ? size : 1)) {}

    pipe_reader<T> reader;
    pipe_writer<T> writer;

private:
    explicit pipe(detail::pipe_buffer<T>* b) noexcept : reader(b), writer(b) {}
};

}  // namespace reef
