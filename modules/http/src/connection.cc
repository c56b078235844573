// The connection loop. Requests are taken from the parser one at a time, in order; each
// handler runs to completion before the next request is parsed, so replies are written
// in request order. Replies go into an output_batch, which is sent when the parser needs
// more bytes (the pipelined requests of one read are answered with one send), before a
// handler that has to wait, before reading a body, or when the batch is large.
//
// Waiting phases and their deadlines are plain fields: the server's periodic sweep
// compares them with the clock and shuts the socket's input (or output) down to end a
// wait that lasted too long, so the hot path arms no timer.
#include "connection.hh"
#include "http_date.hh"

#include <charconv>
#include <exception>

#include <fmt/core.h>

#include <reef/core/coroutine.hh>
#include <reef/core/deleter.hh>
#include <reef/core/output_stream.hh>
#include <reef/http/server.hh>
#include <reef/reactor/log.hh>

namespace reef::http {

namespace {

logger& http_log() {
    static logger log("http");
    return log;
}

constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view crlf = "\r\n";
constexpr std::string_view last_chunk = "0\r\n\r\n";

// A buffer over static bytes (no allocation, nothing to free).
temporary_buffer<char> static_buffer(std::string_view s) noexcept {
    return temporary_buffer<char>(const_cast<char*>(s.data()), s.size(), deleter());
}

// How a reply's body is delimited on the wire.
enum framing_kind : int { no_body, with_length, chunked, until_close };

// Strings longer than this are handed to the socket without a copy.
constexpr std::size_t string_zero_copy_min = 16 * 1024;

// Bytes of input read and dropped after the last reply, before the connection closes,
// so that the client reads the reply instead of a reset.
constexpr std::uint64_t linger_limit = 1 << 20;
constexpr std::chrono::milliseconds linger_time{2000};

// The message of a failure (rethrown to read it: only on failure paths).
std::string what_of(std::exception_ptr e) {
    try {
        std::rethrow_exception(std::move(e));
    } catch (const std::exception& ex) {
        return ex.what();
    } catch (...) {
        return "an exception of unknown type";
    }
}

int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = char(c | 0x20);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

}  // namespace

namespace srv {

namespace {

// The sink a streamed reply body is written through: it frames the bytes (chunks, or a
// declared length) and puts them on the connection after the batched bytes.
class body_sink final : public data_sink_impl {
public:
    body_sink(connection& c, framing_kind kind, std::uint64_t length) noexcept
        : c_(c),
          kind_(kind),
          declared_(length) {}

    using data_sink_impl::put;
    future<> put(temporary_buffer<char> buf) override {
        if (buf.empty() || aborted_) {
            return make_ready_future<>();
        }
        written_ += buf.size();
        if (kind_ == with_length && written_ > declared_) {
            return make_exception_future<>(std::runtime_error(
                fmt::format("a streamed body longer than its declared length of {} bytes", declared_)));
        }
        if (kind_ != chunked) {
            return c_.put_direct(std::move(buf));
        }
        char head[24];
        auto [end, ec] = std::to_chars(head, head + sizeof(head) - 2, buf.size(), 16);
        *end++ = '\r';
        *end++ = '\n';
        std::vector<temporary_buffer<char>> parts;
        parts.reserve(3);
        parts.emplace_back(head, std::size_t(end - head));
        parts.push_back(std::move(buf));
        parts.push_back(static_buffer(crlf));
        return c_.put_direct(std::move(parts));
    }

    future<> flush() override { return c_.flush_direct(); }

    future<> close() override {
        if (aborted_) {
            return make_ready_future<>();
        }
        if (kind_ == with_length && written_ != declared_) {
            return make_exception_future<>(std::runtime_error(
                fmt::format("a streamed body of {} bytes where {} were declared", written_, declared_)));
        }
        if (kind_ == chunked) {
            return c_.put_direct(static_buffer(last_chunk));
        }
        return make_ready_future<>();
    }

    // The writer failed: nothing more goes out (a chunked body stays unterminated, so
    // the client sees it is incomplete).
    void abort() noexcept { aborted_ = true; }

private:
    connection& c_;
    framing_kind kind_;
    std::uint64_t declared_;
    std::uint64_t written_ = 0;
    bool aborted_ = false;
};

// The source of a request body stream.
class body_source final : public data_source_impl {
public:
    explicit body_source(connection& c) noexcept : c_(c) {}
    future<temporary_buffer<char>> get() override { return c_.next_body_piece(); }

private:
    connection& c_;
};

}  // namespace

connection::connection(server& srv, net::connected_socket sock)
    : srv_(srv),
      sock_(std::move(sock)),
      in_(sock_.impl()->source(net::input_options{})),
      out_(sock_.impl()->sink(8192)),
      parser_(srv.cfg_.limits) {
    try {
        remote_ = sock_.remote_address();
    } catch (...) {
        // A transport without a peer address: leave it unspecified.
    }
}

connection::~connection() = default;

data_source connection::make_body_source() {
    return data_source(std::make_unique<body_source>(*this));
}

future<> connection::serve() noexcept {
    head_started_ = lowres_clock::now();
    auto r = co_await coroutine::as_future(run());
    bool healthy = !r.failed();
    if (r.failed() && !http_log().is_enabled(log_level::debug)) {
        r.ignore_ready_future();
    } else if (r.failed()) {
        // A reset or a failed send: the connection is gone, nothing to answer.
        http_log().debug("connection from {} ended: {}", remote_, what_of(r.get_exception()));
    }
    if (healthy) {
        auto f = co_await coroutine::as_future(flush_batch());
        healthy = !f.failed();
        f.ignore_ready_future();
    }
    if (phase_ != conn_phase::done) {
        phase_ = conn_phase::writing;
        deadline_ = lowres_clock::now() + srv_.cfg_.write_timeout;
    }
    auto c = co_await coroutine::as_future(out_.close());
    healthy = healthy && !c.failed();
    c.ignore_ready_future();
    if (healthy && linger_ && !timed_out_ && !cut_) {
        co_await linger_and_close();
    }
    phase_ = conn_phase::done;
    auto ic = co_await coroutine::as_future(in_.close());
    ic.ignore_ready_future();
}

future<> connection::linger_and_close() {
    // The output is closed (our FIN is out): read what the client still sends, for a
    // short while, so that unread bytes do not make the kernel reset the connection
    // before the client has read the reply.
    std::uint64_t dropped = 0;
    phase_ = conn_phase::closing;
    deadline_ = lowres_clock::now() + linger_time;
    while (dropped < linger_limit && phase_ == conn_phase::closing) {
        auto f = co_await coroutine::as_future(in_.get());
        if (f.failed()) {
            f.ignore_ready_future();
            break;
        }
        auto b = f.get();
        if (b.empty()) {
            break;
        }
        dropped += b.size();
    }
}

future<> connection::run() {
    const server_config& cfg = srv_.cfg_;
    for (;;) {
        parse_event ev = parser_.next();
        if (ev == parse_event::head_done) [[likely]] {
            // The whole request is handled here, in this frame: a request whose handler
            // answers at once costs no coroutine frame of the server's.
            request req(parser_, this, &remote_);
            future<reply> f = begin_request(req);
            if (!f.available() && !batch_.empty()) {
                co_await flush_batch();  // the earlier replies must not wait for a slow handler
            }
            auto r = co_await coroutine::as_future(std::move(f));
            reply rep = r.failed() ? failure_reply(r.get_exception(), req) : r.get();
            bool keep = keep_after(rep);
            if (rep.streamed() && req.method() != method::head) {
                keep = co_await write_streamed(rep, req, keep);
            } else {
                write_reply(rep, req, keep);
            }
            if (!keep) {
                co_return;
            }
            if (batch_.size() >= cfg.write_batch) {
                co_await flush_batch();
            }
            // The rest of the body (usually just the end of a body-less request) is read
            // and dropped, so that the next request starts where it should.
            int dropped = drop_buffered_body();
            if (dropped < 0 || (dropped == 0 && !co_await discard_body())) {
                co_return;
            }
            in_message_ = parser_.buffered() > 0;
            if (in_message_) {
                head_started_ = lowres_clock::now();
            }
            continue;
        }
        if (ev == parse_event::need_more) {
            if (!batch_.empty()) {
                co_await flush_batch();
            }
            if (stop_requested_ && !in_message_) {
                co_return;
            }
            auto now = lowres_clock::now();
            if (in_message_) {
                phase_ = conn_phase::head;
                deadline_ = head_started_ + cfg.header_timeout;
            } else {
                phase_ = conn_phase::idle;
                deadline_ = requests_ == 0 ? head_started_ + cfg.header_timeout : now + cfg.idle_timeout;
            }
            auto buf = co_await in_.get();
            phase_ = conn_phase::handling;
            if (timed_out_ || cut_) {
                if (timed_out_ && in_message_ && !cut_) {
                    write_error(408, "the request head took too long");
                }
                co_return;
            }
            if (buf.empty()) {
                parser_.feed_eof();
                continue;
            }
            srv_.stats_.bytes_received += buf.size();
            if (!in_message_) {
                in_message_ = true;
                head_started_ = lowres_clock::now();
            }
            parser_.feed(std::move(buf));
            continue;
        }
        if (ev == parse_event::error) {
            ++srv_.stats_.requests;
            write_error(parser_.error().status, parser_.error().reason);
            linger_ = true;
            co_return;
        }
        if (ev == parse_event::end) {
            co_return;
        }
        if (ev == parse_event::message_done) {
            in_message_ = parser_.buffered() > 0;
        }
        // body_data outside a request cannot happen: the request's handling drains it.
    }
}

future<reply> connection::begin_request(request& req) {
    ++requests_;
    ++srv_.stats_.requests;
    message_done_ = false;
    continue_sent_ = false;
    head_written_ = false;
    body_failed_ = false;
    close_after_ = false;
    body_read_ = 0;
    phase_ = conn_phase::handling;
    if (!decode_target(req)) {
        close_after_ = true;
        return make_ready_future<reply>(
            reply(status_type::bad_request, "400 Bad Request: malformed request target\n"));
    }
    route_match m = srv_.routes_.find(req);
    handler* h = m.target;
    if (!h && m.status == status_type::not_found) {
        h = srv_.routes_.not_found_handler();
    }
    if (h) {
        return futurize_invoke(*h, req);
    }
    reply rep = reply::error(m.status);
    if (m.status == status_type::method_not_allowed) {
        rep.set_header("Allow", m.allow);
    }
    return make_ready_future<reply>(std::move(rep));
}

bool connection::keep_after(const reply& rep) noexcept {
    const server_config& cfg = srv_.cfg_;
    bool keep = parser_.keep_alive() && !rep.closes_connection() && !stop_requested_ && !close_after_ &&
                !body_failed_ &&
                (cfg.max_requests_per_connection == 0 || requests_ < cfg.max_requests_per_connection);
    if (keep && !message_done_) {
        if (parser_.expect_continue() && !continue_sent_) {
            // The client waits for a 100 that will not come (or sends the body anyway):
            // answer and close rather than guess.
            keep = false;
        } else if (parser_.framing() == body_framing::content_length &&
                   parser_.content_length() - body_read_ > cfg.max_discard) {
            keep = false;
        }
    }
    if (!keep && !message_done_) {
        linger_ = true;
    }
    return keep;
}

int connection::drop_buffered_body() {
    while (!message_done_) {
        parse_event ev = parser_.next();
        if (ev == parse_event::message_done) {
            message_done_ = true;
        } else if (ev == parse_event::body_data) {
            body_read_ += parser_.take_body().size();
            if (body_read_ > srv_.cfg_.max_discard + parser_.content_length()) {
                return -1;
            }
        } else if (ev == parse_event::need_more) {
            return 0;
        } else {
            return -1;
        }
    }
    return 1;
}

reply connection::failure_reply(std::exception_ptr e, const request& req) {
    ++srv_.stats_.handler_errors;
    try {
        std::rethrow_exception(std::move(e));
    } catch (const body_error& be) {
        close_after_ = true;
        return reply::error(status_type(be.status()));
    } catch (const request_timeout_error&) {
        close_after_ = true;
        return reply::error(status_type::request_timeout);
    } catch (const std::exception& ex) {
        http_log().warn("handler of {} {} failed: {}", req.method_name(), req.target(), ex.what());
    } catch (...) {
        http_log().warn("handler of {} {} failed with an unknown exception", req.method_name(), req.target());
    }
    return reply::error(status_type::internal_server_error);
}

future<bool> connection::discard_body() {
    const std::uint64_t limit = srv_.cfg_.max_discard;
    std::uint64_t dropped = 0;
    for (;;) {
        auto f = co_await coroutine::as_future(next_body_piece());
        if (f.failed()) {
            f.ignore_ready_future();
            co_return false;
        }
        auto b = f.get();
        if (b.empty()) {
            co_return true;
        }
        dropped += b.size();
        if (dropped > limit) {
            co_return false;
        }
    }
}

future<temporary_buffer<char>> connection::next_body_piece() {
    for (;;) {
        if (message_done_) {
            co_return temporary_buffer<char>();
        }
        if (body_failed_) {
            co_return coroutine::exception(
                std::make_exception_ptr(body_error(400, "the body failed before")));
        }
        parse_event ev = parser_.next();
        if (ev == parse_event::body_data) {
            auto b = parser_.take_body();
            body_read_ += b.size();
            co_return b;
        }
        if (ev == parse_event::error) {
            body_failed_ = true;
            co_return coroutine::exception(
                std::make_exception_ptr(body_error(parser_.error().status, parser_.error().reason)));
        }
        if (ev != parse_event::need_more) {
            message_done_ = true;
            co_return temporary_buffer<char>();
        }
        if (parser_.expect_continue() && !continue_sent_ && !head_written_) {
            continue_sent_ = true;
            batch_.append(continue_line);
        }
        if (!batch_.empty()) {
            co_await flush_batch();
        }
        phase_ = conn_phase::body;
        deadline_ = lowres_clock::now() + srv_.cfg_.body_timeout;
        auto buf = co_await in_.get();
        phase_ = conn_phase::handling;
        if (timed_out_ || cut_) {
            body_failed_ = true;
            co_return coroutine::exception(std::make_exception_ptr(request_timeout_error()));
        }
        srv_.stats_.bytes_received += buf.size();
        if (buf.empty()) {
            parser_.feed_eof();
        } else {
            parser_.feed(std::move(buf));
        }
    }
}

void connection::account_reply(status_type s) noexcept {
    unsigned cls = unsigned(s) / 100;
    if (cls >= 1 && cls <= 5) {
        ++srv_.stats_.replies[cls - 1];
    }
}

void connection::write_head(const reply& rep, std::uint64_t length, int kind, bool keep, http_version v) {
    account_reply(rep.status());
    batch_.append(status_line(rep.status()));
    batch_.append(srv_.common_->get(!rep.has_own_server(), !rep.has_own_date()));
    std::string_view type = rep.content_type();
    if (!type.empty()) {
        batch_.append("Content-Type: ");
        batch_.append(type);
        batch_.append(crlf);
    }
    if (kind == with_length) {
        char line[48] = "Content-Length: ";
        constexpr std::size_t prefix = 16;
        auto [end, ec] = std::to_chars(line + prefix, line + sizeof(line) - 2, length);
        *end++ = '\r';
        *end++ = '\n';
        batch_.append(std::string_view(line, std::size_t(end - line)));
    } else if (kind == chunked) {
        batch_.append("Transfer-Encoding: chunked\r\n");
    }
    if (!keep) {
        batch_.append("Connection: close\r\n");
    } else if (v == http_version::http_1_0) {
        batch_.append("Connection: keep-alive\r\n");
    }
    batch_.append(rep.raw_headers());
    batch_.append(crlf);
    head_written_ = true;
}

namespace {
bool bodyless_status(status_type s) noexcept {
    unsigned c = unsigned(s);
    return c < 200 || c == 204 || c == 304;
}
}  // namespace

void connection::write_reply(reply& rep, const request& req, bool keep) {
    const bool head_request = req.method() == method::head;
    int kind = with_length;
    std::uint64_t length = 0;
    if (bodyless_status(rep.status())) {
        kind = no_body;
    } else if (rep.streamed()) {
        // Only a HEAD request gets here with a streamed reply: announce what GET would.
        if (auto l = rep.streamed_length()) {
            length = *l;
        } else {
            kind = req.version() == http_version::http_1_1 ? chunked : no_body;
        }
    } else {
        length = rep.body_size();
    }
    write_head(rep, length, kind, keep, req.version());
    if (head_request || kind == no_body) {
        return;
    }
    std::string& body = rep.body();
    if (!body.empty()) {
        if (body.size() >= string_zero_copy_min) {
            char* p = body.data();
            std::size_t n = body.size();
            batch_.append(temporary_buffer<char>(p, n, make_object_deleter(std::move(body))));
        } else {
            batch_.append(std::string_view(body));
        }
    }
    for (auto& b : rep.take_buffers()) {
        batch_.append(std::move(b));
    }
}

future<bool> connection::write_streamed(reply& rep, const request& req, bool keep) {
    int kind;
    std::uint64_t length = 0;
    if (bodyless_status(rep.status())) {
        write_reply(rep, req, keep);
        co_return keep;
    }
    if (auto l = rep.streamed_length()) {
        kind = with_length;
        length = *l;
    } else if (req.version() == http_version::http_1_1) {
        kind = chunked;
    } else {
        kind = until_close;
        keep = false;
    }
    if (parser_.expect_continue() && !continue_sent_ && !message_done_) {
        // A streamed reply is usually made of the request's body (an echo, a
        // transformation): the client must send it, so it gets its 100 first.
        continue_sent_ = true;
        batch_.append(continue_line);
    }
    write_head(rep, length, kind, keep, req.version());
    co_await flush_batch();
    auto sink = std::make_unique<body_sink>(*this, framing_kind(kind), length);
    body_sink* s = sink.get();
    output_stream<char> out(data_sink(std::move(sink)), 8192);
    body_writer writer = rep.take_writer();
    auto w = co_await coroutine::as_future(futurize_invoke(writer, out));
    if (w.failed()) {
        http_log().warn("body writer of {} {} failed: {}", req.method_name(), req.target(),
                        what_of(w.get_exception()));
        s->abort();
        keep = false;
    }
    auto c = co_await coroutine::as_future(out.close());
    if (c.failed()) {
        // Too few or too many bytes for the declared length, or the client went away.
        http_log().warn("streamed body of {} {}: {}", req.method_name(), req.target(),
                        what_of(c.get_exception()));
        keep = false;
    }
    co_return keep;
}

void connection::write_error(std::uint16_t status, std::string_view detail) {
    auto s = status_type(status);
    reply rep(s, fmt::format("{} {}: {}\n", status, reason_phrase(s), detail), "text/plain");
    int kind = with_length;
    write_head(rep, rep.body().size(), kind, false, http_version::http_1_1);
    batch_.append(std::string_view(rep.body()));
}

future<> connection::flush_batch() {
    if (batch_.empty()) {
        return make_ready_future<>();
    }
    srv_.stats_.bytes_sent += batch_.size();
    return wait_written(batch_.put_to(out_));
}

future<> connection::wait_written(future<> f) {
    if (f.available()) [[likely]] {
        return f;
    }
    return wait_slow_write(std::move(f));
}

future<> connection::wait_slow_write(future<> f) {
    auto before = phase_;
    phase_ = conn_phase::writing;
    deadline_ = lowres_clock::now() + srv_.cfg_.write_timeout;
    co_await std::move(f);
    if (phase_ == conn_phase::writing) {
        phase_ = before;
    }
}

future<> connection::put_direct(temporary_buffer<char> b) {
    // Through the batch: after the bytes gathered before, large buffers without a copy.
    batch_.append(std::move(b));
    return flush_batch();
}

future<> connection::put_direct(std::vector<temporary_buffer<char>> bufs) {
    for (auto& b : bufs) {
        batch_.append(std::move(b));
    }
    return flush_batch();
}

future<> connection::flush_direct() {
    co_await flush_batch();
    co_await wait_written(out_.flush());
}

bool connection::decode_target(request& req) {
    std::string_view t = parser_.target();
    std::string_view path;
    std::string_view query;
    if (!t.empty() && t.front() == '/') {
        path = t;
    } else if (t == "*") {
        req.set_path("*", {});
        return true;
    } else if (auto scheme = t.find("://"); scheme != std::string_view::npos) {
        // absolute-form: the path starts at the first '/' after the authority.
        auto slash = t.find('/', scheme + 3);
        path = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
        if (slash == std::string_view::npos) {
            auto q = t.find('?', scheme + 3);
            query = q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
            req.set_path(path, query);
            return true;
        }
    } else {
        // authority-form (CONNECT): no path to route.
        req.set_path({}, {});
        return true;
    }
    if (auto q = path.find('?'); q != std::string_view::npos) {
        query = path.substr(q + 1);
        path = path.substr(0, q);
    }
    if (auto hash = query.find('#'); hash != std::string_view::npos) {
        query = query.substr(0, hash);
    }
    if (path.find('%') == std::string_view::npos) {
        req.set_path(path, query);
        return true;
    }
    path_buf_.clear();
    for (std::size_t i = 0; i < path.size(); ++i) {
        char c = path[i];
        if (c == '%') {
            if (i + 2 >= path.size()) {
                return false;
            }
            int hi = hex_digit(path[i + 1]);
            int lo = hex_digit(path[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                return false;  // a bad escape, or an encoded NUL
            }
            c = char(hi * 16 + lo);
            i += 2;
        }
        path_buf_.push_back(c);
    }
    req.set_path(path_buf_, query);
    return true;
}

void connection::expire() noexcept {
    auto p = std::exchange(phase_, conn_phase::done);
    timed_out_ = true;
    ++srv_.stats_.timeouts;
    try {
        if (p == conn_phase::writing) {
            sock_.shutdown_output();
        }
        sock_.shutdown_input();
    } catch (...) {
        // Already shut down or closed: the wait ends anyway.
    }
}

void connection::stop_if_idle() noexcept {
    stop_requested_ = true;
    if (phase_ == conn_phase::idle || phase_ == conn_phase::head) {
        cut_ = true;
        phase_ = conn_phase::done;
        try {
            sock_.shutdown_input();
        } catch (...) {
        }
    }
}

void connection::cut() noexcept {
    cut_ = true;
    phase_ = conn_phase::done;
    try {
        sock_.shutdown_input();
        sock_.shutdown_output();
    } catch (...) {
    }
}

}  // namespace srv
}  // namespace reef::http
