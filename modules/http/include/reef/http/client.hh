// The HTTP/1.1 client of one shard: a pool of keep-alive connections per (scheme, host,
// port), plain or TLS, with timeouts and one retry of idempotent requests.
//   reef::http::client c;
//   auto resp = co_await c.get("http://127.0.0.1:8080/index.html");
//   std::string body = co_await resp.content();   co_await c.close();
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <reef/core/future.hh>
#include <reef/core/input_stream.hh>
#include <reef/core/output_stream.hh>
#include <reef/core/temporary_buffer.hh>
#include <reef/http/detail/unique_function.hh>
#include <reef/http/parser.hh>
#include <reef/net/tls.hh>

namespace reef::http {

/// Writes a streamed body into the stream it is given (used by the client for request
/// bodies sent with chunked encoding, and by the server for replies).
using body_writer = reef::detail::unique_function<future<>(output_stream<char>&)>;

/// Why a client request failed.
enum class client_errc : std::uint8_t {
    invalid_url,         ///< the URL could not be parsed (or its scheme is not http/https)
    dns,                 ///< the host name could not be resolved
    connection_refused,  ///< nobody listens on the port
    connect_failed,      ///< the connection could not be made for another reason (errno in the message)
    tls,                 ///< the TLS handshake failed (certificate verification included)
    timeout,             ///< the connect timeout or the request deadline passed
    connection_closed,   ///< the server closed or reset the connection before the response ended
    malformed_response,  ///< the response parser refused the response (parse_status() tells which rule)
    too_large,           ///< the body passed the limit given to content()
    protocol,            ///< a response the client does not handle (a 101 upgrade, a redirect to a bad Location)
    too_many_redirects,  ///< more redirects than client_config::max_redirects in a row
};

/// The reason as a word ("timeout", "connection refused", ...).
std::string_view to_string(client_errc e) noexcept;

/// The failure of a client request. Travels inside the future of request() and of body reads.
class client_error : public std::runtime_error {
public:
    client_error(client_errc reason, const std::string& what, std::uint16_t parse_status = 0);
    /// Why the request failed.
    client_errc reason() const noexcept { return reason_; }
    /// For malformed_response: the status the parser's rule maps to (400, 413, 501, ...).
    std::uint16_t parse_status() const noexcept { return parse_status_; }

private:
    client_errc reason_;
    std::uint16_t parse_status_;
};

/// An absolute http or https URL, split. IPv6 literals are written in brackets in the
/// URL ("http://[::1]:8080/") and kept without them in `host`.
struct url {
    bool https = false;
    std::string host;
    std::uint16_t port = 80;
    std::string target = "/";  ///< path and query, never empty

    /// Parses "http[s]://host[:port][/path][?query]" (a fragment is dropped; userinfo
    /// is refused). std::nullopt when the URL is not one of those.
    static std::optional<url> try_parse(std::string_view s);
    /// As try_parse(); throws client_error(invalid_url).
    static url parse(std::string_view s);
    /// A plain-HTTP URL from its parts.
    static url http(std::string host, std::uint16_t port, std::string target = "/");
    /// The scheme, "http" or "https".
    std::string_view scheme() const noexcept { return https ? "https" : "http"; }
    /// The Host field value: the host (bracketed when IPv6) and the port unless default.
    std::string host_field() const;
    /// The URL written back.
    std::string to_string() const;
};

/// Header fields of a request, sent in order as given.
using request_headers = std::vector<std::pair<std::string, std::string>>;

/// A request body: none, a string or buffers (sent with Content-Length), or a writer
/// whose output is sent with chunked encoding (never retried: it cannot be replayed).
using request_body = std::variant<std::monostate, std::string, std::vector<temporary_buffer<char>>, body_writer>;

/// Settings of a client, fixed at construction.
struct client_config {
    /// Connecting (TCP, and the TLS handshake) fails with client_errc::timeout after this.
    std::chrono::milliseconds connect_timeout{10'000};
    /// The default deadline of a whole request, from the call until the body is read
    /// (zero: none). request() may override it.
    std::chrono::milliseconds request_timeout{0};
    /// Idle keep-alive connections kept per (scheme, host, port); the oldest goes first.
    std::size_t max_idle_per_host = 16;
    /// An idle connection older than this is closed rather than reused.
    std::chrono::milliseconds idle_timeout{30'000};
    /// The default limit of response::content().
    std::size_t max_content_size = std::size_t(64) << 20;
    /// Limits of the response parser (head size, body size).
    parser_limits limits;
    /// The trust store for HTTPS; when empty, the system's (loaded at the first HTTPS request).
    std::optional<net::tls::certificate_credentials> trust;
    /// Whether servers' certificates are verified (on unless turned off explicitly).
    net::tls::verification verify = net::tls::verification::on;
    /// Sent as User-Agent unless empty or the request has its own.
    std::string user_agent = "reef";
    /// Redirects (301, 302, 303, 307, 308 with a Location) followed per request before
    /// failing with client_errc::too_many_redirects; 0 (the default): none, the 3xx
    /// response is the result. 303, and 301/302 after a POST, continue with a GET
    /// without the body; 307 and 308 repeat the method and the body (a writer body
    /// cannot be repeated: the 3xx response is then the result). Authorization, Cookie
    /// and Proxy-Authorization are dropped when the scheme, host or port changes.
    unsigned max_redirects = 0;
    /// A request with a body and `Expect: 100-continue` among its headers sends its head
    /// first and its body only after a 100 (Continue), or after this long without an
    /// answer. A final response that comes first is the result and the body is not sent
    /// (the connection is then closed, not pooled).
    std::chrono::milliseconds expect_continue_timeout{1000};
};

/// Counters of one client (its shard).
struct client_stats {
    std::uint64_t requests = 0;             ///< request() calls
    std::uint64_t connections_opened = 0;   ///< connections made (TCP connect succeeded)
    std::uint64_t connections_reused = 0;   ///< requests sent on a pooled connection
    std::uint64_t retries = 0;              ///< requests retried on a fresh connection
    std::uint64_t tls_resumed = 0;          ///< HTTPS connections that resumed an earlier TLS session
    std::uint64_t redirects = 0;            ///< redirects followed
};

namespace detail_client {
struct client_state;
struct connection;
}  // namespace detail_client

/// A response: status line and fields, and the body, read once either whole
/// (content()) or as a stream (body()). The connection goes back to the pool when the
/// body has been read to its end and the connection may be kept; a response destroyed
/// earlier closes it. Owner shard only.
class response {
public:
    response() noexcept;
    response(response&&) noexcept;
    response& operator=(response&&) noexcept;
    ~response();

    std::uint16_t status() const noexcept { return status_; }
    const std::string& reason() const noexcept { return reason_; }
    http_version version() const noexcept { return version_; }
    /// The fields in order as received.
    const std::vector<std::pair<std::string, std::string>>& headers() const noexcept { return headers_; }
    /// The first value of a field, found case-insensitively.
    std::optional<std::string_view> header(std::string_view name) const noexcept;

    /// The body as a stream of decoded bytes (no chunk framing). Fails reads with
    /// client_error (timeout, connection_closed, malformed_response).
    input_stream<char>& body() noexcept { return body_; }
    /// Reads the whole body (what is left of it). Fails with client_error(too_large)
    /// past `limit` bytes (default: client_config::max_content_size).
    future<std::string> content(std::optional<std::size_t> limit = {});
    /// Reads and drops the rest of the body (to let the connection be reused).
    future<> discard();

private:
    friend class client;
    std::uint16_t status_ = 0;
    http_version version_{};
    std::string reason_;
    std::vector<std::pair<std::string, std::string>> headers_;
    std::size_t default_limit_ = 0;
    input_stream<char> body_;
};

/// An HTTP/1.1 client of one shard (make one per shard, e.g. in a sharded<>). Requests
/// may run concurrently; each takes an idle pooled connection or makes one. Call close()
/// before destroying it (in-flight responses keep working; their connections are then
/// closed instead of pooled).
class client {
public:
    explicit client(client_config cfg = {});
    client(const client&) = delete;
    client& operator=(const client&) = delete;
    ~client();

    /// Sends a request and resolves with the response once its head has arrived (the
    /// body is then read through the response), following redirects as
    /// client_config::max_redirects says. `timeout` overrides the config's request
    /// deadline (for each request of a redirect chain). An idempotent method (GET, HEAD, PUT, DELETE, OPTIONS, TRACE) whose
    /// pooled connection turns out closed by the server before any response byte is
    /// retried once on a fresh connection (not with a writer body). Fails with client_error.
    future<response> request(method m, url u, request_headers headers = {}, request_body body = {},
                             std::optional<std::chrono::milliseconds> timeout = {});
    /// As above, with the URL as text.
    future<response> request(method m, std::string_view u, request_headers headers = {},
                             request_body body = {}, std::optional<std::chrono::milliseconds> timeout = {});
    /// GET.
    future<response> get(std::string_view u, request_headers headers = {});
    /// POST with a body sent with Content-Length (and the given Content-Type unless empty).
    future<response> post(std::string_view u, std::string body, std::string content_type = "text/plain");

    /// Closes the idle connections, and makes later-released ones close.
    future<> close();

    const client_stats& stats() const noexcept;
    /// Idle connections in the pool now, over every host.
    std::size_t idle_connections() const noexcept;

private:
    future<response> attempt(method m, const url& u, const request_headers& headers, request_body& body,
                             std::chrono::milliseconds timeout, bool fresh, bool& retryable);
    future<response> send_once(method m, const url& u, const request_headers& headers, request_body& body,
                               std::chrono::milliseconds timeout);
    std::shared_ptr<detail_client::client_state> state_;
};

}  // namespace reef::http
