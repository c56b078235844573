// The HTTP/1.1 message parser (RFC 9112): an incremental push parser for requests and
// responses, fed with temporary_buffers, that hands out the head as views and the body
// as zero-copy slices of the input. Strict: ambiguous framing is refused with a status.
//   reef::http::request_parser p;
//   p.feed(std::move(buf));
//   for (auto ev = p.next(); ev != reef::http::parse_event::need_more; ev = p.next()) {
//       if (ev == reef::http::parse_event::head_done) { use(p.method(), p.target(), p.headers()); }
//       else if (ev == reef::http::parse_event::body_data) { consume(p.take_body()); }
//       else if (ev == reef::http::parse_event::message_done) { /* answer; next message */ }
//       else { answer_and_close(p.error().status, p.error().reason); break; }
//   }
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>
#include <vector>

#include <reef/core/temporary_buffer.hh>
#include <reef/http/detail/ascii.hh>
#include <reef/http/detail/byte_arena.hh>

namespace reef::detail {
/// Where a field line's name and value sit, as offsets from the start of their section.
struct field_offsets {
    std::uint32_t name_offset;
    std::uint32_t name_size;
    std::uint32_t value_offset;
    std::uint32_t value_size;
};
}  // namespace reef::detail

namespace reef::http {

/// Request methods that have a name of their own; `other` is any other token (read it
/// from request_parser::method_name()). Methods are case-sensitive: "get" is `other`.
enum class method : std::uint8_t { get, head, post, put, delete_, connect, options, trace, patch, other };

/// The method's token ("GET", ...); "" for method::other.
std::string_view to_string(method m) noexcept;

/// The protocol version of a message. HTTP/1.2 to 1.9 are read as 1.1 (RFC 9110 §6.2);
/// any other major version is refused with 505.
enum class http_version : std::uint8_t { http_1_0, http_1_1 };

/// How the body of a message is delimited.
enum class body_framing : std::uint8_t {
    none,            ///< no body (no framing field, HEAD response, 1xx/204/304, ...)
    content_length,  ///< exactly content_length() bytes
    chunked,         ///< Transfer-Encoding: chunked; chunk data handed out, trailers kept
    until_close,     ///< a response without framing: the body ends when the stream ends
};

/// What next() stopped at.
enum class parse_event : std::uint8_t {
    need_more,     ///< every fed byte is used: feed() more, or feed_eof()
    head_done,     ///< start line and header section parsed: the head accessors are valid
    body_data,     ///< a piece of the body (never empty) waits in take_body()
    message_done,  ///< the message is complete (trailers parsed); the next one may follow
    end,           ///< the stream ended cleanly between two messages (after feed_eof())
    error,         ///< the input is refused: error() says why; the parser stays here
};

/// Bounds on what one message may make the parser hold or accept. The defaults suit a
/// server facing the Internet.
struct parser_limits {
    /// Bytes of the request or status line, CRLF included. Beyond: 414 when the
    /// request target is what is too long, 400 otherwise. Empty lines before a request
    /// line count too.
    std::size_t max_start_line = 8 * 1024;
    /// Bytes of the header section after the start line (every field line and the
    /// final empty line, CRLFs included). Beyond: 431. The trailer section has its own
    /// budget of the same size.
    std::size_t max_header_bytes = 16 * 1024;
    /// Field lines in the header section (and, separately, in the trailer section).
    /// Beyond: 431.
    std::size_t max_header_count = 100;
    /// Bytes of a body, whatever its framing (a Content-Length above it is refused
    /// before any body byte is read). Beyond: 413.
    std::uint64_t max_body_size = std::uint64_t(1) << 30;
    /// Bytes of one chunk-size line (size, extensions, CRLF). Beyond: 400.
    std::size_t max_chunk_line = 1024;
};

/// Why the input was refused: the status a server answers with (400, 413, 414, 431,
/// 501 or 505) and a short reason (a static string). A default one (status 0) means no
/// error. The response parser uses the same statuses: a client treats any of them as a
/// malformed response.
struct parse_error {
    std::uint16_t status = 0;
    std::string_view reason;
    explicit operator bool() const noexcept { return status != 0; }
};

/// One field line: name and value as they arrived (the value without surrounding
/// whitespace). Views into the parser's input or arena; see message_parser for how
/// long they live.
struct header_field {
    std::string_view name;
    std::string_view value;
};

/// The field lines of a header or trailer section, in arrival order, with
/// case-insensitive lookups. A cheap view (three words): copy it freely while the
/// parser's head stays valid. Lookups scan linearly and never allocate.
class header_list {
public:
    class iterator {
    public:
        using iterator_category = std::random_access_iterator_tag;
        using value_type = header_field;
        using difference_type = std::ptrdiff_t;
        using reference = header_field;
        using pointer = void;

        iterator() noexcept = default;
        header_field operator*() const noexcept { return make_field(base_, *at_); }
        iterator& operator++() noexcept {
            ++at_;
            return *this;
        }
        iterator operator++(int) noexcept {
            iterator r = *this;
            ++at_;
            return r;
        }
        difference_type operator-(const iterator& o) const noexcept { return at_ - o.at_; }
        friend bool operator==(const iterator&, const iterator&) noexcept = default;

    private:
        friend class header_list;
        iterator(const char* base, const detail::field_offsets* at) noexcept : base_(base), at_(at) {}
        const char* base_ = nullptr;
        const detail::field_offsets* at_ = nullptr;
    };

    header_list() noexcept = default;
    header_list(const char* base, const detail::field_offsets* fields, std::size_t count) noexcept
        : base_(base),
          fields_(fields),
          count_(count) {}

    /// Number of field lines.
    std::size_t size() const noexcept { return count_; }
    bool empty() const noexcept { return count_ == 0; }
    /// Field line `i` (i < size()).
    header_field operator[](std::size_t i) const noexcept { return make_field(base_, fields_[i]); }
    iterator begin() const noexcept { return {base_, fields_}; }
    iterator end() const noexcept { return {base_, fields_ + count_}; }

    /// The value of the first field named `name` (ASCII case-insensitive), or an empty
    /// view with a null data() when there is none (an empty value has a non-null data()).
    std::string_view get(std::string_view name) const noexcept {
        for (std::size_t i = 0; i < count_; ++i) {
            if (name_is(fields_[i], name)) {
                return value_of(fields_[i]);
            }
        }
        return {};
    }
    /// True when a field named `name` is present.
    bool contains(std::string_view name) const noexcept { return get(name).data() != nullptr; }
    /// Number of fields named `name`.
    std::size_t count(std::string_view name) const noexcept {
        std::size_t n = 0;
        for (std::size_t i = 0; i < count_; ++i) {
            n += name_is(fields_[i], name);
        }
        return n;
    }
    /// Calls `fn(value)` for each field named `name`, in order (for list fields that
    /// arrive on several lines).
    template <typename Fn>
    void for_each(std::string_view name, Fn&& fn) const {
        for (std::size_t i = 0; i < count_; ++i) {
            if (name_is(fields_[i], name)) {
                fn(value_of(fields_[i]));
            }
        }
    }

private:
    static header_field make_field(const char* base, const detail::field_offsets& f) noexcept {
        return {{base + f.name_offset, f.name_size}, {base + f.value_offset, f.value_size}};
    }
    bool name_is(const detail::field_offsets& f, std::string_view name) const noexcept {
        return f.name_size == name.size() &&
               detail::ascii_iequals({base_ + f.name_offset, f.name_size}, name);
    }
    std::string_view value_of(const detail::field_offsets& f) const noexcept {
        return {base_ + f.value_offset, f.value_size};
    }

    const char* base_ = nullptr;
    const detail::field_offsets* fields_ = nullptr;
    std::size_t count_ = 0;
};

/// What request_parser and response_parser share: feeding, events, the header section,
/// framing, keep-alive and the body. Not used alone.
///
/// Use: feed() a buffer, then call next() until it returns need_more (feed the next
/// buffer), end or error. Per message the events are head_done, body_data (zero or
/// more), message_done. A message's head (start line, headers(), flags) is valid from
/// head_done until next() is called after message_done (the start of the next message),
/// reset() or destruction; trailers() from message_done for as long. Views handed out
/// point into the fed buffers (the parser keeps them alive) or, when a head arrived
/// split across buffers, into the parser's arena: copy what must outlive the message.
///
/// Contract: owner thread only; not copyable (movable when no head is valid). next()
/// never throws except std::bad_alloc from the arena or the field table (both reused
/// across messages, bounded by the limits). The parser never reads ahead of the
/// message it parses: after message_done, buffered() bytes belong to the next message.
class message_parser {
public:
    message_parser(const message_parser&) = delete;
    message_parser& operator=(const message_parser&) = delete;
    message_parser(message_parser&&) noexcept = default;
    message_parser& operator=(message_parser&&) noexcept = default;
    ~message_parser() = default;

    /// Hands over the next bytes of the stream. Requires that next() returned
    /// need_more since the last feed() (every fed byte is used). An empty buffer is
    /// ignored (use feed_eof() for the end of the stream). Does not allocate.
    void feed(temporary_buffer<char> buf) noexcept;
    /// The stream has ended: next() then finishes a body framed until_close, reports
    /// `end` between messages, or an error (400, "connection closed inside a message")
    /// inside one.
    void feed_eof() noexcept;

    /// Parses up to the next event and returns it. Consumes only bytes of the current
    /// message. After `error`, returns `error` again; after `end`, `end` again.
    parse_event next();

    /// The body piece of the last body_data event: a zero-copy slice of a fed buffer.
    /// Taking it is optional (an untaken piece is dropped by the next next()).
    temporary_buffer<char> take_body() noexcept { return std::move(body_); }

    /// Why the parser stopped at `error` (status 0 otherwise).
    const parse_error& error() const noexcept { return error_; }

    /// The header section of the current message.
    header_list headers() const noexcept { return {head_base(), fields_.data(), fields_.size()}; }
    /// The trailer section of a chunked message (valid from message_done; empty
    /// otherwise).
    header_list trailers() const noexcept {
        return {trailer_arena_.data(), trailer_fields_.data(), trailer_fields_.size()};
    }
    /// The message's protocol version.
    http_version version() const noexcept { return version_; }
    /// Whether the connection may carry another message after this one: HTTP/1.1
    /// unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive` (and no
    /// `close`); never after a body framed until_close.
    bool keep_alive() const noexcept { return keep_alive_; }
    /// `Connection` lists `upgrade` (the `Upgrade` field says to what).
    bool connection_upgrade() const noexcept { return upgrade_; }
    /// How the body is delimited (valid from head_done).
    body_framing framing() const noexcept { return framing_; }
    /// The Content-Length value when the field is present (a HEAD response's too), else 0.
    std::uint64_t content_length() const noexcept { return content_length_; }

    /// Bytes fed but not yet consumed (after message_done: the start of the next message).
    std::size_t buffered() const noexcept { return in_.size(); }
    /// Bytes consumed since construction or reset().
    std::uint64_t consumed() const noexcept { return consumed_; }
    /// Takes the bytes fed but not consumed (for a protocol upgrade, a tunnel, or to
    /// hand them back to a stream). Zero-copy: a slice of the last fed buffer.
    temporary_buffer<char> release_unconsumed();

    /// Back to the initial state: input, head and error dropped; limits and arena
    /// capacity kept.
    void reset() noexcept;

    /// The limits this parser enforces.
    const parser_limits& limits() const noexcept { return limits_; }

protected:
    enum class role : std::uint8_t { request, response };
    message_parser(role r, const parser_limits& limits) noexcept;

    // Where the current head's offsets count from.
    const char* head_base() const noexcept { return head_in_arena_ ? arena_.data() : head_ptr_; }
    std::string_view head_slice(std::uint32_t offset, std::uint32_t size) const noexcept {
        return {head_base() + offset, size};
    }

private:
    // Where next() is in the message (see parser.cc).
    enum class stage : std::uint8_t {
        idle,
        start_line,
        header_lines,
        body_length,
        chunk_line,
        chunk_data,
        chunk_data_end,
        trailer_lines,
        body_until_close,
        message_complete,
        ended,
        failed,
    };

    parse_event fail(std::uint16_t status, std::string_view reason) noexcept;
    parse_event parse_lines(bool trailer);
    parse_event line_too_long(bool trailer, const char* more, std::size_t more_size);
    parse_event on_head_line(const char* line, std::size_t size, std::uint32_t offset);
    parse_event parse_request_line(const char* line, std::size_t size, std::uint32_t offset) noexcept;
    parse_event parse_status_line(const char* line, std::size_t size, std::uint32_t offset) noexcept;
    parse_event parse_field_line(const char* line, std::size_t size, std::uint32_t offset, bool trailer);
    bool parse_field_line_fast(parse_event& ev);
    parse_event on_framing_field(std::string_view name, std::string_view value) noexcept;
    parse_event finish_head() noexcept;
    parse_event finish_request_head() noexcept;
    parse_event finish_response_head() noexcept;
    parse_event parse_chunk_line() noexcept;
    parse_event parse_chunk_data_end() noexcept;
    parse_event take_body_bytes(std::uint64_t max) noexcept;
    void begin_message() noexcept;
    void clear_message() noexcept;
    void restart_head() noexcept;
    void consume(std::size_t n) noexcept {
        in_.trim_front(n);
        consumed_ += n;
    }

    parser_limits limits_;
    role role_;
    stage stage_ = stage::idle;
    bool eof_ = false;

    temporary_buffer<char> in_;    // the unconsumed rest of the last fed buffer
    temporary_buffer<char> held_;  // the fed buffer the head lies in, once in_ moved on
    temporary_buffer<char> body_;  // the piece of the last body_data event

    // The head: offsets count from head_base(). While it lies whole in one fed buffer,
    // that is head_ptr_ (zero-copy); once it straddles two buffers it is copied into
    // arena_ and stays there until the message ends.
    const char* head_ptr_ = nullptr;
    bool head_in_arena_ = false;
    bool head_in_input_ = false;     // head_ptr_ points into in_'s memory (not into held_'s)
    std::uint32_t head_size_ = 0;    // bytes of the head in complete lines
    std::uint32_t line_budget_ = 0;  // bytes the current section may still take
    detail::byte_arena arena_;
    std::vector<detail::field_offsets> fields_;

    // The trailer section, always copied (it is rare).
    detail::byte_arena trailer_arena_;
    std::vector<detail::field_offsets> trailer_fields_;
    std::uint32_t trailer_size_ = 0;  // bytes of trailer_arena_ in complete lines

protected:
    // Start line, as offsets from head_base(): method or version token, target or
    // status code, reason phrase.
    std::uint32_t token_offset_ = 0, token_size_ = 0;
    std::uint32_t target_offset_ = 0, target_size_ = 0;
    std::uint32_t reason_offset_ = 0, reason_size_ = 0;
    method method_ = method::get;
    method request_method_ = method::get;  // response parser: the method of the request answered
    std::uint16_t status_ = 0;
    bool expect_continue_ = false;

private:
    http_version version_ = http_version::http_1_1;
    body_framing framing_ = body_framing::none;
    bool keep_alive_ = true;
    bool upgrade_ = false;

    // Framing fields seen in the current head.
    bool conn_close_ = false, conn_keep_alive_ = false;
    bool has_content_length_ = false, has_transfer_encoding_ = false;
    bool te_chunked_last_ = false, te_chunked_seen_ = false, te_unknown_ = false, te_chunked_twice_ = false;
    std::uint8_t host_count_ = 0;

    std::uint64_t content_length_ = 0;
    std::uint64_t remaining_ = 0;   // bytes left in the Content-Length body or the chunk
    std::uint64_t body_total_ = 0;  // body bytes so far (max_body_size)
    std::uint64_t chunk_size_ = 0;  // the chunk-size being read
    std::uint32_t chunk_line_size_ = 0;
    std::uint8_t chunk_state_ = 0;  // position inside a chunk-size line or a chunk's CRLF

    parse_error error_;
    std::uint64_t consumed_ = 0;
};

/// Parses requests: GET / HTTP/1.1 ... Errors carry the status the server answers with,
/// after which it closes the connection. HTTP/1.1 requests need exactly one Host field.
class request_parser : public message_parser {
public:
    /// A parser enforcing `limits`. Does not allocate until it meets a head split
    /// across buffers or its first field line.
    explicit request_parser(const parser_limits& limits = {});

    /// The method (valid from head_done).
    http::method method() const noexcept { return method_; }
    /// The method's token as sent ("GET", or an extension method's token).
    std::string_view method_name() const noexcept { return head_slice(token_offset_, token_size_); }
    /// The request target as sent (origin form "/a?b", absolute form, authority form
    /// for CONNECT, or "*" for OPTIONS).
    std::string_view target() const noexcept { return head_slice(target_offset_, target_size_); }
    /// An HTTP/1.1 request with `Expect: 100-continue`: answer 100 before reading the
    /// body (or a final status instead). Other expectations are ignored.
    bool expect_continue() const noexcept { return expect_continue_; }
};

/// Parses responses. Tell it the method of the request each response answers
/// (set_request_method): a HEAD response has no body, a 2xx answer to CONNECT turns the
/// connection into a tunnel (message_done right after the head). 1xx, 204 and 304
/// responses have no body; a response without framing has a body until the stream
/// ends. A 1xx response is a message of its own: parse again for the final one.
class response_parser : public message_parser {
public:
    /// A parser enforcing `limits`.
    explicit response_parser(const parser_limits& limits = {});

    /// The method of the request that the next responses answer; sticky (default GET).
    void set_request_method(http::method m) noexcept { request_method_ = m; }
    /// The status code, 100 to 999 (valid from head_done).
    std::uint16_t status() const noexcept { return status_; }
    /// The reason phrase as sent (may be empty).
    std::string_view reason() const noexcept { return head_slice(reason_offset_, reason_size_); }
};

}  // namespace reef::http
