// In-memory data sources and sinks, for tests and for streams over memory: a source that
// hands out given fragments (optionally not ready, or failing), a sink that records.
//   reef::input_stream<char> in(reef::make_memory_source(reef::split_fragments("abcdef", 2)));
//   reef::memory_sink_record rec;  reef::output_stream<char> out(reef::make_memory_sink(rec), 8);
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <reef/core/data_sink.hh>
#include <reef/core/data_source.hh>
#include <reef/core/future.hh>
#include <reef/core/temporary_buffer.hh>

namespace reef {

/// How an in-memory source or sink resolves its futures.
enum class memory_delivery {
    ready,      ///< every future is ready at once
    deferred,   ///< every future resolves later, from a task on the scheduler
    alternate,  ///< the 1st, 3rd, 5th... call is ready, the others deferred
};

/// Copies of the bytes of `data` in fragments of `fragment_size` bytes (the last one
/// shorter). No fragment for empty data.
std::vector<temporary_buffer<char>> split_fragments(std::string_view data, std::size_t fragment_size);

/// Copies of `parts`, one fragment each; empty parts are left out (an empty fragment
/// would mean end of stream).
std::vector<temporary_buffer<char>> make_fragments(std::initializer_list<std::string_view> parts);

/// A data source over a list of fragments, handed out exactly as given (zero-copy),
/// then end of stream. It can fail with an error after a number of bytes.
class memory_data_source final : public data_source_impl {
public:
    /// A source of `fragments` (empty ones are dropped), resolving as `delivery` says.
    explicit memory_data_source(std::vector<temporary_buffer<char>> fragments,
                                memory_delivery delivery = memory_delivery::ready);

    /// Makes get() fail with `error` once `bytes` bytes were handed out (a fragment that
    /// crosses the limit is cut there). Call before the first get().
    void fail_after(std::size_t bytes, std::exception_ptr error) noexcept;

    /// The next fragment, an empty buffer after the last one, or the failure.
    future<temporary_buffer<char>> get() override;
    /// Marks the source closed.
    future<> close() override;

    /// True after close().
    bool closed() const noexcept { return closed_; }
    /// Number of get() calls so far.
    std::size_t get_calls() const noexcept { return calls_; }
    /// Number of bytes handed out so far.
    std::size_t bytes_delivered() const noexcept { return delivered_; }

private:
    std::vector<temporary_buffer<char>> fragments_;
    std::size_t next_ = 0;
    std::size_t delivered_ = 0;
    std::size_t calls_ = 0;
    std::size_t fail_at_ = std::numeric_limits<std::size_t>::max();
    std::exception_ptr error_;
    memory_delivery delivery_;
    bool closed_ = false;
};

/// A data source of `fragments`; see memory_data_source.
data_source make_memory_source(std::vector<temporary_buffer<char>> fragments,
                               memory_delivery delivery = memory_delivery::ready);

/// A data source of `fragments` that fails with `error` after `fail_after` bytes.
data_source make_failing_memory_source(std::vector<temporary_buffer<char>> fragments, std::size_t fail_after,
                                       std::exception_ptr error, memory_delivery delivery = memory_delivery::ready);

/// What a memory sink received. Owned by the caller; must outlive the sink.
struct memory_sink_record {
    /// Every byte put, in order.
    std::string data;
    /// The bytes of each put() call, in order (a put of several buffers is one entry).
    std::vector<std::string> puts;
    /// Every buffer received, as received (zero-copy: the sender's memory).
    std::vector<temporary_buffer<char>> buffers;
    /// data.size() at each flush() call.
    std::vector<std::size_t> flushes;
    /// Number of put() calls whose future has not resolved yet.
    std::size_t puts_in_flight = 0;
    /// The largest number of put() calls that were pending at the same time.
    std::size_t max_puts_in_flight = 0;
    /// Number of close() calls.
    std::size_t closes = 0;
};

/// A data sink that records into a memory_sink_record. It can fail after a number of
/// bytes: the put that would cross the limit records nothing and fails, and so do all
/// later puts and flushes; close() still succeeds. Puts are recorded when called; with
/// a deferred delivery their futures resolve later (failures too).
class memory_data_sink final : public data_sink_impl {
public:
    /// A sink recording into `record`, preferring buffers of `buffer_size` bytes.
    explicit memory_data_sink(memory_sink_record& record, std::size_t buffer_size = 8192,
                              memory_delivery delivery = memory_delivery::ready) noexcept;

    /// Makes the sink fail with `error` once a put would take it past `bytes` bytes.
    void fail_after(std::size_t bytes, std::exception_ptr error) noexcept;

    using data_sink_impl::put;
    /// Records `buf` as one put.
    future<> put(temporary_buffer<char> buf) override;
    /// Records `bufs` as one put.
    future<> put(std::vector<temporary_buffer<char>> bufs) override;
    /// Records a flush.
    future<> flush() override;
    /// Records a close.
    future<> close() override;
    /// The size given at construction.
    std::size_t buffer_size() const noexcept override { return buffer_size_; }

private:
    future<> complete(bool ok);

    memory_sink_record& record_;
    std::size_t buffer_size_;
    std::size_t fail_at_ = std::numeric_limits<std::size_t>::max();
    std::exception_ptr error_;
    memory_delivery delivery_;
    std::size_t calls_ = 0;
    bool failed_ = false;
};

/// A data sink recording into `record`; see memory_data_sink.
data_sink make_memory_sink(memory_sink_record& record, std::size_t buffer_size = 8192,
                           memory_delivery delivery = memory_delivery::ready);

/// A data sink recording into `record` that fails with `error` past `fail_after` bytes.
data_sink make_failing_memory_sink(memory_sink_record& record, std::size_t fail_after, std::exception_ptr error,
                                   std::size_t buffer_size = 8192,
                                   memory_delivery delivery = memory_delivery::ready);

}  // namespace reef
