// The HTTP client (suite 'http', once per backend): URL parsing; against the in-tree
// server: keep-alive reuse, bodies both ways (chunked too), HEAD, 404, large bodies, the
// request deadline, connection refused, the retry after the server closed an idle
// connection, HTTPS with verification; against nginx serving files on 127.0.0.1.
#include <reef/http/client.hh>

#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>

#include <fmt/core.h>

#include <reef/core/coroutine.hh>
#include <reef/core/parallel_for_each.hh>
#include <reef/http/reply.hh>
#include <reef/http/request.hh>
#include <reef/http/routes.hh>
#include <reef/http/server.hh>
#include <reef/net/default_stack.hh>
#include <reef/net/tls.hh>

#include "server_fixture.hh"
#include "test_cert.hh"
#include <reef/reactor/sharded.hh>
#include <reef/reactor/sleep.hh>
#include <reef/testing/test_case.hh>

extern char** environ;

using namespace reef;
using namespace std::chrono_literals;
using http::reply;
using http::request;
using http_test::loopback;
using http_test::total;

namespace {

// Deterministic bytes of a test body (not periodic over short spans).
std::string pattern(std::size_t n, unsigned seed = 1) {
    std::string s(n, '\0');
    std::uint32_t x = seed * 2654435761u + 1;
    for (std::size_t i = 0; i < n; ++i) {
        x = x * 1664525u + 1013904223u;
        s[i] = char(x >> 24);
    }
    return s;
}

future<reply> text(std::string s) {
    return make_ready_future<reply>(reply::text(std::move(s)));
}

void client_routes(http::routes& r) {
    r.get("/", [](request&) { return text("Hello, World!"); });
    r.get("/big", [](request&) { return text(pattern(5 << 20, 7)); });
    r.post("/echo", [](request& req) -> future<reply> {
        auto body = co_await req.content(16 << 20);
        co_return reply::text(std::move(body));
    });
    r.put("/echo", [](request& req) -> future<reply> {
        auto body = co_await req.content(16 << 20);
        co_return reply::text(std::move(body));
    });
    r.post("/framing", [](request& req) {
        return text(fmt::format("cl={} te={}", req.header("content-length").value_or("-"),
                                req.header("transfer-encoding").value_or("-")));
    });
    r.get("/headers", [](request& req) {
        auto rep = reply::text(std::string(req.header("x-test").value_or("missing")));
        rep.set_header("X-Reply", "yes");
        return make_ready_future<reply>(std::move(rep));
    });
    r.get("/stream", [](request&) {
        reply rep;
        rep.write_body("application/octet-stream", [](output_stream<char>& out) -> future<> {
            auto s = pattern(300000, 3);
            for (std::size_t i = 0; i < s.size(); i += 7000) {
                co_await out.write(std::string_view(s).substr(i, 7000));
                co_await out.flush();
            }
        });
        return make_ready_future<reply>(std::move(rep));
    });
    r.get("/close", [](request&) {
        auto rep = reply::text("bye");
        rep.close_connection();
        return make_ready_future<reply>(std::move(rep));
    });
    // /go/{code}?to=LOCATION answers `code` with that Location, for GET and POST alike;
    // /method tells the method and body a redirect arrived with.
    auto go = [](request& req) -> future<reply> {
        (void)co_await req.content(1 << 20);
        auto code = static_cast<http::status_type>(std::stoi(std::string(req.param("code"))));
        co_return reply::redirect(req.query_param("to").value_or("/"), code);
    };
    r.get("/go/{code}", go);
    r.post("/go/{code}", go);
    auto tell = [](request& req) -> future<reply> {
        auto body = co_await req.content(1 << 20);
        co_return reply::text(fmt::format("{} {} auth={}", http::to_string(req.method()), body,
                                          req.header("authorization").value_or("-")));
    };
    r.get("/method", tell);
    r.post("/method", tell);
    r.get("/dir/sub/method", tell);
    r.post("/reject", [](request&) { return make_ready_future<reply>(reply::error(http::status_type::payload_too_large)); });
    r.get("/never", [](request&) -> future<reply> {
        co_await sleep(1500ms);  // "never" within the client's deadline; ends so stop() can
        co_return reply::text("late");
    });
}

template <typename Fn>
future<> with_server(http::server_config cfg, Fn fn, const net::tls::server_credentials* tls = nullptr) {
    return http_test::with_server_routes(std::move(cfg), &client_routes, std::move(fn), tls);
}

std::string base(net::socket_address addr, bool https = false) {
    return fmt::format("{}://127.0.0.1:{}", https ? "https" : "http", addr.port());
}

// Equality of bodies without printing them (binary bytes would garble the TAP output).
bool same(const std::string& a, const std::string& b) {
    return a == b;
}

// Runs `f` and returns the client_error it fails with (or nothing).
template <typename Fut>
future<std::optional<http::client_error>> error_of(Fut f) {
    auto r = co_await coroutine::as_future(std::move(f));
    if (!r.failed()) {
        (void)r.get();
        co_return std::nullopt;
    }
    try {
        std::rethrow_exception(r.get_exception());
    } catch (const http::client_error& e) {
        co_return e;
    }
}

}  // namespace

TEST_CASE("URLs are split into scheme, host, port and target") {
    auto u = http::url::parse("http://example.com/a/b?c=d#frag");
    REQUIRE(!u.https);
    REQUIRE(u.host == "example.com");
    REQUIRE(u.port == 80);
    REQUIRE(u.target == "/a/b?c=d");
    REQUIRE(u.host_field() == "example.com");
    u = http::url::parse("HTTPS://h:8443");
    REQUIRE(u.https);
    REQUIRE(u.port == 8443);
    REQUIRE(u.target == "/");
    REQUIRE(u.host_field() == "h:8443");
    u = http::url::parse("http://[::1]:8080/x");
    REQUIRE(u.host == "::1");
    REQUIRE(u.port == 8080);
    REQUIRE(u.host_field() == "[::1]:8080");
    REQUIRE(u.to_string() == "http://[::1]:8080/x");
    u = http::url::parse("https://[fe80::1]?q");
    REQUIRE(u.port == 443);
    REQUIRE(u.target == "/?q");
    for (auto bad : {"ftp://x/", "http://", "http://:80/", "http://h:0/", "http://h:65536/", "http://h:x/",
                     "http://u@h/", "http://[::1/", "http://[h]/", "http://h/a b", "example.com"}) {
        INFO(bad);
        REQUIRE(!http::url::try_parse(bad));
    }
    REQUIRE_THROWS_AS(http::url::parse("nope"), http::client_error);
}

REEF_TEST_CASE("GETs on one client reuse one keep-alive connection") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>& servers) -> future<> {
        http::client c;
        for (int i = 0; i < 20; ++i) {
            auto r = co_await c.get(base(addr) + "/");
            REQUIRE(r.status() == 200);
            REQUIRE(r.reason() == "OK");
            REQUIRE(r.header("CONTENT-TYPE") == "text/plain");
            REQUIRE(co_await r.content() == "Hello, World!");
        }
        REQUIRE(c.stats().connections_opened == 1);
        REQUIRE(c.stats().connections_reused == 19);
        REQUIRE(co_await total(servers, &http::server_stats::connections_total) == 1);
        REQUIRE(co_await total(servers, &http::server_stats::requests) == 20);
        REQUIRE(c.idle_connections() == 1);
        // A response not read to its end does not go back: its connection closes.
        {
            auto r = co_await c.get(base(addr) + "/big");
            REQUIRE(r.status() == 200);
        }
        REQUIRE(c.idle_connections() == 0);
        auto r = co_await c.get(base(addr) + "/");
        REQUIRE(co_await r.content() == "Hello, World!");
        REQUIRE(c.stats().connections_opened == 2);
        co_await c.close();
    });
}

REEF_TEST_CASE("a name is resolved through the DNS resolver; a bodyless response frees its connection at once") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>&) -> future<> {
        http::client c;
        // localhost comes from /etc/hosts (maybe ::1 first: the next address is tried).
        auto r = co_await c.get(fmt::format("http://localhost:{}/", addr.port()));
        REQUIRE(co_await r.content() == "Hello, World!");
        r = co_await c.request(http::method::head, base(addr) + "/big");
        REQUIRE(r.status() == 200);
        REQUIRE(c.idle_connections() == 2);  // the localhost one and this one, without reading
        auto e = co_await error_of(c.get("http://no-such-host.invalid/"));
        REQUIRE(e);
        REQUIRE(e->reason() == http::client_errc::dns);
        co_await c.close();
        REQUIRE(c.idle_connections() == 0);
    });
}

REEF_TEST_CASE("concurrent requests open connections of their own; the pool keeps max_idle_per_host") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>& servers) -> future<> {
        http::client_config cfg;
        cfg.max_idle_per_host = 4;
        http::client c(cfg);
        std::vector<int> ids(10);
        std::iota(ids.begin(), ids.end(), 0);
        std::size_t ok = 0;
        co_await parallel_for_each(ids, [&](int i) -> future<> {
            auto r = co_await c.post(base(addr) + "/echo", fmt::format("request {}", i));
            if (co_await r.content() == fmt::format("request {}", i)) {
                ++ok;
            }
        });
        REQUIRE(ok == ids.size());
        REQUIRE(c.stats().connections_opened == 10);
        REQUIRE(c.idle_connections() == 4);
        // The next ten, one after the other, use a pooled connection each time.
        for (int i = 0; i < 10; ++i) {
            auto r = co_await c.get(base(addr) + "/");
            co_await r.discard();
        }
        REQUIRE(c.stats().connections_opened == 10);
        REQUIRE(co_await total(servers, &http::server_stats::connections_total) == 10);
        co_await c.close();
    });
}

REEF_TEST_CASE("Connection: close from the server is honoured; headers go both ways") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>& servers) -> future<> {
        http::client c;
        auto r = co_await c.get(base(addr) + "/close");
        REQUIRE(r.header("connection") == "close");
        REQUIRE(co_await r.content() == "bye");
        REQUIRE(c.idle_connections() == 0);
        r = co_await c.get(base(addr) + "/headers", {{"X-Test", "value 1"}});
        REQUIRE(r.header("x-reply") == "yes");
        REQUIRE(co_await r.content() == "value 1");
        REQUIRE(c.stats().connections_opened == 2);
        REQUIRE(co_await total(servers, &http::server_stats::connections_total) == 2);
        co_await c.close();
    });
}

REEF_TEST_CASE("request bodies: a string with Content-Length, buffers, and a writer sent chunked") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>&) -> future<> {
        http::client c;
        auto r = co_await c.post(base(addr) + "/framing", "abc");
        REQUIRE(co_await r.content() == "cl=3 te=-");
        // Framing fields of the caller give way to the body's.
        r = co_await c.request(http::method::post, base(addr) + "/framing",
                               {{"Content-Length", "99"}, {"Transfer-Encoding", "chunked"}}, std::string("abcd"));
        REQUIRE(co_await r.content() == "cl=4 te=-");
        r = co_await c.post(base(addr) + "/echo", "hello body");
        REQUIRE(co_await r.content() == "hello body");

        std::vector<temporary_buffer<char>> bufs;
        bufs.emplace_back(temporary_buffer<char>::copy_of("one "));
        bufs.emplace_back(temporary_buffer<char>::copy_of("two"));
        r = co_await c.request(http::method::put, base(addr) + "/echo", {}, std::move(bufs));
        REQUIRE(co_await r.content() == "one two");

        auto big = pattern(3 << 20, 5);
        http::body_writer w = [&big](output_stream<char>& out) -> future<> {
            for (std::size_t i = 0; i < big.size(); i += 100000) {
                co_await out.write(std::string_view(big).substr(i, 100000));
            }
        };
        r = co_await c.request(http::method::post, base(addr) + "/echo", {}, std::move(w));
        REQUIRE(r.status() == 200);
        REQUIRE(same(co_await r.content(), big));

        http::body_writer w2 = [](output_stream<char>& out) { return out.write("x"); };
        r = co_await c.request(http::method::post, base(addr) + "/framing", {}, std::move(w2));
        REQUIRE(co_await r.content() == "cl=- te=chunked");
        REQUIRE(c.stats().connections_opened == 1);
        co_await c.close();
    });
}

REEF_TEST_CASE("response bodies: chunked streamed, large byte for byte, HEAD and 404") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>&) -> future<> {
        http::client c;
        auto r = co_await c.get(base(addr) + "/stream");
        REQUIRE(r.header("transfer-encoding") == "chunked");
        std::string got;
        std::size_t pieces = 0;
        while (auto b = co_await r.body().read()) {
            got.append(b.get(), b.size());
            ++pieces;
        }
        REQUIRE(same(got, pattern(300000, 3)));
        REQUIRE(pieces > 1);

        r = co_await c.get(base(addr) + "/big");
        REQUIRE(r.header("content-length") == std::to_string(5 << 20));
        REQUIRE(same(co_await r.content(), pattern(5 << 20, 7)));

        r = co_await c.get(base(addr) + "/big");
        auto e = co_await error_of(r.content(1000));
        REQUIRE(e);
        REQUIRE(e->reason() == http::client_errc::too_large);

        r = co_await c.request(http::method::head, base(addr) + "/big");
        REQUIRE(r.status() == 200);
        REQUIRE(r.header("content-length") == std::to_string(5 << 20));
        REQUIRE((co_await r.content()).empty());

        r = co_await c.get(base(addr) + "/nothing-here");
        REQUIRE(r.status() == 404);
        co_await r.discard();
        r = co_await c.get(base(addr) + "/");
        REQUIRE(co_await r.content() == "Hello, World!");
        co_await c.close();
    });
}

REEF_TEST_CASE("redirects: not followed by default, followed up to max_redirects, methods and bodies per code") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>&) -> future<> {
        auto b = base(addr);
        {
            http::client c;  // max_redirects 0: the 3xx is the result
            auto r = co_await c.get(b + "/go/302?to=/");
            REQUIRE(r.status() == 302);
            REQUIRE(r.header("location") == "/");
            co_await r.discard();
            REQUIRE(c.stats().redirects == 0);
            co_await c.close();
        }
        http::client_config cfg;
        cfg.max_redirects = 3;
        http::client c(cfg);
        // Absolute path, absolute URL, relative path with dot segments, a chain.
        auto r = co_await c.get(b + "/go/301?to=/method");
        REQUIRE(co_await r.content() == "GET  auth=-");
        r = co_await c.get(b + "/go/302?to=" + b + "/method");
        REQUIRE(co_await r.content() == "GET  auth=-");
        r = co_await c.get(b + "/go/308?to=../dir/./sub/x/../method");  // /go/../dir/sub/method
        REQUIRE(co_await r.content() == "GET  auth=-");
        r = co_await c.get(b + "/go/302?to=/go/303%3Fto%3D/go/307%253Fto%253D/method");
        REQUIRE(r.status() == 200);
        REQUIRE(co_await r.content() == "GET  auth=-");
        // POST: 301, 302 and 303 continue with a GET without the body; 307 and 308
        // repeat the POST with its body.
        for (int code : {301, 302, 303}) {
            r = co_await c.post(b + fmt::format("/go/{}?to=/method", code), "payload");
            REQUIRE(co_await r.content() == "GET  auth=-");
        }
        for (int code : {307, 308}) {
            r = co_await c.post(b + fmt::format("/go/{}?to=/method", code), "payload");
            REQUIRE(co_await r.content() == "POST payload auth=-");
        }
        // A writer body cannot be sent again: the 307 is the result.
        http::body_writer w = [](output_stream<char>& out) { return out.write("streamed"); };
        r = co_await c.request(http::method::post, b + "/go/307?to=/method", {}, std::move(w));
        REQUIRE(r.status() == 307);
        co_await r.discard();
        // Same host: Authorization goes along.
        r = co_await c.request(http::method::get, b + "/go/302?to=/method", {{"Authorization", "Bearer x"}});
        REQUIRE(co_await r.content() == "GET  auth=Bearer x");
        // Another host name (the same server, as "localhost"): it does not.
        auto other = fmt::format("http://localhost:{}/method", addr.port());
        r = co_await c.request(http::method::get, b + "/go/302?to=" + other, {{"Authorization", "Bearer x"}});
        REQUIRE(co_await r.content() == "GET  auth=-");
        auto redirects_so_far = c.stats().redirects;
        REQUIRE(redirects_so_far >= 11);
        // A loop ends with too_many_redirects after max_redirects hops.
        auto e = co_await error_of(c.get(b + "/go/302?to=/go/302%3Fto%3D/go/302%253Fto%253D/go/302%25253Fto%25253D/"));
        REQUIRE(e);
        REQUIRE(e->reason() == http::client_errc::too_many_redirects);
        REQUIRE(c.stats().redirects == redirects_so_far + 3);
        // A Location that is not a URL fails with protocol.
        e = co_await error_of(c.get(b + "/go/302?to=ftp://example.org/"));
        REQUIRE(e);
        REQUIRE(e->reason() == http::client_errc::protocol);
        co_await c.close();
    });
}

REEF_TEST_CASE("Expect: 100-continue: the body follows a 100, is not sent after a final answer, or goes after the timeout") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>& servers) -> future<> {
        auto b = base(addr);
        http::client_config cfg;
        cfg.expect_continue_timeout = 20s;  // a missing 100 would show as a 20 s test
        http::client c(cfg);
        http::request_headers expect{{"Expect", "100-continue"}};
        // The Reef server sends 100 when the handler reads the body.
        auto r = co_await c.request(http::method::post, b + "/echo", expect, std::string(pattern(200000)));
        REQUIRE(r.status() == 200);
        REQUIRE(same(co_await r.content(), pattern(200000)));
        http::body_writer w = [](output_stream<char>& out) { return out.write(std::string(pattern(5000, 2))); };
        r = co_await c.request(http::method::put, b + "/echo", expect, std::move(w));
        REQUIRE(same(co_await r.content(), pattern(5000, 2)));
        REQUIRE(c.stats().connections_opened == 1);
        // A handler that answers without reading: the final response is the result, the
        // body is never sent, and the connection is not pooled.
        r = co_await c.request(http::method::post, b + "/reject", expect, std::string(1 << 20, 'x'));
        REQUIRE(r.status() == 413);
        co_await r.discard();
        r = co_await c.get(b + "/");
        REQUIRE(co_await r.content() == "Hello, World!");
        REQUIRE(c.stats().connections_opened == 2);
        REQUIRE(co_await total(servers, &http::server_stats::requests) == 4);
        co_await c.close();
    });
    // A server that never sends 100: the body goes after expect_continue_timeout.
    auto s = net::listen(loopback());
    auto served = [&]() -> future<std::string> {
        auto ar = co_await s.accept();
        auto in = ar.connection.input();
        auto out = ar.connection.output();
        std::string got;
        while (got.find("\r\n\r\n") == std::string::npos) {
            auto buf = co_await in.read();
            if (buf.empty()) {
                co_return "(closed)";
            }
            got.append(buf.get(), buf.size());
        }
        auto body = got.substr(got.find("\r\n\r\n") + 4);
        while (body.size() < 6) {
            auto buf = co_await in.read();
            if (buf.empty()) {
                co_return "(closed)";
            }
            body.append(buf.get(), buf.size());
        }
        co_await out.write(fmt::format("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{}", body.size(), body));
        co_await out.close();
        co_return body;
    }();
    http::client_config cfg;
    cfg.expect_continue_timeout = 100ms;
    http::client c(cfg);
    auto r = co_await c.request(http::method::post, fmt::format("http://127.0.0.1:{}/", s.local_address().port()),
                                {{"Expect", "100-continue"}}, std::string("abcdef"));
    REQUIRE(co_await r.content() == "abcdef");
    REQUIRE(co_await std::move(served) == "abcdef");
    co_await c.close();
}

REEF_TEST_CASE("a request past its deadline fails with timeout; a closed port with connection refused") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>&) -> future<> {
        http::client c;
        auto start = std::chrono::steady_clock::now();
        auto e = co_await error_of(c.request(http::method::get, base(addr) + "/never", {}, {}, 200ms));
        auto took = std::chrono::steady_clock::now() - start;
        REQUIRE(e);
        REQUIRE(e->reason() == http::client_errc::timeout);
        REQUIRE(took >= 190ms);
        REQUIRE(took < 1200ms);
        REQUIRE(c.idle_connections() == 0);
        // The client goes on with a fresh connection.
        auto r = co_await c.get(base(addr) + "/");
        REQUIRE(co_await r.content() == "Hello, World!");
        co_await c.close();
    });
    // A port that was just free: nobody listens.
    std::uint16_t port;
    {
        auto s = net::listen(loopback());
        port = s.local_address().port();
    }
    http::client c;
    auto e = co_await error_of(c.get(fmt::format("http://127.0.0.1:{}/", port)));
    REQUIRE(e);
    REQUIRE(e->reason() == http::client_errc::connection_refused);
    e = co_await error_of(c.get("gopher://x/"));
    REQUIRE(e);
    REQUIRE(e->reason() == http::client_errc::invalid_url);
    co_await c.close();
}

REEF_TEST_CASE("an idempotent request on a connection the server closed while idle is retried once") {
    http::server_config cfg;
    cfg.idle_timeout = 200ms;
    co_await with_server(cfg, [](net::socket_address addr, sharded<http::server>& servers) -> future<> {
        http::client c;
        auto r = co_await c.get(base(addr) + "/");
        REQUIRE(co_await r.content() == "Hello, World!");
        REQUIRE(c.idle_connections() == 1);
        co_await sleep(700ms);  // the server's idle timeout closes it
        r = co_await c.get(base(addr) + "/");
        REQUIRE(co_await r.content() == "Hello, World!");
        REQUIRE(c.stats().retries == 1);
        REQUIRE(c.stats().connections_opened == 2);
        REQUIRE(co_await total(servers, &http::server_stats::connections_total) == 2);
        // A POST is not retried: it fails with connection_closed.
        co_await sleep(700ms);
        auto e = co_await error_of(c.post(base(addr) + "/echo", "x"));
        REQUIRE(e);
        REQUIRE(e->reason() == http::client_errc::connection_closed);
        REQUIRE(c.stats().retries == 1);
        co_await c.close();
    });
}

REEF_TEST_CASE("HTTPS: verified against a trust store made at test time, refused without it") {
    auto tc = http_test::make_test_cert();
    if (!tc) {
        WARN("REEF_OPENSSL is not set: the HTTPS test is skipped");
        co_return;
    }
    auto& creds = tc->server;
    auto& trust = tc->trust;

    co_await with_server(
        {},
        [&trust](net::socket_address addr, sharded<http::server>& servers) -> future<> {
            http::client_config cfg;
            cfg.trust = trust;
            http::client c(cfg);
            for (int i = 0; i < 5; ++i) {
                auto r = co_await c.get(base(addr, true) + "/");
                REQUIRE(co_await r.content() == "Hello, World!");
            }
            auto r = co_await c.post(base(addr, true) + "/echo", pattern(200000));
            REQUIRE(same(co_await r.content(), pattern(200000)));
            REQUIRE(c.stats().connections_opened == 1);
            REQUIRE(c.stats().tls_resumed == 0);  // the server issues no tickets
            REQUIRE(co_await total(servers, &http::server_stats::connections_total) == 1);
            co_await c.close();

            // The system's trust store does not know the test certificate.
            http::client strict;
            auto e = co_await error_of(strict.get(base(addr, true) + "/"));
            REQUIRE(e);
            REQUIRE(e->reason() == http::client_errc::tls);
            co_await strict.close();
        },
        &creds);
}

REEF_TEST_CASE("HTTPS: a new connection to the same host resumes the TLS session of an earlier one") {
    auto tc = http_test::make_test_cert();
    if (!tc) {
        WARN("REEF_OPENSSL is not set: the HTTPS test is skipped");
        co_return;
    }
    auto& creds = tc->server;
    auto& trust = tc->trust;
    creds.enable_session_resumption();

    co_await with_server(
        {},
        [&trust](net::socket_address addr, sharded<http::server>&) -> future<> {
            http::client_config cfg;
            cfg.trust = trust;
            cfg.max_idle_per_host = 0;  // every request on a new connection
            http::client c(cfg);
            for (int i = 0; i < 3; ++i) {
                auto r = co_await c.get(base(addr, true) + "/");
                REQUIRE(co_await r.content() == "Hello, World!");
            }
            REQUIRE(c.stats().connections_opened == 3);
            REQUIRE(c.stats().tls_resumed == 2);
            co_await c.close();
            // Another client knows no session: a full handshake.
            http::client fresh(cfg);
            auto r = co_await fresh.get(base(addr, true) + "/");
            REQUIRE(co_await r.content() == "Hello, World!");
            REQUIRE(fresh.stats().tls_resumed == 0);
            co_await fresh.close();
        },
        &creds);
}

namespace {

// Answers one connection of `s` with `answer` after reading a request head, then closes.
future<> serve_once(net::server_socket& s, std::string answer) {
    auto ar = co_await s.accept();
    auto in = ar.connection.input();
    auto out = ar.connection.output();
    std::string got;
    while (got.find("\r\n\r\n") == std::string::npos) {
        auto b = co_await in.read();
        if (b.empty()) {
            break;
        }
        got.append(b.get(), b.size());
    }
    co_await out.write(answer);
    co_await out.close();
}

}  // namespace

REEF_TEST_CASE("raw responses: HTTP/1.0 until close, 1xx skipped, malformed framing, a body cut short") {
    net::listen_options lo;
    lo.balancing = net::load_balancing::this_shard;
    auto s = net::listen(loopback(), lo);
    auto u = fmt::format("http://127.0.0.1:{}/", s.local_address().port());
    http::client c;

    auto srv = serve_once(s, "HTTP/1.0 200 OK\r\nX-A: 1\r\n\r\nuntil close body");
    auto r = co_await c.get(u);
    REQUIRE(r.version() == http::http_version::http_1_0);
    REQUIRE(r.header("x-a") == "1");
    REQUIRE(co_await r.content() == "until close body");
    co_await std::move(srv);
    REQUIRE(c.idle_connections() == 0);

    srv = serve_once(s, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    r = co_await c.get(u);
    REQUIRE(r.status() == 200);
    REQUIRE(co_await r.content() == "ok");
    co_await std::move(srv);

    srv = serve_once(s, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello");
    auto e = co_await error_of(c.get(u));
    REQUIRE(e);
    REQUIRE(e->reason() == http::client_errc::malformed_response);
    REQUIRE(e->parse_status() == 400);
    co_await std::move(srv);

    srv = serve_once(s, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    r = co_await c.get(u);
    e = co_await error_of(r.content());
    REQUIRE(e);
    REQUIRE(e->reason() == http::client_errc::connection_closed);
    co_await std::move(srv);

    co_await c.close();

    // A server that closes without answering: not a pooled connection, so no retry.
    http::client fresh;
    srv = serve_once(s, "");
    e = co_await error_of(fresh.get(u));
    REQUIRE(e);
    REQUIRE(e->reason() == http::client_errc::connection_closed);
    REQUIRE(fresh.stats().retries == 0);
    co_await std::move(srv);
    co_await fresh.close();
}

REEF_TEST_CASE("a TLS handshake that never completes fails with timeout after connect_timeout") {
    // Listening but never accepting: the kernel completes TCP, nobody speaks TLS.
    net::listen_options lo;
    lo.balancing = net::load_balancing::this_shard;
    auto s = net::listen(loopback(), lo);
    http::client_config cfg;
    cfg.connect_timeout = 200ms;
    http::client c(cfg);
    auto start = std::chrono::steady_clock::now();
    auto e = co_await error_of(c.get(fmt::format("https://127.0.0.1:{}/", s.local_address().port())));
    auto took = std::chrono::steady_clock::now() - start;
    REQUIRE(e);
    REQUIRE(e->reason() == http::client_errc::timeout);
    REQUIRE(took < 2s);
    co_await c.close();
}

REEF_TEST_CASE("idle connections are closed after idle_timeout by the pool's sweep") {
    co_await with_server({}, [](net::socket_address addr, sharded<http::server>& servers) -> future<> {
        http::client_config cfg;
        cfg.idle_timeout = 100ms;
        http::client c(cfg);
        auto r = co_await c.get(base(addr) + "/");
        co_await r.discard();
        REQUIRE(c.idle_connections() == 1);
        for (int i = 0; i < 50 && c.idle_connections() != 0; ++i) {
            co_await sleep(20ms);
        }
        REQUIRE(c.idle_connections() == 0);
        for (int i = 0; i < 50 && co_await total(servers, &http::server_stats::connections_open) != 0; ++i) {
            co_await sleep(20ms);
        }
        REQUIRE(co_await total(servers, &http::server_stats::connections_open) == 0);
        co_await c.close();
    });
}

namespace {

// nginx serving a temporary directory on 127.0.0.1 (foreground, no master process);
// stopped and its directory removed by the destructor, whatever the test did.
struct nginx_instance {
    std::filesystem::path dir;
    pid_t pid = -1;
    std::uint16_t port = 0;

    ~nginx_instance() {
        if (pid > 0) {
            ::kill(pid, SIGTERM);
            int status = 0;
            for (int i = 0; i < 200 && ::waitpid(pid, &status, WNOHANG) == 0; ++i) {
                ::usleep(10000);
            }
            if (::waitpid(pid, &status, WNOHANG) == 0) {
                ::kill(pid, SIGKILL);
                ::waitpid(pid, &status, 0);
            }
        }
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

std::string nginx_program() {
    const char* p = std::getenv("REEF_NGINX");
    if (p) {
        return p;
    }
    for (auto c : {"/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"}) {
        if (::access(c, X_OK) == 0) {
            return c;
        }
    }
    return "";
}

}  // namespace

REEF_TEST_CASE("against nginx: files byte for byte, keep-alive over many requests, ranges, 404") {
    auto program = nginx_program();
    if (program.empty()) {
        WARN("nginx not found: the nginx test is skipped");
        co_return;
    }
    nginx_instance ng;
    char tmpl[] = "/tmp/reef-hclient-nginx-XXXXXX";
    ng.dir = ::mkdtemp(tmpl);
    std::filesystem::create_directories(ng.dir / "www" / "sub");
    std::filesystem::create_directories(ng.dir / "tmp");
    std::filesystem::create_directories(ng.dir / "logs");
    auto big = pattern(4 << 20, 11);
    std::ofstream(ng.dir / "www" / "big.bin", std::ios::binary) << big;
    std::ofstream(ng.dir / "www" / "small.txt") << "small file\n";
    std::ofstream(ng.dir / "www" / "sub" / "index.html") << "<p>index</p>";
    {
        auto s = net::listen(loopback());
        ng.port = s.local_address().port();
    }
    auto d = ng.dir.string();
    std::ofstream(ng.dir / "nginx.conf") << fmt::format(R"(daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/logs/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    default_type application/octet-stream;
    keepalive_requests 10000;
    server {{
        listen 127.0.0.1:{port};
        root {d}/www;
    }}
}}
)",
                                                        fmt::arg("d", d), fmt::arg("port", ng.port));
    std::string conf = d + "/nginx.conf";
    std::string errlog = d + "/logs/error.log";
    const char* argv[] = {program.c_str(), "-p", d.c_str(), "-c", conf.c_str(), "-e", errlog.c_str(), nullptr};
    REQUIRE(::posix_spawn(&ng.pid, program.c_str(), nullptr, nullptr, const_cast<char* const*>(argv), environ) ==
            0);

    http::client c;
    auto root = fmt::format("http://127.0.0.1:{}", ng.port);
    // Wait for nginx to listen.
    bool up = false;
    for (int i = 0; i < 100 && !up; ++i) {
        auto f = co_await coroutine::as_future(c.get(root + "/small.txt"));
        if (!f.failed()) {
            auto r = f.get();
            co_await r.discard();
            up = true;
        } else {
            (void)f.get_exception();
            co_await sleep(50ms);
        }
    }
    if (!up) {
        std::ifstream log(errlog);
        std::stringstream s;
        s << log.rdbuf();
        FAIL("nginx did not start: " << s.str());
    }
    auto opened = c.stats().connections_opened;

    auto r = co_await c.get(root + "/big.bin");
    REQUIRE(r.status() == 200);
    REQUIRE(r.header("content-length") == std::to_string(big.size()));
    REQUIRE(same(co_await r.content(), big));
    for (int i = 0; i < 200; ++i) {
        r = co_await c.get(root + "/small.txt");
        REQUIRE(r.status() == 200);
        REQUIRE(co_await r.content() == "small file\n");
    }
    r = co_await c.get(root + "/sub/");
    REQUIRE(co_await r.content() == "<p>index</p>");
    r = co_await c.get(root + "/big.bin", {{"Range", "bytes=1000-1999"}});
    REQUIRE(r.status() == 206);
    REQUIRE(r.header("content-range") == fmt::format("bytes 1000-1999/{}", big.size()));
    REQUIRE(same(co_await r.content(), big.substr(1000, 1000)));
    r = co_await c.get(root + "/big.bin", {{"Range", "bytes=-10"}});
    REQUIRE(r.status() == 206);
    REQUIRE(same(co_await r.content(), big.substr(big.size() - 10)));
    r = co_await c.request(http::method::head, root + "/big.bin");
    REQUIRE(r.header("content-length") == std::to_string(big.size()));
    REQUIRE((co_await r.content()).empty());
    r = co_await c.get(root + "/missing.txt");
    REQUIRE(r.status() == 404);
    co_await r.discard();
    r = co_await c.get(root + "/small.txt");
    REQUIRE(co_await r.content() == "small file\n");
    // Every request after the first went over the one connection.
    REQUIRE(c.stats().connections_opened == opened);
    co_await c.close();
}
