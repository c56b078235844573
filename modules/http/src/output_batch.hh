// output_batch: the bytes of replies gathered until they are sent together: small
// pieces copied into chunks, large buffers kept as they are (zero-copy), all handed to
// the connection's sink with one put().
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include <reef/core/data_sink.hh>
#include <reef/core/future.hh>
#include <reef/core/temporary_buffer.hh>

namespace reef::http::srv {

/// Gathers bytes for one send. Owner shard only.
class output_batch {
public:
    /// Chunks of `chunk_size` bytes for copied pieces; buffers of at least
    /// `zero_copy_min` bytes are queued as they are.
    explicit output_batch(std::size_t chunk_size = 4096, std::size_t zero_copy_min = 4096) noexcept
        : chunk_size_(chunk_size),
          zero_copy_min_(zero_copy_min) {}

    /// Copies `s` in. Allocates a chunk when the current one is full.
    void append(std::string_view s) {
        if (s.empty()) {
            return;  // may have a null data(): no memcpy
        }
        if (s.size() <= cur_.size() - used_) [[likely]] {
            std::memcpy(cur_.get_write() + used_, s.data(), s.size());
            used_ += s.size();
            bytes_ += s.size();
            return;
        }
        append_slow(s);
    }

    /// Adds `b`: queued without a copy when large, copied otherwise.
    void append(temporary_buffer<char> b) {
        if (b.size() < zero_copy_min_) {
            append(std::string_view(b.get(), b.size()));
            return;
        }
        close_chunk();
        bytes_ += b.size();
        done_.push_back(std::move(b));
    }

    /// Bytes gathered and not yet sent.
    std::size_t size() const noexcept { return bytes_; }
    bool empty() const noexcept { return bytes_ == 0; }

    /// Hands everything gathered to `sink` in one put() and starts empty; returns the
    /// put's future (ready unless the sink's queue is over its limit). Does nothing
    /// when empty.
    future<> put_to(data_sink& sink) {
        bytes_ = 0;
        if (done_.empty()) {
            if (used_ == 0) {
                return make_ready_future<>();
            }
            cur_.trim(std::exchange(used_, 0));
            return sink.put(std::move(cur_));
        }
        close_chunk();
        return sink.put(std::exchange(done_, {}));
    }

    /// Drops everything gathered.
    void clear() noexcept {
        done_.clear();
        cur_ = temporary_buffer<char>();
        used_ = 0;
        bytes_ = 0;
    }

private:
    // Moves the filled part of the current chunk to the queue.
    void close_chunk() {
        if (used_) {
            cur_.trim(std::exchange(used_, 0));
            done_.push_back(std::move(cur_));
        }
        cur_ = temporary_buffer<char>();
    }

    void append_slow(std::string_view s) {
        std::size_t room = cur_.size() - used_;
        if (room) {
            std::memcpy(cur_.get_write() + used_, s.data(), room);
            used_ += room;
            bytes_ += room;
            s.remove_prefix(room);
        }
        close_chunk();
        cur_ = temporary_buffer<char>(std::max(chunk_size_, s.size()));
        std::memcpy(cur_.get_write(), s.data(), s.size());
        used_ = s.size();
        bytes_ += s.size();
    }

    temporary_buffer<char> cur_;                // the chunk being filled (capacity cur_.size())
    std::size_t used_ = 0;                      // bytes of cur_ filled
    std::vector<temporary_buffer<char>> done_;  // filled chunks and large buffers, in order
    std::size_t bytes_ = 0;
    std::size_t chunk_size_;
    std::size_t zero_copy_min_;
};

}  // namespace reef::http::srv
