// reef::http::request: what a handler receives: method, target (path decoded, query),
// path parameters of its route, headers (case-insensitive), version, keep-alive, and
// the body as a stream.
//   reef::future<reef::http::reply> h(reef::http::request& req) {
//       auto id = req.param("id");                       // route "/items/{id}"
//       auto body = co_await req.content(1 << 20);       // the whole body, at most 1 MiB
//       co_return reef::http::reply::text(fmt::format("{} {} bytes\n", id, body.size()));
//   }
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <reef/core/future.hh>
#include <reef/core/input_stream.hh>
#include <reef/http/parser.hh>
#include <reef/net/socket_address.hh>

namespace reef::http {}  // namespace reef::http

namespace reef::detail {
/// What a request needs from its connection to read its body (implemented by the
/// server's connection). Internal.
class http_body_reader {
public:
    virtual ~http_body_reader() = default;
    /// A source of the current request's body bytes (decoded, never chunk framing).
    virtual data_source make_body_source() = 0;
};
}  // namespace reef::detail

namespace reef::http {

/// The most path parameters (and the wildcard) one route may capture.
inline constexpr std::size_t max_route_params = 8;

/// One request, valid during its handler's call (until the handler's future resolves):
/// every view it hands out points into the connection's buffers. Copy what must live
/// longer. Owner shard only; not copyable or movable.
class request {
public:
    /// A request over the head `parser` just parsed; `reader` reads its body. For the
    /// server (and tests that drive a parser themselves).
    request(const request_parser& parser, reef::detail::http_body_reader* reader,
            const net::socket_address* remote) noexcept
        : parser_(&parser),
          reader_(reader),
          remote_(remote) {}
    request(const request&) = delete;
    request& operator=(const request&) = delete;
    ~request();

    /// The method.
    http::method method() const noexcept { return parser_->method(); }
    /// The method's token as sent ("GET", "PROPFIND").
    std::string_view method_name() const noexcept { return parser_->method_name(); }
    /// The request target as sent ("/a%20b?x=1").
    std::string_view target() const noexcept { return parser_->target(); }
    /// The path, percent-decoded ("/a b"); "*" for `OPTIONS *`; for an absolute-form
    /// target, its path.
    std::string_view path() const noexcept { return path_; }
    /// The query as sent, without '?' (empty when there is none).
    std::string_view query_string() const noexcept { return query_; }
    /// The decoded value of the first query parameter `name` ('+' is a space), or
    /// nullopt. Allocates the decoded string.
    std::optional<std::string> query_param(std::string_view name) const;

    /// The value of the route's parameter `name` ("{id}"), or "*" for the wildcard
    /// suffix; empty when the route has no such parameter. Decoded.
    std::string_view param(std::string_view name) const noexcept;
    /// The part of the path the route's `*` suffix matched ("" without one).
    std::string_view wildcard() const noexcept { return param("*"); }

    /// Every header field, in order (case-insensitive lookups: headers().get(name)).
    header_list headers() const noexcept { return parser_->headers(); }
    /// The first value of header `name` (case-insensitive), or nullopt.
    std::optional<std::string_view> header(std::string_view name) const noexcept {
        auto v = parser_->headers().get(name);
        return v.data() ? std::optional<std::string_view>(v) : std::nullopt;
    }
    /// The protocol version.
    http_version version() const noexcept { return parser_->version(); }
    /// Whether the client allows another request on this connection (the server may
    /// still close it).
    bool keep_alive() const noexcept { return parser_->keep_alive(); }
    /// How the body is delimited: none, content_length or chunked.
    body_framing framing() const noexcept { return parser_->framing(); }
    /// The Content-Length (nullopt for a chunked body or no body).
    std::optional<std::uint64_t> content_length() const noexcept {
        return parser_->framing() == body_framing::content_length ? std::optional(parser_->content_length())
                                                                  : std::nullopt;
    }
    /// True when the request has a body (possibly empty with Content-Length: 0).
    bool has_body() const noexcept { return parser_->framing() != body_framing::none; }
    /// True when the client sent `Expect: 100-continue`: the server answers 100 when
    /// the body is first read, and not at all when the handler never reads it.
    bool expects_continue() const noexcept { return parser_->expect_continue(); }
    /// The client's address (unspecified for connections without one).
    const net::socket_address& remote_address() const noexcept;

    /// The body, decoded from its framing: read it as a stream; the end of the stream
    /// is the end of the body. Made on the first call (one allocation). Reads fail with
    /// http::body_error (status 400 or 413) on a malformed or too long body, and with
    /// http::request_timeout_error when the client is too slow.
    input_stream<char>& body();
    /// The whole body as a string, failing with body_error(413) when it is longer than
    /// `limit` bytes.
    future<std::string> content(std::size_t limit);

    /// The route machinery records parameters here (up to max_route_params). Internal.
    void set_param(std::string_view name, std::string_view value) noexcept;
    /// The connection sets the decoded path and the query here. Internal.
    void set_path(std::string_view path, std::string_view query) noexcept {
        path_ = path;
        query_ = query;
    }

private:
    const request_parser* parser_;
    reef::detail::http_body_reader* reader_;
    const net::socket_address* remote_;
    std::string_view path_;
    std::string_view query_;
    std::array<std::string_view, max_route_params> param_names_;
    std::array<std::string_view, max_route_params> param_values_;
    std::uint8_t param_count_ = 0;
    std::unique_ptr<input_stream<char>> body_;
};

/// A request body that cannot be read: malformed framing (400) or longer than allowed
/// (413). The server answers `status()` if the handler lets it escape before replying.
class body_error : public std::runtime_error {
public:
    body_error(std::uint16_t status, std::string_view reason);
    /// The status the server answers.
    std::uint16_t status() const noexcept { return status_; }

private:
    std::uint16_t status_;
};

/// The client sent its body too slowly (no bytes within server_config::body_timeout).
/// The server answers 408 and closes the connection if the handler lets it escape.
class request_timeout_error : public std::runtime_error {
public:
    request_timeout_error();
};

}  // namespace reef::http
