// Defaults of data_source_impl and data_sink_impl, the in-memory sources and sinks,
// and the input_stream<char> / output_stream<char> instantiations.
#include <reef/core/input_stream.hh>
#include <reef/core/memory_stream.hh>
#include <reef/core/output_stream.hh>

#include <algorithm>
#include <coroutine>
#include <memory>
#include <stdexcept>

namespace reef {

namespace {

// co_await yield_to_scheduler{}: resumes the coroutine from a task on the scheduler, so
// its future is not ready when first returned.
struct yield_to_scheduler {
    bool await_ready() const noexcept { return false; }
    template <typename P>
    void await_suspend(std::coroutine_handle<P> h) {
        schedule(detail::resume_task_of(h));
    }
    void await_resume() const noexcept {}
};

future<temporary_buffer<char>> deliver_later(temporary_buffer<char> b) {
    co_await yield_to_scheduler{};
    co_return std::move(b);
}

future<temporary_buffer<char>> fail_later(std::exception_ptr e) {
    co_await yield_to_scheduler{};
    co_return coroutine::exception(std::move(e));
}

// Completes a put of a memory sink. Touches only the record after a deferral, so a sink
// destroyed with a put pending does not make it use freed memory.
future<> finish_put(memory_sink_record& rec, bool later, std::exception_ptr e) {
    ++rec.puts_in_flight;
    rec.max_puts_in_flight = std::max(rec.max_puts_in_flight, rec.puts_in_flight);
    if (later) {
        co_await yield_to_scheduler{};
    }
    --rec.puts_in_flight;
    if (e) {
        co_await coroutine::exception(std::move(e));
    }
}

bool deferred_call(memory_delivery d, std::size_t call) noexcept {
    switch (d) {
    case memory_delivery::ready:
        return false;
    case memory_delivery::deferred:
        return true;
    case memory_delivery::alternate:
        return call % 2 == 0;
    }
    return false;
}

std::exception_ptr or_default(std::exception_ptr e, const char* what) {
    return e ? e : std::make_exception_ptr(std::runtime_error(what));
}

}  // namespace

// --- defaults of the source and sink interfaces -------------------------------------

future<temporary_buffer<char>> data_source_impl::skip(std::uint64_t n) {
    while (n) {
        auto f = co_await detail::await_settled(get());
        if (f.failed()) {
            co_return coroutine::exception(f.get_exception());
        }
        temporary_buffer<char> b = f.get();
        if (b.empty()) {
            co_return std::move(b);  // the end came first
        }
        if (b.size() > n) {
            b.trim_front(n);
            co_return std::move(b);
        }
        n -= b.size();
    }
    co_return temporary_buffer<char>();
}

future<> data_source_impl::close() {
    return make_ready_future<>();
}

future<> data_sink_impl::put(std::vector<temporary_buffer<char>> bufs) {
    for (auto& b : bufs) {
        auto f = co_await detail::await_settled(put(std::move(b)));
        if (f.failed()) {
            co_await coroutine::exception(f.get_exception());
        }
    }
}

future<> data_sink_impl::flush() {
    return make_ready_future<>();
}

future<> data_sink_impl::close() {
    return make_ready_future<>();
}

// --- fragments ----------------------------------------------------------------------

std::vector<temporary_buffer<char>> split_fragments(std::string_view data, std::size_t fragment_size) {
    std::vector<temporary_buffer<char>> out;
    fragment_size = std::max<std::size_t>(fragment_size, 1);
    out.reserve((data.size() + fragment_size - 1) / fragment_size);
    for (std::size_t pos = 0; pos < data.size(); pos += fragment_size) {
        auto part = data.substr(pos, fragment_size);
        out.emplace_back(part.data(), part.size());
    }
    return out;
}

std::vector<temporary_buffer<char>> make_fragments(std::initializer_list<std::string_view> parts) {
    std::vector<temporary_buffer<char>> out;
    out.reserve(parts.size());
    for (auto p : parts) {
        if (!p.empty()) {
            out.emplace_back(p.data(), p.size());
        }
    }
    return out;
}

// --- memory source ------------------------------------------------------------------

memory_data_source::memory_data_source(std::vector<temporary_buffer<char>> fragments, memory_delivery delivery)
    : delivery_(delivery) {
    fragments_.reserve(fragments.size());
    for (auto& f : fragments) {
        if (!f.empty()) {
            fragments_.push_back(std::move(f));
        }
    }
}

void memory_data_source::fail_after(std::size_t bytes, std::exception_ptr error) noexcept {
    fail_at_ = bytes;
    error_ = std::move(error);
}

future<temporary_buffer<char>> memory_data_source::get() {
    const bool later = deferred_call(delivery_, ++calls_);
    if (delivered_ >= fail_at_) {
        auto e = or_default(error_, "memory source failure");
        return later ? fail_later(std::move(e)) : make_exception_future<temporary_buffer<char>>(std::move(e));
    }
    temporary_buffer<char> b;
    if (next_ < fragments_.size()) {
        auto& f = fragments_[next_];
        const std::size_t room = fail_at_ - delivered_;
        if (f.size() > room) {
            // Cut the fragment at the failure point; the rest is never delivered.
            b = f.share(0, room);
            f.trim_front(room);
        } else {
            b = std::move(f);
            ++next_;
        }
        delivered_ += b.size();
    }
    return later ? deliver_later(std::move(b)) : make_ready_future<temporary_buffer<char>>(std::move(b));
}

future<> memory_data_source::close() {
    closed_ = true;
    fragments_.clear();
    return make_ready_future<>();
}

data_source make_memory_source(std::vector<temporary_buffer<char>> fragments, memory_delivery delivery) {
    return data_source(std::make_unique<memory_data_source>(std::move(fragments), delivery));
}

data_source make_failing_memory_source(std::vector<temporary_buffer<char>> fragments, std::size_t fail_after,
                                       std::exception_ptr error, memory_delivery delivery) {
    auto src = std::make_unique<memory_data_source>(std::move(fragments), delivery);
    src->fail_after(fail_after, std::move(error));
    return data_source(std::move(src));
}

// --- memory sink --------------------------------------------------------------------

memory_data_sink::memory_data_sink(memory_sink_record& record, std::size_t buffer_size,
                                   memory_delivery delivery) noexcept
    : record_(record), buffer_size_(buffer_size), delivery_(delivery) {}

void memory_data_sink::fail_after(std::size_t bytes, std::exception_ptr error) noexcept {
    fail_at_ = bytes;
    error_ = std::move(error);
}

future<> memory_data_sink::complete(bool ok) {
    const bool later = deferred_call(delivery_, ++calls_);
    std::exception_ptr e = ok ? nullptr : or_default(error_, "memory sink failure");
    return finish_put(record_, later, std::move(e));
}

future<> memory_data_sink::put(temporary_buffer<char> buf) {
    std::vector<temporary_buffer<char>> one;
    one.push_back(std::move(buf));
    return put(std::move(one));
}

future<> memory_data_sink::put(std::vector<temporary_buffer<char>> bufs) {
    std::size_t total = 0;
    for (auto& b : bufs) {
        total += b.size();
    }
    if (failed_ || total > fail_at_ - std::min(fail_at_, record_.data.size())) {
        failed_ = true;
        return complete(false);
    }
    std::string& entry = record_.puts.emplace_back();
    entry.reserve(total);
    for (auto& b : bufs) {
        entry.append(b.get(), b.size());
        record_.data.append(b.get(), b.size());
        record_.buffers.push_back(std::move(b));
    }
    return complete(true);
}

future<> memory_data_sink::flush() {
    if (failed_) {
        return make_exception_future<>(or_default(error_, "memory sink failure"));
    }
    record_.flushes.push_back(record_.data.size());
    return make_ready_future<>();
}

future<> memory_data_sink::close() {
    ++record_.closes;
    return make_ready_future<>();
}

data_sink make_memory_sink(memory_sink_record& record, std::size_t buffer_size, memory_delivery delivery) {
    return data_sink(std::make_unique<memory_data_sink>(record, buffer_size, delivery));
}

data_sink make_failing_memory_sink(memory_sink_record& record, std::size_t fail_after, std::exception_ptr error,
                                   std::size_t buffer_size, memory_delivery delivery) {
    auto sink = std::make_unique<memory_data_sink>(record, buffer_size, delivery);
    sink->fail_after(fail_after, std::move(error));
    return data_sink(std::move(sink));
}

template class input_stream<char>;
template class output_stream<char>;

}  // namespace reef
