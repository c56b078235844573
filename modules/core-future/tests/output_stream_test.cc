#include <reef/core/output_stream.hh>

#include <catch2/catch.hpp>

#include "counting_new.hh"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <reef/core/memory_stream.hh>

using namespace reef;

namespace {
// Catch prints a const char* operand as a C string; compare addresses as addresses.
const void* addr(const void* p) {
    return p;
}
}  // namespace

namespace {

constexpr memory_delivery all_deliveries[] = {memory_delivery::ready, memory_delivery::deferred,
                                              memory_delivery::alternate};

struct sink_error : std::runtime_error {
    sink_error() : std::runtime_error("test sink failure") {}
};

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) {
        s[i] = char('a' + i % 26);
    }
    return s;
}

}  // namespace

TEST_CASE("many small writes are batched into few puts of a full buffer") {
    for (auto d : all_deliveries) {
        memory_sink_record rec;
        output_stream<char> out(make_memory_sink(rec, 8192, d), 100);
        const std::string msg = pattern(1000);
        for (std::size_t i = 0; i < msg.size(); i += 10) {
            sync_wait(out.write(msg.data() + i, 10));
        }
        sync_wait(out.close());
        REQUIRE(rec.data == msg);
        REQUIRE(rec.puts.size() == 10);
        for (auto& p : rec.puts) {
            REQUIRE(p.size() == 100);
        }
        REQUIRE(rec.closes == 1);
        REQUIRE(rec.max_puts_in_flight == 1);
    }
}

TEST_CASE("writes that straddle the buffer boundary fill every put") {
    memory_sink_record rec;
    output_stream<char> out(make_memory_sink(rec), 16);
    const std::string msg = pattern(100);
    for (std::size_t i = 0; i < msg.size(); i += 7) {
        sync_wait(out.write(std::string_view(msg).substr(i, 7)));
    }
    sync_wait(out.close());
    REQUIRE(rec.data == msg);
    REQUIRE(rec.puts.size() == 7);  // six full buffers and the rest at close
    for (std::size_t i = 0; i + 1 < rec.puts.size(); ++i) {
        REQUIRE(rec.puts[i].size() == 16);
    }
}

TEST_CASE("a small write into a buffer with room allocates nothing and is ready") {
    memory_sink_record rec;
    output_stream<char> out(make_memory_sink(rec), 1024);
    sync_wait(out.write("first"));  // allocates the buffer
    std::size_t news_before = counting_new::count;
    auto tasks_before = task_allocations();
    bool all_ready = true;
    for (int i = 0; i < 100; ++i) {
        auto f = out.write("0123456789");
        all_ready = all_ready && f.available() && !f.failed();
        f.ignore_ready_future();
    }
    std::size_t news_after = counting_new::count;
    auto tasks_after = task_allocations();
    REQUIRE(all_ready);
    REQUIRE(news_after == news_before);
    REQUIRE(tasks_after == tasks_before);
    REQUIRE(rec.puts.empty());
    sync_wait(out.close());
    REQUIRE(rec.data.size() == 5 + 1000);
}

TEST_CASE("a large temporary_buffer goes to the sink without a copy, after the buffered bytes") {
    for (auto d : all_deliveries) {
        memory_sink_record rec;
        output_stream<char> out(make_memory_sink(rec, 8192, d), 64);
        sync_wait(out.write("head:"));
        auto big = temporary_buffer<char>::copy_of(pattern(1000));
        const char* original = big.get();
        sync_wait(out.write(std::move(big)));
        sync_wait(out.write(":tail"));
        sync_wait(out.close());
        REQUIRE(rec.data == "head:" + pattern(1000) + ":tail");
        REQUIRE(rec.puts.size() == 2);  // head and the big buffer in one gather put, then the tail
        REQUIRE(rec.puts[0].size() == 1005);
        bool found = false;
        for (auto& b : rec.buffers) {
            found = found || b.get() == original;
        }
        REQUIRE(found);
    }
}

TEST_CASE("a small temporary_buffer is copied into the stream's buffer") {
    memory_sink_record rec;
    output_stream<char> out(make_memory_sink(rec), 64);
    auto small = temporary_buffer<char>::copy_of("tiny");
    const char* original = small.get();
    sync_wait(out.write(std::move(small)));
    sync_wait(out.write("more"));
    sync_wait(out.close());
    REQUIRE(rec.puts == std::vector<std::string>{"tinymore"});
    REQUIRE(rec.buffers.size() == 1);
    REQUIRE(addr(rec.buffers[0].get()) != addr(original));
}

TEST_CASE("a large raw write is put as one buffer instead of buffer-sized pieces") {
    memory_sink_record rec;
    output_stream<char> out(make_memory_sink(rec), 64);
    const std::string big = pattern(1000);
    sync_wait(out.write(big.data(), big.size()));
    sync_wait(out.close());
    REQUIRE(rec.puts.size() == 1);
    REQUIRE(rec.data == big);
}

TEST_CASE("flush puts the buffered bytes before flushing the sink, and only those") {
    for (auto d : all_deliveries) {
        memory_sink_record rec;
        output_stream<char> out(make_memory_sink(rec, 8192, d), 64);
        sync_wait(out.write("abc"));
        sync_wait(out.flush());
        REQUIRE(rec.data == "abc");
        REQUIRE(rec.flushes == std::vector<std::size_t>{3});
        sync_wait(out.write("defg"));
        REQUIRE(rec.data == "abc");  // still buffered
        sync_wait(out.flush());
        sync_wait(out.flush());  // nothing buffered: the sink is flushed all the same
        REQUIRE(rec.flushes == std::vector<std::size_t>{3, 7, 7});
        REQUIRE(rec.puts == std::vector<std::string>{"abc", "defg"});
        sync_wait(out.close());
        REQUIRE(rec.flushes.size() == 4);
        REQUIRE(rec.closes == 1);
    }
}

TEST_CASE("writes made while a put is in flight keep their order") {
    for (auto d : all_deliveries) {
        memory_sink_record rec;
        output_stream<char> out(make_memory_sink(rec, 8192, d), 8);
        // Nothing is awaited until the end: later calls queue behind the pending puts.
        std::vector<future<>> pending;
        std::string expect;
        for (int i = 0; i < 50; ++i) {
            std::string piece = pattern(i % 13 + 1);
            piece[0] = char('A' + i % 26);
            expect += piece;
            if (i % 5 == 4) {
                pending.push_back(out.write(temporary_buffer<char>::copy_of(piece)));
            } else {
                pending.push_back(out.write(piece));
            }
            if (i % 17 == 16) {
                pending.push_back(out.flush());
            }
        }
        pending.push_back(out.close());
        for (auto& f : pending) {
            sync_wait(std::move(f));
        }
        REQUIRE(rec.data == expect);
        REQUIRE(rec.max_puts_in_flight == 1);
        REQUIRE(rec.closes == 1);
        REQUIRE(pending_tasks() == 0);
    }
}

TEST_CASE("a message written in two parts arrives whole at every split point and buffer size") {
    const std::string msg = pattern(40);
    for (auto d : all_deliveries) {
        for (std::size_t size : {1u, 3u, 16u, 40u, 100u}) {
            for (std::size_t at = 0; at <= msg.size(); ++at) {
                memory_sink_record rec;
                output_stream<char> out(make_memory_sink(rec, 8192, d), size);
                sync_wait(out.write(msg.data(), at));
                sync_wait(out.write(temporary_buffer<char>::copy_of(std::string_view(msg).substr(at))));
                sync_wait(out.close());
                REQUIRE(rec.data == msg);
                for (auto& p : rec.puts) {
                    REQUIRE(!p.empty());
                }
            }
        }
    }
}

TEST_CASE("a sink failure fails the write that meets it, every later write, flush and close") {
    auto abandoned = abandoned_failures();
    memory_sink_record rec;
    output_stream<char> out(make_failing_memory_sink(rec, 15, std::make_exception_ptr(sink_error())), 10);
    sync_wait(out.write(pattern(8)));
    sync_wait(out.write(pattern(5)));  // fills the buffer: its put (10 bytes) succeeds
    REQUIRE(rec.data.size() == 10);
    sync_wait(out.write(pattern(7)));  // fills the buffer again, not put yet
    REQUIRE_THROWS_AS(sync_wait(out.write(pattern(1))), sink_error);  // its put goes past 15
    REQUIRE_THROWS_AS(sync_wait(out.write("x")), sink_error);
    REQUIRE_THROWS_AS(sync_wait(out.flush()), sink_error);
    REQUIRE_THROWS_AS(sync_wait(out.close()), sink_error);
    REQUIRE(rec.closes == 1);
    REQUIRE(rec.data.size() == 10);
    REQUIRE(abandoned_failures() == abandoned);
}

TEST_CASE("a put that fails in the background fails the next operation") {
    auto abandoned = abandoned_failures();
    memory_sink_record rec;
    output_stream<char> out(make_failing_memory_sink(rec, 5, std::make_exception_ptr(sink_error()), 8192,
                                                     memory_delivery::deferred),
                            8);
    // Fills the buffer and starts its put, which will fail; the write itself is ready.
    auto f = out.write(pattern(12));
    REQUIRE(f.available());
    f.get();
    REQUIRE(run_pending_tasks() > 0);  // the put fails now
    auto small = out.write("a");
    REQUIRE(small.failed());
    REQUIRE_THROWS_AS(small.get(), sink_error);
    REQUIRE_THROWS_AS(sync_wait(out.close()), sink_error);
    REQUIRE(rec.closes == 1);
    REQUIRE(abandoned_failures() == abandoned);
}

TEST_CASE("a put failing during flush fails flush and close") {
    auto abandoned = abandoned_failures();
    memory_sink_record rec;
    output_stream<char> out(make_failing_memory_sink(rec, 3, std::make_exception_ptr(sink_error())), 64);
    sync_wait(out.write("abcdef"));
    REQUIRE_THROWS_AS(sync_wait(out.flush()), sink_error);
    REQUIRE_THROWS_AS(sync_wait(out.close()), sink_error);
    REQUIRE(rec.data.empty());
    REQUIRE(rec.closes == 1);
    REQUIRE(abandoned_failures() == abandoned);
}

TEST_CASE("close of an unused stream closes the sink without putting anything") {
    memory_sink_record rec;
    output_stream<char> out(make_memory_sink(rec), 64);
    sync_wait(out.close());
    REQUIRE(rec.puts.empty());
    REQUIRE(rec.flushes.size() == 1);
    REQUIRE(rec.closes == 1);
}

TEST_CASE("close waits for the put in flight before closing the sink") {
    memory_sink_record rec;
    output_stream<char> out(make_memory_sink(rec, 8192, memory_delivery::deferred), 4);
    sync_wait(out.write("abcdefgh"));  // a large write: its put is in flight
    auto c = out.close();
    REQUIRE_FALSE(c.available());
    sync_wait(std::move(c));
    REQUIRE(rec.data == "abcdefgh");
    REQUIRE(rec.closes == 1);
    REQUIRE(rec.max_puts_in_flight == 1);
}

TEST_CASE("an output stream made from a sink alone uses the sink's buffer size") {
    memory_sink_record rec;
    output_stream<char> out(make_memory_sink(rec, 32));
    REQUIRE(out.buffer_size() == 32);
    sync_wait(out.write(pattern(40)));
    sync_wait(out.close());
    REQUIRE(rec.data == pattern(40));
}

TEST_CASE("an output stream of uint8_t writes the same bytes") {
    memory_sink_record rec;
    output_stream<std::uint8_t> out(make_memory_sink(rec), 4);
    const std::uint8_t bytes[] = {1, 2, 3};
    sync_wait(out.write(bytes, 3));
    sync_wait(out.write(temporary_buffer<std::uint8_t>::copy_of("\x04\x05\x06\x07\x08")));
    sync_wait(out.write(std::string_view("\x09")));
    sync_wait(out.close());
    REQUIRE(rec.data == "\x01\x02\x03\x04\x05\x06\x07\x08\x09");
}

TEST_CASE("a moved output stream keeps its buffered bytes") {
    memory_sink_record rec;
    output_stream<char> a(make_memory_sink(rec), 64);
    sync_wait(a.write("abc"));
    output_stream<char> b(std::move(a));
    sync_wait(b.write("def"));
    sync_wait(b.close());
    REQUIRE(rec.data == "abcdef");
}

namespace {
// A sink that implements only put(temporary_buffer): gather puts use the default.
struct single_put_sink final : data_sink_impl {
    std::vector<std::string>* puts;
    explicit single_put_sink(std::vector<std::string>* p) : puts(p) {}
    using data_sink_impl::put;
    future<> put(temporary_buffer<char> buf) override {
        puts->emplace_back(buf.get(), buf.size());
        return make_ready_future<>();
    }
};
}  // namespace

TEST_CASE("a sink without a gather put receives the buffers of a gather one by one, in order") {
    std::vector<std::string> puts;
    output_stream<char> out(data_sink(std::make_unique<single_put_sink>(&puts)), 8);
    sync_wait(out.write("abc"));
    sync_wait(out.write(temporary_buffer<char>::copy_of("0123456789")));
    sync_wait(out.close());
    REQUIRE(puts == std::vector<std::string>{"abc", "0123456789"});
}

TEST_CASE("a buffer handed to the sink without a copy is released once, when the sink lets go") {
    int releases = 0;
    static char block[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    {
        memory_sink_record rec;
        {
            output_stream<char> out(make_memory_sink(rec, 8192, memory_delivery::deferred), 16);
            temporary_buffer<char> b(block, 36, make_deleter([&] { ++releases; }));
            sync_wait(out.write(b.share()));
            sync_wait(out.write(std::move(b)));
            sync_wait(out.close());
        }
        REQUIRE(rec.data == std::string(block) + block);
        REQUIRE(rec.puts_in_flight == 0);
        REQUIRE(releases == 0);  // the record still holds both shares
    }
    REQUIRE(releases == 1);
}

TEST_CASE("output stream tests leave no abandoned failures") {
    REQUIRE(abandoned_failures() == 0);
}
