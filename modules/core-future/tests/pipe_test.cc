#include <reef/core/pipe.hh>

#include <catch2/catch.hpp>

#include "test_support.hh"

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace reef;
using namespace reef::testing;

TEST_CASE("items written to a pipe are read in order, then the end of stream") {
    no_abandoned_failures guard;
    reef::pipe<std::string> p(4);
    auto r = std::move(p.reader);
    {
        auto w = std::move(p.writer);
        sync_wait(w.write("one"));
        sync_wait(w.write("two"));
    }
    REQUIRE(sync_wait(r.read()) == "one");
    REQUIRE(sync_wait(r.read()) == "two");
    REQUIRE(sync_wait(r.read()) == std::nullopt);
    REQUIRE(sync_wait(r.read()) == std::nullopt);
}

TEST_CASE("a waiting read gets the end of stream when the writer goes away") {
    no_abandoned_failures guard;
    reef::pipe<int> p(1);
    auto f = p.reader.read();
    REQUIRE_FALSE(f.available());
    { auto w = std::move(p.writer); }
    REQUIRE(sync_wait(std::move(f)) == std::nullopt);
}

TEST_CASE("an empty stream ends at once for a reader that comes later") {
    no_abandoned_failures guard;
    reef::pipe<int> p(2);
    { auto w = std::move(p.writer); }
    REQUIRE(sync_wait(p.reader.read()) == std::nullopt);
}

TEST_CASE("a write waits while the buffer is full and resumes after a read") {
    no_abandoned_failures guard;
    reef::pipe<int> p(1);
    sync_wait(p.writer.write(1));
    auto w2 = p.writer.write(2);
    REQUIRE_FALSE(w2.available());
    REQUIRE(sync_wait(p.reader.read()) == 1);
    REQUIRE(w2.available());
    w2.get();
    REQUIRE(sync_wait(p.reader.read()) == 2);
}

TEST_CASE("writes fail with broken_pipe_exception once the reader is gone") {
    no_abandoned_failures guard;
    reef::pipe<int> p(1);
    auto w = std::move(p.writer);
    sync_wait(w.write(1));
    auto pending = w.write(2);
    { auto r = std::move(p.reader); }
    REQUIRE_THROWS_AS(sync_wait(std::move(pending)), broken_pipe_exception);
    REQUIRE_THROWS_WITH(sync_wait(w.write(3)), "broken pipe: the reader is gone");
}

TEST_CASE("the buffer is freed whichever end goes first") {
    no_abandoned_failures guard;
    {
        reef::pipe<std::unique_ptr<int>> p(2);
        sync_wait(p.writer.write(std::make_unique<int>(1)));
        auto r = std::move(p.reader);
    }  // reader goes first (moved out), then the writer: ASan checks nothing leaks
    {
        reef::pipe<std::unique_ptr<int>> p(2);
        sync_wait(p.writer.write(std::make_unique<int>(1)));
        auto w = std::move(p.writer);
    }
}

TEST_CASE("a writer coroutine and a reader coroutine stream through a small pipe") {
    no_abandoned_failures guard;
    reef::pipe<int> p(2);
    auto writer = [](pipe_writer<int> w) -> future<> {
        for (int i = 0; i < 50; ++i) {
            co_await w.write(int(i));
        }
    }(std::move(p.writer));
    auto reader = [](pipe_reader<int> r) -> future<std::vector<int>> {
        std::vector<int> got;
        while (auto v = co_await r.read()) {
            got.push_back(*v);
        }
        co_return got;
    }(std::move(p.reader));
    sync_wait(std::move(writer));
    auto got = sync_wait(std::move(reader));
    REQUIRE(got.size() == 50);
    for (int i = 0; i < 50; ++i) {
        REQUIRE(got[i] == i);
    }
}

TEST_CASE("a reader coroutine that stops early breaks the writer's pipe") {
    no_abandoned_failures guard;
    reef::pipe<int> p(1);
    auto reader = [](pipe_reader<int> r) -> future<int> {
        auto v = co_await r.read();
        co_return *v;
    }(std::move(p.reader));
    auto writer = [](pipe_writer<int> w) -> future<int> {
        int written = 0;
        try {
            for (;;) {
                co_await w.write(int(written));
                ++written;
            }
        } catch (const broken_pipe_exception&) {
        }
        co_return written;
    }(std::move(p.writer));
    REQUIRE(sync_wait(std::move(reader)) == 0);
    REQUIRE(sync_wait(std::move(writer)) >= 1);
    run_all();
}

TEST_CASE("moving pipe ends keeps the stream intact") {
    no_abandoned_failures guard;
    reef::pipe<int> p(2);
    pipe_writer<int> w = std::move(p.writer);
    pipe_reader<int> r = std::move(p.reader);
    sync_wait(w.write(9));
    reef::pipe<int> other(1);
    r = std::move(other.reader);  // the first pipe's reader closes: its writer breaks
    REQUIRE_THROWS_AS(sync_wait(w.write(10)), broken_pipe_exception);
    sync_wait(other.writer.write(11));
    REQUIRE(sync_wait(r.read()) == 11);
}
