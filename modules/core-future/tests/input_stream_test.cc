#include <reef/core/input_stream.hh>

#include <catch2/catch.hpp>

#include "counting_new.hh"

#include <cstdint>
#include <cstdlib>
#include <cstring>
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

std::string str(const temporary_buffer<char>& b) {
    return std::string(b.get(), b.size());
}

// The message cut at `at` (two fragments, or one when at is 0 or the end).
std::vector<temporary_buffer<char>> split_at(std::string_view msg, std::size_t at) {
    return make_fragments({msg.substr(0, at), msg.substr(at)});
}

// Everything the stream has left, by read().
std::string read_all(input_stream<char>& in) {
    return sync_wait([](input_stream<char>& in) -> future<std::string> {
        std::string all;
        for (;;) {
            auto b = co_await in.read();
            if (b.empty()) {
                co_return all;
            }
            all.append(b.get(), b.size());
        }
    }(in));
}

struct test_error : std::runtime_error {
    test_error() : std::runtime_error("test source failure") {}
};

// The consumer of the input_stream.hh documentation: lines until a blank one.
struct header_reader {
    std::vector<std::string> lines;
    std::string partial;
    future<consumption_result<char>> operator()(temporary_buffer<char> buf) {
        using result = consumption_result<char>;
        for (std::size_t nl; (nl = to_string_view(buf).find('\n')) != std::string_view::npos;) {
            partial.append(buf.get(), nl);
            buf.trim_front(nl + 1);
            if (partial.empty()) {  // the blank line: give the rest back
                return make_ready_future<result>(stop_consuming<char>(std::move(buf)));
            }
            lines.push_back(std::exchange(partial, {}));
        }
        partial.append(buf.get(), buf.size());  // an empty buffer (the end) adds nothing
        return make_ready_future<result>(continue_consuming{});
    }
};

// Records of a digit d followed by d payload bytes, which are skipped (skip_bytes when
// the payload runs past the buffer). A record of 0 ends the consumption.
struct payload_skipper {
    std::string headers;
    int calls_at_end = 0;
    consumption_result<char> operator()(temporary_buffer<char> buf) {
        if (buf.empty()) {
            ++calls_at_end;
            return continue_consuming{};
        }
        while (!buf.empty()) {
            char d = buf[0];
            headers += d;
            buf.trim_front(1);
            if (d == '0') {
                return stop_consuming<char>(std::move(buf));
            }
            std::size_t len = d - '0';
            if (buf.size() < len) {
                return skip_bytes(len - buf.size());
            }
            buf.trim_front(len);
        }
        return continue_consuming{};
    }
};

}  // namespace

TEST_CASE("read hands out the fragments of the source as they are, without copying") {
    auto frags = make_fragments({"abc", "defg", "h"});
    std::vector<const char*> addrs;
    for (auto& f : frags) {
        addrs.push_back(f.get());
    }
    input_stream<char> in(make_memory_source(std::move(frags)));
    for (std::size_t i = 0; i < addrs.size(); ++i) {
        auto b = sync_wait(in.read());
        REQUIRE(addr(b.get()) == addr(addrs[i]));
    }
    REQUIRE_FALSE(in.eof());
    REQUIRE(sync_wait(in.read()).empty());
    REQUIRE(in.eof());
    REQUIRE(sync_wait(in.read()).empty());
    sync_wait(in.close());
}

TEST_CASE("an empty source is at end of stream at the first read") {
    for (auto d : all_deliveries) {
        input_stream<char> in(make_memory_source({}, d));
        REQUIRE(sync_wait(in.read()).empty());
        REQUIRE(in.eof());
        REQUIRE(sync_wait(in.read_exactly(3)).empty());
        REQUIRE(sync_wait(in.read_up_to(3)).empty());
        sync_wait(in.skip(5));
        REQUIRE(in.eof());
    }
}

TEST_CASE("read_exactly gathers a message split at every point, whatever the delivery") {
    const std::string msg = "0123456789abcdefghij";
    for (auto d : all_deliveries) {
        for (std::size_t at = 0; at <= msg.size(); ++at) {
            for (std::size_t chunk : {1u, 3u, 7u, 20u}) {
                input_stream<char> in(make_memory_source(split_at(msg, at), d));
                std::string got;
                for (std::size_t pos = 0; pos < msg.size(); pos += chunk) {
                    auto b = sync_wait(in.read_exactly(chunk));
                    REQUIRE(b.size() == std::min(chunk, msg.size() - pos));
                    got += str(b);
                }
                REQUIRE(got == msg);
                REQUIRE(sync_wait(in.read_exactly(1)).empty());
                REQUIRE(in.eof());
            }
        }
    }
}

TEST_CASE("read_exactly gathers across single-byte fragments") {
    const std::string msg = "the quick brown fox";
    for (auto d : all_deliveries) {
        input_stream<char> in(make_memory_source(split_fragments(msg, 1), d));
        REQUIRE(str(sync_wait(in.read_exactly(9))) == "the quick");
        REQUIRE(str(sync_wait(in.read_exactly(1))) == " ");
        REQUIRE(str(sync_wait(in.read_exactly(9))) == "brown fox");
        REQUIRE(sync_wait(in.read_exactly(1)).empty());
    }
}

TEST_CASE("read_exactly shares the fragment when the bytes sit in one") {
    auto frags = make_fragments({"headerbody"});
    const char* base = frags[0].get();
    input_stream<char> in(make_memory_source(std::move(frags)));
    auto h = sync_wait(in.read_exactly(6));
    REQUIRE(addr(h.get()) == addr(base));
    auto b = sync_wait(in.read_exactly(4));
    REQUIRE(addr(b.get()) == addr(base + 6));
    REQUIRE(str(h) + str(b) == "headerbody");
}

TEST_CASE("read_exactly returns what is left when the stream ends early, and eof is set") {
    for (auto d : all_deliveries) {
        input_stream<char> in(make_memory_source(make_fragments({"ab", "cd", "e"}), d));
        REQUIRE(str(sync_wait(in.read_exactly(2))) == "ab");
        REQUIRE_FALSE(in.eof());
        auto rest = sync_wait(in.read_exactly(10));
        REQUIRE(str(rest) == "cde");
        REQUIRE(in.eof());
        REQUIRE(sync_wait(in.read_exactly(10)).empty());
        REQUIRE(sync_wait(in.read()).empty());
    }
}

TEST_CASE("read_exactly of zero bytes returns an empty buffer and reads nothing") {
    auto src = std::make_unique<memory_data_source>(make_fragments({"abc"}));
    auto* raw = src.get();
    input_stream<char> in{data_source(std::move(src))};
    REQUIRE(sync_wait(in.read_exactly(0)).empty());
    REQUIRE(raw->get_calls() == 0);
    REQUIRE(str(sync_wait(in.read())) == "abc");
}

TEST_CASE("read_up_to returns at most n bytes from one fragment") {
    for (auto d : all_deliveries) {
        input_stream<char> in(make_memory_source(make_fragments({"abcdef", "gh"}), d));
        REQUIRE(str(sync_wait(in.read_up_to(4))) == "abcd");
        REQUIRE(str(sync_wait(in.read_up_to(4))) == "ef");
        REQUIRE(str(sync_wait(in.read_up_to(100))) == "gh");
        REQUIRE(sync_wait(in.read_up_to(4)).empty());
        REQUIRE(in.eof());
    }
}

TEST_CASE("read returns the buffered rest of a fragment after a partial read") {
    input_stream<char> in(make_memory_source(make_fragments({"0123456789"})));
    REQUIRE(str(sync_wait(in.read_exactly(3))) == "012");
    REQUIRE(str(sync_wait(in.read())) == "3456789");
    REQUIRE(sync_wait(in.read()).empty());
}

TEST_CASE("read with buffered data allocates nothing and returns a ready future") {
    input_stream<char> in(make_memory_source(make_fragments({"0123456789", "abc"})));
    auto first = sync_wait(in.read_up_to(2));  // leaves 8 bytes buffered
    std::size_t news_before = counting_new::count;
    auto tasks_before = task_allocations();
    auto f = in.read();
    bool ready = f.available();
    auto b = f.get();
    std::size_t news_after = counting_new::count;
    auto tasks_after = task_allocations();
    REQUIRE(ready);
    REQUIRE(str(b) == "23456789");
    REQUIRE(news_after == news_before);
    REQUIRE(tasks_after == tasks_before);
}

TEST_CASE("read from a ready source allocates nothing either") {
    input_stream<char> in(make_memory_source(make_fragments({"0123456789", "abc"})));
    std::size_t news_before = counting_new::count;
    auto tasks_before = task_allocations();
    auto f1 = in.read();
    auto f2 = in.read();
    auto f3 = in.read();
    bool ready = f1.available() && f2.available() && f3.available();
    std::size_t news_after = counting_new::count;
    auto tasks_after = task_allocations();
    REQUIRE(ready);
    REQUIRE(news_after == news_before);
    REQUIRE(tasks_after == tasks_before);
    REQUIRE(str(f1.get()) == "0123456789");
    REQUIRE(str(f2.get()) == "abc");
    REQUIRE(f3.get().empty());
}

TEST_CASE("skip discards bytes within and across fragments at every split point") {
    const std::string msg = "0123456789abcdefghij";
    for (auto d : all_deliveries) {
        for (std::size_t at = 0; at <= msg.size(); ++at) {
            for (std::size_t n : {0u, 1u, 5u, 11u, 19u}) {
                input_stream<char> in(make_memory_source(split_at(msg, at), d));
                REQUIRE(str(sync_wait(in.read_exactly(1))) == "0");
                sync_wait(in.skip(n));
                REQUIRE(read_all(in) == msg.substr(1 + n));
            }
        }
    }
}

TEST_CASE("skip across single-byte fragments and past the end") {
    for (auto d : all_deliveries) {
        input_stream<char> in(make_memory_source(split_fragments("abcdefgh", 1), d));
        sync_wait(in.skip(3));
        REQUIRE(str(sync_wait(in.read_exactly(2))) == "de");
        sync_wait(in.skip(100));
        REQUIRE(sync_wait(in.read()).empty());
        REQUIRE(in.eof());
    }
}

TEST_CASE("consume feeds a line splitter until it stops, and the stream resumes after it") {
    const std::string msg = "GET / HTTP/1.1\nHost: x\nAccept: */*\n\nBODY";
    for (auto d : all_deliveries) {
        for (std::size_t at = 0; at <= msg.size(); ++at) {
            input_stream<char> in(make_memory_source(split_at(msg, at), d));
            header_reader r;
            sync_wait(in.consume(r));
            REQUIRE(r.lines == std::vector<std::string>{"GET / HTTP/1.1", "Host: x", "Accept: */*"});
            REQUIRE(read_all(in) == "BODY");
        }
        input_stream<char> in(make_memory_source(split_fragments(msg, 1), d));
        header_reader r;
        sync_wait(in.consume(r));
        REQUIRE(r.lines.size() == 3);
        REQUIRE(read_all(in) == "BODY");
    }
}

TEST_CASE("consume calls the consumer once with an empty buffer at end of stream") {
    input_stream<char> in(make_memory_source(make_fragments({"one\ntwo"})));
    header_reader r;
    sync_wait(in.consume(r));
    REQUIRE(r.lines == std::vector<std::string>{"one"});
    REQUIRE(r.partial == "two");
    REQUIRE(in.eof());
}

TEST_CASE("consume honours skip_bytes across fragments and stop_consuming") {
    const std::string msg = "3abc2de5fghij1k0rest";
    for (auto d : all_deliveries) {
        for (std::size_t at = 0; at <= msg.size(); ++at) {
            input_stream<char> in(make_memory_source(split_at(msg, at), d));
            payload_skipper s;
            sync_wait(in.consume(s));
            REQUIRE(s.headers == "32510");
            REQUIRE(s.calls_at_end == 0);
            REQUIRE(read_all(in) == "rest");
        }
        input_stream<char> in(make_memory_source(split_fragments(msg, 1), d));
        payload_skipper s;
        sync_wait(in.consume(s));
        REQUIRE(s.headers == "32510");
        REQUIRE(read_all(in) == "rest");
    }
}

TEST_CASE("consume with a skip past the end finishes at end of stream") {
    input_stream<char> in(make_memory_source(make_fragments({"9ab"})));
    payload_skipper s;
    sync_wait(in.consume(s));
    REQUIRE(s.headers == "9");
    REQUIRE(s.calls_at_end == 1);
    REQUIRE(in.eof());
}

TEST_CASE("consume takes a temporary consumer and keeps it alive") {
    input_stream<char> in(make_memory_source(make_fragments({"abc", "def"})));
    std::string seen;
    auto f = in.consume([&seen](temporary_buffer<char> b) -> future<consumption_result<char>> {
        seen.append(b.get(), b.size());
        return make_ready_future<consumption_result<char>>(continue_consuming{});
    });
    sync_wait(std::move(f));
    REQUIRE(seen == "abcdef");
}

TEST_CASE("a consumer's failure fails consume") {
    auto abandoned = abandoned_failures();
    input_stream<char> in(make_memory_source(make_fragments({"abc", "def"}), memory_delivery::deferred));
    int calls = 0;
    auto consumer = [&calls](temporary_buffer<char>) -> consumption_result<char> {
        if (++calls == 2) {
            throw test_error();
        }
        return continue_consuming{};
    };
    REQUIRE_THROWS_AS(sync_wait(in.consume(consumer)), test_error);
    REQUIRE(calls == 2);
    REQUIRE(abandoned_failures() == abandoned);
}

TEST_CASE("a source failure is propagated by every kind of read") {
    auto abandoned = abandoned_failures();
    for (auto d : all_deliveries) {
        auto failing = [d] {
            return input_stream<char>(make_failing_memory_source(make_fragments({"abcd", "efgh"}), 6,
                                                                 std::make_exception_ptr(test_error()), d));
        };
        {
            auto in = failing();
            REQUIRE(str(sync_wait(in.read())) == "abcd");
            REQUIRE(str(sync_wait(in.read())) == "ef");  // cut at the failure point
            REQUIRE_THROWS_AS(sync_wait(in.read()), test_error);
            REQUIRE_FALSE(in.eof());
        }
        {
            auto in = failing();
            REQUIRE(str(sync_wait(in.read_exactly(3))) == "abc");
            REQUIRE_THROWS_AS(sync_wait(in.read_exactly(5)), test_error);
        }
        {
            auto in = failing();
            REQUIRE_THROWS_AS(sync_wait(in.read_exactly(7)), test_error);
        }
        {
            auto in = failing();
            sync_wait(in.skip(1));
            REQUIRE_THROWS_AS(sync_wait(in.skip(7)), test_error);
        }
        {
            auto in = failing();
            REQUIRE(str(sync_wait(in.read_up_to(100))) == "abcd");
            REQUIRE(str(sync_wait(in.read_up_to(100))) == "ef");
            REQUIRE_THROWS_AS(sync_wait(in.read_up_to(100)), test_error);
        }
        {
            auto in = failing();
            header_reader r;
            REQUIRE_THROWS_AS(sync_wait(in.consume(r)), test_error);
            REQUIRE(r.partial == "abcdef");
            sync_wait(in.close());
        }
    }
    REQUIRE(abandoned_failures() == abandoned);
}

TEST_CASE("a source that fails at once fails the first read") {
    input_stream<char> in(make_failing_memory_source(make_fragments({"abc"}), 0, nullptr));
    REQUIRE_THROWS_AS(sync_wait(in.read()), std::runtime_error);
}

TEST_CASE("close closes the source and drops buffered bytes") {
    auto src = std::make_unique<memory_data_source>(make_fragments({"abcdef"}));
    auto* raw = src.get();
    input_stream<char> in{data_source(std::move(src))};
    REQUIRE(str(sync_wait(in.read_exactly(2))) == "ab");
    REQUIRE_FALSE(raw->closed());
    sync_wait(in.close());
    REQUIRE(raw->closed());
}

TEST_CASE("a moved stream keeps its buffered bytes and its source") {
    input_stream<char> a(make_memory_source(make_fragments({"abcdef", "gh"})));
    REQUIRE(str(sync_wait(a.read_exactly(2))) == "ab");
    input_stream<char> b(std::move(a));
    REQUIRE(read_all(b) == "cdefgh");
    input_stream<char> c;
    c = std::move(b);
    REQUIRE(c.eof());
}

TEST_CASE("an input stream of uint8_t reads the same bytes") {
    input_stream<std::uint8_t> in(make_memory_source(make_fragments({"\x01\x02", "\x03\x04\x05"})));
    auto b = sync_wait(in.read_exactly(3));
    REQUIRE(b.size() == 3);
    REQUIRE(b[0] == 1);
    REQUIRE(b[2] == 3);
    auto rest = sync_wait(in.read());
    REQUIRE(rest.size() == 2);
    REQUIRE(rest[1] == 5);
    sync_wait(in.skip(1));
    REQUIRE(sync_wait(in.read_up_to(1)).empty());
    REQUIRE(in.eof());
}

TEST_CASE("reading through a deferred source leaves no task behind") {
    input_stream<char> in(make_memory_source(split_fragments("abcdefghij", 3), memory_delivery::deferred));
    REQUIRE(str(sync_wait(in.read_exactly(10))) == "abcdefghij");
    REQUIRE(sync_wait(in.read()).empty());
    REQUIRE(pending_tasks() == 0);
}

TEST_CASE("input stream tests leave no abandoned failures") {
    REQUIRE(abandoned_failures() == 0);
}
