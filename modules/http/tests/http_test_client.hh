// A small HTTP/1.1 client for the server tests: raw bytes out (so that tests can send
// anything, pipelined or malformed), responses read back with the module's own
// response_parser. Problems are reported by throwing, never with Catch2 assertions, so
// the helpers may run on any shard.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include <reef/core/coroutine.hh>
#include <reef/http/parser.hh>
#include <reef/net.hh>
#include <reef/reactor/with_timeout.hh>

namespace http_test {

using namespace reef;

/// One response, copied out of the parser.
struct response {
    unsigned status = 0;
    http::http_version version = http::http_version::http_1_1;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    bool keep_alive = true;

    /// The first value of header `name` (case-insensitive), or nullopt.
    std::optional<std::string> header(std::string_view name) const {
        for (auto& [n, v] : headers) {
            if (reef::detail::ascii_iequals(n, name)) {
                return v;
            }
        }
        return std::nullopt;
    }
    bool has(std::string_view name) const { return header(name).has_value(); }
};

/// A connection to the server under test.
class client {
public:
    explicit client(net::connected_socket s)
        : sock_(std::move(s)),
          in_(sock_.input()),
          out_(sock_.output()) {}

    /// Connects to `addr` (within 5 s).
    static future<client> connect(net::socket_address addr) {
        net::connect_options o;
        o.timeout = std::chrono::seconds(5);
        auto s = co_await net::connect(addr, {}, o);
        co_return client(std::move(s));
    }
    /// Wraps an already connected socket (TLS).
    static client over(net::connected_socket s) { return client(std::move(s)); }

    /// Sends `raw` as it is.
    future<> send(std::string_view raw) {
        co_await out_.write(raw);
        co_await out_.flush();
    }

    /// Sends "GET path HTTP/1.1" with a Host field and `extra` header lines.
    future<> get(std::string_view path, std::string_view extra = "") {
        return send(fmt::format("GET {} HTTP/1.1\r\nHost: test\r\n{}\r\n", path, extra));
    }

    /// get(), then read().
    future<response> fetch(std::string_view path, std::string_view extra = "") {
        co_await get(path, extra);
        co_return co_await read();
    }

    /// Reads the next response to a request of method `m` (HEAD: no body), within
    /// `timeout`; interim (1xx) responses are recorded in interim() and skipped, unless
    /// `interim_too`, which returns them. Throws at the end of the stream or on a
    /// malformed response.
    future<response> read(http::method m = http::method::get,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10),
                          bool interim_too = false) {
        parser_.set_request_method(m);
        response r;
        auto deadline = steady_clock_type::now() + timeout;
        for (;;) {
            auto ev = parser_.next();
            switch (ev) {
                case http::parse_event::head_done:
                    r.status = parser_.status();
                    r.version = parser_.version();
                    r.keep_alive = parser_.keep_alive();
                    for (auto f : parser_.headers()) {
                        r.headers.emplace_back(std::string(f.name), std::string(f.value));
                    }
                    break;
                case http::parse_event::body_data: {
                    auto b = parser_.take_body();
                    r.body.append(b.get(), b.size());
                    break;
                }
                case http::parse_event::message_done:
                    if (r.status >= 100 && r.status < 200 && r.status != 101) {
                        interim_.push_back(r.status);
                        if (interim_too) {
                            co_return r;
                        }
                        r = response();
                        continue;
                    }
                    co_return r;
                case http::parse_event::need_more: {
                    auto buf = co_await with_timeout(deadline, in_.read());
                    if (buf.empty()) {
                        parser_.feed_eof();
                    } else {
                        parser_.feed(std::move(buf));
                    }
                    break;
                }
                case http::parse_event::end:
                    throw std::runtime_error("the server closed the connection before a response");
                case http::parse_event::error:
                    throw std::runtime_error(fmt::format("malformed response: {}", parser_.error().reason));
            }
        }
    }

    /// True when the server closes the connection (end of stream, or a reset) within
    /// `timeout` without sending anything more.
    future<bool> closed(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        if (parser_.buffered()) {
            co_return false;
        }
        auto f = co_await coroutine::as_future(with_timeout(steady_clock_type::now() + timeout, in_.read()));
        if (f.failed()) {
            auto e = f.get_exception();
            try {
                std::rethrow_exception(e);
            } catch (const timed_out_error&) {
                co_return false;
            } catch (...) {
                co_return true;  // reset
            }
        }
        co_return f.get().empty();
    }

    /// The interim (1xx) statuses received so far.
    const std::vector<unsigned>& interim() const noexcept { return interim_; }

    /// Closes our side.
    future<> close() {
        auto f = co_await coroutine::as_future(out_.close());
        f.ignore_ready_future();
    }

    net::connected_socket& socket() noexcept { return sock_; }

private:
    net::connected_socket sock_;
    input_stream<char> in_;
    output_stream<char> out_;
    http::response_parser parser_;
    std::vector<unsigned> interim_;
};

}  // namespace http_test
