// The HTTP server on live shards (suite 'http', once per backend): an in-process client
// over net-posix sockets checks keep-alive, pipelining, HEAD, bodies both ways,
// 100-continue, malformed requests, timeouts, handler failures, routing, graceful stop.
#include <reef/http/server.hh>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <reef/core/coroutine.hh>
#include <reef/http/file_handler.hh>
#include <reef/http/metrics_handler.hh>
#include <reef/net/tls.hh>
#include <reef/reactor/sleep.hh>
#include <reef/testing/test_case.hh>

#include "http_test_client.hh"
#include "server_fixture.hh"
#include "test_cert.hh"

using namespace reef;
using namespace std::chrono_literals;
using http::reply;
using http::request;
using http_test::client;
using http_test::loopback;
using http_test::total;

namespace {

// Byte i of the big test file.
char big_byte(std::size_t i) {
    return char('a' + (i * 7 + i / 251) % 26);
}
constexpr std::size_t big_size = 1 << 20;

// A directory of files for the static-file tests, made once per process: www/ is the
// root (a.txt, empty.txt, big.bin, sub/index.html, a link inside and two leading out),
// secret.txt sits next to it, outside the root.
struct static_tree {
    std::filesystem::path base;
    std::filesystem::path root;
    static_tree() {
        char tmpl[] = "/tmp/reef-http-test-XXXXXX";
        base = ::mkdtemp(tmpl);
        root = base / "www";
        std::filesystem::create_directories(root / "sub");
        std::ofstream(root / "a.txt") << "hello file";
        std::ofstream(root / "empty.txt");
        std::ofstream(root / "sub" / "index.html") << "<p>sub</p>";
        std::filesystem::create_directories(root / "with space");
        std::ofstream(root / "with space" / "index.html") << "<p>space</p>";
        std::ofstream(base / "secret.txt") << "secret";
        std::string big(big_size, '\0');
        for (std::size_t i = 0; i < big.size(); ++i) {
            big[i] = big_byte(i);
        }
        std::ofstream(root / "big.bin", std::ios::binary) << big;
        std::filesystem::create_symlink("a.txt", root / "inside-link.txt");
        std::filesystem::create_symlink(base / "secret.txt", root / "outside-link.txt");
        std::filesystem::create_symlink(base, root / "outside-dir");
    }
    ~static_tree() {
        std::error_code ec;
        std::filesystem::remove_all(base, ec);
    }
};

const static_tree& tree() {
    static static_tree t;
    return t;
}

future<reply> text(std::string s) {
    return make_ready_future<reply>(reply::text(std::move(s)));
}

// The routes every test server has.
void test_routes(http::routes& r) {
    r.get("/", [](request&) { return text("Hello, World!"); });
    r.get("/json", [](request&) {
        return make_ready_future<reply>(reply::json({{"message", "Hello, World!"}}));
    });
    r.get("/items/{id}", [](request& req) { return text(fmt::format("item {}", req.param("id"))); });
    r.put("/items/{id}", [](request& req) { return text(fmt::format("put {}", req.param("id"))); });
    r.get("/files/{dir}/*",
          [](request& req) { return text(fmt::format("{}|{}", req.param("dir"), req.wildcard())); });
    r.get("/query", [](request& req) { return text(req.query_param("q").value_or("none")); });
    r.post("/echo", [](request& req) -> future<reply> {
        auto body = co_await req.content(1 << 20);
        co_return reply::text(std::move(body));
    });
    r.post("/count", [](request& req) -> future<reply> {
        std::size_t n = 0;
        auto& in = req.body();
        while (auto b = co_await in.read()) {
            n += b.size();
        }
        co_return reply::text(std::to_string(n));
    });
    r.post("/ignore", [](request&) { return text("ignored"); });
    r.get("/throw", [](request&) -> future<reply> {
        throw std::runtime_error("handler failure (expected by the test)");
        co_return reply();
    });
    r.get("/slow", [](request&) -> future<reply> {
        co_await sleep(300ms);
        co_return reply::text("slow");
    });
    r.get("/stream", [](request&) {
        reply rep;
        rep.write_body("text/plain", [](output_stream<char>& out) -> future<> {
            co_await out.write("part one, ");
            co_await out.flush();
            co_await out.write(std::string(20000, 'x'));
            co_await out.write(", end");
        });
        return make_ready_future<reply>(std::move(rep));
    });
    r.get("/stream-length", [](request&) {
        reply rep;
        rep.write_body(
            "text/plain", [](output_stream<char>& out) { return out.write("0123456789"); }, 10);
        return make_ready_future<reply>(std::move(rep));
    });
    r.get("/close", [](request&) {
        auto rep = reply::text("bye");
        rep.close_connection();
        return make_ready_future<reply>(std::move(rep));
    });
    r.get("/big", [](request&) { return text(std::string(32 << 20, 'b')); });
    r.get("/static/*", http::file_handler(tree().root.string()));
    r.get("/metrics", http::metrics_handler());
    r.get("/custom", [](request& req) {
        auto rep = reply::text(std::string(req.header("x-test").value_or("missing")));
        rep.set_header("X-Reply", "yes");
        rep.set_header("Server", "custom");
        return make_ready_future<reply>(std::move(rep));
    });
}

// Starts a server on every shard with `cfg` and the test routes, runs `fn(address)`,
// and stops the servers whatever happened.
template <typename Fn>
future<> with_server(http::server_config cfg, Fn fn, const net::tls::server_credentials* tls = nullptr) {
    (void)tree();  // made before any shard reads it
    return http_test::with_server_routes(std::move(cfg), &test_routes, std::move(fn), tls);
}

http::server_config quick_config() {
    http::server_config cfg;
    cfg.header_timeout = 400ms;
    cfg.idle_timeout = 600ms;
    cfg.body_timeout = 400ms;
    cfg.write_timeout = 400ms;
    cfg.stop_timeout = 2s;
    return cfg;
}

}  // namespace

REEF_TEST_CASE("a GET is answered with 200, its body, Content-Length, Date and Server") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>&) -> future<> {
        auto c = co_await client::connect(addr);
        auto r = co_await c.fetch("/");
        REQUIRE(r.status == 200);
        REQUIRE(r.body == "Hello, World!");
        REQUIRE(r.header("content-length") == "13");
        REQUIRE(r.header("content-type") == "text/plain");
        REQUIRE(r.header("server") == "reef");
        REQUIRE(r.header("date").value_or("").size() == 29);
        REQUIRE(r.keep_alive);
        r = co_await c.fetch("/json");
        REQUIRE(r.status == 200);
        REQUIRE(r.header("content-type") == "application/json");
        REQUIRE(nlohmann::json::parse(r.body) == nlohmann::json{{"message", "Hello, World!"}});
        co_await c.close();
    });
}

REEF_TEST_CASE("keep-alive: one connection carries many requests") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>& servers) -> future<> {
        auto c = co_await client::connect(addr);
        for (int i = 0; i < 50; ++i) {
            auto r = co_await c.fetch(fmt::format("/items/{}", i));
            REQUIRE(r.status == 200);
            REQUIRE(r.body == fmt::format("item {}", i));
        }
        REQUIRE(co_await total(servers, &http::server_stats::connections_total) == 1);
        co_await c.close();
    });
}

REEF_TEST_CASE("pipelined requests sent in one write are answered in order") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>&) -> future<> {
        auto c = co_await client::connect(addr);
        std::string batch;
        for (int i = 0; i < 64; ++i) {
            batch += fmt::format("GET /items/{} HTTP/1.1\r\nHost: t\r\n\r\n", i);
        }
        batch += "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello";
        batch += "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
        co_await c.send(batch);
        for (int i = 0; i < 64; ++i) {
            auto r = co_await c.read();
            REQUIRE(r.body == fmt::format("item {}", i));
        }
        auto r = co_await c.read();
        REQUIRE(r.body == "hello");
        r = co_await c.read();
        REQUIRE(r.body == "Hello, World!");
        co_await c.close();
    });
}

REEF_TEST_CASE("HEAD gets GET's headers without a body") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>&) -> future<> {
        auto c = co_await client::connect(addr);
        co_await c.send(
            "HEAD / HTTP/1.1\r\nHost: t\r\n\r\nHEAD /stream-length HTTP/1.1\r\nHost: t\r\n\r\n"
            "HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
        auto r = co_await c.read(http::method::head);
        REQUIRE(r.status == 200);
        REQUIRE(r.header("content-length") == "13");
        REQUIRE(r.body.empty());
        r = co_await c.read(http::method::head);
        REQUIRE(r.header("content-length") == "10");
        REQUIRE(r.body.empty());
        r = co_await c.read(http::method::head);
        REQUIRE(r.header("transfer-encoding") == "chunked");
        REQUIRE(r.body.empty());
        r = co_await c.read();
        REQUIRE(r.body == "Hello, World!");
        co_await c.close();
    });
}

REEF_TEST_CASE("routing: parameters, wildcard, query, 404 and 405 with Allow") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>&) -> future<> {
        auto c = co_await client::connect(addr);
        auto r = co_await c.fetch("/items/a%20b");
        REQUIRE(r.body == "item a b");
        r = co_await c.fetch("/files/d/x/y.txt");
        REQUIRE(r.body == "d|x/y.txt");
        r = co_await c.fetch("/files/d/");
        REQUIRE(r.body == "d|");
        r = co_await c.fetch("/query?a=1&q=two+words%21");
        REQUIRE(r.body == "two words!");
        r = co_await c.fetch("/nothing/here");
        REQUIRE(r.status == 404);
        r = co_await c.fetch("/items");
        REQUIRE(r.status == 404);
        co_await c.send("DELETE /items/3 HTTP/1.1\r\nHost: t\r\n\r\n");
        r = co_await c.read();
        REQUIRE(r.status == 405);
        REQUIRE(r.header("allow") == "GET, HEAD, PUT");
        co_await c.send("PUT /items/3 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
        r = co_await c.read();
        REQUIRE(r.body == "put 3");
        REQUIRE(r.keep_alive);
        co_await c.close();
    });
}

TEST_CASE("routing finds literal children whether a node has a few of them or many") {
    for (int count : {1, 3, 8, 9, 20}) {
        INFO(count << " literal children");
        http::routes r;
        auto h = [](http::request&) { return make_ready_future<http::reply>(http::reply::text("x")); };
        for (int i = 0; i < count; ++i) {
            r.get(fmt::format("/lit/n{}", i), h);
        }
        r.get("/lit/{p}", h);
        std::set<http::handler*> seen;
        for (int i = 0; i < count; ++i) {
            auto path = fmt::format("/lit/n{}", i);
            auto m = r.find(http::method::get, path);
            REQUIRE(m.target);
            REQUIRE(r.find(http::method::get, path).target == m.target);
            seen.insert(m.target);
        }
        REQUIRE(seen.size() == std::size_t(count));
        auto p = r.find(http::method::get, "/lit/other");
        REQUIRE(p.target);
        REQUIRE(seen.count(p.target) == 0);
        // Prefixes and extensions of a literal are not that literal: the parameter.
        REQUIRE(r.find(http::method::get, "/lit/n").target == p.target);
        REQUIRE(r.find(http::method::get, "/lit/n0x").target == p.target);
        REQUIRE(r.find(http::method::post, "/lit/n0").status == http::status_type::method_not_allowed);
        REQUIRE(r.find(http::method::get, "/lit").target == nullptr);
    }
}

REEF_TEST_CASE("a chunked upload reaches the handler decoded") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>&) -> future<> {
        auto c = co_await client::connect(addr);
        co_await c.send(
            "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n");
        auto r = co_await c.read();
        REQUIRE(r.status == 200);
        REQUIRE(r.body == "hello, world");
        // A large chunked body in many pieces, counted by a streaming handler.
        std::string big = "POST /count HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (int i = 0; i < 100; ++i) {
            big += fmt::format("{:x}\r\n{}\r\n", 1000 + i, std::string(1000 + i, 'a'));
        }
        big += "0\r\n\r\n";
        co_await c.send(big);
        r = co_await c.read();
        REQUIRE(r.body == std::to_string(100 * 1000 + 99 * 100 / 2));
        co_await c.close();
    });
}

REEF_TEST_CASE("Expect: 100-continue gets 100 only when the handler reads the body") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>&) -> future<> {
        auto c = co_await client::connect(addr);
        co_await c.send(
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
        // The client waits for the 100 before sending its body.
        auto r = co_await c.read(http::method::post, 5s, true);
        REQUIRE(r.status == 100);
        REQUIRE(c.interim() == std::vector<unsigned>{100});
        co_await c.send("data");
        r = co_await c.read();
        REQUIRE(r.status == 200);
        REQUIRE(r.body == "data");
        // A handler that does not read the body: no 100, a final reply, and the
        // connection closes (the client may or may not send the body now).
        co_await c.send(
            "POST /ignore HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
        r = co_await c.read();
        REQUIRE(r.status == 200);
        REQUIRE(r.body == "ignored");
        REQUIRE(c.interim().size() == 1);
        REQUIRE(r.header("connection") == "close");
        REQUIRE(co_await c.closed());
    });
}

REEF_TEST_CASE("malformed requests are answered with their status and the connection closes") {
    http::server_config cfg;
    cfg.limits.max_body_size = 1000;
    cfg.limits.max_start_line = 200;
    cfg.limits.max_header_bytes = 1000;
    struct bad_case {
        std::string request;
        unsigned status;
    };
    std::vector<bad_case> cases = {
        {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc", 400},
        {"GET / HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400},
        {"GET /" + std::string(300, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n", 414},
        {"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(2000, 'b') + "\r\n\r\n", 431},
        {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n", 413},
        {"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
        {"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505},
        {"GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n", 400},
        {"GET /a%00b HTTP/1.1\r\nHost: t\r\n\r\n", 400},
    };
    co_await with_server(cfg, [&cases](net::socket_address addr, sharded<http::server>&) -> future<> {
        for (auto& bc : cases) {
            INFO(fmt::format("{:?}", bc.request.substr(0, 80)));  // one line: TAP output
            auto c = co_await client::connect(addr);
            co_await c.send(bc.request);
            auto r = co_await c.read();
            REQUIRE(r.status == bc.status);
            REQUIRE(r.header("connection") == "close");
            REQUIRE(co_await c.closed());
        }
        // An invalid chunk size inside a body the handler reads.
        auto c = co_await client::connect(addr);
        co_await c.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
        auto r = co_await c.read();
        REQUIRE(r.status == 400);
        REQUIRE(co_await c.closed());
    });
}

REEF_TEST_CASE("a client sending its head too slowly gets 408, and the others are served") {
    co_await with_server(quick_config(),
                         [](net::socket_address addr, sharded<http::server>& servers) -> future<> {
                             auto slow = co_await client::connect(addr);
                             co_await slow.send("GET / HTTP/1.1\r\nHo");
                             // Dribbling bytes does not extend the deadline of the head.
                             for (int i = 0; i < 3; ++i) {
                                 co_await sleep(100ms);
                                 co_await slow.send("x");
                             }
                             auto fast = co_await client::connect(addr);
                             REQUIRE((co_await fast.fetch("/")).status == 200);
                             auto r = co_await slow.read();
                             REQUIRE(r.status == 408);
                             REQUIRE(co_await slow.closed());
                             co_await fast.close();
                             auto timeouts = co_await total(servers, &http::server_stats::timeouts);
                             REQUIRE(timeouts >= 1);
                         });
}

REEF_TEST_CASE("an idle keep-alive connection is closed after idle_timeout, a silent one too") {
    co_await with_server(quick_config(), [](net::socket_address addr, sharded<http::server>&) -> future<> {
        auto c = co_await client::connect(addr);
        REQUIRE((co_await c.fetch("/")).status == 200);
        auto start = steady_clock_type::now();
        REQUIRE(co_await c.closed(5s));
        REQUIRE(steady_clock_type::now() - start >= 400ms);
        auto silent = co_await client::connect(addr);
        REQUIRE(co_await silent.closed(5s));
    });
}

REEF_TEST_CASE("a body arriving too slowly ends with 408") {
    co_await with_server(quick_config(), [](net::socket_address addr, sharded<http::server>&) -> future<> {
        auto c = co_await client::connect(addr);
        co_await c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
        auto r = co_await c.read();
        REQUIRE(r.status == 408);
        REQUIRE(co_await c.closed());
    });
}

REEF_TEST_CASE("a handler's exception is answered with 500 and the connection goes on") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>& servers) -> future<> {
        auto c = co_await client::connect(addr);
        co_await c.send("GET /throw HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
        auto r = co_await c.read();
        REQUIRE(r.status == 500);
        REQUIRE(r.keep_alive);
        r = co_await c.read();
        REQUIRE(r.status == 200);
        auto errors = co_await total(servers, &http::server_stats::handler_errors);
        REQUIRE(errors == 1);
        co_await c.close();
    });
}

REEF_TEST_CASE("streamed replies: chunked without a length, raw with one") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>&) -> future<> {
        auto c = co_await client::connect(addr);
        auto r = co_await c.fetch("/stream");
        REQUIRE(r.header("transfer-encoding") == "chunked");
        REQUIRE(r.body == "part one, " + std::string(20000, 'x') + ", end");
        r = co_await c.fetch("/stream-length");
        REQUIRE(r.header("content-length") == "10");
        REQUIRE(r.body == "0123456789");
        // HTTP/1.0 has no chunked encoding: the body ends with the connection.
        co_await c.send("GET /stream HTTP/1.0\r\n\r\n");
        r = co_await c.read();
        REQUIRE(!r.has("transfer-encoding"));
        REQUIRE(r.body == "part one, " + std::string(20000, 'x') + ", end");
    });
}

REEF_TEST_CASE("HTTP/1.0: closed after the reply unless keep-alive is asked for") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>&) -> future<> {
        auto c = co_await client::connect(addr);
        co_await c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        auto r = co_await c.read();
        REQUIRE(r.header("connection") == "keep-alive");
        co_await c.send("GET / HTTP/1.0\r\n\r\n");
        r = co_await c.read();
        REQUIRE(r.body == "Hello, World!");
        REQUIRE(r.header("connection") == "close");
        REQUIRE(co_await c.closed());
        // A reply asking for the close, in HTTP/1.1.
        auto d = co_await client::connect(addr);
        r = co_await d.fetch("/close");
        REQUIRE(r.header("connection") == "close");
        REQUIRE(co_await d.closed());
    });
}

REEF_TEST_CASE("request and reply headers: lookups ignore case, handlers add their own") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>&) -> future<> {
        auto c = co_await client::connect(addr);
        auto r = co_await c.fetch("/custom", "X-TEST: value\r\n");
        REQUIRE(r.body == "value");
        REQUIRE(r.header("x-reply") == "yes");
        REQUIRE(r.header("server") == "custom");
        std::size_t servers_seen = 0;
        for (auto& h : r.headers) {
            servers_seen += reef::detail::ascii_iequals(h.first, "server");
        }
        REQUIRE(servers_seen == 1);
        co_await c.close();
    });
}

REEF_TEST_CASE("graceful stop: a request in flight finishes, idle connections close") {
    sharded<http::server> servers;
    co_await servers.start(quick_config());
    co_await servers.invoke_on_all([](http::server& s) { test_routes(s.router()); });
    auto addr = co_await http::listen_on_all_shards(servers, loopback());
    std::optional<future<>> stopping;
    auto body = [&]() -> future<> {
        auto busy = co_await client::connect(addr);
        auto idle = co_await client::connect(addr);
        REQUIRE((co_await idle.fetch("/")).status == 200);
        co_await busy.get("/slow");
        while (co_await total(servers, &http::server_stats::requests) < 2) {
            co_await sleep(5ms);  // until the request reaches its handler
        }
        stopping = servers.stop();
        auto r = co_await busy.read();
        REQUIRE(r.status == 200);
        REQUIRE(r.body == "slow");
        REQUIRE(r.header("connection") == "close");
        REQUIRE(co_await busy.closed());
        REQUIRE(co_await idle.closed());
    };
    auto f = co_await coroutine::as_future(body());  // `body` lives in this frame
    co_await (stopping ? std::move(*stopping) : servers.stop());
    if (f.failed()) {
        std::rethrow_exception(f.get_exception());
    }
    // Nothing listens any more.
    auto refused = co_await coroutine::as_future(client::connect(addr));
    REQUIRE(refused.failed());
    refused.ignore_ready_future();
}

REEF_TEST_CASE("static files: content type, validators, 304, ranges and 416") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>&) -> future<> {
        auto c = co_await client::connect(addr);
        auto r = co_await c.fetch("/static/a.txt");
        REQUIRE(r.status == 200);
        REQUIRE(r.body == "hello file");
        REQUIRE(r.header("content-type") == "text/plain; charset=utf-8");
        REQUIRE(r.header("accept-ranges") == "bytes");
        auto etag = r.header("etag").value_or("");
        auto modified = r.header("last-modified").value_or("");
        REQUIRE(etag.size() > 2);
        REQUIRE(modified.size() == 29);

        r = co_await c.fetch("/static/a.txt", fmt::format("If-None-Match: \"x\", {}\r\n", etag));
        REQUIRE(r.status == 304);
        REQUIRE(r.body.empty());
        REQUIRE(r.header("etag") == etag);
        r = co_await c.fetch("/static/a.txt", fmt::format("If-Modified-Since: {}\r\n", modified));
        REQUIRE(r.status == 304);
        r = co_await c.fetch("/static/a.txt", "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n");
        REQUIRE(r.status == 200);
        r = co_await c.fetch("/static/a.txt", "If-None-Match: \"other\"\r\n");
        REQUIRE(r.status == 200);

        r = co_await c.fetch("/static/a.txt", "Range: bytes=0-4\r\n");
        REQUIRE(r.status == 206);
        REQUIRE(r.body == "hello");
        REQUIRE(r.header("content-range") == "bytes 0-4/10");
        r = co_await c.fetch("/static/a.txt", "Range: bytes=-4\r\n");
        REQUIRE(r.body == "file");
        r = co_await c.fetch("/static/a.txt", "Range: bytes=6-\r\n");
        REQUIRE(r.body == "file");
        r = co_await c.fetch("/static/a.txt", "Range: bytes=100-\r\n");
        REQUIRE(r.status == 416);
        REQUIRE(r.header("content-range") == "bytes */10");
        r = co_await c.fetch("/static/a.txt", "Range: bytes=0-1,4-5\r\n");
        REQUIRE(r.status == 200);
        REQUIRE(r.body == "hello file");
        r = co_await c.fetch("/static/a.txt", "Range: bytes=0-4\r\nIf-Range: \"stale\"\r\n");
        REQUIRE(r.status == 200);
        r = co_await c.fetch("/static/a.txt", fmt::format("Range: bytes=0-4\r\nIf-Range: {}\r\n", etag));
        REQUIRE(r.status == 206);

        r = co_await c.fetch("/static/empty.txt");
        REQUIRE(r.status == 200);
        REQUIRE(r.header("content-length") == "0");
        r = co_await c.fetch("/static/missing.txt");
        REQUIRE(r.status == 404);
        co_await c.close();
    });
}

REEF_TEST_CASE("static files: directories, big files streamed, HEAD reads nothing") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>&) -> future<> {
        auto c = co_await client::connect(addr);
        auto r = co_await c.fetch("/static/sub");
        REQUIRE(r.status == 301);
        REQUIRE(r.header("location") == "/static/sub/");
        r = co_await c.fetch("/static/sub/");
        REQUIRE(r.status == 200);
        REQUIRE(r.body == "<p>sub</p>");
        r = co_await c.fetch("/static/with%20space?x=1");
        REQUIRE(r.status == 301);
        REQUIRE(r.header("location") == "/static/with%20space/?x=1");
        r = co_await c.fetch("/static/with%20space/");
        REQUIRE(r.body == "<p>space</p>");
        REQUIRE(r.header("content-type") == "text/html; charset=utf-8");
        r = co_await c.fetch("/static/big.bin");
        REQUIRE(r.status == 200);
        REQUIRE(r.header("content-length") == std::to_string(big_size));
        REQUIRE(r.body.size() == big_size);
        bool same = true;
        for (std::size_t i = 0; i < big_size && same; ++i) {
            same = r.body[i] == big_byte(i);
        }
        REQUIRE(same);
        r = co_await c.fetch("/static/big.bin", "Range: bytes=300000-899999\r\n");
        REQUIRE(r.status == 206);
        REQUIRE(r.body.size() == 600000);
        REQUIRE(r.body[0] == big_byte(300000));
        REQUIRE(r.body.back() == big_byte(899999));
        co_await c.send("HEAD /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
        r = co_await c.read(http::method::head);
        REQUIRE(r.header("content-length") == std::to_string(big_size));
        REQUIRE(r.body.empty());
        REQUIRE((co_await c.fetch("/static/a.txt")).body == "hello file");
        co_await c.close();
    });
}

REEF_TEST_CASE("static files: no way out of the root, with .., %2e%2e or symlinks") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>&) -> future<> {
        auto c = co_await client::connect(addr);
        for (std::string path :
             {"/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/%2E%2E%2Fsecret.txt",
              "/static/sub/..%2f..%2fsecret.txt", "/static/outside-link.txt",
              "/static/outside-dir/secret.txt", "/static/sub/../a.txt"}) {
            INFO(path);
            auto r = co_await c.fetch(path);
            REQUIRE((r.status == 403 || r.status == 404));
            REQUIRE(r.body.find("secret") == std::string::npos);
        }
        auto r = co_await c.fetch("/static/inside-link.txt");
        REQUIRE(r.status == 200);
        REQUIRE(r.body == "hello file");
        co_await c.close();
    });
}

REEF_TEST_CASE("the metrics endpoint answers every shard's metrics with the server's counters") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>&) -> future<> {
        auto c = co_await client::connect(addr);
        REQUIRE((co_await c.fetch("/nothing")).status == 404);
        auto r = co_await c.fetch("/metrics");
        REQUIRE(r.status == 200);
        REQUIRE(r.header("content-type") == "text/plain; version=0.0.4; charset=utf-8");
        REQUIRE(r.body.find("# TYPE http_requests_total counter") != std::string::npos);
        REQUIRE(r.body.find("http_replies_total{class=\"4xx\",server=\"http\",shard=\"") !=
                std::string::npos);
        REQUIRE(r.body.find("http_connections_open{server=\"http\",shard=\"1\"}") != std::string::npos);
        REQUIRE(r.body.find("reactor_tasks_run") != std::string::npos);
        co_await c.close();
    });
}

REEF_TEST_CASE("HTTPS: requests over TLS, with ALPN http/1.1") {
    auto tc = http_test::make_test_cert();
    if (!tc) {
        WARN("REEF_OPENSSL is not set: the HTTPS test is skipped");
        co_return;
    }
    auto& creds = tc->server;
    auto& trust = tc->trust;

    co_await with_server(
        {},
        [&trust](net::socket_address addr, sharded<http::server>&) -> future<> {
            net::tls::tls_options opts;
            opts.server_name = "localhost";
            opts.alpn_protocols = {"http/1.1"};
            auto sock = co_await net::tls::connect(trust, addr, opts);
            auto info = co_await net::tls::get_session_info(sock);
            REQUIRE(info.alpn_protocol == "http/1.1");
            auto c = client::over(std::move(sock));
            auto r = co_await c.fetch("/");
            REQUIRE(r.status == 200);
            REQUIRE(r.body == "Hello, World!");
            co_await c.send(
                "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
            r = co_await c.read();
            REQUIRE(r.body == "abc");
            r = co_await c.fetch("/static/big.bin");
            REQUIRE(r.body.size() == big_size);
            co_await c.close();
        },
        &creds);
}

REEF_TEST_CASE("a client that does not read its reply is cut after write_timeout") {
    co_await with_server(quick_config(),
                         [](net::socket_address addr, sharded<http::server>& servers) -> future<> {
                             auto c = co_await client::connect(addr);
                             co_await c.get("/big");  // 32 MiB: more than the socket buffers hold
                             for (int i = 0; i < 50; ++i) {
                                 co_await sleep(100ms);
                                 if (co_await total(servers, &http::server_stats::connections_open) == 0) {
                                     break;
                                 }
                             }
                             REQUIRE(co_await total(servers, &http::server_stats::connections_open) == 0);
                             REQUIRE(co_await total(servers, &http::server_stats::timeouts) == 1);
                         });
}

REEF_TEST_CASE("max_connections: a shard over its limit closes new connections at once") {
    http::server_config cfg;
    cfg.max_connections = 2;
    sharded<http::server> servers;
    co_await servers.start(cfg);
    co_await servers.invoke_on_all([](http::server& s) { test_routes(s.router()); });
    // Shard 0 alone listens, so that every connection counts against one limit.
    auto addr = servers.local().listen(loopback());
    auto body = [&]() -> future<> {
        auto a = co_await client::connect(addr);
        auto b = co_await client::connect(addr);
        co_await a.get("/");
        co_await b.get("/");
        REQUIRE((co_await a.read()).status == 200);
        REQUIRE((co_await b.read()).status == 200);
        auto refused = co_await client::connect(addr);
        REQUIRE(co_await refused.closed());
        co_await a.close();
        REQUIRE(co_await a.closed());
        while (servers.local().stats().connections_open > 1) {
            co_await sleep(10ms);  // the server is still finishing `a`
        }
        auto again = co_await client::connect(addr);
        REQUIRE((co_await again.fetch("/")).status == 200);
    };
    auto f = co_await coroutine::as_future(body());  // `body` lives in this frame
    co_await servers.stop();
    if (f.failed()) {
        std::rethrow_exception(f.get_exception());
    }
}
