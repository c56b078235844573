// reef::http::reply: what a handler answers: a status, headers, and a body held whole
// (string, buffers) or written later by a coroutine (streamed, chunked when its length
// is unknown).
//   co_return reef::http::reply::text("Hello, World!");
//   co_return reef::http::reply::json({{"message", "Hello, World!"}});
//   reef::http::reply r;  r.write_body("text/csv", [](reef::output_stream<char>& out) -> reef::future<> { ...
//   });
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include <reef/core/future.hh>
#include <reef/core/output_stream.hh>
#include <reef/core/temporary_buffer.hh>
#include <reef/http/detail/unique_function.hh>

namespace reef::http {

/// A reply status code. Any code from 100 to 599 may be used (cast it); the named ones
/// have their reason phrase in the status line, others get a generic one.
enum class status_type : std::uint16_t {
    continue_ = 100,
    switching_protocols = 101,
    ok = 200,
    created = 201,
    accepted = 202,
    no_content = 204,
    partial_content = 206,
    moved_permanently = 301,
    found = 302,
    see_other = 303,
    not_modified = 304,
    temporary_redirect = 307,
    permanent_redirect = 308,
    bad_request = 400,
    unauthorized = 401,
    forbidden = 403,
    not_found = 404,
    method_not_allowed = 405,
    not_acceptable = 406,
    request_timeout = 408,
    conflict = 409,
    gone = 410,
    length_required = 411,
    precondition_failed = 412,
    payload_too_large = 413,
    uri_too_long = 414,
    unsupported_media_type = 415,
    range_not_satisfiable = 416,
    expectation_failed = 417,
    unprocessable_entity = 422,
    too_many_requests = 429,
    request_header_fields_too_large = 431,
    internal_server_error = 500,
    not_implemented = 501,
    bad_gateway = 502,
    service_unavailable = 503,
    gateway_timeout = 504,
    http_version_not_supported = 505,
};

/// The reason phrase of `s` ("OK", "Not Found"); a generic phrase for unnamed codes.
std::string_view reason_phrase(status_type s) noexcept;

/// "HTTP/1.1 200 OK\r\n": precomputed for every code from 100 to 599 (codes outside
/// that range give the 500 line). Never allocates after the first call.
std::string_view status_line(status_type s) noexcept;

/// Writes a streamed body into `out` (which encodes it as the connection needs:
/// chunked, or raw up to a declared length). The writer must not close `out`; the
/// server does. A failure after the first bytes went out ends the connection.
using body_writer = reef::detail::unique_function<future<>(output_stream<char>&)>;

/// A reply. Move-only. Headers the server manages itself are refused by set_header()
/// and add_header() (Content-Length, Transfer-Encoding) or mapped to flags
/// (`Connection: close`); a handler's own `Date` or `Server` replaces the server's.
class reply {
public:
    /// 200 with an empty body.
    reply() noexcept = default;
    /// `s` with an empty body.
    explicit reply(status_type s) noexcept : status_(s) {}
    /// `s` with `body` and its content type.
    reply(status_type s, std::string body, std::string_view content_type = "text/plain");

    reply(reply&&) noexcept = default;
    reply& operator=(reply&&) noexcept = default;
    reply(const reply&) = delete;
    reply& operator=(const reply&) = delete;
    ~reply() = default;

    /// A text/plain reply.
    static reply text(std::string body, status_type s = status_type::ok);
    /// A text/html reply.
    static reply html(std::string body, status_type s = status_type::ok);
    /// An application/json reply holding `value.dump()`.
    static reply json(const nlohmann::json& value, status_type s = status_type::ok);
    /// A reply with `s`, a short text/plain body naming it ("404 Not Found\n").
    static reply error(status_type s);
    /// A redirect (301, 302, 303, 307, 308) to `location`.
    static reply redirect(std::string_view location, status_type s = status_type::found);

    /// The status.
    status_type status() const noexcept { return status_; }
    /// Sets the status.
    reply& set_status(status_type s) noexcept {
        status_ = s;
        return *this;
    }

    /// Sets header `name` to `value`, replacing any value it had (names compare without
    /// case). Throws std::invalid_argument for Content-Length, Transfer-Encoding, a name
    /// that is not a token, or CR/LF in the value. `Connection: close` sets
    /// close_connection(); `Content-Type` is set_content_type().
    reply& set_header(std::string_view name, std::string_view value);
    /// Adds header `name: value` after the others (repeats allowed); as set_header().
    reply& add_header(std::string_view name, std::string_view value);
    /// The first value of header `name`, if set (Content-Type included).
    std::optional<std::string_view> get_header(std::string_view name) const noexcept;
    /// Removes every value of header `name`.
    reply& remove_header(std::string_view name) noexcept;

    /// Sets the Content-Type. Types up to 63 bytes are kept without allocating.
    reply& set_content_type(std::string_view type);
    /// The Content-Type, empty when none is set.
    std::string_view content_type() const noexcept;

    /// The body as a string (Content-Length).
    reply& set_body(std::string body) noexcept;
    /// The body as a string, with its content type.
    reply& set_body(std::string body, std::string_view content_type);
    /// The body as buffers sent without a copy (Content-Length).
    reply& set_body(std::vector<temporary_buffer<char>> buffers) noexcept;
    /// The body as one buffer sent without a copy (Content-Length).
    reply& set_body(temporary_buffer<char> buffer);
    /// A streamed body: `writer` is called after the headers are sent. With `length`,
    /// it must write exactly that many bytes (Content-Length; the connection is closed
    /// otherwise); without, the body is sent chunked to HTTP/1.1 clients and delimited
    /// by closing the connection for HTTP/1.0 ones.
    reply& write_body(std::string_view content_type, body_writer writer,
                      std::optional<std::uint64_t> length = std::nullopt);

    /// The string body (empty for other kinds).
    const std::string& body() const noexcept { return body_; }
    /// Mutable access to the string body.
    std::string& body() noexcept { return body_; }
    /// The buffers of a buffer body.
    const std::vector<temporary_buffer<char>>& buffers() const noexcept { return buffers_; }
    /// True when the body is streamed by a writer.
    bool streamed() const noexcept { return bool(writer_); }
    /// The declared length of a streamed body, if any.
    std::optional<std::uint64_t> streamed_length() const noexcept { return writer_length_; }
    /// The length of a string or buffer body.
    std::uint64_t body_size() const noexcept;

    /// Asks the server to close the connection after this reply (`Connection: close`).
    reply& close_connection(bool yes = true) noexcept {
        close_ = yes;
        return *this;
    }
    /// True when the connection closes after this reply.
    bool closes_connection() const noexcept { return close_; }

    /// The serialized extra headers ("Name: value\r\n" each), as the server writes them.
    std::string_view raw_headers() const noexcept { return headers_; }
    /// True when the handler set its own Date / Server header.
    bool has_own_date() const noexcept { return own_date_; }
    bool has_own_server() const noexcept { return own_server_; }
    /// Takes the buffers of a buffer body out (for the server).
    std::vector<temporary_buffer<char>> take_buffers() noexcept { return std::move(buffers_); }
    /// Takes the writer out (for the server).
    body_writer take_writer() noexcept { return std::move(writer_); }

private:
    static constexpr std::size_t inline_type_size = 63;
    void check_header(std::string_view name, std::string_view value) const;
    // Returns true when `name` is one the reply keeps apart from headers_.
    bool special_header(std::string_view name, std::string_view value);

    status_type status_ = status_type::ok;
    bool close_ = false;
    bool own_date_ = false;
    bool own_server_ = false;
    std::uint8_t type_len_ = 0;                    // bytes of content type in type_ (when not in long_type_)
    char type_[inline_type_size]{};                // the Content-Type when short (no allocation)
    std::string long_type_;                        // the Content-Type when longer than type_
    std::string headers_;                          // "Name: value\r\n" for every other header
    std::string body_;                             // a string body
    std::vector<temporary_buffer<char>> buffers_;  // a buffer body
    body_writer writer_;                           // a streamed body
    std::optional<std::uint64_t> writer_length_;
};

}  // namespace reef::http
