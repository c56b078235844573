// The HTTP/1.1 client: URL parsing, the per-(scheme, host, port) pool of keep-alive
// connections, writing requests (Content-Length or chunked), reading responses with
// response_parser, the request deadline and the one retry of idempotent requests.
#include <reef/http/client.hh>

#include <cerrno>
#include <charconv>
#include <deque>
#include <system_error>
#include <unordered_map>

#include <fmt/format.h>

#include <reef/core/coroutine.hh>
#include <reef/core/data_sink.hh>
#include <reef/core/data_source.hh>
#include <reef/net/default_stack.hh>
#include <reef/net/dns.hh>
#include <reef/core/abort_source.hh>
#include <reef/core/when_any.hh>
#include <reef/reactor/clock.hh>
#include <reef/reactor/sleep.hh>
#include <reef/reactor/timer.hh>

namespace reef::http {

std::string_view to_string(client_errc e) noexcept {
    switch (e) {
    case client_errc::invalid_url: return "invalid URL";
    case client_errc::dns: return "name resolution failed";
    case client_errc::connection_refused: return "connection refused";
    case client_errc::connect_failed: return "connect failed";
    case client_errc::tls: return "TLS failure";
    case client_errc::timeout: return "timeout";
    case client_errc::connection_closed: return "connection closed";
    case client_errc::malformed_response: return "malformed response";
    case client_errc::too_large: return "too large";
    case client_errc::protocol: return "unsupported response";
    case client_errc::too_many_redirects: return "too many redirects";
    }
    return "unknown";
}

client_error::client_error(client_errc reason, const std::string& what, std::uint16_t parse_status)
    : std::runtime_error(fmt::format("http client: {}: {}", to_string(reason), what)),
      reason_(reason),
      parse_status_(parse_status) {}

namespace {

char lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

}  // namespace

std::optional<url> url::try_parse(std::string_view s) {
    url u;
    if (istarts_with(s, "http://")) {
        s.remove_prefix(7);
    } else if (istarts_with(s, "https://")) {
        u.https = true;
        u.port = 443;
        s.remove_prefix(8);
    } else {
        return std::nullopt;
    }
    if (auto hash = s.find('#'); hash != s.npos) {
        s = s.substr(0, hash);
    }
    auto end = s.find_first_of("/?");
    auto authority = s.substr(0, end);
    auto rest = end == s.npos ? std::string_view() : s.substr(end);
    if (authority.find('@') != authority.npos) {
        return std::nullopt;
    }
    std::string_view port;
    if (!authority.empty() && authority[0] == '[') {
        auto close = authority.find(']');
        if (close == authority.npos) {
            return std::nullopt;
        }
        u.host = std::string(authority.substr(1, close - 1));
        auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':') {
                return std::nullopt;
            }
            port = after.substr(1);
        }
        if (u.host.find(':') == std::string::npos) {
            return std::nullopt;  // brackets hold IPv6 literals only
        }
    } else {
        auto colon = authority.find(':');
        u.host = std::string(authority.substr(0, colon));
        if (colon != authority.npos) {
            port = authority.substr(colon + 1);
        }
    }
    if (u.host.empty()) {
        return std::nullopt;
    }
    for (char c : u.host) {
        if (c <= ' ' || c == 0x7f || c == '[' || c == ']' || c == '/' || c == '\\') {
            return std::nullopt;
        }
    }
    if (!port.empty()) {
        unsigned v = 0;
        auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
        if (ec != std::errc() || p != port.data() + port.size() || v == 0 || v > 65535) {
            return std::nullopt;
        }
        u.port = std::uint16_t(v);
    }
    for (char c : rest) {
        if (c <= ' ' || c == 0x7f) {
            return std::nullopt;  // a target must be sent as visible ASCII
        }
    }
    if (rest.empty()) {
        u.target = "/";
    } else if (rest[0] == '?') {
        u.target = "/" + std::string(rest);
    } else {
        u.target = std::string(rest);
    }
    return u;
}

url url::parse(std::string_view s) {
    auto u = try_parse(s);
    if (!u) {
        throw client_error(client_errc::invalid_url, fmt::format("'{}'", s));
    }
    return std::move(*u);
}

url url::http(std::string host, std::uint16_t port, std::string target) {
    url u;
    u.host = std::move(host);
    u.port = port;
    u.target = target.empty() ? "/" : std::move(target);
    return u;
}

std::string url::host_field() const {
    bool v6 = host.find(':') != std::string::npos;
    std::string h = v6 ? fmt::format("[{}]", host) : host;
    if (port != (https ? 443 : 80)) {
        h += fmt::format(":{}", port);
    }
    return h;
}

std::string url::to_string() const {
    return fmt::format("{}://{}{}", scheme(), host_field(), target);
}

namespace detail_client {

using namespace std::chrono_literals;

// One connection: its socket, streams and parser, and the deadline of the request it
// carries. Owned by the pool while idle, by a request while one is in flight.
struct connection {
    net::connected_socket sock;
    input_stream<char> in;
    output_stream<char> out;
    response_parser parser;
    std::string key;
    lowres_clock::time_point idle_since{};
    timer<> deadline;
    bool timed_out = false;
    bool received = false;  // a byte of the current response came
    bool eof = false;       // the server's end of stream was fed to the parser
    bool unusable = false;  // a declared body was not sent: never pooled again

    connection(net::connected_socket s, const parser_limits& limits, std::string k)
        : sock(std::move(s)), in(sock.input()), out(sock.output()), parser(limits), key(std::move(k)) {
        // The deadline cuts the socket both ways: the pending read or write returns,
        // and the request sees timed_out.
        deadline.set_callback([this] {
            timed_out = true;
            sock.shutdown_input();
            sock.shutdown_output();
        });
    }

    // Arms the deadline of a request; no deadline: disarmed.
    void arm(std::optional<steady_clock_type::time_point> when) {
        timed_out = false;
        if (when) {
            deadline.rearm(*when);
        } else {
            deadline.cancel();
        }
    }
};

struct client_state {
    client_config cfg;
    client_stats stats;
    std::unordered_map<std::string, std::deque<std::unique_ptr<connection>>> idle;
    std::optional<net::tls::certificate_credentials> creds;
    // Per pool key (scheme, host, port): the resumption data of the newest HTTPS
    // session that had it, offered by the next connection's handshake.
    std::unordered_map<std::string, std::string> tls_sessions;
    bool closed = false;
    // Closes idle connections past idle_timeout; armed while the pool holds any.
    timer<lowres_clock> sweeper;

    explicit client_state(client_config c) : cfg(std::move(c)) {
        sweeper.set_callback([this] { sweep(); });
    }

    void sweep() {
        auto oldest_allowed = lowres_clock::now() - cfg.idle_timeout;
        for (auto it = idle.begin(); it != idle.end();) {
            auto& q = it->second;
            while (!q.empty() && q.front()->idle_since < oldest_allowed) {
                q.pop_front();
            }
            it = q.empty() ? idle.erase(it) : std::next(it);
        }
        if (!idle.empty() && !closed) {
            sweeper.arm(std::max<std::chrono::milliseconds>(cfg.idle_timeout / 2, std::chrono::milliseconds(10)));
        }
    }

    void clear() {
        closed = true;
        sweeper.cancel();
        idle.clear();
        tls_sessions.clear();
    }

    // The newest idle connection for `key` that is young enough, or null.
    std::unique_ptr<connection> take(const std::string& key) {
        auto it = idle.find(key);
        if (it == idle.end()) {
            return nullptr;
        }
        auto& q = it->second;
        auto oldest_allowed = lowres_clock::now() - cfg.idle_timeout;
        while (!q.empty() && q.front()->idle_since < oldest_allowed) {
            q.pop_front();
        }
        std::unique_ptr<connection> c;
        if (!q.empty()) {
            c = std::move(q.back());
            q.pop_back();
        }
        if (q.empty()) {
            idle.erase(it);
        }
        return c;
    }

    // Takes back a connection whose response ended: pooled when it may be kept.
    void release(std::unique_ptr<connection> c) {
        c->deadline.cancel();
        if (net::tls::is_tls(c->sock)) {
            // The response has been read, so a TLS 1.3 ticket has arrived by now.
            if (auto d = net::tls::resumption_data(c->sock)) {
                tls_sessions[c->key] = std::move(*d);
            }
        }
        if (closed || c->timed_out || c->unusable || !c->parser.keep_alive() || c->parser.buffered() != 0 ||
            cfg.max_idle_per_host == 0) {
            return;  // destroying it closes the socket
        }
        c->idle_since = lowres_clock::now();
        auto& q = idle[c->key];
        q.push_back(std::move(c));
        while (q.size() > cfg.max_idle_per_host) {
            q.pop_front();
        }
        if (!sweeper.armed()) {
            sweeper.arm(std::max<std::chrono::milliseconds>(cfg.idle_timeout / 2, std::chrono::milliseconds(10)));
        }
    }

    const net::tls::certificate_credentials& tls_creds() {
        if (!creds) {
            if (cfg.trust) {
                creds = *cfg.trust;
            } else {
                creds.emplace();
                creds->set_system_trust();
            }
        }
        return *creds;
    }
};

namespace {

bool is_reset(const std::system_error& e) noexcept {
    auto v = e.code().value();
    return e.code().category() == std::system_category() &&
           (v == EPIPE || v == ECONNRESET || v == ECONNABORTED || v == ESHUTDOWN || v == ENOTCONN);
}

// Turns a failure of socket I/O into the client's error.
[[noreturn]] void rethrow_io(connection& c, std::exception_ptr ep, std::string_view what) {
    if (c.timed_out) {
        throw client_error(client_errc::timeout, fmt::format("the request deadline passed while {}", what));
    }
    try {
        std::rethrow_exception(ep);
    } catch (const client_error&) {
        throw;
    } catch (const std::exception& e) {
        throw client_error(client_errc::connection_closed, fmt::format("{}: {}", what, e.what()));
    }
}

// Reads the next buffer into the parser (end of stream: feed_eof).
future<> read_more(connection& c) {
    auto f = co_await coroutine::as_future(c.in.read());
    if (f.failed()) {
        rethrow_io(c, f.get_exception(), "reading the response");
    }
    auto buf = f.get();
    if (buf.empty()) {
        if (c.timed_out) {
            throw client_error(client_errc::timeout, "the request deadline passed while reading the response");
        }
        c.eof = true;
        c.parser.feed_eof();
    } else {
        c.received = true;
        c.parser.feed(std::move(buf));
    }
}

[[noreturn]] void throw_parse_error(const connection& c) {
    const auto& e = c.parser.error();
    auto reason = e.status == 413 ? client_errc::too_large : client_errc::malformed_response;
    throw client_error(reason, fmt::format("{} ({})", e.reason, e.status), e.status);
}

// The decoded body of a response: pieces handed out by the parser; the connection goes
// back to the pool at the end of the message.
class body_source final : public data_source_impl {
public:
    body_source(std::shared_ptr<client_state> st, std::unique_ptr<connection> c)
        : st_(std::move(st)), c_(std::move(c)) {}

    future<temporary_buffer<char>> get() override {
        while (c_) {
            switch (c_->parser.next()) {
            case parse_event::body_data:
                co_return c_->parser.take_body();
            case parse_event::message_done:
                st_->release(std::move(c_));
                co_return temporary_buffer<char>();
            case parse_event::need_more:
                co_await read_more(*c_);
                break;
            case parse_event::error:
                if (c_->timed_out) {
                    throw client_error(client_errc::timeout, "the request deadline passed while reading the body");
                }
                if (c_->eof && c_->parser.error().status == 400) {
                    throw client_error(client_errc::connection_closed, "the body ended early");
                }
                throw_parse_error(*c_);
            default:
                throw client_error(client_errc::malformed_response, "unexpected parser event in a body");
            }
        }
        co_return temporary_buffer<char>();
    }

private:
    std::shared_ptr<client_state> st_;
    std::unique_ptr<connection> c_;
};

// Frames what a body writer writes as chunks on the connection's stream.
class chunked_sink final : public data_sink_impl {
public:
    explicit chunked_sink(output_stream<char>& out) : out_(out) {}

    future<> put(temporary_buffer<char> b) override {
        if (b.empty()) {
            co_return;
        }
        auto size = fmt::format("{:x}\r\n", b.size());
        co_await out_.write(size);
        co_await out_.write(std::move(b));
        co_await out_.write("\r\n");
    }
    future<> flush() override { return out_.flush(); }
    future<> close() override {
        co_await out_.write("0\r\n\r\n");
        co_await out_.flush();
    }

private:
    output_stream<char>& out_;
};

bool idempotent(method m) noexcept {
    switch (m) {
    case method::get:
    case method::head:
    case method::put:
    case method::delete_:
    case method::options:
    case method::trace:
        return true;
    default:
        return false;
    }
}

bool has_header(const request_headers& h, std::string_view name) noexcept {
    for (const auto& [n, v] : h) {
        if (iequals(n, name)) {
            return true;
        }
    }
    return false;
}

std::string pool_key(const url& u) {
    return fmt::format("{}://{}:{}", u.scheme(), u.host, u.port);
}

// A path with its "." and ".." segments removed (RFC 3986 5.2.4); the query is kept.
std::string remove_dot_segments(std::string_view target) {
    auto q = target.find('?');
    std::string_view path = target.substr(0, q);
    std::vector<std::string_view> out;
    std::size_t i = 0;
    bool trailing_slash = false;
    while (i <= path.size()) {
        auto j = path.find('/', i);
        if (j == std::string_view::npos) {
            j = path.size();
        }
        auto seg = path.substr(i, j - i);
        trailing_slash = false;
        if (seg == "..") {
            if (!out.empty()) {
                out.pop_back();
            }
            trailing_slash = true;
        } else if (seg == ".") {
            trailing_slash = true;
        } else if (!seg.empty() || j == path.size()) {
            out.push_back(seg);
        }
        i = j + 1;
    }
    std::string r;
    for (auto seg : out) {
        if (!seg.empty()) {
            r += '/';
            r += seg;
        }
    }
    if (r.empty() || trailing_slash || (!path.empty() && path.back() == '/')) {
        r += '/';
    }
    if (q != std::string_view::npos) {
        r += target.substr(q);
    }
    return r;
}

// Where a Location field value sends a request made to `base`: an absolute URL, one
// without a scheme ("//host/path"), an absolute path, a query, or a path relative to
// the base's directory. nullopt when it is none of these (or holds control characters).
std::optional<url> resolve_location(const url& base, std::string_view loc) {
    for (char ch : loc) {
        if (static_cast<unsigned char>(ch) <= ' ' || ch == 0x7f) {
            return std::nullopt;
        }
    }
    if (auto h = loc.find('#'); h != std::string_view::npos) {
        loc = loc.substr(0, h);
    }
    auto colon = loc.find(':');
    auto slash = loc.find('/');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon < slash)) {
        auto u = url::try_parse(loc);  // has a scheme: absolute (http and https only)
        if (u) {
            u->target = remove_dot_segments(u->target);
        }
        return u;
    }
    if (loc.starts_with("//")) {
        auto u = url::try_parse(fmt::format("{}:{}", base.scheme(), loc));
        if (u) {
            u->target = remove_dot_segments(u->target);
        }
        return u;
    }
    url u = base;
    if (loc.empty()) {
        return u;
    }
    if (loc.front() == '/') {
        u.target = remove_dot_segments(loc);
    } else if (loc.front() == '?') {
        u.target = std::string(base.target.substr(0, base.target.find('?'))) + std::string(loc);
    } else {
        std::string_view dir = std::string_view(base.target).substr(0, base.target.find('?'));
        dir = dir.substr(0, dir.rfind('/') + 1);
        u.target = remove_dot_segments(std::string(dir) + std::string(loc));
    }
    return u;
}

future<std::unique_ptr<connection>> open_one(client_state& st, const url& u, net::socket_address addr,
                                             std::chrono::milliseconds timeout);

// Makes a connection (DNS, TCP, TLS handshake) within `timeout`.
future<std::unique_ptr<connection>> open(client_state& st, const url& u, std::chrono::milliseconds timeout) {
    std::vector<net::inet_address> addrs;
    if (auto a = net::inet_address::parse(u.host)) {
        addrs.push_back(*a);
    } else {
        auto f = co_await coroutine::as_future(net::dns::resolve_name(u.host));
        if (f.failed()) {
            try {
                std::rethrow_exception(f.get_exception());
            } catch (const std::exception& e) {
                throw client_error(client_errc::dns, fmt::format("{}: {}", u.host, e.what()));
            }
        }
        addrs = f.get();
        if (addrs.empty()) {
            throw client_error(client_errc::dns, fmt::format("{}: no address", u.host));
        }
    }
    // The addresses in the resolver's order; a refusal or failure moves to the next one
    // (localhost may be ::1 first while the server listens on 127.0.0.1 only).
    auto give_up = steady_clock_type::now() + timeout;
    for (std::size_t i = 0;; ++i) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - steady_clock_type::now());
        if (i > 0 && left.count() <= 0) {
            throw client_error(client_errc::timeout, fmt::format("connecting to {}", u.host_field()));
        }
        auto f = co_await coroutine::as_future(open_one(st, u, net::socket_address(addrs[i], u.port), left));
        if (!f.failed()) {
            co_return f.get();
        }
        auto ep = f.get_exception();
        if (i + 1 == addrs.size()) {
            std::rethrow_exception(ep);
        }
        try {
            std::rethrow_exception(ep);
        } catch (const client_error& e) {
            if (e.reason() != client_errc::connection_refused && e.reason() != client_errc::connect_failed) {
                throw;
            }
        }
    }
}

// Connects to one address (TCP, and the TLS handshake for https).
future<std::unique_ptr<connection>> open_one(client_state& st, const url& u, net::socket_address addr,
                                             std::chrono::milliseconds timeout) {
    net::connect_options copts;
    copts.timeout = timeout;
    future<net::connected_socket> cf = make_ready_future<net::connected_socket>();
    if (u.https) {
        net::tls::tls_options topts;
        topts.server_name = u.host;
        topts.alpn_protocols = {"http/1.1"};
        topts.verify = st.cfg.verify;
        topts.handshake_timeout = timeout;
        if (auto it = st.tls_sessions.find(pool_key(u)); it != st.tls_sessions.end()) {
            topts.resume_from = it->second;
        }
        cf = net::tls::connect(st.tls_creds(), addr, std::move(topts), copts);
    } else {
        cf = net::connect(addr, {}, copts);
    }
    auto f = co_await coroutine::as_future(std::move(cf));
    if (f.failed()) {
        try {
            std::rethrow_exception(f.get_exception());
        } catch (const net::tls::handshake_timeout_error& e) {
            throw client_error(client_errc::timeout, fmt::format("TLS handshake with {}: {}", addr, e.what()));
        } catch (const net::tls::tls_error& e) {
            throw client_error(client_errc::tls, fmt::format("{}: {}", addr, e.what()));
        } catch (const std::system_error& e) {
            if (e.code().value() == ECONNREFUSED) {
                throw client_error(client_errc::connection_refused, fmt::format("{}", addr));
            }
            if (e.code().value() == ETIMEDOUT) {
                throw client_error(client_errc::timeout, fmt::format("connecting to {}", addr));
            }
            throw client_error(client_errc::connect_failed, fmt::format("{}: {}", addr, e.what()));
        }
    }
    auto sock = f.get();
    ++st.stats.connections_opened;
    if (u.https) {
        auto h = co_await coroutine::as_future(net::tls::check_handshake(sock));
        if (h.failed()) {
            try {
                std::rethrow_exception(h.get_exception());
            } catch (const net::tls::handshake_timeout_error& e) {
                throw client_error(client_errc::timeout, fmt::format("TLS handshake with {}: {}", addr, e.what()));
            } catch (const std::exception& e) {
                throw client_error(client_errc::tls, fmt::format("{}: {}", addr, e.what()));
            }
        }
        if ((co_await net::tls::get_session_info(sock)).resumed) {
            ++st.stats.tls_resumed;
        }
    }
    co_return std::make_unique<connection>(std::move(sock), st.cfg.limits, pool_key(u));
}

}  // namespace
}  // namespace detail_client

using namespace detail_client;

response::response() noexcept = default;
response::response(response&&) noexcept = default;
response& response::operator=(response&&) noexcept = default;
response::~response() = default;

std::optional<std::string_view> response::header(std::string_view name) const noexcept {
    for (const auto& [n, v] : headers_) {
        if (iequals(n, name)) {
            return std::string_view(v);
        }
    }
    return std::nullopt;
}

future<std::string> response::content(std::optional<std::size_t> limit) {
    std::size_t max = limit.value_or(default_limit_);
    std::string out;
    for (;;) {
        auto b = co_await body_.read();
        if (b.empty()) {
            co_return out;
        }
        if (out.size() + b.size() > max) {
            throw client_error(client_errc::too_large, fmt::format("the body passed {} bytes", max));
        }
        out.append(b.get(), b.size());
    }
}

future<> response::discard() {
    while (!(co_await body_.read()).empty()) {
    }
}

client::client(client_config cfg) : state_(std::make_shared<client_state>(std::move(cfg))) {}

client::~client() {
    state_->clear();
}

future<> client::close() {
    state_->clear();
    return make_ready_future<>();
}

const client_stats& client::stats() const noexcept {
    return state_->stats;
}

std::size_t client::idle_connections() const noexcept {
    std::size_t n = 0;
    for (const auto& [k, q] : state_->idle) {
        n += q.size();
    }
    return n;
}

future<response> client::request(method m, std::string_view u, request_headers headers, request_body body,
                                 std::optional<std::chrono::milliseconds> timeout) {
    auto parsed = url::try_parse(u);
    if (!parsed) {
        return make_exception_future<response>(
            std::make_exception_ptr(client_error(client_errc::invalid_url, fmt::format("'{}'", u))));
    }
    return request(m, std::move(*parsed), std::move(headers), std::move(body), timeout);
}

future<response> client::get(std::string_view u, request_headers headers) {
    return request(method::get, u, std::move(headers));
}

future<response> client::post(std::string_view u, std::string body, std::string content_type) {
    request_headers h;
    if (!content_type.empty()) {
        h.emplace_back("Content-Type", std::move(content_type));
    }
    return request(method::post, u, std::move(h), request_body(std::move(body)));
}

future<response> client::request(method m, url u, request_headers headers, request_body body,
                                 std::optional<std::chrono::milliseconds> timeout) {
    auto st = state_;  // the client may go while this request runs
    ++st->stats.requests;
    auto limit = timeout.value_or(st->cfg.request_timeout);
    for (unsigned redirects = 0;; ++redirects) {
        auto r = co_await send_once(m, u, headers, body, limit);
        auto s = r.status();
        bool redirect = s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
        auto location = r.header("location");
        if (!redirect || !location || st->cfg.max_redirects == 0) {
            co_return r;
        }
        bool keep_method = s == 307 || s == 308 || (m != method::post && s != 303) || m == method::head;
        if (keep_method && std::holds_alternative<body_writer>(body)) {
            co_return r;  // the body cannot be sent again
        }
        if (redirects == st->cfg.max_redirects) {
            throw client_error(client_errc::too_many_redirects,
                               fmt::format("{} redirects in a row, the last from {} to '{}'", redirects + 1,
                                           u.to_string(), *location));
        }
        auto next = resolve_location(u, *location);
        if (!next) {
            throw client_error(client_errc::protocol,
                               fmt::format("{} from {} redirects to '{}', not a URL", s, u.to_string(), *location));
        }
        // Free the connection: read what is left of a small body; a large one is dropped
        // with its connection.
        auto drained = co_await coroutine::as_future(r.content(64 * 1024));
        drained.ignore_ready_future();  // a failure only costs the connection
        if (next->https != u.https || next->host != u.host || next->port != u.port) {
            std::erase_if(headers, [](const auto& h) {
                return iequals(h.first, "authorization") || iequals(h.first, "cookie") ||
                       iequals(h.first, "proxy-authorization");
            });
        }
        if (!keep_method) {
            m = method::get;
            body = std::monostate{};
            std::erase_if(headers, [](const auto& h) {
                return iequals(h.first, "content-type") || iequals(h.first, "content-encoding");
            });
        }
        u = std::move(*next);
        ++st->stats.redirects;
    }
}

future<response> client::send_once(method m, const url& u, const request_headers& headers, request_body& body,
                                   std::chrono::milliseconds limit) {
    auto st = state_;
    bool may_retry = idempotent(m) && !std::holds_alternative<body_writer>(body);
    for (int attempt_no = 0;; ++attempt_no) {
        bool retryable = false;
        auto f = co_await coroutine::as_future(
            attempt(m, u, headers, body, limit, attempt_no > 0, retryable));
        if (!f.failed()) {
            co_return f.get();
        }
        if (attempt_no == 0 && retryable && may_retry) {
            (void)f.get_exception();  // the stale connection's failure is the reason to retry
            ++st->stats.retries;
            continue;
        }
        std::rethrow_exception(f.get_exception());
    }
}

future<response> client::attempt(method m, const url& u, const request_headers& headers, request_body& body,
                                 std::chrono::milliseconds timeout, bool fresh, bool& retryable) {
    auto st = state_;
    auto start = steady_clock_type::now();
    std::optional<steady_clock_type::time_point> deadline;
    if (timeout.count() > 0) {
        deadline = start + timeout;
    }
    std::unique_ptr<connection> c;
    if (!fresh) {
        c = st->take(pool_key(u));
    }
    bool reused = c != nullptr;
    if (reused) {
        ++st->stats.connections_reused;
    } else {
        auto ct = st->cfg.connect_timeout;
        if (timeout.count() > 0) {
            ct = std::min(ct, timeout);
        }
        c = co_await open(*st, u, ct);
    }
    c->arm(deadline);
    c->received = false;
    c->parser.set_request_method(m);

    // The head, and a string body with it in one write.
    std::string head = fmt::format("{} {} HTTP/1.1\r\n", to_string(m), u.target);
    if (!has_header(headers, "host")) {
        head += fmt::format("Host: {}\r\n", u.host_field());
    }
    if (!st->cfg.user_agent.empty() && !has_header(headers, "user-agent")) {
        head += fmt::format("User-Agent: {}\r\n", st->cfg.user_agent);
    }
    for (const auto& [n, v] : headers) {
        // The body decides the framing: fields that would contradict it are not sent.
        if (iequals(n, "content-length") || iequals(n, "transfer-encoding")) {
            continue;
        }
        head += fmt::format("{}: {}\r\n", n, v);
    }
    // Expect: 100-continue: the head alone first, the body once the server agrees.
    bool expect_continue = false;
    if (!std::holds_alternative<std::monostate>(body)) {
        for (const auto& [n, v] : headers) {
            expect_continue = expect_continue || (iequals(n, "expect") && iequals(v, "100-continue"));
        }
    }
    if (auto* s = std::get_if<std::string>(&body)) {
        head += fmt::format("Content-Length: {}\r\n\r\n", s->size());
        if (!expect_continue) {
            head += *s;
        }
    } else if (auto* bufs = std::get_if<std::vector<temporary_buffer<char>>>(&body)) {
        std::size_t n = 0;
        for (const auto& b : *bufs) {
            n += b.size();
        }
        head += fmt::format("Content-Length: {}\r\n\r\n", n);
    } else if (std::holds_alternative<body_writer>(body)) {
        head += "Transfer-Encoding: chunked\r\n\r\n";
    } else {
        if (m == method::post || m == method::put || m == method::patch) {
            head += "Content-Length: 0\r\n";
        }
        head += "\r\n";
    }

    // Writes the head, the body or both, then flushes. A string body is part of the head
    // unless the server is asked for a 100 (Continue) first.
    auto send = [&](bool with_head, bool with_body) -> future<> {
        if (with_head) {
            co_await c->out.write(head);
        }
        auto* str = std::get_if<std::string>(&body);
        auto* bufs = std::get_if<std::vector<temporary_buffer<char>>>(&body);
        auto* writer = std::get_if<body_writer>(&body);
        if (with_body && str && expect_continue) {
            co_await c->out.write(*str);
        } else if (with_body && bufs) {
            for (auto& b : *bufs) {
                co_await c->out.write(b.share());
            }
        } else if (with_body && writer) {
            output_stream<char> chunks(data_sink(std::make_unique<chunked_sink>(c->out)), 8192);
            co_await (*writer)(chunks);
            co_await chunks.close();
        }
        co_await c->out.flush();
    };
    auto check_sent = [&](future<> sent) {
        if (sent.failed()) {
            auto ep = sent.get_exception();
            try {
                std::rethrow_exception(ep);
            } catch (const std::system_error& e) {
                retryable = reused && !c->timed_out && is_reset(e);
            } catch (...) {
            }
            rethrow_io(*c, ep, "sending the request");
        }
    };
    // A parser event the wait for 100 (Continue) took and the loop below must see, and a
    // read it left running.
    std::optional<parse_event> carried;
    std::optional<future<>> pending_read;
    if (!expect_continue) {
        check_sent(co_await coroutine::as_future(send(true, true)));
    } else {
        check_sent(co_await coroutine::as_future(send(true, false)));
        // Wait for a 1xx (send the body), a final response (do not), or the timeout (send).
        bool send_it = true;
        auto give_up = steady_clock_type::now() + st->cfg.expect_continue_timeout;
        for (;;) {
            parse_event ev = c->parser.next();
            if (ev == parse_event::need_more) {
                auto left = give_up - steady_clock_type::now();
                if (left <= steady_clock_type::duration::zero()) {
                    break;
                }
                abort_source as;
                auto w = co_await when_any(read_more(*c), sleep_abortable(left, as));
                auto& rf = std::get<0>(w.futures);
                if (w.index == 1) {
                    std::get<1>(w.futures).ignore_ready_future();
                    pending_read.emplace(std::move(rf));  // no answer in time: send the body
                    break;
                }
                as.request_abort();
                (void)std::move(std::get<1>(w.futures)).then_wrapped([](future<> f) { f.ignore_ready_future(); });
                if (rf.failed()) {
                    pending_read.emplace(std::move(rf));  // the loop below reports it
                    send_it = false;
                    break;
                }
                rf.ignore_ready_future();  // read into the parser
                continue;
            }
            carried = ev;
            auto status = c->parser.status();
            send_it = ev == parse_event::head_done && status >= 100 && status < 200 && status != 101;
            break;
        }
        if (send_it) {
            auto sent = co_await coroutine::as_future(send(false, true));
            if (sent.failed() && pending_read) {
                // The read still uses the connection: end it before the connection goes.
                c->sock.shutdown_input();
                auto r = co_await coroutine::as_future(std::move(*std::exchange(pending_read, std::nullopt)));
                r.ignore_ready_future();
            }
            check_sent(std::move(sent));
        } else {
            c->unusable = true;  // the server may still wait for the declared body
        }
    }

    // The head of the final response (1xx interim responses are skipped).
    bool interim = false;
    for (;;) {
        parse_event ev = carried ? *std::exchange(carried, std::nullopt) : c->parser.next();
        if (ev == parse_event::need_more) {
            auto r = co_await coroutine::as_future(pending_read ? std::move(*std::exchange(pending_read, std::nullopt))
                                                                : read_more(*c));
            if (r.failed()) {
                auto ep = r.get_exception();
                try {
                    std::rethrow_exception(ep);
                } catch (const client_error& e) {
                    retryable = reused && !c->received && e.reason() == client_errc::connection_closed;
                } catch (...) {
                }
                std::rethrow_exception(ep);
            }
            continue;
        }
        if (ev == parse_event::end) {
            retryable = reused && !c->received;
            throw client_error(client_errc::connection_closed, "the server closed the connection before responding");
        }
        if (ev == parse_event::error) {
            if (c->timed_out) {
                throw client_error(client_errc::timeout, "the request deadline passed while reading the response");
            }
            if (c->eof && c->parser.error().status == 400) {
                throw client_error(client_errc::connection_closed, "the response ended early");
            }
            throw_parse_error(*c);
        }
        if (ev == parse_event::message_done && interim) {
            interim = false;
            continue;
        }
        if (ev != parse_event::head_done) {
            throw client_error(client_errc::malformed_response, "unexpected parser event before the head");
        }
        auto status = c->parser.status();
        if (status == 101) {
            throw client_error(client_errc::protocol, "101 Switching Protocols is not handled");
        }
        if (status >= 100 && status < 200) {
            interim = true;
            continue;
        }
        break;
    }

    response resp;
    resp.status_ = c->parser.status();
    resp.reason_ = std::string(c->parser.reason());
    resp.version_ = c->parser.version();
    for (auto h : c->parser.headers()) {
        resp.headers_.emplace_back(std::string(h.name), std::string(h.value));
    }
    resp.default_limit_ = st->cfg.max_content_size;
    // A response without a body ends with its head: its connection goes back at once,
    // whether or not the caller reads the (empty) body.
    bool bodyless = m == method::head || resp.status_ == 204 || resp.status_ == 304 ||
                    (c->parser.framing() == body_framing::content_length && c->parser.content_length() == 0);
    if (bodyless && c->parser.next() == parse_event::message_done) {
        st->release(std::move(c));
    }
    resp.body_ = input_stream<char>(data_source(std::make_unique<body_source>(st, std::move(c))));
    co_return resp;
}

}  // namespace reef::http
